//! Adjointness: a transposed convolution is the adjoint of the convolution with the same
//! weight and hyper-parameters, `<conv(x), y> == <x, conv_transpose(y)>`; padding's backward is
//! the adjoint of padding, `<pad(x), y> == <x, pad_backward(y)>`, in every mode; pixel shuffle
//! and unshuffle are inverse permutations, so each is the other's adjoint.

use crate::adjoint;
use proptest::prelude::*;
use stensor::nn::functional::{conv1d, conv2d, conv_transpose1d, conv_transpose2d, pad1d, pad2d};
use stensor::nn::{Circular, Constant, Reflect, Replicate};
use stensor::prelude::*;
use stensor::testing::*;

/// The gradient of `<f(x), y>` at `x`: `f*(y)` for a linear `f`, computed by backward.
macro_rules! backward_of {
    ($x:expr, $y:expr, |$v:ident| $f:expr) => {{
        let $v = $x.clone().trace();
        let xt = $v.clone();
        let grads = ($f).mul(&$y).sum().backward();
        grads.get(&xt).expect("x reaches the output")
    }};
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn pixel_shuffle_and_unshuffle_are_inverse_and_adjoint(
        x in any_tensor_f64::<(U2, U12, U2, U3)>(),
        y in any_tensor_f64::<(U2, U3, U4, U6)>(),
        batch in 1usize..4,
    ) {
        let fx = x.clone().pixel_shuffle::<U2>();
        let fty = y.clone().pixel_unshuffle::<U2>();
        adjoint(&fx, &y, &x, &fty)?;
        prop_assert_eq!(fx.pixel_unshuffle::<U2>().to_vec(), x.to_vec());
        prop_assert_eq!(fty.pixel_shuffle::<U2>().to_vec(), y.to_vec());
        // the backward is the inverse permutation too
        let g = backward_of!(x, y, |v| v.pixel_shuffle::<U2>());
        prop_assert_eq!(g.to_vec(), y.clone().pixel_unshuffle::<U2>().to_vec());
        // a runtime batch: each image shuffled as it is alone
        let xs = x.to_vec();
        let per = xs.len() / 2;
        let xb = Tensor::<(usize, U12, U2, U3), f64>::from_vec_shaped(
            (batch, U12::new(), U2::new(), U3::new()),
            xs[..per].repeat(batch),
        ).unwrap();
        let yb = xb.pixel_shuffle::<U2>();
        prop_assert_eq!(yb.dims().to_vec(), vec![batch, 3, 4, 6]);
        let first = fx_first(&x);
        for img in yb.to_vec().chunks(per) {
            prop_assert_eq!(img, &first[..]);
        }
    }

    #[test]
    fn conv2d_and_conv_transpose2d_are_adjoint(
        x in any_tensor_f64::<(U2, U3, U8, U8)>(),
        y in any_tensor_f64::<(U2, U5, U4, U4)>(),
        w in any_tensor_f64::<(U5, U3, U3, U3)>(),
    ) {
        // Conv2d(3, 5, 3, stride 2, padding 1): 8 -> 4; ConvTranspose2d(5, 3, 3, stride 2,
        // padding 1, output_padding 1): 4 -> 8
        let fx = conv2d(x.clone(), &w, None, U2::new(), U1::new(), U1::new(), U1::new());
        let fty = conv_transpose2d(y.clone(), &w, None, U2::new(), U1::new(), U1::new(), U1::new(), U1::new());
        adjoint(&fx, &y, &x, &fty)?;
    }

    #[test]
    fn grouped_dilated_conv2d_and_its_transpose_are_adjoint(
        x in any_tensor_f64::<(U1, U6, U7, U7)>(),
        y in any_tensor_f64::<(U1, U3, U7, U7)>(),
        w in any_tensor_f64::<(U3, U2, U3, U3)>(),
    ) {
        // groups 3, dilation 2, padding 2: 7 -> 7 both ways
        let fx = conv2d(x.clone(), &w, None, U1::new(), U2::new(), U2::new(), U3::new());
        let fty = conv_transpose2d(y.clone(), &w, None, U1::new(), U2::new(), U0::new(), U3::new(), U2::new());
        adjoint(&fx, &y, &x, &fty)?;
    }

    #[test]
    fn conv1d_and_conv_transpose1d_are_adjoint(
        x in any_tensor_f64::<(U2, U2, U11)>(),
        y in any_tensor_f64::<(U2, U4, U4)>(),
        w in any_tensor_f64::<(U4, U2, U4)>(),
    ) {
        // kernel 4, stride 3, padding 1: 11 -> 4 -> 11
        let fx = conv1d(x.clone(), &w, None, U3::new(), U1::new(), U1::new(), U1::new());
        let fty = conv_transpose1d(y.clone(), &w, None, U3::new(), U1::new(), U0::new(), U1::new(), U1::new());
        adjoint(&fx, &y, &x, &fty)?;
    }

    #[test]
    fn padding_and_its_backward_are_adjoint(
        x in any_tensor_f64::<(U2, U2, U4, U5)>(),
        y in any_tensor_f64::<(U2, U2, U6, U8)>(),
        x1 in any_tensor_f64::<(U2, U3, U4)>(),
        y1 in any_tensor_f64::<(U2, U3, U9)>(),
    ) {
        // (left, right, top, bottom) = (1, 2, 2, 0); every mode, zero constant (linear)
        let pads = (U1::new(), U2::new(), U2::new(), U0::new());
        let (pc, pr) = (pad2d(x.clone(), Constant, pads, 0.0), pad2d(x.clone(), Reflect, pads, 0.0));
        adjoint(&pc, &y, &x, &backward_of!(x, y, |v| pad2d(v, Constant, pads, 0.0)))?;
        adjoint(&pr, &y, &x, &backward_of!(x, y, |v| pad2d(v, Reflect, pads, 0.0)))?;
        let (pp, pcirc) = (pad2d(x.clone(), Replicate, pads, 0.0), pad2d(x.clone(), Circular, pads, 0.0));
        adjoint(&pp, &y, &x, &backward_of!(x, y, |v| pad2d(v, Replicate, pads, 0.0)))?;
        adjoint(&pcirc, &y, &x, &backward_of!(x, y, |v| pad2d(v, Circular, pads, 0.0)))?;
        // 1-d, reflect and circular with padding 3 | 2 on a length 4
        let p1 = (U3::new(), U2::new());
        let back = backward_of!(x1, y1, |v| pad1d(v, Reflect, p1, 0.0));
        let px = pad1d(x1.clone(), Reflect, p1, 0.0);
        adjoint(&px, &y1, &x1, &back)?;
        let back = backward_of!(x1, y1, |v| pad1d(v, Circular, p1, 0.0));
        let px = pad1d(x1.clone(), Circular, p1, 0.0);
        adjoint(&px, &y1, &x1, &back)?;
    }
}

/// The pixel shuffle of the first image of `x`.
fn fx_first(x: &Tensor<(U2, U12, U2, U3), f64>) -> Vec<f64> {
    let v = x.clone().pixel_shuffle::<U2>().to_vec();
    v[..v.len() / 2].to_vec()
}
