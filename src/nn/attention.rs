//! `MultiheadAttention` (PyTorch's `nn.MultiheadAttention`): the embedding size `D`, the
//! number of heads `H` (`D % H == 0` checked at compile time by [`HeadsOf`]), the key and value
//! sizes `K` and `V` (`kdim`, `vdim`) and the layout `F` are type parameters; the sequence
//! lengths and the batch may be runtime dims.
//!
//! With `K == V == D` the query, key and value projections are stacked in one
//! `in_proj_weight` `(3 D, D)` as PyTorch stacks them (and so saves them); otherwise they are
//! `q_proj_weight`, `k_proj_weight`, `v_proj_weight`. The bias is always one `in_proj_bias`.
//! Each projection reads its block of the stacked weight and bias directly.
//!
//! Without the weights asked for (`need_weights: false`) the blocked attention kernel, which
//! never holds the `L x S` weights, reads the heads where the projections leave them (each
//! token's heads side by side) and writes the output back into the tokens' rows; with them
//! (PyTorch's default) the weights are computed as PyTorch computes them and returned, averaged
//! over the heads or per head. Self-attention there (one tensor, or clones of it, as query, key
//! and value, as in the Transformer layers; PyTorch's fast path asks the same) projects the
//! three with one product by the whole `in_proj_weight`, each token's query, key and value side
//! by side in one row where the heads read them: one matrix product of `3 D` columns instead
//! of three of `D` (on several threads, one hand-over to the pool and one packing of the
//! input instead of three), and one gradient buffer for the three in training.

use crate::autograd::{MergeTape, NoTape, TapeMode};
use crate::nn::{init, Forward, Linear, SeqFirst, SeqLayout};
use crate::ops::{
    attention_rows, attention_rows_packed, attention_with_weights, batch_len, head_bias, head_mask,
    AttnMask, Sdpa,
};
use crate::shape::{Axes4, ConstDim, Dim, HeadsOf, HiddenDim, Shape};
use crate::tensor::{Element, Mask, Rng, Tensor};
use std::marker::PhantomData;
use std::sync::Mutex;

/// Multi-head attention: `D` embedding features in `H` heads, keys of `K` features, values of
/// `V`, layout `F` ([`SeqFirst`], PyTorch's default, or `BatchFirst`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{MhaOptions, MultiheadAttention};
/// let mha = MultiheadAttention::<U8, U2>::new(&mut Rng::seed(0));
/// let x = Tensor::<(usize, usize, U8)>::ones_shaped((5, 3, U8::new()));
/// let (y, w) = mha.attend(x.clone(), x.clone(), x, MhaOptions::default());
/// assert_eq!(y.dims(), [5, 3, 8]);
/// assert_eq!(w.unwrap().dims(), [3, 5, 5]);
/// ```
#[derive(Debug, crate::Module)]
#[module(kind = "MultiheadAttention")]
pub struct MultiheadAttention<
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    K: ConstDim = D,
    V: ConstDim = D,
    F: SeqLayout = SeqFirst,
    E: Element = f32,
> {
    /// The stacked query, key and value projections `(3 D, D)`, when `K == V == D`.
    #[module(param)]
    pub in_proj_weight: Option<Tensor<(D::Times3, D), E>>,
    /// The query's projection `(D, D)`, when the key or value size differs.
    #[module(param)]
    pub q_proj_weight: Option<Tensor<(D, D), E>>,
    /// The key's projection `(D, K)`, when the key or value size differs.
    #[module(param)]
    pub k_proj_weight: Option<Tensor<(D, K), E>>,
    /// The value's projection `(D, V)`, when the key or value size differs.
    #[module(param)]
    pub v_proj_weight: Option<Tensor<(D, V), E>>,
    /// The stacked projections' biases `(3 D,)`, if the layer has a bias.
    #[module(param)]
    pub in_proj_bias: Option<Tensor<(D::Times3,), E>>,
    /// The output projection.
    pub out_proj: Linear<D, D, E>,
    /// A key appended to every sequence (`add_bias_kv`), `(1, 1, D)`.
    #[module(param)]
    pub bias_k: Option<Tensor<(crate::dims::U1, crate::dims::U1, D), E>>,
    /// A value appended to every sequence (`add_bias_kv`), `(1, 1, D)`.
    #[module(param)]
    pub bias_v: Option<Tensor<(crate::dims::U1, crate::dims::U1, D), E>>,
    /// Append a zero key and value after the heads split (`add_zero_attn`).
    #[module(skip)]
    pub add_zero_attn: bool,
    /// Dropout on the attention weights in training.
    #[module(skip)]
    pub dropout: f64,
    #[module(training)]
    training: bool,
    #[module(skip)]
    rng: Mutex<Rng>,
    #[module(skip)]
    _shape: PhantomData<(H, F)>,
}

/// The constructor arguments of [`MultiheadAttention`] besides its sizes, PyTorch's defaults
/// by `Default`.
///
/// ```
/// let c = stensor::nn::MhaConfig::default();
/// assert!(c.bias && !c.add_bias_kv && !c.add_zero_attn && c.dropout == 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MhaConfig {
    /// Biases on the projections (`bias`).
    pub bias: bool,
    /// A learned key and value appended to every sequence (`add_bias_kv`).
    pub add_bias_kv: bool,
    /// A zero key and value appended after the heads split (`add_zero_attn`).
    pub add_zero_attn: bool,
    /// Dropout on the attention weights in training (`dropout`).
    pub dropout: f64,
}

impl Default for MhaConfig {
    fn default() -> Self {
        MhaConfig {
            bias: true,
            add_bias_kv: false,
            add_zero_attn: false,
            dropout: 0.0,
        }
    }
}

/// The options of [`MultiheadAttention::attend`], PyTorch's forward arguments.
///
/// ```
/// let o = stensor::nn::MhaOptions::<f32>::default();
/// assert!(o.need_weights && o.average_attn_weights && o.attn_mask.is_none() && !o.is_causal);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MhaOptions<'a, E: Element> {
    /// `(N, S)`: which keys of each sequence to ignore (padding).
    pub key_padding_mask: Option<AttnMask<'a, E>>,
    /// `(L, S)`, or `(N * H, L, S)` per sequence and head.
    pub attn_mask: Option<AttnMask<'a, E>>,
    /// Return the attention weights (PyTorch's default).
    pub need_weights: bool,
    /// Average the returned weights over the heads (else per head).
    pub average_attn_weights: bool,
    /// Query `i` attends to keys `j <= i` only (`is_causal`). With an `attn_mask` this is
    /// PyTorch's hint that the mask is the causal one (the mask is applied, and the kernel
    /// skips the key blocks after each query block); without one, the causal mask is applied
    /// (PyTorch asks for the mask as well).
    pub is_causal: bool,
}

impl<E: Element> Default for MhaOptions<'_, E> {
    fn default() -> Self {
        MhaOptions {
            key_padding_mask: None,
            attn_mask: None,
            need_weights: true,
            average_attn_weights: true,
            is_causal: false,
        }
    }
}

/// Attention weights as returned: averaged over the heads `(N, L, S)`, or per head
/// `(N, H, L, S)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{AttnWeights, MhaOptions, MultiheadAttention};
/// let mha = MultiheadAttention::<U4, U2>::new(&mut Rng::seed(0));
/// let x = Tensor::<(usize, usize, U4)>::ones_shaped((2, 1, U4::new()));
/// let opts = MhaOptions { average_attn_weights: false, ..Default::default() };
/// match mha.attend(x.clone(), x.clone(), x, opts).1 {
///     Some(AttnWeights::PerHead(w)) => assert_eq!(w.dims(), [1, 2, 2, 2]),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug)]
pub enum AttnWeights<H: Dim, E: Element, T: TapeMode<E>> {
    /// `(N, L, S)`.
    Averaged(Tensor<(usize, usize, usize), E, T>),
    /// `(N, H, L, S)`.
    PerHead(Tensor<(usize, H, usize, usize), E, T>),
}

impl<H: Dim, E: Element, T: TapeMode<E>> AttnWeights<H, E, T> {
    /// The weights' dims.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::AttnWeights;
    /// let w = AttnWeights::<U2, f32, NoTape>::Averaged(Tensor::zeros_shaped((1, 2, 3)));
    /// assert_eq!(w.dims(), [1, 2, 3]);
    /// ```
    pub fn dims(&self) -> Vec<usize> {
        match self {
            AttnWeights::Averaged(w) => w.dims().to_vec(),
            AttnWeights::PerHead(w) => w.dims().to_vec(),
        }
    }

    /// The weights' values, row-major.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::AttnWeights;
    /// let w = AttnWeights::<U2, f32, NoTape>::Averaged(Tensor::zeros_shaped((1, 1, 1)));
    /// assert_eq!(w.to_vec(), vec![0.0]);
    /// ```
    pub fn to_vec(&self) -> Vec<E> {
        match self {
            AttnWeights::Averaged(w) => w.to_vec(),
            AttnWeights::PerHead(w) => w.to_vec(),
        }
    }
}

/// A sequence batch whose dims the layer reads at run time.
type Seq<X, E, T> = Tensor<(usize, usize, X), E, T>;
/// Heads `(N, H, L, head_dim)`.
type Heads<D, H, E, T> = Tensor<(usize, H, usize, <D as HeadsOf<H>>::HeadDim), E, T>;
/// The query's, key's and value's projections.
type Qkv<D, E, T> = (Seq<D, E, T>, Seq<D, E, T>, Seq<D, E, T>);
/// `(L, N, H, head_dim)`, before the heads move in front.
type HeadsLast<D, H, E, T> = Tensor<(usize, usize, H, <D as HeadsOf<H>>::HeadDim), E, T>;
/// The output and the weights, if asked for: what [`MultiheadAttention::attend`] returns.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{MhaOptions, MhaOutput, MultiheadAttention};
/// let mha = MultiheadAttention::<U4, U2>::new(&mut Rng::seed(0));
/// let x = Tensor::<(U3, U1, U4)>::ones();
/// let (y, w): MhaOutput<U3, U1, U4, U2, f32, NoTape> = mha.attend(x.clone(), x.clone(), x, MhaOptions::default());
/// assert_eq!((y.dims(), w.unwrap().dims()), ([3, 1, 4].into(), vec![1, 3, 3]));
/// ```
pub type MhaOutput<A, B, D, H, E, T> = (Tensor<(A, B, D), E, T>, Option<AttnWeights<H, E, T>>);

impl<D, H, K, V, F, E> MultiheadAttention<D, H, K, V, F, E>
where
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    K: ConstDim,
    V: ConstDim,
    F: SeqLayout,
    E: Element,
{
    /// PyTorch's defaults: bias, no `bias_kv`, no zero attention, no dropout; weights
    /// initialised as PyTorch's `_reset_parameters` (Xavier-uniform projections, zero biases).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Module, MultiheadAttention};
    /// let m = MultiheadAttention::<U8, U2, U5, U6>::new(&mut Rng::seed(0));
    /// let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        Self::with_options(rng, MhaConfig::default())
    }

    /// With PyTorch's `bias`, `add_bias_kv`, `add_zero_attn` and `dropout` arguments.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{MhaConfig, MultiheadAttention};
    /// let cfg = MhaConfig { bias: false, add_bias_kv: true, add_zero_attn: true, dropout: 0.1 };
    /// let m = MultiheadAttention::<U8, U2>::with_options(&mut Rng::seed(0), cfg);
    /// assert!(m.in_proj_bias.is_none() && m.bias_k.is_some() && m.add_zero_attn);
    /// ```
    ///
    /// # Panics
    /// If `dropout` is not in `[0, 1]`.
    pub fn with_options(rng: &mut Rng, cfg: MhaConfig) -> Self {
        let MhaConfig {
            bias,
            add_bias_kv,
            add_zero_attn,
            dropout,
        } = cfg;
        assert!(
            (0.0..=1.0).contains(&dropout),
            "dropout {dropout} not in [0, 1]"
        );
        let packed = K::SIZE == D::SIZE && V::SIZE == D::SIZE;
        let mut in_proj_weight = packed.then(|| super::param(Tensor::<(D::Times3, D), E>::zeros()));
        let mut q = (!packed).then(|| super::param(Tensor::<(D, D), E>::zeros()));
        let mut k = (!packed).then(|| super::param(Tensor::<(D, K), E>::zeros()));
        let mut v = (!packed).then(|| super::param(Tensor::<(D, V), E>::zeros()));
        if let Some(w) = &mut in_proj_weight {
            init::xavier_uniform_(w, 1.0, rng);
        }
        if let (Some(q), Some(k), Some(v)) = (&mut q, &mut k, &mut v) {
            init::xavier_uniform_(q, 1.0, rng);
            init::xavier_uniform_(k, 1.0, rng);
            init::xavier_uniform_(v, 1.0, rng);
        }
        let mut out_proj = Linear::new(rng);
        let in_proj_bias = bias.then(|| super::param(Tensor::<(D::Times3,), E>::zeros()));
        out_proj.bias = bias.then(|| super::param(Tensor::zeros()));
        let mut bias_pair = || {
            let mut b = super::param(Tensor::<(crate::dims::U1, crate::dims::U1, D), E>::zeros());
            init::xavier_normal_(&mut b, 1.0, rng);
            b
        };
        let (bias_k, bias_v) = if add_bias_kv {
            (Some(bias_pair()), Some(bias_pair()))
        } else {
            (None, None)
        };
        let rng = Mutex::new(Rng::seed(rng.next_u64()));
        MultiheadAttention {
            in_proj_weight,
            q_proj_weight: q,
            k_proj_weight: k,
            v_proj_weight: v,
            in_proj_bias,
            out_proj,
            bias_k,
            bias_v,
            add_zero_attn,
            dropout,
            training: true,
            rng,
            _shape: PhantomData,
        }
    }

    /// PyTorch's `forward(query, key, value, key_padding_mask, need_weights, attn_mask,
    /// average_attn_weights)`: `query` `(L, N, D)`, `key` `(S, N, K)`, `value` `(S, N, V)`
    /// (batch first with [`BatchFirst`](crate::nn::BatchFirst)); the output in the query's
    /// layout and, if asked for, the weights.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{MhaOptions, MultiheadAttention, BatchFirst};
    /// use stensor::ops::AttnMask;
    /// let mha = MultiheadAttention::<U4, U2, U4, U4, BatchFirst>::new(&mut Rng::seed(1));
    /// let x = Tensor::<(U2, usize, U4)>::ones_shaped((U2::new(), 3, U4::new()));
    /// let pad = Mask::<(U2, U3)>::from_array([[false, false, true], [false, false, false]]);
    /// let opts = MhaOptions { key_padding_mask: Some(AttnMask::hide(&pad)), need_weights: false, ..Default::default() };
    /// let (y, w) = mha.attend(x.clone(), x.clone(), x, opts);
    /// assert_eq!(y.dims(), [2, 3, 4]);
    /// assert!(w.is_none());
    /// ```
    ///
    /// # Panics
    /// If the runtime dims disagree (the batch of query, key and value, the lengths of key
    /// and value) or a mask's dims are not PyTorch's.
    pub fn attend<A, B, SK, SV, T>(
        &self,
        query: Tensor<(A, B, D), E, T>,
        key: Tensor<SK, E, T>,
        value: Tensor<SV, E, T>,
        opts: MhaOptions<'_, E>,
    ) -> MhaOutput<A, B, D, H, E, T>
    where
        A: Dim,
        B: Dim,
        SK: Shape,
        SV: Shape,
        T: MergeTape<E, T, Output = T>,
    {
        let q_shape = query.shape();
        let (qd, kd, vd) = (q_shape.dims(), key.dims().to_vec(), value.dims().to_vec());
        assert!(
            kd.len() == 3 && vd.len() == 3 && kd[2] == K::SIZE && vd[2] == V::SIZE,
            "MultiheadAttention: key of dims {kd:?} and value of dims {vd:?} for kdim {} and vdim {}",
            K::SIZE,
            V::SIZE
        );
        // (batch, length) of each sequence
        let nl = |d: &[usize]| batch_len(d, F::BATCH_FIRST);
        let ((n, l), (nk, s0), (nv, sv)) = (nl(&qd), nl(&kd), nl(&vd));
        assert!(
            nk == n && nv == n && s0 == sv,
            "MultiheadAttention: query {qd:?}, key {kd:?} and value {vd:?} disagree",
        );
        let mut rng = self.rng.lock().expect("the dropout generator");
        let dropout = (self.training && self.dropout > 0.0).then_some((self.dropout, &mut *rng));
        let sdpa = |mask, causal: bool, dropout: Option<(f64, &mut Rng)>| {
            let mut o = Sdpa::new();
            if let Some(m) = mask {
                o = o.mask(m);
            }
            if causal {
                o = o.causal();
            }
            if let Some((p, rng)) = dropout {
                o = o.dropout(p, rng);
            }
            o
        };
        let in_rows = !opts.need_weights && self.bias_k.is_none() && !self.add_zero_attn;
        // self-attention (one tensor as query, key and value, as PyTorch's fast path asks)
        let one_input = query.id() == key.id() && key.id() == value.id();
        if let (true, true, Some(w)) = (in_rows, one_input, &self.in_proj_weight) {
            // the three projections as one product with the whole `in_proj_weight`, each
            // token's query, key and value side by side in its row, where the heads read them
            let x = query.view_as((qd[0], qd[1], D::default()));
            let bias = self.in_proj_bias.as_ref().map(|b| (b, 0));
            let qkv = x.linear_rows::<D, D::Times3, _, _>(w, 0, bias);
            let mask = head_mask::<H, E>(opts.attn_mask, opts.key_padding_mask, (n, l, s0));
            let o = sdpa(mask.mask(), opts.is_causal, dropout);
            let y = attention_rows_packed::<_, _, _, D, H, E, T>(qkv, F::BATCH_FIRST, o);
            return (self.out_proj.forward(y).view_as(q_shape), None);
        }
        // the projections act on each token's row, in whichever layout
        let (q, k, v) = self.project(
            query.view_as((qd[0], qd[1], D::default())),
            key.view_as((kd[0], kd[1], K::default())),
            value.view_as((vd[0], vd[1], V::default())),
        );
        if in_rows {
            // the heads read where the projections leave them and the output written into
            // the tokens' rows: no permutation into heads and back, no transposition of a
            // batch-first input; `is_causal` alone is the kernel's rule
            let mask = head_mask::<H, E>(opts.attn_mask, opts.key_padding_mask, (n, l, s0));
            let o = sdpa(mask.mask(), opts.is_causal, dropout);
            let y = attention_rows::<_, _, _, _, D, H, E, T>(q, &k, &v, F::BATCH_FIRST, o);
            return (self.out_proj.forward(y).view_as(q_shape), None);
        }
        let (q, k, v) = (
            to_steps_first::<D, E, T>(q, F::BATCH_FIRST),
            to_steps_first::<D, E, T>(k, F::BATCH_FIRST),
            to_steps_first::<D, E, T>(v, F::BATCH_FIRST),
        );
        let (k, v) = self.append_bias_kv(k, v);
        let (q, k, v) = (
            split::<D, H, E, T>(q),
            split::<D, H, E, T>(k),
            split::<D, H, E, T>(v),
        );
        let (k, v) = if self.add_zero_attn {
            let z = |x: &Heads<D, H, E, T>| {
                let d = x.shape();
                Tensor::<(usize, H, usize, <D as HeadsOf<H>>::HeadDim), E>::zeros_shaped((
                    d.0, d.1, 1, d.3,
                ))
            };
            let (zk, zv) = (z(&k), z(&v));
            (k.concat::<2, _, NoTape>(&zk), v.concat::<2, _, NoTape>(&zv))
        } else {
            (k, v)
        };
        let s = k.dims()[2];
        // here (the weights asked for, or keys appended, which are never masked) the causal
        // rule is a mask
        let causal_mask = (opts.is_causal && opts.attn_mask.is_none())
            .then(|| Mask::<(usize, usize)>::from_fn_shaped((l, s0), |ix| ix[1] > ix[0]));
        let attn_mask = opts.attn_mask.or(causal_mask.as_ref().map(AttnMask::hide));
        let bias = head_bias::<H, E>(attn_mask, opts.key_padding_mask, (n, l, s0, s));
        let (heads, weights) = if opts.need_weights {
            let (out, w) = attention_with_weights(q, &k, &v, bias.as_ref(), dropout);
            let w = match opts.average_attn_weights {
                true => AttnWeights::Averaged(w.mean_axis::<1>()),
                false => AttnWeights::PerHead(w),
            };
            (out, Some(w))
        } else {
            let o = sdpa(bias.as_ref().map(AttnMask::add), false, dropout);
            (q.scaled_dot_product_attention(&k, &v, o), None)
        };
        // (N, H, L, hd) -> (L, N, D) -> the output projection
        let merged: Seq<D, E, T> =
            heads
                .permute::<Axes4<2, 0, 1, 3>>()
                .view_as((l, n, D::default()));
        let y = to_steps_first::<D, E, T>(self.out_proj.forward(merged), F::BATCH_FIRST);
        (y.view_as(q_shape), weights)
    }

    /// The query's, key's and value's projections.
    fn project<T: MergeTape<E, T, Output = T>>(
        &self,
        q: Seq<D, E, T>,
        k: Seq<K, E, T>,
        v: Seq<V, E, T>,
    ) -> Qkv<D, E, T> {
        let b = |part: usize| self.in_proj_bias.as_ref().map(|b| (b, part * D::SIZE));
        match &self.in_proj_weight {
            Some(w) => (
                q.linear_rows::<D, D, _, _>(w, 0, b(0)),
                same_features::<K, D, E, T>(k).linear_rows::<D, D, _, _>(w, D::SIZE, b(1)),
                same_features::<V, D, E, T>(v).linear_rows::<D, D, _, _>(w, 2 * D::SIZE, b(2)),
            ),
            None => (
                q.linear_rows::<D, D, _, _>(
                    self.q_proj_weight.as_ref().expect("q_proj_weight"),
                    0,
                    b(0),
                ),
                k.linear_rows::<K, D, _, _>(
                    self.k_proj_weight.as_ref().expect("k_proj_weight"),
                    0,
                    b(1),
                ),
                v.linear_rows::<V, D, _, _>(
                    self.v_proj_weight.as_ref().expect("v_proj_weight"),
                    0,
                    b(2),
                ),
            ),
        }
    }

    /// `bias_k` and `bias_v` appended to every sequence of keys and values.
    fn append_bias_kv<T: MergeTape<E, T, Output = T>>(
        &self,
        k: Seq<D, E, T>,
        v: Seq<D, E, T>,
    ) -> (Seq<D, E, T>, Seq<D, E, T>) {
        match (&self.bias_k, &self.bias_v) {
            (Some(bk), Some(bv)) => {
                let n = k.dims()[1];
                // zeros on the keys' tape plus the parameter, so its gradient is recorded
                let row = |b: &Tensor<(crate::dims::U1, crate::dims::U1, D), E>| -> Seq<D, E, T> {
                    let one = crate::dims::U1::default();
                    let z = Tensor::<(usize, crate::dims::U1, crate::dims::U1, D), E>::zeros_shaped(
                        (n, one, one, D::default()),
                    );
                    z.retape(T::from_node(None))
                        .broadcast_add::<_, NoTape>(b)
                        .view_as((1, n, D::default()))
                };
                (k.concat::<0, _, _>(&row(bk)), v.concat::<0, _, _>(&row(bv)))
            }
            _ => (k, v),
        }
    }
}

/// `(A, B, X)` with its first two axes swapped when `swap` (batch first to steps first and
/// back).
fn to_steps_first<X: ConstDim, E: Element, T: TapeMode<E>>(
    x: Seq<X, E, T>,
    swap: bool,
) -> Seq<X, E, T> {
    if swap {
        x.transpose::<0, 1>()
    } else {
        x
    }
}

/// `(.., X)` read as `(.., Y)` where the two sizes are equal (a key of `kdim == embed_dim`).
fn same_features<X: ConstDim, Y: ConstDim, E: Element, T: TapeMode<E>>(
    x: Seq<X, E, T>,
) -> Seq<Y, E, T> {
    assert_eq!(
        X::SIZE,
        Y::SIZE,
        "MultiheadAttention: packed projections need kdim == vdim == embed_dim"
    );
    let d = x.dims();
    x.view_as((d[0], d[1], Y::default()))
}

/// `(L, N, D)` split into heads `(N, H, L, D / H)`.
fn split<D, H, E, T>(x: Seq<D, E, T>) -> Heads<D, H, E, T>
where
    D: HeadsOf<H>,
    H: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    let (l, n) = (x.dims()[0], x.dims()[1]);
    let four: HeadsLast<D, H, E, T> = x.view_as((l, n, H::default(), Default::default()));
    four.permute::<Axes4<1, 2, 0, 3>>()
}

impl<A, B, SK, SV, D, H, K, V, F, E, T>
    Forward<(Tensor<(A, B, D), E, T>, Tensor<SK, E, T>, Tensor<SV, E, T>)>
    for MultiheadAttention<D, H, K, V, F, E>
where
    A: Dim,
    B: Dim,
    SK: Shape,
    SV: Shape,
    D: HiddenDim + HeadsOf<H>,
    H: ConstDim,
    K: ConstDim,
    V: ConstDim,
    F: SeqLayout,
    E: Element,
    T: MergeTape<E, T, Output = T>,
{
    type Output = MhaOutput<A, B, D, H, E, T>;
    /// `(query, key, value)` with PyTorch's default options (the weights returned, averaged).
    fn forward(
        &self,
        (q, k, v): (Tensor<(A, B, D), E, T>, Tensor<SK, E, T>, Tensor<SV, E, T>),
    ) -> Self::Output {
        self.attend(q, k, v, MhaOptions::default())
    }
}
