//! The random parts, tested statistically: dropout's rate and scaling, RReLU's slopes, and the
//! initialisers' bounds and variances. Sample sizes make a false failure far rarer than one in
//! a million (bounds of about 6 standard errors), and every generator is seeded.

use stensor::nn::init::*;
use stensor::nn::*;
use stensor::prelude::*;

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
}

#[test]
fn dropout_zeroes_at_rate_p_and_keeps_the_expectation() {
    for p in [0.1, 0.5, 0.8] {
        let d = Dropout::new(p, 42);
        let y = d.forward(Tensor::<(U<100000>,), f64>::ones()).to_vec();
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        let se = (p * (1.0 - p) / y.len() as f64).sqrt();
        assert!((zeros - p).abs() < 6.0 * se, "p={p}: zero rate {zeros}");
        assert!(y
            .iter()
            .all(|&v| v == 0.0 || (v - 1.0 / (1.0 - p)).abs() < 1e-12));
        let m = y.iter().sum::<f64>() / y.len() as f64;
        assert!((m - 1.0).abs() < 6.0 * se / (1.0 - p), "p={p}: mean {m}");
    }
    // p = 1 zeroes everything; eval and p = 0 are the identity
    assert!(Dropout::new(1.0, 0)
        .forward(Tensor::<(U8,)>::ones())
        .to_vec()
        .iter()
        .all(|&v| v == 0.0));
    assert_eq!(
        Dropout::new(0.0, 0)
            .forward(Tensor::<(U8,)>::ones())
            .to_vec(),
        vec![1.0; 8]
    );
    let mut d = Dropout::new(0.7, 0);
    d.eval();
    assert_eq!(d.forward(Tensor::<(U8,)>::ones()).to_vec(), vec![1.0; 8]);
}

#[test]
fn dropout2d_drops_whole_channels_at_rate_p() {
    let d = Dropout2d::new(0.3, 7);
    let y = d
        .forward(Tensor::<(U100, U100, U2, U2), f64>::ones())
        .to_vec();
    let mut dropped = 0;
    for ch in y.chunks(4) {
        assert!(
            ch.iter().all(|&v| v == ch[0]),
            "a channel is kept or dropped whole"
        );
        if ch[0] == 0.0 {
            dropped += 1;
        } else {
            assert!((ch[0] - 1.0 / 0.7).abs() < 1e-12);
        }
    }
    let rate = dropped as f64 / 10000.0;
    assert!(
        (rate - 0.3).abs() < 6.0 * (0.3 * 0.7 / 10000.0f64).sqrt(),
        "{rate}"
    );
}

#[test]
#[should_panic(expected = "between 0 and 1")]
fn dropout_rejects_p_outside_0_1() {
    let _ = Dropout::new(1.5, 0);
}

#[test]
fn rrelu_draws_uniform_slopes_in_training_and_the_mean_in_eval() {
    let r = RReLU::new(0.1, 0.3, 3);
    let y = r
        .forward(Tensor::<(stensor::dim!(50000),), f64>::full(-1.0))
        .to_vec();
    let slopes: Vec<f64> = y.iter().map(|v| -v).collect();
    assert!(slopes.iter().all(|s| (0.1..=0.3).contains(s)));
    let (m, v) = mean_var(&slopes);
    assert!(
        (m - 0.2).abs() < 6.0 * (0.04f64 / 12.0 / 50000.0).sqrt(),
        "mean slope {m}"
    );
    assert!((v - 0.04 / 12.0).abs() < 2e-4, "slope variance {v}");
    // positive inputs pass unchanged
    assert_eq!(
        r.forward(Tensor::<(U4,), f64>::full(2.0)).to_vec(),
        vec![2.0; 4]
    );
}

fn check_uniform(v: &[f64], bound: f64, what: &str) {
    assert!(v.iter().all(|x| x.abs() <= bound), "{what}: out of bounds");
    assert!(
        v.iter().any(|x| x.abs() > 0.95 * bound),
        "{what}: never near the bound"
    );
    let (m, var) = mean_var(v);
    let expect = bound * bound / 3.0;
    assert!(
        m.abs() < 6.0 * (expect / v.len() as f64).sqrt(),
        "{what}: mean {m}"
    );
    assert!(
        (var - expect).abs() < 0.05 * expect,
        "{what}: variance {var} vs {expect}"
    );
}

fn check_normal(v: &[f64], std: f64, what: &str) {
    let (m, var) = mean_var(v);
    assert!(
        m.abs() < 6.0 * std / (v.len() as f64).sqrt(),
        "{what}: mean {m}"
    );
    assert!(
        (var - std * std).abs() < 0.05 * std * std,
        "{what}: variance {var} vs {}",
        std * std
    );
}

#[test]
fn initialisers_have_pytorchs_bounds_and_variances() {
    let mut rng = Rng::seed(11);
    type W = (U128, U64, U3, U3); // fan_in 576, fan_out 1152
    let mut w = Tensor::<W, f64>::zeros();
    xavier_uniform_(&mut w, 2.0, &mut rng);
    check_uniform(
        &w.to_vec(),
        2.0 * (6.0f64 / 1728.0).sqrt(),
        "xavier_uniform",
    );
    xavier_normal_(&mut w, 1.0, &mut rng);
    check_normal(&w.to_vec(), (2.0f64 / 1728.0).sqrt(), "xavier_normal");
    kaiming_uniform_(&mut w, 0.0, FanMode::FanIn, Nonlinearity::ReLU, &mut rng);
    check_uniform(
        &w.to_vec(),
        3f64.sqrt() * 2f64.sqrt() / 576f64.sqrt(),
        "kaiming_uniform",
    );
    kaiming_normal_(
        &mut w,
        0.1,
        FanMode::FanOut,
        Nonlinearity::LeakyReLU,
        &mut rng,
    );
    check_normal(
        &w.to_vec(),
        (2.0 / 1.01f64).sqrt() / 1152f64.sqrt(),
        "kaiming_normal",
    );
    uniform_(&mut w, -0.5, 0.5, &mut rng);
    check_uniform(&w.to_vec(), 0.5, "uniform");
    normal_(&mut w, 0.0, 0.02, &mut rng);
    check_normal(&w.to_vec(), 0.02, "normal");
    // the layers' default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    let c = stensor::nn::in_f64::Conv2d::<U64, U128, U3>::new(&mut rng);
    check_uniform(&c.weight.to_vec(), 1.0 / 576f64.sqrt(), "Conv2d default");
    let l = Linear::<U1000, U100, f64>::new(&mut rng);
    check_uniform(&l.weight.to_vec(), 1.0 / 1000f64.sqrt(), "Linear default");
}

#[test]
fn orthogonal_is_orthogonal_in_both_orientations() {
    let mut rng = Rng::seed(4);
    let mut tall = Tensor::<(U7, U3), f64>::zeros();
    orthogonal_(&mut tall, 2.0, &mut rng);
    let gram = tall.clone().transpose::<0, 1>().matmul(&tall);
    let mut wide = Tensor::<(U2, U3, U2), f64>::zeros();
    orthogonal_(&mut wide, 1.0, &mut rng);
    let w: Tensor<(U2, U6), f64> = wide.reshape();
    let gram2 = w.clone().matmul(&w.transpose::<0, 1>());
    for (g, scale) in [(gram.to_vec(), 4.0), (gram2.to_vec(), 1.0)] {
        let n = (g.len() as f64).sqrt() as usize;
        for i in 0..n {
            for j in 0..n {
                let e = if i == j { scale } else { 0.0 };
                assert!((g[i * n + j] - e).abs() < 1e-12);
            }
        }
    }
}
