//! PyTorch parity of the optimizers (`tests/reference/optim.json` and `optim_extra.json`: the
//! parameter after each of three steps) and of the learning-rate schedules
//! (`schedule_extra.json`: the rate, and the cycled momentum, at every step).

mod common;

use common::{assert_close, cases, Case};
use stensor::optim::*;
use stensor::prelude::*;

fn cfg_f(c: &Case, k: &str) -> Option<f64> {
    c.config()[k].as_f64()
}
fn cfg_b(c: &Case, k: &str) -> bool {
    c.config()[k].as_bool().unwrap_or(false)
}

fn optimizer<E: Element>(c: &Case) -> Box<dyn Optimizer<E>> {
    let lr = cfg_f(c, "lr").unwrap();
    let kind = c.0["kind"].as_str().unwrap();
    match kind {
        "SGD" => Box::new(
            SGD::new(lr)
                .with_momentum(cfg_f(c, "momentum").unwrap_or(0.0))
                .with_dampening(cfg_f(c, "dampening").unwrap_or(0.0))
                .with_nesterov(cfg_b(c, "nesterov"))
                .with_weight_decay(cfg_f(c, "weight_decay").unwrap_or(0.0))
                .with_maximize(cfg_b(c, "maximize")),
        ),
        "Adam" | "AdamW" => {
            let base = if kind == "Adam" {
                Adam::new(lr)
            } else {
                AdamW::new(lr)
            };
            let betas = c.config()["betas"]
                .as_array()
                .map(|b| (b[0].as_f64().unwrap(), b[1].as_f64().unwrap()));
            let (b1, b2, eps, wd) = (
                base.options.beta1,
                base.options.beta2,
                base.options.eps,
                base.options.weight_decay,
            );
            Box::new(
                base.with_beta1(betas.map_or(b1, |b| b.0))
                    .with_beta2(betas.map_or(b2, |b| b.1))
                    .with_eps(cfg_f(c, "eps").unwrap_or(eps))
                    .with_weight_decay(cfg_f(c, "weight_decay").unwrap_or(wd))
                    .with_amsgrad(cfg_b(c, "amsgrad"))
                    .with_maximize(cfg_b(c, "maximize")),
            )
        }
        "RMSprop" => Box::new(
            RMSprop::new(lr)
                .with_alpha(cfg_f(c, "alpha").unwrap_or(0.99))
                .with_momentum(cfg_f(c, "momentum").unwrap_or(0.0))
                .with_centered(cfg_b(c, "centered"))
                .with_weight_decay(cfg_f(c, "weight_decay").unwrap_or(0.0)),
        ),
        k => panic!("no optimizer {k}"),
    }
}

fn run_optim<E: Element>(c: &Case) {
    let mut opt = optimizer::<E>(c);
    let mut p = c.tensor::<(U5,), E>(&["param"]);
    for step in 0..3 {
        let g: Vec<E> = c.0["grads"][step]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| E::from_f64(v.as_f64().unwrap()))
            .collect();
        opt.update(p.id(), p.as_mut_slice(), &g);
        let want: Vec<f64> = c.0["after_each_step"][step]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_close(
            &format!("{} step {}", c.name(), step + 1),
            p.as_slice(),
            &want,
        );
    }
}

#[test]
fn optimizers_match_pytorch() {
    for family in ["optim", "optim_extra"] {
        for c in cases(family) {
            run_optim::<f64>(&c);
            run_optim::<f32>(&c);
        }
    }
    assert_eq!(cases("optim").len(), 7);
}

#[test]
fn step_params_updates_through_gradients() {
    let mut w = Tensor::<(U2,), f64>::from_array([1.0, 2.0]);
    let mut b = Tensor::<(U1,), f64>::from_array([0.5]);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    let x = Tensor::<(U2,), f64>::from_array([3.0, -1.0]).trace_no_grad();
    let loss = x.mul(&w).sum().add(&b.clone().trace().sum());
    let grads = loss.backward();
    let mut opt = SGD::new(0.1);
    opt.step_params(&mut [&mut w, &mut b], &grads);
    assert_eq!(w.to_vec(), vec![1.0 - 0.3, 2.0 + 0.1]);
    assert_eq!(b.to_vec(), vec![0.5 - 0.1]);
}

/// A network served between training steps (inference keeps each weight's packing for the
/// product kernel; a traced forward packs afresh): every prediction uses the weights as they
/// are now, the same bits as the traced forward and as a copy made fresh from their values.
#[test]
fn inference_between_steps_sees_every_update() {
    use stensor::nn::{Forward, Linear};
    let mut rng = Rng::seed(3);
    let mut fc = Linear::<U40, U24>::new(&mut rng);
    let x = Tensor::<(U16, U40)>::rand_uniform(5, -1.0, 1.0);
    let mut opt = SGD::new(0.5).with_momentum(0.9);
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut seen = vec![];
    for step in 0..4 {
        let served = bits(fc.forward(x.clone()).to_vec());
        let traced = bits(fc.forward(x.clone().trace_no_grad()).to_vec());
        let copy = Linear::<U40, U24>::from_params(
            Tensor::from_vec(fc.weight.to_vec()).unwrap(),
            fc.bias
                .as_ref()
                .map(|b| Tensor::from_vec(b.to_vec()).unwrap()),
        );
        let fresh = bits(copy.forward(x.clone()).to_vec());
        assert_eq!(served, traced, "step {step}");
        assert_eq!(served, fresh, "step {step}");
        seen.push(served);
        let loss = fc.forward(x.clone().trace_no_grad()).square().mean();
        opt.step(&mut fc, &loss.backward());
        // and a change by hand, between steps
        fc.weight.as_mut_slice()[step] += 0.125;
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]));
}

/// Advances a schedule one step, returning the rate and momentum it was at.
type Stepper = Box<dyn FnMut(&mut SGD<f64>) -> (f64, f64)>;

fn schedule(c: &Case, opt: &mut SGD<f64>) -> Stepper {
    macro_rules! stepper {
        ($s:expr) => {{
            let mut s = $s;
            Box::new(move |o: &mut SGD<f64>| {
                let now = (Optimizer::<f64>::lr(o), o.options.momentum);
                s.step(o);
                now
            })
        }};
    }
    match c.name() {
        "step_lr" => stepper!(StepLR::new(opt, 3, 0.5)),
        "multistep_lr" => stepper!(MultiStepLR::new(opt, &[2, 5, 9], 0.3)),
        "exponential_lr" => stepper!(ExponentialLR::new(opt, 0.8)),
        "cosine_lr" => stepper!(CosineAnnealingLR::new(opt, 7, 0.01)),
        "linear_lr" => stepper!(LinearLR::new(opt, 0.25, 0.9, 6)),
        "linear_lr_default" => stepper!(LinearLR::new(opt, 1.0 / 3.0, 1.0, 5)),
        "one_cycle" => stepper!(OneCycleLR::new(opt, 2.0, 12)),
        "one_cycle_linear_three_phase" => {
            stepper!(OneCycleConfig {
                cos_anneal: false,
                three_phase: true,
                pct_start: 0.25,
                ..OneCycleConfig::new(2.0, 12)
            }
            .start(opt))
        }
        n => panic!("no schedule {n}"),
    }
}

#[test]
fn schedules_match_pytorch() {
    for c in cases("schedule_extra") {
        let lrs: Vec<f64> = c.0["lrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let moms: Vec<f64> = c.0["momenta"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        if c.0["optimizer"] == "adam" {
            let mut opt = Adam::<f64>::new(0.5);
            let mut s = OneCycleLR::new(&mut opt, 1.0, 10);
            let mut got = vec![];
            for _ in 0..lrs.len() {
                got.push((Optimizer::<f64>::lr(&opt), opt.options.beta1));
                if got.len() < lrs.len() {
                    s.step(&mut opt);
                }
            }
            assert_close::<f64>(
                "one_cycle_adam lr",
                &got.iter().map(|g| g.0).collect::<Vec<_>>(),
                &lrs,
            );
            assert_close::<f64>(
                "one_cycle_adam beta1",
                &got.iter().map(|g| g.1).collect::<Vec<_>>(),
                &moms,
            );
            continue;
        }
        let mut opt = SGD::new(0.5).with_momentum(0.9);
        let mut step = schedule(&c, &mut opt);
        let got: Vec<(f64, f64)> = (0..lrs.len())
            .map(|i| {
                if i + 1 < lrs.len() {
                    step(&mut opt)
                } else {
                    (Optimizer::<f64>::lr(&opt), opt.options.momentum)
                }
            })
            .collect();
        assert_close::<f64>(
            &format!("{} lr", c.name()),
            &got.iter().map(|g| g.0).collect::<Vec<_>>(),
            &lrs,
        );
        assert_close::<f64>(
            &format!("{} momentum", c.name()),
            &got.iter().map(|g| g.1).collect::<Vec<_>>(),
            &moms,
        );
    }
}

#[test]
#[should_panic(expected = "Tried to step 11 times")]
fn one_cycle_refuses_to_step_past_its_end_like_pytorch() {
    let mut opt = SGD::<f32>::new(0.1);
    let mut s = OneCycleLR::new(&mut opt, 1.0, 10);
    for _ in 0..10 {
        s.step(&mut opt);
    }
}
