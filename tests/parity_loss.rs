//! PyTorch parity of every loss case in `tests/reference/loss.json` (value and input gradient),
//! in f64 and f32.

mod common;

use common::{case, cases, check_forward_backward, Case};
use stensor::loss::*;
use stensor::prelude::*;

fn reduction(c: &Case) -> Option<Reduction> {
    match c.config()["reduction"].as_str() {
        None | Some("mean") => Some(Reduction::Mean),
        Some("sum") => Some(Reduction::Sum),
        Some("none") => None,
        Some(r) => panic!("unknown reduction {r}"),
    }
}

fn targets(c: &Case) -> Vec<usize> {
    c.data(&["inputs", "target"])
        .iter()
        .map(|&t| t as usize)
        .collect()
}

macro_rules! pointwise {
    ($name:literal, $E:ty, $loss:ident, $S:ty) => {{
        let c = case("loss", $name);
        let t = c.tensor::<$S, $E>(&["inputs", "target"]);
        match reduction(&c) {
            Some(r) => {
                let mut l = $loss::default();
                l.reduction = r;
                check_forward_backward::<$S, (), $E, _>(&c, |x| l.forward(x, &t), &[]);
            }
            None => {
                let l = $loss::default();
                check_forward_backward::<$S, $S, $E, _>(&c, |x| l.forward_none(x, &t), &[]);
            }
        }
    }};
}

fn cross_entropy<E: Element>(name: &str) {
    let c = case("loss", name);
    let cfg = c.config();
    let ce = CrossEntropyLoss {
        reduction: reduction(&c).unwrap_or_default(),
        weight: cfg["weight"]
            .as_array()
            .map(|w| w.iter().map(|v| v.as_f64().unwrap()).collect()),
        ignore_index: cfg["ignore_index"].as_i64().unwrap_or(-100),
        label_smoothing: cfg["label_smoothing"].as_f64().unwrap_or(0.0),
    };
    let t = targets(&c);
    match (c.dims(&["inputs", "x"]).as_slice(), reduction(&c)) {
        ([1, 3], _) => check_forward_backward::<(U1, U3), (), E, _>(&c, |x| ce.forward(x, &t), &[]),
        ([6, 4], Some(_)) => {
            check_forward_backward::<(U6, U4), (), E, _>(&c, |x| ce.forward(x, &t), &[])
        }
        ([6, 4], None) => {
            check_forward_backward::<(U6, U4), (U6,), E, _>(&c, |x| ce.forward_none(x, &t), &[])
        }
        ([2, 3, 2, 2], _) => {
            check_forward_backward::<(U2, U3, U2, U2), (), E, _>(&c, |x| ce.forward(x, &t), &[])
        }
        (d, _) => panic!("{name}: no test for input dims {d:?}"),
    }
}

fn all<E: Element>() {
    type Seed = (U1, U1, U1, U3);
    pointwise!("l1_seed_mean", E, L1Loss, Seed);
    pointwise!("mse_seed_mean", E, MSELoss, Seed);
    pointwise!("l1_seed_sum", E, L1Loss, Seed);
    pointwise!("mse_seed_sum", E, MSELoss, Seed);
    pointwise!("l1_seed_none", E, L1Loss, Seed);
    pointwise!("mse_seed_none", E, MSELoss, Seed);
    pointwise!("l1_rand", E, L1Loss, (U3, U5));
    for name in [
        "cross_entropy_seed",
        "cross_entropy_mean",
        "cross_entropy_sum",
        "cross_entropy_none",
        "cross_entropy_weight",
        "cross_entropy_ignore",
        "cross_entropy_smooth",
        "cross_entropy_spatial",
    ] {
        cross_entropy::<E>(name);
    }
}

#[test]
fn losses_match_pytorch() {
    all::<f64>();
    all::<f32>();
    assert_eq!(
        cases("loss").len(),
        15,
        "loss.json gained cases: add them above"
    );
}

/// The combinations `gen_extra.py` adds (`tests/reference/loss_extra.json`).
fn extra<E: Element>() {
    type S = (U4, U5);
    let c = case("loss_extra", "nll_weight_ignore");
    let nll = NLLLoss {
        weight: Some(vec![1.0, 2.0, 0.5, 1.0, 3.0]),
        ignore_index: 0,
        ..Default::default()
    };
    check_forward_backward::<S, (), E, _>(&c, |x| nll.forward(x, &targets(&c)), &[]);
    let c = case("loss_extra", "nll_none");
    check_forward_backward::<S, (U4,), E, _>(
        &c,
        |x| NLLLoss::default().forward_none(x, &targets(&c)),
        &[],
    );
    let c = case("loss_extra", "ce_weight_ignore_smooth");
    let ce = CrossEntropyLoss {
        weight: Some(vec![1.0, 2.0, 0.5, 1.0, 3.0]),
        ignore_index: 4,
        label_smoothing: 0.2,
        ..Default::default()
    };
    check_forward_backward::<S, (), E, _>(&c, |x| ce.forward(x, &targets(&c)), &[]);
    let c = case("loss_extra", "ce_probs_weight_smooth");
    let ce = CrossEntropyLoss {
        weight: Some(vec![1.0, 2.0, 0.5, 1.0, 3.0]),
        label_smoothing: 0.1,
        ..Default::default()
    };
    let p = c.tensor::<S, E>(&["inputs", "target"]);
    check_forward_backward::<S, (), E, _>(&c, |x| ce.forward_probs(x, &p), &[]);
    let c = case("loss_extra", "ce_probs_sum");
    let ce = CrossEntropyLoss {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    let p = c.tensor::<S, E>(&["inputs", "target"]);
    check_forward_backward::<S, (), E, _>(&c, |x| ce.forward_probs(x, &p), &[]);
    let c = case("loss_extra", "ce_spatial_none_smooth");
    let ce = CrossEntropyLoss {
        label_smoothing: 0.3,
        ..Default::default()
    };
    check_forward_backward::<(U2, U3, U2, U2), (U2, U2, U2), E, _>(
        &c,
        |x| ce.forward_none(x, &targets(&c)),
        &[],
    );

    type B = (U3, U4);
    let c = case("loss_extra", "bce_mean");
    let t = c.tensor::<B, E>(&["inputs", "target"]);
    check_forward_backward::<B, (), E, _>(&c, |x| BCELoss::default().forward(x, &t), &[]);
    let c = case("loss_extra", "bce_sum_clamped");
    let t = c.tensor::<B, E>(&["inputs", "target"]);
    check_forward_backward::<B, (), E, _>(
        &c,
        |x| {
            BCELoss {
                reduction: Reduction::Sum,
            }
            .forward(x, &t)
        },
        &[],
    );
    let c = case("loss_extra", "bce_logits_pos_weight");
    let t = c.tensor::<B, E>(&["inputs", "target"]);
    let l = BCEWithLogitsLoss {
        pos_weight: Some(vec![1.0, 2.0, 0.5, 3.0]),
        ..Default::default()
    };
    check_forward_backward::<B, (), E, _>(&c, |x| l.forward(x, &t), &[]);
    let c = case("loss_extra", "bce_logits_none_extreme");
    let t = c.tensor::<(U1, U4), E>(&["inputs", "target"]);
    check_forward_backward::<(U1, U4), (U1, U4), E, _>(
        &c,
        |x| BCEWithLogitsLoss::default().forward_none(x, &t),
        &[],
    );
    let c = case("loss_extra", "smooth_l1_beta");
    let t = c.tensor::<B, E>(&["inputs", "target"]);
    check_forward_backward::<B, (), E, _>(
        &c,
        |x| {
            SmoothL1Loss {
                beta: 0.5,
                ..Default::default()
            }
            .forward(x, &t)
        },
        &[],
    );
    let c = case("loss_extra", "huber_delta_sum");
    let t = c.tensor::<B, E>(&["inputs", "target"]);
    check_forward_backward::<B, (), E, _>(
        &c,
        |x| {
            HuberLoss {
                delta: 0.7,
                reduction: Reduction::Sum,
            }
            .forward(x, &t)
        },
        &[],
    );
    let c = case("loss_extra", "kl_div_batchmean");
    let t = c.tensor::<S, E>(&["inputs", "target"]);
    check_forward_backward::<S, (), E, _>(
        &c,
        |x| {
            KLDivLoss {
                reduction: KLReduction::BatchMean,
                log_target: false,
            }
            .forward(x, &t)
        },
        &[],
    );
    let c = case("loss_extra", "kl_div_log_target_mean");
    let t = c.tensor::<S, E>(&["inputs", "target"]);
    check_forward_backward::<S, (), E, _>(
        &c,
        |x| {
            KLDivLoss {
                reduction: KLReduction::Mean,
                log_target: true,
            }
            .forward(x, &t)
        },
        &[],
    );
}

#[test]
fn extra_losses_match_pytorch() {
    extra::<f64>();
    extra::<f32>();
    assert_eq!(
        cases("loss_extra").len(),
        14,
        "loss_extra.json gained cases: add them above"
    );
}

/// PyTorch's targets are `int64`: a padding label such as `-1` (or the default `-100`) in a
/// signed target list is ignored exactly as if its positions were absent.
#[test]
fn signed_targets_with_a_negative_ignore_index_drop_their_positions() {
    let logits = Tensor::<(U3, U4), f64>::from_array([
        [0.5, -1.0, 2.0, 0.0],
        [1.5, 0.25, -0.5, 3.0],
        [0.0, 1.0, 0.0, -2.0],
    ]);
    let kept = Tensor::<(U2, U4), f64>::from_array([[0.5, -1.0, 2.0, 0.0], [0.0, 1.0, 0.0, -2.0]]);
    let expect = CrossEntropyLoss::default()
        .forward(kept, &[2usize, 1])
        .item();
    let ce = CrossEntropyLoss {
        ignore_index: -1,
        ..Default::default()
    };
    assert_eq!(ce.forward(logits.clone(), &[2i64, -1, 1]).item(), expect);
    // the default -100 is PyTorch's padding label
    let padded = CrossEntropyLoss::default().forward(logits, &[2i64, -100, 1]);
    assert_eq!(padded.item(), expect);
}

#[test]
#[should_panic(expected = "target -1 is out of bounds for 4 classes")]
fn a_negative_target_that_is_not_ignored_is_out_of_bounds() {
    CrossEntropyLoss::default().forward(Tensor::<(U1, U4)>::zeros(), &[-1i64]);
}
