//! The recurrent ops: one step of an Elman, LSTM or GRU cell from its input's projection
//! (PyTorch's `rnn_tanh_cell`, `rnn_relu_cell`, `lstm_cell` with `proj_size`, `gru_cell`),
//! and one layer in one direction over a whole sequence, packed batches included.
//!
//! The gates are sliced from their stack in PyTorch's order (i, f, g, o for an LSTM; r, z, n
//! for a GRU). A layer projects the inputs of all its steps at once (one matrix product per
//! layer and direction), then runs the steps, each a product with the hidden weights and the
//! gate arithmetic. Composed of the typed ops, so the backward through time comes from
//! theirs.
//!
//! A packed batch (per-sequence lengths) runs every step for the whole batch and keeps each
//! sequence's state where the step is past its length (its outputs there are zeros): forward,
//! a sequence's state stops at its last step; in reverse, it stays the initial state until the
//! sequence's last step and runs from there, so every sequence sees exactly its own steps.

use crate::autograd::{MergeTape, NoTape, TapeMode};
use crate::shape::{ConstDim, Dim};
use crate::tensor::{Element, Tensor};

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

/// Gate `k` of a stack of gates `(N, G)`: columns `k H .. (k + 1) H`.
fn gate<N: Dim, G: ConstDim, H: ConstDim, E: Element, T: TapeMode<E>>(
    stack: &Tensor<(N, G), E, T>,
    k: usize,
) -> Tensor<(N, H), E, T> {
    stack.clone().narrow::<1, H>(k * H::SIZE, H::default())
}

/// `(N, H)` as `(N, O)`, for the cells whose output size is their hidden size.
fn as_output<N: Dim, H: ConstDim, O: ConstDim, E: Element, T: TapeMode<E>>(
    h: Tensor<(N, H), E, T>,
) -> Tensor<(N, O), E, T> {
    assert_eq!(H::SIZE, O::SIZE, "recurrent step: output size");
    let n = h.shape().0;
    h.view_as((n, O::default()))
}

/// One step from the step's input projection `xi` (`x W_ih^T + b_ih`, `(N, G)`) and the
/// state: the next state, whose `h` is the step's output.
pub(crate) fn step<N, G, X, O, H, E, T>(
    kind: CellKind,
    xi: Tensor<(N, G), E, T>,
    state: &CellState<N, O, H, E, T>,
    w: &CellWeights<'_, G, X, O, H, E>,
) -> CellState<N, O, H, E, T>
where
    N: Dim,
    G: ConstDim,
    X: ConstDim,
    O: ConstDim,
    H: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let hh = state.h.clone().linear(w.weight_hh, w.bias_hh);
    match kind {
        CellKind::Elman { relu } => {
            let pre = xi.add(&hh);
            let h = if relu { pre.relu() } else { pre.tanh() };
            CellState {
                h: as_output::<N, G, O, E, T>(h),
                c: None,
            }
        }
        CellKind::Lstm => {
            let gates = xi.add(&hh);
            let i = gate::<N, G, H, E, T>(&gates, 0).sigmoid();
            let f = gate::<N, G, H, E, T>(&gates, 1).sigmoid();
            let g = gate::<N, G, H, E, T>(&gates, 2).tanh();
            let o = gate::<N, G, H, E, T>(&gates, 3).sigmoid();
            let c = state.c.as_ref().expect("an LSTM state has c");
            let c1 = f.mul(c).add(&i.mul(&g));
            let h1 = o.mul(&c1.clone().tanh());
            let h = match w.weight_hr {
                Some(w_hr) => h1.linear(w_hr, None),
                None => as_output::<N, H, O, E, T>(h1),
            };
            CellState { h, c: Some(c1) }
        }
        CellKind::Gru => {
            let r = gate::<N, G, H, E, T>(&xi, 0)
                .add(&gate::<N, G, H, E, T>(&hh, 0))
                .sigmoid();
            let z = gate::<N, G, H, E, T>(&xi, 1)
                .add(&gate::<N, G, H, E, T>(&hh, 1))
                .sigmoid();
            let n = gate::<N, G, H, E, T>(&xi, 2)
                .add(&r.mul(&gate::<N, G, H, E, T>(&hh, 2)))
                .tanh();
            let h = as_output::<N, O, H, E, T>(state.h.clone());
            let h1 = n.clone().sub(&z.clone().mul(&n)).add(&z.mul(&h));
            CellState {
                h: as_output::<N, H, O, E, T>(h1),
                c: None,
            }
        }
    }
}

/// `m` (1 where a sequence is active at this step, 0 where it is past its length) over `k`
/// features per sequence.
fn activity<N: Dim, K: ConstDim, E: Element>(active: &[bool], n: N) -> Tensor<(N, K), E> {
    Tensor::from_fn_shaped((n, K::default()), |[b, _]| {
        if active[b] {
            E::one()
        } else {
            E::zero()
        }
    })
}

/// `new` where a sequence is active, `old` elsewhere: `new m + old (1 - m)`, exact for a 0/1
/// `m`, with the gradient of each side where it is kept.
fn keep<N, K, E, T>(
    new: Tensor<(N, K), E, T>,
    old: &Tensor<(N, K), E, T>,
    active: &[bool],
) -> Tensor<(N, K), E, T>
where
    N: Dim,
    K: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let n = new.shape().0;
    let idle: Vec<bool> = active.iter().map(|a| !a).collect();
    new.mul::<(N, K), NoTape>(&activity::<N, K, E>(active, n))
        .add(
            &old.clone()
                .mul::<(N, K), NoTape>(&activity::<N, K, E>(&idle, n)),
        )
}

/// A direction's outputs over the steps and its final state.
pub(crate) type Run<L, N, O, H, E, T> = (Tensor<(L, N, O), E, T>, CellState<N, O, H, E, T>);

/// One direction of one layer over a sequence `(L, N, X)` from the initial state, backwards
/// when `reverse`, each sequence stopping at its length when `lengths` are given: the outputs
/// `(L, N, O)` in time order (zeros past each length) and the final state.
///
/// # Panics
/// If the sequence is empty.
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
    let steps = ld.size();
    assert!(steps > 0, "recurrent layer: an empty sequence");
    // every step's input projection in one product
    let xi = input.linear(w.weight_ih, w.bias_ih);
    let mut state = init;
    let mut outs = vec![None; steps];
    for k in 0..steps {
        let t = if reverse { steps - 1 - k } else { k };
        let next = step(kind, xi.clone().select::<0>(t), &state, w);
        match lengths {
            None => {
                outs[t] = Some(next.h.clone());
                state = next;
            }
            Some(lengths) => {
                let active: Vec<bool> = lengths.iter().map(|&l| t < l).collect();
                outs[t] = Some(
                    next.h
                        .clone()
                        .mul::<(N, O), NoTape>(&activity::<N, O, E>(&active, nd)),
                );
                state = CellState {
                    h: keep(next.h, &state.h, &active),
                    c: next
                        .c
                        .zip(state.c.as_ref())
                        .map(|(c, old)| keep(c, old, &active)),
                };
            }
        }
    }
    let outs: Vec<Tensor<(N, O), E, T>> = outs
        .into_iter()
        .map(|o| o.expect("every step ran"))
        .collect();
    let y = Tensor::stack::<0>(&outs);
    (y.view_as((ld, nd, O::default())), state)
}
