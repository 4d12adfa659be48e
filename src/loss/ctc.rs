//! `nn.CTCLoss`: connectionist temporal classification, the loss of sequence alignment
//! (speech, handwriting) where the input has more frames than the target has labels and the
//! alignment between them is unknown.
//!
//! # Cost
//! For a sample of `T` frames and `S` labels, the loss is a dynamic programme over `T x (2S + 1)`
//! states, each step a three-way log-sum-exp: `O(T S)` time forward and again backward, plus
//! `O(T C)` to write the gradient; memory `T (2S + 1)` values per sample kept from the forward
//! pass for the backward one (as PyTorch). Samples run in parallel.

use super::{reduce, Reduction};
use crate::autograd::TapeMode;
use crate::error::{Error, Result};
use crate::shape::Dim;
use crate::tensor::{Element, Indices, Tensor};

/// Every sample's labels as one list, and each sample's `(start, length)` in it: what
/// [`CtcTargets::spans`] gives.
///
/// ```
/// use stensor::loss::CtcLabels;
/// let (labels, spans): CtcLabels = (vec![1, 2, 3], vec![(0, 2), (2, 1)]);
/// assert_eq!(&labels[spans[1].0..][..spans[1].1], &[3]);
/// ```
pub type CtcLabels = (Vec<i64>, Vec<(usize, usize)>);

/// The targets of a [`CTCLoss`], in either of PyTorch's layouts: `(N, S)`, each row padded
/// past its length, or `(sum of target lengths,)`, the samples' labels one after another.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::CtcTargets;
/// let padded = Indices::<(U2, U3)>::from_array([[1, 2, 0], [3, 0, 0]]);
/// let flat = Indices::<(U3,)>::from_array([1, 2, 3]);
/// assert_eq!(padded.spans(&[2, 1]).unwrap(), (vec![1, 2, 0, 3, 0, 0], vec![(0, 2), (3, 1)]));
/// assert_eq!(flat.spans(&[2, 1]).unwrap(), (vec![1, 2, 3], vec![(0, 2), (2, 1)]));
/// ```
pub trait CtcTargets {
    /// All labels as one list, and each sample's `(start, length)` in it, for the given
    /// target lengths; `Err` when a length does not fit the targets.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CtcTargets;
    /// let padded = Indices::<(U1, U2)>::from_array([[1, 2]]);
    /// assert!(padded.spans(&[3]).is_err());
    /// ```
    fn spans(&self, target_lengths: &[usize]) -> Result<CtcLabels>;
}

impl<N: Dim, S: Dim> CtcTargets for Indices<(N, S)> {
    fn spans(&self, target_lengths: &[usize]) -> Result<CtcLabels> {
        let [n, s] = [self.dims()[0], self.dims()[1]];
        if target_lengths.len() != n {
            return Err(Error::Mismatch {
                op: "CTCLoss: target_lengths against the padded targets' rows".into(),
                left: vec![target_lengths.len()],
                right: self.dims().to_vec(),
            });
        }
        let spans = target_lengths
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                if len > s {
                    Err(Error::Index {
                        op: format!("CTCLoss: target_lengths[{b}] against the padded targets"),
                        index: len as i64,
                        size: s + 1,
                    })
                } else {
                    Ok((b * s, len))
                }
            })
            .collect::<Result<_>>()?;
        Ok((self.to_vec(), spans))
    }
}

impl<L: Dim> CtcTargets for Indices<(L,)> {
    fn spans(&self, target_lengths: &[usize]) -> Result<CtcLabels> {
        let mut start = 0usize;
        let mut spans = Vec::with_capacity(target_lengths.len());
        for &len in target_lengths {
            spans.push((start, len));
            start = start.saturating_add(len);
        }
        if start > self.numel() {
            return Err(Error::Mismatch {
                op: "CTCLoss: the sum of target_lengths against the concatenated targets".into(),
                left: vec![start],
                right: self.dims().to_vec(),
            });
        }
        Ok((self.to_vec(), spans))
    }
}

/// Connectionist temporal classification (`nn.CTCLoss`): minus the log of the summed
/// probability of every alignment of each sample's labels to its frames (labels repeated over
/// frames, with `blank` between and around them), from log-probabilities `(T, N, C)` (a
/// `log_softmax` over the classes). PyTorch's defaults: `blank = 0`, mean reduction (each
/// sample's loss over its target length, then the mean over the batch), `zero_infinity`
/// false (a sample no alignment fits, too few frames for its labels, has an infinite loss; with
/// `zero_infinity` it counts 0 and passes no gradient).
///
/// Input and target lengths are data, one per sample, so `forward` returns `Err` naming the
/// argument, the sample and both sizes when one does not fit. See the module docs for the
/// cost.
///
/// The gradient with respect to the log-probabilities is the plain partial derivative, so a
/// gradient check of the loss alone passes; PyTorch's `ctc_loss` backward returns the
/// gradient with respect to the logits instead (correct only behind a `log_softmax`).
/// Through `log_softmax` the two agree.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::{CTCLoss, Reduction};
/// // one frame per label and no repeats: a single alignment, [1, 2]
/// let p = [[0.1f64, 0.6, 0.3], [0.2, 0.3, 0.5]];
/// let lp = Tensor::<(U2, U1, U3), f64>::from_fn(|i| p[i[0]][i[2]].ln());
/// let y = Indices::<(U1, U2)>::from_array([[1, 2]]);
/// let l = CTCLoss { reduction: Reduction::Sum, ..Default::default() };
/// let loss = l.forward(lp, &y, &[2], &[2]).unwrap();
/// assert!((loss.item() + (0.6f64 * 0.5).ln()).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CTCLoss {
    /// The blank's class (default 0).
    pub blank: usize,
    /// Mean (default: each sample's loss divided by its target length, then the batch mean)
    /// or sum.
    pub reduction: Reduction,
    /// Whether an infinite loss (and its gradient) becomes zero.
    pub zero_infinity: bool,
}

/// The losses per sample and each sample's target length.
type PerSample<N, E, T> = (Tensor<(N,), E, T>, Vec<usize>);

/// `lengths` as `usize`, each at most `max`, one per sample; `Err` naming `what` otherwise.
fn checked_lengths(lengths: &[i64], n: usize, max: usize, what: &str) -> Result<Vec<usize>> {
    if lengths.len() != n {
        return Err(Error::Mismatch {
            op: format!("CTCLoss: {what} against the batch"),
            left: vec![lengths.len()],
            right: vec![n],
        });
    }
    lengths
        .iter()
        .enumerate()
        .map(|(b, &len)| {
            if (0..=max as i64).contains(&len) {
                Ok(len as usize)
            } else {
                Err(Error::Index {
                    op: format!("CTCLoss: {what}[{b}]"),
                    index: len,
                    size: max + 1,
                })
            }
        })
        .collect()
}

impl CTCLoss {
    /// The per-sample losses (`reduction="none"`), shape `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CTCLoss;
    /// let lp = Tensor::<(usize, usize, U4), f64>::zeros_shaped((5, 2, U4::new())).log_softmax::<2>();
    /// let y = Indices::<(U3,)>::from_array([1, 2, 3]); // concatenated: [1, 2] and [3]
    /// let l = CTCLoss::default().forward_none(lp, &y, &[5, 2], &[2, 1]).unwrap();
    /// assert_eq!(l.dims(), [2]);
    /// // too many labels for the frames
    /// let lp = Tensor::<(usize, usize, U4), f64>::zeros_shaped((1, 1, U4::new()));
    /// let y = Indices::<(U1, U2)>::from_array([[1, 2]]);
    /// assert!(CTCLoss::default().forward_none(lp, &y, &[1], &[2]).unwrap().item().is_infinite());
    /// ```
    ///
    /// # Errors
    /// `Error::Mismatch` if there is not one input and one target length per sample or the
    /// concatenated targets are shorter than the lengths' sum; `Error::Index` if an input
    /// length exceeds `T`, a target length the padded targets' width, a label is not a class,
    /// or `blank` is not a class.
    pub fn forward_none<L: Dim, N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
        &self,
        log_probs: Tensor<(L, N, C), E, T>,
        targets: &(impl CtcTargets + ?Sized),
        input_lengths: &(impl AsRef<[i64]> + ?Sized),
        target_lengths: &(impl AsRef<[i64]> + ?Sized),
    ) -> Result<Tensor<(N,), E, T>> {
        Ok(self
            .losses(log_probs, targets, input_lengths, target_lengths)?
            .0)
    }

    /// The losses per sample and the (checked) target lengths.
    fn losses<L: Dim, N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
        &self,
        log_probs: Tensor<(L, N, C), E, T>,
        targets: &(impl CtcTargets + ?Sized),
        input_lengths: &(impl AsRef<[i64]> + ?Sized),
        target_lengths: &(impl AsRef<[i64]> + ?Sized),
    ) -> Result<PerSample<N, E, T>> {
        let [frames, n, classes] = [0, 1, 2].map(|i| log_probs.dims()[i]);
        if self.blank >= classes {
            return Err(Error::Index {
                op: "CTCLoss: blank".into(),
                index: self.blank as i64,
                size: classes,
            });
        }
        let input_lengths = checked_lengths(input_lengths.as_ref(), n, frames, "input_lengths")?;
        let target_lengths = checked_lengths(
            target_lengths.as_ref(),
            n,
            usize::MAX >> 2,
            "target_lengths",
        )?;
        let (labels, spans) = targets.spans(&target_lengths)?;
        // only the labels the lengths select, so padding values may be anything
        let mut used = Vec::with_capacity(target_lengths.iter().sum());
        let mut kept = Vec::with_capacity(n);
        for (start, len) in spans {
            kept.push((used.len(), len));
            for &k in &labels[start..][..len] {
                if !(0..classes as i64).contains(&k) {
                    return Err(Error::Index {
                        op: "CTCLoss: targets".into(),
                        index: k,
                        size: classes,
                    });
                }
                used.push(k as usize);
            }
        }
        let batch = crate::ops::CtcBatch {
            blank: self.blank,
            input_lengths,
            labels: used,
            spans: kept,
            zero_infinity: self.zero_infinity,
        };
        Ok((crate::ops::ctc(log_probs, batch), target_lengths))
    }

    /// The reduced loss: the sum, or (default) the mean over the batch of each sample's loss
    /// divided by its target length (at least 1).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CTCLoss;
    /// let lp = Tensor::<(U6, U2, U5), f64>::zeros().log_softmax::<2>().trace();
    /// let y = Indices::<(U2, U3)>::from_array([[1, 2, 2], [3, 4, 0]]);
    /// let loss = CTCLoss::default().forward(lp.clone(), &y, &[6, 4], &[3, 2]).unwrap();
    /// let g = loss.backward();
    /// assert!(loss.item() > 0.0 && g.get(&lp).unwrap().numel() == 60);
    /// ```
    ///
    /// # Errors
    /// As [`forward_none`](Self::forward_none).
    pub fn forward<L: Dim, N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
        &self,
        log_probs: Tensor<(L, N, C), E, T>,
        targets: &(impl CtcTargets + ?Sized),
        input_lengths: &(impl AsRef<[i64]> + ?Sized),
        target_lengths: &(impl AsRef<[i64]> + ?Sized),
    ) -> Result<Tensor<(), E, T>> {
        let (losses, lengths) = self.losses(log_probs, targets, input_lengths, target_lengths)?;
        Ok(match self.reduction {
            Reduction::Sum => losses.sum(),
            Reduction::Mean => {
                let (nd,) = losses.shape();
                let inv = lengths
                    .iter()
                    .map(|&l| E::from_usize(l.max(1)).recip())
                    .collect();
                let inv = Tensor::from_vec_shaped((nd,), inv).expect("one length per sample");
                reduce(losses.mul(&inv), Reduction::Mean)
            }
        })
    }
}
