//! The Transformer (PyTorch's `nn.TransformerEncoderLayer`, `nn.TransformerEncoder`,
//! `nn.TransformerDecoderLayer`, `nn.TransformerDecoder`, `nn.Transformer` and
//! `generate_square_subsequent_mask`): self-attention (and, in a decoder, attention to the
//! encoder's output) and a feed-forward block, each with a residual connection, dropout and
//! layer norm, the norms after the blocks (PyTorch's default) or before them (`norm_first`).
//! The stacks hold their layers in a `Vec` (PyTorch deep-copies one layer; here each layer is
//! built, so each has its own initialisation unless the caller copies one).
//!
//! Sizes live in the type (`d_model` `D`, heads `H`, `dim_feedforward` `FF`, the layout `F`),
//! the sequence length and batch may be runtime dims. The self-attention runs with
//! `need_weights: false`, as PyTorch's layers call it, through the blocked attention kernel.

use crate::autograd::MergeTape;
use crate::nn::{
    Dropout, Forward, LayerNorm, Linear, MhaConfig, MhaOptions, MultiheadAttention, SeqFirst,
    SeqLayout,
};
use crate::ops::AttnMask;
use crate::shape::{ConstDim, Dim, HeadsOf, HiddenDim};
use crate::tensor::{Element, Rng, Tensor};

/// The feed-forward block's activation (`activation="relu"` or `"gelu"`).
///
/// ```
/// assert_eq!(stensor::nn::FeedForwardActivation::default(), stensor::nn::FeedForwardActivation::Relu);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FeedForwardActivation {
    /// ReLU (PyTorch's default).
    #[default]
    Relu,
    /// GELU, the exact (erf) form.
    Gelu,
}

/// A layer's feed-forward block: `linear2(dropout(activation(linear1(x))))`.
type FeedForward<'a, D, FF, E> = (
    &'a Linear<D, FF, E>,
    &'a Dropout,
    &'a Linear<FF, D, E>,
    FeedForwardActivation,
);

/// The feed-forward block on `x`.
fn feed_forward<A, B, D, FF, E, T>(
    (linear1, dropout, linear2, activation): FeedForward<'_, D, FF, E>,
    x: Tensor<(A, B, D), E, T>,
) -> Tensor<(A, B, D), E, T>
where
    A: Dim,
    B: Dim,
    D: ConstDim,
    FF: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let h = linear1.forward(x);
    let h = match activation {
        FeedForwardActivation::Relu => h.relu(),
        FeedForwardActivation::Gelu => h.gelu(),
    };
    linear2.forward(dropout.forward(h))
}

/// A stack's `layers` in turn on `x` (each by `step`), then its final `norm`, if any.
fn through_stack<L, A, B, D, E, T>(
    layers: &[L],
    norm: &Option<LayerNorm<(D,), E>>,
    x: Tensor<(A, B, D), E, T>,
    step: impl Fn(&L, Tensor<(A, B, D), E, T>) -> Tensor<(A, B, D), E, T>,
) -> Tensor<(A, B, D), E, T>
where
    A: Dim,
    B: Dim,
    D: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let x = layers.iter().fold(x, |x, layer| step(layer, x));
    match norm {
        Some(n) => n.forward(x),
        None => x,
    }
}

/// The constructor arguments of the Transformer layers besides their sizes: PyTorch's
/// `dropout`, `activation`, `layer_norm_eps`, `norm_first` and `bias`, its defaults by
/// `Default`.
///
/// ```
/// use stensor::nn::{FeedForwardActivation, TransformerLayerConfig};
/// let c = TransformerLayerConfig::default();
/// assert_eq!((c.dropout, c.activation, c.layer_norm_eps), (0.1, FeedForwardActivation::Relu, 1e-5));
/// assert!(!c.norm_first && c.bias);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerLayerConfig {
    /// Dropout after the attention and feed-forward blocks, inside the feed-forward block and
    /// on the attention weights (in training).
    pub dropout: f64,
    /// The feed-forward block's activation.
    pub activation: FeedForwardActivation,
    /// The norms' `eps`.
    pub layer_norm_eps: f64,
    /// Norms before the blocks instead of after them.
    pub norm_first: bool,
    /// Biases on the linear layers and the norms.
    pub bias: bool,
}

impl Default for TransformerLayerConfig {
    fn default() -> Self {
        TransformerLayerConfig {
            dropout: 0.1,
            activation: FeedForwardActivation::Relu,
            layer_norm_eps: 1e-5,
            norm_first: false,
            bias: true,
        }
    }
}

/// The parts every Transformer layer is built from: an attention, the feed-forward block's
/// two layers, a norm and a dropout made on demand, as PyTorch initialises them.
struct Parts<'r> {
    cfg: TransformerLayerConfig,
    rng: &'r mut Rng,
}

impl Parts<'_> {
    fn attention<D, H, F, E>(&mut self) -> MultiheadAttention<D, H, D, D, F, E>
    where
        D: HiddenDim + HeadsOf<H>,
        H: ConstDim,
        F: SeqLayout,
        E: Element,
    {
        let cfg = MhaConfig {
            bias: self.cfg.bias,
            dropout: self.cfg.dropout,
            ..MhaConfig::default()
        };
        MultiheadAttention::with_options(self.rng, cfg)
    }

    fn feed_forward<D: ConstDim, FF: ConstDim, E: Element>(
        &mut self,
    ) -> (Linear<D, FF, E>, Linear<FF, D, E>) {
        if self.cfg.bias {
            (Linear::new(self.rng), Linear::new(self.rng))
        } else {
            (
                Linear::without_bias(self.rng),
                Linear::without_bias(self.rng),
            )
        }
    }

    fn norm<D: ConstDim, E: Element>(&self) -> LayerNorm<(D,), E> {
        let mut n = LayerNorm::new().eps(self.cfg.layer_norm_eps);
        if !self.cfg.bias {
            n.bias = None;
        }
        n
    }

    fn dropout(&mut self) -> Dropout {
        Dropout::new(self.cfg.dropout, self.rng.next_u64())
    }
}

/// `nn.TransformerEncoderLayer(d_model=D, nhead=H, dim_feedforward=FF, batch_first=F)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Module, TransformerEncoderLayer};
/// let layer = TransformerEncoderLayer::<U8, U2, U16>::new(&mut Rng::seed(0));
/// let x = Tensor::<(usize, usize, U8)>::ones_shaped((5, 3, U8::new()));
/// assert_eq!(layer.forward(x).dims(), [5, 3, 8]);
/// let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[0], "self_attn.in_proj_weight");
/// assert_eq!(names[4], "linear1.weight");
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "TransformerEncoderLayer")]
pub struct TransformerEncoderLayer<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The self-attention.
    pub self_attn: MultiheadAttention<D, H, D, D, F, E>,
    /// The feed-forward block's first layer.
    pub linear1: Linear<D, FF, E>,
    /// The dropout inside the feed-forward block.
    pub dropout: Dropout,
    /// The feed-forward block's second layer.
    pub linear2: Linear<FF, D, E>,
    /// Norms before the blocks instead of after them.
    #[module(skip)]
    pub norm_first: bool,
    /// The norm of the self-attention block.
    pub norm1: LayerNorm<(D,), E>,
    /// The norm of the feed-forward block.
    pub norm2: LayerNorm<(D,), E>,
    /// The dropout after the self-attention.
    pub dropout1: Dropout,
    /// The dropout after the feed-forward block.
    pub dropout2: Dropout,
    /// The feed-forward block's activation.
    #[module(skip)]
    pub activation: FeedForwardActivation,
}

/// The masks of [`TransformerEncoderLayer::encode`]: PyTorch's `src_mask` `(L, L)` or
/// `(N * H, L, L)` and `src_key_padding_mask` `(N, L)`, in `MultiheadAttention`'s conventions (`AttnMask::hide`).
///
/// ```
/// let m = stensor::nn::EncoderMasks::<f32>::default();
/// assert!(m.src_mask.is_none() && m.src_key_padding_mask.is_none());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct EncoderMasks<'a, E: Element> {
    /// Which positions each position may not attend to, or an additive mask.
    pub src_mask: Option<AttnMask<'a, E>>,
    /// Which positions of each sequence are padding.
    pub src_key_padding_mask: Option<AttnMask<'a, E>>,
    /// Each position attends to itself and those before it only (PyTorch's `is_causal`:
    /// with `src_mask` the hint that it is the causal mask, without one the causal mask).
    pub is_causal: bool,
}

impl<D, H, FF, F, E> TransformerEncoderLayer<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// PyTorch's defaults ([`TransformerLayerConfig::default`]) and initialisation of each
    /// part.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let l = stensor::nn::TransformerEncoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0));
    /// assert!(!l.norm_first && l.norm1.eps == 1e-5);
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        Self::with_options(rng, TransformerLayerConfig::default())
    }

    /// With PyTorch's `dropout`, `activation`, `layer_norm_eps`, `norm_first` and `bias`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{FeedForwardActivation, TransformerEncoderLayer, TransformerLayerConfig};
    /// let cfg = TransformerLayerConfig { activation: FeedForwardActivation::Gelu, norm_first: true, bias: false, ..Default::default() };
    /// let l = TransformerEncoderLayer::<U4, U2, U8>::with_options(&mut Rng::seed(0), cfg);
    /// assert!(l.norm_first && l.linear1.bias.is_none() && l.norm1.bias.is_none());
    /// ```
    ///
    /// # Panics
    /// If `dropout` is not in `[0, 1]`.
    pub fn with_options(rng: &mut Rng, cfg: TransformerLayerConfig) -> Self {
        let mut p = Parts { cfg, rng };
        let self_attn = p.attention();
        let (linear1, linear2) = p.feed_forward();
        TransformerEncoderLayer {
            self_attn,
            linear1,
            dropout: p.dropout(),
            linear2,
            norm_first: cfg.norm_first,
            norm1: p.norm(),
            norm2: p.norm(),
            dropout1: p.dropout(),
            dropout2: p.dropout(),
            activation: cfg.activation,
        }
    }

    /// PyTorch's `forward(src, src_mask, src_key_padding_mask)`: `src` `(L, N, D)` (or batch
    /// first), the output the same shape.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{EncoderMasks, TransformerEncoderLayer, BatchFirst};
    /// use stensor::ops::AttnMask;
    /// let layer = TransformerEncoderLayer::<U4, U2, U8, BatchFirst>::new(&mut Rng::seed(0));
    /// let x = Tensor::<(U2, usize, U4)>::ones_shaped((U2::new(), 3, U4::new()));
    /// let pad = Mask::<(U2, U3)>::from_array([[false, false, true], [false, false, false]]);
    /// let masks = EncoderMasks { src_key_padding_mask: Some(AttnMask::hide(&pad)), ..Default::default() };
    /// assert_eq!(layer.encode(x, masks).dims(), [2, 3, 4]);
    /// ```
    pub fn encode<A, B, T>(
        &self,
        src: Tensor<(A, B, D), E, T>,
        masks: EncoderMasks<'_, E>,
    ) -> Tensor<(A, B, D), E, T>
    where
        A: Dim,
        B: Dim,
        T: MergeTape<E, T, Output = T>,
    {
        let attend = |x: Tensor<(A, B, D), E, T>| {
            let opts = MhaOptions {
                key_padding_mask: masks.src_key_padding_mask,
                attn_mask: masks.src_mask,
                need_weights: false,
                average_attn_weights: true,
                is_causal: masks.is_causal,
            };
            let (y, _) = self.self_attn.attend(x.clone(), x.clone(), x, opts);
            self.dropout1.forward(y)
        };
        let feed_forward = |x| {
            let ff = (&self.linear1, &self.dropout, &self.linear2, self.activation);
            self.dropout2.forward(feed_forward(ff, x))
        };
        if self.norm_first {
            let x = src.clone().add(&attend(self.norm1.forward(src)));
            x.clone().add(&feed_forward(self.norm2.forward(x)))
        } else {
            let x = self.norm1.forward(src.clone().add(&attend(src)));
            self.norm2.forward(x.clone().add(&feed_forward(x)))
        }
    }
}

impl<A, B, D, H, FF, F, E, T> Forward<Tensor<(A, B, D), E, T>>
    for TransformerEncoderLayer<D, H, FF, F, E>
where
    A: Dim,
    B: Dim,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = Tensor<(A, B, D), E, T>;
    /// Without masks.
    fn forward(&self, src: Tensor<(A, B, D), E, T>) -> Self::Output {
        self.encode(src, EncoderMasks::default())
    }
}

/// `nn.TransformerEncoder(encoder_layer, num_layers, norm)`: the layers in turn, then the
/// optional final norm. PyTorch copies one layer `num_layers` times; here the layers are given
/// (each its own initialisation, or copies of one by the caller), the names PyTorch's
/// (`layers.0.self_attn.in_proj_weight`, `norm.weight`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, LayerNorm, Module, TransformerEncoder, TransformerEncoderLayer};
/// let r = &mut Rng::seed(0);
/// let layers = (0..2).map(|_| TransformerEncoderLayer::<U8, U2, U16>::new(r)).collect();
/// let enc = TransformerEncoder::new(layers, Some(LayerNorm::new()));
/// let x = Tensor::<(usize, usize, U8)>::ones_shaped((4, 2, U8::new()));
/// assert_eq!(enc.forward(x).dims(), [4, 2, 8]);
/// assert_eq!(enc.named_parameters().last().unwrap().0, "norm.bias");
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "TransformerEncoder")]
pub struct TransformerEncoder<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The layers, in order.
    pub layers: Vec<TransformerEncoderLayer<D, H, FF, F, E>>,
    /// The final norm, if any.
    pub norm: Option<LayerNorm<(D,), E>>,
}

impl<D, H, FF, F, E> TransformerEncoder<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// The layers in turn, then `norm`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{TransformerEncoder, TransformerEncoderLayer};
    /// let l = TransformerEncoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0));
    /// assert_eq!(TransformerEncoder::new(vec![l], None).layers.len(), 1);
    /// ```
    pub fn new(
        layers: Vec<TransformerEncoderLayer<D, H, FF, F, E>>,
        norm: Option<LayerNorm<(D,), E>>,
    ) -> Self {
        TransformerEncoder { layers, norm }
    }

    /// PyTorch's `forward(src, mask, src_key_padding_mask)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{EncoderMasks, TransformerEncoder, TransformerEncoderLayer};
    /// use stensor::ops::AttnMask;
    /// let enc = TransformerEncoder::new(vec![TransformerEncoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0))], None);
    /// let causal = Mask::<(U3, U3)>::from_fn_shaped(Default::default(), |ix| ix[1] > ix[0]);
    /// let masks = EncoderMasks { src_mask: Some(AttnMask::hide(&causal)), ..Default::default() };
    /// let x = Tensor::<(U3, U1, U4)>::ones();
    /// assert_eq!(enc.encode(x, masks).dims(), [3, 1, 4]);
    /// ```
    pub fn encode<A, B, T>(
        &self,
        src: Tensor<(A, B, D), E, T>,
        masks: EncoderMasks<'_, E>,
    ) -> Tensor<(A, B, D), E, T>
    where
        A: Dim,
        B: Dim,
        T: MergeTape<E, T, Output = T>,
    {
        through_stack(&self.layers, &self.norm, src, |layer, x| {
            layer.encode(x, masks)
        })
    }
}

impl<A, B, D, H, FF, F, E, T> Forward<Tensor<(A, B, D), E, T>>
    for TransformerEncoder<D, H, FF, F, E>
where
    A: Dim,
    B: Dim,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = Tensor<(A, B, D), E, T>;
    /// Without masks.
    fn forward(&self, src: Tensor<(A, B, D), E, T>) -> Self::Output {
        self.encode(src, EncoderMasks::default())
    }
}

/// `nn.TransformerDecoderLayer(d_model=D, nhead=H, dim_feedforward=FF, batch_first=F)`:
/// self-attention over the target, attention from the target to the memory (the encoder's
/// output), and the feed-forward block, each with a residual connection, dropout and norm.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{DecoderMasks, TransformerDecoderLayer};
/// let layer = TransformerDecoderLayer::<U8, U2, U16>::new(&mut Rng::seed(0));
/// let tgt = Tensor::<(usize, usize, U8)>::ones_shaped((3, 2, U8::new()));
/// let memory = Tensor::<(usize, usize, U8)>::ones_shaped((5, 2, U8::new()));
/// assert_eq!(layer.decode(tgt, memory, DecoderMasks::default()).dims(), [3, 2, 8]);
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "TransformerDecoderLayer")]
pub struct TransformerDecoderLayer<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The target's self-attention.
    pub self_attn: MultiheadAttention<D, H, D, D, F, E>,
    /// The attention from the target to the memory.
    pub multihead_attn: MultiheadAttention<D, H, D, D, F, E>,
    /// The feed-forward block's first layer.
    pub linear1: Linear<D, FF, E>,
    /// The dropout inside the feed-forward block.
    pub dropout: Dropout,
    /// The feed-forward block's second layer.
    pub linear2: Linear<FF, D, E>,
    /// Norms before the blocks instead of after them.
    #[module(skip)]
    pub norm_first: bool,
    /// The norm of the self-attention block.
    pub norm1: LayerNorm<(D,), E>,
    /// The norm of the memory attention block.
    pub norm2: LayerNorm<(D,), E>,
    /// The norm of the feed-forward block.
    pub norm3: LayerNorm<(D,), E>,
    /// The dropout after the self-attention.
    pub dropout1: Dropout,
    /// The dropout after the memory attention.
    pub dropout2: Dropout,
    /// The dropout after the feed-forward block.
    pub dropout3: Dropout,
    /// The feed-forward block's activation.
    #[module(skip)]
    pub activation: FeedForwardActivation,
}

/// The masks of [`TransformerDecoderLayer::decode`], PyTorch's `tgt_mask`, `memory_mask`,
/// `tgt_key_padding_mask` and `memory_key_padding_mask`, in `MultiheadAttention`'s conventions (`AttnMask::hide`).
///
/// ```
/// let m = stensor::nn::DecoderMasks::<f32>::default();
/// assert!(m.tgt_mask.is_none() && m.memory_key_padding_mask.is_none());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DecoderMasks<'a, E: Element> {
    /// `(T, T)` or `(N * H, T, T)`: which target positions each may not attend to.
    pub tgt_mask: Option<AttnMask<'a, E>>,
    /// `(T, S)` or `(N * H, T, S)`: which memory positions each target position may not
    /// attend to.
    pub memory_mask: Option<AttnMask<'a, E>>,
    /// `(N, T)`: the target's padding.
    pub tgt_key_padding_mask: Option<AttnMask<'a, E>>,
    /// `(N, S)`: the memory's padding.
    pub memory_key_padding_mask: Option<AttnMask<'a, E>>,
    /// The target's self-attention is causal (`tgt_is_causal`; see
    /// [`MhaOptions::is_causal`]).
    pub tgt_is_causal: bool,
    /// The attention to the memory is causal (`memory_is_causal`).
    pub memory_is_causal: bool,
}

impl<D, H, FF, F, E> TransformerDecoderLayer<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// PyTorch's defaults ([`TransformerLayerConfig::default`]).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let l = stensor::nn::TransformerDecoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0));
    /// assert!(!l.norm_first && l.norm3.eps == 1e-5);
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        Self::with_options(rng, TransformerLayerConfig::default())
    }

    /// With PyTorch's `dropout`, `activation`, `layer_norm_eps`, `norm_first` and `bias`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{TransformerDecoderLayer, TransformerLayerConfig};
    /// let cfg = TransformerLayerConfig { norm_first: true, ..Default::default() };
    /// let l = TransformerDecoderLayer::<U4, U2, U8>::with_options(&mut Rng::seed(0), cfg);
    /// assert!(l.norm_first);
    /// ```
    ///
    /// # Panics
    /// If `dropout` is not in `[0, 1]`.
    pub fn with_options(rng: &mut Rng, cfg: TransformerLayerConfig) -> Self {
        let mut p = Parts { cfg, rng };
        let self_attn = p.attention();
        let multihead_attn = p.attention();
        let (linear1, linear2) = p.feed_forward();
        TransformerDecoderLayer {
            self_attn,
            multihead_attn,
            linear1,
            dropout: p.dropout(),
            linear2,
            norm_first: cfg.norm_first,
            norm1: p.norm(),
            norm2: p.norm(),
            norm3: p.norm(),
            dropout1: p.dropout(),
            dropout2: p.dropout(),
            dropout3: p.dropout(),
            activation: cfg.activation,
        }
    }

    /// PyTorch's `forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask)`: `tgt` `(T, N, D)`, `memory` `(S, N, D)` (or batch first),
    /// the output shaped as `tgt`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{DecoderMasks, TransformerDecoderLayer};
    /// use stensor::ops::AttnMask;
    /// let layer = TransformerDecoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0));
    /// let causal = Mask::<(U3, U3)>::from_fn_shaped(Default::default(), |ix| ix[1] > ix[0]);
    /// let masks = DecoderMasks { tgt_mask: Some(AttnMask::hide(&causal)), ..Default::default() };
    /// let y = layer.decode(Tensor::<(U3, U1, U4)>::ones(), Tensor::<(U5, U1, U4)>::ones(), masks);
    /// assert_eq!(y.dims(), [3, 1, 4]);
    /// ```
    pub fn decode<A, B, SM, T>(
        &self,
        tgt: Tensor<(A, B, D), E, T>,
        memory: Tensor<SM, E, T>,
        masks: DecoderMasks<'_, E>,
    ) -> Tensor<(A, B, D), E, T>
    where
        A: Dim,
        B: Dim,
        SM: crate::shape::Shape,
        T: MergeTape<E, T, Output = T>,
    {
        let options = |attn_mask, key_padding_mask, is_causal| MhaOptions {
            key_padding_mask,
            attn_mask,
            need_weights: false,
            average_attn_weights: true,
            is_causal,
        };
        let self_block = |x: Tensor<(A, B, D), E, T>| {
            let opts = options(
                masks.tgt_mask,
                masks.tgt_key_padding_mask,
                masks.tgt_is_causal,
            );
            let (y, _) = self.self_attn.attend(x.clone(), x.clone(), x, opts);
            self.dropout1.forward(y)
        };
        let memory_block = |x: Tensor<(A, B, D), E, T>| {
            let opts = options(
                masks.memory_mask,
                masks.memory_key_padding_mask,
                masks.memory_is_causal,
            );
            let (y, _) = self
                .multihead_attn
                .attend(x, memory.clone(), memory.clone(), opts);
            self.dropout2.forward(y)
        };
        let feed_forward = |x| {
            let ff = (&self.linear1, &self.dropout, &self.linear2, self.activation);
            self.dropout3.forward(feed_forward(ff, x))
        };
        if self.norm_first {
            let x = tgt.clone().add(&self_block(self.norm1.forward(tgt)));
            let x = x.clone().add(&memory_block(self.norm2.forward(x)));
            x.clone().add(&feed_forward(self.norm3.forward(x)))
        } else {
            let x = self.norm1.forward(tgt.clone().add(&self_block(tgt)));
            let x = self.norm2.forward(x.clone().add(&memory_block(x)));
            self.norm3.forward(x.clone().add(&feed_forward(x)))
        }
    }
}

impl<A, B, SM, D, H, FF, F, E, T> Forward<(Tensor<(A, B, D), E, T>, Tensor<SM, E, T>)>
    for TransformerDecoderLayer<D, H, FF, F, E>
where
    A: Dim,
    B: Dim,
    SM: crate::shape::Shape,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = Tensor<(A, B, D), E, T>;
    /// `(tgt, memory)` without masks.
    fn forward(&self, (tgt, memory): (Tensor<(A, B, D), E, T>, Tensor<SM, E, T>)) -> Self::Output {
        self.decode(tgt, memory, DecoderMasks::default())
    }
}

/// `nn.TransformerDecoder(decoder_layer, num_layers, norm)`: the layers in turn over the
/// target, each attending to the same memory, then the optional final norm. Names as
/// PyTorch's (`layers.0.multihead_attn.in_proj_weight`, `norm.weight`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, LayerNorm, Module, TransformerDecoder, TransformerDecoderLayer};
/// let r = &mut Rng::seed(0);
/// let layers = (0..2).map(|_| TransformerDecoderLayer::<U8, U2, U16>::new(r)).collect();
/// let dec = TransformerDecoder::new(layers, Some(LayerNorm::new()));
/// let tgt = Tensor::<(usize, usize, U8)>::ones_shaped((4, 2, U8::new()));
/// let memory = Tensor::<(usize, usize, U8)>::ones_shaped((6, 2, U8::new()));
/// assert_eq!(dec.forward((tgt, memory)).dims(), [4, 2, 8]);
/// assert_eq!(dec.named_parameters()[4].0, "layers.0.multihead_attn.in_proj_weight");
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "TransformerDecoder")]
pub struct TransformerDecoder<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The layers, in order.
    pub layers: Vec<TransformerDecoderLayer<D, H, FF, F, E>>,
    /// The final norm, if any.
    pub norm: Option<LayerNorm<(D,), E>>,
}

impl<D, H, FF, F, E> TransformerDecoder<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// The layers in turn, then `norm`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{TransformerDecoder, TransformerDecoderLayer};
    /// let l = TransformerDecoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0));
    /// assert_eq!(TransformerDecoder::new(vec![l], None).layers.len(), 1);
    /// ```
    pub fn new(
        layers: Vec<TransformerDecoderLayer<D, H, FF, F, E>>,
        norm: Option<LayerNorm<(D,), E>>,
    ) -> Self {
        TransformerDecoder { layers, norm }
    }

    /// PyTorch's `forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask, tgt_is_causal, memory_is_causal)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{DecoderMasks, TransformerDecoder, TransformerDecoderLayer};
    /// let dec = TransformerDecoder::new(vec![TransformerDecoderLayer::<U4, U2, U8>::new(&mut Rng::seed(0))], None);
    /// let masks = DecoderMasks { tgt_is_causal: true, ..Default::default() };
    /// let y = dec.decode(Tensor::<(U3, U1, U4)>::ones(), Tensor::<(U5, U1, U4)>::ones(), masks);
    /// assert_eq!(y.dims(), [3, 1, 4]);
    /// ```
    pub fn decode<A, B, SM, T>(
        &self,
        tgt: Tensor<(A, B, D), E, T>,
        memory: Tensor<SM, E, T>,
        masks: DecoderMasks<'_, E>,
    ) -> Tensor<(A, B, D), E, T>
    where
        A: Dim,
        B: Dim,
        SM: crate::shape::Shape,
        T: MergeTape<E, T, Output = T>,
    {
        through_stack(&self.layers, &self.norm, tgt, |layer, x| {
            layer.decode(x, memory.clone(), masks)
        })
    }
}

impl<A, B, SM, D, H, FF, F, E, T> Forward<(Tensor<(A, B, D), E, T>, Tensor<SM, E, T>)>
    for TransformerDecoder<D, H, FF, F, E>
where
    A: Dim,
    B: Dim,
    SM: crate::shape::Shape,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = Tensor<(A, B, D), E, T>;
    /// `(tgt, memory)` without masks.
    fn forward(&self, (tgt, memory): (Tensor<(A, B, D), E, T>, Tensor<SM, E, T>)) -> Self::Output {
        self.decode(tgt, memory, DecoderMasks::default())
    }
}

/// The masks of [`Transformer::transform`]: PyTorch's `src_mask`, `tgt_mask`, `memory_mask`,
/// the three key-padding masks and the three causal hints.
///
/// ```
/// let m = stensor::nn::TransformerMasks::<f32>::default();
/// assert!(m.src_mask.is_none() && !m.tgt_is_causal);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TransformerMasks<'a, E: Element> {
    /// The encoder's self-attention mask `(S, S)` or `(N * H, S, S)`.
    pub src_mask: Option<AttnMask<'a, E>>,
    /// The decoder's self-attention mask `(T, T)` or `(N * H, T, T)`.
    pub tgt_mask: Option<AttnMask<'a, E>>,
    /// The decoder's attention to the memory `(T, S)` or `(N * H, T, S)`.
    pub memory_mask: Option<AttnMask<'a, E>>,
    /// `(N, S)`: the source's padding.
    pub src_key_padding_mask: Option<AttnMask<'a, E>>,
    /// `(N, T)`: the target's padding.
    pub tgt_key_padding_mask: Option<AttnMask<'a, E>>,
    /// `(N, S)`: the memory's padding (usually the source's).
    pub memory_key_padding_mask: Option<AttnMask<'a, E>>,
    /// The encoder's self-attention is causal.
    pub src_is_causal: bool,
    /// The decoder's self-attention is causal.
    pub tgt_is_causal: bool,
    /// The decoder's attention to the memory is causal.
    pub memory_is_causal: bool,
}

/// `nn.Transformer(d_model=D, nhead=H, num_encoder_layers, num_decoder_layers,
/// dim_feedforward=FF, batch_first=F)`: an encoder stack and a decoder stack, each with its
/// final norm, initialised as PyTorch's (each part's own initialisation, then every parameter
/// of more than one dimension redrawn by `xavier_uniform_`). Names as PyTorch's
/// (`encoder.layers.0.self_attn.in_proj_weight`, `decoder.norm.bias`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Module, Transformer};
/// let t = Transformer::<U8, U2, U16>::new(&mut Rng::seed(0), 2, 1);
/// let src = Tensor::<(usize, usize, U8)>::ones_shaped((5, 3, U8::new()));
/// let tgt = Tensor::<(usize, usize, U8)>::ones_shaped((4, 3, U8::new()));
/// assert_eq!(t.forward((src, tgt)).dims(), [4, 3, 8]);
/// assert_eq!(t.named_parameters()[0].0, "encoder.layers.0.self_attn.in_proj_weight");
/// assert_eq!(t.named_parameters().last().unwrap().0, "decoder.norm.bias");
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "Transformer")]
pub struct Transformer<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The encoder stack, with its final norm.
    pub encoder: TransformerEncoder<D, H, FF, F, E>,
    /// The decoder stack, with its final norm.
    pub decoder: TransformerDecoder<D, H, FF, F, E>,
}

impl<D, H, FF, F, E> Transformer<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// `num_encoder_layers` and `num_decoder_layers` layers with PyTorch's defaults
    /// ([`TransformerLayerConfig::default`]; PyTorch's own defaults of 6 and 6 layers of
    /// `d_model=512` are the caller's to choose).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = stensor::nn::Transformer::<U4, U2, U8>::new(&mut Rng::seed(0), 1, 2);
    /// assert_eq!((t.encoder.layers.len(), t.decoder.layers.len()), (1, 2));
    /// ```
    pub fn new(rng: &mut Rng, num_encoder_layers: usize, num_decoder_layers: usize) -> Self {
        Self::with_options(
            rng,
            num_encoder_layers,
            num_decoder_layers,
            TransformerLayerConfig::default(),
        )
    }

    /// With PyTorch's `dropout`, `activation`, `layer_norm_eps`, `norm_first` and `bias`
    /// for every layer and both final norms.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Transformer, TransformerLayerConfig};
    /// let cfg = TransformerLayerConfig { bias: false, ..Default::default() };
    /// let t = Transformer::<U4, U2, U8>::with_options(&mut Rng::seed(0), 1, 1, cfg);
    /// assert!(t.encoder.norm.as_ref().unwrap().bias.is_none());
    /// ```
    ///
    /// # Panics
    /// If `dropout` is not in `[0, 1]`.
    pub fn with_options(
        rng: &mut Rng,
        num_encoder_layers: usize,
        num_decoder_layers: usize,
        cfg: TransformerLayerConfig,
    ) -> Self {
        let encoder_layers = (0..num_encoder_layers)
            .map(|_| TransformerEncoderLayer::with_options(rng, cfg))
            .collect();
        let decoder_layers = (0..num_decoder_layers)
            .map(|_| TransformerDecoderLayer::with_options(rng, cfg))
            .collect();
        let p = Parts { cfg, rng };
        let (encoder_norm, decoder_norm) = (p.norm(), p.norm());
        let mut t = Transformer {
            encoder: TransformerEncoder::new(encoder_layers, Some(encoder_norm)),
            decoder: TransformerDecoder::new(decoder_layers, Some(decoder_norm)),
        };
        xavier_uniform_matrices(&mut t, p.rng);
        t
    }

    /// PyTorch's `forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    /// tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
    /// memory_is_causal)`: the encoder over `src`, the decoder over `tgt` attending to its
    /// output; the output shaped as `tgt`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{generate_square_subsequent_mask, Transformer, TransformerMasks};
    /// use stensor::ops::AttnMask;
    /// let t = Transformer::<U4, U2, U8>::new(&mut Rng::seed(0), 1, 1);
    /// let causal = generate_square_subsequent_mask::<f32>(3);
    /// let masks = TransformerMasks { tgt_mask: Some(AttnMask::add(&causal)), tgt_is_causal: true, ..Default::default() };
    /// let y = t.transform(Tensor::<(U5, U2, U4)>::ones(), Tensor::<(U3, U2, U4)>::ones(), masks);
    /// assert_eq!(y.dims(), [3, 2, 4]);
    /// ```
    ///
    /// # Panics
    /// If the batches of `src` and `tgt` differ, or a mask's dims are not PyTorch's.
    pub fn transform<A, B, A2, B2, T>(
        &self,
        src: Tensor<(A, B, D), E, T>,
        tgt: Tensor<(A2, B2, D), E, T>,
        masks: TransformerMasks<'_, E>,
    ) -> Tensor<(A2, B2, D), E, T>
    where
        A: Dim,
        B: Dim,
        A2: Dim,
        B2: Dim,
        T: MergeTape<E, T, Output = T>,
    {
        let batch = |d: &[usize]| if F::BATCH_FIRST { d[0] } else { d[1] };
        let (sd, td) = (src.dims().to_vec(), tgt.dims().to_vec());
        assert!(
            batch(&sd) == batch(&td),
            "Transformer: the batch of src {sd:?} and of tgt {td:?} must be equal"
        );
        let memory = self.encoder.encode(
            src,
            EncoderMasks {
                src_mask: masks.src_mask,
                src_key_padding_mask: masks.src_key_padding_mask,
                is_causal: masks.src_is_causal,
            },
        );
        self.decoder.decode(
            tgt,
            memory,
            DecoderMasks {
                tgt_mask: masks.tgt_mask,
                memory_mask: masks.memory_mask,
                tgt_key_padding_mask: masks.tgt_key_padding_mask,
                memory_key_padding_mask: masks.memory_key_padding_mask,
                tgt_is_causal: masks.tgt_is_causal,
                memory_is_causal: masks.memory_is_causal,
            },
        )
    }
}

impl<A, B, A2, B2, D, H, FF, F, E, T> Forward<(Tensor<(A, B, D), E, T>, Tensor<(A2, B2, D), E, T>)>
    for Transformer<D, H, FF, F, E>
where
    A: Dim,
    B: Dim,
    A2: Dim,
    B2: Dim,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = Tensor<(A2, B2, D), E, T>;
    /// `(src, tgt)` without masks.
    fn forward(
        &self,
        (src, tgt): (Tensor<(A, B, D), E, T>, Tensor<(A2, B2, D), E, T>),
    ) -> Self::Output {
        self.transform(src, tgt, TransformerMasks::default())
    }
}

/// `nn.Transformer`'s `_reset_parameters`: every parameter of more than one dimension drawn
/// from `U(-b, b)`, `b = sqrt(6 / (fan_in + fan_out))` with PyTorch's fans (`size(1)` and
/// `size(0)` times the receptive field), in the order of the parameters.
fn xavier_uniform_matrices<M: crate::nn::Module>(m: &mut M, rng: &mut Rng) {
    m.visit_mut("", &mut |_, t| {
        let dims: &[usize] = &t.dims;
        if t.kind != crate::nn::TensorKind::Parameter || dims.len() < 2 {
            return;
        }
        let field: usize = dims[2..].iter().product();
        let b = (6.0 / ((dims[0] + dims[1]) * field) as f64).sqrt();
        match t.values {
            crate::tensor::ValuesMut::F32(v) => {
                v.iter_mut().for_each(|x| *x = rng.uniform(-b, b) as f32)
            }
            crate::tensor::ValuesMut::F64(v) => v.iter_mut().for_each(|x| *x = rng.uniform(-b, b)),
            crate::tensor::ValuesMut::I64(_) => {}
        }
    });
}

/// PyTorch's `nn.Transformer.generate_square_subsequent_mask(sz)`: the additive causal mask
/// `(sz, sz)`, `-inf` above the diagonal (a position's later positions) and `0` elsewhere; pass
/// it as `AttnMask::add(&mask)`.
///
/// ```
/// let m = stensor::nn::generate_square_subsequent_mask::<f32>(3);
/// assert_eq!(m.dims(), [3, 3]);
/// assert_eq!(m.to_vec()[..3], [0.0, f32::NEG_INFINITY, f32::NEG_INFINITY]);
/// assert_eq!(m.to_vec()[6..], [0.0, 0.0, 0.0]);
/// ```
pub fn generate_square_subsequent_mask<E: Element>(sz: usize) -> Tensor<(usize, usize), E> {
    Tensor::from_fn_shaped(
        (sz, sz),
        |[i, j]| {
            if j > i {
                E::neg_infinity()
            } else {
                E::zero()
            }
        },
    )
}

/// A Transformer layer is one row of a shape table (`stensor::nn::summary`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{summary, BatchFirst, TransformerEncoderLayer};
/// let layer = TransformerEncoderLayer::<U8, U2, U16, BatchFirst>::new(&mut Rng::seed(0));
/// let s = summary::<Tensor<(usize, U5, U8)>, _>(&(layer,));
/// assert_eq!((s.rows[0].input.as_str(), s.rows[0].output.as_str()), ("(N, 5, 8)", "(N, 5, 8)"));
/// ```
impl<X, D, H, FF, F, E> crate::nn::Summarize<X> for TransformerEncoderLayer<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    Self: Forward<X>,
    X: crate::nn::TensorType,
    <Self as Forward<X>>::Output: crate::nn::TensorType,
{
    fn summary_rows(&self, prefix: &str, rows: &mut Vec<crate::nn::SummaryRow>) {
        rows.push(crate::nn::layer_row::<X, Self>(self, prefix));
    }
}

/// An encoder stack lists its layers, then its norm, in a shape table.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{summary, LayerNorm, TransformerEncoder, TransformerEncoderLayer};
/// let r = &mut Rng::seed(0);
/// let layers = (0..2).map(|_| TransformerEncoderLayer::<U8, U2, U16>::new(r)).collect();
/// let enc = TransformerEncoder::new(layers, Some(LayerNorm::new()));
/// let s = summary::<Tensor<(usize, usize, U8)>, _>(&(enc,));
/// let names: Vec<&str> = s.rows.iter().map(|r| r.name.as_str()).collect();
/// assert_eq!(names, ["0.layers.0", "0.layers.1", "0.norm"]);
/// ```
impl<X, D, H, FF, F, E> crate::nn::Summarize<X> for TransformerEncoder<D, H, FF, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    FF: ConstDim,
    F: SeqLayout,
    E: Element,
    Self: Forward<X>,
    TransformerEncoderLayer<D, H, FF, F, E>: Forward<X>,
    LayerNorm<(D,), E>: Forward<X>,
    X: crate::nn::TensorType,
    <TransformerEncoderLayer<D, H, FF, F, E> as Forward<X>>::Output: crate::nn::TensorType,
    <LayerNorm<(D,), E> as Forward<X>>::Output: crate::nn::TensorType,
{
    fn summary_rows(&self, prefix: &str, rows: &mut Vec<crate::nn::SummaryRow>) {
        for (i, layer) in self.layers.iter().enumerate() {
            let name = crate::nn::join(prefix, &format!("layers.{i}"));
            rows.push(crate::nn::layer_row::<X, _>(layer, &name));
        }
        if let Some(norm) = &self.norm {
            rows.push(crate::nn::layer_row::<X, _>(
                norm,
                &crate::nn::join(prefix, "norm"),
            ));
        }
    }
}
