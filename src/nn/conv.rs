//! `Conv1d`, `Conv2d`, `Conv3d`, `ConvTranspose1d`, `ConvTranspose2d`.
//!
//! Type parameters follow PyTorch's constructor order: `Conv2d<in, out, kernel, stride = 1,
//! padding = 0, dilation = 1, groups = 1, padding_mode = Zeros>` and `ConvTranspose2d<in, out,
//! kernel, stride = 1, padding = 0, output_padding = 0, groups = 1, dilation = 1>`; the element
//! type comes last (`f32` by default). A hyper-parameter is one number for every spatial dim or
//! a tuple (`(U2, U3)`); padding may also be [`Same`](super::Same) or [`Valid`](super::Valid).

use super::repr::{conv_repr, is_all, spec_tuple, HyperRepr};
use super::{init, param, Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::spatial::{
    Conv1dShape, Conv2dShape, Conv3dShape, ConvTranspose1dShape, ConvTranspose2dShape, Groups,
    PaddingMode, Spec1, Spec2, Spec3, Zeros,
};
use crate::shape::ConstDim;
use crate::tensor::{Element, Rng, Tensor};
use core::marker::PhantomData;
use typenum::{U0, U1};

/// The constructors both convolution families share, for a weight of type `$W` and a bias of
/// `(CO,)`, inside an `impl` that defines `fan_in()`.
macro_rules! conv_constructors {
    ($name:ident, $W:ty) => {
        /// With a bias, initialised like PyTorch (weight and bias from
        /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`), drawn from `rng`.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let c = ", stringify!($name), "::<U2, U4, U3>::new(&mut Rng::seed(0));\n",
            "// fan_in is at least 2 channels x 3 taps here\n",
            "let w = c.weight.to_vec();\n",
            "assert!(w.iter().all(|w| w.abs() <= 1.0 / 6f32.sqrt()) && w.iter().any(|&w| w != 0.0));\n",
            "assert!(c.bias.is_some());\n```")]
        pub fn new(rng: &mut Rng) -> Self {
            let weight = init::default_uniform(Self::fan_in(), rng);
            let bias = Some(init::default_uniform(Self::fan_in(), rng));
            Self { weight, bias, hyper: PhantomData }
        }

        /// Without a bias (`bias=False`).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let c = ", stringify!($name), "::<U2, U4, U3>::without_bias(&mut Rng::seed(0));\n",
            "assert!(c.bias.is_none());\n```")]
        pub fn without_bias(rng: &mut Rng) -> Self {
            let weight = init::default_uniform(Self::fan_in(), rng);
            Self { weight, bias: None, hyper: PhantomData }
        }

        /// From given parameters (marked as requiring grad).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let c = ", stringify!($name), "::<U2, U4, U3>::new(&mut Rng::seed(0));\n",
            "let d = ", stringify!($name), "::<U2, U4, U3>::from_params(c.weight.clone(), None);\n",
            "assert_eq!(d.weight.to_vec(), c.weight.to_vec());\n",
            "assert!(d.weight.requires_grad() && d.bias.is_none());\n```")]
        pub fn from_params(weight: Tensor<$W, E>, bias: Option<Tensor<(CO,), E>>) -> Self {
            Self { weight: param(weight), bias: bias.map(param), hyper: PhantomData }
        }

    };
}

macro_rules! conv_layer {
    ($(#[$doc:meta])* $name:ident, $op:ident, $shape:ident, $spec:ident, [$($A:ident),+]) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Module)]
        #[module(leaf, extra_repr = repr, bounds(K: HyperRepr, S: HyperRepr, P: HyperRepr, D: HyperRepr, M: PaddingMode))]
        pub struct $name<CI, CO, K, S = U1, P = U0, D = U1, G = U1, M = Zeros, E = f32>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
        {
            /// `(out_channels, in_channels / groups, kernel..)`, as in PyTorch.
            #[module(param)]
            pub weight: Tensor<(CO, G::InPerGroup, $(<K as $spec>::$A,)+), E>,
            /// `(out_channels,)`, if the layer has a bias.
            #[module(param)]
            pub bias: Option<Tensor<(CO,), E>>,
            hyper: PhantomData<(S, P, D, M)>,
        }

        impl<CI, CO, K, S, P, D, G, M, E> $name<CI, CO, K, S, P, D, G, M, E>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+> + HyperRepr,
            S: HyperRepr,
            P: HyperRepr,
            D: HyperRepr,
            G: Groups<CI, CO>,
            M: PaddingMode,
            E: Element,
        {
            /// PyTorch's `extra_repr`: channels, kernel and stride, then what differs from the
            /// defaults in PyTorch's order.
            fn repr(&self) -> String {
                let rank = [$(stringify!($A)),+].len();
                conv_repr::<CI, CO, K, S>(rank, &[
                    (!is_all::<P>(0), format!("padding={}", spec_tuple::<P>(rank))),
                    (!is_all::<D>(1), format!("dilation={}", spec_tuple::<D>(rank))),
                    (G::SIZE != 1, format!("groups={}", G::SIZE)),
                    (self.bias.is_none(), "bias=False".to_string()),
                    (!M::IS_ZEROS, format!("padding_mode={}", M::NAME)),
                ])
            }
        }

        impl<CI, CO, K, S, P, D, G, M, E> $name<CI, CO, K, S, P, D, G, M, E>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
        {
            /// The number of inputs each output sees: `in_channels / groups * kernel volume`.
            fn fan_in() -> usize {
                G::InPerGroup::SIZE $(* <K as $spec>::$A::SIZE)+
            }

            conv_constructors!($name, (CO, G::InPerGroup, $(<K as $spec>::$A,)+));
        }

        impl<X, CI, CO, K, S, P, D, G, M, E, T> Forward<Tensor<X, E, T>>
            for $name<CI, CO, K, S, P, D, G, M, E>
        where
            X: $shape<CI, CO, K, S, P, D, G, M>,
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            M: PaddingMode,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                x.$op::<CI, CO, K, S, P, D, G, M>(&self.weight, self.bias.as_ref())
            }
        }
    };
}

conv_layer!(
    /// A 1-d convolution over `(N, C_in, L)` (PyTorch's `nn.Conv1d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Conv1d, Forward};
    /// // Conv1d(2, 3, kernel_size=3, stride=2, padding=1)
    /// let conv = Conv1d::<U2, U3, U3, U2, U1>::new(&mut Rng::seed(0));
    /// let y: Tensor<(U4, U3, U5)> = conv.forward(Tensor::<(U4, U2, U9)>::zeros());
    /// assert_eq!(y.dims(), [4, 3, 5]);
    /// ```
    Conv1d, conv1d, Conv1dShape, Spec1, [A]
);
conv_layer!(
    /// A 2-d convolution over `(N, C_in, H, W)` (PyTorch's `nn.Conv2d`), with groups,
    /// dilation, rectangular hyper-parameters, `Same`/`Valid` padding and padding modes.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Conv2d, Forward, Reflect};
    /// let mut rng = Rng::seed(0);
    /// // The seed CIFAR-10 net's first layer: Conv2d(3, 32, 5, padding=2)
    /// let c = Conv2d::<U3, U32, U5, U1, U2>::new(&mut rng);
    /// let y: Tensor<(U64, U32, U32, U32)> = c.forward(Tensor::<(U64, U3, U32, U32)>::zeros());
    /// // kernel (2, 3), stride (2, 1), padding (1, 0), dilation (1, 2), reflect padding
    /// let r = Conv2d::<U2, U3, (U2, U3), (U2, U1), (U1, U0), (U1, U2), U1, Reflect>::new(&mut rng);
    /// let z: Tensor<(U2, U3, U4, U4)> = r.forward(Tensor::<(U2, U2, U7, U8)>::zeros());
    /// assert_eq!((y.dims(), z.dims()), ([64, 32, 32, 32].into(), [2, 3, 4, 4].into()));
    /// ```
    Conv2d, conv2d, Conv2dShape, Spec2, [A, B]
);
conv_layer!(
    /// A 3-d convolution over `(N, C_in, D, H, W)` (PyTorch's `nn.Conv3d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Conv3d, Forward};
    /// let conv = Conv3d::<U2, U2, U2, U1, U1>::new(&mut Rng::seed(0));
    /// let y: Tensor<(U1, U2, U4, U5, U4)> = conv.forward(Tensor::<(U1, U2, U3, U4, U3)>::zeros());
    /// assert_eq!(y.dims(), [1, 2, 4, 5, 4]);
    /// ```
    Conv3d, conv3d, Conv3dShape, Spec3, [A, B, C]
);

macro_rules! conv_transpose_layer {
    ($(#[$doc:meta])* $name:ident, $op:ident, $shape:ident, $spec:ident, [$($A:ident),+]) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Module)]
        #[module(leaf, extra_repr = repr, bounds(K: HyperRepr, S: HyperRepr, P: HyperRepr, OP: HyperRepr, D: HyperRepr))]
        pub struct $name<CI, CO, K, S = U1, P = U0, OP = U0, G = U1, D = U1, E = f32>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
        {
            /// `(in_channels, out_channels / groups, kernel..)`, as in PyTorch.
            #[module(param)]
            pub weight: Tensor<(CI, G::OutPerGroup, $(<K as $spec>::$A,)+), E>,
            /// `(out_channels,)`, if the layer has a bias.
            #[module(param)]
            pub bias: Option<Tensor<(CO,), E>>,
            hyper: PhantomData<(S, P, OP, D)>,
        }

        impl<CI, CO, K, S, P, OP, G, D, E> $name<CI, CO, K, S, P, OP, G, D, E>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+> + HyperRepr,
            S: HyperRepr,
            P: HyperRepr,
            OP: HyperRepr,
            D: HyperRepr,
            G: Groups<CI, CO>,
            E: Element,
        {
            /// PyTorch's `extra_repr`: channels, kernel and stride, then what differs from the
            /// defaults in PyTorch's order.
            fn repr(&self) -> String {
                let rank = [$(stringify!($A)),+].len();
                conv_repr::<CI, CO, K, S>(rank, &[
                    (!is_all::<P>(0), format!("padding={}", spec_tuple::<P>(rank))),
                    (!is_all::<OP>(0), format!("output_padding={}", spec_tuple::<OP>(rank))),
                    (!is_all::<D>(1), format!("dilation={}", spec_tuple::<D>(rank))),
                    (G::SIZE != 1, format!("groups={}", G::SIZE)),
                    (self.bias.is_none(), "bias=False".to_string()),
                ])
            }
        }

        impl<CI, CO, K, S, P, OP, G, D, E> $name<CI, CO, K, S, P, OP, G, D, E>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
        {
            /// PyTorch's fan-in of a transposed convolution: `weight.size(1) * kernel volume`.
            fn fan_in() -> usize {
                G::OutPerGroup::SIZE $(* <K as $spec>::$A::SIZE)+
            }

            conv_constructors!($name, (CI, G::OutPerGroup, $(<K as $spec>::$A,)+));
        }

        impl<X, CI, CO, K, S, P, OP, G, D, E, T> Forward<Tensor<X, E, T>>
            for $name<CI, CO, K, S, P, OP, G, D, E>
        where
            X: $shape<CI, CO, K, S, P, OP, G, D>,
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                x.$op::<CI, CO, K, S, P, OP, G, D>(&self.weight, self.bias.as_ref())
            }
        }
    };
}

conv_transpose_layer!(
    /// A 1-d transposed convolution over `(N, C_in, L)` (PyTorch's `nn.ConvTranspose1d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{ConvTranspose1d, Forward};
    /// // stride 2, padding 1, output_padding 1 doubles the length
    /// let up = ConvTranspose1d::<U4, U2, U3, U2, U1, U1>::new(&mut Rng::seed(0));
    /// let y: Tensor<(U1, U2, U16)> = up.forward(Tensor::<(U1, U4, U8)>::zeros());
    /// assert_eq!(y.dims(), [1, 2, 16]);
    /// ```
    ConvTranspose1d, conv_transpose1d, ConvTranspose1dShape, Spec1, [A]
);
conv_transpose_layer!(
    /// A 2-d transposed convolution over `(N, C_in, H, W)` (PyTorch's `nn.ConvTranspose2d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{ConvTranspose2d, Forward};
    /// // W4d: ConvTranspose2d(32, 64, 3) maps 126x126 to 128x128
    /// let t = ConvTranspose2d::<U32, U64, U3>::new(&mut Rng::seed(0));
    /// let y: Tensor<(U1, U64, U128, U128)> = t.forward(Tensor::<(U1, U32, U126, U126)>::zeros());
    /// assert_eq!(y.dims(), [1, 64, 128, 128]);
    /// ```
    ConvTranspose2d, conv_transpose2d, ConvTranspose2dShape, Spec2, [A, B]
);
