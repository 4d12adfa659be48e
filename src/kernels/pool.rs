//! Pooling over 3-d spatial data, one `(D, H, W)` plane per (image, channel): max pooling with
//! indices, average pooling, adaptive pooling and max unpooling, with their backward passes.
//! 1-d and 2-d pooling use leading spatial dims of size 1.
//!
//! Semantics follow PyTorch's CPU kernels: a max window starts at its first in-bounds position,
//! keeps the first of equal maxima and lets NaN win; an average window's divisor counts the
//! padding up to the padded bounds (`count_include_pad`) or only the input, or is
//! `divisor_override`.

use super::simd::{level, simd, vectorised, Kernel, Simd};
use crate::element::Element;
use crate::shape::spatial::Window3;
use rayon::prelude::*;

/// The sizes of a pooling: planes (`batch * channels`), and per spatial dim the input, kernel,
/// stride, padding (both sides), dilation and output lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    /// Independent planes: batch times channels.
    pub planes: usize,
    /// Per spatial dim: the input, window, stride, padding (both sides), dilation (1 for
    /// average pooling) and output lengths; read through `Deref` (`g.kernel`).
    pub window: Window3,
}

// The window's fields read as the geometry's own (`g.kernel`), as for `ConvGeom`.
impl std::ops::Deref for PoolGeom {
    type Target = Window3;
    fn deref(&self) -> &Window3 {
        &self.window
    }
}

impl PoolGeom {
    /// The geometry of pooling `planes` planes over window `w`.
    pub fn new(planes: usize, w: Window3) -> Self {
        PoolGeom { planes, window: w }
    }
    fn in_vol(&self) -> usize {
        self.input.iter().product()
    }
    fn out_vol(&self) -> usize {
        self.output.iter().product()
    }
    /// In-bounds input positions of window `o` along dim `d` (max pooling, with dilation).
    fn taps(&self, d: usize, o: usize) -> Vec<usize> {
        let start = (o * self.stride[d]) as isize - self.padding[d] as isize;
        (0..self.kernel[d])
            .map(|j| start + (j * self.dilation[d]) as isize)
            .filter(|&i| i >= 0 && (i as usize) < self.input[d])
            .map(|i| i as usize)
            .collect()
    }
    /// `(clipped start, clipped end, window size counting padding)` of average window `o`
    /// along dim `d`.
    fn avg_range(&self, d: usize, o: usize) -> (usize, usize, usize) {
        let start = (o * self.stride[d]) as isize - self.padding[d] as isize;
        let end = (start + self.kernel[d] as isize).min((self.input[d] + self.padding[d]) as isize);
        let size = (end - start) as usize;
        let (s, e) = (
            start.max(0) as usize,
            end.min(self.input[d] as isize).max(0) as usize,
        );
        (s, e.max(s), size)
    }
}

/// `f(src plane, dst plane)` for every plane, several planes per rayon task when the work is
/// large (one small plane per task costs more in rayon than it computes).
fn for_planes<E: Send + Sync, F>(src: &[E], src_len: usize, dst: &mut [E], dst_len: usize, f: F)
where
    F: Fn(&[E], &mut [E]) + Send + Sync,
{
    // a second output of zero-sized elements: no memory, and the same plane walk
    let mut none = vec![(); dst.len()];
    for_planes2(src, src_len, dst, &mut none, dst_len, |s, d, _| f(s, d));
}

/// [`for_planes`] with two outputs of `dst_len` elements per plane (max pooling's values and
/// indices).
fn for_planes2<E, A, B, F>(
    src: &[E],
    src_len: usize,
    a: &mut [A],
    b: &mut [B],
    dst_len: usize,
    f: F,
) where
    E: Sync,
    A: Send,
    B: Send,
    F: Fn(&[E], &mut [A], &mut [B]) + Send + Sync,
{
    if src_len == 0 || dst_len == 0 {
        return;
    }
    let planes = |s: &[E], a: &mut [A], b: &mut [B]| {
        s.chunks(src_len)
            .zip(a.chunks_mut(dst_len).zip(b.chunks_mut(dst_len)))
            .for_each(|(s, (a, b))| f(s, a, b))
    };
    if super::on_pool(src.len().max(a.len())) {
        let per = (super::PARALLEL_MIN_ELEMS / 4 / src_len.max(dst_len)).max(1);
        src.par_chunks(src_len * per)
            .zip(
                a.par_chunks_mut(dst_len * per)
                    .zip(b.par_chunks_mut(dst_len * per)),
            )
            .for_each(|(s, (a, b))| planes(s, a, b));
    } else {
        planes(src, a, b);
    }
}

/// Max pooling of one plane by the 2x2 window of stride 2 (the common case): its four taps
/// unrolled, by the rule of the general path (NaN wins, ties keep the first).
struct MaxPair2x2<'a, E> {
    xv: &'a [E],
    vo: &'a mut [E],
    io: &'a mut [usize],
    /// Input height and width.
    geom: [usize; 2],
    out: [usize; 3],
}

impl<S: Simd, E: Element> Kernel<S> for MaxPair2x2<'_, E> {
    type Out = ();
    #[inline(always)]
    fn run(self, _: S) {
        let MaxPair2x2 {
            xv,
            vo,
            io,
            geom: [ih, iw],
            out: [od, oh, ow],
        } = self;
        for z in 0..od {
            for oy in 0..oh {
                let r0 = (z * ih + 2 * oy) * iw;
                let at = (z * oh + oy) * ow;
                // the two input rows as pairs, and branch-free choices, so the loop has no
                // bounds checks or jumps and the compiler can vectorise it
                let top = xv[r0..r0 + 2 * ow].chunks_exact(2);
                let bottom = xv[r0 + iw..r0 + iw + 2 * ow].chunks_exact(2);
                let outs = vo[at..at + ow].iter_mut().zip(&mut io[at..at + ow]);
                for (ox, ((v, i), (t, b))) in outs.zip(top.zip(bottom)).enumerate() {
                    let k0 = r0 + 2 * ox;
                    let (mut best, mut bi) = (E::neg_infinity(), k0);
                    for (x, k) in [
                        (t[0], k0),
                        (t[1], k0 + 1),
                        (b[0], k0 + iw),
                        (b[1], k0 + iw + 1),
                    ] {
                        let take = x > best || x.is_nan();
                        best = if take { x } else { best };
                        bi = if take { k } else { bi };
                    }
                    *v = best;
                    *i = bi;
                }
            }
        }
    }
}

/// Max pooling: the maximum of every window and its flat index within the input plane
/// (PyTorch's `return_indices`).
pub fn max_pool_forward<E: Element>(g: &PoolGeom, x: &[E]) -> (Vec<E>, Vec<usize>) {
    assert_eq!(x.len(), g.planes * g.in_vol(), "max_pool_forward: length");
    let taps: Vec<Vec<Vec<usize>>> = (0..3)
        .map(|d| (0..g.output[d]).map(|o| g.taps(d, o)).collect())
        .collect();
    let (ov, iv) = (g.out_vol(), g.in_vol());
    let [_, ih, iw] = g.input;
    let mut vals = vec![E::zero(); g.planes * ov];
    let mut idx = vec![0usize; g.planes * ov];
    // (ceil mode can add a last window that hangs over the edge: not this path)
    let pair2x2 = g.kernel == [1, 2, 2]
        && g.stride == [1, 2, 2]
        && g.padding == [0; 3]
        && g.dilation == [1; 3]
        && 2 * g.output[1] <= ih
        && 2 * g.output[2] <= iw;
    let plane = |xv: &[E], vo: &mut [E], io: &mut [usize]| {
        if pair2x2 {
            // compiled for the process's instruction-set level, where the compiler's
            // vectorisation of the loop uses that level's vectors (SSE2 has no blend for the
            // choices, and only two 64-bit index lanes)
            let (geom, out) = ([ih, iw], g.output);
            simd!(
                level(),
                MaxPair2x2 {
                    xv,
                    vo,
                    io,
                    geom,
                    out
                }
            );
            return;
        }
        let mut o = 0;
        for ta in &taps[0] {
            for tb in &taps[1] {
                for tc in &taps[2] {
                    let mut best = E::neg_infinity();
                    let mut bi = match (ta.first(), tb.first(), tc.first()) {
                        (Some(a), Some(b), Some(c)) => (a * ih + b) * iw + c,
                        _ => 0,
                    };
                    for a in ta {
                        for b in tb {
                            for c in tc {
                                let k = (a * ih + b) * iw + c;
                                let v = xv[k];
                                if v > best || v.is_nan() {
                                    best = v;
                                    bi = k;
                                }
                            }
                        }
                    }
                    vo[o] = best;
                    io[o] = bi;
                    o += 1;
                }
            }
        }
    };
    for_planes2(x, iv, &mut vals, &mut idx, ov, plane);
    (vals, idx)
}

/// Adds `gy[p, o]` to `gx[p, idx[p, o]]`: the backward of max pooling (and the forward of max
/// unpooling), plane by plane.
pub fn scatter_add_planes<E: Element>(
    gy: &[E],
    idx: &[usize],
    out_vol: usize,
    gx: &mut [E],
    in_vol: usize,
) {
    assert_eq!(gy.len(), idx.len(), "scatter_add_planes: lengths");
    if out_vol == 0 || in_vol == 0 {
        return;
    }
    let plane = |((dst, gp), ip): ((&mut [E], &[E]), &[usize])| {
        for (&v, &i) in gp.iter().zip(ip) {
            dst[i] = dst[i] + v;
        }
    };
    if super::on_pool(gy.len()) {
        // planes are independent: on the pool, several to a task
        let per = (super::TASK / out_vol).max(1);
        gx.par_chunks_mut(in_vol)
            .zip(gy.par_chunks(out_vol))
            .zip(idx.par_chunks(out_vol))
            .with_min_len(per)
            .for_each(plane);
    } else {
        gx.chunks_mut(in_vol)
            .zip(gy.chunks(out_vol))
            .zip(idx.chunks(out_vol))
            .for_each(plane);
    }
}

/// `y[p, idx[p, i]] = x[p, i]` into zero planes of `out_vol` elements: max unpooling (a later
/// duplicate index overwrites, as in PyTorch).
pub fn unpool_planes<E: Element>(
    x: &[E],
    idx: &[usize],
    planes: usize,
    in_vol: usize,
    out_vol: usize,
) -> Vec<E> {
    assert!(
        x.len() == planes * in_vol && idx.len() == x.len(),
        "unpool_planes: lengths"
    );
    let mut y = vec![E::zero(); planes * out_vol];
    if in_vol == 0 || out_vol == 0 {
        return y;
    }
    for (p, (xp, ip)) in x.chunks(in_vol).zip(idx.chunks(in_vol)).enumerate() {
        let dst = &mut y[p * out_vol..(p + 1) * out_vol];
        for (&v, &i) in xp.iter().zip(ip) {
            dst[i] = v;
        }
    }
    y
}

/// `out[p, o] = x[p, idx[p, o]]`: the backward of max unpooling, plane by plane.
pub fn gather_planes<E: Element>(x: &[E], idx: &[usize], out_vol: usize, in_vol: usize) -> Vec<E> {
    if out_vol == 0 {
        return Vec::new();
    }
    idx.chunks(out_vol)
        .enumerate()
        .flat_map(|(p, ip)| ip.iter().map(move |&i| x[p * in_vol + i]))
        .collect()
}

fn avg_windows(g: &PoolGeom) -> [Vec<(usize, usize, usize)>; 3] {
    [0, 1, 2].map(|d| (0..g.output[d]).map(|o| g.avg_range(d, o)).collect())
}

/// Average pooling (no dilation), with PyTorch's divisor rules.
pub fn avg_pool_forward<E: Element>(
    g: &PoolGeom,
    x: &[E],
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Vec<E> {
    assert_eq!(x.len(), g.planes * g.in_vol(), "avg_pool_forward: length");
    let rows = AvgRows::new(g, count_include_pad, divisor_override);
    let divs = rows.divisors::<E>();
    let mut out = super::zeros(g.planes * g.out_vol());
    if let Some(scale) = rows.pairs_scale(&divs) {
        // 2x2 windows, stride 2, one power-of-two divisor (LeNet's pooling): one pass, and a
        // multiplication that equals the division exactly
        for_planes(x, g.in_vol(), &mut out, g.out_vol(), |xv, ov| {
            vectorised(
                #[inline(always)]
                || avg_pairs(&rows, xv, ov, scale),
            )
        });
        return out;
    }
    for_planes(x, g.in_vol(), &mut out, g.out_vol(), |xv, ov| {
        let per_row = ov.chunks_exact_mut(rows.ow).zip(rows.rows());
        for ((orow, (ins, _)), drow) in per_row.zip(divs.chunks_exact(rows.ow)) {
            // Each window's values are added in the order PyTorch's NCHW kernel adds them
            // (depth, row, column), a whole output row at a time.
            orow.fill(E::zero());
            for &at in ins {
                rows.add_window_columns(&xv[at..at + rows.iw], orow);
            }
            for (o, &d) in orow.iter_mut().zip(drow) {
                *o = *o / d;
            }
        }
    });
    out
}

/// One plane of the 2x2, stride-2 average pooling with one power-of-two divisor `scale`.
#[inline(always)]
fn avg_pairs<E: Element>(rows: &AvgRows, xv: &[E], ov: &mut [E], scale: E) {
    for (orow, (ins, _)) in ov.chunks_exact_mut(rows.ow).zip(rows.rows()) {
        let r0 = xv[ins[0]..ins[0] + rows.iw].chunks_exact(2);
        let r1 = xv[ins[1]..ins[1] + rows.iw].chunks_exact(2);
        for ((o, a), b) in orow.iter_mut().zip(r0).zip(r1) {
            // PyTorch's order, from 0 (so four -0.0 give +0.0 as there)
            *o = ((((E::zero() + a[0]) + a[1]) + b[0]) + b[1]) * scale;
        }
    }
}

/// Average pooling walked an output row at a time: for each output row, the input rows its
/// windows cover and the row's part of the divisor; per output column, the window's columns
/// and the column's part of the divisor (the divisor is the product of the parts).
struct AvgRows {
    iw: usize,
    ow: usize,
    /// Per output row, its input rows' starts (a span of `starts`) and divisor: one buffer
    /// for all rows, not one per row (a batch-1 LeNet made 19 allocations per pooling).
    spans: Vec<(usize, usize, usize)>,
    starts: Vec<usize>,
    cols: Vec<(usize, usize)>,
    col_div: Vec<usize>,
    /// Every column window lies inside the input and has the kernel's width.
    full_cols: bool,
    kw: usize,
    sw: usize,
    pw: usize,
}

impl AvgRows {
    fn new(g: &PoolGeom, count_include_pad: bool, divisor_override: Option<usize>) -> Self {
        let w = avg_windows(g);
        let [_, ih, iw] = g.input;
        let part = |r: &(usize, usize, usize)| {
            if divisor_override.is_some() {
                1
            } else if count_include_pad {
                r.2
            } else {
                r.1 - r.0
            }
        };
        // sized up front: growing them was most of a batch-1 pooling's allocator time
        let len = |d: &[(usize, usize, usize)]| d.iter().map(|r| r.1 - r.0).sum::<usize>();
        let mut spans = Vec::with_capacity(w[0].len() * w[1].len());
        let mut starts = Vec::with_capacity(len(&w[0]) * len(&w[1]));
        for ra in &w[0] {
            for rb in &w[1] {
                let at = starts.len();
                starts.extend(
                    (ra.0..ra.1).flat_map(|a| (rb.0..rb.1).map(move |b| (a * ih + b) * iw)),
                );
                let d = divisor_override.unwrap_or(part(ra) * part(rb));
                spans.push((at, starts.len(), d));
            }
        }
        let [kw, sw, pw] = [g.kernel[2], g.stride[2], g.padding[2]];
        AvgRows {
            iw,
            ow: g.output[2],
            full_cols: w[2]
                .iter()
                .enumerate()
                .all(|(ox, r)| r.1 - r.0 == kw && r.0 + pw == ox * sw),
            cols: w[2].iter().map(|r| (r.0, r.1)).collect(),
            col_div: w[2].iter().map(part).collect(),
            spans,
            starts,
            kw,
            sw,
            pw,
        }
    }

    /// Per output row: the starts of the input rows its windows add, and its divisor.
    fn rows(&self) -> impl Iterator<Item = (&[usize], usize)> + '_ {
        self.spans.iter().map(|&(a, b, d)| (&self.starts[a..b], d))
    }

    /// `1 / d` when every window is 2x2 inside the input (stride 2, no padding) and every
    /// divisor is the same power of two `d`, so that multiplying by it is dividing by `d`.
    fn pairs_scale<E: Element>(&self, divs: &[E]) -> Option<E> {
        let pairs = self.full_cols && self.pw == 0 && self.kw == 2 && self.sw == 2;
        let d = *divs.first()?;
        let two_rows = self.rows().all(|(ins, _)| ins.len() == 2);
        let power_of_two = d > E::zero() && d.log2().fract() == E::zero();
        (pairs && two_rows && power_of_two && divs.iter().all(|&v| v == d)).then(|| d.recip())
    }

    /// Every output position's divisor (the same for every plane), as `E`.
    fn divisors<E: Element>(&self) -> Vec<E> {
        let mut out = Vec::with_capacity(self.spans.len() * self.col_div.len());
        for (_, dr) in self.rows() {
            out.extend(self.col_div.iter().map(|&dc| E::from_usize(dr * dc)));
        }
        out
    }

    /// `row[c] += share[ox]` for every column `c` of window `ox`: the adjoint of
    /// [`AvgRows::add_window_columns`].
    fn spread_window_columns<E: Element>(&self, share: &[E], row: &mut [E]) {
        if self.full_cols && self.pw == 0 && self.kw == 2 && self.sw == 2 {
            for (&s, w) in share.iter().zip(row.chunks_exact_mut(2)) {
                w[0] = w[0] + s;
                w[1] = w[1] + s;
            }
        } else if self.full_cols && self.pw == 0 && self.kw <= self.sw {
            for (&s, w) in share.iter().zip(row.chunks_mut(self.sw)) {
                for v in &mut w[..self.kw] {
                    *v = *v + s;
                }
            }
        } else if self.full_cols {
            for c in 0..self.kw {
                for (ox, &s) in share.iter().enumerate() {
                    let k = ox * self.sw + c - self.pw;
                    row[k] = row[k] + s;
                }
            }
        } else {
            for (&s, &(c0, c1)) in share.iter().zip(&self.cols) {
                for v in &mut row[c0..c1] {
                    *v = *v + s;
                }
            }
        }
    }

    /// `orow[ox] += sum of row over window ox's columns`, column by column.
    fn add_window_columns<E: Element>(&self, row: &[E], orow: &mut [E]) {
        if self.full_cols && self.pw == 0 && self.kw == 2 && self.sw == 2 {
            // the common 2-wide pair, in fixed-size chunks the compiler vectorises
            for (o, w) in orow.iter_mut().zip(row.chunks_exact(2)) {
                *o = *o + w[0];
                *o = *o + w[1];
            }
        } else if self.full_cols && self.pw == 0 && self.kw <= self.sw {
            // windows side by side (e.g. 3x3 stride 3): one chunk of the row per output
            for (o, w) in orow.iter_mut().zip(row.chunks(self.sw)) {
                for &v in &w[..self.kw] {
                    *o = *o + v;
                }
            }
        } else if self.full_cols {
            for c in 0..self.kw {
                for (ox, o) in orow.iter_mut().enumerate() {
                    *o = *o + row[ox * self.sw + c - self.pw];
                }
            }
        } else {
            for (o, &(c0, c1)) in orow.iter_mut().zip(&self.cols) {
                for &v in &row[c0..c1] {
                    *o = *o + v;
                }
            }
        }
    }
}

/// The backward of [`avg_pool_forward`], accumulated into `gx`.
pub fn avg_pool_backward<E: Element>(
    g: &PoolGeom,
    gy: &[E],
    count_include_pad: bool,
    divisor_override: Option<usize>,
    gx: &mut [E],
) {
    assert!(
        gy.len() == g.planes * g.out_vol() && gx.len() == g.planes * g.in_vol(),
        "avg_pool_backward: lengths"
    );
    let rows = AvgRows::new(g, count_include_pad, divisor_override);
    let divs = rows.divisors::<E>();
    for_planes(gy, g.out_vol(), gx, g.in_vol(), |gv, xv| {
        let mut share = vec![E::zero(); rows.ow];
        let per_row = gv.chunks_exact(rows.ow).zip(rows.rows());
        for ((grow, (ins, _)), drow) in per_row.zip(divs.chunks_exact(rows.ow)) {
            for ((s, &gy), &d) in share.iter_mut().zip(grow).zip(drow) {
                *s = gy / d;
            }
            for &at in ins {
                rows.spread_window_columns(&share, &mut xv[at..at + rows.iw]);
            }
        }
    });
}

fn adaptive_ranges(input: [usize; 3], output: [usize; 3]) -> [Vec<(usize, usize)>; 3] {
    [0, 1, 2].map(|d| {
        (0..output[d])
            .map(|i| crate::shape::out::adaptive_window(i, input[d], output[d]))
            .collect()
    })
}

/// Adaptive average pooling of `planes` planes from `input` to `output` lengths.
pub fn adaptive_avg_forward<E: Element>(
    x: &[E],
    planes: usize,
    input: [usize; 3],
    output: [usize; 3],
) -> Vec<E> {
    let (iv, ov) = (
        input.iter().product::<usize>(),
        output.iter().product::<usize>(),
    );
    assert_eq!(x.len(), planes * iv, "adaptive_avg_forward: length");
    let r = adaptive_ranges(input, output);
    let [_, ih, iw] = input;
    let mut out = vec![E::zero(); planes * ov];
    for_planes(x, iv, &mut out, ov, |xv, yv| {
        let mut o = 0;
        for ra in &r[0] {
            for rb in &r[1] {
                for rc in &r[2] {
                    let mut s = E::zero();
                    for a in ra.0..ra.1 {
                        for b in rb.0..rb.1 {
                            for c in rc.0..rc.1 {
                                s = s + xv[(a * ih + b) * iw + c];
                            }
                        }
                    }
                    let n = (ra.1 - ra.0) * (rb.1 - rb.0) * (rc.1 - rc.0);
                    yv[o] = s / E::from_usize(n);
                    o += 1;
                }
            }
        }
    });
    out
}

/// The backward of [`adaptive_avg_forward`], accumulated into `gx`.
pub fn adaptive_avg_backward<E: Element>(
    gy: &[E],
    gx: &mut [E],
    planes: usize,
    input: [usize; 3],
    output: [usize; 3],
) {
    let (iv, ov) = (
        input.iter().product::<usize>(),
        output.iter().product::<usize>(),
    );
    assert!(
        gy.len() == planes * ov && gx.len() == planes * iv,
        "adaptive_avg_backward: lengths"
    );
    let r = adaptive_ranges(input, output);
    let [_, ih, iw] = input;
    for_planes(gy, ov, gx, iv, |gv, xv| {
        let mut o = 0;
        for ra in &r[0] {
            for rb in &r[1] {
                for rc in &r[2] {
                    let n = (ra.1 - ra.0) * (rb.1 - rb.0) * (rc.1 - rc.0);
                    let share = gv[o] / E::from_usize(n);
                    for a in ra.0..ra.1 {
                        for b in rb.0..rb.1 {
                            for c in rc.0..rc.1 {
                                let k = (a * ih + b) * iw + c;
                                xv[k] = xv[k] + share;
                            }
                        }
                    }
                    o += 1;
                }
            }
        }
    });
}

/// Adaptive max pooling: the maximum of every adaptive window and its flat index in the plane.
pub fn adaptive_max_forward<E: Element>(
    x: &[E],
    planes: usize,
    input: [usize; 3],
    output: [usize; 3],
) -> (Vec<E>, Vec<usize>) {
    let (iv, ov) = (
        input.iter().product::<usize>(),
        output.iter().product::<usize>(),
    );
    assert_eq!(x.len(), planes * iv, "adaptive_max_forward: length");
    let r = adaptive_ranges(input, output);
    let [_, ih, iw] = input;
    let mut vals = vec![E::zero(); planes * ov];
    let mut idx = vec![0usize; planes * ov];
    if iv == 0 || ov == 0 {
        return (vals, idx);
    }
    for (xv, (vo, io)) in x
        .chunks(iv)
        .zip(vals.chunks_mut(ov).zip(idx.chunks_mut(ov)))
    {
        let mut o = 0;
        for ra in &r[0] {
            for rb in &r[1] {
                for rc in &r[2] {
                    let mut best = E::neg_infinity();
                    let mut bi = (ra.0 * ih + rb.0) * iw + rc.0;
                    for a in ra.0..ra.1 {
                        for b in rb.0..rb.1 {
                            for c in rc.0..rc.1 {
                                let k = (a * ih + b) * iw + c;
                                if xv[k] > best || xv[k].is_nan() {
                                    best = xv[k];
                                    bi = k;
                                }
                            }
                        }
                    }
                    vo[o] = best;
                    io[o] = bi;
                    o += 1;
                }
            }
        }
    }
    (vals, idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::out::pool_out_size;
    use proptest::prelude::*;

    /// Average pooling by its definition, one window at a time: the in-bounds values of the
    /// window in (depth, row, column) order, divided by the override, the padded window's
    /// size or the in-bounds count.
    fn avg_reference(g: &PoolGeom, x: &[f64], cip: bool, div: Option<usize>) -> Vec<f64> {
        let [id, ih, iw] = g.input;
        let mut out = Vec::new();
        for plane in x.chunks(id * ih * iw) {
            for z in 0..g.output[0] {
                for y in 0..g.output[1] {
                    for xo in 0..g.output[2] {
                        let r = [g.avg_range(0, z), g.avg_range(1, y), g.avg_range(2, xo)];
                        let mut s = 0.0;
                        for a in r[0].0..r[0].1 {
                            for b in r[1].0..r[1].1 {
                                for c in r[2].0..r[2].1 {
                                    s += plane[(a * ih + b) * iw + c];
                                }
                            }
                        }
                        let d = div.unwrap_or(if cip {
                            r.iter().map(|r| r.2).product()
                        } else {
                            r.iter().map(|r| r.1 - r.0).product()
                        });
                        out.push(s / d as f64);
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn avg_pool_matches_its_definition_on_odd_sizes(
            planes in 1usize..4,
            input in (prop::sample::select(vec![1usize, 3]),
                prop::sample::select(vec![1usize, 3, 7, 15]),
                prop::sample::select(vec![1usize, 7, 15, 17, 33])),
            k in (1usize..3, 1usize..4, 1usize..5),
            s in (1usize..3, 1usize..4, 1usize..4),
            pad in (0usize..2, 0usize..2, 0usize..3),
            ceil in any::<bool>(),
            cip in any::<bool>(),
            div in prop::option::of(1usize..7),
        ) {
            let (input, k, s) = ([input.0, input.1, input.2], [k.0, k.1, k.2], [s.0, s.1, s.2]);
            let p = [pad.0, pad.1, pad.2];
            prop_assume!((0..3).all(|i| 2 * p[i] <= k[i]
                && pool_out_size(input[i], k[i], s[i], p[i], 1, ceil).is_some()));
            let g = geom(planes, input, k, s, p, [1; 3], ceil);
            let n = planes * input.iter().product::<usize>();
            let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
            let y = avg_pool_forward(&g, &x, cip, div);
            prop_assert_eq!(&y, &avg_reference(&g, &x, cip, div));
            // and the backward is its adjoint
            let gy: Vec<f64> = (0..y.len()).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
            let mut gx = vec![0.0; n];
            avg_pool_backward(&g, &gy, cip, div, &mut gx);
            let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&gx).map(|(a, b)| a * b).sum();
            prop_assert!((lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()));
        }
    }

    /// LeNet's 2x2 average pooling takes the one-pass path and matches the definition; a
    /// divisor that is not a power of two keeps the general path.
    #[test]
    fn two_by_two_average_pooling_takes_the_pair_path() {
        for (input, div) in [
            ([1, 28, 28], None),
            ([2, 10, 10], None),
            ([1, 9, 7], Some(2)),
        ] {
            let g = geom(6, input, [1, 2, 2], [1, 2, 2], [0; 3], [1; 3], false);
            let rows = AvgRows::new(&g, true, div);
            assert!(rows.pairs_scale(&rows.divisors::<f64>()).is_some());
            let n = 6 * input.iter().product::<usize>();
            let x: Vec<f64> = (0..n)
                .map(|i| ((i * 37) % 11) as f64 * 0.37 - 1.9)
                .collect();
            assert_eq!(
                avg_pool_forward(&g, &x, true, div),
                avg_reference(&g, &x, true, div)
            );
        }
        let g = geom(1, [1, 4, 4], [1, 2, 2], [1, 2, 2], [0; 3], [1; 3], false);
        let rows = AvgRows::new(&g, true, Some(3));
        assert!(rows.pairs_scale(&rows.divisors::<f64>()).is_none());
        // four -0.0 average to +0.0, as PyTorch's sum from 0 gives
        let y = avg_pool_forward(&g, &[-0.0f32; 16], true, None);
        assert!(y.iter().all(|v| v.to_bits() == 0));
    }

    fn geom(
        planes: usize,
        input: [usize; 3],
        k: [usize; 3],
        s: [usize; 3],
        p: [usize; 3],
        d: [usize; 3],
        ceil: bool,
    ) -> PoolGeom {
        let output =
            [0, 1, 2].map(|i| pool_out_size(input[i], k[i], s[i], p[i], d[i], ceil).unwrap());
        PoolGeom {
            planes,
            window: Window3 {
                input,
                kernel: k,
                stride: s,
                padding: p,
                dilation: d,
                output,
            },
        }
    }

    /// 1-d reference of PyTorch's max pool over one row.
    fn max_1d(x: &[f64], k: usize, s: usize, p: usize, d: usize, out: usize) -> Vec<(f64, usize)> {
        (0..out)
            .map(|o| {
                let start = (o * s) as isize - p as isize;
                let mut best = (f64::NEG_INFINITY, usize::MAX);
                for j in 0..k {
                    let i = start + (j * d) as isize;
                    if i >= 0 && (i as usize) < x.len() {
                        let i = i as usize;
                        if best.1 == usize::MAX || x[i] > best.0 {
                            best = (x[i], i);
                        }
                    }
                }
                best
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn max_pool_matches_a_one_dim_reference_on_random_odd_sizes(
            n in prop::sample::select(vec![1usize, 3, 7, 15, 17, 31, 33]),
            k in 1usize..6,
            s in 1usize..5,
            p in 0usize..3,
            d in 1usize..4,
            ceil in any::<bool>(),
        ) {
            prop_assume!(2 * p <= k);
            let out = pool_out_size(n, k, s, p, d, ceil);
            prop_assume!(out.is_some());
            // (a window wholly in the padding has no maximum to agree on)
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            prop_assume!(max_1d(&x, k, s, p, d, out.expect("some")).iter().all(|r| r.1 < n));
            max_pool_agrees(n, k, s, p, d, ceil);
        }
    }

    #[test]
    fn max_pool_matches_a_one_dim_reference_on_odd_sizes() {
        for (n, k, s, p, d, ceil) in [
            (1, 1, 1, 0, 1, false),
            (7, 3, 2, 1, 1, true),
            (15, 2, 2, 1, 2, false),
            (17, 5, 3, 2, 1, true),
            (33, 4, 4, 2, 3, false),
        ] {
            max_pool_agrees(n, k, s, p, d, ceil);
        }
    }

    /// Max pooling (values and indices) of 3 planes of length `n` against [`max_1d`].
    fn max_pool_agrees(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) {
        {
            let g = geom(
                3,
                [1, 1, n],
                [1, 1, k],
                [1, 1, s],
                [0, 0, p],
                [1, 1, d],
                ceil,
            );
            let x: Vec<f64> = (0..3 * n).map(|i| ((i * 7919) % 23) as f64).collect();
            let (v, idx) = max_pool_forward(&g, &x);
            for pl in 0..3 {
                let r = max_1d(&x[pl * n..(pl + 1) * n], k, s, p, d, g.output[2]);
                for (o, (rv, ri)) in r.iter().enumerate() {
                    assert_eq!(
                        (v[pl * g.output[2] + o], idx[pl * g.output[2] + o]),
                        (*rv, *ri),
                        "{g:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_unrolled_2x2_max_pool_matches_the_rule_with_ties_and_nans() {
        // PyTorch's rule in 2-d: taps in row-major order, a larger value or a NaN replaces
        for (ih, iw, ceil) in [
            (2, 2, false),
            (5, 7, false),
            (4, 6, false),
            (9, 9, false),
            (3, 17, false),
            (5, 7, true),
        ] {
            let g = geom(3, [1, ih, iw], [1, 2, 2], [1, 2, 2], [0; 3], [1; 3], ceil);
            let n = 3 * ih * iw;
            let x: Vec<f64> = (0..n)
                .map(|i| match i % 11 {
                    3 => f64::NAN,
                    _ => ((i * 7) % 5) as f64,
                })
                .collect();
            let (v, idx) = max_pool_forward(&g, &x);
            // f32 at every level (the unrolled loop is compiled per level): the same choices
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            for level in crate::kernels::simd::available_levels() {
                let (v32, idx32) =
                    crate::kernels::simd::at_level(level, || max_pool_forward(&g, &x32));
                assert_eq!(idx32, idx, "{level}: {ih}x{iw}");
                for (a, b) in v32.iter().zip(&v) {
                    assert!(*a as f64 == *b || (a.is_nan() && b.is_nan()), "{level}");
                }
            }
            let [_, oh, ow] = g.output;
            for pl in 0..3 {
                let xv = &x[pl * ih * iw..(pl + 1) * ih * iw];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (mut best, mut bi) = (f64::NEG_INFINITY, (2 * oy) * iw + 2 * ox);
                        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            if 2 * oy + a >= ih || 2 * ox + b >= iw {
                                continue; // the ceil-mode window past the edge
                            }
                            let k = (2 * oy + a) * iw + 2 * ox + b;
                            if xv[k] > best || xv[k].is_nan() {
                                (best, bi) = (xv[k], k);
                            }
                        }
                        let o = pl * oh * ow + oy * ow + ox;
                        assert_eq!(idx[o], bi, "{ih}x{iw} plane {pl} ({oy}, {ox})");
                        assert!(v[o] == best || (v[o].is_nan() && best.is_nan()));
                    }
                }
            }
        }
    }

    #[test]
    fn scatter_on_the_pool_matches_the_plain_loop() {
        // 37 planes of 33 x 33 pooled to 17 x 17 by windows that overlap (indices repeat
        // within a plane): above the size where the planes go to the pool
        let (planes, iv, ov) = (37, 33 * 33, 17 * 17 * 4);
        let gy: Vec<f32> = (0..planes * ov)
            .map(|i| ((i * 7) % 13) as f32 - 6.0)
            .collect();
        let idx: Vec<usize> = (0..planes * ov).map(|i| (i * 31) % iv).collect();
        assert!(gy.len() >= crate::kernels::PARALLEL_MIN_ELEMS);
        let mut want = vec![1.0f32; planes * iv];
        for p in 0..planes {
            for o in 0..ov {
                want[p * iv + idx[p * ov + o]] += gy[p * ov + o];
            }
        }
        let mut got = vec![1.0f32; planes * iv];
        scatter_add_planes(&gy, &idx, ov, &mut got, iv);
        assert_eq!(got, want);
    }

    #[test]
    fn nan_wins_and_ties_keep_the_first() {
        let g = geom(1, [1, 1, 4], [1, 1, 4], [1, 1, 4], [0; 3], [1; 3], false);
        let (v, i) = max_pool_forward(&g, &[1.0f64, 3.0, 3.0, 2.0]);
        assert_eq!((v[0], i[0]), (3.0, 1));
        let (v, i) = max_pool_forward(&g, &[1.0f64, f64::NAN, 3.0, 2.0]);
        assert!(v[0].is_nan());
        assert_eq!(i[0], 1);
    }

    #[test]
    fn avg_pool_backward_is_the_adjoint() {
        for (input, k, s, p, ceil) in [
            ([1, 7, 5], [1, 3, 2], [1, 2, 2], [0, 1, 1], true),
            ([3, 4, 9], [2, 2, 3], [1, 2, 3], [1, 1, 0], false),
            ([1, 1, 17], [1, 1, 5], [1, 1, 3], [0, 0, 2], true),
        ] {
            let g = geom(2, input, k, s, p, [1; 3], ceil);
            let n = 2 * input.iter().product::<usize>();
            let x: Vec<f64> = (0..n).map(|i| ((i * 31) % 13) as f64 - 6.0).collect();
            for (cip, div) in [(true, None), (false, None), (true, Some(5))] {
                let y = avg_pool_forward(&g, &x, cip, div);
                let gy: Vec<f64> = (0..y.len()).map(|i| ((i * 17) % 7) as f64 - 3.0).collect();
                let mut gx = vec![0.0; n];
                avg_pool_backward(&g, &gy, cip, div, &mut gx);
                let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| a * b).sum();
                let rhs: f64 = x.iter().zip(&gx).map(|(a, b)| a * b).sum();
                assert!((lhs - rhs).abs() < 1e-9, "{g:?} {cip} {div:?}");
            }
        }
    }

    #[test]
    fn avg_of_a_constant_is_the_constant_without_padding_counted() {
        let g = geom(1, [1, 7, 6], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3], true);
        let y = avg_pool_forward(&g, &[2.5f64; 42], false, None);
        assert!(y.iter().all(|&v| (v - 2.5).abs() < 1e-12));
    }

    #[test]
    fn unpool_is_the_adjoint_of_gather_on_odd_sizes() {
        // <unpool(x), g> == <x, gather(g)> for distinct indices
        for (planes, iv, ov) in [(1, 1, 1), (3, 7, 15), (2, 17, 33), (7, 5, 5)] {
            let x: Vec<f64> = (0..planes * iv).map(|i| i as f64 - 3.0).collect();
            let idx: Vec<usize> = (0..planes * iv)
                .map(|i| (i % iv) * ov / iv.max(1))
                .collect();
            let g: Vec<f64> = (0..planes * ov).map(|i| ((i * 7) % 5) as f64).collect();
            let y = unpool_planes(&x, &idx, planes, iv, ov);
            let back = gather_planes(&g, &idx, iv, ov);
            let lhs: f64 = y.iter().zip(&g).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs);
            let mut gx = vec![0.0; planes * ov];
            scatter_add_planes(&x, &idx, iv, &mut gx, ov);
            assert_eq!(gx, y);
        }
    }

    #[test]
    fn adaptive_pools_to_the_input_size_are_identity() {
        let x: Vec<f64> = (0..2 * 3 * 5).map(|i| (i as f64).sin()).collect();
        assert_eq!(adaptive_avg_forward(&x, 2, [1, 3, 5], [1, 3, 5]), x);
        assert_eq!(adaptive_max_forward(&x, 2, [1, 3, 5], [1, 3, 5]).0, x);
        let gy: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let mut gx = vec![0.0; 30];
        adaptive_avg_backward(&gy, &mut gx, 2, [1, 3, 5], [1, 3, 5]);
        assert_eq!(gx, gy);
    }
}
