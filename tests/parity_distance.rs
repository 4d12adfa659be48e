//! PyTorch parity of every case of `tests/reference/distance.json`: the distances
//! (PairwiseDistance, CosineSimilarity, `cdist`, `pdist`) and the losses (SoftMargin,
//! HingeEmbedding, PoissonNLL, MarginRanking, GaussianNLL, MultiLabelSoftMargin,
//! CosineEmbedding, TripletMargin, TripletMarginWithDistance, MultiMargin, MultiLabelMargin,
//! CTC), value and gradients, in f64 and f32.

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

/// The integer tensor at `path` of the case.
fn ids(c: &Case, path: &[&str]) -> Vec<i64> {
    c.data(path).into_iter().map(|v| v as i64).collect()
}

fn run_all_pairs<E: Element>() {
    for name in of_kind("torch.cdist") {
        let c = case("distance", &name);
        let p = c.config()["p"].as_f64().unwrap();
        macro_rules! cdist {
            ($S1:ty, $S2:ty) => {{
                let x1 = c.tensor::<$S1, E>(&["inputs", "x1"]).trace();
                let x2 = c.tensor::<$S2, E>(&["inputs", "x2"]).trace();
                let y = x1.clone().cdist(&x2, p);
                check_out_and_grads(&c, y, &[("x1", &x1)]);
                let y = x1.clone().cdist(&x2, p);
                check_out_and_grads(&c, y, &[("x2", &x2)]);
            }};
        }
        match c.dims(&["inputs", "x1"]).as_slice() {
            [2, 4, 3] => cdist!((U2, U4, U3), (U2, U5, U3)),
            [4, 3] => cdist!((U4, U3), (U5, U3)),
            [3, 4] => cdist!((U3, U4), (U2, U4)),
            d => panic!("{name}: {d:?}"),
        }
    }
    for name in of_kind("F.pdist") {
        let c = case("distance", &name);
        let x = c.tensor::<(U5, U3), E>(&["inputs", "x"]).trace();
        let y: Tensor<(U10,), E, Tape<E>> = x.clone().pdist(c.config()["p"].as_f64().unwrap());
        check_out_and_grads(&c, y, &[("x", &x)]);
    }
    for name in of_kind("MultiMarginLoss") {
        let c = case("distance", &name);
        let cfg = c.config();
        let x = c.tensor::<(U4, U5), E>(&["inputs", "x"]).trace();
        let t = ids(&c, &["inputs", "target"]);
        let l = MultiMarginLoss {
            p: cfg["p"].as_u64().unwrap() as u32,
            margin: cfg["margin"].as_f64().unwrap(),
            weight: cfg["weight"]
                .as_array()
                .map(|w| w.iter().map(|v| v.as_f64().unwrap()).collect()),
            ..Default::default()
        };
        match reduction(&c) {
            None => check_out_and_grads(&c, l.forward_none(x.clone(), &t), &[("x", &x)]),
            Some(r) => {
                let l = MultiMarginLoss { reduction: r, ..l };
                check_out_and_grads(&c, l.forward(x.clone(), &t), &[("x", &x)])
            }
        }
    }
    for name in of_kind("MultiLabelMarginLoss") {
        let c = case("distance", &name);
        let x = c.tensor::<(U3, U5), E>(&["inputs", "x"]).trace();
        let t = Indices::<(U3, U5)>::from_vec(ids(&c, &["inputs", "target"])).unwrap();
        match reduction(&c) {
            None => check_out_and_grads(
                &c,
                MultiLabelMarginLoss::default().forward_none(x.clone(), &t),
                &[("x", &x)],
            ),
            Some(r) => check_out_and_grads(
                &c,
                MultiLabelMarginLoss { reduction: r }.forward(x.clone(), &t),
                &[("x", &x)],
            ),
        }
    }
}

fn run_ctc<E: Element>() {
    for name in of_kind("CTCLoss") {
        let c = case("distance", &name);
        let cfg = c.config();
        let loss = CTCLoss {
            blank: cfg["blank"].as_u64().unwrap() as usize,
            zero_infinity: cfg["zero_infinity"].as_bool().unwrap(),
            ..Default::default()
        };
        // frames, batch and targets at run time, as data decides them; classes static
        let dims = c.dims(&["inputs", "x"]);
        let x = Tensor::<(usize, usize, usize), E>::from_vec_shaped(
            (dims[0], dims[1], dims[2]),
            c.data(&["inputs", "x"])
                .into_iter()
                .map(E::from_f64)
                .collect(),
        )
        .unwrap()
        .trace();
        let lp = x.clone().log_softmax::<2>();
        let (il, tl) = (
            ids(&c, &["inputs", "input_lengths"]),
            ids(&c, &["inputs", "target_lengths"]),
        );
        let td = c.dims(&["inputs", "targets"]);
        let labels = ids(&c, &["inputs", "targets"]);
        // padded (N, S) or concatenated, as the case has them
        let t: Box<dyn CtcTargets> = match td.as_slice() {
            [n, s] => Box::new(Indices::from_vec_shaped((*n, *s), labels).unwrap()),
            [len] => Box::new(Indices::from_vec_shaped((*len,), labels).unwrap()),
            d => panic!("{name}: targets {d:?}"),
        };
        match reduction(&c) {
            None => {
                let l = loss.forward_none(lp, &*t, &il, &tl).unwrap();
                check_out_and_grads(&c, l, &[("x", &x)]);
            }
            Some(r) => {
                let loss = CTCLoss {
                    reduction: r,
                    ..loss
                };
                let l = loss.forward(lp, &*t, &il, &tl).unwrap();
                check_out_and_grads(&c, l, &[("x", &x)]);
            }
        }
    }
}

#[test]
fn cdist_pdist_and_the_multi_class_margin_losses_match_pytorch() {
    run_all_pairs::<f64>();
    run_all_pairs::<f32>();
}

#[test]
fn ctc_loss_matches_pytorch_through_log_softmax() {
    run_ctc::<f64>();
    run_ctc::<f32>();
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
