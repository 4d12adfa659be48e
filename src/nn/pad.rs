//! Padding layers: `ZeroPad`, `ConstantPad`, `ReflectionPad`, `ReplicationPad` and
//! `CircularPad`, 1-d and 2-d, with asymmetric padding.
//!
//! `Pad2d<Mode, Left, Right = Left, Top = Left, Bottom = Left>` follows PyTorch's padding order
//! `(left, right, top, bottom)`; the named layers are aliases (`ReflectionPad2d<U1, U2, U0,
//! U1>`). A reflection padding not smaller than the input, or a circular one larger than it,
//! does not compile.

use super::repr::{py_float, py_tuple};
use super::{Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::spatial::{
    Circular, Constant, Pad1dShape, Pad2dShape, PaddingMode, Reflect, Replicate, Zeros,
};
use crate::shape::ConstDim;
use crate::tensor::{Element, Tensor};
use core::marker::PhantomData;

/// Pads the last dim of `(N, C, W)` by `L` in front and `R` behind, in mode `M`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReplicationPad1d};
/// let y = ReplicationPad1d::<U1, U2>::new().forward(Tensor::<(U1, U1, U2)>::from_array([[[1.0, 2.0]]]));
/// assert_eq!(y.to_vec(), vec![1.0, 1.0, 2.0, 2.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Module)]
#[module(leaf, kind = M::LAYER_NAMES[0], extra_repr = repr, bounds(M: PaddingMode, L: ConstDim, R: ConstDim))]
pub struct Pad1d<M, L, R = L> {
    /// The fill value of [`Constant`] padding (unused by the other modes).
    pub value: f64,
    hyper: PhantomData<(M, L, R)>,
}

/// Pads the last two dims of `(N, C, H, W)` by `(L, R, T, B)` = (left, right, top, bottom), in
/// mode `M`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ZeroPad2d};
/// let y: Tensor<(U1, U1, U4, U5)> = ZeroPad2d::<U1, U2, U0, U1>::new().forward(Tensor::<(U1, U1, U3, U2)>::ones());
/// assert_eq!(y.to_vec().iter().sum::<f32>(), 6.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Module)]
#[module(leaf, kind = M::LAYER_NAMES[1], extra_repr = repr, bounds(M: PaddingMode, L: ConstDim, R: ConstDim, T: ConstDim, B: ConstDim))]
pub struct Pad2d<M, L, R = L, T = L, B = L> {
    /// The fill value of [`Constant`] padding (unused by the other modes).
    pub value: f64,
    hyper: PhantomData<(M, L, R, T, B)>,
}

macro_rules! pad_ctor {
    ($name:ident<$($p:ident),+>, $ps:literal) => {
        impl<$($p),+> Default for $name<$($p),+> {
            fn default() -> Self {
                $name { value: 0.0, hyper: PhantomData }
            }
        }
        impl<$($p),+> $name<$($p),+> {
            /// The layer (fill value 0 for constant padding).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet pad = stensor::nn::", stringify!($name), "::<stensor::nn::Zeros, ", $ps, ">::new();\nassert_eq!(pad.value, 0.0);\n```")]
            pub fn new() -> Self {
                Self::default()
            }
            /// The layer with fill value `value` (PyTorch's `ConstantPad(padding, value)`).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet pad = stensor::nn::", stringify!($name), "::<stensor::nn::Constant, ", $ps, ">::with_value(3.5);\nassert_eq!(pad.value, 3.5);\n```")]
            pub fn with_value(value: f64) -> Self {
                $name { value, hyper: PhantomData }
            }
        }
    };
}
pad_ctor!(Pad1d<M, L, R>, "U1, U1");
pad_ctor!(Pad2d<M, L, R, T, B>, "U1, U1, U1, U1");

/// PyTorch's `extra_repr` of a padding layer: the padding tuple, and the fill value of
/// constant padding.
fn pad_repr<M: PaddingMode>(pads: &[usize], value: f64) -> String {
    let p = py_tuple(pads);
    if M::HAS_VALUE {
        format!("padding={p}, value={}", py_float(value))
    } else {
        p
    }
}

impl<M: PaddingMode, L: ConstDim, R: ConstDim> Pad1d<M, L, R> {
    fn repr(&self) -> String {
        pad_repr::<M>(&[L::SIZE, R::SIZE], self.value)
    }
}

impl<M: PaddingMode, L: ConstDim, R: ConstDim, T: ConstDim, B: ConstDim> Pad2d<M, L, R, T, B> {
    fn repr(&self) -> String {
        pad_repr::<M>(&[L::SIZE, R::SIZE, T::SIZE, B::SIZE], self.value)
    }
}

impl<X, M, L, R, E, Tp> Forward<Tensor<X, E, Tp>> for Pad1d<M, L, R>
where
    X: Pad1dShape<M, L, R>,
    M: PaddingMode,
    E: Element,
    Tp: TapeMode<E>,
{
    type Output = Tensor<X::Output, E, Tp>;
    fn forward(&self, x: Tensor<X, E, Tp>) -> Self::Output {
        x.pad1d::<M, L, R>(self.value)
    }
}

impl<X, M, L, R, T, B, E, Tp> Forward<Tensor<X, E, Tp>> for Pad2d<M, L, R, T, B>
where
    X: Pad2dShape<M, L, R, T, B>,
    M: PaddingMode,
    E: Element,
    Tp: TapeMode<E>,
{
    type Output = Tensor<X::Output, E, Tp>;
    fn forward(&self, x: Tensor<X, E, Tp>) -> Self::Output {
        x.pad2d::<M, L, R, T, B>(self.value)
    }
}

/// Zero padding of `(N, C, W)` (PyTorch's `nn.ZeroPad1d((left, right))`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ZeroPad1d};
/// assert_eq!(ZeroPad1d::<U1>::new().forward(Tensor::<(U1, U1, U1)>::ones()).to_vec(), vec![0.0, 1.0, 0.0]);
/// ```
pub type ZeroPad1d<L, R = L> = Pad1d<Zeros, L, R>;
/// Constant padding of `(N, C, W)`; build with `with_value` (PyTorch's `nn.ConstantPad1d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{ConstantPad1d, Forward};
/// let y = ConstantPad1d::<U1>::with_value(3.5).forward(Tensor::<(U1, U1, U1)>::ones());
/// assert_eq!(y.to_vec(), vec![3.5, 1.0, 3.5]);
/// ```
pub type ConstantPad1d<L, R = L> = Pad1d<Constant, L, R>;
/// Reflection padding of `(N, C, W)` (PyTorch's `nn.ReflectionPad1d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReflectionPad1d};
/// let y = ReflectionPad1d::<U1>::new().forward(Tensor::<(U1, U1, U2)>::arange());
/// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 0.0]);
/// ```
pub type ReflectionPad1d<L, R = L> = Pad1d<Reflect, L, R>;
/// Replication padding of `(N, C, W)` (PyTorch's `nn.ReplicationPad1d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReplicationPad1d};
/// let y = ReplicationPad1d::<U2, U0>::new().forward(Tensor::<(U1, U1, U2)>::arange());
/// assert_eq!(y.to_vec(), vec![0.0, 0.0, 0.0, 1.0]);
/// ```
pub type ReplicationPad1d<L, R = L> = Pad1d<Replicate, L, R>;
/// Circular padding of `(N, C, W)` (PyTorch's `nn.CircularPad1d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{CircularPad1d, Forward};
/// let y = CircularPad1d::<U1>::new().forward(Tensor::<(U1, U1, U2)>::arange());
/// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 0.0]);
/// ```
pub type CircularPad1d<L, R = L> = Pad1d<Circular, L, R>;
/// Zero padding of `(N, C, H, W)` by `(left, right, top, bottom)` (PyTorch's `nn.ZeroPad2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ZeroPad2d};
/// let y: Tensor<(U1, U1, U3, U3)> = ZeroPad2d::<U1>::new().forward(Tensor::<(U1, U1, U1, U1)>::ones());
/// assert_eq!(y.to_vec().iter().sum::<f32>(), 1.0);
/// ```
pub type ZeroPad2d<L, R = L, T = L, B = L> = Pad2d<Zeros, L, R, T, B>;
/// Constant padding of `(N, C, H, W)`; build with `with_value` (PyTorch's `nn.ConstantPad2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{ConstantPad2d, Forward};
/// let y = ConstantPad2d::<U1>::with_value(2.0).forward(Tensor::<(U1, U1, U1, U1)>::zeros());
/// assert_eq!(y.to_vec().iter().sum::<f32>(), 16.0);
/// ```
pub type ConstantPad2d<L, R = L, T = L, B = L> = Pad2d<Constant, L, R, T, B>;
/// Reflection padding of `(N, C, H, W)` (PyTorch's `nn.ReflectionPad2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReflectionPad2d};
/// let y: Tensor<(U1, U1, U6, U7)> = ReflectionPad2d::<U2, U1, U1, U2>::new().forward(Tensor::<(U1, U1, U3, U4)>::zeros());
/// assert_eq!(y.dims(), [1, 1, 6, 7]);
/// ```
pub type ReflectionPad2d<L, R = L, T = L, B = L> = Pad2d<Reflect, L, R, T, B>;
/// Replication padding of `(N, C, H, W)` (PyTorch's `nn.ReplicationPad2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReplicationPad2d};
/// let y = ReplicationPad2d::<U1>::new().forward(Tensor::<(U1, U1, U1, U1)>::full(7.0));
/// assert_eq!(y.to_vec(), vec![7.0; 9]);
/// ```
pub type ReplicationPad2d<L, R = L, T = L, B = L> = Pad2d<Replicate, L, R, T, B>;
/// Circular padding of `(N, C, H, W)` (PyTorch's `nn.CircularPad2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{CircularPad2d, Forward};
/// let y: Tensor<(U1, U1, U4, U4)> = CircularPad2d::<U1>::new().forward(Tensor::<(U1, U1, U2, U2)>::arange());
/// assert_eq!(y[[0, 0, 0, 0]], 3.0);
/// ```
pub type CircularPad2d<L, R = L, T = L, B = L> = Pad2d<Circular, L, R, T, B>;
