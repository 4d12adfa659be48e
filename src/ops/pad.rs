//! Padding with typed shapes: `(N, C, W)` and `(N, C, H, W)` padded by type-level amounts in a
//! padding mode that is a type; [`Pad1dShape`] and [`Pad2dShape`] check the mode's size rule and
//! compute the output. The padding layers of [`crate::nn`] and `nn::functional::pad1d/pad2d`
//! call these.

use super::spatial::{pad_mode, pad_op};
use crate::autograd::TapeMode;
use crate::shape::spatial::{Pad1dShape, Pad2dShape, PaddingMode};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

impl<X: Shape, E: Element, Tp: TapeMode<E>> Tensor<X, E, Tp> {
    /// The last dim padded by `L` in front and `R` behind in mode `M` (`F.pad(x, (L, R), mode,
    /// value)`; `value` fills [`Constant`](crate::nn::Constant) padding).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Reflect;
    /// let y = Tensor::<(U1, U1, U3)>::arange().pad1d::<Reflect, U1, U1>(0.0);
    /// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 2.0, 1.0]);
    /// ```
    pub fn pad1d<M, L, R>(self, value: f64) -> Tensor<X::Output, E, Tp>
    where
        X: Pad1dShape<M, L, R>,
        M: PaddingMode,
    {
        let out = self.shape().padded();
        let mode = pad_mode::<M, E>(E::from_f64(value));
        pad_op(self.into_dyn5(), X::PADS, mode).into_typed(out)
    }

    /// The last two dims padded by `(L, R, T, B)` = (left, right, top, bottom) in mode `M`
    /// (`F.pad(x, (L, R, T, B), mode, value)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Constant;
    /// let y = Tensor::<(U1, U1, U1, U1)>::zeros().pad2d::<Constant, U1, U0, U0, U0>(5.0);
    /// assert_eq!(y.to_vec(), vec![5.0, 0.0]);
    /// ```
    pub fn pad2d<M, L, R, T, B>(self, value: f64) -> Tensor<X::Output, E, Tp>
    where
        X: Pad2dShape<M, L, R, T, B>,
        M: PaddingMode,
    {
        let out = self.shape().padded();
        let mode = pad_mode::<M, E>(E::from_f64(value));
        pad_op(self.into_dyn5(), X::PADS, mode).into_typed(out)
    }
}
