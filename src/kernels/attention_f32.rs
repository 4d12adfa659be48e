//! The `f32` attention of one `(batch, head)` pair at the run-time instruction-set level: the
//! same blocked online softmax as `attention.rs`, with every product a register-tiled
//! multiply written for the shapes attention has (a head of 32 or 64 features, blocks of 64
//! queries and 128 keys) and every row operation (scale, maxima, exponentials and their sums,
//! rescale) a vector at a time, all inside one function compiled for the level.
//!
//! No operand is packed. The general matrix kernel packs both operands of every product,
//! which for blocks this small cost as much as the products; here every product reads its
//! left operand by columns (`A[i, k]` at `a[k * lda + i]`: a tile's `MR` values of one
//! column lie together) and its right operand by rows, and the operands are laid out once per
//! pair so that each product finds them that way: the queries and keys transposed, the
//! values and the head's rows padded to whole vectors.
//!
//! The forward holds a block's scores transposed (keys as rows, queries as columns): the
//! weighted sum of the values then reads the weights by columns as they lie, and each query's
//! running maximum, sum and rescale factor are vectors along a row. The backward holds them
//! the usual way (queries as rows) and works key block by key block (FlashAttention-2's
//! order), `dK` and `dV` staying in one block while the queries go by; of its five products
//! only `dQ = dS K` needs a block transposed.
//!
//! The products use the level's fused multiply-add (two roundings on the SSE2 baseline), and
//! the sums of the exponentials are taken a vector at a time, so the levels agree to a few
//! units in the last place, not bit for bit.

use super::attention::{keep_factor, key_blocks, AttnBias, AttnDims, PairRows, BK, BQ};
use super::elementwise::exp_nonpositive_fused;
use super::simd::{Kernel, Simd};

/// `n` rounded up to whole vectors of `lanes`.
fn whole(n: usize, lanes: usize) -> usize {
    n.div_ceil(lanes) * lanes
}

/// `rows` rows of `cols` values transposed into `cols` rows of `ld >= rows` values (the
/// columns past `rows` zero).
fn transposed(src: PairRows<'_, f32>, rows: usize, cols: usize, ld: usize) -> Vec<f32> {
    let mut t = vec![0.0; cols * ld];
    for r in 0..rows {
        for (c, &v) in src.row(r)[..cols].iter().enumerate() {
            t[c * ld + r] = v;
        }
    }
    t
}

/// `rows` rows of `cols` values one after another, each padded with zeros to `ld` values.
fn padded(src: PairRows<'_, f32>, rows: usize, cols: usize, ld: usize) -> Vec<f32> {
    let mut p = vec![0.0; rows * ld];
    for (r, dst) in p.chunks_exact_mut(ld.max(1)).take(rows).enumerate() {
        dst[..cols].copy_from_slice(&src.row(r)[..cols]);
    }
    p
}

/// A product `C (m x n) (+)= A (m x k) B (k x n)`: `A` read by columns (`A[i, kk]` at
/// `a[kk * lda + i]`), `B` by rows `ldb` apart, `C`'s rows `ldc` apart; `n` is whole vectors.
#[derive(Clone, Copy)]
struct Product {
    m: usize,
    n: usize,
    k: usize,
    lda: usize,
    ldb: usize,
    ldc: usize,
}

/// `C (+)= A B` (see [`Product`]; with `accumulate` false `C` is overwritten) in tiles of
/// `MR` rows (12 with AVX-512's 32 registers, 6 with 16, then 4 and 1 at the edge) by two
/// vectors of columns (then one).
#[inline(always)]
fn product<S: Simd>(s: S, p: Product, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    let Product { m, n, k, .. } = p;
    debug_assert!(n % S::LANES == 0);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (k == 0 || (a.len() >= (k - 1) * p.lda + m && b.len() >= (k - 1) * p.ldb + n))
            && c.len() >= (m - 1) * p.ldc + n,
        "attention: product operands"
    );
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(p.ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let top = if S::REGISTERS >= 32 { 12 } else { 6 };
    let mut i = 0;
    while i < m {
        let mr = [top, 4, 1].into_iter().find(|&r| r <= m - i).unwrap_or(1);
        let (a, c) = (&a[i..], &mut c[i * p.ldc..]);
        let mut j = 0;
        while j < n {
            let (b, c) = (&b[j..], &mut c[j..]);
            let cols = if n - j >= 2 * S::LANES { 2 } else { 1 };
            match (mr, cols) {
                (12, 2) => tile::<S, 12, 2>(s, p, a, b, c, accumulate),
                (12, _) => tile::<S, 12, 1>(s, p, a, b, c, accumulate),
                (6, 2) => tile::<S, 6, 2>(s, p, a, b, c, accumulate),
                (6, _) => tile::<S, 6, 1>(s, p, a, b, c, accumulate),
                (4, 2) => tile::<S, 4, 2>(s, p, a, b, c, accumulate),
                (4, _) => tile::<S, 4, 1>(s, p, a, b, c, accumulate),
                (_, 2) => tile::<S, 1, 2>(s, p, a, b, c, accumulate),
                _ => tile::<S, 1, 1>(s, p, a, b, c, accumulate),
            }
            j += cols * S::LANES;
        }
        i += mr;
    }
}

/// One `MR x NV` vectors tile of [`product`], `a`, `b` and `c` starting at the tile's first
/// row and column.
#[inline(always)]
#[allow(unsafe_code)]
fn tile<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    p: Product,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    let mut t = [[s.zero(); NV]; MR];
    assert!(a.len() >= (p.k - 1) * p.lda + MR && b.len() >= (p.k - 1) * p.ldb + NV * S::LANES);
    for kk in 0..p.k {
        // SAFETY: `kk * ldb + NV * LANES <= (k - 1) * ldb + NV * LANES <= b.len()`, asserted
        // above.
        let bv: [S::F; NV] =
            std::array::from_fn(|v| unsafe { s.load_at(b, kk * p.ldb + v * S::LANES) });
        let col = &a[kk * p.lda..][..MR];
        for i in 0..MR {
            let ai = s.splat(col[i]);
            for v in 0..NV {
                t[i][v] = s.mul_add(ai, bv[v], t[i][v]);
            }
        }
    }
    for (i, tv) in t.iter().enumerate() {
        let row = &mut c[i * p.ldc..][..NV * S::LANES];
        for (part, &v) in row.chunks_exact_mut(S::LANES).zip(tv) {
            let v = if accumulate {
                s.add(s.load(part), v)
            } else {
                v
            };
            s.store(v, part);
        }
    }
}

/// `row = row * k` (whole vectors).
#[inline(always)]
fn scale_row<S: Simd>(s: S, row: &mut [f32], k: f32) {
    let k = s.splat(k);
    for v in row.chunks_exact_mut(S::LANES) {
        s.store(s.mul(s.load(v), k), v);
    }
}

/// `row = e^(row - shift)` (whole vectors, every `row - shift <= 0`).
#[inline(always)]
fn exp_row<S: Simd>(s: S, row: &mut [f32], shift: f32) {
    let shift = s.splat(shift);
    for v in row.chunks_exact_mut(S::LANES) {
        s.store(exp_nonpositive_fused(s, s.sub(s.load(v), shift)), v);
    }
}

/// Where a block of scores lies in the whole: the pair's `(batch, head)`, the block's first
/// query and key.
#[derive(Clone, Copy)]
struct At {
    bh: (usize, usize),
    i0: usize,
    j0: usize,
}

/// A block's scores `x` (`rows x ld`, queries as rows, or keys as rows with `keys_as_rows`)
/// scaled, with the bias and the causal rule (`-inf` where a key comes after the query); the
/// columns past `cols` set to `-inf` when they are keys.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn finish_scores<S: Simd>(
    s: S,
    d: &AttnDims,
    bias: &AttnBias<'_, f32>,
    at: At,
    keys_as_rows: bool,
    (rows, cols, ld): (usize, usize, usize),
    x: &mut [f32],
) {
    let (b, h) = at.bh;
    for (r, row) in x.chunks_exact_mut(ld).take(rows).enumerate() {
        scale_row(s, row, d.scale as f32);
        // (query, key) of column `c`
        let ij = |c: usize| {
            if keys_as_rows {
                (at.i0 + c, at.j0 + r)
            } else {
                (at.i0 + r, at.j0 + c)
            }
        };
        if !matches!(bias, AttnBias::None) {
            for (c, v) in row[..cols].iter_mut().enumerate() {
                let (i, j) = ij(c);
                *v += bias.at(b, h, i, j);
            }
        }
        if keys_as_rows {
            if d.causal {
                // queries before this key do not see it
                let before = (at.j0 + r).saturating_sub(at.i0).min(ld);
                row[..before].fill(f32::NEG_INFINITY);
            }
        } else {
            let end = if d.causal {
                (at.i0 + r + 1).saturating_sub(at.j0).min(cols)
            } else {
                cols
            };
            row[end..].fill(f32::NEG_INFINITY);
        }
    }
}

/// The forward of one pair (see `attention_forward`): `q` `L x E`, `k` `S x E`, `v` `S x Ev`
/// into `out` `L x Ev` and `lse`.
pub(super) struct ForwardPair<'a> {
    pub(super) d: &'a AttnDims,
    pub(super) bias: &'a AttnBias<'a, f32>,
    pub(super) pair: usize,
    pub(super) q: PairRows<'a, f32>,
    pub(super) k: PairRows<'a, f32>,
    pub(super) v: PairRows<'a, f32>,
    pub(super) out: &'a mut [f32],
    pub(super) lse: &'a mut [f32],
}

impl<S: Simd> Kernel<S> for ForwardPair<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let ForwardPair {
            d,
            bias,
            pair,
            q,
            k,
            v,
            out,
            lse,
        } = self;
        let AttnDims {
            l, s: sl, e, ev, ..
        } = *d;
        let lanes = S::LANES;
        let (lp, sp, evp) = (whole(l, lanes), whole(sl, lanes), whole(ev, lanes));
        let qt = transposed(q, l, e, lp);
        let kt = transposed(k, sl, e, sp);
        let vp = padded(v, sl, ev, evp);
        let bh = (pair / d.heads, pair % d.heads);
        let bqp_max = whole(BQ, lanes);
        // the block's scores, then weights, keys as rows
        let mut x = vec![0.0f32; BK * bqp_max];
        let mut acc = vec![0.0f32; BQ * evp];
        let (mut max, mut sum, mut alpha) = ([0.0f32; BQ], [0.0f32; BQ], [0.0f32; BQ]);
        let (neg_inf, lowest) = (s.splat(f32::NEG_INFINITY), s.splat(f32::MIN));
        for i0 in (0..l).step_by(BQ) {
            let bq = BQ.min(l - i0);
            let bqp = whole(bq, lanes);
            max.fill(f32::NEG_INFINITY);
            sum.fill(0.0);
            acc.fill(0.0);
            for (j0, bk) in key_blocks(d, i0, bq) {
                let x = &mut x[..bk * bqp];
                let scores = Product {
                    m: bk,
                    n: bqp,
                    k: e,
                    lda: sp,
                    ldb: lp,
                    ldc: bqp,
                };
                product(s, scores, &kt[j0..], &qt[i0..], x, false);
                let at = At { bh, i0, j0 };
                finish_scores(s, d, bias, at, true, (bk, bq, bqp), x);
                // each query's new maximum, its weights and their sum, a vector of queries
                // at a time
                for g in (0..bqp).step_by(lanes) {
                    let old = s.load(&max[g..]);
                    let mut top = old;
                    for row in x.chunks_exact(bqp) {
                        top = s.max(s.load(&row[g..]), top);
                    }
                    // a query that has seen no key yet: weights `e^(-inf - 0) = 0`
                    let seen = s.ge(top, lowest);
                    let shift = s.select(seen, top, s.zero());
                    let mut total = s.zero();
                    for row in x.chunks_exact_mut(bqp) {
                        let w = exp_nonpositive_fused(s, s.sub(s.load(&row[g..]), shift));
                        total = s.add(total, w);
                        s.store(w, &mut row[g..]);
                    }
                    let a = exp_nonpositive_fused(s, s.sub(old, shift));
                    let a = s.select(s.ge(old, lowest), a, s.zero());
                    s.store(s.add(s.mul(s.load(&sum[g..]), a), total), &mut sum[g..]);
                    s.store(s.select(seen, top, neg_inf), &mut max[g..]);
                    s.store(a, &mut alpha[g..]);
                }
                for (r, &a) in alpha[..bq].iter().enumerate() {
                    if a != 1.0 {
                        scale_row(s, &mut acc[r * evp..(r + 1) * evp], a);
                    }
                }
                if d.dropout.is_some() {
                    for (c, row) in x.chunks_exact_mut(bqp).enumerate() {
                        for (r, w) in row[..bq].iter_mut().enumerate() {
                            *w *= keep_factor::<f32>(d, pair, i0 + r, j0 + c);
                        }
                    }
                }
                let weighted = Product {
                    m: bq,
                    n: evp,
                    k: bk,
                    lda: bqp,
                    ldb: evp,
                    ldc: evp,
                };
                product(s, weighted, x, &vp[j0 * evp..], &mut acc, true);
            }
            for r in 0..bq {
                let dst = &mut out[(i0 + r) * ev..][..ev];
                if sum[r] == 0.0 {
                    dst.fill(0.0);
                } else {
                    let inv = 1.0 / sum[r];
                    for (o, &a) in dst.iter_mut().zip(&acc[r * evp..]) {
                        *o = a * inv;
                    }
                    lse[i0 + r] = max[r] + sum[r].ln();
                }
            }
        }
    }
}

/// The backward of one pair (see `attention_backward`).
pub(super) struct BackwardPair<'a> {
    pub(super) d: &'a AttnDims,
    pub(super) bias: &'a AttnBias<'a, f32>,
    pub(super) pair: usize,
    /// `q`, `k`, `v`.
    pub(super) inputs: [PairRows<'a, f32>; 3],
    /// `out`, `lse`, `dout`.
    pub(super) saved: (PairRows<'a, f32>, &'a [f32], PairRows<'a, f32>),
    /// `dq`, `dk`, `dv`.
    pub(super) grads: [&'a mut [f32]; 3],
}

impl<S: Simd> Kernel<S> for BackwardPair<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let BackwardPair {
            d,
            bias,
            pair,
            inputs: [q, k, v],
            saved: (out, lse, dout),
            grads: [dq, dk, dv],
        } = self;
        let AttnDims {
            l, s: sl, e, ev, ..
        } = *d;
        let lanes = S::LANES;
        let (lp, sp, ep, evp) = (
            whole(l, lanes),
            whole(sl, lanes),
            whole(e, lanes),
            whole(ev, lanes),
        );
        let scale = d.scale as f32;
        let bh = (pair / d.heads, pair % d.heads);
        // the operands as the products read them
        let (qt, qp) = (transposed(q, l, e, lp), padded(q, l, e, ep));
        let (kt, kp) = (transposed(k, sl, e, sp), padded(k, sl, e, ep));
        let vt = transposed(v, sl, ev, sp);
        let (dout_t, dout_p) = (transposed(dout, l, ev, lp), padded(dout, l, ev, evp));
        let mut dqp = vec![0.0f32; l * ep];
        let mut dkp = vec![0.0f32; BK * ep];
        let mut dvp = vec![0.0f32; BK * evp];
        let (bkp_max, bqp_max) = (whole(BK, lanes), whole(BQ, lanes));
        let mut p = vec![0.0f32; BQ * bkp_max];
        let mut pd = vec![0.0f32; if d.dropout.is_some() { BQ * bkp_max } else { 0 }];
        let mut ds = vec![0.0f32; BQ * bkp_max];
        let mut ds_t = vec![0.0f32; BK * bqp_max];
        let dot: Vec<f32> = (0..l)
            .map(|i| {
                let (a, o) = (dout.row(i), out.row(i));
                a.iter().zip(o).fold(0.0, |t, (&x, &y)| t + x * y)
            })
            .collect();
        for j0 in (0..sl).step_by(BK) {
            let bk = BK.min(sl - j0);
            let bkp = whole(bk, lanes);
            let (dkp, dvp) = (&mut dkp[..bk * ep], &mut dvp[..bk * evp]);
            dkp.fill(0.0);
            dvp.fill(0.0);
            for i0 in (0..l).step_by(BQ) {
                let bq = BQ.min(l - i0);
                if d.causal && i0 + bq <= j0 {
                    // every query of the block is before every key of it
                    continue;
                }
                let bqp = whole(bq, lanes);
                let (p, ds, ds_t) = (
                    &mut p[..bq * bkp],
                    &mut ds[..bq * bkp],
                    &mut ds_t[..bk * bqp],
                );
                // the weights `P = e^(S - lse)`, zero for a query that saw no key
                let scores = Product {
                    m: bq,
                    n: bkp,
                    k: e,
                    lda: lp,
                    ldb: sp,
                    ldc: bkp,
                };
                product(s, scores, &qt[i0..], &kt[j0..], p, false);
                let at = At { bh, i0, j0 };
                finish_scores(s, d, bias, at, false, (bq, bk, bkp), p);
                for (r, row) in p.chunks_exact_mut(bkp).enumerate() {
                    match lse[i0 + r] {
                        f32::NEG_INFINITY => row.fill(0.0),
                        m => exp_row(s, row, m),
                    }
                }
                // the weights after dropout, which the output saw
                let weights: &[f32] = if d.dropout.is_some() {
                    let pd = &mut pd[..bq * bkp];
                    pd.copy_from_slice(p);
                    for (r, row) in pd.chunks_exact_mut(bkp).enumerate() {
                        for (c, w) in row[..bk].iter_mut().enumerate() {
                            *w *= keep_factor::<f32>(d, pair, i0 + r, j0 + c);
                        }
                    }
                    pd
                } else {
                    p
                };
                // dV += Pd^T dout
                let to_v = Product {
                    m: bk,
                    n: evp,
                    k: bq,
                    lda: bkp,
                    ldb: evp,
                    ldc: evp,
                };
                product(s, to_v, weights, &dout_p[i0 * evp..], dvp, true);
                // dP = dout V^T, then dS = P (dP keep - D) scale
                let through = Product {
                    m: bq,
                    n: bkp,
                    k: ev,
                    lda: lp,
                    ldb: sp,
                    ldc: bkp,
                };
                product(s, through, &dout_t[i0..], &vt[j0..], ds, false);
                for (r, (g, pr)) in ds
                    .chunks_exact_mut(bkp)
                    .zip(p.chunks_exact(bkp))
                    .enumerate()
                {
                    if d.dropout.is_some() {
                        for (c, x) in g[..bk].iter_mut().enumerate() {
                            *x *= keep_factor::<f32>(d, pair, i0 + r, j0 + c);
                        }
                    }
                    let (dr, sc) = (s.splat(dot[i0 + r]), s.splat(scale));
                    for (x, pv) in g.chunks_exact_mut(lanes).zip(pr.chunks_exact(lanes)) {
                        let y = s.mul(s.mul(s.load(pv), s.sub(s.load(x), dr)), sc);
                        s.store(y, x);
                    }
                    for (c, &x) in g[..bk].iter().enumerate() {
                        ds_t[c * bqp + r] = x;
                    }
                }
                // dK += dS^T Q; dQ += dS K
                let to_k = Product {
                    m: bk,
                    n: ep,
                    k: bq,
                    lda: bkp,
                    ldb: ep,
                    ldc: ep,
                };
                product(s, to_k, ds, &qp[i0 * ep..], dkp, true);
                let to_q = Product {
                    m: bq,
                    n: ep,
                    k: bk,
                    lda: bqp,
                    ldb: ep,
                    ldc: ep,
                };
                product(s, to_q, ds_t, &kp[j0 * ep..], &mut dqp[i0 * ep..], true);
            }
            for (c, (gk, gv)) in dkp.chunks_exact(ep).zip(dvp.chunks_exact(evp)).enumerate() {
                dk[(j0 + c) * e..][..e].copy_from_slice(&gk[..e]);
                dv[(j0 + c) * ev..][..ev].copy_from_slice(&gv[..ev]);
            }
        }
        for (dst, src) in dq
            .chunks_exact_mut(e.max(1))
            .zip(dqp.chunks_exact(ep.max(1)))
        {
            dst.copy_from_slice(&src[..e]);
        }
    }
}

// Each pair kernel entered here, not from its generic caller (see `simd::RunHere`).
super::simd::run_here!(ForwardPair, BackwardPair);
