//! Pooling layers: `MaxPool1d/2d/3d`, `AvgPool1d/2d/3d`, `MaxUnpool2d`,
//! `AdaptiveAvgPool1d/2d`, `AdaptiveMaxPool1d/2d`, and the combined adaptive avg+max poolings.
//!
//! Type parameters follow PyTorch: `MaxPool2d<kernel, stride = kernel, padding = 0,
//! dilation = 1, ceil_mode = False>`, `AvgPool2d<kernel, stride = kernel, padding = 0,
//! ceil_mode = False>` (with `count_include_pad` and `divisor_override` as run-time settings).

use super::repr::{py_bool, spec_tuple, HyperRepr};
use super::{Forward, Module};
use crate::autograd::{MergeTape, TapeMode};
use crate::ops::PoolIndices;
use crate::shape::out::AdaptiveOutput;
use crate::shape::rules::IndicesShape;
use crate::shape::spatial::{
    Adaptive1dShape, Adaptive2dShape, Pool1dShape, Pool2dShape, Pool3dShape, Unpool2dShape,
};
use crate::shape::{ConcatAlong, ConstDim, Dim, Shape};
use crate::tensor::{Element, Tensor};
use core::marker::PhantomData;
use typenum::{Bit, False, U0, U1};

macro_rules! pool_layers {
    ($shape:ident, $max:ident, $avg:ident, $max_idx:ident, $avg_op:ident, $x:literal, $max_doc:literal, $avg_doc:literal) => {
        #[doc = $max_doc]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
        #[module(leaf, extra_repr = repr, bounds(K: HyperRepr, S: HyperRepr, P: HyperRepr, D: HyperRepr, C: Bit))]
        pub struct $max<K, S = K, P = U0, D = U1, C = False>(PhantomData<(K, S, P, D, C)>);

        impl<K: HyperRepr, S: HyperRepr, P: HyperRepr, D: HyperRepr, C: Bit> $max<K, S, P, D, C> {
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String {
                format!(
                    "kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
                    K::repr(), S::repr(), P::repr(), D::repr(), py_bool(C::BOOL)
                )
            }
        }

        impl<K, S, P, D, C> $max<K, S, P, D, C> {
            /// The layer.
            ///
            #[doc = concat!("```\nlet _pool = stensor::nn::", stringify!($max), "::<stensor::dims::U2>::new();\n```")]
            pub fn new() -> Self {
                $max(PhantomData)
            }

            /// The pooled tensor and the flat index of every maximum within its input plane.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet (y, idx) = stensor::nn::", stringify!($max),
                "::<U2>::new().forward_with_indices(Tensor::<", $x, ">::arange());\n",
                "assert_eq!(y.to_vec().len(), idx.to_vec().len());\n",
                "// the last window's maximum is the plane's last element\n",
                "assert_eq!(*idx.to_vec().last().unwrap(), Tensor::<", $x, ">::zeros().numel() - 1);\n```")]
            #[allow(clippy::type_complexity)]
            pub fn forward_with_indices<X, E, T>(
                &self,
                x: Tensor<X, E, T>,
            ) -> (Tensor<X::Output, E, T>, PoolIndices<X::Output>)
            where
                X: $shape<K, S, P, D, C>,
                E: Element,
                T: TapeMode<E>,
            {
                x.$max_idx::<K, S, P, D, C>()
            }
        }

        impl<X, K, S, P, D, C, E, T> Forward<Tensor<X, E, T>> for $max<K, S, P, D, C>
        where
            X: $shape<K, S, P, D, C>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                self.forward_with_indices(x).0
            }
        }

        #[doc = $avg_doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Module)]
        #[module(leaf, extra_repr = repr, bounds(K: HyperRepr, S: HyperRepr, P: HyperRepr, C: Bit))]
        pub struct $avg<K, S = K, P = U0, C = False> {
            /// Whether the divisor counts padded positions (PyTorch's default `true`).
            pub count_include_pad: bool,
            /// A fixed divisor instead of the window size (PyTorch's `divisor_override`).
            pub divisor_override: Option<usize>,
            hyper: PhantomData<(K, S, P, C)>,
        }

        impl<K: HyperRepr, S: HyperRepr, P: HyperRepr, C: Bit> $avg<K, S, P, C> {
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String {
                let mut r = format!("kernel_size={}, stride={}, padding={}", K::repr(), S::repr(), P::repr());
                if C::BOOL {
                    r += ", ceil_mode=True";
                }
                if !self.count_include_pad {
                    r += ", count_include_pad=False";
                }
                if let Some(d) = self.divisor_override {
                    r += &format!(", divisor_override={d}");
                }
                r
            }
        }

        impl<K, S, P, C> Default for $avg<K, S, P, C> {
            fn default() -> Self {
                $avg { count_include_pad: true, divisor_override: None, hyper: PhantomData }
            }
        }

        impl<K, S, P, C> $avg<K, S, P, C> {
            /// The layer with PyTorch's defaults (`count_include_pad=True`, no divisor override).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::Forward;\nlet y = stensor::nn::", stringify!($avg),
                "::<U2>::new().forward(Tensor::<", $x, ">::ones());\nassert!(y.to_vec().iter().all(|&v| v == 1.0));\n```")]
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets `count_include_pad`: whether zeros of the padding count in the average.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::Forward;\nlet pool = stensor::nn::", stringify!($avg),
                "::<U2, U2, U1>::new().count_include_pad(false);\n",
                "assert!(pool.forward(Tensor::<", $x, ">::ones()).to_vec().iter().all(|&v| v == 1.0));\n```")]
            pub fn count_include_pad(mut self, yes: bool) -> Self {
                self.count_include_pad = yes;
                self
            }

            /// Sets `divisor_override` (`None` for the window size).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::Forward;\nlet pool = stensor::nn::", stringify!($avg),
                "::<U2>::new().divisor_override(Some(1));\n",
                "assert!(pool.forward(Tensor::<", $x, ">::ones()).to_vec().iter().all(|&v| v > 1.0));\n```")]
            pub fn divisor_override(mut self, divisor: Option<usize>) -> Self {
                self.divisor_override = divisor;
                self
            }
        }

        impl<X, K, S, P, C, E, T> Forward<Tensor<X, E, T>> for $avg<K, S, P, C>
        where
            X: $shape<K, S, P, U1, C>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                x.$avg_op::<K, S, P, C>(self.count_include_pad, self.divisor_override)
            }
        }
    };
}

pool_layers!(
    Pool1dShape, MaxPool1d, AvgPool1d, max_pool1d_with_indices, avg_pool1d, "(U1, U1, U4)",
    "1-d max pooling over `(N, C, L)` (PyTorch's `nn.MaxPool1d`).\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{MaxPool1d, Forward};\nlet y = MaxPool1d::<U2>::new().forward(Tensor::<(U1, U1, U5)>::arange());\nassert_eq!(y.to_vec(), vec![1.0, 3.0]);\n// ceil_mode keeps the last partial window\nlet z = MaxPool1d::<U2, U2, U0, U1, True>::new().forward(Tensor::<(U1, U1, U5)>::arange());\nassert_eq!(z.to_vec(), vec![1.0, 3.0, 4.0]);\n```",
    "1-d average pooling over `(N, C, L)` (PyTorch's `nn.AvgPool1d`).\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AvgPool1d, Forward};\nlet y = AvgPool1d::<U2>::new().forward(Tensor::<(U1, U1, U4)>::arange());\nassert_eq!(y.to_vec(), vec![0.5, 2.5]);\n```"
);
pool_layers!(
    Pool2dShape, MaxPool2d, AvgPool2d, max_pool2d_with_indices, avg_pool2d, "(U1, U1, U4, U4)",
    "2-d max pooling over `(N, C, H, W)` (PyTorch's `nn.MaxPool2d`): kernel, stride (default the kernel), padding, dilation, `ceil_mode`, and indices through `forward_with_indices`.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{MaxPool2d, Forward};\n// The seed CIFAR-10 net: MaxPool2d(2) halves 32x32\nlet y: Tensor<(U64, U32, U16, U16)> = MaxPool2d::<U2>::new().forward(Tensor::<(U64, U32, U32, U32)>::zeros());\n// kernel (2, 3), stride (2, 3), padding 1\nlet z = MaxPool2d::<(U2, U3), (U2, U3), U1>::new().forward(Tensor::<(U2, U2, U4, U4)>::zeros());\nassert_eq!((y.dims(), z.dims()), ([64, 32, 16, 16].into(), [2, 2, 3, 2].into()));\n```",
    "2-d average pooling over `(N, C, H, W)` (PyTorch's `nn.AvgPool2d`) with `ceil_mode`, `count_include_pad` and `divisor_override`.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AvgPool2d, Forward};\n// The seed LeNet: AvgPool2d(2, 2) halves 28x28\nlet y: Tensor<(U8, U6, U14, U14)> = AvgPool2d::<U2>::new().forward(Tensor::<(U8, U6, U28, U28)>::ones());\nassert!(y.to_vec().iter().all(|&v| v == 1.0));\nlet p = AvgPool2d::<U3, U2, U1>::new().count_include_pad(false);\nlet z = p.forward(Tensor::<(U1, U1, U7, U7)>::ones());\nassert!(z.to_vec().iter().all(|&v| v == 1.0));\n```"
);
pool_layers!(
    Pool3dShape, MaxPool3d, AvgPool3d, max_pool3d_with_indices, avg_pool3d, "(U1, U1, U4, U4, U4)",
    "3-d max pooling over `(N, C, D, H, W)` (PyTorch's `nn.MaxPool3d`).\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{MaxPool3d, Forward};\nlet y = MaxPool3d::<U2>::new().forward(Tensor::<(U1, U1, U2, U2, U2)>::arange());\nassert_eq!(y.to_vec(), vec![7.0]);\n```",
    "3-d average pooling over `(N, C, D, H, W)` (PyTorch's `nn.AvgPool3d`).\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AvgPool3d, Forward};\nlet y = AvgPool3d::<U2>::new().forward(Tensor::<(U1, U1, U2, U2, U2)>::arange());\nassert_eq!(y.to_vec(), vec![3.5]);\n```"
);

/// 2-d max unpooling (PyTorch's `nn.MaxUnpool2d`): places each value at the index its
/// [`MaxPool2d`] recorded, zeros elsewhere; the output is `(In - 1) * stride - 2 * padding +
/// kernel` per dim. Indices of another shape do not compile.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{MaxPool2d, MaxUnpool2d};
/// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[1.0, 4.0], [3.0, 2.0]]]]);
/// let (y, idx) = MaxPool2d::<U2>::new().forward_with_indices(x);
/// let back = MaxUnpool2d::<U2>::new().forward(y, &idx);
/// assert_eq!(back.to_vec(), vec![0.0, 4.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
#[module(leaf, extra_repr = repr, bounds(K: HyperRepr, S: HyperRepr, P: HyperRepr))]
pub struct MaxUnpool2d<K, S = K, P = U0>(PhantomData<(K, S, P)>);

impl<K: HyperRepr, S: HyperRepr, P: HyperRepr> MaxUnpool2d<K, S, P> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        let (k, s, p) = (spec_tuple::<K>(2), spec_tuple::<S>(2), spec_tuple::<P>(2));
        format!("kernel_size={k}, stride={s}, padding={p}")
    }
}

impl<K, S, P> MaxUnpool2d<K, S, P> {
    /// The layer.
    ///
    /// ```
    /// let _u = stensor::nn::MaxUnpool2d::<stensor::dims::U2>::new();
    /// ```
    pub fn new() -> Self {
        MaxUnpool2d(PhantomData)
    }

    /// Unpools `x` with the indices of the max pooling that produced it.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{MaxPool2d, MaxUnpool2d};
    /// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[1.0, 4.0], [3.0, 2.0]]]]);
    /// let (y, idx) = MaxPool2d::<U2>::new().forward_with_indices(x);
    /// let back = MaxUnpool2d::<U2>::new().forward(y, &idx);
    /// assert_eq!(back.to_vec(), vec![0.0, 4.0, 0.0, 0.0]);
    /// ```
    pub fn forward<X, S2, E, T>(
        &self,
        x: Tensor<X, E, T>,
        indices: &PoolIndices<S2>,
    ) -> Tensor<X::Output, E, T>
    where
        X: Unpool2dShape<K, S, P>,
        S2: Shape + IndicesShape<X>,
        E: Element,
        T: TapeMode<E>,
    {
        x.max_unpool2d::<K, S, P, S2>(indices)
    }
}

macro_rules! adaptive_layers {
    ($shape:ident, $avg:ident, $max:ident, $avg_op:ident, $max_op:ident, [$($O:ident),+], $defaults:tt, $x:literal, $avg_doc:literal, $max_doc:literal) => {
        adaptive_layers!(@struct $avg, $defaults, $avg_doc);
        adaptive_layers!(@struct $max, $defaults, $max_doc);

        impl<X, $($O,)+ E, T> Forward<Tensor<X, E, T>> for $avg<$($O),+>
        where
            X: $shape<$($O),+>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                x.$avg_op::<$($O),+>()
            }
        }

        impl<$($O),+> $max<$($O),+> {
            /// The pooled tensor and the flat index of every maximum within its input plane.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet (y, idx) = stensor::nn::", stringify!($max),
                "::<U1>::new().forward_with_indices(Tensor::<", $x, ">::arange());\n",
                "assert_eq!(y.to_vec().len(), idx.to_vec().len());\n```")]
            #[allow(clippy::type_complexity)]
            pub fn forward_with_indices<X, E, T>(
                &self,
                x: Tensor<X, E, T>,
            ) -> (Tensor<X::Output, E, T>, PoolIndices<X::Output>)
            where
                X: $shape<$($O),+>,
                E: Element,
                T: TapeMode<E>,
            {
                x.$max_op::<$($O),+>()
            }
        }

        impl<X, $($O,)+ E, T> Forward<Tensor<X, E, T>> for $max<$($O),+>
        where
            X: $shape<$($O),+>,
            E: Element,
            T: TapeMode<E>,
        {
            type Output = Tensor<X::Output, E, T>;
            fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
                self.forward_with_indices(x).0
            }
        }
    };
    (@struct $name:ident, [$($P:ident $(= $def:ident)?),+], $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
        #[module(leaf, extra_repr = repr, bounds($($P: HyperRepr),+))]
        pub struct $name<$($P $(= $def)?),+>(PhantomData<($($P,)+)>);

        impl<$($P: HyperRepr),+> $name<$($P),+> {
            /// PyTorch's `extra_repr`: `output_size=3` or `output_size=(3, 2)`.
            fn repr(&self) -> String {
                let sizes = [$($P::repr()),+];
                match sizes.as_slice() {
                    [one] => format!("output_size={one}"),
                    many => format!("output_size=({})", many.join(", ")),
                }
            }
        }

        impl<$($P),+> $name<$($P),+> {
            /// The layer.
            ///
            #[doc = concat!("```\nlet _pool = stensor::nn::", stringify!($name), "::<stensor::dims::U1>::new();\n```")]
            pub fn new() -> Self {
                $name(PhantomData)
            }
        }
    };
}

adaptive_layers!(
    Adaptive1dShape, AdaptiveAvgPool1d, AdaptiveMaxPool1d, adaptive_avg_pool1d, adaptive_max_pool1d_with_indices, [O], [O], "(U1, U1, U4)",
    "1-d adaptive average pooling to length `O` (PyTorch's `nn.AdaptiveAvgPool1d`).\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AdaptiveAvgPool1d, Forward};\nlet y = AdaptiveAvgPool1d::<U2>::new().forward(Tensor::<(U1, U1, U5)>::arange());\nassert_eq!(y.to_vec(), vec![1.0, 3.0]);\n```",
    "1-d adaptive max pooling to length `O` (PyTorch's `nn.AdaptiveMaxPool1d`); indices through `forward_with_indices`.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AdaptiveMaxPool1d, Forward};\nlet y = AdaptiveMaxPool1d::<U2>::new().forward(Tensor::<(U1, U1, U5)>::arange());\nassert_eq!(y.to_vec(), vec![2.0, 4.0]);\n```"
);
adaptive_layers!(
    Adaptive2dShape, AdaptiveAvgPool2d, AdaptiveMaxPool2d, adaptive_avg_pool2d, adaptive_max_pool2d_with_indices, [OH, OW], [OH, OW = OH], "(U1, U1, U4, U4)",
    "2-d adaptive average pooling to `(OH, OW)` (PyTorch's `nn.AdaptiveAvgPool2d`); the output size need not divide the input.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AdaptiveAvgPool2d, Forward};\nlet y: Tensor<(U2, U3, U1, U1)> = AdaptiveAvgPool2d::<U1>::new().forward(Tensor::<(U2, U3, U5, U5)>::ones());\nlet z: Tensor<(U2, U3, U3, U2)> = AdaptiveAvgPool2d::<U3, U2>::new().forward(Tensor::<(U2, U3, U7, U5)>::ones());\nassert_eq!((y.dims(), z.dims()), ([2, 3, 1, 1].into(), [2, 3, 3, 2].into()));\n```",
    "2-d adaptive max pooling to `(OH, OW)` (PyTorch's `nn.AdaptiveMaxPool2d`); indices through `forward_with_indices`.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{AdaptiveMaxPool2d, Forward};\nlet y = AdaptiveMaxPool2d::<U1>::new().forward(Tensor::<(U1, U1, U3, U3)>::arange());\nassert_eq!(y.to_vec(), vec![8.0]);\n```"
);

/// `0.5 * (adaptive_avg_pool2d(x) + adaptive_max_pool2d(x))`: the combined pooling that adds
/// the two (timm's `adaptive_avgmax_pool2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::adaptive_avgmax_pool2d;
/// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[0.0, 1.0], [2.0, 5.0]]]]);
/// let y: Tensor<(U1, U1, U1, U1)> = adaptive_avgmax_pool2d::<U1, U1, _, _, _, _, _, _>(x);
/// assert_eq!(y.to_vec(), vec![0.5 * (2.0 + 5.0)]);
/// ```
#[allow(clippy::type_complexity)]
pub fn adaptive_avgmax_pool2d<OH, OW, Bt, Ch, H, W, E, T>(
    x: Tensor<(Bt, Ch, H, W), E, T>,
) -> Tensor<
    (
        Bt,
        Ch,
        <(H, OH) as AdaptiveOutput>::Output,
        <(W, OW) as AdaptiveOutput>::Output,
    ),
    E,
    T,
>
where
    Bt: Dim,
    Ch: Dim,
    H: ConstDim,
    W: ConstDim,
    (H, OH): AdaptiveOutput,
    (W, OW): AdaptiveOutput,
    E: Element,
    T: TapeMode<E> + MergeTape<E, T, Output = T>,
{
    let avg = AdaptiveAvgPool2d::<OH, OW>::new().forward(x.clone());
    let max = AdaptiveMaxPool2d::<OH, OW>::new().forward(x);
    avg.add(&max).mul_scalar(E::from_f64(0.5))
}

/// `cat([adaptive_avg_pool2d(x), adaptive_max_pool2d(x)], dim=1)`: the combined pooling that
/// concatenates the two along the channels (timm's `adaptive_catavgmax_pool2d`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::adaptive_catavgmax_pool2d;
/// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[0.0, 1.0], [2.0, 5.0]]]]);
/// let y: Tensor<(U1, U2, U1, U1)> = adaptive_catavgmax_pool2d::<U1, U1, _, _, _, _, _, _>(x);
/// assert_eq!(y.to_vec(), vec![2.0, 5.0]);
/// ```
#[allow(clippy::type_complexity)]
pub fn adaptive_catavgmax_pool2d<OH, OW, Bt, Ch, H, W, E, T>(
    x: Tensor<(Bt, Ch, H, W), E, T>,
) -> Tensor<
    <(
        Bt,
        Ch,
        <(H, OH) as AdaptiveOutput>::Output,
        <(W, OW) as AdaptiveOutput>::Output,
    ) as ConcatAlong<
        (
            Bt,
            Ch,
            <(H, OH) as AdaptiveOutput>::Output,
            <(W, OW) as AdaptiveOutput>::Output,
        ),
        1,
    >>::Output,
    E,
    T,
>
where
    Bt: Dim,
    Ch: Dim,
    H: ConstDim,
    W: ConstDim,
    (H, OH): AdaptiveOutput,
    (W, OW): AdaptiveOutput,
    (
        Bt,
        Ch,
        <(H, OH) as AdaptiveOutput>::Output,
        <(W, OW) as AdaptiveOutput>::Output,
    ): ConcatAlong<
        (
            Bt,
            Ch,
            <(H, OH) as AdaptiveOutput>::Output,
            <(W, OW) as AdaptiveOutput>::Output,
        ),
        1,
    >,
    E: Element,
    T: TapeMode<E> + MergeTape<E, T, Output = T>,
{
    let avg = AdaptiveAvgPool2d::<OH, OW>::new().forward(x.clone());
    let max = AdaptiveMaxPool2d::<OH, OW>::new().forward(x);
    avg.concat::<1, _, _>(&max)
}
