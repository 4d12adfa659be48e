//! The Transformer's layers (PyTorch's `nn.TransformerEncoderLayer`, `nn.TransformerEncoder`,
//! `nn.TransformerDecoderLayer`): self-attention (and, in a decoder, attention to the
//! encoder's output) and a feed-forward block, each with a residual connection, dropout and
//! layer norm, the norms after the blocks (PyTorch's default) or before them (`norm_first`).
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
        let x = self
            .layers
            .iter()
            .fold(src, |x, layer| layer.encode(x, masks));
        match &self.norm {
            Some(n) => n.forward(x),
            None => x,
        }
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
        let options = |attn_mask, key_padding_mask| MhaOptions {
            key_padding_mask,
            attn_mask,
            need_weights: false,
            average_attn_weights: true,
        };
        let self_block = |x: Tensor<(A, B, D), E, T>| {
            let opts = options(masks.tgt_mask, masks.tgt_key_padding_mask);
            let (y, _) = self.self_attn.attend(x.clone(), x.clone(), x, opts);
            self.dropout1.forward(y)
        };
        let memory_block = |x: Tensor<(A, B, D), E, T>| {
            let opts = options(masks.memory_mask, masks.memory_key_padding_mask);
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
