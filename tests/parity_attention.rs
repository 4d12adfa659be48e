//! PyTorch parity of the attention cases of `tests/reference/attention.json`:
//! `F.scaled_dot_product_attention` with boolean and additive masks (2-D and 4-D,
//! broadcast), the causal rule, a given scale and the 3-D form; value and the gradients of
//! query, key and value, in f64 and f32.

mod common;

use common::{assert_close, case, cases, check_params, load, weighted, Case};
use stensor::autograd::UniqueId;
use stensor::nn::{
    BatchFirst, DecoderMasks, EncoderMasks, FeedForwardActivation, LayerNorm, MhaConfig,
    MhaOptions, Module, MultiheadAttention, SeqFirst, SeqLayout, Transformer, TransformerDecoder,
    TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer, TransformerLayerConfig,
    TransformerMasks,
};
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

fn mha_cases() -> Vec<String> {
    let names: Vec<String> = cases("attention")
        .iter()
        .filter(|c| c.0["kind"] == "MultiheadAttention")
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names.len(), 14, "the reference's MultiheadAttention cases");
    names
}

type Dyn2 = (usize, usize);
type Dyn3 = (usize, usize, usize);
/// A case's mask, boolean or additive.
type Masks<S, E> = (Option<Mask<S>>, Option<Tensor<S, E>>);

/// The case's mask at `path` if it has `S`'s rank.
fn read_mask<S: Shape, E: Element>(c: &Case, path: &[&str]) -> Masks<S, E> {
    if !c.has(path) || c.dims(path).len() != S::RANK {
        return (None, None);
    }
    let (dims, data) = (c.dims(path), c.data(path));
    if c.0["inputs"][path[1]]["dtype"] == "bool" {
        let m = Mask::from_dims_vec(&dims, data.iter().map(|&v| v != 0.0).collect()).unwrap();
        (Some(m), None)
    } else {
        let t = Tensor::from_dims_vec(&dims, data.into_iter().map(E::from_f64).collect()).unwrap();
        (None, Some(t))
    }
}

/// The mask read as 2-D or 3-D, in `MultiheadAttention`'s conventions.
fn as_given<'a, E: Element>(
    two: &'a Masks<Dyn2, E>,
    three: &'a Masks<Dyn3, E>,
) -> Option<AttnMask<'a, E>> {
    match (two, three) {
        ((Some(b), _), _) => Some(AttnMask::hide(b)),
        ((_, Some(f)), _) => Some(AttnMask::add(f)),
        (_, (Some(b), _)) => Some(AttnMask::hide(b)),
        (_, (_, Some(f))) => Some(AttnMask::add(f)),
        _ => None,
    }
}

fn check_mha<K: ConstDim, V: ConstDim, F: SeqLayout, E: Element>(name: &str) {
    let c = case("attention", name);
    let cfg = c.config();
    let mha_cfg = MhaConfig {
        bias: cfg["bias"].as_bool().unwrap(),
        add_bias_kv: cfg["add_bias_kv"].as_bool().unwrap(),
        add_zero_attn: cfg["add_zero_attn"].as_bool().unwrap(),
        dropout: cfg["dropout"].as_f64().unwrap(),
    };
    let mut m = MultiheadAttention::<U8, U2, K, V, F, E>::with_options(&mut Rng::seed(0), mha_cfg);
    load(&mut m, &c);
    let call = &c.0["call"];
    let kpm_path = ["inputs", "key_padding_mask"];
    let am_path = ["inputs", "attn_mask"];
    let (kpm2, kpm3) = (
        read_mask::<Dyn2, E>(&c, &kpm_path),
        read_mask::<Dyn3, E>(&c, &kpm_path),
    );
    let (am2, am3) = (
        read_mask::<Dyn2, E>(&c, &am_path),
        read_mask::<Dyn3, E>(&c, &am_path),
    );
    let opts = MhaOptions {
        key_padding_mask: as_given(&kpm2, &kpm3),
        attn_mask: as_given(&am2, &am3),
        need_weights: call["need_weights"].as_bool().unwrap(),
        average_attn_weights: call["average_attn_weights"].as_bool().unwrap(),
        is_causal: false,
    };
    let self_attention = call["self_attention"].as_bool().unwrap_or(false);
    // as the case calls it, and (where it asks for the weights) without them: the blocked
    // kernel reading the heads in place, each mask form through its broadcasting, must give
    // the same output and gradients
    let runs = if opts.need_weights {
        vec![
            opts,
            MhaOptions {
                need_weights: false,
                ..opts
            },
        ]
    } else {
        vec![opts]
    };
    for opts in runs {
        let (y, w, ids) = if self_attention {
            // one tensor as query, key and value: its gradient sums the three
            let x = c.tensor::<(usize, usize, U8), E>(&["inputs", "x"]).trace();
            let id = x.id();
            let (y, w) = m.attend(x.clone(), x.clone(), x, opts);
            (y, w, vec![id])
        } else {
            let q = c
                .tensor::<(usize, usize, U8), E>(&["inputs", "query"])
                .trace();
            let k = c.tensor::<(usize, usize, K), E>(&["inputs", "key"]).trace();
            let v = c
                .tensor::<(usize, usize, V), E>(&["inputs", "value"])
                .trace();
            let ids = vec![q.id(), k.id(), v.id()];
            let (y, w) = m.attend(q, k, v, opts);
            (y, w, ids)
        };
        assert_close(&format!("{name} output"), &y.to_vec(), &c.data(&["output"]));
        match (&w, opts.need_weights && c.has(&["attn_weights"])) {
            (Some(w), true) => {
                assert_eq!(w.dims(), c.dims(&["attn_weights"]), "{name}: weights' dims");
                assert_close(
                    &format!("{name} weights"),
                    &w.to_vec(),
                    &c.data(&["attn_weights"]),
                );
            }
            (None, false) => {}
            _ => panic!("{name}: weights returned when not asked for, or the reverse"),
        }
        let g = weighted(&y, &c, &["grad_output"]).backward();
        let inputs: &[&str] = if self_attention {
            &["x"]
        } else {
            &["query", "key", "value"]
        };
        for (what, id) in inputs.iter().zip(ids) {
            assert_close(
                &format!("{name} grad {what}"),
                &g_slice(&g, id),
                &c.data(&["grads", what]),
            );
        }
        check_params(&m, &g, &c);
    }
}

fn all_mha<E: Element>() {
    for name in mha_cases() {
        let c = case("attention", &name);
        let cfg = c.config();
        match (cfg["kdim"].as_u64(), cfg["batch_first"].as_bool().unwrap()) {
            (Some(5), false) => check_mha::<U5, U6, SeqFirst, E>(&name),
            (None, false) => check_mha::<U8, U8, SeqFirst, E>(&name),
            (None, true) => check_mha::<U8, U8, BatchFirst, E>(&name),
            other => panic!("{name}: no type for {other:?}"),
        }
    }
}

#[test]
fn multihead_attention_matches_pytorch_in_f64() {
    all_mha::<f64>();
}

#[test]
fn multihead_attention_matches_pytorch_in_f32() {
    all_mha::<f32>();
}

/// A Transformer layer's config as the case gives it.
fn layer_options(cfg: &serde_json::Value) -> TransformerLayerConfig {
    let activation = match cfg["activation"].as_str() {
        Some("relu") => FeedForwardActivation::Relu,
        Some("gelu") => FeedForwardActivation::Gelu,
        a => panic!("activation {a:?}"),
    };
    TransformerLayerConfig {
        dropout: cfg["dropout"].as_f64().unwrap(),
        activation,
        layer_norm_eps: cfg["layer_norm_eps"].as_f64().unwrap(),
        norm_first: cfg["norm_first"].as_bool().unwrap(),
        bias: cfg["bias"].as_bool().unwrap(),
    }
}

fn check_encoder_layer<F: SeqLayout, E: Element>(name: &str) {
    let c = case("attention", name);
    let cfg = c.config();
    let mut layer = TransformerEncoderLayer::<U8, U2, U16, F, E>::with_options(
        &mut Rng::seed(0),
        layer_options(cfg),
    );
    load(&mut layer, &c);
    let (sm, pm) = (["inputs", "src_mask"], ["inputs", "src_key_padding_mask"]);
    let (sm2, sm3) = (read_mask::<Dyn2, E>(&c, &sm), read_mask::<Dyn3, E>(&c, &sm));
    let pm2 = read_mask::<Dyn2, E>(&c, &pm);
    let none: Masks<Dyn3, E> = (None, None);
    let masks = EncoderMasks {
        src_mask: as_given(&sm2, &sm3),
        src_key_padding_mask: as_given(&pm2, &none),
        is_causal: false,
    };
    let x = c
        .tensor::<(usize, usize, U8), E>(&["inputs", "src"])
        .trace();
    let id = x.id();
    let y = layer.encode(x, masks);
    assert_close(&format!("{name} output"), &y.to_vec(), &c.data(&["output"]));
    let g = weighted(&y, &c, &["grad_output"]).backward();
    assert_close(
        &format!("{name} grad src"),
        &g_slice(&g, id),
        &c.data(&["grads", "src"]),
    );
    check_params(&layer, &g, &c);
}

fn all_encoder_layers<E: Element>() {
    for c in kind_cases("attention", "TransformerEncoderLayer", 5) {
        match c.config()["batch_first"].as_bool().unwrap() {
            true => check_encoder_layer::<BatchFirst, E>(c.name()),
            false => check_encoder_layer::<SeqFirst, E>(c.name()),
        }
    }
}

#[test]
fn transformer_encoder_layer_matches_pytorch_in_f64() {
    all_encoder_layers::<f64>();
}

#[test]
fn transformer_encoder_layer_matches_pytorch_in_f32() {
    all_encoder_layers::<f32>();
}

fn check_encoder<E: Element>() {
    let c = case("attention", "encoder_2l_norm");
    let layer_cfg = layer_options(&c.config()["encoder_layer"]);
    let r = &mut Rng::seed(0);
    let layers = (0..c.config()["num_layers"].as_u64().unwrap())
        .map(|_| TransformerEncoderLayer::<U8, U2, U16, SeqFirst, E>::with_options(r, layer_cfg))
        .collect();
    let mut enc = TransformerEncoder::new(layers, Some(LayerNorm::new()));
    load(&mut enc, &c);
    let (sm, pm) = (["inputs", "mask"], ["inputs", "src_key_padding_mask"]);
    let (sm2, pm2) = (read_mask::<Dyn2, E>(&c, &sm), read_mask::<Dyn2, E>(&c, &pm));
    let none: Masks<Dyn3, E> = (None, None);
    let masks = EncoderMasks {
        src_mask: as_given(&sm2, &none),
        src_key_padding_mask: as_given(&pm2, &none),
        is_causal: false,
    };
    let x = c
        .tensor::<(usize, usize, U8), E>(&["inputs", "src"])
        .trace();
    let id = x.id();
    let y = enc.encode(x, masks);
    assert_close("encoder output", &y.to_vec(), &c.data(&["output"]));
    let g = weighted(&y, &c, &["grad_output"]).backward();
    assert_close(
        "encoder grad src",
        &g_slice(&g, id),
        &c.data(&["grads", "src"]),
    );
    check_params(&enc, &g, &c);
}

#[test]
fn transformer_encoder_matches_pytorch() {
    check_encoder::<f64>();
    check_encoder::<f32>();
}

fn check_decoder_layer<F: SeqLayout, E: Element>(name: &str) {
    let c = case("attention", name);
    let layer = TransformerDecoderLayer::<U8, U2, U16, F, E>::with_options(
        &mut Rng::seed(0),
        layer_options(c.config()),
    );
    check_decoding(&c, layer, |l, tgt, memory, masks| {
        l.decode(tgt, memory, masks)
    });
}

/// A decoder (layer or stack) `m` with the case's parameters on its `tgt`, `memory` and
/// masks (`tgt_is_causal` when the case's call says so): output, input and parameter
/// gradients.
fn check_decoding<M, E>(
    c: &Case,
    mut m: M,
    decode: impl Fn(&M, Seq<E>, Seq<E>, DecoderMasks<'_, E>) -> Seq<E>,
) where
    M: Module,
    E: Element,
{
    let name = c.name();
    load(&mut m, c);
    let path = |k: &'static str| ["inputs", k];
    let none: Masks<Dyn3, E> = (None, None);
    let (tm, mm) = (
        read_mask::<Dyn2, E>(c, &path("tgt_mask")),
        read_mask::<Dyn2, E>(c, &path("memory_mask")),
    );
    let (tp, mp) = (
        read_mask::<Dyn2, E>(c, &path("tgt_key_padding_mask")),
        read_mask::<Dyn2, E>(c, &path("memory_key_padding_mask")),
    );
    let masks = DecoderMasks {
        tgt_mask: as_given(&tm, &none),
        memory_mask: as_given(&mm, &none),
        tgt_key_padding_mask: as_given(&tp, &none),
        memory_key_padding_mask: as_given(&mp, &none),
        tgt_is_causal: c.0["kind"] == "TransformerDecoder",
        memory_is_causal: false,
    };
    let tgt = c.tensor::<Seq3, E>(&["inputs", "tgt"]).trace();
    let memory = c.tensor::<Seq3, E>(&["inputs", "memory"]).trace();
    let ids = [tgt.id(), memory.id()];
    let y = decode(&m, tgt, memory, masks);
    assert_close(&format!("{name} output"), &y.to_vec(), &c.data(&["output"]));
    let g = weighted(&y, c, &["grad_output"]).backward();
    for (what, id) in ["tgt", "memory"].into_iter().zip(ids) {
        assert_close(
            &format!("{name} grad {what}"),
            &g_slice(&g, id),
            &c.data(&["grads", what]),
        );
    }
    check_params(&m, &g, c);
}

/// `(steps or batch, batch or steps, 8)`.
type Seq3 = (usize, usize, U8);
/// A traced sequence of 8 features.
type Seq<E> = Tensor<Seq3, E, Tape<E>>;

fn all_decoder_layers<E: Element>() {
    for c in kind_cases("attention", "TransformerDecoderLayer", 4) {
        match c.config()["batch_first"].as_bool().unwrap() {
            true => check_decoder_layer::<BatchFirst, E>(c.name()),
            false => check_decoder_layer::<SeqFirst, E>(c.name()),
        }
    }
}

#[test]
fn transformer_decoder_layer_matches_pytorch_in_f64() {
    all_decoder_layers::<f64>();
}

#[test]
fn transformer_decoder_layer_matches_pytorch_in_f32() {
    all_decoder_layers::<f32>();
}

/// The cases of `tests/reference/<family>.json` of `kind`, `count` of them (`transformer.json`
/// is the project's own, made by `tests/reference/gen_transformer.py`).
fn kind_cases(family: &str, kind: &str, count: usize) -> Vec<Case> {
    let found: Vec<Case> = cases(family)
        .into_iter()
        .filter(|c| c.0["kind"] == kind)
        .collect();
    assert_eq!(found.len(), count, "the reference's {kind} cases");
    found
}

fn check_decoder<F: SeqLayout, E: Element>(c: &Case) {
    let cfg = c.config();
    let layer_cfg = layer_options(&cfg["decoder_layer"]);
    let r = &mut Rng::seed(0);
    let layers = (0..cfg["num_layers"].as_u64().unwrap())
        .map(|_| TransformerDecoderLayer::<U8, U2, U16, F, E>::with_options(r, layer_cfg))
        .collect();
    let dec = TransformerDecoder::new(layers, Some(LayerNorm::new()));
    check_decoding(c, dec, |d, tgt, memory, masks| d.decode(tgt, memory, masks));
}

#[test]
fn transformer_decoder_matches_pytorch() {
    for c in kind_cases("transformer", "TransformerDecoder", 2) {
        match c.config()["decoder_layer"]["batch_first"]
            .as_bool()
            .unwrap()
        {
            true => (
                check_decoder::<BatchFirst, f64>(&c),
                check_decoder::<BatchFirst, f32>(&c),
            ),
            false => (
                check_decoder::<SeqFirst, f64>(&c),
                check_decoder::<SeqFirst, f32>(&c),
            ),
        };
    }
}

fn check_transformer<F: SeqLayout, E: Element>(c: &Case) {
    let cfg = c.config();
    let count = |k: &str| cfg[k].as_u64().unwrap() as usize;
    let mut t = Transformer::<U8, U2, U16, F, E>::with_options(
        &mut Rng::seed(0),
        count("num_encoder_layers"),
        count("num_decoder_layers"),
        layer_options(cfg),
    );
    load(&mut t, c);
    let path = |k: &'static str| ["inputs", k];
    let none: Masks<Dyn3, E> = (None, None);
    let tm = read_mask::<Dyn2, E>(c, &path("tgt_mask"));
    let sp = read_mask::<Dyn2, E>(c, &path("src_key_padding_mask"));
    let mp = read_mask::<Dyn2, E>(c, &path("memory_key_padding_mask"));
    let masks = TransformerMasks {
        tgt_mask: as_given(&tm, &none),
        src_key_padding_mask: as_given(&sp, &none),
        memory_key_padding_mask: as_given(&mp, &none),
        tgt_is_causal: true,
        ..Default::default()
    };
    let src = c.tensor::<Seq3, E>(&["inputs", "src"]).trace();
    let tgt = c.tensor::<Seq3, E>(&["inputs", "tgt"]).trace();
    let ids = [src.id(), tgt.id()];
    let y = t.transform(src, tgt, masks);
    let name = c.name();
    assert_close(&format!("{name} output"), &y.to_vec(), &c.data(&["output"]));
    let g = weighted(&y, c, &["grad_output"]).backward();
    for (what, id) in ["src", "tgt"].into_iter().zip(ids) {
        assert_close(
            &format!("{name} grad {what}"),
            &g_slice(&g, id),
            &c.data(&["grads", what]),
        );
    }
    check_params(&t, &g, c);
}

#[test]
fn transformer_matches_pytorch() {
    for c in kind_cases("transformer", "Transformer", 2) {
        match c.config()["batch_first"].as_bool().unwrap() {
            true => (
                check_transformer::<BatchFirst, f64>(&c),
                check_transformer::<BatchFirst, f32>(&c),
            ),
            false => (
                check_transformer::<SeqFirst, f64>(&c),
                check_transformer::<SeqFirst, f32>(&c),
            ),
        };
    }
}

fn check_causal_hint<E: Element>(c: &Case) {
    let mut m = MultiheadAttention::<U8, U2, U8, U8, SeqFirst, E>::new(&mut Rng::seed(0));
    load(&mut m, c);
    let am = read_mask::<Dyn2, E>(c, &["inputs", "attn_mask"]);
    let none: Masks<Dyn3, E> = (None, None);
    let x = c.tensor::<Seq3, E>(&["inputs", "x"]).trace();
    let id = x.id();
    let with_mask = MhaOptions {
        attn_mask: as_given(&am, &none),
        need_weights: false,
        is_causal: true,
        ..Default::default()
    };
    // the hint with its mask, as PyTorch asks for it, and the hint alone, and each with the
    // weights asked for (no kernel rule then): all the same attention
    let alone = MhaOptions {
        attn_mask: None,
        ..with_mask
    };
    let weights = MhaOptions {
        need_weights: true,
        ..alone
    };
    for opts in [with_mask, alone, weights] {
        let (y, _) = m.attend(x.clone(), x.clone(), x.clone(), opts);
        assert_close("mha is_causal output", &y.to_vec(), &c.data(&["output"]));
        let g = weighted(&y, c, &["grad_output"]).backward();
        assert_close(
            "mha is_causal grad x",
            &g_slice(&g, id),
            &c.data(&["grads", "x"]),
        );
        check_params(&m, &g, c);
    }
}

#[test]
fn multihead_attention_is_causal_matches_pytorch() {
    for c in kind_cases("transformer", "MultiheadAttention", 1) {
        check_causal_hint::<f64>(&c);
        check_causal_hint::<f32>(&c);
    }
}

/// `nn.Transformer` redraws every matrix by `xavier_uniform_` after its parts' own
/// initialisation: `linear1.weight` (16 x 8) then has variance `b^2 / 3` with
/// `b = sqrt(6 / 24)` (1/12), twice that of `Linear`'s own bound `1 / sqrt(8)`; vectors (biases,
/// norms) keep theirs.
#[test]
fn transformer_redraws_matrices_as_pytorch() {
    let t = Transformer::<U8, U2, U16, SeqFirst, f64>::new(&mut Rng::seed(3), 3, 3);
    let mut w = vec![];
    for l in &t.encoder.layers {
        w.extend(l.linear1.weight.to_vec());
    }
    for l in &t.decoder.layers {
        w.extend(l.linear1.weight.to_vec());
    }
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!((var - 1.0 / 12.0).abs() < 0.01, "variance {var}");
    assert!(w.iter().all(|v| v.abs() <= 0.5));
    let norm = t.decoder.norm.as_ref().unwrap();
    assert!(norm
        .weight
        .as_ref()
        .unwrap()
        .to_vec()
        .iter()
        .all(|&v| v == 1.0));
}
