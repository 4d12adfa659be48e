//! The sizes of the recurrent layers: a hidden size times the number of stacked gates (3 for
//! a GRU, 4 for an LSTM), and times the number of directions.

use super::ConstDim;
use core::ops::Mul;
use typenum::{Bit, Prod, UInt, Unsigned, U2, U3, U4};

/// A hidden size of a recurrent layer, with its multiples the layers' weights are stacked by
/// (PyTorch stacks a GRU's three gates and an LSTM's four along the first dim). Every static
/// dim is one; the multiples are computed at compile time.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::HiddenDim;
/// assert_eq!(<<U5 as HiddenDim>::Times4 as ConstDim>::SIZE, 20);
/// assert_eq!(<<U5 as HiddenDim>::Times3 as ConstDim>::SIZE, 15);
/// assert_eq!(<<U5 as HiddenDim>::Times2 as ConstDim>::SIZE, 10);
/// ```
#[diagnostic::on_unimplemented(
    message = "a recurrent layer's sizes must be static and above 0, not `{Self}`",
    label = "not a hidden size, layer count or projection",
    note = "PyTorch requires hidden_size > 0 and num_layers > 0 too"
)]
pub trait HiddenDim: ConstDim {
    /// The size itself (an Elman cell's one gate).
    type Times1: ConstDim;
    /// Twice the size (two directions).
    type Times2: ConstDim;
    /// Three times the size (a GRU's gates).
    type Times3: ConstDim;
    /// Four times the size (an LSTM's gates).
    type Times4: ConstDim;
}

impl<U: Unsigned, B: Bit> HiddenDim for UInt<U, B>
where
    UInt<U, B>: ConstDim + Mul<U2> + Mul<U3> + Mul<U4>,
    Prod<UInt<U, B>, U2>: ConstDim,
    Prod<UInt<U, B>, U3>: ConstDim,
    Prod<UInt<U, B>, U4>: ConstDim,
{
    type Times1 = UInt<U, B>;
    type Times2 = Prod<UInt<U, B>, U2>;
    type Times3 = Prod<UInt<U, B>, U3>;
    type Times4 = Prod<UInt<U, B>, U4>;
}

/// The number of directions of a recurrent layer, `U1` or `U2` (bidirectional), and the
/// sizes it multiplies: a layer's output features and the number of its final states.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::Directions;
/// assert_eq!(<<U2 as Directions>::Of<U5> as ConstDim>::SIZE, 10);
/// assert_eq!(<<U1 as Directions>::Of<U5> as ConstDim>::SIZE, 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "a recurrent layer has 1 or 2 directions, not `{Self}`",
    label = "not a number of directions",
    note = "`U1` runs forward only; `U2` is PyTorch's `bidirectional=True`"
)]
pub trait Directions: ConstDim {
    /// 1 or 2.
    const COUNT: usize;
    /// `X` times the number of directions.
    type Of<X: HiddenDim>: ConstDim;
}
impl Directions for typenum::U1 {
    const COUNT: usize = 1;
    type Of<X: HiddenDim> = X;
}
impl Directions for U2 {
    const COUNT: usize = 2;
    type Of<X: HiddenDim> = X::Times2;
}

/// An LSTM's `proj_size`: `U0` for none (the output is the hidden size `H`), or the size of
/// the projection of each hidden state.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::Projection;
/// assert_eq!(<<U0 as Projection<U8>>::Out as ConstDim>::SIZE, 8);
/// assert_eq!(<<U3 as Projection<U8>>::Out as ConstDim>::SIZE, 3);
/// ```
pub trait Projection<H: HiddenDim>: ConstDim {
    /// The size of the layer's output and hidden state.
    type Out: HiddenDim;
}
impl<H: HiddenDim> Projection<H> for typenum::U0 {
    type Out = H;
}
impl<H: HiddenDim, U: Unsigned, B: Bit> Projection<H> for UInt<U, B>
where
    UInt<U, B>: HiddenDim,
{
    type Out = UInt<U, B>;
}

/// The features per step of a recurrent layer's or cell's input, `Self`, are the `Expected`
/// ones it was built for (PyTorch's `input_size`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::InputFeatures;
/// fn reads<X: InputFeatures<U28>>() {}
/// reads::<U28>();
/// ```
#[diagnostic::on_unimplemented(
    message = "a recurrent layer built for `{Expected}` input features cannot read `{Self}` features per step",
    label = "the input's last dim",
    note = "the input's last dim must be the layer's `I` (PyTorch's `input_size`)"
)]
pub trait InputFeatures<Expected: ConstDim>: ConstDim {}
impl<X: ConstDim> InputFeatures<X> for X {}
