//! The ops under the losses that are not compositions of other ops: the multi-class margin
//! losses (a hinge between every target score and every other score) and CTC (a dynamic
//! programme over each sample's own lengths). The loops live in `kernels::margin` and
//! `kernels::ctc`; the loss structs in [`crate::loss`] check their targets and reduce.

use crate::autograd::{op_result, TapeMode};
use crate::kernels::{self, Ctc, MultiMargin};
use crate::shape::Dim;
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// Per sample `sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C` (PyTorch's
/// `multi_margin_loss`, `reduction="none"`); `y` holds checked class indices.
pub(crate) fn multi_margin<N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
    x: Tensor<(N, C), E, T>,
    y: Vec<usize>,
    p: i32,
    margin: f64,
    weight: Option<Vec<E>>,
) -> Tensor<(N,), E, T> {
    let (nd, cd) = x.shape();
    let c = cd.size();
    let xs = x.data_arc();
    let margin = E::from_f64(margin);
    fn spec<E: Element>(p: i32, margin: E, weight: &Option<Vec<E>>) -> MultiMargin<'_, E> {
        MultiMargin {
            p,
            margin,
            weight: weight.as_deref(),
        }
    }
    let losses = kernels::multi_margin(&xs, c, &y, spec(p, margin, &weight));
    let (target, node) = x.as_input();
    op_result((nd,), losses, &[(target, node)], |_| {
        Box::new(move |g, grads| {
            if let Some(gx) = grads.accum(&target) {
                kernels::multi_margin_backward(&xs, c, &y, spec(p, margin, &weight), g, gx);
            }
        })
    })
}

/// Per sample `sum_{j in Y} sum_{i not in Y} max(0, 1 - (x[j] - x[i])) / C` (PyTorch's
/// `multilabel_margin_loss`, `reduction="none"`); each row of `targets` lists checked classes,
/// ended by `-1` or the row's end.
pub(crate) fn multilabel_margin<N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
    x: Tensor<(N, C), E, T>,
    targets: Vec<i64>,
) -> Tensor<(N,), E, T> {
    let (nd, cd) = x.shape();
    let c = cd.size();
    let xs = x.data_arc();
    let losses = kernels::multilabel_margin(&xs, c, &targets);
    let (target, node) = x.as_input();
    op_result((nd,), losses, &[(target, node)], |_| {
        Box::new(move |g, grads| {
            if let Some(gx) = grads.accum(&target) {
                kernels::multilabel_margin_backward(&xs, c, &targets, g, gx);
            }
        })
    })
}

/// A checked CTC batch: the blank, each sample's input length, and its labels as spans of one
/// flat list (see `kernels::Ctc`).
pub(crate) struct CtcBatch {
    pub blank: usize,
    pub input_lengths: Vec<usize>,
    pub labels: Vec<usize>,
    pub spans: Vec<(usize, usize)>,
    /// Whether an infinite loss (no alignment fits) becomes 0, with a gradient of 0.
    pub zero_infinity: bool,
}

impl CtcBatch {
    /// The kernel's view of this batch over log-probabilities of dims `[T, N, C]`.
    fn spec(&self, [frames, batch, classes]: [usize; 3]) -> Ctc<'_> {
        Ctc {
            frames,
            batch,
            classes,
            blank: self.blank,
            input_lengths: &self.input_lengths,
            labels: &self.labels,
            spans: &self.spans,
        }
    }
}

/// The negative log-likelihood of each sample's labels under the log-probabilities
/// `(T, N, C)` (PyTorch's `ctc_loss`, `reduction="none"`), with the plain partial derivative
/// as its gradient (see `kernels::ctc`).
pub(crate) fn ctc<L: Dim, N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
    log_probs: Tensor<(L, N, C), E, T>,
    batch: CtcBatch,
) -> Tensor<(N,), E, T> {
    let (ld, nd, cd) = log_probs.shape();
    let lp = log_probs.data_arc();
    let dims = [ld.size(), nd.size(), cd.size()];
    let (nll, alphas) = kernels::ctc_forward(&batch.spec(dims), &lp);
    let zeroed: Vec<bool> = nll
        .iter()
        .map(|v| batch.zero_infinity && v.is_infinite())
        .collect();
    let losses: Vec<E> = nll
        .iter()
        .zip(&zeroed)
        .map(|(&v, &z)| if z { E::zero() } else { v })
        .collect();
    let nll = Arc::new(nll);
    let (target, node) = log_probs.as_input();
    op_result((nd,), losses, &[(target, node)], |_| {
        Box::new(move |g, grads| {
            if let Some(gx) = grads.accum(&target) {
                let g: Vec<E> = g
                    .iter()
                    .zip(&zeroed)
                    .map(|(&v, &z)| if z { E::zero() } else { v })
                    .collect();
                kernels::ctc_backward(&batch.spec(dims), &lp, &nll, &alphas, &g, gx);
            }
        })
    })
}
