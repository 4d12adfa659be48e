//! Identities between activations: LeakyReLU(0) == ReLU, CELU(1) == ELU(1), ReLU6 ==
//! Hardtanh(0, 6), softplus(x) - softplus(-x) == x, sigmoid(x) + sigmoid(-x) == 1,
//! SiLU(x) == x sigmoid(x), GELU(tanh) close to GELU; softmax sums to one and log_softmax is
//! its log.

use proptest::prelude::*;
use stensor::nn::*;
use stensor::prelude::*;
use stensor::testing::*;

type X = (U3, U4, U2, U3);

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn activation_identities(x in any_tensor_f64::<X>().range(-10.0, 10.0).with_zeros()) {
        close(&LeakyReLU { negative_slope: 0.0 }.forward(x.clone()), &ReLU.forward(x.clone()), Tolerance::EXACT)?;
        close(&CELU { alpha: 1.0 }.forward(x.clone()), &ELU { alpha: 1.0 }.forward(x.clone()), Tolerance::new(1e-15, 1e-15))?;
        close(&ReLU6.forward(x.clone()), &Hardtanh { min_val: 0.0, max_val: 6.0 }.forward(x.clone()), Tolerance::EXACT)?;
        let sp = Softplus::default();
        close(&sp.forward(x.clone()).sub(&sp.forward(x.clone().neg())), &x, Tolerance::new(1e-12, 1e-12))?;
        close(&x.clone().sigmoid().add(&x.clone().neg().sigmoid()), &Tensor::ones(), Tolerance::new(0.0, 1e-15))?;
        close(&SiLU.forward(x.clone()), &x.clone().mul(&x.clone().sigmoid()), Tolerance::new(1e-12, 1e-12))?;
        close(&GELU { approximate: true }.forward(x.clone()), &GELU::default().forward(x), Tolerance::new(0.0, 1e-3))?;
    }

    #[test]
    fn activation_identities_in_f32_with_special_values(x in any_tensor::<X>().range(-100.0, 100.0).with_zeros().with_large().with_nonfinite()) {
        // NaN propagates through both sides (as in PyTorch, where relu(NaN) is NaN)
        let nan_ok = Tolerance { equal_nan: true, ..Tolerance::F32 };
        close(&ReLU6.forward(x.clone()), &Hardtanh { min_val: 0.0, max_val: 6.0 }.forward(x.clone()), nan_ok)?;
        // LeakyReLU(0) == ReLU except at -inf, where PyTorch's leaky_relu gives 0 * -inf = NaN
        let finite_below: Vec<f32> = x.to_vec().into_iter().map(|v| if v == f32::NEG_INFINITY { -1e30 } else { v }).collect();
        let xb = Tensor::<X>::from_vec(finite_below).unwrap();
        close(&LeakyReLU { negative_slope: 0.0 }.forward(xb.clone()), &ReLU.forward(xb), nan_ok)?;
        let r = ReLU.forward(x.clone());
        prop_assert!(r.as_slice().iter().zip(x.as_slice()).all(|(r, x)| (x.is_nan() && r.is_nan()) || *r == x.max(0.0)));
        // sigmoid saturates instead of overflowing: never NaN for a non-NaN input
        let s = x.clone().sigmoid();
        prop_assert!(s.as_slice().iter().zip(x.as_slice()).all(|(s, x)| x.is_nan() || (0.0..=1.0).contains(s)));
    }

    #[test]
    fn softmax_sums_to_one_and_log_softmax_is_its_log(x in any_tensor_f64::<X>().range(-50.0, 50.0)) {
        let s = x.clone().softmax::<1>().sum_axis::<1>();
        close(&s, &Tensor::ones(), Tolerance::new(0.0, 1e-12))?;
        close(&x.clone().log_softmax::<3>(), &x.softmax::<3>().ln(), Tolerance::new(1e-9, 1e-9))?;
    }
}
