//! Normalization laws: GroupNorm(1) == LayerNorm over (C, H, W), GroupNorm(C) == InstanceNorm,
//! batch norm in training standardises each channel, LayerNorm ignores a constant shift and a
//! positive scaling of its input.

use proptest::prelude::*;
use stensor::nn::*;
use stensor::prelude::*;
use stensor::testing::*;

type X = (U3, U4, U2, U3);
const TOL: Tolerance = Tolerance {
    rtol: 1e-12,
    atol: 1e-12,
    equal_nan: false,
};

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn group_norm_of_one_group_is_layer_norm_over_chw(x in any_tensor_f64::<X>().range(-5.0, 5.0)) {
        let gn = GroupNorm::<U1, U4, f64>::new().eps(1e-5).affine(false).forward(x.clone());
        let ln = LayerNorm::<(U4, U2, U3), f64>::new().eps(1e-5).elementwise_affine(false).forward(x);
        close(&gn, &ln, TOL)?;
    }

    #[test]
    fn group_norm_of_c_groups_is_instance_norm(x in any_tensor_f64::<X>().range(-5.0, 5.0)) {
        let gn = GroupNorm::<U4, U4, f64>::new().eps(1e-5).affine(false).forward(x.clone());
        let inn = InstanceNorm2d::<U4, f64>::new().forward(x);
        close(&gn, &inn, TOL)?;
    }

    #[test]
    fn batch_norm_in_training_standardizes_each_channel(x in any_tensor_f64::<X>().range(-10.0, 10.0)) {
        let y = BatchNorm2d::<U4, f64>::new().forward(x);
        let v = y.to_vec();
        for c in 0..4 {
            let vals: Vec<f64> = (0..3).flat_map(|n| v[(n * 4 + c) * 6..(n * 4 + c + 1) * 6].to_vec()).collect();
            let m = vals.iter().sum::<f64>() / 18.0;
            let var = vals.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / 18.0;
            prop_assert!(m.abs() < 1e-10, "channel {c}: mean {m}");
            // unit (biased) variance, up to eps's share: var(x) / (var(x) + eps)
            prop_assert!(var <= 1.0 + 1e-9 && var > 0.9, "channel {c}: variance {var}");
        }
    }

    #[test]
    fn layer_norm_ignores_shift_and_positive_scale(
        x in any_tensor_f64::<(U5, U8)>().range(-3.0, 3.0),
        c in -50.0f64..50.0,
        k in 0.1f64..20.0,
    ) {
        let ln = LayerNorm::<(U8,), f64>::new();
        let y = ln.forward(x.clone());
        close(&ln.forward(x.clone().add_scalar(c)), &y, Tolerance::new(1e-9, 1e-9))?;
        // exactly scale-free only without eps
        let ln0 = LayerNorm::<(U8,), f64>::new().eps(0.0).elementwise_affine(true);
        close(&ln0.forward(x.clone().mul_scalar(k)), &ln0.forward(x), Tolerance::new(1e-10, 1e-10))?;
    }
}
