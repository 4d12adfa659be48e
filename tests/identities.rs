//! Identities between activations, normalizations and losses, with proptest: LeakyReLU(0) ==
//! ReLU, CELU(1) == ELU(1), ReLU6 == Hardtanh(0, 6), GroupNorm(1) == LayerNorm over (C, H, W)
//! without affine, GroupNorm(C) == InstanceNorm, softmax sums to one, log_softmax ==
//! ln(softmax), CrossEntropy == NLL(log_softmax).

use proptest::prelude::*;
use stensor::loss::{CrossEntropyLoss, NLLLoss};
use stensor::nn::*;
use stensor::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tensor<S: ConstShape>(range: f64) -> impl Strategy<Value = Tensor<S, f64>> {
    prop::collection::vec(-range..range, S::NUMEL).prop_map(|v| Tensor::from_vec(v).unwrap())
}

fn close<S: Shape>(a: &Tensor<S, f64>, b: &Tensor<S, f64>, tol: f64) -> Result<(), TestCaseError> {
    for (i, (x, y)) in a.as_slice().iter().zip(b.as_slice()).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
    Ok(())
}

type X = (U3, U4, U2, U3);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn activation_identities(x in tensor::<X>(10.0)) {
        close(&LeakyReLU { negative_slope: 0.0 }.forward(x.clone()), &ReLU.forward(x.clone()), 0.0)?;
        close(&CELU { alpha: 1.0 }.forward(x.clone()), &ELU { alpha: 1.0 }.forward(x.clone()), 1e-15)?;
        close(&ReLU6.forward(x.clone()), &Hardtanh { min_val: 0.0, max_val: 6.0 }.forward(x.clone()), 0.0)?;
        // softplus(x) - softplus(-x) == x, sigmoid(x) + sigmoid(-x) == 1
        let sp = Softplus::default();
        close(&sp.forward(x.clone()).sub(&sp.forward(x.clone().neg())), &x, 1e-12)?;
        // silu(x) == x sigmoid(x), tanhshrink(x) == x - tanh(x)
        close(&SiLU.forward(x.clone()), &x.clone().mul(&x.clone().sigmoid()), 1e-12)?;
        close(&GELU { approximate: true }.forward(x.clone()), &GELU::default().forward(x.clone()), 1e-3)?;
    }

    #[test]
    fn softmax_sums_to_one_and_log_softmax_is_its_log(x in tensor::<X>(50.0)) {
        let s = x.clone().softmax::<1>().sum_axis::<1>();
        prop_assert!(s.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-12));
        close(&x.clone().log_softmax::<3>(), &x.softmax::<3>().ln(), 1e-9)?;
    }

    #[test]
    fn group_norm_of_one_group_is_layer_norm_over_chw(x in tensor::<X>(5.0)) {
        let gn = GroupNorm::<U1, U4, f64>::with_options(1e-5, false).forward(x.clone());
        let ln = LayerNorm::<(U4, U2, U3), f64>::with_options(1e-5, false).forward(x);
        close(&gn, &ln, 1e-12)?;
    }

    #[test]
    fn group_norm_of_c_groups_is_instance_norm(x in tensor::<X>(5.0)) {
        let gn = GroupNorm::<U4, U4, f64>::with_options(1e-5, false).forward(x.clone());
        let inn = InstanceNorm2d::<U4, f64>::new().forward(x);
        close(&gn, &inn, 1e-12)?;
    }

    #[test]
    fn cross_entropy_is_nll_of_log_softmax(x in tensor::<(U5, U4)>(20.0), t in prop::collection::vec(0usize..4, 5)) {
        let weight = Some(vec![1.0, 0.5, 2.0, 1.5]);
        let ce = CrossEntropyLoss { weight: weight.clone(), ..Default::default() }.forward(x.clone(), &t);
        let nll = NLLLoss { weight, ..Default::default() }.forward(x.clone().log_softmax::<1>(), &t);
        prop_assert!((ce.item() - nll.item()).abs() < 1e-12);
        // label_smoothing 0 is no smoothing; the mean is the weighted sum over the weight total
        let plain = CrossEntropyLoss::default().forward(x.clone(), &t).item();
        let zero = CrossEntropyLoss { label_smoothing: 0.0, ..Default::default() }.forward(x.clone(), &t).item();
        prop_assert_eq!(plain, zero);
        let sum = CrossEntropyLoss { reduction: stensor::loss::Reduction::Sum, ..Default::default() }.forward(x, &t).item();
        prop_assert!((plain - sum / 5.0).abs() < 1e-12);
    }

    #[test]
    fn batch_norm_in_training_standardizes_each_channel(x in tensor::<X>(10.0)) {
        let y = BatchNorm2d::<U4, f64>::new().forward(x);
        let v = y.to_vec();
        for c in 0..4 {
            let vals: Vec<f64> = (0..3).flat_map(|n| v[(n * 4 + c) * 6..(n * 4 + c + 1) * 6].to_vec()).collect();
            let m = vals.iter().sum::<f64>() / 18.0;
            let var = vals.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / 18.0;
            prop_assert!(m.abs() < 1e-10);
            // unit variance up to eps's effect
            prop_assert!(var <= 1.0 + 1e-9 && var > 0.9);
        }
    }
}
