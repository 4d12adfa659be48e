//! `PixelShuffle` and `PixelUnshuffle`: the layers of the `pixel_shuffle` / `pixel_unshuffle`
//! ops (sub-pixel upscaling, as in ESPCN super-resolution networks). No parameters; the factor
//! is a type, so the output shape and PyTorch's divisibility rules are compile-time facts.

use super::{Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::{ConstDim, PixelShuffleShape, PixelUnshuffleShape};
use crate::tensor::{Element, Tensor};
use core::marker::PhantomData;

macro_rules! shuffle_layer {
    ($(#[$doc:meta])* $name:ident, $shape:ident, $op:ident, $factor:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
        #[module(leaf, extra_repr = repr)]
        pub struct $name<R: ConstDim>(PhantomData<R>);

        impl<R: ConstDim> $name<R> {
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String {
                format!(concat!($factor, "={}"), R::SIZE)
            }
            /// The layer.
            ///
            #[doc = concat!("```\nlet _p = stensor::nn::", stringify!($name), "::<stensor::dims::U2>::new();\n```")]
            pub fn new() -> Self {
                $name(PhantomData)
            }
        }

        impl<R, S, E, T> Forward<Tensor<S, E, T>> for $name<R>
        where
            R: ConstDim,
            S: $shape<R>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<S::Output, E, T>;
            fn forward(&self, x: Tensor<S, E, T>) -> Self::Output {
                x.$op::<R>()
            }
        }
    };
}

shuffle_layer!(
    /// Rearranges `(*, C * R^2, H, W)` into `(*, C, H * R, W * R)` (PyTorch's
    /// `nn.PixelShuffle(upscale_factor=R)`); `R^2` must divide the channels.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ModuleDisplay, PixelShuffle};
    /// let y: Tensor<(U2, U2, U6, U6)> = PixelShuffle::<U3>::new().forward(Tensor::<(U2, U18, U2, U2)>::zeros());
    /// let printed = ModuleDisplay(&PixelShuffle::<U3>::new()).to_string();
    /// assert!(printed.starts_with("PixelShuffle(upscale_factor=3)"));
    /// ```
    PixelShuffle, PixelShuffleShape, pixel_shuffle, "upscale_factor"
);
shuffle_layer!(
    /// Rearranges `(*, C, H * R, W * R)` into `(*, C * R^2, H, W)` (PyTorch's
    /// `nn.PixelUnshuffle(downscale_factor=R)`), the inverse of [`PixelShuffle`]; `R` must divide
    /// the height and the width.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, PixelShuffle, PixelUnshuffle};
    /// let x = Tensor::<(U1, U3, U4, U4)>::arange();
    /// let y: Tensor<(U1, U12, U2, U2)> = PixelUnshuffle::<U2>::new().forward(x.clone());
    /// assert_eq!(PixelShuffle::<U2>::new().forward(y).to_vec(), x.to_vec());
    /// ```
    PixelUnshuffle, PixelUnshuffleShape, pixel_unshuffle, "downscale_factor"
);
