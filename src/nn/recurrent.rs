//! The recurrent layers `RNN`, `LSTM`, `GRU` and their cells `RNNCell`, `LSTMCell`,
//! `GRUCell`, with PyTorch's parameter names and layouts (`weight_ih_l0`, `weight_hh_l0`,
//! `bias_ih_l0`, `bias_hh_l0`, `..._reverse`, `weight_hr_l0`; the cells' `weight_ih` ...;
//! an LSTM's gates stacked i, f, g, o and a GRU's r, z, n) and initialisation (every parameter
//! from `U(-1/sqrt(H), 1/sqrt(H))`).
//!
//! Sizes, layer count, direction count and layout live in the type, so the output
//! `(L, N, D * H_out)` (or `(N, L, D * H_out)` batch first) and the states
//! `(D * num_layers, N, H)` are computed at compile time; `L` and `N` may be runtime dims. The
//! steps are ops (`ops::recurrent`); a layer holds its weights and config and runs its layers
//! and directions.

use super::repr::{py_bool, py_float};
use super::{init, Forward, Module, ParamField, TensorKind, TensorMut, TensorRef};
use crate::autograd::{MergeTape, TapeMode};
use crate::error::{Error, Result};
use crate::ops::{run_direction, CellKind, CellState, CellWeights};
use crate::shape::{ConstDim, Dim, Directions, HiddenDim, InputFeatures, Projection, Shape};
use crate::tensor::{Element, Rng, Tensor};
use std::marker::PhantomData;
use std::sync::Mutex;
use typenum::{U0, U1};

/// The nonlinearity of an Elman RNN (PyTorch's `nonlinearity="tanh"` or `"relu"`).
///
/// ```
/// use stensor::nn::RnnNonlinearity;
/// assert_eq!(RnnNonlinearity::default(), RnnNonlinearity::Tanh);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RnnNonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

impl RnnNonlinearity {
    fn kind(self) -> CellKind {
        CellKind::Elman {
            relu: self == RnnNonlinearity::Relu,
        }
    }
}

/// A kind of recurrent cell: [`Elman`], [`Lstm`] or [`Gru`], the first parameter of [`Cell`]
/// and [`Recurrent`] (which [`RNNCell`], [`LSTM`] ... name). It fixes the number of stacked
/// gates and the state a cell or layer takes and returns: `h`, or an LSTM's `(h, c)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{CellType, Gru, Lstm};
/// assert_eq!(<<Lstm as CellType>::Gates<U5> as ConstDim>::SIZE, 20);
/// assert_eq!(<<Gru as CellType>::Gates<U5> as ConstDim>::SIZE, 15);
/// assert_eq!((Lstm::LAYER, Gru::CELL), ("LSTM", "GRUCell"));
/// ```
pub trait CellType: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// PyTorch's name of the layer.
    const LAYER: &'static str;
    /// PyTorch's name of the cell.
    const CELL: &'static str;
    /// The stacked gates' rows for a hidden size `H`.
    type Gates<H: HiddenDim>: ConstDim;
    /// The state, from the hidden state `Hs` and an LSTM's cell state `Cs`.
    type State<Hs, Cs>;
    /// The state from its parts (`c` is given exactly for an LSTM).
    ///
    /// ```
    /// use stensor::nn::{CellType, Gru, Lstm};
    /// assert_eq!(Lstm::join(1, Some(2)), (1, 2));
    /// assert_eq!(Gru::join::<_, ()>(1, None), 1);
    /// ```
    fn join<Hs, Cs>(h: Hs, c: Option<Cs>) -> Self::State<Hs, Cs>;
    /// The state's parts.
    ///
    /// ```
    /// use stensor::nn::{CellType, Lstm};
    /// assert_eq!(Lstm::split((1, 2)), (1, Some(2)));
    /// ```
    fn split<Hs, Cs>(state: Self::State<Hs, Cs>) -> (Hs, Option<Cs>);
    /// The step this cell runs, given an Elman cell's nonlinearity (ignored by the others).
    ///
    /// ```
    /// use stensor::nn::{CellType, Lstm, RnnNonlinearity};
    /// use stensor::ops::CellKind;
    /// assert_eq!(Lstm::kind(RnnNonlinearity::Tanh), CellKind::Lstm);
    /// ```
    fn kind(nonlinearity: RnnNonlinearity) -> CellKind;
}

/// An Elman cell: `h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`, state `h`.
///
/// ```
/// use stensor::nn::{CellType, Elman};
/// assert_eq!(Elman::LAYER, "RNN");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elman;

/// An LSTM cell: gates i, f, g, o; state `(h, c)`.
///
/// ```
/// use stensor::nn::{CellType, Lstm};
/// assert_eq!(Lstm::CELL, "LSTMCell");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lstm;

/// A GRU cell: gates r, z, n; state `h`.
///
/// ```
/// use stensor::nn::{CellType, Gru};
/// assert_eq!(Gru::LAYER, "GRU");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gru;

macro_rules! hidden_state_cell {
    ($name:ident, $layer:literal, $cell:literal, $gates:ident, |$n:ident| $kind:expr) => {
        impl CellType for $name {
            const LAYER: &'static str = $layer;
            const CELL: &'static str = $cell;
            type Gates<H: HiddenDim> = H::$gates;
            type State<Hs, Cs> = Hs;
            fn join<Hs, Cs>(h: Hs, _: Option<Cs>) -> Hs {
                h
            }
            fn split<Hs, Cs>(h: Hs) -> (Hs, Option<Cs>) {
                (h, None)
            }
            fn kind($n: RnnNonlinearity) -> CellKind {
                $kind
            }
        }
    };
}
hidden_state_cell!(Elman, "RNN", "RNNCell", Times1, |n| n.kind());
hidden_state_cell!(Gru, "GRU", "GRUCell", Times3, |_n| CellKind::Gru);

impl CellType for Lstm {
    const LAYER: &'static str = "LSTM";
    const CELL: &'static str = "LSTMCell";
    type Gates<H: HiddenDim> = H::Times4;
    type State<Hs, Cs> = (Hs, Cs);
    fn join<Hs, Cs>(h: Hs, c: Option<Cs>) -> (Hs, Cs) {
        (h, c.expect("an LSTM state has c"))
    }
    fn split<Hs, Cs>((h, c): (Hs, Cs)) -> (Hs, Option<Cs>) {
        (h, Some(c))
    }
    fn kind(_: RnnNonlinearity) -> CellKind {
        CellKind::Lstm
    }
}

/// The weights of a cell, or of one direction of one layer: gates stacked to `G` rows over
/// inputs of `X` features and hidden states of `O` (an LSTM's `proj_size` when it has one,
/// else the hidden size `H`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::LSTM;
/// let lstm = LSTM::<U3, U4>::new(&mut Rng::seed(0));
/// assert_eq!(lstm.layers.first[0].weight_ih.dims(), [16, 3]);
/// ```
#[derive(Clone, Debug)]
pub struct RecurrentWeights<G: ConstDim, X: ConstDim, O: ConstDim, H: ConstDim, E: Element> {
    /// `(G, X)`.
    pub weight_ih: Tensor<(G, X), E>,
    /// `(G, O)`.
    pub weight_hh: Tensor<(G, O), E>,
    /// `(G,)`, if the layer has biases.
    pub bias_ih: Option<Tensor<(G,), E>>,
    /// `(G,)`, if the layer has biases.
    pub bias_hh: Option<Tensor<(G,), E>>,
    /// An LSTM's projection `(O, H)`, if it has one.
    pub weight_hr: Option<Tensor<(O, H), E>>,
}

impl<G: ConstDim, X: ConstDim, O: ConstDim, H: ConstDim, E: Element>
    RecurrentWeights<G, X, O, H, E>
{
    /// PyTorch's initialisation, in its order (`weight_ih`, `weight_hh`, biases, `weight_hr`).
    fn new(rng: &mut Rng, bias: bool, projected: bool) -> Self {
        let h = H::SIZE;
        let weight_ih = init::default_uniform(h, rng);
        let weight_hh = init::default_uniform(h, rng);
        let (bias_ih, bias_hh) = if bias {
            (
                Some(init::default_uniform(h, rng)),
                Some(init::default_uniform(h, rng)),
            )
        } else {
            (None, None)
        };
        let weight_hr = projected.then(|| init::default_uniform(h, rng));
        RecurrentWeights {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            weight_hr,
        }
    }

    fn view(&self) -> CellWeights<'_, G, X, O, H, E> {
        CellWeights {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias_ih: self.bias_ih.as_ref(),
            bias_hh: self.bias_hh.as_ref(),
            weight_hr: self.weight_hr.as_ref(),
        }
    }

    fn visit(&self, prefix: &str, suffix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        let name = |n: &str| super::join(prefix, &format!("{n}{suffix}"));
        let p = TensorKind::Parameter;
        self.weight_ih.visit_as(&name("weight_ih"), p, f);
        self.weight_hh.visit_as(&name("weight_hh"), p, f);
        self.bias_ih.visit_as(&name("bias_ih"), p, f);
        self.bias_hh.visit_as(&name("bias_hh"), p, f);
        self.weight_hr.visit_as(&name("weight_hr"), p, f);
    }

    fn visit_mut(&mut self, prefix: &str, suffix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        let name = |n: &str| super::join(prefix, &format!("{n}{suffix}"));
        let p = TensorKind::Parameter;
        self.weight_ih.visit_mut_as(&name("weight_ih"), p, f);
        self.weight_hh.visit_mut_as(&name("weight_hh"), p, f);
        self.bias_ih.visit_mut_as(&name("bias_ih"), p, f);
        self.bias_hh.visit_mut_as(&name("bias_hh"), p, f);
        self.weight_hr.visit_mut_as(&name("weight_hr"), p, f);
    }
}

/// PyTorch's cell `extra_repr`: sizes, then what differs from the defaults.
fn cell_repr(i: usize, h: usize, bias: bool, relu: bool) -> String {
    let mut s = format!("{i}, {h}");
    if !bias {
        s += ", bias=False";
    }
    if relu {
        s += ", nonlinearity=relu";
    }
    s
}

/// A recurrent cell of kind `K` (PyTorch's `nn.RNNCell`, `nn.LSTMCell`, `nn.GRUCell`: see
/// [`RNNCell`], [`LSTMCell`], [`GRUCell`]): one step from an input `(N, I)` and a state (each
/// part `(N, H)`; zeros when not given) to the next state.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Cell, Forward, Gru};
/// let cell = Cell::<Gru, U3, U4>::new(&mut Rng::seed(0));
/// assert_eq!(cell.forward(Tensor::<(U2, U3)>::ones()).dims(), [2, 4]);
/// ```
#[derive(Clone, Debug)]
pub struct Cell<K: CellType, I: ConstDim, H: HiddenDim, E: Element = f32> {
    /// The input projection of the stacked gates, `(gates * H, I)`.
    pub weight_ih: Tensor<(K::Gates<H>, I), E>,
    /// The hidden projection of the stacked gates, `(gates * H, H)`.
    pub weight_hh: Tensor<(K::Gates<H>, H), E>,
    /// The input projection's bias, if the cell has biases.
    pub bias_ih: Option<Tensor<(K::Gates<H>,), E>>,
    /// The hidden projection's bias, if the cell has biases.
    pub bias_hh: Option<Tensor<(K::Gates<H>,), E>>,
    /// An Elman cell's nonlinearity (`tanh` unless set; the other kinds have none).
    pub nonlinearity: RnnNonlinearity,
}

/// An Elman RNN cell (PyTorch's `nn.RNNCell`): `h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`,
/// `act` tanh (default) or ReLU (`nonlinearity`). Input `(N, I)`, state `(N, H)`; without a
/// state, zeros.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, RNNCell, RnnNonlinearity};
/// let mut cell = RNNCell::<U3, U5>::new(&mut Rng::seed(0));
/// cell.nonlinearity = RnnNonlinearity::Relu;
/// let x = Tensor::<(usize, U3)>::ones_shaped((2, U3::new()));
/// let h1 = cell.forward(x.clone());
/// let h2 = cell.forward((x, h1));
/// assert!(h2.dims() == [2, 5] && h2.to_vec().iter().all(|&v| v >= 0.0));
/// ```
pub type RNNCell<I, H, E = f32> = Cell<Elman, I, H, E>;

/// An LSTM cell (PyTorch's `nn.LSTMCell`): gates `i, f, g, o` (stacked in that order in the
/// weights), `c' = f c + i g`, `h' = o tanh(c')`. Input `(N, I)`, state `(h, c)` each
/// `(N, H)`; without a state, zeros. Returns `(h', c')`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, LSTMCell};
/// let cell = LSTMCell::<U3, U4>::new(&mut Rng::seed(0));
/// let x = Tensor::<(U2, U3)>::ones();
/// let (h, c) = cell.forward(x.clone());
/// let (h, c) = cell.forward((x, (h, c)));
/// assert_eq!((h.dims(), c.dims()), ([2, 4].into(), [2, 4].into()));
/// ```
pub type LSTMCell<I, H, E = f32> = Cell<Lstm, I, H, E>;

/// A GRU cell (PyTorch's `nn.GRUCell`): gates `r, z` (stacked with `n` in the weights in the
/// order r, z, n), `n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn))`, `h' = (1 - z) n + z h`.
/// Input `(N, I)`, state `(N, H)`; without a state, zeros.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, GRUCell};
/// let cell = GRUCell::<U3, U4>::new(&mut Rng::seed(0));
/// let h = cell.forward(Tensor::<(U2, U3)>::ones());
/// assert!(h.to_vec().iter().all(|v| v.abs() < 1.0));
/// ```
pub type GRUCell<I, H, E = f32> = Cell<Gru, I, H, E>;

/// A cell's state for a batch `N`: `h`, or an LSTM's `(h, c)`, each `(N, H)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{CellStateOf, Forward, LSTMCell, Lstm};
/// let cell = LSTMCell::<U3, U4>::new(&mut Rng::seed(0));
/// let (h, c): CellStateOf<Lstm, U2, U4, f32, NoTape> = cell.forward(Tensor::<(U2, U3)>::ones());
/// assert_eq!((h.dims(), c.dims()), ([2, 4].into(), [2, 4].into()));
/// ```
pub type CellStateOf<K, N, H, E, T> =
    <K as CellType>::State<Tensor<(N, H), E, T>, Tensor<(N, H), E, T>>;

impl<K: CellType, I: ConstDim, H: HiddenDim, E: Element> Cell<K, I, H, E> {
    /// With biases, initialised as PyTorch's: every parameter from `U(-1/sqrt(H), 1/sqrt(H))`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let cell = stensor::nn::LSTMCell::<U4, U16>::new(&mut Rng::seed(0));
    /// assert!(cell.weight_hh.to_vec().iter().all(|w| w.abs() <= 0.25) && cell.bias_ih.is_some());
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        Self::init(rng, true)
    }

    /// Without biases (`bias=False`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let cell = stensor::nn::GRUCell::<U4, U8>::without_bias(&mut Rng::seed(0));
    /// assert!(cell.bias_ih.is_none() && cell.bias_hh.is_none());
    /// ```
    pub fn without_bias(rng: &mut Rng) -> Self {
        Self::init(rng, false)
    }

    fn init(rng: &mut Rng, bias: bool) -> Self {
        let w = RecurrentWeights::<K::Gates<H>, I, H, H, E>::new(rng, bias, false);
        Cell {
            weight_ih: w.weight_ih,
            weight_hh: w.weight_hh,
            bias_ih: w.bias_ih,
            bias_hh: w.bias_hh,
            nonlinearity: RnnNonlinearity::default(),
        }
    }

    /// One step from `state`, or from zeros.
    fn step<N: Dim, T: MergeTape<E, T, Output = T>>(
        &self,
        x: Tensor<(N, I), E, T>,
        state: Option<CellStateOf<K, N, H, E, T>>,
    ) -> CellStateOf<K, N, H, E, T> {
        let n = x.shape().0;
        let lstm = K::kind(self.nonlinearity) == CellKind::Lstm;
        let (h, c) = match state {
            Some(s) => K::split(s),
            None => (
                lift(zeros_for::<N, H, E>(n)),
                lstm.then(|| lift(zeros_for::<N, H, E>(n))),
            ),
        };
        if let Some(c) = &c {
            crate::ops::assert_same_dims(&h.shape(), &c.shape(), "LSTMCell: h and c");
        }
        let w = CellWeights {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias_ih: self.bias_ih.as_ref(),
            bias_hh: self.bias_hh.as_ref(),
            weight_hr: None,
        };
        crate::ops::assert_same_dims(
            &(n,),
            &(h.shape().0,),
            "recurrent cell: batch of input and state",
        );
        // a step is the layer's recurrence over a sequence of one
        let x = x.view_as((1usize, n, I::default()));
        let (_, next) = run_direction(
            K::kind(self.nonlinearity),
            x,
            CellState { h, c },
            &w,
            false,
            None,
        );
        K::join(next.h, next.c)
    }
}

/// An input `(.., X)` as `(.., I)`, the features the layer reads (equal once
/// `X: InputFeatures<I>` holds; the rule gives a mismatch its message).
fn read_as<S: Shape, S2: Shape, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
) -> Tensor<S2, E, T> {
    let shape = S2::from_dims(&x.dims()).expect("the input features rule");
    x.view_as(shape)
}

impl<K, N, X, I, H, E, T> Forward<(Tensor<(N, X), E, T>, CellStateOf<K, N, H, E, T>)>
    for Cell<K, I, H, E>
where
    K: CellType,
    N: Dim,
    X: InputFeatures<I>,
    I: ConstDim,
    H: HiddenDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = CellStateOf<K, N, H, E, T>;
    fn forward(
        &self,
        (x, state): (Tensor<(N, X), E, T>, CellStateOf<K, N, H, E, T>),
    ) -> Self::Output {
        self.step(read_as(x), Some(state))
    }
}

impl<K, N, X, I, H, E, T> Forward<Tensor<(N, X), E, T>> for Cell<K, I, H, E>
where
    K: CellType,
    N: Dim,
    X: InputFeatures<I>,
    I: ConstDim,
    H: HiddenDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = CellStateOf<K, N, H, E, T>;
    fn forward(&self, x: Tensor<(N, X), E, T>) -> Self::Output {
        self.step(read_as(x), None)
    }
}

impl<K: CellType, I: ConstDim, H: HiddenDim, E: Element> Module for Cell<K, I, H, E> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        let p = TensorKind::Parameter;
        self.weight_ih
            .visit_as(&super::join(prefix, "weight_ih"), p, f);
        self.weight_hh
            .visit_as(&super::join(prefix, "weight_hh"), p, f);
        self.bias_ih.visit_as(&super::join(prefix, "bias_ih"), p, f);
        self.bias_hh.visit_as(&super::join(prefix, "bias_hh"), p, f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        let p = TensorKind::Parameter;
        self.weight_ih
            .visit_mut_as(&super::join(prefix, "weight_ih"), p, f);
        self.weight_hh
            .visit_mut_as(&super::join(prefix, "weight_hh"), p, f);
        self.bias_ih
            .visit_mut_as(&super::join(prefix, "bias_ih"), p, f);
        self.bias_hh
            .visit_mut_as(&super::join(prefix, "bias_hh"), p, f);
    }
    fn kind(&self) -> &'static str {
        K::CELL
    }
    fn extra_repr(&self) -> String {
        let relu = K::kind(self.nonlinearity) == CellKind::Elman { relu: true };
        cell_repr(I::SIZE, H::SIZE, self.bias_ih.is_some(), relu)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Zeros of a state `(N, K)`.
fn zeros_for<N: Dim, K: ConstDim, E: Element>(n: N) -> Tensor<(N, K), E> {
    Tensor::zeros_shaped((n, K::default()))
}

/// An untraced state lifted to the input's tape (so a zero state and a given one take one
/// path).
fn lift<S: Shape, E: Element, T: TapeMode<E>>(t: Tensor<S, E>) -> Tensor<S, E, T> {
    t.retape(T::from_node(None))
}

/// A sequence batch `(A, B, X)` in layout `F`, steps first: `(steps, batch, X)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchFirst, StepsFirst};
/// let x: StepsFirst<BatchFirst, U2, U3, U1, f32, NoTape> = Tensor::zeros();
/// assert_eq!(x.dims(), [3, 2, 1]);
/// ```
pub type StepsFirst<F, A, B, X, E, T> = Tensor<
    (
        <F as SeqLayout>::Steps<A, B>,
        <F as SeqLayout>::Batch<A, B>,
        X,
    ),
    E,
    T,
>;

/// How a batch of sequences is laid out: steps first, `(L, N, features)` (PyTorch's default,
/// [`SeqFirst`]), or batch first, `(N, L, features)` ([`BatchFirst`], `batch_first=True`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchFirst, SeqFirst, SeqLayout};
/// assert!(BatchFirst::BATCH_FIRST && !SeqFirst::BATCH_FIRST);
/// ```
pub trait SeqLayout: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// Whether the batch comes first.
    const BATCH_FIRST: bool;
    /// The batch dim of an input `(A, B, features)`.
    type Batch<A: Dim, B: Dim>: Dim;
    /// The steps dim of an input `(A, B, features)`.
    type Steps<A: Dim, B: Dim>: Dim;
    /// The input with its steps first.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchFirst, SeqLayout};
    /// let x = Tensor::<(U2, U3, U1)>::arange();
    /// assert_eq!(BatchFirst::steps_first(x).dims(), [3, 2, 1]);
    /// ```
    fn steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        x: Tensor<(A, B, X), E, T>,
    ) -> StepsFirst<Self, A, B, X, E, T>;
    /// A steps-first output back in this layout.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchFirst, SeqLayout};
    /// let y = Tensor::<(U3, U2, U1)>::arange();
    /// let back: Tensor<(U2, U3, U1)> = BatchFirst::from_steps_first(y);
    /// assert_eq!(back.dims(), [2, 3, 1]);
    /// ```
    fn from_steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        y: StepsFirst<Self, A, B, X, E, T>,
    ) -> Tensor<(A, B, X), E, T>;
}

/// Steps first: `(L, N, features)` (PyTorch's default layout).
///
/// ```
/// use stensor::nn::{SeqFirst, SeqLayout};
/// assert!(!SeqFirst::BATCH_FIRST);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqFirst;

/// Batch first: `(N, L, features)` (`batch_first=True`).
///
/// ```
/// use stensor::nn::{BatchFirst, SeqLayout};
/// assert!(BatchFirst::BATCH_FIRST);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchFirst;

impl SeqLayout for SeqFirst {
    const BATCH_FIRST: bool = false;
    type Batch<A: Dim, B: Dim> = B;
    type Steps<A: Dim, B: Dim> = A;
    fn steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        x: Tensor<(A, B, X), E, T>,
    ) -> Tensor<(A, B, X), E, T> {
        x
    }
    fn from_steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        y: Tensor<(A, B, X), E, T>,
    ) -> Tensor<(A, B, X), E, T> {
        y
    }
}

impl SeqLayout for BatchFirst {
    const BATCH_FIRST: bool = true;
    type Batch<A: Dim, B: Dim> = A;
    type Steps<A: Dim, B: Dim> = B;
    fn steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        x: Tensor<(A, B, X), E, T>,
    ) -> Tensor<(B, A, X), E, T> {
        x.transpose::<0, 1>()
    }
    fn from_steps_first<A: Dim, B: Dim, X: ConstDim, E: Element, T: TapeMode<E>>(
        y: Tensor<(B, A, X), E, T>,
    ) -> Tensor<(A, B, X), E, T> {
        y.transpose::<0, 1>()
    }
}

/// One layer's weights, a direction each (the second: reverse).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{LayerWeights, GRU};
/// let gru = GRU::<U3, U4, U2>::new(&mut Rng::seed(0));
/// let second: &LayerWeights<U12, U4, U4, U4, f32> = &gru.layers.rest[0];
/// assert_eq!(second.len(), 1);
/// ```
pub type LayerWeights<G, X, O, H, E> = Vec<RecurrentWeights<G, X, O, H, E>>;

/// The layers of a recurrent network and their directions: the first layer reads `I`
/// features, the others the `DO` features of the layer before (its directions' outputs side
/// by side). `first[d]` and `rest[k - 1][d]` are layer `k`'s direction `d` (1: reverse).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::LSTM;
/// let lstm = LSTM::<U3, U4, U2, U2>::new(&mut Rng::seed(0));
/// assert_eq!(lstm.layers.first[1].weight_ih.dims(), [16, 3]);
/// assert_eq!(lstm.layers.rest[0][1].weight_ih.dims(), [16, 8]);
/// ```
#[derive(Debug)]
pub struct RecurrentStack<
    G: ConstDim,
    I: ConstDim,
    O: ConstDim,
    H: ConstDim,
    DO: ConstDim,
    E: Element,
> {
    /// The first layer's directions.
    pub first: Vec<RecurrentWeights<G, I, O, H, E>>,
    /// The other layers' directions.
    pub rest: Vec<LayerWeights<G, DO, O, H, E>>,
    /// The probability of dropping each output of a layer before the next (training only).
    pub dropout: f64,
    training: bool,
    rng: Mutex<Rng>,
}

impl<G: ConstDim, I: ConstDim, O: ConstDim, H: ConstDim, DO: ConstDim, E: Element> Clone
    for RecurrentStack<G, I, O, H, DO, E>
{
    fn clone(&self) -> Self {
        RecurrentStack {
            first: self.first.clone(),
            rest: self.rest.clone(),
            dropout: self.dropout,
            training: self.training,
            rng: Mutex::new(self.rng.lock().expect("dropout generator").clone()),
        }
    }
}

impl<G: ConstDim, I: ConstDim, O: ConstDim, H: ConstDim, DO: ConstDim, E: Element>
    RecurrentStack<G, I, O, H, DO, E>
{
    /// PyTorch's initialisation, layer by layer and direction by direction.
    fn new(rng: &mut Rng, layers: usize, directions: usize, bias: bool, projected: bool) -> Self {
        fn layer<G: ConstDim, X: ConstDim, O: ConstDim, H: ConstDim, E: Element>(
            rng: &mut Rng,
            directions: usize,
            bias: bool,
            projected: bool,
        ) -> Vec<RecurrentWeights<G, X, O, H, E>> {
            (0..directions)
                .map(|_| RecurrentWeights::new(rng, bias, projected))
                .collect()
        }
        let first = layer(rng, directions, bias, projected);
        let rest = (1..layers)
            .map(|_| layer(rng, directions, bias, projected))
            .collect();
        RecurrentStack {
            first,
            rest,
            dropout: 0.0,
            training: true,
            rng: Mutex::new(Rng::seed(0)),
        }
    }
}

impl<G: ConstDim, I: ConstDim, O: ConstDim, H: ConstDim, DO: ConstDim, E: Element>
    RecurrentStack<G, I, O, H, DO, E>
{
    /// The layers' count.
    fn layers(&self) -> usize {
        1 + self.rest.len()
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        for (d, w) in self.first.iter().enumerate() {
            w.visit(prefix, &suffix(0, d), f);
        }
        for (k, layer) in self.rest.iter().enumerate() {
            for (d, w) in layer.iter().enumerate() {
                w.visit(prefix, &suffix(k + 1, d), f);
            }
        }
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        for (d, w) in self.first.iter_mut().enumerate() {
            w.visit_mut(prefix, &suffix(0, d), f);
        }
        for (k, layer) in self.rest.iter_mut().enumerate() {
            for (d, w) in layer.iter_mut().enumerate() {
                w.visit_mut(prefix, &suffix(k + 1, d), f);
            }
        }
    }

    /// Runs every layer over a steps-first `x`, from the initial states `(h0, c0)` (one per
    /// layer and direction, `SD` of them; zeros when absent), each sequence stopping at its
    /// length when `lengths` are given: the last layer's outputs and the final states.
    #[allow(clippy::type_complexity)]
    fn run<L, N, SD, T>(
        &self,
        kind: CellKind,
        x: Tensor<(L, N, I), E, T>,
        h0: Option<Tensor<(SD, N, O), E, T>>,
        c0: Option<Tensor<(SD, N, H), E, T>>,
        lengths: Option<&[usize]>,
    ) -> (
        Tensor<(L, N, DO), E, T>,
        Tensor<(SD, N, O), E, T>,
        Option<Tensor<(SD, N, H), E, T>>,
    )
    where
        L: Dim,
        N: Dim,
        SD: Dim,
        T: MergeTape<E, T, Output = T>,
    {
        let nd = x.shape().1;
        let count = self.layers() * self.first.len();
        for (what, dims) in [
            ("h0", h0.as_ref().map(|h| h.dims())),
            ("c0", c0.as_ref().map(|c| c.dims())),
        ] {
            if let Some(dims) = dims {
                assert!(
                    dims[0] == count && dims[1] == nd.size(),
                    "recurrent layer: {what} of dims {dims:?} for {count} layers and directions over a batch of {}",
                    nd.size()
                );
            }
        }
        let lstm = kind == CellKind::Lstm;
        let mut init = (0..count).map(|j| CellState {
            h: h0.as_ref().map_or_else(
                || lift(zeros_for::<N, O, E>(nd)),
                |h| h.clone().select::<0>(j),
            ),
            c: lstm.then(|| {
                c0.as_ref().map_or_else(
                    || lift(zeros_for::<N, H, E>(nd)),
                    |c| c.clone().select::<0>(j),
                )
            }),
        });
        let mut finals = Vec::with_capacity(count);
        let mut y = run_layer::<L, N, G, I, O, H, DO, E, T>(
            kind,
            x,
            &self.first,
            &mut init,
            lengths,
            &mut finals,
        );
        for layer in &self.rest {
            if self.training && self.dropout > 0.0 {
                let mut rng = self.rng.lock().expect("dropout generator");
                y = y.dropout(self.dropout, true, &mut rng);
            }
            y = run_layer::<L, N, G, DO, O, H, DO, E, T>(
                kind,
                y,
                layer,
                &mut init,
                lengths,
                &mut finals,
            );
        }
        let sd = SD::from_size(count).expect("the states' dim is the layers times the directions");
        let (hs, cs): (Vec<_>, Vec<_>) = finals.into_iter().map(|s| (s.h, s.c)).unzip();
        let h_n = Tensor::stack::<0>(&hs).view_as((sd, nd, O::default()));
        let c_n = lstm.then(|| {
            let cs: Vec<_> = cs
                .into_iter()
                .map(|c| c.expect("an LSTM state has c"))
                .collect();
            Tensor::stack::<0>(&cs).view_as((sd, nd, H::default()))
        });
        (y, h_n, c_n)
    }
}

/// PyTorch's suffix of layer `k`'s direction `d`: `_l0`, `_l1_reverse`.
fn suffix(k: usize, d: usize) -> String {
    format!("_l{k}{}", if d == 1 { "_reverse" } else { "" })
}

/// One layer: each direction over `x` from the next initial states, the final states pushed
/// to `finals`, the directions' outputs side by side.
fn run_layer<L, N, G, X, O, H, DO, E, T>(
    kind: CellKind,
    x: Tensor<(L, N, X), E, T>,
    dirs: &[RecurrentWeights<G, X, O, H, E>],
    init: &mut impl Iterator<Item = CellState<N, O, H, E, T>>,
    lengths: Option<&[usize]>,
    finals: &mut Vec<CellState<N, O, H, E, T>>,
) -> Tensor<(L, N, DO), E, T>
where
    L: Dim,
    N: Dim,
    G: ConstDim,
    X: ConstDim,
    O: ConstDim,
    H: ConstDim,
    DO: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let (ld, nd, _) = x.shape();
    let mut outs = Vec::with_capacity(dirs.len());
    for (d, w) in dirs.iter().enumerate() {
        let state = init
            .next()
            .expect("one initial state per layer and direction");
        let (y, last) = run_direction(kind, x.clone(), state, &w.view(), d == 1, lengths);
        outs.push(y);
        finals.push(last);
    }
    match outs.len() {
        1 => outs
            .pop()
            .expect("one direction")
            .view_as((ld, nd, DO::default())),
        // (L, N, O) side by side: (L, N, D O)
        _ => Tensor::cat::<2>(&outs).view_as((ld, nd, DO::default())),
    }
}

/// PyTorch's `RNNBase.extra_repr`.
fn layer_repr(
    [i, h, proj, layers]: [usize; 4],
    [bias, batch_first, bidirectional]: [bool; 3],
    dropout: f64,
) -> String {
    let mut s = format!("{i}, {h}");
    if proj != 0 {
        s += &format!(", proj_size={proj}");
    }
    if layers != 1 {
        s += &format!(", num_layers={layers}");
    }
    if !bias {
        s += &format!(", bias={}", py_bool(bias));
    }
    if batch_first {
        s += ", batch_first=True";
    }
    if dropout != 0.0 {
        s += &format!(", dropout={}", py_float(dropout));
    }
    if bidirectional {
        s += ", bidirectional=True";
    }
    s
}

/// Checked sequence lengths: one per sequence of the batch, each from 1 to the steps.
fn checked_lengths(lengths: &[i64], batch: usize, steps: usize) -> Result<Vec<usize>> {
    if lengths.len() != batch {
        return Err(Error::Mismatch {
            op: "packed sequence: lengths against the batch".into(),
            left: vec![lengths.len()],
            right: vec![batch],
        });
    }
    lengths
        .iter()
        .map(|&l| {
            if (1..=steps as i64).contains(&l) {
                Ok(l as usize)
            } else {
                Err(Error::Index {
                    op: "packed sequence: a length (from 1 to the steps)".into(),
                    index: l,
                    size: steps + 1,
                })
            }
        })
        .collect()
}

/// The configuration of a recurrent layer, a tuple `(K, I, H, L, D, F, P)`: cell kind `K`,
/// `I` input features, hidden size `H`, `L` layers, `D` directions, layout `F`, projection `P`
/// (see [`Recurrent`]). One parameter for all of them keeps the bounds of generic code short.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{LayerSpec, Lstm, SeqFirst};
/// type Spec = (Lstm, U3, U8, U2, U2, SeqFirst, U0);
/// assert_eq!(<<Spec as LayerSpec>::Hidden as ConstDim>::SIZE, 8);
/// ```
pub trait LayerSpec: 'static {
    /// The cell kind.
    type Kind: CellType;
    /// The input features.
    type Input: ConstDim;
    /// The hidden size.
    type Hidden: HiddenDim;
    /// The number of layers.
    type Layers: HiddenDim;
    /// The number of directions.
    type Dirs: Directions;
    /// The layout of the sequences.
    type Layout: SeqLayout;
    /// The projection (`U0` for none).
    type Proj: Projection<Self::Hidden>;
}

impl<K, I, H, L, D, F, P> LayerSpec for (K, I, H, L, D, F, P)
where
    K: CellType,
    I: ConstDim,
    H: HiddenDim,
    L: HiddenDim,
    D: Directions,
    F: SeqLayout,
    P: Projection<H>,
{
    type Kind = K;
    type Input = I;
    type Hidden = H;
    type Layers = L;
    type Dirs = D;
    type Layout = F;
    type Proj = P;
}

/// A layer's output and hidden-state size `H_out` (the projection's, or the hidden size).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::*;
/// type C = (Lstm, U3, U8, U2, U2, BatchFirst, U5); // 2 bidirectional layers, proj_size 5
/// assert_eq!(<OutOf<C> as ConstDim>::SIZE, 5);
/// ```
pub type OutOf<C> = <<C as LayerSpec>::Proj as Projection<<C as LayerSpec>::Hidden>>::Out;

/// A layer's output features `D * H_out`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::*;
/// type C = (Lstm, U3, U8, U2, U2, BatchFirst, U5); // 2 bidirectional layers, proj_size 5
/// assert_eq!(<FeaturesOf<C> as ConstDim>::SIZE, 10);
/// ```
pub type FeaturesOf<C> = <<C as LayerSpec>::Dirs as Directions>::Of<OutOf<C>>;

/// The layers times the directions, the first dim of a layer's states.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::*;
/// type C = (Lstm, U3, U8, U2, U2, BatchFirst, U5); // 2 bidirectional layers, proj_size 5
/// assert_eq!(<StatesOf<C> as ConstDim>::SIZE, 4);
/// ```
pub type StatesOf<C> = <<C as LayerSpec>::Dirs as Directions>::Of<<C as LayerSpec>::Layers>;

/// The batch dim of a layer's input `(A, B, I)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::*;
/// type C = (Lstm, U3, U8, U2, U2, BatchFirst, U5); // 2 bidirectional layers, proj_size 5
/// assert_eq!(<BatchOf<C, U7, U9> as ConstDim>::SIZE, 7); // batch first
/// ```
pub type BatchOf<C, A, B> = <<C as LayerSpec>::Layout as SeqLayout>::Batch<A, B>;

/// The state a layer of configuration `C` takes and returns over `(A, B, I)`: `h`
/// `(D * L, N, H_out)`, or an LSTM's `(h, c)` with `c` `(D * L, N, H)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, LayerState, LSTM, Lstm, SeqFirst};
/// let lstm = LSTM::<U3, U4>::new(&mut Rng::seed(0));
/// type C = (Lstm, U3, U4, U1, U1, SeqFirst, U0);
/// let h0: LayerState<C, U5, U2, f32, NoTape> = (Tensor::zeros(), Tensor::zeros());
/// let (_, (h, _)) = lstm.forward((Tensor::<(U5, U2, U3)>::ones(), h0));
/// assert_eq!(h.dims(), [1, 2, 4]);
/// ```
pub type LayerState<C, A, B, E, T> = <<C as LayerSpec>::Kind as CellType>::State<
    Tensor<(StatesOf<C>, BatchOf<C, A, B>, OutOf<C>), E, T>,
    Tensor<(StatesOf<C>, BatchOf<C, A, B>, <C as LayerSpec>::Hidden), E, T>,
>;

/// What a layer returns for `(A, B, I)`: the outputs `(A, B, D * H_out)` and the final state.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Elman, Forward, LayerOutput, SeqFirst, RNN};
/// let rnn = RNN::<U3, U4>::new(&mut Rng::seed(0));
/// let out: LayerOutput<(Elman, U3, U4, U1, U1, SeqFirst, U0), U5, U2, f32, NoTape> =
///     rnn.forward(Tensor::<(U5, U2, U3)>::ones());
/// assert_eq!(out.0.dims(), [5, 2, 4]);
/// ```
pub type LayerOutput<C, A, B, E, T> = (
    Tensor<(A, B, FeaturesOf<C>), E, T>,
    LayerState<C, A, B, E, T>,
);

/// The weights of a layer of configuration `C`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Lstm, SeqFirst, StackOf, LSTM};
/// let lstm = LSTM::<U3, U4, U1, U1, SeqFirst, U2>::new(&mut Rng::seed(0));
/// let stack: &StackOf<(Lstm, U3, U4, U1, U1, SeqFirst, U2), f32> = &lstm.layers;
/// assert_eq!(stack.first[0].weight_hr.as_ref().unwrap().dims(), [2, 4]);
/// ```
pub type StackOf<C, E> = RecurrentStack<
    <<C as LayerSpec>::Kind as CellType>::Gates<<C as LayerSpec>::Hidden>,
    <C as LayerSpec>::Input,
    OutOf<C>,
    <C as LayerSpec>::Hidden,
    FeaturesOf<C>,
    E,
>;

/// A multi-layer recurrent network of configuration `C = (K, I, H, L, D, F, P)` (see [`RNN`],
/// [`LSTM`], [`GRU`]): cell kind `K`, `I` input features, hidden size `H`, `L` layers, `D`
/// directions (`U2`: bidirectional), layout `F` ([`SeqFirst`] or [`BatchFirst`]), projection
/// `P` (an LSTM's `proj_size`, `U0` for none). Input `(L_seq, N, I)` (or `(N, L_seq, I)`),
/// output `(.., D * H_out)` with `H_out = P` when projected, else `H`; the final state
/// `h_n (D * L, N, H_out)` (and an LSTM's `c_n (D * L, N, H)`), layer by layer, directions
/// interleaved, as PyTorch's. All of these sizes are computed at compile time; the steps and
/// the batch may be runtime dims. Without an initial state, zeros. `layers.dropout` drops each
/// output of a layer before the next in training.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Gru, Recurrent, SeqFirst};
/// let gru = Recurrent::<(Gru, U3, U4, U1, U1, SeqFirst, U0)>::new(&mut Rng::seed(0));
/// let (y, h) = gru.forward(Tensor::<(usize, U2, U3)>::ones_shaped((6, U2::new(), U3::new())));
/// assert_eq!((y.dims(), h.dims()), ([6, 2, 4].into(), [1, 2, 4].into()));
/// ```
#[derive(Debug)]
pub struct Recurrent<C: LayerSpec, E: Element = f32> {
    /// The weights, layer by layer.
    pub layers: StackOf<C, E>,
    /// An Elman network's nonlinearity (`tanh` unless set; the other kinds have none).
    pub nonlinearity: RnnNonlinearity,
    config: PhantomData<C>,
}

/// A multi-layer LSTM (PyTorch's `nn.LSTM`; gates i, f, g, o as [`LSTMCell`]), with
/// `proj_size` as `P`. See [`Recurrent`] for the shapes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchFirst, Forward, LSTM};
/// // 2 layers, bidirectional, batch first
/// let lstm = LSTM::<U3, U8, U2, U2, BatchFirst>::new(&mut Rng::seed(0));
/// let x = Tensor::<(usize, usize, U3)>::ones_shaped((4, 7, U3::new())); // 4 sequences of 7 steps
/// let (y, (h, c)) = lstm.forward(x);
/// assert_eq!((y.dims(), h.dims(), c.dims()), ([4, 7, 16].into(), [4, 4, 8].into(), [4, 4, 8].into()));
/// ```
pub type LSTM<I, H, L = U1, D = U1, F = SeqFirst, P = U0, E = f32> =
    Recurrent<(Lstm, I, H, L, D, F, P), E>;

/// A multi-layer Elman RNN (PyTorch's `nn.RNN`): `h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T
/// + b_hh)`, `act` tanh (default) or ReLU (`nonlinearity`). See [`Recurrent`] for the shapes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, RNN};
/// let rnn = RNN::<U3, U5, U2>::new(&mut Rng::seed(0)); // 2 layers
/// let x = Tensor::<(usize, U4, U3)>::ones_shaped((6, U4::new(), U3::new()));
/// let (y, h) = rnn.forward(x);
/// assert_eq!((y.dims(), h.dims()), ([6, 4, 5].into(), [2, 4, 5].into()));
/// ```
pub type RNN<I, H, L = U1, D = U1, F = SeqFirst, E = f32> =
    Recurrent<(Elman, I, H, L, D, F, U0), E>;

/// A multi-layer GRU (PyTorch's `nn.GRU`; gates r, z, n as [`GRUCell`]). See [`Recurrent`]
/// for the shapes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, GRU};
/// let gru = GRU::<U3, U5, U1, U2>::new(&mut Rng::seed(0)); // bidirectional
/// let (y, h) = gru.forward(Tensor::<(U7, U2, U3)>::ones());
/// assert_eq!((y.dims(), h.dims()), ([7, 2, 10].into(), [2, 2, 5].into()));
/// ```
pub type GRU<I, H, L = U1, D = U1, F = SeqFirst, E = f32> = Recurrent<(Gru, I, H, L, D, F, U0), E>;

impl<C: LayerSpec, E: Element> Clone for Recurrent<C, E> {
    fn clone(&self) -> Self {
        Recurrent {
            layers: self.layers.clone(),
            nonlinearity: self.nonlinearity,
            config: PhantomData,
        }
    }
}

impl<C: LayerSpec, E: Element> Recurrent<C, E> {
    /// With biases, initialised as PyTorch's (every parameter from `U(-1/sqrt(H), 1/sqrt(H))`,
    /// layer by layer, direction by direction).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Module, GRU, LSTM};
    /// let lstm = LSTM::<U4, U5>::new(&mut Rng::seed(0));
    /// let names: Vec<String> = lstm.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
    /// assert_eq!(GRU::<U4, U5, U2>::new(&mut Rng::seed(0)).named_parameters()[4].0, "weight_ih_l1");
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        Self::init(rng, true)
    }

    /// Without biases (`bias=False`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Module, LSTM};
    /// assert_eq!(LSTM::<U4, U5>::without_bias(&mut Rng::seed(0)).named_parameters().len(), 2);
    /// ```
    pub fn without_bias(rng: &mut Rng) -> Self {
        Self::init(rng, false)
    }

    fn init(rng: &mut Rng, bias: bool) -> Self {
        let (layers, dirs) = (<C::Layers as ConstDim>::SIZE, C::Dirs::COUNT);
        let projected = <C::Proj as ConstDim>::SIZE != 0;
        Recurrent {
            layers: RecurrentStack::new(rng, layers, dirs, bias, projected),
            nonlinearity: RnnNonlinearity::default(),
            config: PhantomData,
        }
    }

    /// The layer over a padded batch whose sequences have the given lengths (PyTorch's
    /// `pack_padded_sequence(x, lengths, enforce_sorted=False)`, the layer, then
    /// `pad_packed_sequence` to the input's steps): each sequence gets exactly the outputs
    /// and final state it would get alone; outputs past its length are zeros, and the input
    /// there changes nothing.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::LSTM;
    /// let lstm = LSTM::<U2, U3>::new(&mut Rng::seed(0));
    /// let x = Tensor::<(usize, usize, U2)>::ones_shaped((5, 2, U2::new()));
    /// let (y, (h, _)) = lstm.forward_packed(x.clone(), &[5, 2], None).unwrap();
    /// assert!(y.to_vec()[(3 * 2 + 1) * 3..][..3].iter().all(|&v| v == 0.0)); // step 3 of sequence 1
    /// assert_eq!(h.dims(), [1, 2, 3]);
    /// assert!(lstm.forward_packed(x, &[6, 2], None).is_err());
    /// ```
    ///
    /// # Errors
    /// `Error::Mismatch` if there is not one length per sequence; `Error::Index` if a length
    /// is 0 or more than the steps.
    pub fn forward_packed<
        A: Dim,
        B: Dim,
        X: InputFeatures<C::Input>,
        T: MergeTape<E, T, Output = T>,
    >(
        &self,
        x: Tensor<(A, B, X), E, T>,
        lengths: &(impl AsRef<[i64]> + ?Sized),
        init: Option<LayerState<C, A, B, E, T>>,
    ) -> Result<LayerOutput<C, A, B, E, T>> {
        let xs = C::Layout::steps_first(read_as(x));
        let (steps, batch, _) = xs.shape();
        let lengths = checked_lengths(lengths.as_ref(), batch.size(), steps.size())?;
        Ok(self.run(xs, init, Some(&lengths)))
    }

    fn run<A: Dim, B: Dim, T: MergeTape<E, T, Output = T>>(
        &self,
        xs: StepsFirst<C::Layout, A, B, C::Input, E, T>,
        init: Option<LayerState<C, A, B, E, T>>,
        lengths: Option<&[usize]>,
    ) -> LayerOutput<C, A, B, E, T> {
        let (h0, c0) = init.map_or((None, None), |s| {
            let (h, c) = C::Kind::split(s);
            (Some(h), c)
        });
        let kind = C::Kind::kind(self.nonlinearity);
        let (y, h, c) = self.layers.run(kind, xs, h0, c0, lengths);
        (C::Layout::from_steps_first(y), C::Kind::join(h, c))
    }
}

impl<C, A, B, X, E, T> Forward<Tensor<(A, B, X), E, T>> for Recurrent<C, E>
where
    C: LayerSpec,
    A: Dim,
    B: Dim,
    X: InputFeatures<C::Input>,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = LayerOutput<C, A, B, E, T>;
    fn forward(&self, x: Tensor<(A, B, X), E, T>) -> Self::Output {
        self.run(C::Layout::steps_first(read_as(x)), None, None)
    }
}

impl<C, A, B, X, E, T> Forward<(Tensor<(A, B, X), E, T>, LayerState<C, A, B, E, T>)>
    for Recurrent<C, E>
where
    C: LayerSpec,
    A: Dim,
    B: Dim,
    X: InputFeatures<C::Input>,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = LayerOutput<C, A, B, E, T>;
    fn forward(
        &self,
        (x, init): (Tensor<(A, B, X), E, T>, LayerState<C, A, B, E, T>),
    ) -> Self::Output {
        self.run(C::Layout::steps_first(read_as(x)), Some(init), None)
    }
}

impl<C: LayerSpec, E: Element> Module for Recurrent<C, E> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        self.layers.visit(prefix, f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        self.layers.visit_mut(prefix, f);
    }
    fn set_training(&mut self, training: bool) {
        self.layers.training = training;
    }
    fn kind(&self) -> &'static str {
        C::Kind::LAYER
    }
    fn extra_repr(&self) -> String {
        let bias = self.layers.first[0].bias_ih.is_some();
        let sizes = [
            <C::Input as ConstDim>::SIZE,
            <C::Hidden as ConstDim>::SIZE,
            <C::Proj as ConstDim>::SIZE,
            <C::Layers as ConstDim>::SIZE,
        ];
        let flags = [bias, C::Layout::BATCH_FIRST, C::Dirs::COUNT == 2];
        layer_repr(sizes, flags, self.layers.dropout)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
