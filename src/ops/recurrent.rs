//! The recurrent op: one layer of Elman, LSTM or GRU cells in one direction over a whole
//! sequence (PyTorch's `rnn_tanh`, `rnn_relu`, `lstm` with `proj_size`, `gru`), packed
//! batches included; a cell's step (`rnn_tanh_cell`, `lstm_cell`, `gru_cell`) is the same
//! over a sequence of one.
//!
//! The gates are stacked in PyTorch's order (i, f, g, o for an LSTM; r, z, n for a GRU). A
//! direction projects the inputs of all its steps at once (one matrix product, the typed
//! `linear`), then runs the recurrence as one recorded operation: each step is a product of
//! the hidden state with the hidden weights, added onto that step's input projection in place
//! (a matrix-vector product at batch 1), and one fused pass of the gate arithmetic in
//! `kernels` (activations, cell update, new state). The hidden weights are packed for the
//! matrix kernel once per direction, not once per step. The backward runs through time with
//! the same structure, one product per step for the state's gradient, and the hidden
//! weights' gradient as one product over all steps at the end. (Composed from typed ops, a
//! step would make a buffer and a recorded node per gate, and a weight-gradient product of
//! its own.)
//!
//! The sequences of a batch are independent, so on a pool of several threads each thread runs
//! every step for its own rows of the batch (see [`parts`]).
//!
//! In inference nothing is kept per step: the buffers for one step are made once and reused.
//! In training each step keeps its gate activations (and an LSTM's cell state, the state that
//! entered the step, and a projected LSTM's unprojected `h`) for the backward.
//!
//! A packed batch (per-sequence lengths) runs every step for the whole batch and keeps each
//! sequence's state where the step is past its length (its outputs there are zeros): forward,
//! a sequence's state stops at its last step; in reverse, it stays the initial state until the
//! sequence's last step and runs from there, so every sequence sees exactly its own steps.

use crate::autograd::{op_result, unary_result, GradTarget, Gradients, MergeTape, TapeMode};
use crate::kernels::{self, gemm, PreparedB, Trans};
use crate::shape::{ConstDim, Dim, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// Which cell a recurrent step runs (see `nn::CellType`).
///
/// ```
/// use stensor::ops::CellKind;
/// assert_ne!(CellKind::Elman { relu: false }, CellKind::Elman { relu: true });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// Elman: `tanh`, or ReLU when `relu`.
    Elman {
        /// ReLU instead of `tanh`.
        relu: bool,
    },
    /// LSTM.
    Lstm,
    /// GRU.
    Gru,
}

/// The weights of one cell, or one direction of one layer: gates stacked to `G` rows over
/// inputs of `X` and hidden states of `O` features (`O` is the projection's size for an LSTM
/// with one, else the hidden size `H`).
#[derive(Clone, Copy, Debug)]
pub struct CellWeights<'a, G: ConstDim, X: ConstDim, O: ConstDim, H: ConstDim, E: Element> {
    /// `(G, X)`.
    pub weight_ih: &'a Tensor<(G, X), E>,
    /// `(G, O)`.
    pub weight_hh: &'a Tensor<(G, O), E>,
    /// `(G,)`.
    pub bias_ih: Option<&'a Tensor<(G,), E>>,
    /// `(G,)`.
    pub bias_hh: Option<&'a Tensor<(G,), E>>,
    /// An LSTM's projection of `h`, `(O, H)`.
    pub weight_hr: Option<&'a Tensor<(O, H), E>>,
}

/// A cell's state: `h` `(N, O)`, and an LSTM's `c` `(N, H)`.
#[derive(Clone, Debug)]
pub struct CellState<N: Dim, O: ConstDim, H: ConstDim, E: Element, T: TapeMode<E>> {
    /// The hidden state (the step's output).
    pub h: Tensor<(N, O), E, T>,
    /// The cell state, for an LSTM.
    pub c: Option<Tensor<(N, H), E, T>>,
}

/// A direction's outputs over the steps and its final state.
pub(crate) type Run<L, N, O, H, E, T> = (Tensor<(L, N, O), E, T>, CellState<N, O, H, E, T>);

/// One direction of one layer over a sequence `(L, N, X)` from the initial state, backwards
/// when `reverse`, each sequence stopping at its length when `lengths` are given: the outputs
/// `(L, N, O)` in time order (zeros past each length) and the final state. A cell's step is
/// this over a sequence of one.
///
/// # Panics
/// If the sequence is empty, or the state's batch is not the input's.
pub(crate) fn run_direction<L, N, G, X, O, H, E, T>(
    kind: CellKind,
    input: Tensor<(L, N, X), E, T>,
    init: CellState<N, O, H, E, T>,
    w: &CellWeights<'_, G, X, O, H, E>,
    reverse: bool,
    lengths: Option<&[usize]>,
) -> Run<L, N, O, H, E, T>
where
    L: Dim,
    N: Dim,
    G: ConstDim,
    X: ConstDim,
    O: ConstDim,
    H: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let (ld, nd, _) = input.shape();
    let (l, n) = (ld.size(), nd.size());
    assert!(l > 0, "recurrent layer: an empty sequence");
    super::assert_same_dims(
        &(n,),
        &(init.h.shape().0.size(),),
        "recurrent layer: batch of input and state",
    );
    // every step's input projection in one product
    let xi = input.linear(w.weight_ih, w.bias_ih);
    let all = recurrence(kind, xi, &init, w, reverse, lengths);
    let (o, h) = (O::SIZE, H::SIZE);
    let y = part(&all, 0, (ld, nd, O::default()));
    let h_n = part(&all, l * n * o, (nd, O::default()));
    let c_n = init
        .c
        .is_some()
        .then(|| part(&all, (l + 1) * n * o, (nd, H::default())));
    debug_assert_eq!(
        all.numel(),
        (l + 1) * n * o + c_n.as_ref().map_or(0, |_| n * h)
    );
    (y, CellState { h: h_n, c: c_n })
}

/// The values `at..at + len` of `all` as a tensor of `shape` (a copy), whose gradient goes
/// back to those values.
fn part<S: Shape, E: Element, T: TapeMode<E>>(
    all: &Tensor<(usize,), E, T>,
    at: usize,
    shape: S,
) -> Tensor<S, E, T> {
    let len = shape.numel();
    let data = all.as_slice()[at..at + len].to_vec();
    unary_result(shape, data, all, move |g, ga| {
        kernels::add_assign(&mut ga[at..at + len], g)
    })
}

/// Which rows take part in step `t` of a packed batch (all without `lengths`), into `active`.
fn rows_at<'a>(
    t: usize,
    lengths: Option<&[usize]>,
    active: &'a mut Vec<bool>,
) -> Option<&'a [bool]> {
    let lengths = lengths?;
    active.clear();
    active.extend(lengths.iter().map(|&len| t < len));
    Some(active)
}

/// The recurrence over the input projections `xi` (`(L, N, G)`) from `init`, as one recorded
/// operation: its output is the outputs `(L, N, O)`, the final `h` `(N, O)` and, for an LSTM,
/// the final `c` `(N, H)`, one after the other (cut apart by [`part`]).
fn recurrence<L, N, G, X, O, H, E, T>(
    kind: CellKind,
    xi: Tensor<(L, N, G), E, T>,
    init: &CellState<N, O, H, E, T>,
    w: &CellWeights<'_, G, X, O, H, E>,
    reverse: bool,
    lengths: Option<&[usize]>,
) -> Tensor<(usize,), E, T>
where
    L: Dim,
    N: Dim,
    G: ConstDim,
    X: ConstDim,
    O: ConstDim,
    H: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let (ld, nd, _) = xi.shape();
    let d = Sizes {
        l: ld.size(),
        n: nd.size(),
        g: G::SIZE,
        o: O::SIZE,
        h: H::SIZE,
        kind,
    };
    let (xi_target, xi_node) = xi.as_input();
    let xi_node = xi_node.cloned();
    let mut inputs = vec![
        (xi_target, xi_node.as_ref()),
        init.h.as_input(),
        (w.weight_hh.grad_target(), None),
    ];
    inputs.extend(init.c.as_ref().map(|c| c.as_input()));
    inputs.extend(w.bias_hh.map(|b| (b.grad_target(), None)));
    inputs.extend(w.weight_hr.map(|p| (p.grad_target(), None)));
    let training = T::TRACED && inputs.iter().any(|(g, _)| g.requires_grad);
    let weights = Weights {
        hh: w.weight_hh.data_arc(),
        bias_hh: w.bias_hh.map(|b| b.data_arc()),
        hr: w.weight_hr.map(|p| p.data_arc()),
    };
    let init_c = init.c.as_ref().map(|c| c.data_arc());
    let run = Direction {
        d,
        reverse,
        lengths: lengths.map(<[usize]>::to_vec),
        bounds: parts(&d),
    };
    let (out, saved) = run.forward(
        xi.take_data(),
        init.h.as_slice(),
        init_c.as_deref().map(|c| &c[..]),
        &weights,
        training,
    );
    let targets = Targets {
        xi: xi_target,
        h0: init.h.grad_target(),
        c0: init.c.as_ref().map(|c| c.grad_target()),
        hh: w.weight_hh.grad_target(),
        bias_hh: w.bias_hh.map(|b| b.grad_target()),
        hr: w.weight_hr.map(|p| p.grad_target()),
    };
    op_result((out.len(),), out, &inputs, move |_| {
        Box::new(move |g, grads| {
            let c0 = init_c.as_deref().map(|c| &c[..]);
            run.backward(&saved, &weights, c0, g, &targets, grads)
        })
    })
}

/// The sizes of a direction: steps, batch, gate rows, output and hidden features.
#[derive(Clone, Copy)]
struct Sizes {
    l: usize,
    n: usize,
    g: usize,
    o: usize,
    h: usize,
    kind: CellKind,
}

impl Sizes {
    /// Values kept per row and step: an LSTM's four gates, a GRU's three and its hidden
    /// state's `n` projection, an Elman cell's activation.
    fn acts(&self) -> usize {
        match self.kind {
            CellKind::Gru => self.g + self.h,
            _ => self.g,
        }
    }
}

/// The batch's rows cut into parts run side by side, `bounds[i]..bounds[i + 1]`.
///
/// Every sequence of a batch is independent of the others through the whole recurrence, so
/// each thread of the pool runs all the steps for its own rows, with no hand-over between
/// steps and the gate arithmetic on every thread (splitting each step's product instead would
/// hand over twice per step and leave the gate arithmetic to one thread). Below about a
/// million multiply-adds per direction, or on one thread, the batch stays whole.
fn parts(d: &Sizes) -> Vec<usize> {
    let count = if d.l * d.n * d.g * d.o >= 1 << 20 && kernels::may_split() {
        rayon::current_num_threads().min(d.n).max(1)
    } else {
        1
    };
    (0..=count).map(|i| d.n * i / count).collect()
}

/// The hidden weights' values, held by the backward.
struct Weights<E> {
    hh: Arc<Vec<E>>,
    bias_hh: Option<Arc<Vec<E>>>,
    hr: Option<Arc<Vec<E>>>,
}

/// What the backward reads, per step in time order and `N` rows a step (empty in inference).
struct Saved<E> {
    /// The gates' activations, `(L, N, acts)`.
    acts: Vec<E>,
    /// An LSTM's cell state after each step, `(L, N, H)`.
    cs: Vec<E>,
    /// The hidden state that entered each step, `(L, N, O)`.
    h_in: Vec<E>,
    /// A projected LSTM's `h` before its projection, `(L, N, H)`.
    h1: Vec<E>,
}

/// The gradients' destinations.
struct Targets {
    xi: GradTarget,
    h0: GradTarget,
    c0: Option<GradTarget>,
    hh: GradTarget,
    bias_hh: Option<GradTarget>,
    hr: Option<GradTarget>,
}

/// A direction's sizes, order, sequence lengths and batch parts.
struct Direction {
    d: Sizes,
    reverse: bool,
    lengths: Option<Vec<usize>>,
    bounds: Vec<usize>,
}

/// For each part of the batch (`bounds`), its rows of each step of `buf` (steps of `n` rows
/// of `width` values): disjoint slices that the parts fill side by side.
fn rows_by_part<'a, E>(
    buf: &'a mut [E],
    n: usize,
    width: usize,
    bounds: &[usize],
) -> Vec<Vec<&'a mut [E]>> {
    let mut by_part: Vec<Vec<&mut [E]>> = bounds.windows(2).map(|_| Vec::new()).collect();
    if n * width == 0 {
        return by_part;
    }
    for mut step in buf.chunks_exact_mut(n * width) {
        for (mine, w) in by_part.iter_mut().zip(bounds.windows(2)) {
            let (rows, rest) = std::mem::take(&mut step).split_at_mut((w[1] - w[0]) * width);
            mine.push(rows);
            step = rest;
        }
    }
    by_part
}

/// A part's slices of a buffer cut by [`rows_by_part`], or none for each part when the
/// buffer is not kept.
fn optional_rows<'a, E>(
    buf: &'a mut [E],
    n: usize,
    width: usize,
    bounds: &[usize],
) -> Vec<Option<Vec<&'a mut [E]>>> {
    if buf.is_empty() {
        bounds.windows(2).map(|_| None).collect()
    } else {
        rows_by_part(buf, n, width, bounds)
            .into_iter()
            .map(Some)
            .collect()
    }
}

/// One part's share of the forward: its rows of the outputs and of what training keeps.
struct ForwardPart<'a, E> {
    rows: std::ops::Range<usize>,
    /// Per step, the part's outputs.
    out: Vec<&'a mut [E]>,
    /// The part's final `h` and (LSTM) `c`.
    last: Vec<&'a mut [E]>,
    acts: Option<Vec<&'a mut [E]>>,
    cs: Option<Vec<&'a mut [E]>>,
    h_in: Option<Vec<&'a mut [E]>>,
    h1: Option<Vec<&'a mut [E]>>,
}

/// One part's share of the backward: its rows of the gradients.
struct BackwardPart<'a, E> {
    rows: std::ops::Range<usize>,
    dxi: Vec<&'a mut [E]>,
    dhh: Option<Vec<&'a mut [E]>>,
    gh_steps: Option<Vec<&'a mut [E]>>,
    /// The part's rows of the initial `h`'s and (LSTM) `c`'s gradients.
    first: Vec<&'a mut [E]>,
}

/// The step processed `k`-th: time `L - 1 - k` in reverse.
fn time(k: usize, l: usize, reverse: bool) -> usize {
    if reverse {
        l - 1 - k
    } else {
        k
    }
}

/// `(part, part's work)` for each part, the first here and the others on the pool, each
/// part's products kept on its thread; one part runs here with its products split.
fn run_parts<P: Send>(mut parts: Vec<P>, f: impl Fn(P) + Sync) {
    if parts.len() == 1 {
        return f(parts.pop().expect("one part"));
    }
    let mut parts: Vec<Option<P>> = parts.into_iter().map(Some).collect();
    kernels::run_parts(&mut parts, |p| {
        if let Some(p) = p.take() {
            kernels::as_task(|| f(p))
        }
    });
}

impl Direction {
    /// A part's first row, its number of rows, and their sequences' lengths.
    fn part_rows(&self, rows: &std::ops::Range<usize>) -> (usize, usize, Option<&[usize]>) {
        let lengths = self.lengths.as_ref().map(|ls| &ls[rows.clone()]);
        (rows.start, rows.len(), lengths)
    }

    /// The recurrence's values (outputs, final `h`, final `c`) and, when `training`, what
    /// the backward reads.
    fn forward<E: Element>(
        &self,
        xi: Vec<E>,
        h0: &[E],
        c0: Option<&[E]>,
        w: &Weights<E>,
        training: bool,
    ) -> (Vec<E>, Saved<E>) {
        let Sizes {
            l, n, o, h, kind, ..
        } = self.d;
        let lstm = kind == CellKind::Lstm;
        let ga = self.d.acts();
        let keep = |len: usize| {
            if training {
                kernels::zeros(len)
            } else {
                Vec::new()
            }
        };
        // training: the input projections become the gates' values in place, step by step
        // (a GRU's, which keeps more per step, and inference's reused slot read them instead)
        let in_place = training && kind != CellKind::Gru;
        let (xi, acts) = if in_place {
            (Vec::new(), xi)
        } else {
            (xi, keep(l * n * ga))
        };
        let mut saved = Saved {
            acts,
            cs: if lstm { keep(l * n * h) } else { Vec::new() },
            h_in: keep(l * n * o),
            h1: if w.hr.is_some() {
                keep(l * n * h)
            } else {
                Vec::new()
            },
        };
        let mut out = kernels::zeros((l + 1) * n * o + if lstm { n * h } else { 0 });
        let bounds = &self.bounds;
        let (steps, last) = out.split_at_mut(l * n * o);
        let (last_h, last_c) = last.split_at_mut(n * o);
        let mut last_h = rows_by_part(last_h, n, o, bounds).into_iter();
        let mut last_c = rows_by_part(last_c, n, h, bounds).into_iter();
        let mut acts = optional_rows(&mut saved.acts, n, ga, bounds).into_iter();
        let mut cs = optional_rows(&mut saved.cs, n, h, bounds).into_iter();
        let mut h_in = optional_rows(&mut saved.h_in, n, o, bounds).into_iter();
        let mut h1 = optional_rows(&mut saved.h1, n, h, bounds).into_iter();
        let parts: Vec<ForwardPart<'_, E>> = rows_by_part(steps, n, o, bounds)
            .into_iter()
            .zip(bounds.windows(2))
            .map(|(out, b)| ForwardPart {
                rows: b[0]..b[1],
                out,
                last: last_h
                    .next()
                    .into_iter()
                    .chain(last_c.next())
                    .flatten()
                    .collect(),
                acts: acts.next().flatten(),
                cs: cs.next().flatten(),
                h_in: h_in.next().flatten(),
                h1: h1.next().flatten(),
            })
            .collect();
        run_parts(parts, |p| self.forward_part(p, &xi, h0, c0, w));
        (out, saved)
    }

    /// The forward for one part of the batch.
    fn forward_part<E: Element>(
        &self,
        mut p: ForwardPart<'_, E>,
        xi: &[E],
        h0: &[E],
        c0: Option<&[E]>,
        w: &Weights<E>,
    ) {
        let Sizes {
            l,
            n,
            g,
            o,
            h,
            kind,
        } = self.d;
        let (b0, nb, lengths) = self.part_rows(&p.rows);
        let ga = self.d.acts();
        let bias = w.bias_hh.as_ref().map(|b| &b[..]);
        let mut state_h = h0[b0 * o..][..nb * o].to_vec();
        let mut state_c = c0.map_or_else(Vec::new, |c| c[b0 * h..][..nb * h].to_vec());
        // one step's buffers, made once: the gates' values and a projected LSTM's `h` when
        // they are not kept, a GRU's hidden projection, a projected LSTM's new `h`
        let mut acts_one = if p.acts.is_none() {
            kernels::zeros(nb * ga)
        } else {
            Vec::new()
        };
        let mut h1_one = if p.h1.is_none() && w.hr.is_some() {
            kernels::zeros(nb * h)
        } else {
            Vec::new()
        };
        let mut hh = if kind == CellKind::Gru {
            kernels::zeros(nb * g)
        } else {
            Vec::new()
        };
        let mut projected = if w.hr.is_some() {
            kernels::zeros(nb * o)
        } else {
            Vec::new()
        };
        // the weights packed once for all steps' products
        let whh = PreparedB::new(nb, o, g, &w.hh, Trans::Yes);
        let whr =
            w.hr.as_ref()
                .map(|hr| PreparedB::new(nb, h, o, hr, Trans::Yes));
        let mut active = Vec::new();
        for k in 0..l {
            let t = time(k, l, self.reverse);
            let rows = rows_at(t, lengths, &mut active);
            if let Some(h_in) = &mut p.h_in {
                h_in[t].copy_from_slice(&state_h);
            }
            let x = xi.get((t * n + b0) * g..(t * n + b0 + nb) * g);
            let acts: &mut [E] = match &mut p.acts {
                Some(a) => a[t],
                None => &mut acts_one,
            };
            match kind {
                CellKind::Gru => {
                    let x = x.expect("a GRU reads its input projections");
                    project_hidden(&mut hh, &state_h, &whh, bias, g);
                    kernels::gru_forward(x, &hh, acts, &mut state_h, h, rows);
                }
                _ => {
                    // the input's projection plus the hidden state's, summed in place
                    if let Some(x) = x {
                        acts.copy_from_slice(x);
                    }
                    if let Some(b) = bias {
                        kernels::add_rows_of(acts, b);
                    }
                    whh.gemm(nb, &state_h, acts, true);
                    match (kind, &whr) {
                        (CellKind::Lstm, Some(whr)) => {
                            let h1: &mut [E] = match &mut p.h1 {
                                Some(h1) => h1[t],
                                None => &mut h1_one,
                            };
                            kernels::lstm_forward(acts, &mut state_c, h1, h, rows);
                            whr.gemm(nb, h1, &mut projected, false);
                            kernels::copy_rows(&projected, &mut state_h, o, rows, true);
                        }
                        (CellKind::Lstm, None) => {
                            kernels::lstm_forward(acts, &mut state_c, &mut state_h, h, rows)
                        }
                        (CellKind::Elman { relu }, _) => {
                            kernels::elman_forward(acts, &mut state_h, relu, h, rows)
                        }
                        (CellKind::Gru, _) => unreachable!("handled above"),
                    }
                }
            }
            if let Some(cs) = &mut p.cs {
                cs[t].copy_from_slice(&state_c);
            }
            // the outputs: the new state where the row ran, zeros past a sequence's end
            kernels::copy_rows(&state_h, p.out[t], o, rows, true);
        }
        for (dst, src) in p.last.into_iter().zip([&state_h, &state_c]) {
            dst.copy_from_slice(src);
        }
    }

    /// The backward through time: from the gradient `gout` of the recurrence's output
    /// (outputs, final `h`, final `c`), the gradients of the input projections, the initial
    /// state and the hidden weights.
    fn backward<E: Element>(
        &self,
        saved: &Saved<E>,
        w: &Weights<E>,
        c0: Option<&[E]>,
        gout: &[E],
        to: &Targets,
        grads: &mut Gradients<E>,
    ) {
        let Sizes {
            l,
            n,
            g,
            o,
            h,
            kind,
        } = self.d;
        let bounds = &self.bounds;
        // the gradient of every step's input projection (time order) and, for a GRU, of its
        // hidden projection (equal to the input's for the others)
        let mut dxi = kernels::zeros(l * n * g);
        let mut dhh = match kind {
            CellKind::Gru => kernels::zeros(l * n * g),
            _ => Vec::new(),
        };
        // a projected LSTM: each step's gradient of its new `h`, for the projection's weight
        let mut gh_steps = match w.hr {
            Some(_) => kernels::zeros(l * n * o),
            None => Vec::new(),
        };
        let mut dh0 = kernels::zeros(n * o);
        let mut dc0 = match kind {
            CellKind::Lstm => kernels::zeros(n * h),
            _ => Vec::new(),
        };
        {
            let mut dhh_parts = optional_rows(&mut dhh, n, g, bounds).into_iter();
            let mut gh_parts = optional_rows(&mut gh_steps, n, o, bounds).into_iter();
            let mut dh0_parts = rows_by_part(&mut dh0, n, o, bounds).into_iter();
            let mut dc0_parts = rows_by_part(&mut dc0, n, h, bounds).into_iter();
            let parts: Vec<BackwardPart<'_, E>> = rows_by_part(&mut dxi, n, g, bounds)
                .into_iter()
                .zip(bounds.windows(2))
                .map(|(dxi, b)| BackwardPart {
                    rows: b[0]..b[1],
                    dxi,
                    dhh: dhh_parts.next().flatten(),
                    gh_steps: gh_parts.next().flatten(),
                    first: dh0_parts
                        .next()
                        .into_iter()
                        .chain(dc0_parts.next())
                        .flatten()
                        .collect(),
                })
                .collect();
            run_parts(parts, |p| self.backward_part(p, saved, w, c0, gout));
        }
        let all_dhh = match kind {
            CellKind::Gru => &dhh,
            _ => &dxi,
        };
        // the hidden weights' gradient over all steps at once: dW_hh = dhh^T h_in
        let rows = l * n;
        add_weight_grad(grads, &to.hh, g, rows, o, all_dhh, &saved.h_in);
        if let Some(gb) = to.bias_hh.as_ref().and_then(|t| grads.accum(t)) {
            kernels::sum_blocks(all_dhh, gb);
        }
        if let Some(t) = &to.hr {
            add_weight_grad(grads, t, o, rows, h, &gh_steps, &saved.h1);
        }
        grads.add_owned(&to.xi, dxi);
        grads.add_owned(&to.h0, dh0);
        if let Some(t) = &to.c0 {
            grads.add_owned(t, dc0);
        }
    }

    /// The backward for one part of the batch.
    fn backward_part<E: Element>(
        &self,
        mut p: BackwardPart<'_, E>,
        saved: &Saved<E>,
        w: &Weights<E>,
        c0: Option<&[E]>,
        gout: &[E],
    ) {
        let Sizes {
            l,
            n,
            g,
            o,
            h,
            kind,
        } = self.d;
        let (b0, nb, lengths) = self.part_rows(&p.rows);
        let ga = self.d.acts();
        // the part's rows of step `t` of a buffer of `width` values per row
        let at = |t: usize, width: usize| (t * n + b0) * width..(t * n + b0 + nb) * width;
        // the running gradients of the state `h` and `c`, from those of the final state
        let mut gh = gout[at(l, o)].to_vec();
        let mut gc = match kind {
            CellKind::Lstm => gout[(l + 1) * n * o + b0 * h..][..nb * h].to_vec(),
            _ => Vec::new(),
        };
        let mut dh1 = match w.hr {
            Some(_) => kernels::zeros(nb * h),
            None => Vec::new(),
        };
        let mut gh_prev = kernels::zeros(nb * o);
        let whh = PreparedB::new(nb, g, o, &w.hh, Trans::No);
        let whr =
            w.hr.as_ref()
                .map(|hr| PreparedB::new(nb, o, h, hr, Trans::No));
        let mut active = Vec::new();
        for k in (0..l).rev() {
            let t = time(k, l, self.reverse);
            let rows = rows_at(t, lengths, &mut active);
            kernels::add_rows(&mut gh, &gout[at(t, o)], o, rows);
            let acts = &saved.acts[at(t, ga)];
            // the state's gradient where the step did not run passes straight through
            gh_prev.fill(E::zero());
            kernels::copy_rows(&gh, &mut gh_prev, o, rows, false);
            match kind {
                CellKind::Lstm => {
                    let c_prev = match k {
                        0 => &c0.expect("an LSTM has c0")[b0 * h..][..nb * h],
                        _ => &saved.cs[at(time(k - 1, l, self.reverse), h)],
                    };
                    let c = &saved.cs[at(t, h)];
                    let dh = match (&whr, &mut p.gh_steps) {
                        (Some(whr), Some(steps)) => {
                            kernels::copy_rows(&gh, steps[t], o, rows, true);
                            whr.gemm(nb, &gh, &mut dh1, false);
                            &dh1[..]
                        }
                        _ => &gh[..],
                    };
                    kernels::lstm_backward(acts, c_prev, c, dh, &mut gc, p.dxi[t], h, rows);
                }
                CellKind::Gru => {
                    let h_in = &saved.h_in[at(t, o)];
                    let dhh = &mut p.dhh.as_mut().expect("a GRU keeps dhh")[t];
                    kernels::gru_backward(acts, h_in, &gh, p.dxi[t], dhh, &mut gh_prev, h, rows);
                }
                CellKind::Elman { relu } => {
                    kernels::elman_backward(acts, &gh, p.dxi[t], relu, h, rows);
                }
            }
            let step_dhh: &[E] = match &p.dhh {
                Some(dhh) => dhh[t],
                None => p.dxi[t],
            };
            // the part through the hidden weights: dh_prev += dhh W_hh
            whh.gemm(nb, step_dhh, &mut gh_prev, true);
            std::mem::swap(&mut gh, &mut gh_prev);
        }
        for (dst, src) in p.first.into_iter().zip([&gh, &gc]) {
            dst.copy_from_slice(src);
        }
    }
}

/// `a^T b` (`a` is `k x m`, `b` is `k x n`) added to `target`'s gradient: a weight's gradient
/// summed over every step and row at once.
fn add_weight_grad<E: Element>(
    grads: &mut Gradients<E>,
    target: &GradTarget,
    m: usize,
    k: usize,
    n: usize,
    a: &[E],
    b: &[E],
) {
    let product = |c: &mut [E]| gemm(m, k, n, a, Trans::Yes, b, Trans::No, c, true);
    grads.accum_or_init(
        target,
        || {
            let mut v = kernels::zeros(m * n);
            product(&mut v);
            v
        },
        product,
    );
}

/// `hh = h W_hh^T + b_hh` (`rows x g`).
fn project_hidden<E: Element>(
    hh: &mut [E],
    h: &[E],
    whh: &PreparedB<'_, E>,
    bias: Option<&[E]>,
    g: usize,
) {
    match bias {
        Some(b) => {
            for row in hh.chunks_exact_mut(g) {
                row.copy_from_slice(b);
            }
        }
        None => hh.fill(E::zero()),
    }
    whh.gemm(hh.len() / g, h, hh, true);
}
