//! `f(a x + b y) == a f(x) + b f(y)` for convolutions and `Linear` without bias, in the input
//! and in the weight.

use proptest::prelude::*;
use stensor::nn::functional::{conv1d, conv2d, linear};
use stensor::prelude::*;
use stensor::testing::*;

const TOL: Tolerance = Tolerance::ROUNDING;

/// `a x + b y`.
fn combo<S: Shape>(a: f64, x: &Tensor<S, f64>, b: f64, y: &Tensor<S, f64>) -> Tensor<S, f64> {
    x.clone().mul_scalar(a).add(&y.clone().mul_scalar(b))
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn conv2d_is_linear_in_input_and_weight(
        x in any_tensor_f64::<(U2, U4, U9, U8)>(),
        y in any_tensor_f64::<(U2, U4, U9, U8)>(),
        w in any_tensor_f64::<(U6, U2, U3, U2)>(),
        v in any_tensor_f64::<(U6, U2, U3, U2)>(),
        a in -3.0f64..3.0,
        b in -3.0f64..3.0,
    ) {
        // stride 2, padding 1, dilation 2, groups 2
        let f = |x: Tensor<(U2, U4, U9, U8), f64>, w: &Tensor<(U6, U2, U3, U2), f64>| {
            conv2d(x, w, None, U2::new(), U1::new(), U2::new(), U2::new())
        };
        close(&f(combo(a, &x, b, &y), &w), &combo(a, &f(x.clone(), &w), b, &f(y, &w)), TOL)?;
        close(&f(x.clone(), &combo(a, &w, b, &v)), &combo(a, &f(x.clone(), &w), b, &f(x, &v)), TOL)?;
    }

    #[test]
    fn conv1d_is_linear_in_input_and_weight(
        x in any_tensor_f64::<(U3, U2, U13)>(),
        y in any_tensor_f64::<(U3, U2, U13)>(),
        w in any_tensor_f64::<(U5, U2, U4)>(),
        v in any_tensor_f64::<(U5, U2, U4)>(),
        a in -3.0f64..3.0,
        b in -3.0f64..3.0,
    ) {
        let f = |x: Tensor<(U3, U2, U13), f64>, w: &Tensor<(U5, U2, U4), f64>| {
            conv1d(x, w, None, U3::new(), U2::new(), U1::new(), U1::new())
        };
        close(&f(combo(a, &x, b, &y), &w), &combo(a, &f(x.clone(), &w), b, &f(y, &w)), TOL)?;
        close(&f(x.clone(), &combo(a, &w, b, &v)), &combo(a, &f(x.clone(), &w), b, &f(x, &v)), TOL)?;
    }

    #[test]
    fn linear_is_linear_in_input_and_weight(
        x in any_tensor_f64::<(U5, U7)>(),
        y in any_tensor_f64::<(U5, U7)>(),
        w in any_tensor_f64::<(U3, U7)>(),
        v in any_tensor_f64::<(U3, U7)>(),
        a in -3.0f64..3.0,
        b in -3.0f64..3.0,
    ) {
        let f = |x: Tensor<(U5, U7), f64>, w: &Tensor<(U3, U7), f64>| linear(x, w, None);
        close(&f(combo(a, &x, b, &y), &w), &combo(a, &f(x.clone(), &w), b, &f(y, &w)), TOL)?;
        close(&f(x.clone(), &combo(a, &w, b, &v)), &combo(a, &f(x.clone(), &w), b, &f(x, &v)), TOL)?;
    }
}
