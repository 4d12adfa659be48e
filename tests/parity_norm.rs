//! PyTorch parity of every normalization case in `tests/reference/norm.json`: outputs, input
//! and affine gradients, and the running statistics after a training step, in f64 and f32.

mod common;

use common::{assert_close, case, cases, check_forward_backward, Case};
use stensor::nn::*;
use stensor::prelude::*;

fn param<S: Shape, E: Element>(c: &Case, name: &str) -> Option<Tensor<S, E>> {
    c.has(&["params", name]).then(|| {
        let mut t = c.tensor::<S, E>(&["params", name]);
        t.set_requires_grad(true);
        t
    })
}

fn affine_ids<S: Shape, E: Element>(
    w: &Option<Tensor<S, E>>,
    b: &Option<Tensor<S, E>>,
) -> Vec<(&'static str, stensor::autograd::UniqueId)> {
    let mut v = vec![];
    if let (Some(w), Some(b)) = (w, b) {
        v.push(("weight", w.id()));
        v.push(("bias", b.id()));
    }
    v
}

fn check_running<C: ConstDim, E: Element>(c: &Case, r: &RunningStats<C, E>) {
    if !c.has(&["buffers_after"]) {
        return;
    }
    assert_close(
        &format!("{} running_mean", c.name()),
        r.mean.as_slice(),
        &c.data(&["buffers_after", "running_mean"]),
    );
    assert_close(
        &format!("{} running_var", c.name()),
        r.var.as_slice(),
        &c.data(&["buffers_after", "running_var"]),
    );
    let n = c.data(&["buffers_after", "num_batches_tracked"])[0] as usize;
    assert_eq!(r.num_batches_tracked, n, "{} num_batches_tracked", c.name());
}

macro_rules! batch_norm_case {
    ($name:literal, $E:ty, $layer:ident<$C:ty>, $x:ty) => {{
        let c = case("norm", $name);
        let cfg = c.config();
        let affine = cfg["affine"].as_bool().unwrap();
        let mut bn = $layer::<$C, $E>::new()
            .eps(cfg["eps"].as_f64().unwrap())
            .momentum(cfg["momentum"].as_f64())
            .affine(affine)
            .track_running_stats(true);
        bn.weight = param(&c, "weight");
        bn.bias = param(&c, "bias");
        bn.set_running_stats(RunningStats {
            mean: c.tensor(&["params", "running_mean"]),
            var: c.tensor(&["params", "running_var"]),
            num_batches_tracked: c.data(&["params", "num_batches_tracked"])[0] as usize,
        });
        if !c.0["train"].as_bool().unwrap() {
            bn.eval();
        }
        let ids = affine_ids(&bn.weight, &bn.bias);
        check_forward_backward::<$x, $x, $E, _>(&c, |x| bn.forward(x), &ids);
        check_running(&c, &bn.running_stats());
    }};
}

fn all<E: Element>() {
    batch_norm_case!(
        "batchnorm2d_train_affine1",
        E,
        BatchNorm2d<U3>,
        (U4, U3, U5, U5)
    );
    batch_norm_case!(
        "batchnorm2d_train_affine0",
        E,
        BatchNorm2d<U3>,
        (U4, U3, U5, U5)
    );
    batch_norm_case!("batchnorm2d_eval", E, BatchNorm2d<U3>, (U4, U3, U5, U5));
    batch_norm_case!("batchnorm1d_train", E, BatchNorm1d<U4>, (U6, U4));

    let c = case("norm", "layernorm_seed");
    let mut ln = LayerNorm::<(U2, U4), E>::new();
    ln.weight = param(&c, "weight");
    ln.bias = param(&c, "bias");
    let ids = affine_ids(&ln.weight, &ln.bias);
    check_forward_backward::<(U2, U2, U4), (U2, U2, U4), E, _>(&c, |x| ln.forward(x), &ids);
    let c = case("norm", "layernorm_last");
    let mut ln = LayerNorm::<(U5,), E>::new();
    ln.weight = param(&c, "weight");
    ln.bias = param(&c, "bias");
    let ids = affine_ids(&ln.weight, &ln.bias);
    check_forward_backward::<(U2, U3, U5), (U2, U3, U5), E, _>(&c, |x| ln.forward(x), &ids);

    let c = case("norm", "instancenorm1d_seed");
    let inn = InstanceNorm1d::<U2, E>::new();
    check_forward_backward::<(U2, U2, U4), (U2, U2, U4), E, _>(&c, |x| inn.forward(x), &[]);
    let c = case("norm", "instancenorm2d");
    let mut inn = InstanceNorm2d::<U3, E>::new()
        .eps(1e-5)
        .momentum(Some(0.1))
        .affine(true)
        .track_running_stats(false);
    inn.weight = param(&c, "weight");
    inn.bias = param(&c, "bias");
    let ids = affine_ids(&inn.weight, &inn.bias);
    check_forward_backward::<(U2, U3, U4, U4), (U2, U3, U4, U4), E, _>(
        &c,
        |x| inn.forward(x),
        &ids,
    );

    let c = case("norm", "groupnorm_seed_g1");
    let gn = GroupNorm::<U1, U2, E>::new().eps(1e-5).affine(false);
    check_forward_backward::<(U2, U2, U4), (U2, U2, U4), E, _>(&c, |x| gn.forward(x), &[]);
    let c = case("norm", "groupnorm_seed_g2");
    let gn = GroupNorm::<U2, U2, E>::new().eps(1e-5).affine(false);
    check_forward_backward::<(U2, U2, U4), (U2, U2, U4), E, _>(&c, |x| gn.forward(x), &[]);
    let c = case("norm", "groupnorm_affine");
    let mut gn = GroupNorm::<U2, U4, E>::new();
    gn.weight = param(&c, "weight");
    gn.bias = param(&c, "bias");
    let ids = affine_ids(&gn.weight, &gn.bias);
    check_forward_backward::<(U2, U4, U3, U3), (U2, U4, U3, U3), E, _>(&c, |x| gn.forward(x), &ids);
}

#[test]
fn normalization_matches_pytorch() {
    all::<f64>();
    all::<f32>();
    assert_eq!(
        cases("norm").len(),
        11,
        "norm.json gained cases: add them above"
    );
}

fn running_from<C: ConstDim, E: Element>(c: &Case) -> RunningStats<C, E> {
    RunningStats {
        mean: c.tensor(&["params", "running_mean"]),
        var: c.tensor(&["params", "running_var"]),
        num_batches_tracked: c.data(&["params", "num_batches_tracked"])[0] as usize,
    }
}

/// `tests/reference/norm_extra.json`: the cumulative average (`momentum=None`), instance norm
/// with running statistics in training and evaluation, and 3-d batch norm.
fn extra<E: Element>() {
    let c = case("norm_extra", "batchnorm1d_cumulative");
    let mut bn = BatchNorm1d::<U3, E>::new()
        .eps(1e-5)
        .momentum(None)
        .affine(true)
        .track_running_stats(true);
    bn.weight = param(&c, "weight");
    bn.bias = param(&c, "bias");
    bn.set_running_stats(running_from(&c));
    let ids = affine_ids(&bn.weight, &bn.bias);
    check_forward_backward::<(U5, U3, U4), (U5, U3, U4), E, _>(&c, |x| bn.forward(x), &ids);
    check_running(&c, &bn.running_stats());

    let c = case("norm_extra", "instancenorm1d_track_train");
    let inn = InstanceNorm1d::<U2, E>::new()
        .eps(1e-5)
        .momentum(Some(0.2))
        .affine(false)
        .track_running_stats(true);
    inn.set_running_stats(running_from(&c));
    check_forward_backward::<(U3, U2, U5), (U3, U2, U5), E, _>(&c, |x| inn.forward(x), &[]);
    check_running(&c, &inn.running_stats());

    let c = case("norm_extra", "instancenorm2d_track_eval");
    let mut inn = InstanceNorm2d::<U2, E>::new()
        .eps(1e-5)
        .momentum(Some(0.1))
        .affine(true)
        .track_running_stats(true);
    inn.weight = param(&c, "weight");
    inn.bias = param(&c, "bias");
    inn.set_running_stats(running_from(&c));
    inn.eval();
    let ids = affine_ids(&inn.weight, &inn.bias);
    check_forward_backward::<(U2, U2, U3, U3), (U2, U2, U3, U3), E, _>(
        &c,
        |x| inn.forward(x),
        &ids,
    );
    check_running(&c, &inn.running_stats());

    let c = case("norm_extra", "batchnorm3d_train");
    let mut bn = BatchNorm3d::<U2, E>::new()
        .eps(1e-5)
        .momentum(Some(0.3))
        .affine(true)
        .track_running_stats(true);
    bn.weight = param(&c, "weight");
    bn.bias = param(&c, "bias");
    bn.set_running_stats(running_from(&c));
    let ids = affine_ids(&bn.weight, &bn.bias);
    check_forward_backward::<(U3, U2, U2, U3, U2), (U3, U2, U2, U3, U2), E, _>(
        &c,
        |x| bn.forward(x),
        &ids,
    );
    check_running(&c, &bn.running_stats());
}

#[test]
fn running_statistics_paths_match_pytorch() {
    extra::<f64>();
    extra::<f32>();
}

/// The functional forms (`F.batch_norm`, `F.instance_norm`, running statistics passed in)
/// reproduce PyTorch's cases as the layers do.
fn functional<E: Element>() {
    use stensor::nn::functional as F;
    let c = case("norm_extra", "batchnorm3d_train");
    let (w, b) = (
        param::<(U2,), E>(&c, "weight"),
        param::<(U2,), E>(&c, "bias"),
    );
    let mut running = running_from::<U2, E>(&c);
    let ids = affine_ids(&w, &b);
    check_forward_backward::<(U3, U2, U2, U3, U2), (U3, U2, U2, U3, U2), E, _>(
        &c,
        |x| {
            F::batch_norm(
                x,
                Some(&mut running),
                w.as_ref(),
                b.as_ref(),
                true,
                Some(0.3),
                1e-5,
            )
        },
        &ids,
    );
    check_running(&c, &running);

    let c = case("norm_extra", "instancenorm1d_track_train");
    let mut running = running_from::<U2, E>(&c);
    check_forward_backward::<(U3, U2, U5), (U3, U2, U5), E, _>(
        &c,
        |x| F::instance_norm(x, Some(&mut running), None, None, true, 0.2, 1e-5),
        &[],
    );
    check_running(&c, &running);
}

#[test]
fn functional_norms_match_pytorch() {
    functional::<f64>();
    functional::<f32>();
}

#[test]
#[should_panic(expected = "Expected more than 1 value per channel when training")]
fn batch_norm_without_running_stats_needs_two_values_per_channel_as_pytorch() {
    let mut bn = BatchNorm1d::<U2>::new().track_running_stats(false);
    bn.eval(); // PyTorch still normalizes with batch statistics here
    bn.forward(Tensor::<(U1, U2)>::ones());
}

#[test]
#[should_panic(expected = "Expected more than 1 spatial element when training")]
fn instance_norm_needs_two_spatial_elements_as_pytorch() {
    InstanceNorm1d::<U2>::new().forward(Tensor::<(U1, U2, U1)>::ones());
}

#[test]
#[should_panic(expected = "running statistics are needed out of training")]
fn batch_norm_out_of_training_needs_running_stats_as_pytorch() {
    Tensor::<(U2, U2)>::ones().batch_norm::<U2>(None, None, None, false, Some(0.1), 1e-5);
}
