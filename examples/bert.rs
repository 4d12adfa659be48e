//! A Hugging Face BERT encoder ported as it is written: `#[derive(Module)]` structs over
//! `Linear`, `LayerNorm` and `Embedding`, the attention through
//! `scaled_dot_product_attention`, the weights loaded from Hugging Face's state dict with its
//! names unchanged (`embeddings.word_embeddings.weight`,
//! `encoder.layer.0.attention.self.query.weight`,
//! `encoder.layer.0.attention.output.LayerNorm.bias`, `pooler.dense.weight`), and the padding
//! turned into an attention mask. The model in `data/bert-tiny` is `transformers.BertModel`
//! with random weights (made by `data/bert-tiny/make.py`, with the hidden states it gave for a
//! padded batch): the example prints how far this port's hidden states are from them.
//!
//! Run: `cargo run --release --example bert`

use stensor::io::StateDict;
use stensor::nn::{Embedding, Forward, LayerNorm, Linear, Module, ModuleDisplay};
use stensor::ops::{AttnMask, Sdpa};
use stensor::prelude::*;
use stensor::shape::Axes4;

/// `hidden_size`.
pub type Hidden = U32;
/// `num_attention_heads`.
pub type Heads = U4;
/// The size of a head, `hidden_size / num_attention_heads`.
pub type HeadSize = U8;
/// `intermediate_size`.
pub type Intermediate = U64;
/// `vocab_size`.
pub type Vocab = U100;
/// `max_position_embeddings`.
pub type Positions = U16;
/// `layer_norm_eps` of the config.
pub const LAYER_NORM_EPS: f64 = 1e-12;

/// A batch of sequences' hidden states `(N, L, hidden)`.
pub type States = Tensor<(usize, usize, Hidden)>;

/// `BertEmbeddings`: the token's, its position's and its segment's vectors summed, then a norm.
#[derive(Module)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding<Vocab, Hidden>,
    pub position_embeddings: Embedding<Positions, Hidden>,
    pub token_type_embeddings: Embedding<U2, Hidden>,
    #[module(rename = "LayerNorm")]
    pub layer_norm: LayerNorm<(Hidden,)>,
}

/// `BertSelfAttention`: the query, key and value projections as three `Linear`s.
#[derive(Module)]
pub struct BertSelfAttention {
    pub query: Linear<Hidden, Hidden>,
    pub key: Linear<Hidden, Hidden>,
    pub value: Linear<Hidden, Hidden>,
}

/// `BertSelfOutput`: the attention's output projection, residual and norm.
#[derive(Module)]
pub struct BertSelfOutput {
    pub dense: Linear<Hidden, Hidden>,
    #[module(rename = "LayerNorm")]
    pub layer_norm: LayerNorm<(Hidden,)>,
}

/// `BertAttention` (its `self` is a Rust keyword: the field is renamed).
#[derive(Module)]
pub struct BertAttention {
    #[module(rename = "self")]
    pub self_attention: BertSelfAttention,
    pub output: BertSelfOutput,
}

/// `BertIntermediate`: the feed-forward block's first layer.
#[derive(Module)]
pub struct BertIntermediate {
    pub dense: Linear<Hidden, Intermediate>,
}

/// `BertOutput`: the feed-forward block's second layer, residual and norm.
#[derive(Module)]
pub struct BertOutput {
    pub dense: Linear<Intermediate, Hidden>,
    #[module(rename = "LayerNorm")]
    pub layer_norm: LayerNorm<(Hidden,)>,
}

/// `BertLayer`.
#[derive(Module)]
pub struct BertLayer {
    pub attention: BertAttention,
    pub intermediate: BertIntermediate,
    pub output: BertOutput,
}

/// `BertEncoder`: its layers are `encoder.layer.N`.
#[derive(Module)]
pub struct BertEncoder {
    pub layer: Vec<BertLayer>,
}

/// `BertPooler`: `tanh(dense(first token))`.
#[derive(Module)]
pub struct BertPooler {
    pub dense: Linear<Hidden, Hidden>,
}

/// `BertModel`.
#[derive(Module)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub encoder: BertEncoder,
    pub pooler: BertPooler,
}

fn norm() -> LayerNorm<(Hidden,)> {
    LayerNorm::new().eps(LAYER_NORM_EPS)
}

impl BertModel {
    /// The architecture with `layers` layers (weights drawn, to be replaced by a load).
    pub fn new(layers: usize, rng: &mut Rng) -> Self {
        let layer = |rng: &mut Rng| BertLayer {
            attention: BertAttention {
                self_attention: BertSelfAttention {
                    query: Linear::new(rng),
                    key: Linear::new(rng),
                    value: Linear::new(rng),
                },
                output: BertSelfOutput {
                    dense: Linear::new(rng),
                    layer_norm: norm(),
                },
            },
            intermediate: BertIntermediate {
                dense: Linear::new(rng),
            },
            output: BertOutput {
                dense: Linear::new(rng),
                layer_norm: norm(),
            },
        };
        BertModel {
            embeddings: BertEmbeddings {
                word_embeddings: Embedding::new(rng),
                position_embeddings: Embedding::new(rng),
                token_type_embeddings: Embedding::new(rng),
                layer_norm: norm(),
            },
            encoder: BertEncoder {
                layer: (0..layers).map(|_| layer(rng)).collect(),
            },
            pooler: BertPooler {
                dense: Linear::new(rng),
            },
        }
    }

    /// `BertModel(input_ids, attention_mask, token_type_ids)` in eval mode: the last hidden
    /// states `(N, L, hidden)` and the pooled output `(N, hidden)`. `padding` is `true` where
    /// `attention_mask` is 0.
    pub fn forward(
        &self,
        input_ids: &Indices<(usize, usize)>,
        token_type_ids: &Indices<(usize, usize)>,
        padding: &Mask<(usize, usize)>,
    ) -> (States, Tensor<(usize, Hidden)>) {
        let [n, l] = [input_ids.dims()[0], input_ids.dims()[1]];
        let e = &self.embeddings;
        let positions = Indices::from_fn_shaped((n, l), |ix| ix[1] as i64);
        let x = e
            .word_embeddings
            .forward(input_ids.clone())
            .add(&e.position_embeddings.forward(positions))
            .add(&e.token_type_embeddings.forward(token_type_ids.clone()));
        let mut x = e.layer_norm.forward(x);
        // Hugging Face adds the dtype's lowest value to the scores of padded keys; hiding them
        // gives the same weights (both underflow to 0 after the softmax)
        let hidden = Mask::from_fn_shaped((n, U1::new(), U1::new(), l), |ix| {
            padding.as_slice()[ix[0] * l + ix[3]]
        });
        for layer in &self.encoder.layer {
            x = layer.forward(x, &hidden);
        }
        let first = x.clone().select::<1>(0);
        let pooled = self.pooler.dense.forward(first).tanh();
        (x, pooled)
    }
}

/// `(N, L, hidden)` as heads `(N, heads, L, head size)`.
fn heads(x: States) -> Tensor<(usize, Heads, usize, HeadSize)> {
    let split: Tensor<(usize, usize, Heads, HeadSize)> = x.reshape();
    split.permute::<Axes4<0, 2, 1, 3>>()
}

impl BertLayer {
    /// `BertLayer.forward` with the padded keys hidden by `hidden` `(N, 1, 1, L)`.
    pub fn forward(&self, x: States, hidden: &Mask<(usize, U1, U1, usize)>) -> States {
        let a = &self.attention.self_attention;
        let (q, k, v) = (
            heads(a.query.forward(x.clone())),
            heads(a.key.forward(x.clone())),
            heads(a.value.forward(x.clone())),
        );
        let context = q
            .scaled_dot_product_attention(&k, &v, Sdpa::new().mask(AttnMask::hide(hidden)))
            .permute::<Axes4<0, 2, 1, 3>>()
            .reshape::<(usize, usize, Hidden)>();
        let out = &self.attention.output;
        let x = out.layer_norm.forward(out.dense.forward(context).add(&x));
        let inner = self.intermediate.dense.forward(x.clone()).gelu();
        let out = &self.output;
        out.layer_norm.forward(out.dense.forward(inner).add(&x))
    }
}

/// The reference batch of `data/bert-tiny/reference.safetensors`: ids, token types, padding,
/// and `BertModel`'s last hidden states and pooled output for them.
pub struct Reference {
    pub input_ids: Indices<(usize, usize)>,
    pub token_type_ids: Indices<(usize, usize)>,
    pub padding: Mask<(usize, usize)>,
    pub last_hidden_state: States,
    pub pooler_output: Tensor<(usize, Hidden)>,
}

/// The directory of the tiny model.
pub fn model_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bert-tiny")
}

/// Reads the reference batch.
pub fn reference() -> Result<Reference, stensor::io::StateDictError> {
    let sd = StateDict::read(model_dir().join("reference.safetensors"))?;
    let mask: Indices<(usize, usize)> = sd.indices("attention_mask")?;
    Ok(Reference {
        input_ids: sd.indices("input_ids")?,
        token_type_ids: sd.indices("token_type_ids")?,
        padding: mask.eq_scalar(0),
        last_hidden_state: sd.tensor("last_hidden_state")?,
        pooler_output: sd.tensor("pooler_output")?,
    })
}

/// The port with the tiny model's weights, loaded by Hugging Face's names.
pub fn load_model() -> Result<BertModel, stensor::io::StateDictError> {
    let mut model = BertModel::new(2, &mut Rng::seed(0));
    stensor::io::load(&mut model, model_dir().join("model.safetensors"))?;
    Ok(model)
}

/// The largest absolute difference of two tensors' values.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = load_model()?;
    println!("{}", ModuleDisplay(&model));
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let example = |part: &str| {
        names
            .iter()
            .find(|n| n.contains(part))
            .cloned()
            .unwrap_or_default()
    };
    println!(
        "loaded {} tensors by Hugging Face's names, e.g. {}, {}",
        names.len(),
        example("self.query.weight"),
        example("output.LayerNorm.bias")
    );
    let r = reference()?;
    let (hidden, pooled) = model.forward(&r.input_ids, &r.token_type_ids, &r.padding);
    println!(
        "last_hidden_state {:?}: max |stensor - transformers| = {:.2e}",
        hidden.dims(),
        max_abs_diff(&hidden.to_vec(), &r.last_hidden_state.to_vec())
    );
    println!(
        "pooler_output {:?}: max |stensor - transformers| = {:.2e}",
        pooled.dims(),
        max_abs_diff(&pooled.to_vec(), &r.pooler_output.to_vec())
    );
    Ok(())
}
