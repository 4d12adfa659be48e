//! Convolution and transposed convolution with typed shapes, over 1 to 3 spatial dims. Each op
//! reads the hyper-parameters from types (a number, or a tuple per dim; padding also [`Same`] or
//! [`Valid`]; the padding mode a type), checks PyTorch's rules and computes the output shape at
//! compile time ([`ConvAxis`], [`ConvTransposeOutput`]), pads first for a non-zero padding mode,
//! builds the kernels' geometry and records the backward. The convolution layers of
//! [`crate::nn`] and the functional forms call these.
//!
//! [`Same`]: crate::shape::spatial::Same
//! [`Valid`]: crate::shape::spatial::Valid

use super::spatial::{conv_op, conv_transpose_op, pad_mode, pad_op, pads3, spatial3};
use crate::autograd::TapeMode;
use crate::kernels::ConvGeom;
use crate::shape::out::ConvTransposeOutput;
use crate::shape::rules::InChannels;
use crate::shape::spatial::{ConvAxis, Groups, PaddingMode, Spec1, Spec2, Spec3};
use crate::shape::{ConstDim, Dim};
use crate::tensor::{Element, Tensor};

macro_rules! conv_ops {
    ($op:ident, $spec:ident, [$(($In:ident, $A:ident)),+], $doc:literal) => {
        impl<Bt: Dim, C2: Dim, $($In: ConstDim,)+ E: Element, T: TapeMode<E>> Tensor<(Bt, C2, $($In,)+), E, T> {
            #[doc = $doc]
            #[allow(clippy::type_complexity)]
            pub fn $op<CI, CO, K, S, P, D, G, M>(
                self,
                weight: &Tensor<(CO, G::InPerGroup, $(<K as $spec>::$A,)+), E>,
                bias: Option<&Tensor<(CO,), E>>,
            ) -> Tensor<(Bt, CO, $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out,)+), E, T>
            where
                C2: InChannels<CI>,
                CI: ConstDim,
                CO: ConstDim,
                K: $spec<$($A: ConstDim),+>,
                S: $spec<$($A: ConstDim),+>,
                P: $spec,
                D: $spec<$($A: ConstDim),+>,
                G: Groups<CI, CO>,
                M: PaddingMode,
                $(($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M): ConvAxis,)+
            {
                let batch = self.shape().0;
                assert_eq!(self.dims()[1], CI::SIZE, "conv: runtime channel dim");
                let lo = [$(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::LO),+];
                let hi = [$(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::HI),+];
                let out = [$(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out as ConstDim>::SIZE),+];
                let input = [$($In::SIZE),+];
                let mut x5 = self.into_dyn5();
                let mut padded = spatial3(&input);
                if !M::IS_ZEROS {
                    let (l3, h3) = (pads3(&lo), pads3(&hi));
                    let pads = [0, 1, 2].map(|d| (l3[d], h3[d]));
                    x5 = pad_op(x5, pads, pad_mode::<M, E>(E::zero()));
                    padded = [0, 1, 2].map(|d| padded[d] + pads[d].0 + pads[d].1);
                }
                let geom = ConvGeom {
                    batch: batch.size(),
                    cin: CI::SIZE,
                    cout: CO::SIZE,
                    groups: G::SIZE,
                    input: padded,
                    kernel: spatial3(&[$(<K as $spec>::$A::SIZE),+]),
                    stride: spatial3(&[$(<S as $spec>::$A::SIZE),+]),
                    padding: if M::IS_ZEROS { pads3(&lo) } else { [0; 3] },
                    dilation: spatial3(&[$(<D as $spec>::$A::SIZE),+]),
                    output: spatial3(&out),
                };
                let y = conv_op(x5, weight, bias, geom);
                y.into_typed((batch, CO::default(), $(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out>::default(),)+))
            }
        }
    };
}

macro_rules! conv_transpose_ops {
    ($op:ident, $spec:ident, [$(($In:ident, $A:ident)),+], $doc:literal) => {
        impl<Bt: Dim, C2: Dim, $($In: ConstDim,)+ E: Element, T: TapeMode<E>> Tensor<(Bt, C2, $($In,)+), E, T> {
            #[doc = $doc]
            #[allow(clippy::type_complexity)]
            pub fn $op<CI, CO, K, S, P, OP, G, D>(
                self,
                weight: &Tensor<(CI, G::OutPerGroup, $(<K as $spec>::$A,)+), E>,
                bias: Option<&Tensor<(CO,), E>>,
            ) -> Tensor<(Bt, CO, $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output,)+), E, T>
            where
                C2: InChannels<CI>,
                CI: ConstDim,
                CO: ConstDim,
                K: $spec<$($A: ConstDim),+>,
                S: $spec<$($A: ConstDim),+>,
                P: $spec<$($A: ConstDim),+>,
                OP: $spec,
                D: $spec<$($A: ConstDim),+>,
                G: Groups<CI, CO>,
                $(($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A): ConvTransposeOutput,)+
            {
                let batch = self.shape().0;
                assert_eq!(self.dims()[1], CI::SIZE, "conv_transpose: runtime channel dim");
                let out = [$(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output as ConstDim>::SIZE),+];
                // The convolution that maps this layer's output back to its input.
                let geom = ConvGeom {
                    batch: batch.size(),
                    cin: CO::SIZE,
                    cout: CI::SIZE,
                    groups: G::SIZE,
                    input: spatial3(&out),
                    kernel: spatial3(&[$(<K as $spec>::$A::SIZE),+]),
                    stride: spatial3(&[$(<S as $spec>::$A::SIZE),+]),
                    padding: pads3(&[$(<P as $spec>::$A::SIZE),+]),
                    dilation: spatial3(&[$(<D as $spec>::$A::SIZE),+]),
                    output: spatial3(&[$($In::SIZE),+]),
                };
                let y = conv_transpose_op(self.into_dyn5(), weight, bias, geom);
                y.into_typed((batch, CO::default(), $(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output>::default(),)+))
            }
        }
    };
}

conv_ops!(conv1d, Spec1, [(L, A)],
    "1-d convolution of `(N, C_in, L)` by a `(C_out, C_in / groups, K)` weight (`F.conv1d`): the\nhyper-parameters `<in, out, kernel, stride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::Zeros;\nlet w = Tensor::<(U1, U1, U2)>::from_array([[[1.0, -1.0]]]);\nlet y = Tensor::<(U1, U1, U4)>::from_array([[[1.0, 2.0, 4.0, 8.0]]]).conv1d::<U1, U1, U2, U1, U0, U1, U1, Zeros>(&w, None);\nassert_eq!(y.to_vec(), vec![-1.0, -2.0, -4.0]);\n```");
conv_ops!(conv2d, Spec2, [(H, A), (W, B)],
    "2-d convolution of `(N, C_in, H, W)` (`F.conv2d`): the hyper-parameters `<in, out, kernel,\nstride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{Same, Reflect};\nlet w = Tensor::<(U2, U1, U3, U3)>::ones();\nlet y = Tensor::<(U1, U2, U4, U4)>::ones().conv2d::<U2, U2, U3, U1, Same, U1, U2, Reflect>(&w, None);\nassert_eq!(y.to_vec(), vec![9.0; 32]);\n```");
conv_ops!(conv3d, Spec3, [(Dp, A), (H, B), (W, C)],
    "3-d convolution of `(N, C_in, D, H, W)` (`F.conv3d`): the hyper-parameters `<in, out, kernel,\nstride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::Zeros;\nlet w = Tensor::<(U1, U1, U2, U2, U2)>::ones();\nlet y = Tensor::<(U1, U1, U2, U2, U2)>::ones().conv3d::<U1, U1, U2, U1, U0, U1, U1, Zeros>(&w, None);\nassert_eq!(y.to_vec(), vec![8.0]);\n```");
conv_transpose_ops!(conv_transpose1d, Spec1, [(L, A)],
    "1-d transposed convolution of `(N, C_in, L)` by a `(C_in, C_out / groups, K)` weight\n(`F.conv_transpose1d`): the hyper-parameters `<in, out, kernel, stride, padding,\noutput_padding, groups, dilation>` as types.\n\n```\nuse stensor::prelude::*;\nlet w = Tensor::<(U1, U1, U2)>::ones();\nlet y = Tensor::<(U1, U1, U2)>::ones().conv_transpose1d::<U1, U1, U2, U2, U0, U0, U1, U1>(&w, None);\nassert_eq!(y.to_vec(), vec![1.0; 4]);\n```");
conv_transpose_ops!(conv_transpose2d, Spec2, [(H, A), (W, B)],
    "2-d transposed convolution of `(N, C_in, H, W)` (`F.conv_transpose2d`): the\nhyper-parameters `<in, out, kernel, stride, padding, output_padding, groups, dilation>` as types.\n\n```\nuse stensor::prelude::*;\nlet w = Tensor::<(U1, U1, U2, U2)>::ones();\nlet y = Tensor::<(U1, U1, U1, U1)>::ones().conv_transpose2d::<U1, U1, U2, U1, U0, U0, U1, U1>(&w, None);\nassert_eq!(y.to_vec(), vec![1.0; 4]);\n```");
