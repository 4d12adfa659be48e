//! Finite-difference checks in f64 of the activations, normalizations, dropout and losses:
//! through the input, and through every learnable parameter.

mod common;

use common::param_fd;
use stensor::gradcheck::{check_gradients, check_gradients_with, GradCheck};
use stensor::loss::*;
use stensor::nn::*;
use stensor::prelude::*;

fn rand<S: ConstShape>(seed: u64, lo: f64, hi: f64) -> Tensor<S, f64> {
    Tensor::rand_uniform(seed, lo, hi)
}

/// Values at least 0.05 from every kink in `kinks`.
fn away_from<S: ConstShape>(seed: u64, kinks: &[f64]) -> Tensor<S, f64> {
    let mut r = Rng::seed(seed);
    Tensor::from_fn(|_| loop {
        let v = r.uniform(-4.0, 4.0);
        if kinks.iter().all(|k| (v - k).abs() > 0.05) {
            break v;
        }
    })
}

macro_rules! check {
    ($x:expr, $f:expr) => {
        if let Err(e) = check_gradients($f, &$x) {
            panic!("{}: {}", stringify!($f), e);
        }
    };
}

type S = (U2, U3, U4);

#[test]
fn activations() {
    let x = rand::<S>(1, -4.0, 4.0);
    let k0 = away_from::<S>(2, &[0.0]);
    check!(x, |x| Sigmoid.forward(x));
    check!(x, |x| Tanh.forward(x));
    check!(k0, |x| ReLU.forward(x));
    check!(away_from::<S>(3, &[0.0, 6.0]), |x| ReLU6.forward(x));
    check!(k0, |x| LeakyReLU {
        negative_slope: 0.2
    }
    .forward(x));
    check!(k0, |x| ELU { alpha: 1.5 }.forward(x));
    check!(k0, |x| SELU.forward(x));
    check!(k0, |x| CELU { alpha: 0.7 }.forward(x));
    check!(x, |x| GELU::default().forward(x));
    check!(x, |x| GELU { approximate: true }.forward(x));
    check!(x, |x| Softplus {
        beta: 2.0,
        threshold: 3.0
    }
    .forward(x));
    check!(away_from::<S>(4, &[-0.5, 0.5]), |x| Softshrink::default()
        .forward(x));
    check!(away_from::<S>(5, &[-0.5, 0.5]), |x| Hardshrink::default()
        .forward(x));
    check!(x, |x| Tanhshrink.forward(x));
    check!(x, |x| LogSigmoid.forward(x));
    check!(away_from::<S>(6, &[-2.0, 3.0]), |x| Hardtanh {
        min_val: -2.0,
        max_val: 3.0
    }
    .forward(x));
    check!(x, |x| SiLU.forward(x));
    check!(x, |x| Mish.forward(x));
    check!(away_from::<S>(7, &[-3.0, 3.0]), |x| Hardswish.forward(x));
    check!(away_from::<S>(8, &[-3.0, 3.0]), |x| Hardsigmoid.forward(x));
    check!(x, |x| Softmax::<1>.forward(x));
    check!(x, |x| LogSoftmax::<2>.forward(x));
    check!(x, |x| Softmin::<0>.forward(x));
    // RReLU in training: the same seed draws the same slopes on every evaluation
    check!(k0, |x| RReLU::new(0.1, 0.4, 9).forward(x));
    let mut r = RReLU::new(0.1, 0.4, 9);
    r.eval();
    check!(k0, |x| r.forward(x));
}

#[test]
fn prelu_input_and_slopes() {
    let x = away_from::<(U2, U3, U4)>(10, &[0.0]);
    let p = PReLU::<U3, f64>::with_init(0.3);
    check!(x, |x| p.forward(x));
    let y = p.forward(x.clone().trace_no_grad());
    let g = y.sum().backward();
    param_fd(
        &p.weight,
        |w| PReLU { weight: w.clone() }.forward(x.clone()).sum().item(),
        g.slice(&p.weight).unwrap(),
        "prelu weight",
    );
}

#[test]
fn dropout_with_a_fixed_seed() {
    let x = rand::<(U2, U3, U4, U4)>(11, -1.0, 1.0);
    check!(x, |x| Dropout::new(0.3, 5).forward(x));
    check!(x, |x| Dropout2d::new(0.5, 5).forward(x));
}

type Affine<C> = (Option<Tensor<(C,), f64>>, Option<Tensor<(C,), f64>>);

fn affine<C: ConstDim>(seed: u64) -> Affine<C> {
    let mut w = rand::<(C,)>(seed, 0.5, 1.5);
    let mut b = rand::<(C,)>(seed + 1, -0.5, 0.5);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    (Some(w), Some(b))
}

/// Checks the input gradient and, through `param_fd`, the affine weight and bias of a norm
/// layer rebuilt by `make(weight, bias)`.
fn norm_layer<X, L, F>(x: Tensor<X, f64>, make: F)
where
    X: ConstShape,
    L: Forward<Tensor<X, f64, Tape<f64>>, Output = Tensor<X, f64, Tape<f64>>>
        + Forward<Tensor<X, f64>, Output = Tensor<X, f64>>,
    F: Fn(Option<Tensor<(U3,), f64>>, Option<Tensor<(U3,), f64>>) -> L,
{
    let (w, b) = affine::<U3>(20);
    let l = make(w.clone(), b.clone());
    if let Err(e) = check_gradients(|x| l.forward(x), &x) {
        panic!("norm input: {e}");
    }
    let wout = Tensor::<X, f64>::rand_uniform(21, 0.5, 1.5);
    let g = l
        .forward(x.clone().trace_no_grad())
        .mul(&wout)
        .sum()
        .backward();
    let (w, b) = (w.unwrap(), b.unwrap());
    let loss = |wv: &Tensor<(U3,), f64>, bv: &Tensor<(U3,), f64>| {
        make(Some(wv.clone()), Some(bv.clone()))
            .forward(x.clone())
            .mul(&wout)
            .sum()
            .item()
    };
    param_fd(&w, |wv| loss(wv, &b), g.slice(&w).unwrap(), "norm weight");
    param_fd(&b, |bv| loss(&w, bv), g.slice(&b).unwrap(), "norm bias");
}

#[test]
fn normalization() {
    let x = rand::<(U4, U3, U2, U3)>(30, -2.0, 2.0);
    norm_layer(x.clone(), |w, b| {
        let mut bn = BatchNorm2d::<U3, f64>::new();
        (bn.weight, bn.bias) = (w, b);
        bn
    });
    norm_layer(x.clone(), |w, b| {
        let mut bn = BatchNorm2d::<U3, f64>::new();
        (bn.weight, bn.bias) = (w, b);
        bn.set_running_stats(RunningStats {
            mean: Tensor::from_array([0.1, -0.2, 0.3]),
            var: Tensor::from_array([0.5, 1.5, 2.0]),
            num_batches_tracked: 3,
        });
        bn.eval();
        bn
    });
    norm_layer(x.clone(), |w, b| {
        let mut n = InstanceNorm2d::<U3, f64>::new()
            .eps(1e-5)
            .momentum(Some(0.1))
            .affine(true)
            .track_running_stats(false);
        (n.weight, n.bias) = (w, b);
        n
    });
    norm_layer(x.clone(), |w, b| {
        let mut n = GroupNorm::<U3, U3, f64>::new();
        (n.weight, n.bias) = (w, b);
        n
    });
    let x1 = rand::<(U4, U3, U5)>(31, -2.0, 2.0);
    norm_layer(x1, |w, b| {
        let mut bn = BatchNorm1d::<U3, f64>::new()
            .eps(1e-3)
            .momentum(None)
            .affine(true)
            .track_running_stats(true);
        (bn.weight, bn.bias) = (w, b);
        bn
    });
    let x3 = rand::<(U2, U3, U2, U2, U3)>(33, -2.0, 2.0);
    norm_layer(x3, |w, b| {
        let mut bn = BatchNorm3d::<U3, f64>::new();
        (bn.weight, bn.bias) = (w, b);
        bn
    });
    let xl = rand::<(U2, U3, U3)>(32, -2.0, 2.0);
    norm_layer(xl, |w, b| {
        let mut ln = LayerNorm::<(U3,), f64>::new();
        (ln.weight, ln.bias) = (w, b);
        ln
    });
    check!(rand::<(U2, U4, U2, U2)>(33, -2.0, 2.0), |x| GroupNorm::<
        U2,
        U4,
        f64,
    >::new()
    .eps(1e-5)
    .affine(false)
    .forward(x));
    check!(rand::<(U2, U2, U3)>(34, -2.0, 2.0), |x| LayerNorm::<
        (U2, U3),
        f64,
    >::new()
    .eps(1e-5)
    .elementwise_affine(false)
    .forward(x));
    // the ops with only one of weight and bias (the other PyTorch's identity)
    let w3 = rand::<(U3,)>(35, 0.5, 2.0);
    let b4 = rand::<(U4,)>(36, -1.0, 1.0);
    check!(rand::<(U2, U3)>(37, -2.0, 2.0), |x| x.layer_norm::<(U3,)>(
        Some(&w3),
        None,
        1e-5
    ));
    let x4 = rand::<(U2, U4, U3)>(38, -2.0, 2.0);
    check!(x4, |x| x.group_norm::<U2, U4>(None, Some(&b4), 1e-5));
}

#[test]
fn losses() {
    type L = (U3, U4);
    let x = rand::<L>(40, -2.0, 2.0);
    let t = rand::<L>(41, -2.0, 2.0);
    let away = away_from::<L>(42, &[]);
    let t_far = Tensor::<L, f64>::from_fn(|[i, j]| {
        away[[i, j]] + if (i + j) % 2 == 0 { 3.0 } else { -3.0 }
    });
    check!(away, |x| L1Loss::default().forward(x, &t_far));
    check!(x, |x| MSELoss::default().forward(x, &t));
    check!(x, |x| SmoothL1Loss {
        beta: 0.5,
        ..Default::default()
    }
    .forward(x, &t));
    check!(x, |x| HuberLoss {
        delta: 0.7,
        reduction: Reduction::Sum
    }
    .forward(x, &t));
    // targets of +-1 (and one of neither for the hinge's both-terms case), x away from the
    // hinge's kink at the margin
    let signs = Tensor::<L, f64>::from_fn(|[i, j]| [1.0, -1.0, 1.0, 0.5][(i + j) % 4]);
    check!(x, |x| SoftMarginLoss::default().forward(x, &signs));
    let off_kink = Tensor::<L, f64>::from_fn(|[i, j]| 0.37 * (i as f64) - 0.61 * (j as f64) + 0.05);
    check!(off_kink, |x| HingeEmbeddingLoss {
        margin: 0.8,
        ..Default::default()
    }
    .forward(x, &signs));
    let counts = rand::<L>(47, 0.0, 5.0);
    check!(x, |x| PoissonNLLLoss {
        full: true,
        ..Default::default()
    }
    .forward(x, &counts));
    let rates = rand::<L>(48, 0.2, 3.0);
    check!(rates, |x| PoissonNLLLoss {
        log_input: false,
        ..Default::default()
    }
    .forward(x, &counts));
    check!(off_kink, |x| MarginRankingLoss {
        margin: 0.3,
        ..Default::default()
    }
    .forward(x, &t, &signs));
    check!(off_kink, |x2| MarginRankingLoss {
        margin: 0.3,
        ..Default::default()
    }
    .forward(t.clone(), &x2, &signs));
    for p in [1.0, 2.0, 3.0, f64::INFINITY] {
        check!(away, |x| x.norm_axis::<1>(p));
    }
    let (a, pos, neg) = (
        rand::<L>(51, -1.0, 1.0),
        rand::<L>(52, -1.0, 1.0),
        rand::<L>(53, -1.0, 1.0),
    );
    let tl = TripletMarginLoss {
        margin: 2.0,
        swap: true,
        ..Default::default()
    };
    check!(a, |a| tl.forward(
        a,
        &pos.clone().trace_no_grad(),
        &neg.clone().trace_no_grad()
    ));
    check!(pos, |p| tl.forward(
        a.clone().trace_no_grad(),
        &p,
        &neg.clone().trace_no_grad()
    ));
    check!(neg, |n| tl.forward(
        a.clone().trace_no_grad(),
        &pos.clone().trace_no_grad(),
        &n
    ));
    // (norms above eps: below it PyTorch's gradient is not the derivative, see the parity case)
    check!(x, |x| x
        .cosine_similarity::<1, _>(&t.clone().trace_no_grad(), 1e-8));
    check!(x, |x| x
        .cosine_similarity::<0, _>(&t.clone().trace_no_grad(), 1e-8));
    let (x1, x2) = (
        rand::<(U4, U3)>(54, -1.0, 1.0),
        rand::<(U4, U3)>(55, -1.0, 1.0),
    );
    let pm = Tensor::<(U4,), f64>::from_array([1.0, -1.0, -1.0, 1.0]);
    check!(x1, |x| CosineEmbeddingLoss {
        margin: -0.9,
        ..Default::default()
    }
    .forward(x, &x2.clone().trace_no_grad(), &pm));
    // cdist and pdist for each order, both sides; random points never coincide
    let (pts, others) = (
        rand::<(U2, U3, U4)>(56, -1.0, 1.0),
        rand::<(U2, U5, U4)>(57, -1.0, 1.0),
    );
    for p in [0.0, 1.0, 1.5, 2.0, 3.0, f64::INFINITY] {
        check!(pts, |x| x.cdist(&others.clone().trace_no_grad(), p));
        check!(others, |y| pts.clone().trace_no_grad().cdist(&y, p));
        check!(x, |x| x.cdist(&t.clone().trace_no_grad(), p));
        check!(x, |x| x.pdist(p));
    }
    // the hinges away from their kinks: scores apart by more than the step of the check
    let spread =
        Tensor::<(U3, U5), f64>::from_fn(|[i, j]| ((i * 5 + j * 3) % 7) as f64 * 0.37 - 1.1);
    for (p, weight) in [(1, None), (2, Some(vec![1.0, 2.0, 0.5, 1.5, 3.0]))] {
        let mm = MultiMarginLoss {
            p,
            margin: 0.9,
            weight,
            ..Default::default()
        };
        check!(spread, |x| mm.forward(x, &[4, 0, 2]));
    }
    let lists =
        Indices::<(U3, U5)>::from_array([[3, 0, -1, 1, 2], [1, 2, 4, -1, 0], [4, -1, 0, 0, 0]]);
    check!(spread, |x| MultiLabelMarginLoss::default()
        .forward(x, &lists));
    // CTC with respect to the log-probabilities themselves (any values, not only
    // log_softmax's: the gradient is the plain partial derivative) and through log_softmax,
    // padded and concatenated targets, each reduction, a repeated label
    let logits = rand::<(U7, U3, U5)>(58, -2.0, 2.0);
    let padded = Indices::<(U3, U4)>::from_array([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 1, 3]]);
    let flat = Indices::<(U9,)>::from_array([1, 2, 2, 3, 1, 4, 4, 1, 3]);
    let (il, tl) = ([7i64, 5, 7], [3i64, 2, 4]);
    for reduction in [Reduction::Mean, Reduction::Sum] {
        let ctc = CTCLoss {
            reduction,
            ..Default::default()
        };
        check!(logits, |lp| ctc.forward(lp, &padded, &il, &tl).unwrap());
        check!(logits, |x| ctc
            .forward(x.log_softmax::<2>(), &flat, &il, &tl)
            .unwrap());
    }
    check!(logits, |x| CTCLoss {
        blank: 4,
        ..Default::default()
    }
    .forward_none(
        x.log_softmax::<2>(),
        &Indices::<(U3,)>::from_array([1, 0, 3]),
        &[6, 2, 4],
        &[1, 1, 1]
    )
    .unwrap());
    let var = rand::<L>(49, 0.3, 2.0);
    check!(x, |x| GaussianNLLLoss {
        full: true,
        ..Default::default()
    }
    .forward(x, &t, &var));
    check!(var, |v| GaussianNLLLoss::default().forward(
        x.clone(),
        &t,
        &v
    ));
    let row_var = rand::<(U3, U1)>(50, 0.3, 2.0);
    check!(row_var, |v| GaussianNLLLoss::default().forward(
        x.clone(),
        &t,
        &v
    ));
    let labels = Tensor::<L, f64>::from_fn(|[i, j]| ((i + 2 * j) % 3 == 0) as u8 as f64);
    let ml = MultiLabelSoftMarginLoss {
        weight: Some(vec![1.0, 0.5, 2.0, 1.5]),
        ..Default::default()
    };
    check!(x, |x| ml.forward(x, &labels));
    let p = rand::<L>(43, 0.05, 0.95);
    let y = rand::<L>(44, 0.0, 1.0);
    check!(p, |p| BCELoss::default().forward(p, &y));
    check!(x, |x| BCEWithLogitsLoss {
        pos_weight: Some(vec![1.0, 2.0, 0.5, 3.0]),
        ..Default::default()
    }
    .forward(x, &y));
    let lp = x.clone().log_softmax::<1>();
    let q = rand::<L>(45, -2.0, 2.0).softmax::<1>();
    check!(lp, |x| KLDivLoss {
        reduction: KLReduction::BatchMean,
        log_target: false
    }
    .forward(x, &q));
    check!(lp, |x| KLDivLoss {
        reduction: KLReduction::Sum,
        log_target: true
    }
    .forward(x, &q.clone().ln()));
    let targets = [1, 3, 0];
    let ce = CrossEntropyLoss {
        weight: Some(vec![1.0, 2.0, 0.5, 1.5]),
        ignore_index: 0,
        label_smoothing: 0.2,
        ..Default::default()
    };
    check!(x, |x| ce.forward(x, &targets));
    check!(x, |x| ce.forward_none(x, &targets));
    check!(x, |x| ce.forward_probs(x, &q));
    check!(rand::<(U2, U3, U2)>(46, -2.0, 2.0), |x| {
        CrossEntropyLoss::default().forward(x, &[0, 2, 1, 1])
    });
    check!(lp, |x| NLLLoss {
        weight: Some(vec![1.0, 2.0, 0.5, 1.5]),
        ..Default::default()
    }
    .forward(x, &targets));
    // stable at extreme logits
    let big = Tensor::<(U1, U3), f64>::from_array([[1000.0, -1000.0, 999.0]]);
    let loose = GradCheck::new(1e-4, 1e-4, 1e-8);
    check_gradients_with(
        loose,
        |x| CrossEntropyLoss::default().forward(x, &[2]),
        &big,
    )
    .unwrap();
}
