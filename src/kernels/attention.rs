//! Scaled dot-product attention, `softmax(Q K^T scale + bias) V` per batch and head, in blocks
//! with an online softmax (Milakov and Gimelshein 2018; the forward of FlashAttention, Dao et
//! al. 2022): the scores are computed for a block of queries against a block of keys at a time,
//! each query row keeps its running maximum and sum, and its output is rescaled as a larger
//! maximum appears. The `L x S` score matrix is never held, only one block of it, so memory
//! grows with the sequence lengths, not with their product; the products are the matrix
//! kernel's. The forward returns, per query row, the log of its softmax denominator; the
//! backward recomputes each block's probabilities from it (FlashAttention's backward), so
//! training holds no score matrix either.
//!
//! This file holds the algorithm for any element type (the `f64` of the gradient checks) and
//! the dispatch; `f32` runs `attention_f32.rs`, the same algorithm with its own products and
//! vector row operations at the run-time instruction-set level.
//!
//! A bias is `0` where a key is allowed, `-inf` where a boolean mask or the causal rule hides
//! it, or the additive mask's value. A query row that sees no key gives zeros and no gradient,
//! as PyTorch's CPU attention does. Dropout on the attention weights draws each weight's
//! keep-or-drop from a counter-based hash of the seed and its position, so the backward
//! regenerates the same mask without storing it.

use super::attention_f32::{BackwardPair, ForwardPair};
use super::simd::RunHere;
use super::{gemm, Trans};
use crate::element::Element;
use rayon::prelude::*;

/// Query rows per block.
pub(super) const BQ: usize = 64;
/// Key rows per block.
pub(super) const BK: usize = 128;

/// The sizes and options of one attention call over `batch x heads` pairs of sequences.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttnDims {
    pub(crate) batch: usize,
    pub(crate) heads: usize,
    /// Query length.
    pub(crate) l: usize,
    /// Key length.
    pub(crate) s: usize,
    /// Query and key features.
    pub(crate) e: usize,
    /// Value features.
    pub(crate) ev: usize,
    pub(crate) scale: f64,
    /// Query `i` sees keys `j <= i` only.
    pub(crate) causal: bool,
    /// The probability of dropping a weight, and the seed of the draws.
    pub(crate) dropout: Option<(f64, u64)>,
}

/// A mask over `(batch, heads, L, S)` given by its values and a stride per axis (0 where it
/// broadcasts).
#[derive(Clone, Copy, Debug)]
pub(crate) enum AttnBias<'a, E> {
    /// No mask.
    None,
    /// `true` where the key is allowed.
    Allow(&'a [bool], [usize; 4]),
    /// `true` where the key is hidden.
    Hide(&'a [bool], [usize; 4]),
    /// Added to the scores.
    Add(&'a [E], [usize; 4]),
}

impl<E: Element> AttnBias<'_, E> {
    /// The bias of key `j` for query `i` of pair `(b, h)`.
    #[inline]
    pub(super) fn at(&self, b: usize, h: usize, i: usize, j: usize) -> E {
        let off = |st: &[usize; 4]| b * st[0] + h * st[1] + i * st[2] + j * st[3];
        match self {
            AttnBias::None => E::zero(),
            AttnBias::Allow(m, st) | AttnBias::Hide(m, st) => {
                let hide = matches!(self, AttnBias::Hide(..));
                if m[off(st)] != hide {
                    E::zero()
                } else {
                    E::neg_infinity()
                }
            }
            AttnBias::Add(v, st) => v[off(st)],
        }
    }
}

impl<'a, E: Element> AttnBias<'a, E> {
    /// The same mask over `f32` scores, if `E` is `f32` (for the vector kernels).
    fn as_f32(&self) -> Option<AttnBias<'a, f32>> {
        super::as_f32::<E>(&[])?;
        Some(match *self {
            AttnBias::None => AttnBias::None,
            AttnBias::Allow(m, st) => AttnBias::Allow(m, st),
            AttnBias::Hide(m, st) => AttnBias::Hide(m, st),
            AttnBias::Add(v, st) => AttnBias::Add(super::as_f32(v)?, st),
        })
    }
}

impl<E: Clone> AttnBias<'_, E> {
    /// The mask's values copied, for a backward pass that outlives the caller's mask.
    pub(crate) fn to_owned(&self) -> OwnedBias<E> {
        match *self {
            AttnBias::None => OwnedBias::None,
            AttnBias::Allow(m, st) => OwnedBias::Bools(m.to_vec(), st, false),
            AttnBias::Hide(m, st) => OwnedBias::Bools(m.to_vec(), st, true),
            AttnBias::Add(v, st) => OwnedBias::Add(v.to_vec(), st),
        }
    }
}

/// An [`AttnBias`] that owns its values.
pub(crate) enum OwnedBias<E> {
    None,
    /// The values, strides and whether `true` hides.
    Bools(Vec<bool>, [usize; 4], bool),
    Add(Vec<E>, [usize; 4]),
}

impl<E> OwnedBias<E> {
    /// A view of the values.
    pub(crate) fn view(&self) -> AttnBias<'_, E> {
        match self {
            OwnedBias::None => AttnBias::None,
            OwnedBias::Bools(m, st, false) => AttnBias::Allow(m, *st),
            OwnedBias::Bools(m, st, true) => AttnBias::Hide(m, *st),
            OwnedBias::Add(v, st) => AttnBias::Add(v, *st),
        }
    }
}

/// `splitmix64`: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The factor dropout applies to weight `(pair, i, j)`: 0 if dropped, `1 / (1 - p)` if kept.
pub(super) fn keep_factor<E: Element>(d: &AttnDims, pair: usize, i: usize, j: usize) -> E {
    match d.dropout {
        None => E::one(),
        Some((p, seed)) => {
            let at = ((pair * d.l + i) * d.s + j) as u64;
            let u = (mix(seed ^ mix(at)) >> 11) as f64 / (1u64 << 53) as f64;
            if u < p {
                E::zero()
            } else {
                E::from_f64(1.0 / (1.0 - p))
            }
        }
    }
}

/// The scores of queries `i0..i0 + bq` against keys `j0..j0 + bk` of pair `pair`, scaled and
/// biased, into `x` (`bq x bk`).
#[allow(clippy::too_many_arguments)]
fn scores<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    pair: usize,
    q: &[E],
    k: &[E],
    (i0, bq): (usize, usize),
    (j0, bk): (usize, usize),
    x: &mut [E],
) {
    let e = d.e;
    gemm(
        bq,
        e,
        bk,
        &q[i0 * e..(i0 + bq) * e],
        Trans::No,
        &k[j0 * e..(j0 + bk) * e],
        Trans::Yes,
        x,
        false,
    );
    let scale = E::from_f64(d.scale);
    let (b, h) = (pair / d.heads, pair % d.heads);
    for (r, row) in x.chunks_exact_mut(bk).enumerate() {
        let i = i0 + r;
        for (c, v) in row.iter_mut().enumerate() {
            let j = j0 + c;
            *v = if d.causal && j > i {
                E::neg_infinity()
            } else {
                *v * scale + bias.at(b, h, i, j)
            };
        }
    }
}

/// Blocks of keys a block of queries `i0..i0 + bq` sees (all, or up to its last row when
/// causal).
pub(super) fn key_blocks(
    d: &AttnDims,
    i0: usize,
    bq: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let end = if d.causal { d.s.min(i0 + bq) } else { d.s };
    (0..end).step_by(BK).map(move |j0| (j0, BK.min(end - j0)))
}

/// Pairs side by side on the pool when there is work for it, each pair's products on its
/// thread.
fn for_pairs<P: Send>(parts: Vec<P>, work: usize, f: impl Fn(usize, P) + Sync + Send) {
    if work >= 1 << 18 && super::may_split() && parts.len() > 1 {
        parts
            .into_par_iter()
            .enumerate()
            .for_each(|(pair, p)| super::as_task(|| f(pair, p)));
    } else {
        parts
            .into_iter()
            .enumerate()
            .for_each(|(pair, p)| f(pair, p));
    }
}

/// Where an operand's values lie: pair `(b, h)`'s row `i` starts at `b * batch + h * head +
/// i * row` (its features contiguous). Heads-major operands (`(N, H, L, E)`, one pair's rows
/// together) are [`RowLayout::packed`]; a multi-head attention's projections (`(L, N, D)` or
/// `(N, L, D)`, each token's heads side by side) are read where they lie, so that no
/// permutation into heads and back is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowLayout {
    pub(crate) batch: usize,
    pub(crate) head: usize,
    pub(crate) row: usize,
}

impl RowLayout {
    /// `(batch, heads, len, width)` stored in that order.
    pub(crate) fn packed(heads: usize, len: usize, width: usize) -> Self {
        RowLayout {
            batch: heads * len * width,
            head: len * width,
            row: width,
        }
    }
}

/// One operand of an attention call: its values and their layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a, E> {
    pub(crate) data: &'a [E],
    pub(crate) layout: RowLayout,
}

impl<'a, E: Copy> Rows<'a, E> {
    /// The rows of pair `pair` of `heads`, `width` values each.
    fn pair(&self, pair: usize, heads: usize, width: usize) -> PairRows<'a, E> {
        let (b, h) = (pair / heads, pair % heads);
        PairRows {
            data: self.data,
            base: b * self.layout.batch + h * self.layout.head,
            stride: self.layout.row,
            width,
        }
    }
}

/// One pair's rows of an operand.
#[derive(Clone, Copy)]
pub(super) struct PairRows<'a, E> {
    data: &'a [E],
    base: usize,
    stride: usize,
    width: usize,
}

impl<'a, E: Copy> PairRows<'a, E> {
    /// Row `i`.
    #[inline]
    pub(super) fn row(&self, i: usize) -> &'a [E] {
        &self.data[self.base + i * self.stride..][..self.width]
    }

    /// The first `len` rows one after another: borrowed where they lie so, else copied.
    fn contiguous(&self, len: usize) -> std::borrow::Cow<'a, [E]> {
        if self.stride == self.width || len <= 1 {
            let n = len * self.width;
            std::borrow::Cow::Borrowed(&self.data[self.base..][..n])
        } else {
            std::borrow::Cow::Owned((0..len).flat_map(|i| self.row(i).iter().copied()).collect())
        }
    }

    /// The same rows as `f32`, if that is their type.
    fn as_f32(&self) -> Option<PairRows<'a, f32>>
    where
        E: Element,
    {
        Some(PairRows {
            data: super::as_f32(self.data)?,
            base: self.base,
            stride: self.stride,
            width: self.width,
        })
    }
}

/// The attention of `q` (`pairs x L x E`), `k` (`pairs x S x E`), `v` (`pairs x S x Ev`), each
/// heads-major ([`RowLayout::packed`]): see [`attention_forward_rows`]. The tests' form.
#[cfg(test)]
fn attention_forward<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    q: &[E],
    k: &[E],
    v: &[E],
) -> (Vec<E>, Vec<E>) {
    let AttnDims {
        l, s, e, ev, heads, ..
    } = *d;
    let pairs = d.batch * heads;
    assert!(
        q.len() == pairs * l * e && k.len() == pairs * s * e && v.len() == pairs * s * ev,
        "attention: operand lengths"
    );
    let rows = |data, len, width| Rows {
        data,
        layout: RowLayout::packed(heads, len, width),
    };
    attention_forward_rows(d, bias, [rows(q, l, e), rows(k, s, e), rows(v, s, ev)])
}

/// The attention of `q` (`L x E` per pair), `k` (`S x E`) and `v` (`S x Ev`) laid out as
/// their [`Rows`] say: the outputs (`pairs x L x Ev`, heads-major) and each query row's
/// log-sum-exp of its scores (`-inf` for a row that sees no key), which the backward reads.
pub(crate) fn attention_forward_rows<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    [q, k, v]: [Rows<'_, E>; 3],
) -> (Vec<E>, Vec<E>) {
    let AttnDims { l, s, e, ev, .. } = *d;
    let pairs = d.batch * d.heads;
    let mut out = super::zeros(pairs * l * ev);
    let mut lse = vec![E::neg_infinity(); pairs * l];
    let parts: Vec<(&mut [E], &mut [E])> = out
        .chunks_mut((l * ev).max(1))
        .zip(lse.chunks_mut(l.max(1)))
        .collect();
    let work = pairs * l * s * (e + ev);
    let bias32 = bias.as_f32();
    for_pairs(parts, work, |pair, (out, lse)| {
        let (q, k, v) = (
            q.pair(pair, d.heads, e),
            k.pair(pair, d.heads, e),
            v.pair(pair, d.heads, ev),
        );
        if let (Some(bias), Some(q), Some(k), Some(v), Some(out), Some(lse)) = (
            &bias32,
            q.as_f32(),
            k.as_f32(),
            v.as_f32(),
            super::as_f32_mut(out),
            super::as_f32_mut(lse),
        ) {
            let pair_kernel = ForwardPair {
                d,
                bias,
                pair,
                q,
                k,
                v,
                out,
                lse,
            };
            return pair_kernel.run_here();
        }
        let (q, k, v) = (q.contiguous(l), k.contiguous(s), v.contiguous(s));
        forward_pair(d, bias, pair, &q, &k, &v, out, lse);
    });
    (out, lse)
}

#[allow(clippy::too_many_arguments)]
fn forward_pair<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    pair: usize,
    q: &[E],
    k: &[E],
    v: &[E],
    out: &mut [E],
    lse: &mut [E],
) {
    let AttnDims { l, ev, .. } = *d;
    let mut x = super::zeros(BQ * BK);
    for i0 in (0..l).step_by(BQ) {
        let bq = BQ.min(l - i0);
        let mut max = vec![E::neg_infinity(); bq];
        let mut sum = vec![E::zero(); bq];
        let acc = &mut out[i0 * ev..(i0 + bq) * ev];
        for (j0, bk) in key_blocks(d, i0, bq) {
            let x = &mut x[..bq * bk];
            scores(d, bias, pair, q, k, (i0, bq), (j0, bk), x);
            for (r, row) in x.chunks_exact_mut(bk).enumerate() {
                let top = row.iter().fold(max[r], |m, &v| if v > m { v } else { m });
                if top == E::neg_infinity() {
                    // nothing seen yet: no weight, nothing to rescale
                    row.fill(E::zero());
                    continue;
                }
                let alpha = (max[r] - top).exp();
                row.iter_mut().for_each(|v| *v = (*v - top).exp());
                let total = row.iter().fold(E::zero(), |t, &w| t + w);
                if d.dropout.is_some() {
                    for (c, p) in row.iter_mut().enumerate() {
                        *p = *p * keep_factor(d, pair, i0 + r, j0 + c);
                    }
                }
                sum[r] = sum[r] * alpha + total;
                max[r] = top;
                if alpha != E::one() {
                    acc[r * ev..(r + 1) * ev]
                        .iter_mut()
                        .for_each(|a| *a = *a * alpha);
                }
            }
            gemm(
                bq,
                bk,
                ev,
                x,
                Trans::No,
                &v[j0 * ev..(j0 + bk) * ev],
                Trans::No,
                acc,
                true,
            );
        }
        for r in 0..bq {
            let row = &mut acc[r * ev..(r + 1) * ev];
            if sum[r] == E::zero() {
                row.fill(E::zero());
            } else {
                let inv = sum[r].recip();
                row.iter_mut().for_each(|a| *a = *a * inv);
                lse[i0 + r] = max[r] + sum[r].ln();
            }
        }
    }
}

/// The gradients of `q`, `k` and `v` (heads-major) from that of the output `dout`, given the
/// forward's output `out` and log-sum-exps `lse`: see [`attention_backward_rows`].
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn attention_backward<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    q: &[E],
    k: &[E],
    v: &[E],
    out: &[E],
    lse: &[E],
    dout: &[E],
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let AttnDims {
        l, s, e, ev, heads, ..
    } = *d;
    let rows = |data, len, width| Rows {
        data,
        layout: RowLayout::packed(heads, len, width),
    };
    let inputs = [rows(q, l, e), rows(k, s, e), rows(v, s, ev)];
    attention_backward_rows(d, bias, inputs, [rows(out, l, ev), rows(dout, l, ev)], lse)
}

/// The gradients of `q`, `k` and `v` from that of the output `dout`, given the forward's
/// output `out` (laid out as their [`Rows`] say) and log-sum-exps `lse`; the gradients
/// heads-major (`pairs x L x E`, `pairs x S x E`, `pairs x S x Ev`).
pub(crate) fn attention_backward_rows<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    [q, k, v]: [Rows<'_, E>; 3],
    [out, dout]: [Rows<'_, E>; 2],
    lse: &[E],
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let AttnDims { l, s, e, ev, .. } = *d;
    let pairs = d.batch * d.heads;
    let mut dq = super::zeros(pairs * l * e);
    let mut dk = super::zeros(pairs * s * e);
    let mut dv = super::zeros(pairs * s * ev);
    let parts: Vec<[&mut [E]; 3]> = dq
        .chunks_mut((l * e).max(1))
        .zip(dk.chunks_mut((s * e).max(1)))
        .zip(dv.chunks_mut((s * ev).max(1)))
        .map(|((dq, dk), dv)| [dq, dk, dv])
        .collect();
    let work = pairs * l * s * (e + ev);
    let bias32 = bias.as_f32();
    for_pairs(parts, work, |pair, [dq, dk, dv]| {
        let h = d.heads;
        let [q, k, v] = [q.pair(pair, h, e), k.pair(pair, h, e), v.pair(pair, h, ev)];
        let [out, dout] = [out.pair(pair, h, ev), dout.pair(pair, h, ev)];
        let lse = &lse[pair * l..][..l];
        let f32_operands = (
            bias32.as_ref(),
            [
                q.as_f32(),
                k.as_f32(),
                v.as_f32(),
                out.as_f32(),
                dout.as_f32(),
            ],
            super::as_f32(lse),
        );
        if let (Some(bias), [Some(q), Some(k), Some(v), Some(out), Some(dout)], Some(lse)) =
            f32_operands
        {
            let (dq, dk, dv) = (
                super::as_f32_mut(dq).expect("f32 gradients of f32 inputs"),
                super::as_f32_mut(dk).expect("f32 gradients of f32 inputs"),
                super::as_f32_mut(dv).expect("f32 gradients of f32 inputs"),
            );
            let pair_kernel = BackwardPair {
                d,
                bias,
                pair,
                inputs: [q, k, v],
                saved: (out, lse, dout),
                grads: [dq, dk, dv],
            };
            return pair_kernel.run_here();
        }
        let (q, k, v) = (q.contiguous(l), k.contiguous(s), v.contiguous(s));
        let (out, dout) = (out.contiguous(l), dout.contiguous(l));
        backward_pair(
            d,
            bias,
            pair,
            [&q, &k, &v],
            [&out, lse, &dout],
            [dq, dk, dv],
        );
    });
    (dq, dk, dv)
}

/// Heads-major values (`pairs x len x width`) written where `layout` puts them in `dst`.
pub(crate) fn scatter_heads<E: Copy>(
    src: &[E],
    heads: usize,
    (len, width): (usize, usize),
    layout: RowLayout,
    dst: &mut [E],
) {
    for (pair, rows) in src.chunks_exact((len * width).max(1)).enumerate() {
        let base = (pair / heads) * layout.batch + (pair % heads) * layout.head;
        for (i, row) in rows.chunks_exact(width.max(1)).enumerate() {
            dst[base + i * layout.row..][..width].copy_from_slice(row);
        }
    }
}

fn backward_pair<E: Element>(
    d: &AttnDims,
    bias: &AttnBias<'_, E>,
    pair: usize,
    [q, k, v]: [&[E]; 3],
    [out, lse, dout]: [&[E]; 3],
    [dq, dk, dv]: [&mut [E]; 3],
) {
    let AttnDims { l, e, ev, .. } = *d;
    let scale = E::from_f64(d.scale);
    // D_i = dout_i . out_i, the weights' share of each row's gradient
    let dot: Vec<E> = dout
        .chunks_exact(ev.max(1))
        .zip(out.chunks_exact(ev.max(1)))
        .map(|(a, b)| a.iter().zip(b).fold(E::zero(), |s, (&x, &y)| s + x * y))
        .take(l)
        .collect();
    let (mut p, mut pd, mut dp) = (
        vec![E::zero(); BQ * BK],
        vec![E::zero(); BQ * BK],
        vec![E::zero(); BQ * BK],
    );
    for i0 in (0..l).step_by(BQ) {
        let bq = BQ.min(l - i0);
        let dout_blk = &dout[i0 * ev..(i0 + bq) * ev];
        for (j0, bk) in key_blocks(d, i0, bq) {
            let (p, pd, dp) = (&mut p[..bq * bk], &mut pd[..bq * bk], &mut dp[..bq * bk]);
            scores(d, bias, pair, q, k, (i0, bq), (j0, bk), p);
            for (r, (row, drow)) in p
                .chunks_exact_mut(bk)
                .zip(pd.chunks_exact_mut(bk))
                .enumerate()
            {
                let m = lse[i0 + r];
                if m == E::neg_infinity() {
                    // a row that saw no key: no weight, no gradient
                    row.fill(E::zero());
                } else {
                    // `e^(x - lse)`, hidden keys (`-inf`) giving 0
                    row.iter_mut().for_each(|v| *v = (*v - m).exp());
                }
                drow.copy_from_slice(row);
                if d.dropout.is_some() {
                    for (c, v) in drow.iter_mut().enumerate() {
                        *v = *v * keep_factor(d, pair, i0 + r, j0 + c);
                    }
                }
            }
            let v_blk = &v[j0 * ev..(j0 + bk) * ev];
            // dV += Pd^T dout
            gemm(
                bk,
                bq,
                ev,
                pd,
                Trans::Yes,
                dout_blk,
                Trans::No,
                &mut dv[j0 * ev..(j0 + bk) * ev],
                true,
            );
            // dP = dout V^T, through the dropout; dS = P (dP - D) scale
            gemm(
                bq,
                ev,
                bk,
                dout_blk,
                Trans::No,
                v_blk,
                Trans::Yes,
                dp,
                false,
            );
            for (r, (row, prow)) in dp.chunks_exact_mut(bk).zip(p.chunks_exact(bk)).enumerate() {
                for (c, (g, &pv)) in row.iter_mut().zip(prow).enumerate() {
                    let kept = *g * keep_factor(d, pair, i0 + r, j0 + c);
                    *g = pv * (kept - dot[i0 + r]) * scale;
                }
            }
            // dQ += dS K, dK += dS^T Q
            gemm(
                bq,
                bk,
                e,
                dp,
                Trans::No,
                &k[j0 * e..(j0 + bk) * e],
                Trans::No,
                &mut dq[i0 * e..(i0 + bq) * e],
                true,
            );
            gemm(
                bk,
                bq,
                e,
                dp,
                Trans::Yes,
                &q[i0 * e..(i0 + bq) * e],
                Trans::No,
                &mut dk[j0 * e..(j0 + bk) * e],
                true,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{at_level, available_levels};

    /// The plain definition in f64: scores, bias, softmax (zeros for a row that sees no key),
    /// dropout, product.
    fn reference(
        d: &AttnDims,
        bias: &AttnBias<'_, f64>,
        q: &[f64],
        k: &[f64],
        v: &[f64],
    ) -> Vec<f64> {
        let AttnDims { l, s, e, ev, .. } = *d;
        let mut out = vec![0.0; d.batch * d.heads * l * ev];
        for pair in 0..d.batch * d.heads {
            let (b, h) = (pair / d.heads, pair % d.heads);
            for i in 0..l {
                let x: Vec<f64> = (0..s)
                    .map(|j| {
                        if d.causal && j > i {
                            return f64::NEG_INFINITY;
                        }
                        let dot: f64 = (0..e)
                            .map(|t| q[(pair * l + i) * e + t] * k[(pair * s + j) * e + t])
                            .sum();
                        dot * d.scale + bias.at(b, h, i, j)
                    })
                    .collect();
                let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                if m == f64::NEG_INFINITY {
                    continue;
                }
                let w: Vec<f64> = x.iter().map(|&v| (v - m).exp()).collect();
                let total: f64 = w.iter().sum();
                for j in 0..s {
                    let p = w[j] / total * keep_factor::<f64>(d, pair, i, j);
                    for t in 0..ev {
                        out[(pair * l + i) * ev + t] += p * v[(pair * s + j) * ev + t];
                    }
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut r = crate::rng::Rng::seed(seed);
        (0..n).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    fn dims(l: usize, s: usize, causal: bool, dropout: Option<(f64, u64)>) -> AttnDims {
        AttnDims {
            batch: 2,
            heads: 3,
            l,
            s,
            e: 7,
            ev: 5,
            scale: 0.37,
            causal,
            dropout,
        }
    }

    /// Odd lengths across the block sizes (1, 17, 65, 129, 200), with and without a mask, the
    /// causal rule and dropout, in f64 against the definition and in f32 at every level.
    #[test]
    fn blocked_attention_matches_the_definition_at_every_level() {
        for (l, s) in [(1, 1), (17, 7), (65, 129), (129, 200), (200, 33)] {
            for (causal, dropout, masked) in [
                (false, None, false),
                (true, None, false),
                (false, Some((0.3, 9)), false),
                (false, None, true),
                (true, Some((0.5, 4)), true),
            ] {
                let d = dims(l, s, causal, dropout);
                let pairs = d.batch * d.heads;
                let (q, k, v) = (
                    values(pairs * l * d.e, 1),
                    values(pairs * s * d.e, 2),
                    values(pairs * s * d.ev, 3),
                );
                // a mask over (L, S) broadcast over batch and heads, every third key hidden,
                // and row 0 seeing nothing
                let allow: Vec<bool> = (0..l * s).map(|x| x / s != 0 && (x % s) % 3 != 1).collect();
                let bias = if masked {
                    AttnBias::Allow(&allow, [0, 0, s, 1])
                } else {
                    AttnBias::None
                };
                let want = reference(&d, &bias, &q, &k, &v);
                let (got, _) = attention_forward(&d, &bias, &q, &k, &v);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-12,
                        "f64 {l}x{s} {causal} {dropout:?} [{i}]: {g} vs {w}"
                    );
                }
                let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
                let (qf, kf, vf) = (f(&q), f(&k), f(&v));
                let bias32 = match bias {
                    AttnBias::Allow(m, st) => AttnBias::Allow(m, st),
                    _ => AttnBias::None,
                };
                for level in available_levels() {
                    let (got, _) =
                        at_level(level, || attention_forward(&d, &bias32, &qf, &kf, &vf));
                    for (i, (&g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()),
                            "{level} {l}x{s} [{i}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    /// The backward against central differences of `sum(out * w)` in f64, across blocks.
    #[test]
    fn the_backward_is_the_forward_derivative() {
        for (l, s, causal, dropout) in [
            (3, 4, false, None),
            (70, 130, true, Some((0.25, 5))),
            (5, 3, true, None),
        ] {
            let mut d = dims(l, s, causal, dropout);
            d.batch = 1;
            d.heads = 2;
            let pairs = 2;
            let (nq, nk, nv) = (pairs * l * d.e, pairs * s * d.e, pairs * s * d.ev);
            let x = values(nq + nk + nv, 7);
            let w = values(pairs * l * d.ev, 8);
            let add: Vec<f64> = values(l * s, 9).iter().map(|v| v * 2.0).collect();
            let bias = AttnBias::Add(&add, [0, 0, s, 1]);
            let loss = |x: &[f64]| {
                let (o, _) = attention_forward(&d, &bias, &x[..nq], &x[nq..nq + nk], &x[nq + nk..]);
                o.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
            };
            let (out, lse) = attention_forward(&d, &bias, &x[..nq], &x[nq..nq + nk], &x[nq + nk..]);
            let (dq, dk, dv) = attention_backward(
                &d,
                &bias,
                &x[..nq],
                &x[nq..nq + nk],
                &x[nq + nk..],
                &out,
                &lse,
                &w,
            );
            let grads: Vec<f64> = dq.into_iter().chain(dk).chain(dv).collect();
            for i in (0..x.len()).step_by(if l > 10 { 97 } else { 1 }) {
                let want = crate::kernels::central_difference(loss, &x, i);
                assert!(
                    (grads[i] - want).abs() < 1e-6 * (1.0 + want.abs()),
                    "{l}x{s} [{i}]: {} vs {want}",
                    grads[i]
                );
            }
        }
    }

    /// The `f32` kernels' gradients at every level against the `f64` ones, on odd lengths
    /// across the blocks, head sizes that are and are not whole vectors, each kind of mask,
    /// the causal rule and dropout.
    #[test]
    fn f32_gradients_match_f64_at_every_level() {
        let cases = [
            (1, 1, 7, 5, false, None, 0),
            (17, 33, 7, 5, true, None, 1),
            (65, 129, 32, 32, false, Some((0.3, 9)), 2),
            (129, 200, 16, 33, true, None, 3),
            (200, 15, 64, 8, false, None, 1),
        ];
        for (l, s, e, ev, causal, dropout, mask) in cases {
            let mut d = dims(l, s, causal, dropout);
            (d.e, d.ev) = (e, ev);
            let pairs = d.batch * d.heads;
            let (q, k, v) = (
                values(pairs * l * e, 11),
                values(pairs * s * e, 12),
                values(pairs * s * ev, 13),
            );
            let dout = values(pairs * l * ev, 14);
            let allow: Vec<bool> = (0..l * s).map(|x| x / s != 0 && (x % s) % 3 != 1).collect();
            let add: Vec<f64> = values(d.batch * s, 15).iter().map(|v| v * 3.0).collect();
            let add32: Vec<f32> = add.iter().map(|&v| v as f32).collect();
            let (bias, bias32) = match mask {
                0 => (AttnBias::None, AttnBias::None),
                1 => (
                    AttnBias::Allow(&allow[..], [0, 0, s, 1]),
                    AttnBias::Allow(&allow[..], [0, 0, s, 1]),
                ),
                2 => (
                    AttnBias::Hide(&allow[..], [0, 0, s, 1]),
                    AttnBias::Hide(&allow[..], [0, 0, s, 1]),
                ),
                _ => (
                    AttnBias::Add(&add[..], [s, 0, 0, 1]),
                    AttnBias::Add(&add32[..], [s, 0, 0, 1]),
                ),
            };
            let (out, lse) = attention_forward(&d, &bias, &q, &k, &v);
            let want = attention_backward(&d, &bias, &q, &k, &v, &out, &lse, &dout);
            let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let (qf, kf, vf, df) = (f(&q), f(&k), f(&v), f(&dout));
            for level in available_levels() {
                let got = at_level(level, || {
                    let (out, lse) = attention_forward(&d, &bias32, &qf, &kf, &vf);
                    attention_backward(&d, &bias32, &qf, &kf, &vf, &out, &lse, &df)
                });
                let pairs = [(&got.0, &want.0, "dq"), (&got.1, &want.1, "dk")];
                for (g, w, name) in pairs.into_iter().chain([(&got.2, &want.2, "dv")]) {
                    assert_eq!(g.len(), w.len());
                    for (i, (&g, &w)) in g.iter().zip(w.iter()).enumerate() {
                        assert!(
                            (g as f64 - w).abs() < 2e-5 * (1.0 + w.abs()),
                            "{level} {l}x{s} e{e} ev{ev} {name}[{i}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    /// Operands read where a projection leaves them (`(L, N, H * E)`, each token's heads side
    /// by side) give the heads-major results of the same values permuted, in the forward and
    /// the backward, at every level and in f64; the output scattered back lands in the rows.
    #[test]
    fn rows_in_place_match_heads_major() {
        let (n, h, l, s, e) = (2, 3, 17, 33, 5);
        let mut d = dims(l, s, true, None);
        (d.batch, d.heads, d.e, d.ev) = (n, h, e, e);
        let width = h * e;
        // (len, N, H * E) values and their heads-major permutation
        let steps = |len: usize, seed| values(len * n * width, seed);
        let heads_major = |x: &[f64], len: usize| -> Vec<f64> {
            let mut out = vec![0.0; x.len()];
            for i in 0..len {
                for b in 0..n {
                    for hh in 0..h {
                        for t in 0..e {
                            out[((b * h + hh) * len + i) * e + t] =
                                x[(i * n + b) * width + hh * e + t];
                        }
                    }
                }
            }
            out
        };
        let (q, k, v, g) = (steps(l, 1), steps(s, 2), steps(s, 3), steps(l, 4));
        // steps first: the layout does not depend on the length
        let ql = RowLayout {
            batch: width,
            head: e,
            row: n * width,
        };
        let to32 = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let (q32, k32, v32, g32) = (to32(&q), to32(&k), to32(&v), to32(&g));
        let (qh, kh, vh, gh) = (
            heads_major(&q, l),
            heads_major(&k, s),
            heads_major(&v, s),
            heads_major(&g, l),
        );
        let (qh32, kh32, vh32, gh32) = (to32(&qh), to32(&kh), to32(&vh), to32(&gh));
        let mut back = vec![0.0; q.len()];
        scatter_heads(&qh, h, (l, e), ql, &mut back);
        assert_eq!(back, q, "scatter undoes the permutation");
        same_in_rows(&d, [&q, &k, &v, &g], [&qh, &kh, &vh, &gh], ql, "f64");
        for level in available_levels() {
            at_level(level, || {
                let steps = [&q32[..], &k32, &v32, &g32];
                same_in_rows(&d, steps, [&qh32, &kh32, &vh32, &gh32], ql, level.name());
            });
        }
    }

    /// The attention of `q, k, v` read in `layout` (the output's gradient `g` and the output
    /// too) gives exactly the heads-major results of their permutations `qh, kh, vh, gh`.
    fn same_in_rows<E: Element + std::fmt::Debug>(
        d: &AttnDims,
        [q, k, v, g]: [&[E]; 4],
        [qh, kh, vh, gh]: [&[E]; 4],
        layout: RowLayout,
        what: &str,
    ) {
        let (want, lse) = attention_forward(d, &AttnBias::None, qh, kh, vh);
        let want_g = attention_backward(d, &AttnBias::None, qh, kh, vh, &want, &lse, gh);
        let r = |data| Rows { data, layout };
        let got = attention_forward_rows(d, &AttnBias::None, [r(q), r(k), r(v)]);
        assert_eq!(got, (want, lse.clone()), "{what} rows forward");
        let mut out = vec![E::zero(); q.len()];
        scatter_heads(&got.0, d.heads, (d.l, d.ev), layout, &mut out);
        let got_g = attention_backward_rows(
            d,
            &AttnBias::None,
            [r(q), r(k), r(v)],
            [r(&out), r(g)],
            &lse,
        );
        assert_eq!(got_g, want_g, "{what} rows backward");
    }

    #[test]
    fn a_hiding_mask_is_the_inverted_allowing_one() {
        let d = dims(5, 9, false, None);
        let pairs = d.batch * d.heads;
        let (q, k, v) = (
            values(pairs * 5 * 7, 1),
            values(pairs * 9 * 7, 2),
            values(pairs * 9 * 5, 3),
        );
        let allow: Vec<bool> = (0..45).map(|x| x % 4 != 1).collect();
        let hide: Vec<bool> = allow.iter().map(|a| !a).collect();
        let (a, _) = attention_forward(&d, &AttnBias::Allow(&allow, [0, 0, 9, 1]), &q, &k, &v);
        let owned = AttnBias::<f64>::Hide(&hide, [0, 0, 9, 1]).to_owned();
        let (h, _) = attention_forward(&d, &owned.view(), &q, &k, &v);
        assert_eq!(a, h);
    }

    #[test]
    fn a_row_that_sees_no_key_gives_zeros_and_no_gradient() {
        let d = AttnDims {
            batch: 1,
            heads: 1,
            l: 2,
            s: 3,
            e: 2,
            ev: 2,
            scale: 1.0,
            causal: false,
            dropout: None,
        };
        let allow = [false, false, false, true, false, true];
        let bias = AttnBias::Allow(&allow, [0, 0, 3, 1]);
        let (q, k, v) = (values(4, 1), values(6, 2), values(6, 3));
        let (out, lse) = attention_forward(&d, &bias, &q, &k, &v);
        assert_eq!(&out[..2], &[0.0, 0.0]);
        assert!(out[2..].iter().all(|v| v.is_finite() && *v != 0.0));
        let (dq, _, _) = attention_backward(&d, &bias, &q, &k, &v, &out, &lse, &[1.0; 4]);
        assert_eq!(&dq[..2], &[0.0, 0.0]);
        assert!(dq.iter().all(|v| v.is_finite()));
    }
}
