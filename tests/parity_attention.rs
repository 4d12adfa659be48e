//! PyTorch parity of the attention cases of `tests/reference/attention.json`:
//! `F.scaled_dot_product_attention` with boolean and additive masks (2-D and 4-D,
//! broadcast), the causal rule, a given scale and the 3-D form; value and the gradients of
//! query, key and value, in f64 and f32.

mod common;

use common::{assert_close, case, cases, Case};
use stensor::autograd::UniqueId;
use stensor::ops::{AttnMask, Sdpa};
use stensor::prelude::*;
use stensor::shape::AttentionShapes;

type D4 = (usize, usize, usize, usize);
type D3 = (usize, usize, usize);

fn sdpa_cases() -> Vec<String> {
    let names: Vec<String> = cases("attention")
        .iter()
        .filter(|c| c.0["kind"] == "F.scaled_dot_product_attention")
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names.len(), 7, "the reference's sdpa cases");
    names
}

/// The case's options, its mask borrowed from `bool_mask` or `add_mask`.
fn options<'a, E: Element>(
    c: &Case,
    bool_mask: &'a Option<Mask<D4>>,
    add_mask: &'a Option<Tensor<D4, E>>,
) -> Sdpa<'a, E> {
    let cfg = c.config();
    let mut o = Sdpa::new();
    if cfg["is_causal"].as_bool().unwrap() {
        o = o.causal();
    }
    if let Some(s) = cfg["scale"].as_f64() {
        o = o.scale(s);
    }
    assert_eq!(cfg["dropout_p"].as_f64(), Some(0.0));
    if let Some(m) = bool_mask {
        o = o.mask(AttnMask::allow(m));
    }
    if let Some(m) = add_mask {
        o = o.mask(AttnMask::add(m));
    }
    o
}

/// The mask of the case as four dims (leading ones added), boolean or additive.
fn masks<E: Element>(c: &Case) -> (Option<Mask<D4>>, Option<Tensor<D4, E>>) {
    if !c.has(&["inputs", "attn_mask"]) {
        return (None, None);
    }
    let path = ["inputs", "attn_mask"];
    let mut dims = c.dims(&path);
    while dims.len() < 4 {
        dims.insert(0, 1);
    }
    let data = c.data(&path);
    if c.0["inputs"]["attn_mask"]["dtype"] == "bool" {
        let m = Mask::from_dims_vec(&dims, data.iter().map(|&v| v != 0.0).collect()).unwrap();
        (Some(m), None)
    } else {
        let t = Tensor::from_dims_vec(&dims, data.into_iter().map(E::from_f64).collect()).unwrap();
        (None, Some(t))
    }
}

fn check<E: Element>(name: &str) {
    let c = case("attention", name);
    let four = c.dims(&["inputs", "query"]).len() == 4;
    let (bm, am) = masks::<E>(&c);
    let opts = options(&c, &bm, &am);
    let g_data: Vec<E> = c
        .data(&["grad_output"])
        .into_iter()
        .map(E::from_f64)
        .collect();
    let (out, grads, ids) = if four {
        run::<D4, E>(&c, opts, g_data)
    } else {
        // a 3-D case runs through the 3-D form (the reference's 3-D case has no mask)
        assert!(bm.is_none() && am.is_none());
        run::<D3, E>(&c, opts, g_data)
    };
    assert_close(&format!("{name} output"), &out, &c.data(&["output"]));
    for (what, id) in ["query", "key", "value"].into_iter().zip(ids) {
        let got = g_slice(&grads, id);
        assert_close(
            &format!("{name} grad {what}"),
            &got,
            &c.data(&["grads", what]),
        );
    }
}

/// The case's output, gradients and the ids of query, key and value, over runtime dims `S`
/// (query, key and value alike).
fn run<S, E>(c: &Case, opts: Sdpa<'_, E>, g_data: Vec<E>) -> (Vec<E>, Gradients<E>, [UniqueId; 3])
where
    S: Shape + AttentionShapes<S, S>,
    E: Element,
{
    let q = c.tensor::<S, E>(&["inputs", "query"]).trace();
    let k = c.tensor::<S, E>(&["inputs", "key"]).trace();
    let v = c.tensor::<S, E>(&["inputs", "value"]).trace();
    let ids = [q.id(), k.id(), v.id()];
    let y = q.scaled_dot_product_attention(&k, &v, opts);
    let out = y.to_vec();
    let g_out = Tensor::from_dims_vec(&y.dims(), g_data).unwrap();
    (out, y.backward_with(&g_out), ids)
}

fn g_slice<E: Element>(g: &Gradients<E>, id: UniqueId) -> Vec<E> {
    g.by_id(id).expect("a gradient").to_vec()
}

#[test]
fn sdpa_matches_pytorch_in_f64() {
    for name in sdpa_cases() {
        check::<f64>(&name);
    }
}

#[test]
fn sdpa_matches_pytorch_in_f32() {
    for name in sdpa_cases() {
        check::<f32>(&name);
    }
}
