//! Pooling laws: max pooling commutes with adding a constant and is monotone; the average of a
//! constant is the constant when padding is not counted; `MaxUnpool(MaxPool(x))` keeps exactly
//! the maxima at their indices; adaptive pooling to the input size is the identity.

use proptest::prelude::*;
use stensor::nn::*;
use stensor::prelude::*;
use stensor::testing::*;

type X = (U2, U3, U7, U7);

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn max_pool_commutes_with_a_constant_shift(x in any_tensor_f64::<X>().range(-4.0, 4.0).with_zeros(), c in -10.0f64..10.0) {
        // kernel 3, stride 2, padding 1, dilation 1, ceil mode: windows over the padding too
        let pool = MaxPool2d::<U3, U2, U1, U1, True>::new();
        let shifted = pool.forward(x.clone().add_scalar(c));
        close(&shifted, &pool.forward(x).add_scalar(c), Tolerance::new(0.0, 1e-12))?;
    }

    #[test]
    fn max_pool_is_monotone(x in any_tensor_f64::<X>(), d in any_tensor_f64::<X>().with_zeros()) {
        let pool = MaxPool2d::<U2, U2, U1, U2>::new();
        let low = pool.forward(x.clone());
        let high = pool.forward(x.add(&d.abs()));
        prop_assert!(low.as_slice().iter().zip(high.as_slice()).all(|(l, h)| l <= h));
    }

    #[test]
    fn average_of_a_constant_is_the_constant_without_counting_padding(c in -100.0f64..100.0) {
        let x = Tensor::<X, f64>::full(c);
        let tol = Tolerance::new(1e-15, 1e-13);
        let y = AvgPool2d::<U3, U2, U1>::new().count_include_pad(false).forward(x.clone());
        close(&y, &Tensor::full(c), tol)?;
        // ceil mode: the last window hangs over the edge and is still an average of c
        let y = AvgPool2d::<U3, U3, U1, True>::new().count_include_pad(false).forward(x);
        prop_assert_eq!(y.dims(), [2, 3, 3, 3]);
        close(&y, &Tensor::full(c), tol)?;
    }

    #[test]
    fn max_unpool_keeps_exactly_the_maxima(x in any_tensor_f64::<(U2, U3, U6, U8)>().range(0.5, 9.0)) {
        let (pooled, indices) = MaxPool2d::<U2>::new().forward_with_indices(x.clone());
        let up = MaxUnpool2d::<U2>::new().forward(pooled.clone(), &indices);
        prop_assert_eq!(up.dims(), x.dims());
        let (u, xs, p, idx) = (up.as_slice(), x.as_slice(), pooled.as_slice(), indices.as_slice());
        let (plane_in, plane_out) = (48, 12);
        for (k, (&v, &i)) in p.iter().zip(idx).enumerate() {
            let base = (k / plane_out) * plane_in;
            prop_assert_eq!(u[base + i], v);
            prop_assert_eq!(xs[base + i], v);
        }
        // everything else is zero (the inputs are positive, so every kept value is not)
        prop_assert_eq!(u.iter().filter(|v| **v != 0.0).count(), p.len());
        prop_assert!(u.iter().zip(xs).all(|(a, b)| *a == 0.0 || a == b));
    }

    #[test]
    fn adaptive_pooling_to_the_input_size_is_the_identity(x in any_tensor_f64::<(U2, U3, U5, U7)>().with_zeros()) {
        close(&AdaptiveAvgPool2d::<U5, U7>::new().forward(x.clone()), &x, Tolerance::EXACT)?;
        close(&AdaptiveMaxPool2d::<U5, U7>::new().forward(x.clone()), &x, Tolerance::EXACT)?;
        let x1 = x.reshape::<(U6, U5, U7)>();
        close(&AdaptiveAvgPool1d::<U7>::new().forward(x1.clone()), &x1, Tolerance::EXACT)?;
    }
}
