//! Padding with typed shapes: `(N, C, W)` and `(N, C, H, W)` padded by type-level amounts in a
//! padding mode that is a type, its size rules ([`PadFits`]) checked at compile time. The
//! padding layers of [`crate::nn`] and `nn::functional::pad1d/pad2d` call these.

use super::spatial::{pad_mode, pad_op};
use crate::autograd::TapeMode;
use crate::shape::spatial::{PadFits, PaddingMode};
use crate::shape::{ConstDim, Dim};
use crate::tensor::{Element, Tensor};
use core::ops::Add;
use typenum::Sum;

impl<Bt: Dim, Ch: Dim, W: ConstDim, E: Element, Tp: TapeMode<E>> Tensor<(Bt, Ch, W), E, Tp> {
    /// The last dim padded by `L` in front and `R` behind in mode `M` (`F.pad(x, (L, R), mode,
    /// value)`; `value` fills [`Constant`](crate::nn::Constant) padding).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Reflect;
    /// let y = Tensor::<(U1, U1, U3)>::arange().pad1d::<Reflect, U1, U1>(0.0);
    /// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 2.0, 1.0]);
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn pad1d<M, L, R>(self, value: f64) -> Tensor<(Bt, Ch, Sum<Sum<W, L>, R>), E, Tp>
    where
        W: Add<L>,
        Sum<W, L>: Add<R>,
        Sum<Sum<W, L>, R>: ConstDim,
        L: ConstDim,
        R: ConstDim,
        M: PaddingMode + PadFits<W, L, R>,
    {
        let (bt, ch, _) = self.shape();
        let pads = [(0, 0), (0, 0), (L::SIZE, R::SIZE)];
        let mode = pad_mode::<M, E>(E::from_f64(value));
        pad_op(self.into_dyn5(), pads, mode).into_typed((bt, ch, Default::default()))
    }
}

impl<Bt: Dim, Ch: Dim, H: ConstDim, W: ConstDim, E: Element, Tp: TapeMode<E>>
    Tensor<(Bt, Ch, H, W), E, Tp>
{
    /// The last two dims padded by `(L, R, T, B)` = (left, right, top, bottom) in mode `M`
    /// (`F.pad(x, (L, R, T, B), mode, value)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Constant;
    /// let y = Tensor::<(U1, U1, U1, U1)>::zeros().pad2d::<Constant, U1, U0, U0, U0>(5.0);
    /// assert_eq!(y.to_vec(), vec![5.0, 0.0]);
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn pad2d<M, L, R, T, B>(
        self,
        value: f64,
    ) -> Tensor<(Bt, Ch, Sum<Sum<H, T>, B>, Sum<Sum<W, L>, R>), E, Tp>
    where
        H: Add<T>,
        Sum<H, T>: Add<B>,
        Sum<Sum<H, T>, B>: ConstDim,
        W: Add<L>,
        Sum<W, L>: Add<R>,
        Sum<Sum<W, L>, R>: ConstDim,
        L: ConstDim,
        R: ConstDim,
        T: ConstDim,
        B: ConstDim,
        M: PaddingMode + PadFits<H, T, B> + PadFits<W, L, R>,
    {
        let (bt, ch, _, _) = self.shape();
        let pads = [(0, 0), (T::SIZE, B::SIZE), (L::SIZE, R::SIZE)];
        let mode = pad_mode::<M, E>(E::from_f64(value));
        let out = (bt, ch, Default::default(), Default::default());
        pad_op(self.into_dyn5(), pads, mode).into_typed(out)
    }
}
