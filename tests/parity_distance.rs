//! PyTorch parity of the losses of `tests/reference/distance.json` that stensor has so far
//! (SoftMargin, HingeEmbedding, PoissonNLL, MarginRanking, GaussianNLL, MultiLabelSoftMargin,
//! CosineEmbedding, TripletMargin, TripletMarginWithDistance) and the distances
//! (PairwiseDistance, CosineSimilarity), value and gradients, in f64 and f32, every case of
//! each.

mod common;

use common::{assert_close, case, cases, check_forward_backward, Case};
use stensor::loss::*;
use stensor::prelude::*;

fn reduction(c: &Case) -> Option<Reduction> {
    match c.config()["reduction"].as_str() {
        Some("mean") => Some(Reduction::Mean),
        Some("sum") => Some(Reduction::Sum),
        Some("none") => None,
        r => panic!("{}: reduction {r:?}", c.name()),
    }
}

/// The names of the cases of `kind`.
fn of_kind(kind: &str) -> Vec<String> {
    let names: Vec<String> = cases("distance")
        .iter()
        .filter(|c| c.0["kind"] == kind)
        .map(|c| c.name().to_string())
        .collect();
    assert!(!names.is_empty(), "no {kind} cases");
    names
}

/// A pointwise loss case on `(3, 4)` inputs: `make` builds the loss from the case's config.
fn pointwise<E: Element, L>(
    kind: &str,
    make: impl Fn(&Case) -> L,
    none: impl Fn(
        &L,
        Tensor<(U3, U4), E, Tape<E>>,
        &Tensor<(U3, U4), E>,
    ) -> Tensor<(U3, U4), E, Tape<E>>,
    reduced: impl Fn(
        &L,
        Reduction,
        Tensor<(U3, U4), E, Tape<E>>,
        &Tensor<(U3, U4), E>,
    ) -> Tensor<(), E, Tape<E>>,
) {
    for name in of_kind(kind) {
        let c = case("distance", &name);
        let loss = make(&c);
        let t = c.tensor::<(U3, U4), E>(&["inputs", "target"]);
        match reduction(&c) {
            Some(r) => {
                check_forward_backward::<(U3, U4), (), E, _>(&c, |x| reduced(&loss, r, x, &t), &[])
            }
            None => {
                check_forward_backward::<(U3, U4), (U3, U4), E, _>(&c, |x| none(&loss, x, &t), &[])
            }
        }
    }
}

fn run<E: Element>() {
    pointwise::<E, _>(
        "SoftMarginLoss",
        |_| SoftMarginLoss::default(),
        |l, x, t| l.forward_none(x, t),
        |_, r, x, t| SoftMarginLoss { reduction: r }.forward(x, t),
    );
    pointwise::<E, _>(
        "HingeEmbeddingLoss",
        |c| HingeEmbeddingLoss {
            margin: c.config()["margin"].as_f64().unwrap(),
            ..Default::default()
        },
        |l, x, t| l.forward_none(x, t),
        |l, r, x, t| HingeEmbeddingLoss { reduction: r, ..*l }.forward(x, t),
    );
    pointwise::<E, _>(
        "PoissonNLLLoss",
        |c| {
            let cfg = c.config();
            PoissonNLLLoss {
                log_input: cfg["log_input"].as_bool().unwrap(),
                full: cfg["full"].as_bool().unwrap(),
                eps: cfg["eps"].as_f64().unwrap(),
                ..Default::default()
            }
        },
        |l, x, t| l.forward_none(x, t),
        |l, r, x, t| PoissonNLLLoss { reduction: r, ..*l }.forward(x, t),
    );
    for name in of_kind("MarginRankingLoss") {
        let c = case("distance", &name);
        let x1 = c.tensor::<(U6,), E>(&["inputs", "x1"]).trace();
        let x2 = c.tensor::<(U6,), E>(&["inputs", "x2"]).trace();
        let t = c.tensor::<(U6,), E>(&["inputs", "target"]);
        let margin = c.config()["margin"].as_f64().unwrap();
        let go = c
            .data(&["grad_output"])
            .into_iter()
            .map(E::from_f64)
            .collect::<Vec<_>>();
        let g = match reduction(&c) {
            Some(r) => {
                let l = MarginRankingLoss {
                    reduction: r,
                    margin,
                }
                .forward(x1.clone(), &x2, &t);
                assert_close(&name, l.as_slice(), &c.data(&["output"]));
                l.backward_with(&Tensor::from_vec_shaped((), go).unwrap())
            }
            None => {
                let l = MarginRankingLoss {
                    margin,
                    ..Default::default()
                }
                .forward_none(x1.clone(), &x2, &t);
                assert_close(&name, l.as_slice(), &c.data(&["output"]));
                l.backward_with(&Tensor::from_vec_shaped(l.shape(), go).unwrap())
            }
        };
        assert_close(
            &format!("{name} grad x1"),
            g.get(&x1).unwrap().as_slice(),
            &c.data(&["grads", "x1"]),
        );
        assert_close(
            &format!("{name} grad x2"),
            g.get(&x2).unwrap().as_slice(),
            &c.data(&["grads", "x2"]),
        );
    }
}

fn run_more<E: Element>() {
    for name in of_kind("GaussianNLLLoss") {
        let c = case("distance", &name);
        let cfg = c.config();
        let loss = GaussianNLLLoss {
            full: cfg["full"].as_bool().unwrap(),
            eps: cfg["eps"].as_f64().unwrap(),
            ..Default::default()
        };
        let x = c.tensor::<(U4, U3), E>(&["inputs", "x"]).trace();
        let t = c.tensor::<(U4, U3), E>(&["inputs", "target"]);
        macro_rules! with_var {
            ($SV:ty) => {{
                let var = c.tensor::<$SV, E>(&["inputs", "var"]).trace();
                let g = match reduction(&c) {
                    Some(r) => {
                        let l = GaussianNLLLoss {
                            reduction: r,
                            ..loss
                        }
                        .forward(x.clone(), &t, &var);
                        assert_close(&name, l.as_slice(), &c.data(&["output"]));
                        l.backward()
                    }
                    None => {
                        let l = loss.forward_none(x.clone(), &t, &var);
                        assert_close(&name, l.as_slice(), &c.data(&["output"]));
                        let go = c
                            .data(&["grad_output"])
                            .into_iter()
                            .map(E::from_f64)
                            .collect();
                        l.backward_with(&Tensor::from_vec_shaped(l.shape(), go).unwrap())
                    }
                };
                assert_close(
                    &format!("{name} grad x"),
                    g.get(&x).unwrap().as_slice(),
                    &c.data(&["grads", "x"]),
                );
                assert_close(
                    &format!("{name} grad var"),
                    g.get(&var).unwrap().as_slice(),
                    &c.data(&["grads", "var"]),
                );
            }};
        }
        match c.dims(&["inputs", "var"]).as_slice() {
            [4, 3] => with_var!((U4, U3)),
            _ => with_var!((U4, U1)),
        }
    }
    for name in of_kind("MultiLabelSoftMarginLoss") {
        let c = case("distance", &name);
        let weight = c.config()["weight"]
            .as_array()
            .map(|w| w.iter().map(|v| v.as_f64().unwrap()).collect());
        let t = c.tensor::<(U3, U5), E>(&["inputs", "target"]);
        match reduction(&c) {
            Some(r) => {
                let l = MultiLabelSoftMarginLoss {
                    reduction: r,
                    weight,
                };
                check_forward_backward::<(U3, U5), (), E, _>(&c, |x| l.forward(x, &t), &[])
            }
            None => {
                let l = MultiLabelSoftMarginLoss {
                    weight,
                    ..Default::default()
                };
                check_forward_backward::<(U3, U5), (U3,), E, _>(&c, |x| l.forward_none(x, &t), &[])
            }
        }
    }
}

/// An input and its name in the case.
type Named<'a, S, E> = (&'a str, &'a Tensor<S, E, Tape<E>>);

/// Checks `out` (a loss or distances) and the gradients of `inputs` (named as in the case).
fn check_out_and_grads<S: Shape, SX: Shape, E: Element>(
    c: &Case,
    out: Tensor<S, E, Tape<E>>,
    inputs: &[Named<'_, SX, E>],
) {
    let name = c.name();
    assert_eq!(&out.dims()[..], &c.dims(&["output"])[..], "{name} dims");
    assert_close(name, out.as_slice(), &c.data(&["output"]));
    let go = c
        .data(&["grad_output"])
        .into_iter()
        .map(E::from_f64)
        .collect();
    let g = out.backward_with(&Tensor::from_vec_shaped(out.shape(), go).unwrap());
    for (n, x) in inputs {
        assert_close(
            &format!("{name} grad {n}"),
            g.get(*x).unwrap().as_slice(),
            &c.data(&["grads", n]),
        );
    }
}

fn run_distances<E: Element>() {
    use stensor::nn::PairwiseDistance;
    for name in of_kind("PairwiseDistance") {
        let c = case("distance", &name);
        let cfg = c.config();
        let d = PairwiseDistance {
            p: cfg["p"].as_f64().unwrap(),
            eps: cfg["eps"].as_f64().unwrap(),
        };
        let x1 = c.tensor::<(U3, U5), E>(&["inputs", "x1"]).trace();
        let x2 = c.tensor::<(U3, U5), E>(&["inputs", "x2"]).trace();
        let inputs = [("x1", &x1), ("x2", &x2)];
        if cfg["keepdim"].as_bool().unwrap() {
            check_out_and_grads(&c, d.forward_keepdim(x1.clone(), &x2), &inputs);
        } else {
            check_out_and_grads(&c, d.forward(x1.clone(), &x2), &inputs);
        }
    }
    for name in of_kind("CosineSimilarity") {
        let c = case("distance", &name);
        let eps = c.config()["eps"].as_f64().unwrap();
        macro_rules! cos {
            ($S:ty, $I:literal) => {{
                let x1 = c.tensor::<$S, E>(&["inputs", "x1"]).trace();
                let x2 = c.tensor::<$S, E>(&["inputs", "x2"]).trace();
                let y = stensor::nn::CosineSimilarity::<$I> { eps }.forward(x1.clone(), &x2);
                check_out_and_grads(&c, y, &[("x1", &x1), ("x2", &x2)]);
            }};
        }
        match (
            c.config()["dim"].as_u64().unwrap(),
            c.dims(&["inputs", "x1"]).as_slice(),
        ) {
            (1, [3, 5]) => cos!((U3, U5), 1),
            (0, [4, 3]) => cos!((U4, U3), 0),
            (2, [2, 3, 4]) => cos!((U2, U3, U4), 2),
            d => panic!("{name}: {d:?}"),
        }
    }
    for name in of_kind("CosineEmbeddingLoss") {
        let c = case("distance", &name);
        let x1 = c.tensor::<(U4, U5), E>(&["inputs", "x1"]).trace();
        let x2 = c.tensor::<(U4, U5), E>(&["inputs", "x2"]).trace();
        let t = c.tensor::<(U4,), E>(&["inputs", "target"]);
        let margin = c.config()["margin"].as_f64().unwrap();
        let none = CosineEmbeddingLoss {
            margin,
            ..Default::default()
        }
        .forward_none(x1.clone(), &x2, &t);
        let inputs = [("x1", &x1), ("x2", &x2)];
        match reduction(&c) {
            None => check_out_and_grads(&c, none, &inputs),
            Some(Reduction::Mean) => check_out_and_grads(&c, none.mean(), &inputs),
            Some(Reduction::Sum) => check_out_and_grads(&c, none.sum(), &inputs),
        }
    }
    for kind in ["TripletMarginLoss", "TripletMarginWithDistanceLoss"] {
        for name in of_kind(kind) {
            let c = case("distance", &name);
            let cfg = c.config();
            let [a, p, n] = ["anchor", "positive", "negative"]
                .map(|k| c.tensor::<(U4, U5), E>(&["inputs", k]).trace());
            let inputs = [("anchor", &a), ("positive", &p), ("negative", &n)];
            let (margin, swap) = (
                cfg["margin"].as_f64().unwrap(),
                cfg["swap"].as_bool().unwrap(),
            );
            let none = if kind == "TripletMarginLoss" {
                let l = TripletMarginLoss {
                    margin,
                    swap,
                    p: cfg["p"].as_f64().unwrap(),
                    eps: cfg["eps"].as_f64().unwrap(),
                    ..Default::default()
                };
                l.forward_none(a.clone(), &p, &n)
            } else {
                TripletMarginWithDistanceLoss {
                    margin,
                    swap,
                    ..Default::default()
                }
                .forward_none(a.clone(), &p, &n)
            };
            match reduction(&c) {
                None => check_out_and_grads(&c, none, &inputs),
                Some(Reduction::Mean) => check_out_and_grads(&c, none.mean(), &inputs),
                Some(Reduction::Sum) => check_out_and_grads(&c, none.sum(), &inputs),
            }
        }
    }
}

#[test]
fn pairwise_distance_and_triplet_losses_match_pytorch() {
    run_distances::<f64>();
    run_distances::<f32>();
}

#[test]
fn gaussian_nll_and_multilabel_soft_margin_losses_match_pytorch() {
    run_more::<f64>();
    run_more::<f32>();
}

#[test]
fn margin_hinge_soft_margin_and_poisson_losses_match_pytorch() {
    run::<f64>();
    run::<f32>();
}
