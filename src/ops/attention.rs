//! Scaled dot-product attention, PyTorch's `F.scaled_dot_product_attention`:
//! `softmax(Q K^T scale + mask) V` over a query `(.., L, E)`, a key `(.., S, E)` and a value
//! `(.., S, Ev)`, the leading dims a batch or a batch and heads (static or runtime), the
//! output `(.., L, Ev)` typed by [`AttentionShapes`].
//!
//! The kernel computes it in blocks with an online softmax and recomputes the weights in the
//! backward (see `kernels::attention`), so neither inference nor training holds the `L x S`
//! weights: memory grows linearly with the sequence lengths.

use crate::autograd::{op_result, GradTarget, MergeTape, NoTape, Node, TapeMode};
use crate::error::{Error, Result};
use crate::kernels::{self, AttnBias, AttnDims};
use crate::shape::{AttentionShapes, ConstDim, Shape};
use crate::tensor::{Element, Mask, Rng, Tensor};
use std::sync::Arc;

/// An attention mask, broadcast to `(.., L, S)` as PyTorch broadcasts `attn_mask`: boolean
/// (`true` where a query may attend to a key as `scaled_dot_product_attention` reads it, or
/// `true` where it may not as `MultiheadAttention` reads it) or additive (added to the scores;
/// `-inf` hides a key). The mask's values take no gradient.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::AttnMask;
/// let allow = Mask::<(U2, U3)>::from_array([[true, false, true], [true, true, false]]);
/// let bias = Tensor::<(U2, U3)>::zeros();
/// let (_a, _b) = (AttnMask::<f32>::allow(&allow), AttnMask::add(&bias));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AttnMask<'a, E: Element> {
    values: MaskValues<'a, E>,
    dims: [usize; 4],
    rank: usize,
}

#[derive(Clone, Copy, Debug)]
enum MaskValues<'a, E> {
    Allow(&'a [bool]),
    Hide(&'a [bool]),
    Add(&'a [E]),
}

impl<'a, E: Element> AttnMask<'a, E> {
    /// A boolean mask: `true` where the query may attend to the key.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::AttnMask;
    /// let m = Mask::<(U1, U2)>::from_array([[true, false]]);
    /// let _ = AttnMask::<f32>::allow(&m);
    /// ```
    ///
    /// # Panics
    /// If the mask has more than four dims.
    pub fn allow<S: Shape, T>(mask: &'a Mask<S, T>) -> Self {
        Self::of(MaskValues::Allow(mask.as_slice()), &mask.dims())
    }

    /// A boolean mask with `true` where the query may NOT attend to the key: the convention
    /// of `MultiheadAttention`'s and the Transformer layers' boolean masks
    /// (`key_padding_mask`, `attn_mask`, `src_mask`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::AttnMask;
    /// let padding = Mask::<(U1, U3)>::from_array([[false, false, true]]);
    /// let _ = AttnMask::<f32>::hide(&padding);
    /// ```
    ///
    /// # Panics
    /// If the mask has more than four dims.
    pub fn hide<S: Shape, T>(mask: &'a Mask<S, T>) -> Self {
        Self::of(MaskValues::Hide(mask.as_slice()), &mask.dims())
    }

    /// An additive mask: added to the scores before the softmax.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::AttnMask;
    /// let b = Tensor::<(U1, U2)>::from_array([[0.0, f32::NEG_INFINITY]]);
    /// let _ = AttnMask::add(&b);
    /// ```
    ///
    /// # Panics
    /// If the mask has more than four dims.
    pub fn add<S: Shape, T: TapeMode<E>>(bias: &'a Tensor<S, E, T>) -> Self {
        Self::of(MaskValues::Add(bias.as_slice()), &bias.dims())
    }

    fn of(values: MaskValues<'a, E>, dims: &[usize]) -> Self {
        assert!(
            dims.len() <= 4,
            "attention mask: {} dims, at most 4",
            dims.len()
        );
        let mut d = [1; 4];
        d[4 - dims.len()..].copy_from_slice(dims);
        AttnMask {
            values,
            dims: d,
            rank: dims.len(),
        }
    }

    /// The same values read as `dims` (as many values).
    fn reshaped(self, dims: &[usize]) -> Self {
        assert_eq!(
            dims.iter().product::<usize>(),
            self.dims().iter().product::<usize>(),
            "attention mask: dims {dims:?} for a mask of dims {:?}",
            self.dims()
        );
        Self::of(self.values, dims)
    }

    /// The mask's dims.
    pub(crate) fn dims(&self) -> &[usize] {
        &self.dims[4 - self.rank..]
    }

    /// The value added to the score at flat index `i` of the mask: 0 or `-inf` for a boolean
    /// mask, the value for an additive one.
    pub(crate) fn additive(&self, i: usize) -> E {
        let hidden = |v: bool| if v { E::neg_infinity() } else { E::zero() };
        match self.values {
            MaskValues::Allow(m) => hidden(!m[i]),
            MaskValues::Hide(m) => hidden(m[i]),
            MaskValues::Add(v) => v[i],
        }
    }

    /// Strides over the kernel's axes `(batch, heads, L, S)` for an operand whose `(.., L, S)`
    /// is `target` (`[batch, heads, L, S]` or `[batch, L, S]`), broadcasting as PyTorch (the
    /// mask's dims right-aligned, each equal or 1); `None` if it does not broadcast.
    fn strides(&self, target: &[usize]) -> Option<[usize; 4]> {
        let mask = self.dims();
        let off = target.len().checked_sub(mask.len())?;
        let mut st = vec![0; target.len()];
        let mut step = 1;
        for (ax, &m) in mask.iter().enumerate().rev() {
            let t = target[off + ax];
            if m != t && m != 1 {
                return None;
            }
            st[off + ax] = if m == 1 { 0 } else { step };
            step *= m;
        }
        Some(match st[..] {
            [b, h, i, j] => [b, h, i, j],
            [b, i, j] => [b, 0, i, j],
            _ => return None,
        })
    }
}

/// The options of [`Tensor::scaled_dot_product_attention`], PyTorch's keyword arguments:
/// `attn_mask`, `dropout_p`, `is_causal`, `scale` (default `1 / sqrt(E)`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::Sdpa;
/// let opts = Sdpa::<f32>::new().causal().scale(0.5).dropout(0.1, &mut Rng::seed(0));
/// assert!(opts.is_causal && opts.scale == Some(0.5) && opts.dropout_p == 0.1);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Sdpa<'a, E: Element> {
    /// The mask, if any.
    pub attn_mask: Option<AttnMask<'a, E>>,
    /// The probability of dropping each attention weight (the rest scaled by `1 / (1 - p)`).
    pub dropout_p: f64,
    /// The seed the dropout's draws come from (see [`Sdpa::dropout`]).
    pub dropout_seed: u64,
    /// Query `i` attends to keys `j <= i` only (PyTorch's top-left causal mask).
    pub is_causal: bool,
    /// The scores' factor; `None` is `1 / sqrt(E)`.
    pub scale: Option<f64>,
}

impl<E: Element> Default for Sdpa<'_, E> {
    fn default() -> Self {
        Sdpa {
            attn_mask: None,
            dropout_p: 0.0,
            dropout_seed: 0,
            is_causal: false,
            scale: None,
        }
    }
}

impl<'a, E: Element> Sdpa<'a, E> {
    /// No mask, no dropout, not causal, the default scale.
    ///
    /// ```
    /// let o = stensor::ops::Sdpa::<f64>::new();
    /// assert!(o.attn_mask.is_none() && !o.is_causal);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// With `mask`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::{AttnMask, Sdpa};
    /// let m = Mask::<(U1, U1)>::from_array([[true]]);
    /// assert!(Sdpa::<f32>::new().mask(AttnMask::allow(&m)).attn_mask.is_some());
    /// ```
    pub fn mask(mut self, mask: AttnMask<'a, E>) -> Self {
        self.attn_mask = Some(mask);
        self
    }

    /// Causal (`is_causal=True`).
    ///
    /// ```
    /// assert!(stensor::ops::Sdpa::<f32>::new().causal().is_causal);
    /// ```
    pub fn causal(mut self) -> Self {
        self.is_causal = true;
        self
    }

    /// The scores' factor.
    ///
    /// ```
    /// assert_eq!(stensor::ops::Sdpa::<f32>::new().scale(0.3).scale, Some(0.3));
    /// ```
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Dropout on the attention weights with probability `p` (for training), its draws
    /// seeded from `rng`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let o = stensor::ops::Sdpa::<f32>::new().dropout(0.2, &mut Rng::seed(1));
    /// assert_eq!(o.dropout_p, 0.2);
    /// ```
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    pub fn dropout(mut self, p: f64, rng: &mut Rng) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "dropout probability {p} not in [0, 1]"
        );
        self.dropout_p = p;
        self.dropout_seed = rng.next_u64();
        self
    }
}

impl<SQ: Shape, E: Element, T: TapeMode<E>> Tensor<SQ, E, T> {
    /// `softmax(Q K^T scale + mask) V` with this tensor as the query `(.., L, E)`, `key`
    /// `(.., S, E)` and `value` `(.., S, Ev)` (`F.scaled_dot_product_attention`); the leading
    /// dims are a batch, or a batch and heads. A query row that may attend to no key gives
    /// zeros, as PyTorch's CPU attention.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::Sdpa;
    /// let q = Tensor::<(U1, U2, usize, U4)>::ones_shaped((U1::new(), U2::new(), 3, U4::new()));
    /// let k = Tensor::<(U1, U2, usize, U4)>::ones_shaped((U1::new(), U2::new(), 5, U4::new()));
    /// let v = Tensor::<(U1, U2, usize, U6)>::ones_shaped((U1::new(), U2::new(), 5, U6::new()));
    /// let out = q.scaled_dot_product_attention(&k, &v, Sdpa::new().causal());
    /// assert_eq!(out.dims(), [1, 2, 3, 6]);
    /// assert!(out.to_vec().iter().all(|&x| (x - 1.0).abs() < 1e-6));
    /// ```
    ///
    /// # Panics
    /// If the runtime dims disagree (the leading dims, the features of query and key, the
    /// lengths of key and value) or the mask does not broadcast to `(.., L, S)`; see
    /// [`try_scaled_dot_product_attention`](Self::try_scaled_dot_product_attention).
    pub fn scaled_dot_product_attention<SK: Shape, SV: Shape, T2: TapeMode<E>>(
        self,
        key: &Tensor<SK, E, T2>,
        value: &Tensor<SV, E, T2>,
        opts: Sdpa<'_, E>,
    ) -> Tensor<SQ::Output, E, T::Output>
    where
        SQ: AttentionShapes<SK, SV>,
        T: MergeTape<E, T2>,
    {
        match self.try_scaled_dot_product_attention(key, value, opts) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`scaled_dot_product_attention`](Self::scaled_dot_product_attention), with the runtime
    /// dims checked into a `Result`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::Sdpa;
    /// let q = Tensor::<(usize, usize, U4)>::zeros_shaped((1, 3, U4::new()));
    /// let k = Tensor::<(usize, usize, U4)>::zeros_shaped((1, 5, U4::new()));
    /// // four values for five keys: the data decided the lengths
    /// let v = Tensor::<(usize, usize, U2)>::zeros_shaped((1, 4, U2::new()));
    /// let err = q.try_scaled_dot_product_attention(&k, &v, Sdpa::new()).unwrap_err();
    /// assert!(err.to_string().contains("[1, 5, 4] vs [1, 4, 2]"));
    /// ```
    pub fn try_scaled_dot_product_attention<SK: Shape, SV: Shape, T2: TapeMode<E>>(
        self,
        key: &Tensor<SK, E, T2>,
        value: &Tensor<SV, E, T2>,
        opts: Sdpa<'_, E>,
    ) -> Result<Tensor<SQ::Output, E, T::Output>>
    where
        SQ: AttentionShapes<SK, SV>,
        T: MergeTape<E, T2>,
    {
        let lead = SQ::LEADING;
        let (dq, dk, dv) = (self.dims(), key.dims(), value.dims());
        let mismatch = |what: &str, left: &[usize], right: &[usize]| Error::Mismatch {
            op: format!("scaled_dot_product_attention: {what}"),
            left: left.to_vec(),
            right: right.to_vec(),
        };
        if dq[..lead] != dk[..lead] || dq[lead + 1] != dk[lead + 1] {
            return Err(mismatch("query and key", &dq, &dk));
        }
        if dk[..=lead] != dv[..=lead] {
            return Err(mismatch("key and value", &dk, &dv));
        }
        let (batch, heads) = if lead == 2 {
            (dq[0], dq[1])
        } else {
            (dq[0], 1)
        };
        let (l, s, e, ev) = (dq[lead], dk[lead], dq[lead + 1], dv[lead + 1]);
        let mut target = dq[..lead].to_vec();
        target.extend([l, s]);
        let (d, bias) = opts
            .kernel_args([batch, heads, l, s, e, ev], &target)
            .map_err(|mask| mismatch("attn_mask", &mask, &target))?;
        let packed = |len, width| kernels::RowLayout::packed(heads, len, width);
        let out_shape = self.shape().attention_output(&value.shape());
        let operands = [
            Operand::of(&self, packed(l, e)),
            Operand::of(key, packed(s, e)),
            Operand::of(value, packed(s, ev)),
        ];
        Ok(record(out_shape, operands, false, packed(l, ev), d, bias))
    }
}

impl<'a, E: Element> Sdpa<'a, E> {
    /// The kernel's sizes and view of the mask for `[batch, heads, l, s, e, ev]` (pairs of
    /// `l` queries and `s` keys of `e` features, values of `ev`), the mask broadcast over
    /// `target` (the attention's `(.., L, S)`); the mask's dims if it does not broadcast.
    fn kernel_args(
        &self,
        [batch, heads, l, s, e, ev]: [usize; 6],
        target: &[usize],
    ) -> std::result::Result<(AttnDims, AttnBias<'a, E>), Vec<usize>> {
        // the caller's mask, borrowed for the forward; copied only if a backward will need it
        let bias = match self.attn_mask {
            None => AttnBias::None,
            Some(m) => {
                let st = m.strides(target).ok_or_else(|| m.dims().to_vec())?;
                match m.values {
                    MaskValues::Allow(v) => AttnBias::Allow(v, st),
                    MaskValues::Hide(v) => AttnBias::Hide(v, st),
                    MaskValues::Add(v) => AttnBias::Add(v, st),
                }
            }
        };
        let d = AttnDims {
            batch,
            heads,
            l,
            s,
            e,
            ev,
            scale: self.scale.unwrap_or(1.0 / (e as f64).sqrt()),
            causal: self.is_causal,
            dropout: (self.dropout_p > 0.0).then_some((self.dropout_p, self.dropout_seed)),
        };
        Ok((d, bias))
    }
}

/// One operand of a recorded attention: its values, their layout, and where its gradient
/// goes.
struct Operand<'n, E: Element> {
    values: Arc<Vec<E>>,
    /// Where the operand's first row starts in `values` (a third of each row of a packed
    /// query-key-value projection starts past the others).
    offset: usize,
    layout: kernels::RowLayout,
    input: (GradTarget, Option<&'n Arc<Node<E>>>),
}

impl<'n, E: Element> Operand<'n, E> {
    fn of<S: Shape, T: TapeMode<E>>(t: &'n Tensor<S, E, T>, layout: kernels::RowLayout) -> Self {
        Operand {
            values: t.data_arc(),
            offset: 0,
            layout,
            input: t.as_input(),
        }
    }
}

/// `values` from `offset` on, laid out as `layout` says.
fn rows<E>(values: &[E], offset: usize, layout: kernels::RowLayout) -> kernels::Rows<'_, E> {
    kernels::Rows {
        data: &values[offset..],
        layout,
    }
}

/// Heads-major values (`pairs x len x width`) in `layout`: as they are where that is their
/// layout, else scattered into a new buffer.
fn laid_out<E: Element>(
    heads_major: Vec<E>,
    heads: usize,
    (len, width): (usize, usize),
    layout: kernels::RowLayout,
) -> Vec<E> {
    if layout == kernels::RowLayout::packed(heads, len, width) {
        return heads_major;
    }
    let mut dst = kernels::zeros(heads_major.len());
    kernels::scatter_heads(&heads_major, heads, (len, width), layout, &mut dst);
    dst
}

/// The attention of the query, key and value `operands` (sizes and mask in `d` and `bias`)
/// as one recorded op: the output of shape `shape` laid out as `out_layout`, the backward
/// recomputing the weights blockwise and giving each operand its gradient in its own layout.
/// With `one_input`, the three are disjoint parts of one tensor (the query's input, at their
/// offsets), which gets one gradient holding all three.
fn record<S: Shape, E: Element, T: TapeMode<E>>(
    shape: S,
    [q, k, v]: [Operand<'_, E>; 3],
    one_input: bool,
    out_layout: kernels::RowLayout,
    d: AttnDims,
    bias: AttnBias<'_, E>,
) -> Tensor<S, E, T> {
    let operands = [
        rows(&q.values, q.offset, q.layout),
        rows(&k.values, k.offset, k.layout),
        rows(&v.values, v.offset, v.layout),
    ];
    let (heads_out, lse) = kernels::attention_forward_rows(&d, &bias, operands);
    let out = laid_out(heads_out, d.heads, (d.l, d.ev), out_layout);
    let inputs = [q.input, k.input, v.input];
    let inputs = &inputs[..if one_input { 1 } else { 3 }];
    op_result(shape, out, inputs, |out| {
        let out = Arc::clone(out);
        let bias = bias.to_owned();
        let (tq, tk, tv) = (q.input.0, k.input.0, v.input.0);
        // (values, offset, layout) of each operand
        let [q, k, v] = [q, k, v].map(|x| (x.values, x.offset, x.layout));
        Box::new(move |g, grads| {
            let (gq, gk, gv) = kernels::attention_backward_rows(
                &d,
                &bias.view(),
                [&q, &k, &v].map(|x| rows(&x.0, x.1, x.2)),
                [rows(&out, 0, out_layout), rows(g, 0, out_layout)],
                &lse,
            );
            let (l, s, e, ev) = (d.l, d.s, d.e, d.ev);
            if one_input {
                let mut all = kernels::zeros(q.0.len());
                for (gx, x, len, width) in [(gq, &q, l, e), (gk, &k, s, e), (gv, &v, s, ev)] {
                    kernels::scatter_heads(&gx, d.heads, (len, width), x.2, &mut all[x.1..]);
                }
                grads.add_owned(&tq, all);
            } else {
                grads.add_owned(&tq, laid_out(gq, d.heads, (l, e), q.2));
                grads.add_owned(&tk, laid_out(gk, d.heads, (s, e), k.2));
                grads.add_owned(&tv, laid_out(gv, d.heads, (s, ev), v.2));
            }
        })
    })
}

/// The additive bias `(N, H, L, S)` of a multi-head attention from PyTorch's `attn_mask`
/// (`(L, S0)`, or `(N * H, L, S0)` per sequence and head) and `key_padding_mask` (`(N, S0)`),
/// summed where both are given; `S0` keys come from the inputs, and the `S - S0` appended after
/// them (`bias_kv`, zero attention) are never masked. `None` without a mask.
///
/// # Panics
/// If a mask's dims are none of those.
pub(crate) fn head_bias<H: ConstDim, E: Element>(
    attn_mask: Option<AttnMask<'_, E>>,
    key_padding_mask: Option<AttnMask<'_, E>>,
    (n, l, s0, s): (usize, usize, usize, usize),
) -> Option<Tensor<(usize, H, usize, usize), E>> {
    if attn_mask.is_none() && key_padding_mask.is_none() {
        return None;
    }
    let h = H::SIZE;
    if let Some(m) = &attn_mask {
        assert!(
            m.dims() == [l, s0] || m.dims() == [n * h, l, s0],
            "MultiheadAttention: attn_mask of dims {:?}, expected [{l}, {s0}] or [{}, {l}, {s0}]",
            m.dims(),
            n * h
        );
    }
    if let Some(m) = &key_padding_mask {
        assert!(
            m.dims() == [n, s0],
            "MultiheadAttention: key_padding_mask of dims {:?}, expected [{n}, {s0}]",
            m.dims()
        );
    }
    Some(Tensor::from_fn_shaped(
        (n, H::default(), l, s),
        |[b, hh, i, j]| {
            if j >= s0 {
                return E::zero();
            }
            let a = attn_mask.map_or(E::zero(), |m| match m.rank {
                2 => m.additive(i * s0 + j),
                _ => m.additive(((b * h + hh) * l + i) * s0 + j),
            });
            a + key_padding_mask.map_or(E::zero(), |m| m.additive(b * s0 + j))
        },
    ))
}

/// A multi-head attention's mask over `(N, H, L, S)` from PyTorch's `attn_mask` and
/// `key_padding_mask` (see [`head_bias`]), when no key is appended: one of them alone stays
/// the caller's, read by the kernel with broadcasting (`key_padding_mask` `(N, S)` as
/// `(N, 1, 1, S)`, `attn_mask` `(N * H, L, S)` as `(N, H, L, S)`), so that a padding mask
/// costs no `L x S` memory; both are summed into one bias.
///
/// # Panics
/// If a mask's dims are not PyTorch's.
pub(crate) fn head_mask<'a, H: ConstDim, E: Element>(
    attn_mask: Option<AttnMask<'a, E>>,
    key_padding_mask: Option<AttnMask<'a, E>>,
    (n, l, s): (usize, usize, usize),
) -> HeadMask<'a, H, E> {
    let h = H::SIZE;
    match (attn_mask, key_padding_mask) {
        (Some(_), Some(_)) => {
            HeadMask::Summed(head_bias::<H, E>(attn_mask, key_padding_mask, (n, l, s, s)))
        }
        (Some(m), None) => {
            assert!(
                m.dims() == [l, s] || m.dims() == [n * h, l, s],
                "MultiheadAttention: attn_mask of dims {:?}, expected [{l}, {s}] or [{}, {l}, {s}]",
                m.dims(),
                n * h
            );
            HeadMask::Given(if m.rank == 3 {
                m.reshaped(&[n, h, l, s])
            } else {
                m
            })
        }
        (None, Some(m)) => {
            assert!(
                m.dims() == [n, s],
                "MultiheadAttention: key_padding_mask of dims {:?}, expected [{n}, {s}]",
                m.dims()
            );
            HeadMask::Given(m.reshaped(&[n, 1, 1, s]))
        }
        (None, None) => HeadMask::Summed(None),
    }
}

/// The mask [`head_mask`] makes: a caller's mask as it is, or the two summed (or none).
pub(crate) enum HeadMask<'a, H: ConstDim, E: Element> {
    Given(AttnMask<'a, E>),
    Summed(Option<Tensor<(usize, H, usize, usize), E>>),
}

impl<H: ConstDim, E: Element> HeadMask<'_, H, E> {
    /// The mask for [`Sdpa::mask`], if any.
    pub(crate) fn mask(&self) -> Option<AttnMask<'_, E>> {
        match self {
            HeadMask::Given(m) => Some(*m),
            HeadMask::Summed(b) => b.as_ref().map(AttnMask::add),
        }
    }
}

/// Heads `(N, H, L, head_dim)`.
type Heads<H, HD, E, T> = Tensor<(usize, H, usize, HD), E, T>;
/// Weights `(N, H, L, S)`.
type HeadWeights<H, E, T> = Tensor<(usize, H, usize, usize), E, T>;
/// The heads' outputs and the weights.
type WithWeights<H, HD, E, T> = (Heads<H, HD, E, T>, HeadWeights<H, E, T>);

/// Attention that also returns its weights, as PyTorch computes it when `need_weights`:
/// `softmax(q k^T / sqrt(head_dim) + bias)`, dropout when given, times `v`; composed of the
/// typed ops (the weights are materialised, as asked).
pub(crate) fn attention_with_weights<H, HD, E, T>(
    q: Heads<H, HD, E, T>,
    k: &Heads<H, HD, E, T>,
    v: &Heads<H, HD, E, T>,
    bias: Option<&HeadWeights<H, E, NoTape>>,
    dropout: Option<(f64, &mut Rng)>,
) -> WithWeights<H, HD, E, T>
where
    H: ConstDim,
    HD: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let scale = E::from_f64(1.0 / (HD::SIZE as f64).sqrt());
    let scores = q.mul_scalar(scale).matmul(&k.clone().transpose::<2, 3>());
    let scores = match bias {
        Some(b) => scores.add::<_, NoTape>(b),
        None => scores,
    };
    let mut w = scores.softmax::<3>();
    if let Some((p, rng)) = dropout {
        w = w.dropout(p, true, rng);
    }
    (w.clone().matmul(v), w)
}

/// Multi-head attention over projected sequences read where they lie: `q` `(L, N, H * hd)`
/// and `k`, `v` `(S, N, H * hd)` (or `(N, L, ..)` with `batch_first`), each token's heads side
/// by side as a projection leaves them; the output in `q`'s layout, ready for the output
/// projection. The kernel reads each head's rows in place and writes its outputs back into
/// the tokens' rows, instead of a permutation into `(N, H, L, hd)` and back for each operand
/// and for each gradient. `opts` as for [`Tensor::scaled_dot_product_attention`], its mask
/// broadcasting to `(N, H, L, S)`.
///
/// # Panics
/// If the batches or the key and value lengths differ, or the mask does not broadcast.
pub(crate) fn attention_rows<A, B, A2, B2, D, H, E, T>(
    q: Tensor<(A, B, D), E, T>,
    k: &Tensor<(A2, B2, D), E, T>,
    v: &Tensor<(A2, B2, D), E, T>,
    batch_first: bool,
    opts: Sdpa<'_, E>,
) -> Tensor<(A, B, D), E, T>
where
    A: crate::shape::Dim,
    B: crate::shape::Dim,
    A2: crate::shape::Dim,
    B2: crate::shape::Dim,
    D: crate::shape::HeadsOf<H>,
    H: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let (dq, dk, dv) = (q.dims().to_vec(), k.dims().to_vec(), v.dims().to_vec());
    let ((n, l), (nk, s)) = (batch_len(&dq, batch_first), batch_len(&dk, batch_first));
    assert!(
        nk == n && dk == dv,
        "attention: query {dq:?}, key {dk:?} and value {dv:?} disagree"
    );
    let (h, hd) = (H::SIZE, D::SIZE / H::SIZE);
    let layout = |len| token_rows(batch_first, n, hd, D::SIZE, len);
    let (lq, lk) = (layout(l), layout(s));
    let (d, bias) = rows_kernel_args(opts, [n, h, l, s, hd]);
    let operands = [Operand::of(&q, lq), Operand::of(k, lk), Operand::of(v, lk)];
    record(q.shape(), operands, false, lq, d, bias)
}

/// [`attention_rows`] for self-attention whose query, key and value lie side by side in each
/// token's row of `qkv`, `(L, N, 3 * H * hd)` (or `(N, L, ..)` with `batch_first`), as one
/// projection by a whole `in_proj_weight` leaves them: one matrix product for the three
/// instead of three, each read in place. The output `(L, N, H * hd)` in the tokens' rows; the
/// gradient one buffer for `qkv`.
///
/// # Panics
/// If `D3` is not three times `D`, or the mask does not broadcast.
pub(crate) fn attention_rows_packed<A, B, D3, D, H, E, T>(
    qkv: Tensor<(A, B, D3), E, T>,
    batch_first: bool,
    opts: Sdpa<'_, E>,
) -> Tensor<(A, B, D), E, T>
where
    A: crate::shape::Dim,
    B: crate::shape::Dim,
    D3: ConstDim,
    D: crate::shape::HeadsOf<H>,
    H: ConstDim,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    let width = D::SIZE;
    assert_eq!(
        D3::SIZE,
        3 * width,
        "attention: packed rows of {} for {width}",
        D3::SIZE
    );
    let (a, b, _) = qkv.shape();
    let (n, l) = batch_len(&qkv.dims(), batch_first);
    let (h, hd) = (H::SIZE, width / H::SIZE);
    let (lin, lout) = (
        token_rows(batch_first, n, hd, 3 * width, l),
        token_rows(batch_first, n, hd, width, l),
    );
    let (d, bias) = rows_kernel_args(opts, [n, h, l, l, hd]);
    let part = |third: usize| Operand {
        offset: third * width,
        ..Operand::of(&qkv, lin)
    };
    record(
        (a, b, D::default()),
        [part(0), part(1), part(2)],
        true,
        lout,
        d,
        bias,
    )
}

/// `(batch, length)` of a sequence's dims, steps first or batch first.
pub(crate) fn batch_len(dims: &[usize], batch_first: bool) -> (usize, usize) {
    if batch_first {
        (dims[0], dims[1])
    } else {
        (dims[1], dims[0])
    }
}

/// Where the heads of `len` tokens' rows lie for the kernel: each row `stride` values (the
/// heads, `hd` values each, side by side at its start), rows of a sequence one after another
/// with `batch_first`, else sequences interleaved step by step (`n` rows per step).
fn token_rows(
    batch_first: bool,
    n: usize,
    hd: usize,
    stride: usize,
    len: usize,
) -> kernels::RowLayout {
    if batch_first {
        kernels::RowLayout {
            batch: len * stride,
            head: hd,
            row: stride,
        }
    } else {
        kernels::RowLayout {
            batch: stride,
            head: hd,
            row: n * stride,
        }
    }
}

/// The kernel's sizes and mask for `[n, h, l, s, hd]`.
///
/// # Panics
/// If the mask does not broadcast to `(N, H, L, S)`.
fn rows_kernel_args<E: Element>(
    opts: Sdpa<'_, E>,
    [n, h, l, s, hd]: [usize; 5],
) -> (AttnDims, AttnBias<'_, E>) {
    opts.kernel_args([n, h, l, s, hd, hd], &[n, h, l, s])
        .unwrap_or_else(|mask| {
            panic!(
                "attention: attn_mask of dims {mask:?} does not broadcast to {:?}",
                [n, h, l, s]
            )
        })
}
