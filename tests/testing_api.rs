//! The property-testing tools a user writes tests with (`stensor::testing`, `stensor::gradcheck`,
//! `stensor::autograd::Function`): every report replays, no parameter is skipped silently, a
//! custom backward rule is checked, and strategies keep off kinks while shrinking.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestError, TestRunner};
use std::marker::PhantomData;
use stensor::autograd::{AnyTape, Function, FunctionInputs};
use stensor::nn::{Forward, Module};
use stensor::prelude::*;
use stensor::testing::prelude::*;

/// The minimal failing value proptest shrinks `strategy` to under `fails`.
fn shrunk<S: Strategy>(strategy: S, fails: impl Fn(&S::Value) -> bool) -> S::Value {
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    match runner.run(&strategy, |v| {
        if fails(&v) {
            Err(TestCaseError::fail("planted"))
        } else {
            Ok(())
        }
    }) {
        Err(TestError::Fail(_, v)) => v,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn away_from_keeps_every_value_and_every_shrink_off_the_neighbourhood() {
    let s = any_tensor_f64::<(U16,)>()
        .range(-2.0, 2.0)
        .away_from(0.0, 0.25);
    let mut runner = TestRunner::deterministic();
    for _ in 0..200 {
        let t = s.new_tree(&mut runner).unwrap().current();
        assert!(
            t.as_slice()
                .iter()
                .all(|v| v.abs() >= 0.25 && v.abs() < 2.0),
            "{t:?}"
        );
    }
    // a property that fails for every input shrinks to the simplest allowed values: the edges
    // of the neighbourhood (0 itself is excluded), never inside it
    let min = shrunk(s, |_| true);
    assert!(min.as_slice().iter().all(|v| v.abs() == 0.25), "{min:?}");
    // shrinking toward the simple value stops where the property stops failing
    let min = shrunk(any_tensor_f64::<(U1,)>().range(1.0, 9.0), |t| {
        t.as_slice()[0] > 3.0
    });
    let v = min.as_slice()[0];
    assert!(v > 3.0 && v < 3.01, "{v}");
}

#[test]
fn a_union_of_ranges_draws_from_each_and_shrinks_inside_each() {
    let s = any_tensor_f64::<(U32,)>()
        .range(-9.0, -4.0)
        .or_range(5.0, 6.0);
    let mut runner = TestRunner::deterministic();
    let (mut neg, mut pos) = (0, 0);
    for _ in 0..100 {
        for &v in s.new_tree(&mut runner).unwrap().current().as_slice() {
            match v {
                v if (-9.0..-4.0).contains(&v) => neg += 1,
                v if (5.0..6.0).contains(&v) => pos += 1,
                v => panic!("{v} outside both ranges"),
            }
        }
    }
    // weighted by length: five to one
    assert!(neg > 3 * pos && pos > 0, "{neg} {pos}");
    let min = shrunk(s, |_| true);
    for &v in min.as_slice() {
        // each value's simplest point in its own piece: 5, or the top of [-9, -4)
        assert!(v == 5.0 || (v < -4.0 && v > -4.0 - 1e-12), "{v}");
    }
}

#[test]
#[should_panic(expected = "away_from leaves no value")]
fn a_neighbourhood_that_covers_the_range_is_refused() {
    let s = any_tensor_f64::<(U2,)>()
        .range(-1.0, 1.0)
        .away_from(0.0, 5.0);
    let _ = s.new_tree(&mut TestRunner::deterministic());
}

/// A layer whose "weight" is declared a buffer: no parameter at all.
#[derive(Module)]
#[module(leaf)]
struct Frozen {
    #[module(buffer)]
    w: Tensor<(U3, U2), f64>,
}

#[test]
fn params_in_refuses_a_module_without_parameters_and_names_its_buffers() {
    let s = any_module(|rng| Frozen {
        w: Tensor::uniform_shaped(Default::default(), rng, -1.0, 1.0),
    })
    .params_in(-2.0, 2.0);
    let Err(err) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.rebuild(7))) else {
        panic!("params_in accepted a module without parameters")
    };
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("`Frozen` has no parameter to redraw") && msg.contains("its buffers: `w`"),
        "{msg}"
    );
}

#[test]
fn a_gradient_check_of_a_module_without_parameters_is_an_error() {
    let mut m = Frozen { w: Tensor::ones() };
    let x = Tensor::<(U4, U3), f64>::ones();
    let err = check_module_gradients(&mut m, &x, |m, x| x.matmul(&m.w)).unwrap_err();
    assert!(
        matches!(&err, GradCheckError::NoParameters { module, buffers, .. } if module == "Frozen" && buffers == &["w"]),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("`Frozen` has no f64 parameter to check; its buffers: `w`"));
}

/// SwiGLU as the issue wrote it: `(x W1 + b1) * silu(x W2 + b2)`.
#[derive(Module)]
#[module(leaf)]
struct SwiGlu {
    #[module(param)]
    w1: Tensor<(U3, U2), f64>,
    #[module(param)]
    b1: Tensor<(U2,), f64>,
    #[module(param)]
    w2: Tensor<(U3, U2), f64>,
    #[module(param)]
    b2: Tensor<(U2,), f64>,
}

fn param<S: ConstShape>(rng: &mut Rng) -> Tensor<S, f64> {
    Tensor::uniform_shaped(S::default(), rng, -1.0, 1.0).requires_grad_(true)
}

fn swiglu(rng: &mut Rng) -> SwiGlu {
    SwiGlu {
        w1: param(rng),
        b1: param(rng),
        w2: param(rng),
        b2: param(rng),
    }
}

impl<B: Dim, T: AnyTape<f64>> Forward<Tensor<(B, U3), f64, T>> for SwiGlu {
    type Output = Tensor<(B, U2), f64, T>;
    fn forward(&self, x: Tensor<(B, U3), f64, T>) -> Self::Output {
        let a = x.clone().matmul(&self.w1).broadcast_add(&self.b1);
        a.mul(&x.matmul(&self.w2).broadcast_add(&self.b2).silu())
    }
}

#[test]
fn every_mismatching_tensor_is_reported_and_a_missing_gradient_is_named() {
    let mut m = swiglu(&mut Rng::seed(3));
    let x = Tensor::<(U4, U3), f64>::rand_uniform(1, -1.0, 1.0);
    check_module_gradients(&mut m, &x, |m, x| m.forward(x)).unwrap();
    // planted: b2 enters detached (no gradient reaches it) and w1's gradient is doubled
    let err = check_module_gradients(&mut m, &x, |m, x| {
        let a = x.clone().matmul(&m.w1).broadcast_add(&m.b1);
        let twice = x.clone().matmul(&m.w1).detach().mul_scalar(-1.0);
        let a = a
            .mul_scalar(2.0)
            .add(&twice)
            .broadcast_add(&m.b1.detach().neg());
        a.mul(&x.matmul(&m.w2).broadcast_add(&m.b2.detach()).silu())
    })
    .unwrap_err();
    let names: Vec<&str> = err.mismatches().iter().map(|m| m.tensor.as_str()).collect();
    assert_eq!(names, ["input", "w1", "b1", "b2"], "{err}");
    let b2 = &err.mismatches()[3];
    assert_eq!(b2.analytic, None);
    let text = err.to_string();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("no gradient reached `b2`"), "{text}");
    // tolerances and values in scientific notation
    assert!(text.contains("tolerance ") && text.contains("e-"), "{text}");
    // parameters only: the input's mismatch is not looked for
    let cfg = GradCheck::default().parameters_only();
    check_module_gradients_with(cfg, &mut m, &x, |m, x| m.forward(x.detach().trace()))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_parameter_that_does_not_require_grad_gets_none_and_the_check_says_so() {
    let mut m = swiglu(&mut Rng::seed(4));
    m.b1.set_requires_grad(false);
    let x = Tensor::<(U2, U3), f64>::rand_uniform(2, -1.0, 1.0);
    let err = check_module_gradients(&mut m, &x, |m, x| m.forward(x)).unwrap_err();
    assert_eq!(err.mismatches().len(), 1, "{err}");
    assert!(
        err.to_string().starts_with("no gradient reached `b1`"),
        "{err}"
    );
}

#[test]
fn a_close_failure_names_the_line_that_called_it_and_prints_full_precision() {
    let a = Tensor::<(U2,), f64>::from_array([0.1, 1.0 / 3.0]);
    let b = Tensor::<(U2,), f64>::from_array([0.1, 0.3333]);
    let line = line!() + 1;
    let err = close(&a, &b, Tolerance::F64).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("0.3333333333333333 vs 0.3333"), "{text}");
    assert!(text.contains("allowed 1.333e-7"), "{text}");
    assert!(
        text.ends_with(&format!("in `close` at tests/testing_api.rs:{line}:15")),
        "{text}"
    );
    assert_eq!(Tolerance::F64.to_string(), "rtol 1e-7, atol 1e-7");
}

#[test]
fn a_failing_module_prints_its_weights_and_its_seed_rebuilds_it() {
    let s = any_module(swiglu).params_in(-3.0, 3.0);
    let m = shrunk(s.clone(), |_| true);
    let shown = format!("{m:?}");
    assert!(
        shown.starts_with(&format!(
            "seed {} (`strategy.rebuild({})` makes it again): SwiGlu()",
            m.seed, m.seed
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("b2: {:?}", m.module.b2.as_slice())),
        "{shown}"
    );
    let again = s.rebuild(m.seed);
    for (x, y) in [(&again.w1, &m.module.w1), (&again.w2, &m.module.w2)] {
        assert_eq!(x.to_vec(), y.to_vec());
    }
    assert_eq!(again.b2.to_vec(), m.module.b2.to_vec());
}

/// `y = x * w` (rows scaled per column), with a backward rule written by hand; `wrong` plants
/// a bug in it.
struct Scale<B> {
    wrong: bool,
    shape: PhantomData<fn() -> B>,
}

impl<B: Dim> Function<f64> for Scale<B> {
    type Inputs = (Tensor<(B, U3), f64>, Tensor<(U3,), f64>);
    type Output = (B, U3);
    fn forward(&self, (x, w): &Self::Inputs) -> Tensor<(B, U3), f64> {
        x.clone().broadcast_mul(w)
    }
    fn backward(
        &self,
        (x, w): &Self::Inputs,
        _: &Tensor<(B, U3), f64>,
        g: &Tensor<(B, U3), f64>,
        needs: &[bool],
    ) -> <Self::Inputs as FunctionInputs<f64>>::Grads {
        assert_eq!(needs.len(), 2);
        let dx = needs[0].then(|| g.clone().broadcast_mul(w));
        let mut dw = x.clone().mul(g).sum_axis::<0>();
        if self.wrong {
            dw = dw.mul_scalar(1.5);
        }
        (dx, needs[1].then_some(dw))
    }
}

fn scale<B: Dim>(wrong: bool) -> Scale<B> {
    Scale {
        wrong,
        shape: PhantomData,
    }
}

#[test]
fn a_custom_backward_is_checked_like_any_other() {
    let w = Tensor::<(U3,), f64>::from_array([0.5, -2.0, 3.0]).requires_grad_(true);
    let x =
        Tensor::<(usize, U3), f64>::uniform_shaped((4, U3::new()), &mut Rng::seed(5), -1.0, 1.0);
    check_gradients(|x| scale(false).apply((&x, &w)), &x).unwrap();
    // the weight's gradient: the check's input is `w` here
    let wt = w.detach();
    check_gradients(|w| scale(false).apply((&x.clone().trace(), &w)), &wt).unwrap();
    // a wrong rule for the weight is caught
    let err = check_gradients(
        |w| scale::<usize>(true).apply((&x.clone().trace(), &w)),
        &wt,
    )
    .unwrap_err();
    assert_eq!(err.mismatches().len(), 1, "{err}");
    assert!(
        err.to_string()
            .starts_with("gradient mismatch of `input` at index [0]"),
        "{err}"
    );
    // the output is traced if any input is: here only the second
    let wt2 = w.detach().trace();
    let y = scale(false).apply((&x, &wt2));
    let g = y.sum().backward();
    let colsum: Vec<f64> = x.clone().sum_axis::<0>().to_vec();
    assert_eq!(g.get(&wt2).unwrap().to_vec(), colsum);
    // untraced in, untraced out, no backward recorded
    let y = scale(false).apply((&x, &w));
    assert!(!y.requires_grad());
    assert_eq!(y.to_vec(), x.clone().broadcast_mul(&w).to_vec());
}

/// A rule that returns the wrong shape for its input's gradient.
struct BadShape;

impl Function<f64> for BadShape {
    type Inputs = (Tensor<(usize,), f64>,);
    type Output = (usize,);
    fn forward(&self, (x,): &Self::Inputs) -> Tensor<(usize,), f64> {
        x.clone()
    }
    fn backward(
        &self,
        _: &Self::Inputs,
        _: &Tensor<(usize,), f64>,
        _: &Tensor<(usize,), f64>,
        _: &[bool],
    ) -> (Option<Tensor<(usize,), f64>>,) {
        (Some(Tensor::zeros_shaped((1,))),)
    }
}

#[test]
#[should_panic(
    expected = "backward gave input 0 a gradient of dims [1], but the input has dims [3]"
)]
fn a_gradient_of_the_wrong_dims_is_a_panic_naming_both() {
    let x = Tensor::<(usize,), f64>::zeros_shaped((3,)).trace();
    let _ = BadShape.apply((&x,)).sum().backward();
}

#[test]
fn cases_and_config_honour_proptest_cases() {
    // the variable is unset in this test process unless a long run set it
    let want = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    assert_eq!(cases(12), want);
    assert_eq!(config(12).cases, want);
}

#[test]
fn a_large_tensor_of_a_failing_module_prints_as_its_count() {
    let s = any_module(stensor::nn::Linear::<U100, U64, f64>::new);
    let m = s
        .new_tree(&mut TestRunner::deterministic())
        .unwrap()
        .current();
    let shown = format!("{m:?}");
    assert!(shown.contains("weight: <6400 values>"), "{shown}");
    assert!(shown.contains(&format!(
        "bias: {:?}",
        m.module.bias.as_ref().unwrap().as_slice()
    )));
}
