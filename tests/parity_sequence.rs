//! PyTorch parity of every case in `tests/reference/sequence.json` (Embedding, EmbeddingBag and
//! the indexing and assembly ops), in f64 and f32, and the checks of index tensors, masks,
//! ids in safetensors files and several runtime dimensions.

mod common;

use common::{assert_close, case, param_fd, Case};
use stensor::nn::{Embedding, Forward};
use stensor::prelude::*;

/// The case's int64 (or bool as 0/1) tensor at `path`, as indices of shape `S`.
fn indices<S: Shape>(c: &Case, path: &[&str]) -> Indices<S> {
    let data = c.data(path).into_iter().map(|v| v as i64).collect();
    Indices::from_dims_vec(&c.dims(path), data).unwrap()
}

fn mask<S: Shape>(c: &Case, path: &[&str]) -> Mask<S> {
    let data = c.data(path).into_iter().map(|v| v != 0.0).collect();
    Mask::from_dims_vec(&c.dims(path), data).unwrap()
}

fn grad_output<S: Shape, E: Element>(c: &Case, shape: S) -> Tensor<S, E> {
    let go = c
        .data(&["grad_output"])
        .into_iter()
        .map(E::from_f64)
        .collect();
    Tensor::from_vec_shaped(shape, go).unwrap()
}

/// Checks a look-up's result `y` against the case's output, backpropagates the case's
/// `grad_output` and checks the gradient of the table `weight`; returns the gradients.
fn check_lookup<S: Shape, SW: Shape, E: Element>(
    c: &Case,
    y: Tensor<S, E, Tape<E>>,
    weight: &Tensor<SW, E>,
) -> Gradients<E> {
    let name = c.name();
    assert_eq!(&y.dims()[..], &c.dims(&["output"])[..], "{name}: dims");
    assert_close(
        &format!("{name} output"),
        y.as_slice(),
        &c.data(&["output"]),
    );
    let g = y.backward_with(&grad_output(c, y.shape()));
    let gw = g.get(weight).expect("weight gradient");
    assert_close(
        &format!("{name} grad weight"),
        gw.as_slice(),
        &c.data(&["grads", "weight"]),
    );
    g
}

/// An Embedding case: output and weight gradient, ids of any rank at run time.
fn embedding<S: Shape + AppendDim<U4> + AppendDim<U3>, E: Element>(name: &str) {
    let c = case("sequence", name);
    let cfg = c.config();
    let ids = indices::<S>(&c, &["inputs", "x"]);
    macro_rules! run {
        ($V:ty, $D:ty) => {{
            let w = c.tensor::<($V, $D), E>(&["params", "weight"]);
            let mut emb = Embedding::from_pretrained(w, false)
                .scale_grad_by_freq(cfg["scale_grad_by_freq"].as_bool().unwrap());
            if let Some(p) = cfg["padding_idx"].as_i64() {
                // the case's weight is PyTorch's after its own zeroing of the padding row
                emb = emb.padding_idx(p);
            }
            if let Some(m) = cfg["max_norm"].as_f64() {
                emb = emb.max_norm(m, cfg["norm_type"].as_f64().unwrap());
            }
            check_lookup(&c, emb.forward(ids.clone().trace()), &emb.weight);
            if c.has(&["params_after", "weight"]) {
                // PyTorch's forward renormalised the table in place; renorm_ does it here
                emb.renorm_(&ids);
                let after = c.data(&["params_after", "weight"]);
                assert_close(
                    &format!("{name} weight after"),
                    emb.weight.as_slice(),
                    &after,
                );
            }
        }};
    }
    match c.dims(&["params", "weight"]).as_slice() {
        [10, 4] => run!(U10, U4),
        [6, 3] => run!(U6, U3),
        d => panic!("{name}: table {d:?}"),
    }
}

#[test]
fn embedding_matches_pytorch() {
    for name in [
        "embedding_plain",
        "embedding_padding_idx",
        "embedding_scale_grad_by_freq",
        "embedding_max_norm",
        "embedding_max_norm_p1",
    ] {
        embedding::<(usize, usize), f64>(name);
        embedding::<(usize, usize), f32>(name);
    }
    embedding::<(usize,), f64>("embedding_1d");
    embedding::<(usize,), f32>("embedding_1d");
    embedding::<(usize, usize, usize), f64>("embedding_3d_ids");
    embedding::<(usize, usize, usize), f32>("embedding_3d_ids");
}

#[test]
fn embedding_gradient_matches_finite_differences() {
    let ids = Indices::<(U2, U3)>::from_array([[1, 4, 1], [0, 2, 4]]);
    let probe =
        Tensor::<(U2, U3, U2), f64>::from_fn(|[i, j, k]| (i * 6 + j * 2 + k) as f64 * 0.1 - 0.4);
    for (padding, scale) in [
        (None, false),
        (Some(4), false),
        (None, true),
        (Some(1), true),
    ] {
        let make = |w: &Tensor<(U5, U2), f64>| Embedding::from_pretrained(w.clone(), false);
        let w = Tensor::<(U5, U2), f64>::from_fn(|[i, j]| (i as f64 - 2.0) * 0.3 + j as f64 * 0.7);
        let loss = |w: &Tensor<(U5, U2), f64>| {
            make(w)
                .weight
                .try_embedding(&ids, None, false)
                .unwrap()
                .mul(&probe)
                .square()
                .sum()
                .item()
        };
        let e = make(&w);
        let y = e
            .weight
            .try_embedding(&ids.clone().trace(), padding, scale)
            .unwrap();
        let g = y.mul(&probe).square().sum().backward();
        let gw = g.get(&e.weight).unwrap().to_vec();
        if padding.is_none() && !scale {
            param_fd(&w, loss, &gw, "embedding weight");
        }
        // padding: that row's gradient is zero, the others unchanged; scale: divided by the count
        let plain = {
            let y = e
                .weight
                .try_embedding(&ids.clone().trace(), None, false)
                .unwrap();
            y.mul(&probe)
                .square()
                .sum()
                .backward()
                .get(&e.weight)
                .unwrap()
                .to_vec()
        };
        let count = |r: usize| {
            ids.as_slice()
                .iter()
                .filter(|&&i| i as usize == r)
                .count()
                .max(1)
        };
        for r in 0..5 {
            for k in 0..2 {
                let want = if Some(r) == padding {
                    0.0
                } else if scale {
                    plain[r * 2 + k] / count(r) as f64
                } else {
                    plain[r * 2 + k]
                };
                assert!(
                    (gw[r * 2 + k] - want).abs() < 1e-12,
                    "{padding:?} {scale}: row {r}"
                );
            }
        }
    }
}

#[test]
fn embedding_equals_one_hot_times_the_weight() {
    let mut rng = Rng::seed(5);
    let emb = Embedding::<U7, U3, f64>::new(&mut rng);
    let ids = Indices::<(usize,)>::from_vec_shaped((5,), vec![6, 0, 3, 3, 1]).unwrap();
    let one_hot = Tensor::<(usize, U7), f64>::from_fn_shaped((5, U7::new()), |[i, j]| {
        (ids.as_slice()[i] == j as i64) as u8 as f64
    });
    let want = one_hot.matmul(&emb.weight);
    assert_close("one-hot", emb.forward(ids).as_slice(), &want.to_vec());
}

#[test]
fn out_of_range_ids_are_errors_and_panics_that_name_the_id() {
    let emb = Embedding::<U4, U2>::new(&mut Rng::seed(0));
    for bad in [4, -1, i64::MAX] {
        let ids = Indices::<(U2,)>::from_array([0, bad]);
        let err = emb.try_forward(ids.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("embedding: index {bad} is out of range for size 4")
        );
        let panic = std::panic::catch_unwind(|| emb.forward(ids)).unwrap_err();
        let msg = panic.downcast_ref::<String>().unwrap();
        assert!(msg.contains(&format!("index {bad}")), "{msg}");
    }
}

/// A `masked_fill` case: `x` of shape `S`, its mask `SM` broadcast over it.
fn masked_fill_case<S: Shape, SM: stensor::shape::BroadcastsTo<S>, E: Element>(name: &str) {
    let c = case("sequence", name);
    let x = c.tensor::<S, E>(&["inputs", "x"]).trace();
    let m = mask::<SM>(&c, &["inputs", "mask"]);
    let y = x
        .clone()
        .masked_fill(&m, c.config()["value"].as_f64().unwrap());
    assert_close(name, y.as_slice(), &c.data(&["output"]));
    let g = y.backward_with(&grad_output(&c, y.shape()));
    let gx = g.get(&x).unwrap();
    assert_close(
        &format!("{name} grad"),
        gx.as_slice(),
        &c.data(&["grads", "x"]),
    );
}

/// A `where` case: `x` of shape `S`, the condition `SC` and `y` of `SY` broadcast to it.
fn where_case<S, SC, SY, E>(name: &str)
where
    S: Shape,
    SC: stensor::shape::BroadcastsTo<S>,
    SY: stensor::shape::BroadcastsTo<S>,
    E: Element,
{
    let c = case("sequence", name);
    let x = c.tensor::<S, E>(&["inputs", "x"]).trace();
    let y = c.tensor::<SY, E>(&["inputs", "y"]).trace();
    let cond = mask::<SC>(&c, &["inputs", "condition"]);
    let out = x.clone().where_(&cond, &y);
    assert_close(name, out.as_slice(), &c.data(&["output"]));
    let g = out.backward_with(&grad_output(&c, out.shape()));
    let (gx, gy) = (g.get(&x).unwrap(), g.get(&y).unwrap());
    assert_close(
        &format!("{name} grad x"),
        gx.as_slice(),
        &c.data(&["grads", "x"]),
    );
    assert_close(
        &format!("{name} grad y"),
        gy.as_slice(),
        &c.data(&["grads", "y"]),
    );
}

#[test]
fn masked_fill_and_where_match_pytorch() {
    fn run<E: Element>() {
        masked_fill_case::<(U3, U4), (U3, U4), E>("masked_fill");
        where_case::<(U3, U4), (U3, U4), (U3, U4), E>("where");
        // broadcasting: a (2, 1, 4) mask over (2, 3, 4); a (3, 1) condition and a (1, 4) `y`
        masked_fill_case::<(U2, U3, U4), (U2, U1, U4), E>("masked_fill_broadcast");
        where_case::<(U3, U4), (U3, U1), (U1, U4), E>("where_broadcast");
    }
    run::<f64>();
    run::<f32>();
}

#[test]
fn cat_of_runtime_lengths_matches_pytorch() {
    fn run<E: Element>() {
        let c = case("sequence", "cat_dim1");
        type Part<E> = Tensor<(U2, usize, U4), E, Tape<E>>;
        let xs: Vec<Part<E>> = ["x0", "x1", "x2"]
            .iter()
            .map(|n| c.tensor::<(U2, usize, U4), E>(&["inputs", n]).trace())
            .collect();
        let y = xs[0]
            .clone()
            .concat::<1, _, _>(&xs[1])
            .concat::<1, _, _>(&xs[2]);
        assert_eq!(y.dims(), [2, 6, 4]);
        assert_close("cat", y.as_slice(), &c.data(&["output"]));
        let g = y.backward_with(&grad_output(&c, y.shape()));
        for (x, n) in xs.iter().zip(["x0", "x1", "x2"]) {
            assert_close(
                &format!("cat grad {n}"),
                g.get(x).unwrap().as_slice(),
                &c.data(&["grads", n]),
            );
        }
    }
    run::<f64>();
    run::<f32>();
}

#[test]
fn masks_combine_and_come_from_comparisons() {
    let x = Tensor::<(usize, U3)>::from_vec_shaped(
        (2, U3::new()),
        vec![-1.0, 0.0, 2.0, f32::NAN, 5.0, -3.0],
    )
    .unwrap();
    let pos = x.gt_scalar(0.0);
    let neg = x.lt_scalar(0.0);
    assert_eq!(pos.to_vec(), [false, false, true, false, true, false]);
    // NaN is neither positive nor negative, and not equal to itself
    assert_eq!(
        (!(&pos | &neg)).to_vec(),
        [false, true, false, true, false, false]
    );
    assert_eq!(x.ne(&x).to_vec(), [false, false, false, true, false, false]);
    assert_eq!((&pos & &neg).count(), 0);
    assert_eq!((pos.clone() ^ neg.clone()).count(), 4);
    assert_eq!(x.ge_scalar(0.0).count() + x.lt_scalar(0.0).count(), 5);
}

#[test]
fn argmax_agrees_with_max_and_takes_the_first_of_ties() {
    let x = Tensor::<(usize, U4), f64>::from_vec_shaped(
        (3, U4::new()),
        vec![
            1.0, 3.0, 3.0, 0.0, -2.0, -1.0, -5.0, -1.0, 0.5, 0.5, 0.5, 0.5,
        ],
    )
    .unwrap();
    let idx = x.argmax::<1>();
    assert_eq!(idx.to_vec(), vec![1, 1, 0]);
    assert_eq!(x.argmin::<1>().to_vec(), vec![3, 2, 0]);
    let (v, i) = x.clone().trace().max_with_indices::<1>();
    assert_eq!(i, idx);
    for (r, (&m, &j)) in v.as_slice().iter().zip(i.as_slice()).enumerate() {
        assert_eq!(m, x.as_slice()[r * 4 + j as usize]);
    }
    // the gradient of max goes to the index returned
    let xt = x.clone().trace();
    let (v, i) = xt.clone().max_with_indices::<1>();
    let g = v.sum().backward().get(&xt).unwrap().to_vec();
    for r in 0..3 {
        for k in 0..4 {
            assert_eq!(g[r * 4 + k], (i.as_slice()[r] == k as i64) as u8 as f64);
        }
    }
}

#[test]
fn two_runtime_dims_flow_through_a_sequence_model() {
    use stensor::nn::{LayerNorm, Linear};
    let mut rng = Rng::seed(2);
    let emb = Embedding::<U50, U8, f64>::new(&mut rng);
    let norm = LayerNorm::<(U8,), f64>::new();
    let fc = Linear::<U8, U8, f64>::new(&mut rng);
    for (n, l) in [(1, 1), (2, 5), (3, 7)] {
        let ids = Indices::<(usize, usize)>::from_fn_shaped((n, l), |ix| {
            ((ix[0] * 7 + ix[1] * 3) % 50) as i64
        });
        let h: Tensor<(usize, usize, U8), f64, _> =
            fc.forward(norm.forward(emb.forward(ids.trace())));
        // 2 heads of 4, then attention scores (N, heads, L, L)
        let heads: Tensor<(usize, usize, U2, U4), f64, _> = h.clone().reshape();
        let q: Tensor<(usize, U2, usize, U4), f64, _> = heads.permute::<Axes4<0, 2, 1, 3>>();
        let k: Tensor<(usize, U2, U4, usize), f64, _> = q.clone().permute::<Axes4<0, 1, 3, 2>>();
        let scores = q.matmul(&k).softmax::<3>();
        assert_eq!(scores.dims(), [n, 2, l, l]);
        // a bias broadcast over both runtime dims, dropout, a reduction over the length
        let bias = Tensor::<(U8,), f64>::ones();
        let pooled = stensor::nn::Dropout::new(0.1, 3)
            .forward(h.clone().broadcast_add(&bias))
            .mean_axis::<1>();
        assert_eq!(pooled.dims(), [n, 8]);
        // a per-position loss over (N, C, L) logits, targets (N, L) as an index tensor
        let logits: Tensor<(usize, U8, usize), f64, _> = h.permute::<Axes3<0, 2, 1>>();
        let targets = Indices::<(usize, usize)>::from_fn_shaped((n, l), |ix| (ix[1] % 8) as i64);
        let ce = stensor::loss::CrossEntropyLoss::default().forward(logits, &targets);
        let g = scores.sum().add(&ce).add(&pooled.sum()).backward();
        assert!(g.get(&fc.weight).is_some() && g.get(&emb.weight).is_some());
    }
}

#[test]
fn runtime_dims_that_must_agree_panic_naming_the_op_and_both_shapes() {
    let scores = Tensor::<(usize, usize)>::zeros_shaped((2, 3));
    let m = Mask::<(usize, U1)>::full_shaped((3, U1::new()), true);
    let p = std::panic::catch_unwind(|| scores.masked_fill(&m, 0.0)).unwrap_err();
    assert_eq!(
        p.downcast_ref::<String>().unwrap(),
        "masked_fill: runtime dimensions do not broadcast ([3, 1] to [2, 3])"
    );
    let a = Tensor::<(usize, usize, U2)>::zeros_shaped((2, 3, U2::new()));
    let b = Tensor::<(usize, usize, U2)>::zeros_shaped((2, 4, U2::new()));
    let msg = |r: std::thread::Result<()>| {
        let e = r.unwrap_err();
        e.downcast_ref::<String>().cloned().unwrap()
    };
    let m = msg(std::panic::catch_unwind(|| {
        let _ = a.clone().add(&b);
    }));
    assert!(m.contains("[2, 3, 2]") && m.contains("[2, 4, 2]"), "{m}");
    let q = Tensor::<(usize, U2, usize, U2)>::zeros_shaped((2, U2::new(), 3, U2::new()));
    let k = Tensor::<(usize, U2, U2, usize)>::zeros_shaped((3, U2::new(), U2::new(), 3));
    let m = msg(std::panic::catch_unwind(|| {
        let _ = q.matmul(&k);
    }));
    assert!(
        m.starts_with("matmul: runtime batch dimensions differ: [2, 2, 3, 2] x [3, 2, 2, 3]"),
        "{m}"
    );
    let m = msg(std::panic::catch_unwind(|| {
        let _ = a.clone().concat::<2, _, _>(&b);
    }));
    assert!(
        m.starts_with("concat: runtime dimensions differ ([2, 3, 2] vs [2, 4, 2])"),
        "{m}"
    );
    let err = a.try_concat::<2, _, _>(&b).unwrap_err();
    assert_eq!(
        err.to_string(),
        "concat: runtime dimensions differ ([2, 3, 2] vs [2, 4, 2])"
    );
}

#[test]
fn reshape_keeps_each_runtime_dim() {
    let x = Tensor::<(usize, usize, U6), f64>::from_fn_shaped((2, 3, U6::new()), |[i, j, k]| {
        (i * 18 + j * 6 + k) as f64
    });
    let h: Tensor<(usize, usize, U2, U3), f64> = x.clone().reshape();
    assert_eq!(h.dims(), [2, 3, 2, 3]);
    let back: Tensor<(usize, usize, U6), f64> = h.reshape();
    assert_eq!(back.to_vec(), x.to_vec());
    let merged: Tensor<(usize, U3, U2, usize), f64> = x.reshape();
    assert_eq!(merged.dims(), [2, 3, 2, 3]);
}

/// `f` of the case's traced `x` against its output and input gradient (f64 and f32).
macro_rules! unary_case {
    ($name:literal, $SX:ty, $SO:ty, |$x:ident| $body:expr) => {{
        fn run<E: Element>() {
            let c = case("sequence", $name);
            common::check_forward_backward::<$SX, $SO, E, _>(&c, |$x| $body, &[]);
        }
        run::<f64>();
        run::<f32>();
    }};
}

#[test]
fn narrow_select_flip_cumsum_triu_tril_match_pytorch() {
    unary_case!("narrow_dim1", (U3, U5, U4), (U3, usize, U4), |x| x
        .narrow::<1, _>(1, 3));
    unary_case!("narrow_dim2", (U3, U5, U4), (U3, U5, U2), |x| x
        .narrow::<2, _>(2, U2::new()));
    unary_case!("select_dim1", (U3, U4, U2), (U3, U2), |x| x.select::<1>(2));
    unary_case!("flip_dim1", (U2, U3, U4), (U2, U3, U4), |x| x.flip::<1>());
    unary_case!("flip_dims02", (U2, U3, U4), (U2, U3, U4), |x| x
        .flip::<0>()
        .flip::<2>());
    unary_case!("cumsum_dim1", (U2, U5), (U2, U5), |x| x.cumsum::<1>());
    unary_case!("cumsum_dim0", (U3, U2, U4), (U3, U2, U4), |x| x
        .cumsum::<0>());
    unary_case!("triu_diag0", (U4, U5), (U4, U5), |x| x.triu(0));
    unary_case!("triu_diag1", (U4, U5), (U4, U5), |x| x.triu(1));
    unary_case!("triu_diagm1", (U4, U5), (U4, U5), |x| x.triu(-1));
    unary_case!("triu_batched", (U2, U3, U3), (U2, U3, U3), |x| x.triu(0));
    unary_case!("tril_diag0", (U4, U5), (U4, U5), |x| x.tril(0));
    unary_case!("tril_diag1", (U4, U5), (U4, U5), |x| x.tril(1));
    unary_case!("tril_diagm1", (U4, U5), (U4, U5), |x| x.tril(-1));
    unary_case!("tril_batched", (U2, U3, U3), (U2, U3, U3), |x| x.tril(0));
}

#[test]
fn index_select_and_gather_match_pytorch() {
    fn index<S: Shape>(name: &str) -> Indices<S> {
        indices::<S>(&case("sequence", name), &["inputs", "index"])
    }
    unary_case!("index_select_dim0", (U5, U3), (usize, U3), |x| x
        .index_select::<0, _>(&index::<(usize,)>("index_select_dim0")));
    unary_case!("index_select_dim1", (U2, U4, U3), (U2, usize, U3), |x| x
        .index_select::<1, _>(&index::<(usize,)>("index_select_dim1")));
    unary_case!("gather_dim1", (U3, U4), (U3, U2), |x| x
        .gather::<1, _>(&index::<(U3, U2)>("gather_dim1")));
    unary_case!("gather_dim0", (U3, U4), (U2, U4), |x| x
        .gather::<0, _>(&index::<(U2, U4)>("gather_dim0")));
}

#[test]
fn scatter_add_matches_pytorch() {
    fn run<E: Element, S, SI: Shape, const I: usize>(name: &str)
    where
        S: stensor::shape::SameRank<SI>,
    {
        let c = case("sequence", name);
        let x = c.tensor::<S, E>(&["inputs", "x"]).trace();
        let src = c.tensor::<SI, E>(&["inputs", "src"]).trace();
        let idx = indices::<SI>(&c, &["inputs", "index"]);
        let y = x.clone().scatter_add::<I, _, _>(&idx, &src);
        assert_close(name, y.as_slice(), &c.data(&["output"]));
        let g = y.backward_with(&grad_output(&c, y.shape()));
        assert_close(
            &format!("{name} grad x"),
            g.get(&x).unwrap().as_slice(),
            &c.data(&["grads", "x"]),
        );
        assert_close(
            &format!("{name} grad src"),
            g.get(&src).unwrap().as_slice(),
            &c.data(&["grads", "src"]),
        );
    }
    run::<f64, (U3, U5), (U3, U3), 1>("scatter_add_dim1");
    run::<f32, (U3, U5), (U3, U3), 1>("scatter_add_dim1");
    run::<f64, (U4, U3), (U5, U3), 0>("scatter_add_dim0");
    run::<f32, (U4, U3), (U5, U3), 0>("scatter_add_dim0");
}

#[test]
fn stack_cat_and_chunk_match_pytorch() {
    fn parts<S: Shape, E: Element>(c: &Case, n: usize) -> Vec<Tensor<S, E, Tape<E>>> {
        (0..n)
            .map(|k| c.tensor::<S, E>(&["inputs", &format!("x{k}")]).trace())
            .collect()
    }
    fn check<S: Shape, SO: Shape, E: Element>(
        c: &Case,
        xs: &[Tensor<S, E, Tape<E>>],
        y: Tensor<SO, E, Tape<E>>,
    ) {
        assert_eq!(&y.dims()[..], &c.dims(&["output"])[..], "{}", c.name());
        assert_close(c.name(), y.as_slice(), &c.data(&["output"]));
        let g = y.backward_with(&grad_output(c, y.shape()));
        for (k, x) in xs.iter().enumerate() {
            let n = format!("x{k}");
            assert_close(
                &format!("{} grad {n}", c.name()),
                g.get(x).unwrap().as_slice(),
                &c.data(&["grads", &n]),
            );
        }
    }
    fn run<E: Element>() {
        let c = case("sequence", "stack_dim1");
        let xs = parts::<(U2, U3), E>(&c, 3);
        check(&c, &xs, Tensor::stack::<1>(&xs));
        let c = case("sequence", "stack_dim0");
        let xs = parts::<(U3, U2), E>(&c, 2);
        check(&c, &xs, Tensor::stack::<0>(&xs));
        let c = case("sequence", "cat_dim1");
        let xs = parts::<(U2, usize, U4), E>(&c, 3);
        check(&c, &xs, Tensor::cat::<1>(&xs));
        let c = case("sequence", "cat_dim0");
        let xs = parts::<(usize, U3), E>(&c, 2);
        check(&c, &xs, Tensor::cat::<0>(&xs));

        // chunk: each part against `outputs`, the gradient from each part's `grad_outputs`
        for (name, k) in [("chunk_3_dim1", 3), ("chunk_4_dim1", 4)] {
            let c = case("sequence", name);
            let go = |j: usize| {
                c.0["grad_outputs"][j]["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect::<Vec<f64>>()
            };
            let want = |j: usize| {
                c.0["outputs"][j]["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect::<Vec<f64>>()
            };
            macro_rules! chunks {
                ($S:ty, $K:literal) => {{
                    let x = c.tensor::<$S, E>(&["inputs", "x"]).trace();
                    let ps = x.clone().chunk::<1, $K>();
                    let mut total = None;
                    for (j, p) in ps.into_iter().enumerate() {
                        assert_close(&format!("{name} part {j}"), p.as_slice(), &want(j));
                        let w = Tensor::from_vec_shaped(
                            p.shape(),
                            go(j).into_iter().map(E::from_f64).collect(),
                        )
                        .unwrap();
                        let l = p.mul(&w).sum();
                        total = Some(match total {
                            None => l,
                            Some(t) => l.add(&t),
                        });
                    }
                    let g = total.unwrap().backward();
                    assert_close(
                        &format!("{name} grad"),
                        g.get(&x).unwrap().as_slice(),
                        &c.data(&["grads", "x"]),
                    );
                }};
            }
            match k {
                3 => chunks!((U2, U6, U3), 3),
                _ => chunks!((U3, U8), 4),
            }
        }
    }
    run::<f64>();
    run::<f32>();
}

#[test]
fn sort_and_topk_are_stable_put_nan_last_and_route_gradients() {
    let x = Tensor::<(U2, U5), f64>::from_array([
        [3.0, f64::NAN, 1.0, 3.0, -2.0],
        [0.0, 0.0, 5.0, -1.0, 5.0],
    ]);
    let (v, i) = x.clone().sort::<1>(false);
    assert_eq!(i.to_vec(), vec![4, 2, 0, 3, 1, 3, 0, 1, 2, 4]);
    assert!(v.to_vec()[4].is_nan());
    let (_, i) = x.clone().sort::<1>(true);
    assert_eq!(i.to_vec(), vec![1, 0, 3, 2, 4, 2, 4, 0, 1, 3]);
    let xt = Tensor::<(U2, U5), f64>::from_array([
        [3.0, 4.0, 1.0, 3.0, -2.0],
        [0.0, 0.0, 5.0, -1.0, 5.0],
    ])
    .trace();
    let (top, ti) = xt.clone().topk::<1>(2, true);
    assert_eq!(
        (top.to_vec(), ti.to_vec()),
        (vec![4.0, 3.0, 5.0, 5.0], vec![1, 0, 2, 4])
    );
    let g = top.sum().backward().get(&xt).unwrap().to_vec();
    assert_eq!(g, vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    // topk of the whole axis is the descending sort
    let (all, ai) = xt.clone().topk::<1>(5, true);
    let (sorted, si) = xt.sort::<1>(true);
    assert_eq!((all.to_vec(), ai.to_vec()), (sorted.to_vec(), si.to_vec()));
}

#[test]
fn cat_then_narrow_is_the_identity_and_gather_is_adjoint_to_scatter_add() {
    let mut rng = Rng::seed(9);
    for (la, lb) in [(1, 1), (2, 5), (7, 3)] {
        let a = Tensor::<(U2, usize, U3), f64>::uniform_shaped(
            (U2::new(), la, U3::new()),
            &mut rng,
            -1.0,
            1.0,
        );
        let b = Tensor::<(U2, usize, U3), f64>::uniform_shaped(
            (U2::new(), lb, U3::new()),
            &mut rng,
            -1.0,
            1.0,
        );
        let c = Tensor::cat::<1>(&[a.clone(), b.clone()]);
        assert_eq!(c.clone().narrow::<1, _>(0, la).to_vec(), a.to_vec());
        assert_eq!(c.narrow::<1, _>(la, lb).to_vec(), b.to_vec());
    }
    // <gather(x, i), y> == <x, scatter_add(0, i, y)>
    let x = Tensor::<(U3, U4), f64>::uniform_shaped(Default::default(), &mut rng, -1.0, 1.0);
    let y = Tensor::<(U3, U6), f64>::uniform_shaped(Default::default(), &mut rng, -1.0, 1.0);
    let idx = Indices::<(U3, U6)>::from_fn_shaped(Default::default(), |ix| {
        ((ix[0] * 5 + ix[1] * 3) % 4) as i64
    });
    let lhs = x.clone().gather::<1, _>(&idx).mul(&y).sum().item();
    let rhs = x
        .mul(&Tensor::<(U3, U4), f64>::zeros().scatter_add::<1, _, _>(&idx, &y))
        .sum()
        .item();
    assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
}

#[test]
fn bad_indices_are_errors_naming_the_index() {
    let x = Tensor::<(U2, U3)>::zeros();
    let e = x.clone().try_narrow::<1, _>(2, 2).unwrap_err();
    assert_eq!(e.to_string(), "narrow: index 4 is out of range for size 3");
    let e = x
        .clone()
        .try_index_select::<1, _>(&Indices::<(U2,)>::from_array([0, -3]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "index_select: index -3 is out of range for size 3"
    );
    let e = x
        .clone()
        .try_gather::<0, _>(&Indices::<(U1, U4)>::from_array([[0, 0, 0, 0]]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "gather: runtime dimensions differ ([2, 3] vs [1, 4])"
    );
    let e = Tensor::<(usize, U3)>::try_cat::<0>(&[]).unwrap_err();
    assert!(e.to_string().starts_with("cat of no tensors"), "{e}");
    let p = std::panic::catch_unwind(|| x.clone().select::<0>(2)).unwrap_err();
    assert_eq!(
        p.downcast_ref::<String>().unwrap(),
        "select: index 2 is out of range for size 2"
    );
}

#[test]
fn embedding_bag_matches_pytorch() {
    use stensor::nn::EmbeddingBag;
    use stensor::ops::BagMode;
    fn run<E: Element>(name: &str) {
        let c = case("sequence", name);
        let cfg = c.config();
        let w = c.tensor::<(U10, U4), E>(&["params", "weight"]);
        let mode = match cfg["mode"].as_str().unwrap() {
            "sum" => BagMode::Sum,
            "mean" => BagMode::Mean,
            _ => BagMode::Max,
        };
        let mut bag = EmbeddingBag::from_pretrained(w, false)
            .mode(mode)
            .include_last_offset(cfg["include_last_offset"].as_bool().unwrap());
        if let Some(p) = cfg["padding_idx"].as_i64() {
            bag = bag.padding_idx(p);
        }
        let two_d = c.dims(&["inputs", "x"]).len() == 2;
        let offsets = (!two_d).then(|| indices::<(usize,)>(&c, &["inputs", "offsets"]));
        let (y, psw) = if c.has(&["inputs", "per_sample_weights"]) {
            if two_d {
                let ids = indices::<(usize, usize)>(&c, &["inputs", "x"]).trace();
                let p = c
                    .tensor::<(usize, usize), E>(&["inputs", "per_sample_weights"])
                    .trace();
                let y = bag.try_forward_weighted(&ids, None, &p).unwrap();
                (y, Some(p.id()))
            } else {
                let ids = indices::<(usize,)>(&c, &["inputs", "x"]).trace();
                let p = c
                    .tensor::<(usize,), E>(&["inputs", "per_sample_weights"])
                    .trace();
                let y = bag
                    .try_forward_weighted(&ids, offsets.as_ref(), &p)
                    .unwrap();
                (y, Some(p.id()))
            }
        } else if two_d {
            let ids = indices::<(usize, usize)>(&c, &["inputs", "x"]).trace();
            (bag.forward(ids), None)
        } else {
            let ids = indices::<(usize,)>(&c, &["inputs", "x"]).trace();
            (bag.forward_offsets(ids, offsets.as_ref().unwrap()), None)
        };
        let g = check_lookup(&c, y, &bag.weight);
        if let Some(id) = psw {
            let gp = g.by_id(id).expect("per-sample weight gradient");
            assert_close(
                &format!("{name} grad per_sample_weights"),
                gp,
                &c.data(&["grads", "per_sample_weights"]),
            );
        }
    }
    let names: Vec<String> = common::cases("sequence")
        .iter()
        .filter(|c| c.0["kind"] == "EmbeddingBag")
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names.len(), 14);
    for name in &names {
        run::<f64>(name);
        run::<f32>(name);
    }
}

#[test]
fn embedding_bag_sum_equals_embedding_then_sum() {
    use stensor::nn::EmbeddingBag;
    use stensor::ops::BagMode;
    let mut rng = Rng::seed(3);
    let emb = Embedding::<U9, U5, f64>::new(&mut rng);
    let ids = Indices::<(usize, usize)>::from_fn_shaped((3, 4), |ix| {
        ((ix[0] * 4 + ix[1]) * 5 % 9) as i64
    });
    let bag = EmbeddingBag::from_pretrained(emb.weight.clone(), true);
    let by_rows = emb.forward(ids.clone()).sum_axis::<1>();
    assert_close(
        "sum bags",
        bag.clone()
            .mode(BagMode::Sum)
            .forward(ids.clone())
            .as_slice(),
        &by_rows.to_vec(),
    );
    let mean = emb.forward(ids.clone()).mean_axis::<1>();
    assert_close(
        "mean bags",
        bag.clone()
            .mode(BagMode::Mean)
            .forward(ids.clone())
            .as_slice(),
        &mean.to_vec(),
    );
    let max = emb.forward(ids.clone()).max_axis::<1>();
    assert_close(
        "max bags",
        bag.mode(BagMode::Max).forward(ids).as_slice(),
        &max.to_vec(),
    );
}

#[test]
fn int64_ids_from_a_pytorch_safetensors_file_load_and_save() {
    use stensor::io::{StateDict, StateDictError};
    // written by PyTorch 2.x: `safetensors.torch.save_file({"input_ids": int64 (2, 4),
    // "attention_mask": int64 (2, 4), "labels": int64 (2,), "scores": float32 (2,),
    // "half": float16 (2,)}, ...)`
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/ids.safetensors"
    );
    let err = StateDict::read(path).unwrap_err();
    assert!(err.to_string().contains("tensor `half` is F16"), "{err}");
    // without the float16 tensor (stensor holds f32, f64 and int64)
    let bytes = std::fs::read(path).unwrap();
    let kept = {
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
            .tensors()
            .into_iter()
            .filter(|(n, _)| n != "half")
            .collect();
        safetensors::serialize(views, None).unwrap()
    };
    let sd = StateDict::from_bytes(&kept, "ids.safetensors").unwrap();
    let ids: Indices<(usize, usize)> = sd.indices("input_ids").unwrap();
    assert_eq!(ids.to_vec(), vec![101, 2023, 2003, 102, 101, 7592, 102, 0]);
    let mask: Indices<(usize, U4)> = sd.indices("attention_mask").unwrap();
    assert_eq!(mask.eq_scalar(0).count(), 1);
    let labels: Indices<(U2,)> = sd.indices("labels").unwrap();
    assert_eq!(labels.to_vec(), vec![1, 0]);
    let scores: Tensor<(U2,)> = sd.tensor("scores").unwrap();
    assert_eq!(scores.to_vec(), vec![0.25, -1.5]);
    // errors name the file, the tensor and both shapes or types
    match sd.indices::<(usize, U3)>("input_ids") {
        Err(StateDictError::Shape {
            key,
            expected,
            found,
            ..
        }) => {
            assert_eq!(
                (key.as_str(), expected, found),
                ("input_ids", vec![2, 3], vec![2, 4])
            )
        }
        other => panic!("{other:?}"),
    }
    let e = sd.indices::<(U2,)>("scores").unwrap_err();
    assert_eq!(e.to_string(), "ids.safetensors: tensor `scores` (shape [2]) is f32 in the file, but the network holds i64");
    let e = sd.indices::<(U2,)>("label").unwrap_err();
    assert!(e.to_string().contains("did you mean `labels`?"), "{e}");
    // saved back, the ids read as PyTorch wrote them
    let mut out = StateDict::new();
    out.insert_indices("input_ids", &ids);
    let again = StateDict::from_bytes(&out.to_bytes(), "again").unwrap();
    assert_eq!(again.indices::<(usize, usize)>("input_ids").unwrap(), ids);
}

/// The case's tensor at `path` with `null` read as NaN (`sequence_extra.json` writes NaN so).
fn with_nan<S: Shape, E: Element>(c: &Case, path: &[&str]) -> Tensor<S, E> {
    let mut v = &c.0;
    for p in path {
        v = &v[*p];
    }
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| E::from_f64(x.as_f64().unwrap_or(f64::NAN)))
        .collect();
    Tensor::from_dims_vec(&c.dims(path), data).unwrap()
}

fn want_indices(c: &Case) -> Vec<i64> {
    c.data(&["indices"]).into_iter().map(|v| v as i64).collect()
}

#[test]
fn argmax_max_topk_sort_expand_repeat_match_pytorch() {
    fn values_and_indices<SO: Shape, E: Element>(
        c: &Case,
        x: &Tensor<impl Shape, E, Tape<E>>,
        (v, i): (Tensor<SO, E, Tape<E>>, Indices<SO>),
    ) {
        assert_eq!(i.to_vec(), want_indices(c), "{} indices", c.name());
        assert_close(
            &format!("{} values", c.name()),
            v.as_slice(),
            &c.data(&["output"]),
        );
        if c.has(&["grads", "x"]) {
            let g = v.backward_with(&grad_output(c, v.shape()));
            assert_close(
                &format!("{} grad", c.name()),
                g.get(x).unwrap().as_slice(),
                &c.data(&["grads", "x"]),
            );
        }
    }
    fn run<E: Element>() {
        let ex = |n: &str| case("sequence_extra", n);
        let c = ex("argmax_dim1");
        assert_eq!(
            c.tensor::<(U3, U5), E>(&["inputs", "x"])
                .argmax::<1>()
                .to_vec(),
            want_indices(&c)
        );
        let c = ex("argmin_dim0");
        assert_eq!(
            c.tensor::<(U3, U5), E>(&["inputs", "x"])
                .argmin::<0>()
                .to_vec(),
            want_indices(&c)
        );
        let c = ex("argmax_ties_nan");
        assert_eq!(
            with_nan::<(U3, U4), E>(&c, &["inputs", "x"])
                .argmax::<1>()
                .to_vec(),
            want_indices(&c)
        );

        let c = ex("max_dim1");
        let x = c.tensor::<(U2, U4, U3), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().max_with_indices::<1>());
        let c = ex("min_dim2");
        let x = c.tensor::<(U2, U4, U3), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().min_with_indices::<2>());
        let c = ex("topk_largest");
        let x = c.tensor::<(U3, U5), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().topk::<1>(2, true));
        let c = ex("topk_smallest_dim0");
        let x = c.tensor::<(U3, U5), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().topk::<0>(2, false));
        let c = ex("sort_ascending");
        let x = c.tensor::<(U3, U4), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().sort::<1>(false));
        let c = ex("sort_descending_dim0");
        let x = c.tensor::<(U2, U4, U3), E>(&["inputs", "x"]).trace();
        values_and_indices(&c, &x, x.clone().sort::<0>(true));
        let c = ex("sort_nan_last");
        let (_, i) = with_nan::<(U3, U4), E>(&c, &["inputs", "x"]).sort::<1>(false);
        assert_eq!(i.to_vec(), want_indices(&c));

        let c = ex("expand_middle");
        common::check_forward_backward::<(U2, U1, U4), (U2, U3, U4), E, _>(
            &c,
            |x| x.expand(Default::default()),
            &[],
        );
        let c = ex("expand_new_leading");
        common::check_forward_backward::<(U2, U4), (U3, U2, U4), E, _>(
            &c,
            |x| x.expand(Default::default()),
            &[],
        );
        let c = ex("repeat_dim1");
        common::check_forward_backward::<(U2, U2), (U2, usize), E, _>(
            &c,
            |x| x.repeat::<1>(3),
            &[],
        );
        let c = ex("unsqueeze_squeeze");
        common::check_forward_backward::<(U2, U3), (U2, U3), E, _>(
            &c,
            |x| {
                x.unsqueeze::<1>()
                    .mul_scalar(E::from_f64(2.0))
                    .squeeze::<1>()
            },
            &[],
        );
    }
    run::<f64>();
    run::<f32>();
    let c = case("sequence_extra", "causal_mask_4");
    assert_eq!(
        Mask::causal(4usize),
        mask::<(usize, usize)>(&c, &["output"])
    );
}
