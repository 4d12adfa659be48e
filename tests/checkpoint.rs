//! Checkpoints: a run stopped and resumed from a file ends bit-identical to a run never
//! stopped, for every optimizer and with a schedule; every mismatch is an error that names the
//! file and changes nothing.

use stensor::io::{Checkpoint, CheckpointFile, StateDictError};
use stensor::nn::{BatchNorm1d, Forward, Linear, Module, ReLU};
use stensor::optim::{
    Adam, AdamW, Hyper, LrScheduler, Optimizer, OptimizerState, RMSprop, StepLR, SGD,
};
use stensor::prelude::*;

type Net = (Linear<U4, U8>, BatchNorm1d<U8>, ReLU, Linear<U8, U2>);

fn net(seed: u64) -> Net {
    let mut r = Rng::seed(seed);
    (
        Linear::new(&mut r),
        BatchNorm1d::new(),
        ReLU,
        Linear::new(&mut r),
    )
}

/// Every value of the network, as bits.
fn bits(net: &Net) -> Vec<u32> {
    let mut out = vec![];
    net.visit("", &mut |_, t| {
        if let stensor::tensor::Values::F32(v) = t.values {
            out.extend(v.iter().map(|x| x.to_bits()));
        }
    });
    out
}

/// One training step on batch `i` (a fixed function of `i`), then a schedule step.
fn step<O: Optimizer<f32>>(net: &mut Net, opt: &mut O, sched: &mut StepLR, i: u64) {
    let x = Tensor::<(U5, U4)>::rand_uniform(100 + i, -1.0, 1.0);
    let y = net.forward(x.trace());
    let grads = y.square().mean().backward();
    opt.step(net, &grads);
    sched.step(opt);
}

/// Trains 6 steps straight, and 3 steps, a checkpoint, a fresh network (other seed) and
/// optimizer (from `fresh`, other rate) restored from it, then 3 more: both must agree to the bit,
/// weights, running statistics and optimizer state.
fn resumes_exactly<O: Optimizer<f32>>(make: impl Fn() -> O, fresh: impl Fn() -> O) {
    let (mut straight, mut opt) = (net(1), make());
    let mut sched = StepLR::new(&mut opt, 2, 0.5);
    for i in 0..6 {
        step(&mut straight, &mut opt, &mut sched, i);
    }

    let (mut first, mut opt1) = (net(1), make());
    let mut sched1 = StepLR::new(&mut opt1, 2, 0.5);
    for i in 0..3 {
        step(&mut first, &mut opt1, &mut sched1, i);
    }
    let bytes = Checkpoint::new()
        .model(&first)
        .optimizer(&first, &opt1)
        .scheduler(&sched1)
        .value("step", 3)
        .to_bytes();

    let ck = CheckpointFile::from_bytes(bytes, "run.ck").unwrap();
    let (mut resumed, mut opt2) = (net(99), fresh());
    let mut sched2 = StepLR::new(&mut opt2, 2, 0.5);
    ck.restore_model(&mut resumed).unwrap();
    ck.restore_optimizer(&resumed, &mut opt2).unwrap();
    ck.restore_scheduler(&mut sched2).unwrap();
    let from: u64 = ck.value("step").unwrap().parse().unwrap();
    for i in from..6 {
        step(&mut resumed, &mut opt2, &mut sched2, i);
    }
    assert_eq!(bits(&resumed), bits(&straight));
    assert_eq!(opt2.state_dict(&resumed), opt.state_dict(&straight));
    assert_eq!(sched2.state_dict(), sched.state_dict());
}

#[test]
fn resumed_training_is_bit_identical() {
    resumes_exactly(
        || SGD::new(0.1).with_momentum(0.9).with_nesterov(true),
        || SGD::new(0.7).with_momentum(0.9),
    );
    resumes_exactly(
        || SGD::new(0.1).with_momentum(0.5).with_dampening(0.1),
        || SGD::new(0.7),
    );
    resumes_exactly(|| SGD::new(0.1), || SGD::new(0.3));
    resumes_exactly(|| Adam::new(0.01).with_amsgrad(true), || Adam::new(0.5));
    resumes_exactly(|| AdamW::new(0.01), || Adam::new(0.5));
    resumes_exactly(
        || RMSprop::new(0.01).with_momentum(0.9).with_centered(true),
        || RMSprop::new(0.5),
    );
}

fn trained_adam() -> (Net, Adam) {
    let (mut n, mut opt) = (net(1), Adam::new(0.01));
    let mut sched = StepLR::new(&mut opt, 2, 0.5);
    step(&mut n, &mut opt, &mut sched, 0);
    (n, opt)
}

#[test]
fn the_file_uses_pytorchs_names_and_layout() {
    let (n, opt) = trained_adam();
    let bytes = Checkpoint::new().model(&n).optimizer(&n, &opt).to_bytes();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    assert!(names.contains(&"model.1.running_mean".to_string()));
    // parameters numbered as `model.parameters()` numbers them: buffers are skipped
    let exp_avg_3 = file.tensor("optimizer.state.3.exp_avg").unwrap();
    assert_eq!(exp_avg_3.shape(), [8]); // the batch norm's bias
    assert_eq!(
        file.tensor("optimizer.state.4.exp_avg_sq").unwrap().shape(),
        [2, 8]
    );
    let step = file.tensor("optimizer.state.0.step").unwrap();
    assert_eq!(
        (step.shape(), step.data()),
        (&[][..], &1f64.to_le_bytes()[..])
    );
    assert_eq!(
        names.iter().filter(|n| n.starts_with("optimizer.")).count(),
        6 * 3
    );
    // param_groups as PyTorch 2.x's `Adam.state_dict()` writes them (its keys that stensor
    // has; `foreach`, `capturable`, `differentiable`, `fused` are PyTorch's execution knobs)
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let groups: serde_json::Value =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["optimizer.param_groups"]).unwrap();
    let mut keys: Vec<&str> = groups[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "amsgrad",
            "betas",
            "decoupled_weight_decay",
            "eps",
            "lr",
            "maximize",
            "params",
            "weight_decay"
        ]
    );
    assert_eq!(groups[0]["betas"], serde_json::json!([0.9, 0.999]));
    assert_eq!(groups[0]["params"], serde_json::json!([0, 1, 2, 3, 4, 5]));
}

/// A checkpoint holding only `optimizer.param_groups` = `groups`.
fn with_groups(groups: &str) -> Vec<u8> {
    let meta = [
        ("format".to_string(), "stensor.checkpoint.1".to_string()),
        ("optimizer.param_groups".to_string(), groups.to_string()),
    ];
    let none = Vec::<(&str, safetensors::tensor::TensorView<'_>)>::new();
    safetensors::tensor::serialize(none, Some(meta.into())).unwrap()
}

#[test]
fn a_pytorch_param_group_loads() {
    // `json.dumps(torch.optim.SGD(p, lr=0.1, momentum=0.9).state_dict()["param_groups"])`
    let pytorch = r#"[{"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": false, "maximize": false, "foreach": null, "differentiable": false, "fused": null, "params": [0, 1, 2, 3, 4, 5]}]"#;
    let st = with_groups(pytorch);
    let ck = CheckpointFile::from_bytes(st, "torch.ck");
    // `differentiable` is a flag stensor does not have: named in the error
    let err = ck
        .unwrap()
        .restore_optimizer(&net(0), &mut SGD::<f32>::new(0.5))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "torch.ck: optimizer state: unknown hyper-parameter `differentiable` for this optimizer"
    );
    let without = pytorch.replace(r#""differentiable": false, "#, "");
    let st = with_groups(&without);
    let mut opt = SGD::<f32>::new(0.5);
    CheckpointFile::from_bytes(st, "torch.ck")
        .unwrap()
        .restore_optimizer(&net(0), &mut opt)
        .unwrap();
    assert_eq!(
        (opt.options.lr, opt.options.momentum, opt.options.nesterov),
        (0.1, 0.9, false)
    );
}

/// The optimizer's state, to see that a failed restore changed nothing.
fn snapshot(opt: &Adam, n: &Net) -> (f64, OptimizerState) {
    (opt.options.lr, opt.state_dict(n))
}

#[test]
fn mismatches_are_errors_that_change_nothing() {
    let (n, opt) = trained_adam();
    let ck = |c: Checkpoint| CheckpointFile::from_bytes(c.to_bytes(), "run.ck").unwrap();
    let full = ck(Checkpoint::new().model(&n).optimizer(&n, &opt));
    let (other, mut target) = trained_adam();
    target.options.lr = 0.25;
    let before = snapshot(&target, &other);

    // another network: the first parameter's buffers do not fit
    type Wide = (Linear<U4, U9>,);
    let wide: Wide = (Linear::new(&mut Rng::seed(0)),);
    let err = full.restore_optimizer(&wide, &mut target).unwrap_err();
    assert!(
        err.to_string().starts_with("run.ck: optimizer state: "),
        "{err}"
    );
    assert_eq!(snapshot(&target, &other), before);

    // an optimizer of another kind: SGD has no `betas`
    let err = full
        .restore_optimizer(&other, &mut SGD::<f32>::new(0.1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "run.ck: optimizer state: unknown hyper-parameter `amsgrad` for this optimizer"
    );

    // f64 optimizer, f32 state: names the tensor
    let mut wide64 = Adam::<f64>::new(0.1);
    let err = full.restore_optimizer(&other, &mut wide64).unwrap_err();
    assert!(
        err.to_string().contains(
            "tensor `optimizer.state.0.exp_avg`: is f32 in the file, the optimizer holds f64"
        ),
        "{err}"
    );

    // AMSGrad asked for, but the file has no max_exp_avg_sq
    let mut ams = Adam::new(0.1);
    let mut group_ams = full.optimizer_state::<f32>().unwrap();
    group_ams.param_groups[0]
        .hyper
        .insert("amsgrad".into(), Hyper::Flag(true));
    let err = ams.load_state_dict(&other, &group_ams).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state: parameter 0: `max_exp_avg_sq` missing"
    );
    assert_eq!(ams.options.lr, 0.1);

    // a parameter number the network does not have
    let mut extra = full.optimizer_state::<f32>().unwrap();
    let st = extra.state[&0].clone();
    extra.state.insert(6, st);
    let err = target.load_state_dict(&other, &extra).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state: parameter 6: the network has 6 parameters"
    );
    assert_eq!(snapshot(&target, &other), before);

    // parts the checkpoint does not hold
    let weights_only = ck(Checkpoint::new().model(&n));
    let err = weights_only
        .restore_optimizer(&other, &mut target)
        .unwrap_err();
    assert_eq!(err.to_string(), "run.ck: holds no optimizer state");
    let err = weights_only
        .restore_scheduler(&mut StepLR::new(&mut SGD::<f32>::new(1.0), 2, 0.5))
        .unwrap_err();
    assert_eq!(err.to_string(), "run.ck: holds no scheduler state");
    // a model of another shape: strict, as io::load
    let mut small: Wide = (Linear::new(&mut Rng::seed(0)),);
    let w = small.0.weight.to_vec();
    // every mismatched tensor at once
    let err = full.restore_model(&mut small).unwrap_err();
    let StateDictError::Mismatch { problems, .. } = &err else {
        panic!("every problem at once, got {err}")
    };
    assert!(problems.iter().all(|p| matches!(
        p,
        StateDictError::Shape { .. } | StateDictError::Unexpected { .. }
    )));
    assert_eq!(small.0.weight.to_vec(), w);
    assert_eq!(snapshot(&target, &other), before);
}

#[test]
fn a_schedule_built_otherwise_is_refused() {
    let mut opt = SGD::<f32>::new(1.0);
    let mut s = StepLR::new(&mut opt, 2, 0.5);
    for _ in 0..3 {
        s.step(&mut opt);
    }
    let ck =
        CheckpointFile::from_bytes(Checkpoint::new().scheduler(&s).to_bytes(), "s.ck").unwrap();
    let mut other = StepLR::new(&mut SGD::<f32>::new(1.0), 2, 0.1);
    let err = ck.restore_scheduler(&mut other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "s.ck: scheduler state: the saved rate at step 3 is 0.5, this schedule gives 0.1 there (built with other settings?)"
    );
    assert_eq!(other.epoch(), 0);
    // made from an optimizer at another rate: the saved base rate is restored
    let mut same = StepLR::new(&mut SGD::<f32>::new(0.3), 2, 0.5);
    ck.restore_scheduler(&mut same).unwrap();
    assert_eq!(
        (same.epoch(), same.base_lr(), same.last_lr()),
        (3, 1.0, 0.5)
    );
}

#[test]
fn damaged_metadata_is_an_error_naming_the_file() {
    for (groups, want) in [
        (
            "not json",
            "`optimizer.param_groups` in the metadata: expected ident",
        ),
        (
            "{}",
            "`optimizer.param_groups` in the metadata: not a list of groups",
        ),
        (r#"[{"lr": 0.1}]"#, "a group without `params`"),
        (
            r#"[{"lr": "x", "params": []}]"#,
            "`lr` has an unexpected value \"x\"",
        ),
        (
            r#"[{"betas": [1], "params": []}]"#,
            "`betas` is not a pair of numbers",
        ),
        (
            r#"[{"params": [-1]}]"#,
            "`params` is not a list of parameter numbers",
        ),
    ] {
        let st = with_groups(groups);
        let err = CheckpointFile::from_bytes(st, "bad.ck")
            .unwrap()
            .restore_optimizer(&net(0), &mut Adam::<f32>::new(0.1))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad.ck: ") && err.contains(want), "{err}");
    }
}

#[test]
fn a_checkpoint_saves_atomically_to_a_file() {
    let dir = std::env::temp_dir().join(format!("stensor-ck-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ck");
    let (n, opt) = trained_adam();
    Checkpoint::new()
        .model(&n)
        .optimizer(&n, &opt)
        .value("epoch", 7)
        .save(&path)
        .unwrap();
    let ck = CheckpointFile::load(&path).unwrap();
    assert_eq!(ck.value("epoch"), Some("7"));
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left behind");
    let err = CheckpointFile::load(dir.join("missing.ck")).unwrap_err();
    assert!(err.to_string().contains("missing.ck"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
