//! Convolution and transposed convolution with typed shapes, over 1 to 3 spatial dims. Each op
//! reads the hyper-parameters from types (a number, or a tuple per dim; padding also [`Same`] or
//! [`Valid`]; the padding mode a type), checks PyTorch's rules and computes the output shape at
//! compile time ([`Conv2dShape`], [`ConvTranspose2dShape`] and their siblings), pads first for a non-zero padding mode,
//! builds the kernels' geometry and records the backward. The convolution layers of
//! [`crate::nn`] and the functional forms call these.
//!
//! [`Same`]: crate::shape::spatial::Same
//! [`Valid`]: crate::shape::spatial::Valid

use super::spatial::{conv_op, conv_transpose_op, pad_mode, pad_op, Dyn5};
use crate::autograd::TapeMode;
use crate::kernels::ConvGeom;
use crate::shape::spatial::{
    Conv1dShape, Conv2dShape, Conv3dShape, ConvTranspose1dShape, ConvTranspose2dShape, Groups,
    PaddingMode, Spec1, Spec2, Spec3, Window3,
};
use crate::shape::{ConstDim, Shape};
use crate::tensor::{Element, Tensor};

macro_rules! conv_ops {
    ($op:ident, $shape:ident, $spec:ident, [$($A:ident),+], $doc:literal) => {
        impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
            #[doc = $doc]
            #[allow(clippy::type_complexity)]
            pub fn $op<CI, CO, K, S, P, D, G, M>(
                self,
                weight: &Tensor<(CO, G::InPerGroup, $(<K as $spec>::$A,)+), E>,
                bias: Option<&Tensor<(CO,), E>>,
            ) -> Tensor<X::Output, E, T>
            where
                X: $shape<CI, CO, K, S, P, D, G, M>,
                CO: ConstDim,
                K: $spec<$($A: ConstDim),+>,
                G: Groups<CI, CO>,
                M: PaddingMode,
            {
                let shape = self.shape().convolved();
                conv_padded::<M, E, T, _, _>(self.into_dyn5(), weight, bias, X::window(), X::padding_behind(), G::SIZE)
                    .into_typed(shape)
            }
        }
    };
}

/// A convolution over `w` of `(N, C_in, ..)` in padding mode `M`: a non-zero mode pads first
/// and convolves unpadded; zeros leave the padding to the kernels.
fn conv_padded<M: PaddingMode, E: Element, T: TapeMode<E>, SW: Shape, SB: Shape>(
    x: Tensor<Dyn5, E, T>,
    weight: &Tensor<SW, E>,
    bias: Option<&Tensor<SB, E>>,
    w: Window3,
    hi: [usize; 3],
    groups: usize,
) -> Tensor<Dyn5, E, T> {
    let dims = x.dims();
    let (mut x, mut w) = (x, w);
    if !M::IS_ZEROS {
        let pads = [0, 1, 2].map(|d| (w.padding[d], hi[d]));
        x = pad_op(x, pads, pad_mode::<M, E>(E::zero()));
        w.input = [0, 1, 2].map(|d| w.input[d] + pads[d].0 + pads[d].1);
        w.padding = [0; 3];
    }
    let geom = ConvGeom::new(dims[0], dims[1], weight.dims()[0], groups, w);
    conv_op(x, weight, bias, geom)
}

macro_rules! conv_transpose_ops {
    ($op:ident, $shape:ident, $spec:ident, [$($A:ident),+], $doc:literal) => {
        impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
            #[doc = $doc]
            #[allow(clippy::type_complexity)]
            pub fn $op<CI, CO, K, S, P, OP, G, D>(
                self,
                weight: &Tensor<(CI, G::OutPerGroup, $(<K as $spec>::$A,)+), E>,
                bias: Option<&Tensor<(CO,), E>>,
            ) -> Tensor<X::Output, E, T>
            where
                X: $shape<CI, CO, K, S, P, OP, G, D>,
                CI: ConstDim,
                CO: ConstDim,
                K: $spec<$($A: ConstDim),+>,
                G: Groups<CI, CO>,
            {
                let shape = self.shape().transposed();
                // The convolution that maps this op's output back to its input.
                let geom = ConvGeom::new(self.dims()[0], CO::SIZE, CI::SIZE, G::SIZE, X::window());
                conv_transpose_op(self.into_dyn5(), weight, bias, geom).into_typed(shape)
            }
        }
    };
}

conv_ops!(conv1d, Conv1dShape, Spec1, [A],
    "1-d convolution of `(N, C_in, L)` by a `(C_out, C_in / groups, K)` weight (`F.conv1d`): the\nhyper-parameters `<in, out, kernel, stride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::Zeros;\nlet w = Tensor::<(U1, U1, U2)>::from_array([[[1.0, -1.0]]]);\nlet y = Tensor::<(U1, U1, U4)>::from_array([[[1.0, 2.0, 4.0, 8.0]]]).conv1d::<U1, U1, U2, U1, U0, U1, U1, Zeros>(&w, None);\nassert_eq!(y.to_vec(), vec![-1.0, -2.0, -4.0]);\n```");
conv_ops!(conv2d, Conv2dShape, Spec2, [A, B],
    "2-d convolution of `(N, C_in, H, W)` (`F.conv2d`): the hyper-parameters `<in, out, kernel,\nstride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::{Same, Reflect};\nlet w = Tensor::<(U2, U1, U3, U3)>::ones();\nlet y = Tensor::<(U1, U2, U4, U4)>::ones().conv2d::<U2, U2, U3, U1, Same, U1, U2, Reflect>(&w, None);\nassert_eq!(y.to_vec(), vec![9.0; 32]);\n```");
conv_ops!(conv3d, Conv3dShape, Spec3, [A, B, C],
    "3-d convolution of `(N, C_in, D, H, W)` (`F.conv3d`): the hyper-parameters `<in, out, kernel,\nstride, padding, dilation, groups, padding_mode>` as types.\n\n```\nuse stensor::prelude::*;\nuse stensor::nn::Zeros;\nlet w = Tensor::<(U1, U1, U2, U2, U2)>::ones();\nlet y = Tensor::<(U1, U1, U2, U2, U2)>::ones().conv3d::<U1, U1, U2, U1, U0, U1, U1, Zeros>(&w, None);\nassert_eq!(y.to_vec(), vec![8.0]);\n```");
conv_transpose_ops!(conv_transpose1d, ConvTranspose1dShape, Spec1, [A],
    "1-d transposed convolution of `(N, C_in, L)` by a `(C_in, C_out / groups, K)` weight\n(`F.conv_transpose1d`): the hyper-parameters `<in, out, kernel, stride, padding,\noutput_padding, groups, dilation>` as types.\n\n```\nuse stensor::prelude::*;\nlet w = Tensor::<(U1, U1, U2)>::ones();\nlet y = Tensor::<(U1, U1, U2)>::ones().conv_transpose1d::<U1, U1, U2, U2, U0, U0, U1, U1>(&w, None);\nassert_eq!(y.to_vec(), vec![1.0; 4]);\n```");
conv_transpose_ops!(conv_transpose2d, ConvTranspose2dShape, Spec2, [A, B],
    "2-d transposed convolution of `(N, C_in, H, W)` (`F.conv_transpose2d`): the\nhyper-parameters `<in, out, kernel, stride, padding, output_padding, groups, dilation>` as types.\n\n```\nuse stensor::prelude::*;\nlet w = Tensor::<(U1, U1, U2, U2)>::ones();\nlet y = Tensor::<(U1, U1, U1, U1)>::ones().conv_transpose2d::<U1, U1, U2, U1, U0, U0, U1, U1>(&w, None);\nassert_eq!(y.to_vec(), vec![1.0; 4]);\n```");
