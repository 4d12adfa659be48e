//! Algebraic identities of the ops, with proptest over random values (f64 unless noted).

use proptest::prelude::*;
use stensor::prelude::*;

fn tensor<S: ConstShape>(range: f64) -> impl Strategy<Value = Tensor<S, f64>> {
    prop::collection::vec(-range..range, S::NUMEL)
        .prop_map(|v| Tensor::<S, f64>::from_vec(v).expect("strategy makes NUMEL values"))
}

fn close<S: Shape, T: TapeMode<f64>, T2: TapeMode<f64>>(
    a: &Tensor<S, f64, T>,
    b: &Tensor<S, f64, T2>,
    tol: f64,
) -> Result<(), TestCaseError> {
    for (i, (x, y)) in a.as_slice().iter().zip(b.as_slice()).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())),
            "element {i}: {x} vs {y}"
        );
    }
    Ok(())
}

type S = (U3, U4, U5);

/// Case count: `PROPTEST_CASES` if set (for long runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn multiplication_distributes_over_addition(a in tensor::<S>(10.0), b in tensor::<S>(10.0), c in tensor::<S>(10.0)) {
        let left = (a.clone() + &b) * &c;
        let right = a * &c + &(b * &c);
        close(&left, &right, 1e-12)?;
    }

    #[test]
    fn addition_commutes_and_subtraction_undoes_it(a in tensor::<S>(10.0), b in tensor::<S>(10.0)) {
        close(&(a.clone() + &b), &(b.clone() + &a), 0.0)?;
        close(&(a.clone() + &b - &b), &a, 1e-12)?;
    }

    #[test]
    fn softmax_sums_to_one_even_for_huge_logits(x in tensor::<S>(1000.0)) {
        let s = x.clone().softmax::<0>().sum_axis::<0>();
        prop_assert!(s.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = x.clone().softmax::<1>().sum_axis::<1>();
        prop_assert!(s.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = x.clone().softmax::<2>().sum_axis::<2>();
        prop_assert!(s.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-12));
        prop_assert!(x.log_softmax::<2>().as_slice().iter().all(|v| v.is_finite() && *v <= 0.0));
    }

    #[test]
    fn softmax_sums_to_one_in_f32(v in prop::collection::vec(-1000.0f32..1000.0, 60)) {
        let x = Tensor::<(U6, U10), f32>::from_vec(v).unwrap();
        let s = x.softmax::<1>().sum_axis::<1>();
        prop_assert!(s.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-5));
    }

    #[test]
    fn log_softmax_is_the_log_of_softmax(x in tensor::<S>(20.0)) {
        close(&x.clone().log_softmax::<1>(), &x.softmax::<1>().ln(), 1e-10)?;
    }

    #[test]
    fn softmax_ignores_a_constant_shift(x in tensor::<S>(20.0), c in -500.0f64..500.0) {
        close(&x.clone().softmax::<2>(), &x.add_scalar(c).softmax::<2>(), 1e-10)?;
    }

    #[test]
    fn matmul_is_associative_and_transposes(a in tensor::<(U3, U4)>(5.0), b in tensor::<(U4, U5)>(5.0), c in tensor::<(U5, U2)>(5.0)) {
        close(&a.clone().matmul(&b).matmul(&c), &a.clone().matmul(&b.clone().matmul(&c)), 1e-11)?;
        // (A B)^T = B^T A^T
        let left = a.clone().matmul(&b).transpose::<0, 1>();
        let right = b.transpose::<0, 1>().matmul(&a.transpose::<0, 1>());
        close(&left, &right, 1e-12)?;
    }

    #[test]
    fn batched_matmul_is_per_matrix(a in tensor::<(U2, U3, U4)>(5.0), b in tensor::<(U2, U4, U5)>(5.0)) {
        let c = a.clone().matmul(&b);
        for i in 0..2 {
            let ai = Tensor::<(U3, U4), f64>::from_slice(&a.as_slice()[i * 12..(i + 1) * 12]).unwrap();
            let bi = Tensor::<(U4, U5), f64>::from_slice(&b.as_slice()[i * 20..(i + 1) * 20]).unwrap();
            let ci = Tensor::<(U3, U5), f64>::from_slice(&c.as_slice()[i * 15..(i + 1) * 15]).unwrap();
            close(&ai.matmul(&bi), &ci, 1e-12)?;
        }
    }

    #[test]
    fn rearrangements_round_trip(x in tensor::<S>(10.0)) {
        close(&x.clone().transpose::<0, 2>().transpose::<0, 2>(), &x, 0.0)?;
        let p = x.clone().permute::<Axes3<2, 0, 1>>().permute::<Axes3<1, 2, 0>>();
        close(&p, &x, 0.0)?;
        close(&x.clone().reshape::<(U60,)>().reshape::<S>(), &x, 0.0)?;
        close(&x.clone().flatten::<0, 1>().reshape::<S>(), &x, 0.0)?;
        // a transpose is the permutation that swaps two axes
        close(&x.clone().transpose::<1, 2>(), &x.permute::<Axes3<0, 2, 1>>(), 0.0)?;
    }

    #[test]
    fn reductions_agree(x in tensor::<S>(10.0)) {
        let total = x.clone().sum().item();
        prop_assert!((x.clone().sum_axis::<1>().sum().item() - total).abs() < 1e-10);
        prop_assert!((x.clone().mean().item() * 60.0 - total).abs() < 1e-10);
        prop_assert!((x.clone().sum_axis::<0>().sum_axis::<0>().sum_axis::<0>().item() - total).abs() < 1e-10);
        // biased variance = mean of squares - square of mean
        let v = x.clone().var_axis_correction::<2>(0);
        let ms = x.clone().square().mean_axis::<2>();
        let m2 = x.clone().mean_axis::<2>().square();
        close(&v, &(ms - &m2), 1e-9)?;
        prop_assert!(x.clone().max().item() >= x.clone().max_axis::<1>().max().item() - 0.0);
        prop_assert_eq!(x.clone().max().item(), x.clone().max_axis::<0>().max_axis::<0>().max_axis::<0>().item());
        prop_assert_eq!(x.clone().min().item(), -(x.neg().max().item()));
    }

    #[test]
    fn concat_splits_back(a in tensor::<(U2, U3)>(10.0), b in tensor::<(U2, U4)>(10.0)) {
        let c = a.clone().concat::<1, _, _>(&b);
        prop_assert!((c.clone().sum().item() - a.clone().sum().item() - b.clone().sum().item()).abs() < 1e-10);
        for i in 0..2 {
            for j in 0..3 { prop_assert_eq!(c[[i, j]], a[[i, j]]); }
            for j in 0..4 { prop_assert_eq!(c[[i, 3 + j]], b[[i, j]]); }
        }
    }

    #[test]
    fn broadcasting_equals_explicit_repetition(x in tensor::<S>(10.0), b in tensor::<(U4, U5)>(10.0)) {
        let explicit = x.clone().add(&b.clone().broadcast::<S>());
        close(&x.clone().broadcast_add(&b), &explicit, 0.0)?;
        let explicit = x.clone().mul(&b.clone().broadcast::<S>());
        close(&x.broadcast_mul(&b), &explicit, 0.0)?;
    }

    #[test]
    fn elementwise_identities(x in tensor::<S>(30.0)) {
        let ones = x.clone().sigmoid() + &x.clone().neg().sigmoid();
        prop_assert!(ones.as_slice().iter().all(|v| (v - 1.0).abs() < 1e-12));
        close(&x.clone().exp().ln(), &x, 1e-12)?;
        close(&x.clone().abs().sqrt().square(), &x.clone().abs(), 1e-12)?;
        close(&x.clone().relu().sub(&x.clone().neg().relu()), &x, 0.0)?;
        let t = x.clone().tanh();
        close(&t, &(x.clone().mul_scalar(2.0).sigmoid().mul_scalar(2.0).sub_scalar(1.0)), 1e-12)?;
        close(&x.clone().maximum(&x.clone().neg()), &x.abs(), 0.0)?;
    }

    #[test]
    fn gradients_are_linear_in_the_upstream_gradient(x in tensor::<(U3, U4)>(2.0), k in 0.1f64..5.0) {
        let xt = x.clone().trace();
        let y = xt.clone().sin().matmul(&Tensor::<(U4, U2), f64>::ones());
        let g1 = y.backward_with_retaining_graph(&Tensor::ones());
        let g2 = y.backward_with(&Tensor::full(k));
        let a = g1.get(&xt).unwrap().mul_scalar(k);
        close(&a, &g2.get(&xt).unwrap(), 1e-12)?;
    }
}
