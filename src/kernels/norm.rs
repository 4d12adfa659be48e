//! Normalization over a `(N, C, S)` view of the data: statistics per channel across the batch
//! and positions (batch norm), or per contiguous group of elements (layer, instance and group
//! norm); normalization with an optional affine transform; and the backward pass, through the
//! statistics (batch statistics) or with them fixed (running statistics).
//!
//! Every pass walks the data a unit run at a time (a run of elements that share their
//! statistic and weight: a channel's plane, a layer norm's row), so no element computes an
//! index. Sums run in 32 partial lanes per run ([`lane_sums`]; `f32` a vector at a time) and
//! the per-run results are added in run order; runs split across the pool for long data. The
//! order of every addition is fixed by the source, so results are the same bits at every
//! thread count and at every instruction-set level with FMA; the baseline rounds the affine
//! step's product and sum separately ([`MulAdd`]), within a rounding of them. The backward
//! recomputes the normalized input from the input and the statistics rather than keeping it:
//! the forward writes one buffer, not two.

use super::simd::{level, simd, vectorised, vectorised_mul_add, Kernel, MulAdd, Simd};
use super::{new_buffer, on_pool, part_len, run_parts};
use crate::element::Element;
use std::mem::MaybeUninit;

/// Which elements share statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormStats {
    /// One statistic per channel over `(N, S)` of `(N, C, S)` data (batch norm).
    PerChannel {
        /// Batch size.
        n: usize,
        /// Channels.
        c: usize,
        /// Positions per channel.
        s: usize,
    },
    /// One statistic per run of `m` contiguous elements (layer, instance, group norm).
    Groups {
        /// Elements per group.
        m: usize,
    },
}

/// Which affine weight an element uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffineIndex {
    /// Per channel of `(N, C, S)` data: `(i / s) % c`.
    Channel {
        /// Channels.
        c: usize,
        /// Positions per channel.
        s: usize,
    },
    /// Per position within runs of `m` elements: `i % m` (layer norm's elementwise affine).
    Element {
        /// Length of the run.
        m: usize,
    },
}

impl NormStats {
    fn count(&self, len: usize) -> usize {
        match *self {
            NormStats::PerChannel { c, .. } => c,
            NormStats::Groups { m } => len.checked_div(m).unwrap_or(0),
        }
    }
    /// Elements per statistic.
    pub fn members(&self, len: usize) -> usize {
        match *self {
            NormStats::PerChannel { n, s, .. } => n * s,
            NormStats::Groups { m } => {
                let _ = len;
                m
            }
        }
    }
}

/// A run length `u` over which every element shares its statistic and, for a per-channel
/// affine, its weight: the loops read one statistic (and weight) per run and vectorise over its
/// elements, where a per-element index kept them scalar. Every norm's affine runs nest in its
/// statistics' (per channel: the spatial run; layer norm: the normalized run itself).
///
/// # Panics
/// If they do not (a caller's mistake: no op of the library builds such a pair).
fn unit_run(stats: NormStats, affine: Option<AffineIndex>) -> usize {
    let srun = match stats {
        NormStats::PerChannel { s, .. } => s,
        NormStats::Groups { m } => m,
    }
    .max(1);
    match affine {
        None => srun,
        Some(AffineIndex::Channel { s, .. }) => {
            assert_eq!(
                srun % s.max(1),
                0,
                "norm: affine runs of {s} in statistic runs of {srun}"
            );
            s.max(1)
        }
        Some(AffineIndex::Element { m }) => {
            assert_eq!(
                m.max(1),
                srun,
                "norm: an elementwise affine of {m} per run of {srun}"
            );
            srun
        }
    }
}

/// The statistic of unit run `r` of length `u` (see [`unit_run`]).
#[inline(always)]
fn stat_of(stats: NormStats, u: usize, r: usize) -> usize {
    match stats {
        NormStats::PerChannel { c, .. } => r % c,
        NormStats::Groups { m } => r * u / m,
    }
}

/// Partial sums each reduction keeps: element `i` of a run goes to lane `i % ACC`, and the
/// lanes are added pairwise at the end of the run ([`lane_sums`]).
const ACC: usize = 32;

/// The arithmetic of a sum's terms, on one value or on a vector of `f32` lanes, so that one
/// definition of a term serves both.
trait Arith<E>: Copy {
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// The constant `x` in this form (`like` carries a vector's level).
    fn lift(x: E, like: Self) -> Self;
}

impl<E: Element> Arith<E> for E {
    #[inline(always)]
    fn sub(self, o: E) -> E {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: E) -> E {
        self * o
    }
    #[inline(always)]
    fn lift(x: E, _: E) -> E {
        x
    }
}

/// A vector of `f32` lanes at level `S`.
#[derive(Clone, Copy)]
struct Lanes<S: Simd>(S, S::F);

impl<S: Simd, E: Element> Arith<E> for Lanes<S> {
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Lanes(self.0, self.0.sub(self.1, o.1))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Lanes(self.0, self.0.mul(self.1, o.1))
    }
    /// (Used where `E` is `f32`, whose conversion through `f64` is exact.)
    #[inline(always)]
    fn lift(x: E, like: Self) -> Self {
        Lanes(like.0, like.0.splat(x.as_f64() as f32))
    }
}

/// `K` terms of `N` values (in step from `N` inputs) that [`lane_sums`] adds up.
trait Terms<E, const N: usize, const K: usize>: Copy {
    fn at<A: Arith<E>>(&self, v: [A; N]) -> [A; K];
}

/// `x`.
#[derive(Clone, Copy)]
struct Values;
impl<E> Terms<E, 1, 1> for Values {
    #[inline(always)]
    fn at<A: Arith<E>>(&self, [v]: [A; 1]) -> [A; 1] {
        [v]
    }
}

/// `(x - m)^2`.
#[derive(Clone, Copy)]
struct SquaredDeviations<E>(E);
impl<E: Copy> Terms<E, 1, 1> for SquaredDeviations<E> {
    #[inline(always)]
    fn at<A: Arith<E>>(&self, [v]: [A; 1]) -> [A; 1] {
        let d = v.sub(A::lift(self.0, v));
        [d.mul(d)]
    }
}

/// `g` and `g * xhat` of `[g, x]`, with `xhat = (x - mean) * rstd`.
#[derive(Clone, Copy)]
struct GradSums<E> {
    mean: E,
    rstd: E,
}
impl<E: Copy> Terms<E, 2, 2> for GradSums<E> {
    #[inline(always)]
    fn at<A: Arith<E>>(&self, [g, x]: [A; 2]) -> [A; 2] {
        let h = x.sub(A::lift(self.mean, x)).mul(A::lift(self.rstd, x));
        [g, g.mul(h)]
    }
}

/// `d = g * w` and `d * xhat` of `[g, x, w]` (layer norm's elementwise weight).
#[derive(Clone, Copy)]
struct WeightedGradSums<E>(GradSums<E>);
impl<E: Copy> Terms<E, 3, 2> for WeightedGradSums<E> {
    #[inline(always)]
    fn at<A: Arith<E>>(&self, [g, x, w]: [A; 3]) -> [A; 2] {
        self.0.at([g.mul(w), x])
    }
}

/// The sums over the elements of `ins` (read in step) of the `K` terms `term` gives for each,
/// each kept in [`ACC`] partial lanes (element `i` in lane `i % ACC`) and the lanes added
/// pairwise at the end. One sum in one register was a chain of dependent additions, four
/// cycles an element; 32 independent chains are the same scalar operations in an order fixed
/// by the source. `f32` runs them a vector at a time at the process's level (2, 4 or 8 vectors
/// of lanes): the bits are the same at every level, and the same as [`scalar_lanes`] gives.
fn lane_sums<E: Element, const N: usize, const K: usize, T: Terms<E, N, K>>(
    ins: [&[E]; N],
    term: T,
) -> [E; K] {
    let mut lanes = [[E::zero(); ACC]; K];
    // (an array, not a collected `Vec`: this runs once per run of a channel's plane)
    let each = ins.map(|s| E::as_vector(s));
    let vectors = (each.iter().all(Option::is_some)).then(|| each.map(|v| v.unwrap_or_default()));
    let start = match (vectors, E::as_vector_mut(lanes.as_flattened_mut())) {
        (Some(ins), Some(out)) => simd!(
            level(),
            VectorLanes {
                ins,
                term,
                out,
                _e: std::marker::PhantomData::<E>,
            }
        ),
        _ => 0,
    };
    scalar_lanes(ins, term, start, &mut lanes);
    lanes.map(pairwise)
}

/// The sum of the lanes, added pairwise (lane `l` and `l + w`, halving `w`).
fn pairwise<E: Element>(mut a: [E; ACC]) -> E {
    let mut w = ACC / 2;
    while w > 0 {
        for l in 0..w {
            a[l] = a[l] + a[l + w];
        }
        w /= 2;
    }
    a[0]
}

/// Adds the terms of elements `from..` of `ins` into their lanes, one at a time.
fn scalar_lanes<E: Element, const N: usize, const K: usize, T: Terms<E, N, K>>(
    ins: [&[E]; N],
    term: T,
    from: usize,
    lanes: &mut [[E; ACC]; K],
) {
    let n = ins.iter().map(|s| s.len()).min().unwrap_or(0);
    for i in from..n {
        let t = term.at::<E>(std::array::from_fn(|q| ins[q][i]));
        for (a, v) in lanes.iter_mut().zip(t) {
            a[i % ACC] = a[i % ACC] + v;
        }
    }
}

/// The whole chunks of [`ACC`] elements of [`lane_sums`] a vector at a time: writes the lanes
/// to `out` (`K` rows of `ACC`) and returns how many elements it took.
struct VectorLanes<'a, E, T, const N: usize, const K: usize> {
    ins: [&'a [f32]; N],
    term: T,
    out: &'a mut [f32],
    _e: std::marker::PhantomData<E>,
}

impl<S: Simd, E: Element, T: Terms<E, N, K>, const N: usize, const K: usize> Kernel<S>
    for VectorLanes<'_, E, T, N, K>
{
    type Out = usize;
    #[inline(always)]
    fn run(self, s: S) -> usize {
        let n = self.ins.iter().map(|x| x.len()).min().unwrap_or(0);
        let whole = n - n % ACC;
        let per = ACC / S::LANES;
        let mut acc = [[s.zero(); ACC / 4]; K];
        for i in (0..whole).step_by(ACC) {
            for v in 0..per {
                let at = i + v * S::LANES;
                // a loop, not `ins.map(..)`: `map` stayed a call, compiled for the baseline,
                // and each vector load in it a call too (5% of a ResNet training step)
                let mut xs = [Lanes(s, s.zero()); N];
                for (x, i) in xs.iter_mut().zip(&self.ins) {
                    *x = Lanes(s, s.load(&i[at..]));
                }
                let t = self.term.at(xs);
                for (a, tq) in acc.iter_mut().zip(t) {
                    a[v] = s.add(a[v], tq.1);
                }
            }
        }
        for (a, row) in acc.iter().zip(self.out.chunks_exact_mut(ACC)) {
            for v in 0..per {
                s.store(a[v], &mut row[v * S::LANES..]);
            }
        }
        whole
    }
}

/// `f(r)` of every unit run `r` (of `u` elements) of `len` elements, split across the pool for
/// long data. The passes below reduce these per-run results in run order, so that their
/// numbers depend neither on the level nor on the number of threads.
fn per_run<E: Element, const K: usize>(
    len: usize,
    u: usize,
    f: impl Fn(usize) -> [E; K] + Sync,
) -> Vec<[E; K]> {
    let mut out = vec![[E::zero(); K]; len.div_ceil(u)];
    let fill = |r0: usize, part: &mut [[E; K]]| {
        // in the closure, so that the loops compile at the run-time level
        vectorised(
            #[inline(always)]
            || {
                for (i, o) in part.iter_mut().enumerate() {
                    *o = f(r0 + i);
                }
            },
        )
    };
    if on_pool(len) {
        let per = part_len(out.len(), 1);
        let mut parts: Vec<(usize, &mut [[E; K]])> = out
            .chunks_mut(per)
            .enumerate()
            .map(|(i, p)| (i * per, p))
            .collect();
        run_parts(&mut parts, |(r0, p)| fill(*r0, p));
    } else {
        fill(0, &mut out);
    }
    out
}

/// A new buffer of `len` values, `elem(&setup(r), [a[i], b[i], ..])` for element `i` of unit
/// run `r`, split across the pool for long data. Each of `ins` is either `len` long (read
/// in step with the output) or one run long (read again for every run: layer norm's
/// elementwise weight). Written straight into the new buffer: no zero fill first.
#[allow(unsafe_code)]
fn map_runs<E: Element, const N: usize, P>(
    len: usize,
    u: usize,
    ins: [&[E]; N],
    setup: impl Fn(usize) -> P + Sync,
    elem: impl Fn(MulAdd, &P, [E; N]) -> E + Sync,
) -> Vec<E> {
    assert!(
        ins.iter().all(|s| s.len() == len || s.len() == u),
        "norm: inputs of {len} or {u} values"
    );
    let mut out = new_buffer(len);
    let fill = |r0: usize, part: &mut [MaybeUninit<E>]| {
        // in the closure, so that the loops compile at the run-time level
        vectorised_mul_add(
            #[inline(always)]
            |ma| {
                for (k, ds) in part.chunks_mut(u).enumerate() {
                    let r = r0 + k;
                    let p = setup(r);
                    let at = r * u;
                    let runs: [&[E]; N] = std::array::from_fn(|q| match ins[q].len() == len {
                        true => &ins[q][at..at + ds.len()],
                        false => &ins[q][..ds.len()],
                    });
                    for (i, d) in ds.iter_mut().enumerate() {
                        d.write(elem(ma, &p, std::array::from_fn(|q| runs[q][i])));
                    }
                }
            },
        )
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    if on_pool(len) {
        let per = part_len(len, u);
        let mut parts: Vec<(usize, &mut [MaybeUninit<E>])> = spare
            .chunks_mut(per)
            .enumerate()
            .map(|(i, p)| (i * per / u, p))
            .collect();
        run_parts(&mut parts, |(r0, p)| fill(*r0, p));
    } else {
        fill(0, spare);
    }
    // SAFETY: the first `len` values were written: `spare` is split into parts and runs that
    // cover it, and the loop over each run's `ds` writes every one of its elements.
    unsafe { out.set_len(len) };
    out
}

/// Unit run `r` (of `u` elements) of `s`.
#[inline(always)]
fn run_of<E>(s: &[E], u: usize, r: usize) -> &[E] {
    &s[r * u..((r + 1) * u).min(s.len())]
}

/// Mean and biased variance (two passes) of every statistic group, each run's sums in
/// partial lanes ([`lane_sums`]), the runs added in order.
pub fn norm_stats<E: Element>(x: &[E], stats: NormStats) -> (Vec<E>, Vec<E>) {
    let k = stats.count(x.len());
    let cnt = E::from_usize(stats.members(x.len()).max(1));
    let u = unit_run(stats, None);
    let run = |r| run_of(x, u, r);
    let reduce = |parts: Vec<[E; 1]>| {
        let mut s = vec![E::zero(); k];
        for (r, [v]) in parts.into_iter().enumerate() {
            let j = stat_of(stats, u, r);
            s[j] = s[j] + v;
        }
        s.into_iter().map(|v| v / cnt).collect::<Vec<E>>()
    };
    let mean = reduce(per_run(
        x.len(),
        u,
        #[inline(always)]
        |r| lane_sums([run(r)], Values),
    ));
    let var = reduce(per_run(
        x.len(),
        u,
        #[inline(always)]
        |r| {
            let m = mean[stat_of(stats, u, r)];
            lane_sums([run(r)], SquaredDeviations(m))
        },
    ));
    (mean, var)
}

/// `y = (x - mean) * rstd` per statistic, then `y * w + b` with the affine transform when
/// given.
pub fn norm_forward<E: Element>(
    x: &[E],
    stats: NormStats,
    mean: &[E],
    rstd: &[E],
    affine: Option<(&[E], &[E], AffineIndex)>,
) -> Vec<E> {
    let u = unit_run(stats, affine.map(|a| a.2));
    let stat = |r: usize| {
        let j = stat_of(stats, u, r);
        (mean[j], rstd[j])
    };
    match affine {
        None => map_runs(
            x.len(),
            u,
            [x],
            stat,
            #[inline(always)]
            |_, &(m, rs), [v]| (v - m) * rs,
        ),
        Some((w, b, AffineIndex::Channel { c, .. })) => map_runs(
            x.len(),
            u,
            [x],
            #[inline(always)]
            |r| (stat(r), w[r % c], b[r % c]),
            #[inline(always)]
            |ma, &((m, rs), wa, ba), [v]| ma.mul_add((v - m) * rs, wa, ba),
        ),
        Some((w, b, AffineIndex::Element { .. })) => map_runs(
            x.len(),
            u,
            [x, w, b],
            stat,
            #[inline(always)]
            |ma, &(m, rs), [v, wa, ba]| ma.mul_add((v - m) * rs, wa, ba),
        ),
    }
}

/// How the input's gradient treats the statistics.
#[derive(Clone, Copy)]
pub enum Through<'a, E> {
    /// Fixed statistics (running ones): no gradient flows through them.
    Fixed,
    /// The input's own statistics, differentiated through.
    Batch,
    /// Statistics over this input and others held elsewhere (synchronised batch norm): the
    /// per-statistic sums of the gradient terms pass through `sum` (which replaces this
    /// input's sums with those over every part) and are averaged over `members` elements.
    Across {
        /// Replaces the two sums with their totals over every part.
        sum: &'a dyn Fn(&mut [E], &mut [E]),
        /// Elements per statistic over every part.
        members: usize,
    },
}

/// The backward of [`norm_forward`] from its input `x` and statistics: adds to `dw` and `db`,
/// and returns the input's gradient when `want_dx` (through the statistics as `through`
/// says). The normalized input is computed again from `x` rather than kept from the forward:
/// a pass of arithmetic instead of a buffer written.
#[allow(clippy::too_many_arguments)]
pub fn norm_backward<E: Element>(
    g: &[E],
    x: &[E],
    stats: NormStats,
    (mean, rstd): (&[E], &[E]),
    affine: Option<(&[E], AffineIndex)>,
    through: Through<'_, E>,
    want_dx: bool,
    dw: Option<&mut [E]>,
    db: Option<&mut [E]>,
) -> Option<Vec<E>> {
    let u = unit_run(stats, affine.map(|a| a.1));
    let sums = !matches!(through, Through::Fixed) && want_dx;
    let (mut s1, mut s2) = backward_sums(g, x, stats, u, (mean, rstd), affine, sums, dw, db);
    if !want_dx {
        return None;
    }
    let members = match through {
        Through::Across { sum, members } => {
            sum(&mut s1, &mut s2);
            members
        }
        _ => stats.members(g.len()),
    };
    let cnt = E::from_usize(members.max(1));
    let m1: Vec<E> = s1.iter().map(|&v| v / cnt).collect();
    let m2: Vec<E> = s2.iter().map(|&v| v / cnt).collect();
    // per run: mean and rstd of its statistic, the weight of its channel (one when there is
    // none or it is elementwise), and the two means of the sums (zero with fixed statistics)
    let setup = |r: usize| {
        let j = stat_of(stats, u, r);
        let wa = match affine {
            Some((w, AffineIndex::Channel { c, .. })) => w[r % c],
            _ => E::one(),
        };
        let (a1, a2) = match sums {
            true => (m1[j], m2[j]),
            false => (E::zero(), E::zero()),
        };
        (mean[j], rstd[j], wa, a1, a2)
    };
    let through = |(m, rs, _, a1, a2): &(E, E, E, E, E), v: E, d: E| {
        let h = (v - *m) * *rs;
        (d - *a1 - h * *a2) * *rs
    };
    let len = g.len();
    Some(match (affine, sums) {
        (Some((w, AffineIndex::Element { .. })), true) => map_runs(
            len,
            u,
            [g, x, w],
            setup,
            #[inline(always)]
            |_, p, [gv, v, wv]| through(p, v, gv * wv),
        ),
        (Some((w, AffineIndex::Element { .. })), false) => map_runs(
            len,
            u,
            [g, w],
            setup,
            #[inline(always)]
            |_, p, [gv, wv]| gv * wv * p.1,
        ),
        (_, true) => map_runs(
            len,
            u,
            [g, x],
            setup,
            #[inline(always)]
            |_, p, [gv, v]| through(p, v, gv * p.2),
        ),
        (_, false) => map_runs(
            len,
            u,
            [g],
            setup,
            #[inline(always)]
            |_, p, [gv]| gv * p.2 * p.1,
        ),
    })
}

/// The first pass of [`norm_backward`]: the affine gradients (`dw += g * xhat`, `db += g`)
/// and, when `sums`, the per-statistic sums of `dxhat = g * w` and `dxhat * xhat` that the
/// gradient through the batch statistics needs (empty otherwise). Each run's sums in partial
/// lanes, on the pool; then added in run order.
#[allow(clippy::too_many_arguments)]
fn backward_sums<E: Element>(
    g: &[E],
    x: &[E],
    stats: NormStats,
    u: usize,
    (mean, rstd): (&[E], &[E]),
    affine: Option<(&[E], AffineIndex)>,
    sums: bool,
    dw: Option<&mut [E]>,
    db: Option<&mut [E]>,
) -> (Vec<E>, Vec<E>) {
    let k = if sums { stats.count(g.len()) } else { 0 };
    let (mut s1, mut s2) = (vec![E::zero(); k], vec![E::zero(); k]);
    if !sums && affine.is_none() {
        return (s1, s2);
    }
    let len = g.len();
    let run = |s, r| run_of(s, u, r);
    let stat = |r: usize| {
        let j = stat_of(stats, u, r);
        (mean[j], rstd[j])
    };
    if let Some((w, AffineIndex::Element { .. })) = affine {
        // layer norm: a weight per position of the run, its gradients added run by run
        element_affine_grads(g, x, u, stat, dw, db);
        if sums {
            let parts = per_run(
                len,
                u,
                #[inline(always)]
                |r| {
                    let (mean, rstd) = stat(r);
                    let term = WeightedGradSums(GradSums { mean, rstd });
                    lane_sums([run(g, r), run(x, r), w], term)
                },
            );
            add_in_order(&parts, stats, u, [&mut s1, &mut s2]);
        }
        return (s1, s2);
    }
    let wa = |r: usize| match affine {
        Some((w, AffineIndex::Channel { c, .. })) => w[r % c],
        _ => E::one(),
    };
    let parts = per_run(
        len,
        u,
        #[inline(always)]
        |r| {
            let (mean, rstd) = stat(r);
            lane_sums([run(g, r), run(x, r)], GradSums { mean, rstd })
        },
    );
    if let Some((_, AffineIndex::Channel { c, .. })) = affine {
        let (mut dw, mut db) = (dw, db);
        for (r, [sg, sgh]) in parts.iter().enumerate() {
            if let Some(dw) = dw.as_deref_mut() {
                dw[r % c] = dw[r % c] + *sgh;
            }
            if let Some(db) = db.as_deref_mut() {
                db[r % c] = db[r % c] + *sg;
            }
        }
    }
    if sums {
        // `dxhat = g * w` with one weight per run: its sums are the weight times `g`'s
        let parts: Vec<[E; 2]> = (parts.iter().enumerate())
            .map(|(r, &[sg, sgh])| [wa(r) * sg, wa(r) * sgh])
            .collect();
        add_in_order(&parts, stats, u, [&mut s1, &mut s2]);
    }
    (s1, s2)
}

/// Adds per-run sums into their statistics' totals, in run order.
fn add_in_order<E: Element>(parts: &[[E; 2]], stats: NormStats, u: usize, to: [&mut [E]; 2]) {
    let [s1, s2] = to;
    for (r, [a, b]) in parts.iter().enumerate() {
        let j = stat_of(stats, u, r);
        s1[j] = s1[j] + *a;
        s2[j] = s2[j] + *b;
    }
}

/// `dw[i] += g * xhat`, `db[i] += g` for the elementwise weight of layer norm, run by run.
fn element_affine_grads<E: Element>(
    g: &[E],
    x: &[E],
    u: usize,
    stat: impl Fn(usize) -> (E, E),
    mut dw: Option<&mut [E]>,
    mut db: Option<&mut [E]>,
) {
    // in the closure, so that the loops compile at the run-time level
    vectorised_mul_add(
        #[inline(always)]
        |ma| {
            for (r, (gs, xs)) in g.chunks(u).zip(x.chunks(u)).enumerate() {
                let (m, rs) = stat(r);
                if let Some(dw) = dw.as_deref_mut() {
                    for ((a, &gv), &v) in dw.iter_mut().zip(gs).zip(xs) {
                        *a = ma.mul_add(gv, (v - m) * rs, *a);
                    }
                }
                if let Some(db) = db.as_deref_mut() {
                    for (a, &gv) in db.iter_mut().zip(gs) {
                        *a = *a + gv;
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_stats_match_a_plain_loop_on_odd_sizes() {
        for (n, c, s) in [(1, 1, 1), (3, 7, 1), (2, 3, 17), (7, 1, 15)] {
            let x: Vec<f64> = (0..n * c * s)
                .map(|i| ((i * 37) % 23) as f64 * 0.5)
                .collect();
            let (m, v) = norm_stats(&x, NormStats::PerChannel { n, c, s });
            for ch in 0..c {
                let vals: Vec<f64> = (0..n)
                    .flat_map(|b| (0..s).map(move |p| (b, p)))
                    .map(|(b, p)| x[(b * c + ch) * s + p])
                    .collect();
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let var = vals.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / vals.len() as f64;
                assert!((m[ch] - mean).abs() < 1e-12 && (v[ch] - var).abs() < 1e-10);
            }
        }
    }

    /// Within `tol` relative of the reference (the kernel sums in 32 partial lanes, the
    /// reference in order).
    fn close<E: Element>(got: E, want: E, tol: f64) -> bool {
        let (g, w) = (got.as_f64(), want.as_f64());
        (g - w).abs() <= tol * (1.0 + w.abs())
    }

    /// One grouping of `(N, C, S)` data with its inputs, for the per-run loops' reference.
    struct RunCase<E> {
        stats: NormStats,
        aff: AffineIndex,
        x: Vec<E>,
        g: Vec<E>,
        w: Vec<E>,
        b: Vec<E>,
        /// The relative tolerance of the backward's sums.
        tol: f64,
    }

    impl<E: Element> RunCase<E> {
        fn new(stats: NormStats, aff: AffineIndex, len: usize, tol: f64) -> Self {
            let wn = match aff {
                AffineIndex::Channel { c, .. } => c,
                AffineIndex::Element { m } => m,
            };
            let at = |n: usize, f: fn(usize) -> f64| (0..n).map(|i| E::from_f64(f(i))).collect();
            RunCase {
                stats,
                aff,
                x: at(len, |i| ((i * 37) % 23) as f64 * 0.25 - 2.0),
                g: at(len, |i| ((i * 7) % 5) as f64 - 2.0),
                w: at(wn, |i| 1.0 + i as f64 * 0.125),
                b: at(wn, |i| i as f64 * -0.5),
                tol,
            }
        }
        /// The statistic of element `i`, from its index.
        fn stat(&self, i: usize) -> usize {
            match self.stats {
                NormStats::PerChannel { c, s, .. } => (i / s) % c,
                NormStats::Groups { m } => i / m,
            }
        }
        /// The affine weight of element `i`, from its index.
        fn wi(&self, i: usize) -> usize {
            match self.aff {
                AffineIndex::Channel { c, s } => (i / s) % c,
                AffineIndex::Element { m } => i % m,
            }
        }
        fn rstd(&self) -> (Vec<E>, Vec<E>) {
            let (mean, var) = norm_stats(&self.x, self.stats);
            let rstd = var
                .iter()
                .map(|&v| (v + E::from_f64(1e-5)).sqrt().recip())
                .collect();
            (mean, rstd)
        }
        /// The forward, element by element, bit for bit (the affine step fused at the FMA
        /// levels, rounded twice at the baseline: see [`MulAdd`]).
        fn check_forward(&self, affine: bool) {
            let fused = level() != super::super::simd::Level::Baseline;
            let (mean, rstd) = self.rstd();
            let aff = affine.then_some((&self.w[..], &self.b[..], self.aff));
            let y = norm_forward(&self.x, self.stats, &mean, &rstd, aff);
            for (i, (&yi, &xi)) in y.iter().zip(&self.x).enumerate() {
                let (j, a) = (self.stat(i), self.wi(i));
                let h = (xi - mean[j]) * rstd[j];
                let want = match (affine, fused) {
                    (false, _) => h,
                    (true, true) => h.mul_add(self.w[a], self.b[a]),
                    (true, false) => h * self.w[a] + self.b[a],
                };
                assert!(yi == want, "forward {:?} {:?} at {i}", self.stats, self.aff);
            }
        }
        /// The backward, element by element, through the statistics or with them fixed, added
        /// to a gradient of ones.
        fn check_backward(&self, affine: bool, through: bool) {
            let (mean, rstd) = self.rstd();
            let (len, wn, g) = (self.x.len(), self.w.len(), &self.g);
            let xhat: Vec<E> = (0..len)
                .map(|i| (self.x[i] - mean[self.stat(i)]) * rstd[self.stat(i)])
                .collect();
            let dxhat: Vec<E> = (0..len)
                .map(|i| {
                    if affine {
                        g[i] * self.w[self.wi(i)]
                    } else {
                        g[i]
                    }
                })
                .collect();
            let (mut s1, mut s2) = (vec![E::zero(); rstd.len()], vec![E::zero(); rstd.len()]);
            for i in 0..len {
                s1[self.stat(i)] = s1[self.stat(i)] + dxhat[i];
                s2[self.stat(i)] = dxhat[i].mul_add(xhat[i], s2[self.stat(i)]);
            }
            let (mut dw, mut db) = (vec![E::zero(); wn], vec![E::zero(); wn]);
            let aff = affine.then_some((&self.w[..], self.aff));
            let (dws, dbs) = (Some(&mut dw[..]), Some(&mut db[..]));
            let stats = (&mean[..], &rstd[..]);
            let how = if through {
                Through::Batch
            } else {
                Through::Fixed
            };
            let dx = norm_backward(g, &self.x, self.stats, stats, aff, how, true, dws, dbs)
                .expect("asked for");
            let cnt = E::from_usize(self.stats.members(len));
            let (mut rw, mut rb) = (vec![E::zero(); wn], vec![E::zero(); wn]);
            for i in 0..len {
                let j = self.stat(i);
                let want = match through {
                    true => (dxhat[i] - s1[j] / cnt - xhat[i] * s2[j] / cnt) * rstd[j],
                    false => dxhat[i] * rstd[j],
                };
                assert!(
                    close(dx[i], want, self.tol),
                    "backward {:?} {:?} through={through} at {i}: {:?} want {:?}",
                    self.stats,
                    self.aff,
                    dx[i],
                    want
                );
                rw[self.wi(i)] = g[i].mul_add(xhat[i], rw[self.wi(i)]);
                rb[self.wi(i)] = rb[self.wi(i)] + g[i];
            }
            let all_close =
                |a: &[E], b: &[E]| a.iter().zip(b).all(|(&p, &q)| close(p, q, self.tol));
            assert!(
                !affine || (all_close(&dw, &rw) && all_close(&db, &rb)),
                "affine grads {:?} {:?}",
                self.stats,
                self.aff
            );
        }
    }

    /// `(N, C, S)` sizes: odd, and with runs shorter than, equal to and longer than the 32
    /// partial lanes of the sums, with and without a tail.
    const SIZES: [(usize, usize, usize); 7] = [
        (1, 1, 1),
        (2, 3, 7),
        (3, 1, 17),
        (1, 5, 15),
        (2, 2, 33),
        (3, 2, 64),
        (2, 3, 97),
    ];

    /// Batch, instance, group and layer norm's groupings of `(N, C, S)` data.
    fn groupings(n: usize, c: usize, s: usize) -> [(NormStats, AffineIndex); 4] {
        [
            (
                NormStats::PerChannel { n, c, s },
                AffineIndex::Channel { c, s },
            ),
            (NormStats::Groups { m: s }, AffineIndex::Channel { c, s }),
            (
                NormStats::Groups { m: c * s },
                AffineIndex::Channel { c, s },
            ),
            (
                NormStats::Groups { m: c * s },
                AffineIndex::Element { m: c * s },
            ),
        ]
    }

    /// The per-run loops against a plain element-by-element reference (each element's
    /// statistic and weight from its index, sums in order) on odd sizes, for every grouping,
    /// with and without an affine, through the statistics and with them fixed: the forward
    /// bit for bit, the backward within `tol`. `.ci/run` runs this at every instruction-set
    /// level the machine has.
    fn runs_match_reference<E: Element>(tol: f64) {
        for (n, c, s) in SIZES {
            for (stats, aff) in groupings(n, c, s) {
                let case = RunCase::<E>::new(stats, aff, n * c * s, tol);
                for affine in [false, true] {
                    case.check_forward(affine);
                    case.check_backward(affine, false);
                    case.check_backward(affine, true);
                }
            }
        }
    }

    #[test]
    fn per_run_loops_match_an_element_by_element_reference() {
        runs_match_reference::<f32>(1e-5);
        runs_match_reference::<f64>(1e-13);
    }

    /// Everything the kernels return at one level, for one grouping with an affine, through
    /// the statistics.
    fn all_outputs(stats: NormStats, aff: AffineIndex, len: usize) -> Vec<Vec<f32>> {
        let case = RunCase::<f32>::new(stats, aff, len, 0.0);
        let (mean, rstd) = case.rstd();
        let y = norm_forward(&case.x, stats, &mean, &rstd, Some((&case.w, &case.b, aff)));
        let (mut dw, mut db) = (vec![0.0; case.w.len()], vec![0.0; case.w.len()]);
        let (dws, dbs) = (Some(&mut dw[..]), Some(&mut db[..]));
        let saved = (&mean[..], &rstd[..]);
        let dx = norm_backward(
            &case.g,
            &case.x,
            stats,
            saved,
            Some((&case.w, aff)),
            Through::Batch,
            true,
            dws,
            dbs,
        );
        vec![mean, rstd, y, dx.expect("asked for"), dw, db]
    }

    /// The sums' order is fixed by the source, not the vector width: the FMA levels give the
    /// same bits. The baseline, which rounds the affine step's product and sum separately (see
    /// [`MulAdd`]), gives the same statistics, input gradient and bias gradient, and the output
    /// and weight gradient within a rounding.
    #[test]
    fn every_level_gives_the_same_bits() {
        use super::super::simd::{at_level, available_levels, Level};
        // the outputs `all_outputs` lists that the affine step's multiply-adds reach
        const Y: usize = 2;
        const DW: usize = 4;
        for (n, c, s) in SIZES {
            for (stats, aff) in groupings(n, c, s) {
                let base = at_level(Level::Baseline, || all_outputs(stats, aff, n * c * s));
                let mut first_fma = None;
                for level in available_levels().into_iter().skip(1) {
                    let got = at_level(level, || all_outputs(stats, aff, n * c * s));
                    for (k, (g, b)) in got.iter().zip(&base).enumerate() {
                        let near = g.iter().zip(b).all(|(&g, &b)| close(g, b, 1e-6));
                        let ok = if k == Y || k == DW { near } else { g == b };
                        assert!(
                            ok,
                            "output {k} at {level:?} against the baseline, {stats:?} {aff:?}"
                        );
                    }
                    let fma = first_fma.get_or_insert_with(|| got.clone());
                    assert!(got == *fma, "{level:?} {stats:?} {aff:?}");
                }
            }
        }
    }

    /// The vector lanes of `f32` against one value at a time ([`scalar_lanes`]), bit for
    /// bit, at every level, on lengths around whole chunks.
    #[test]
    fn vector_lanes_match_scalar_lanes_at_every_level() {
        use super::super::simd::{at_level, available_levels};
        let data = |n: usize, k: usize| -> Vec<f32> {
            (0..n).map(|i| ((i * k) % 29) as f32 * 0.37 - 4.1).collect()
        };
        for n in [1, 7, 31, 32, 33, 64, 97, 1000] {
            let (g, x, w) = (data(n, 7), data(n, 11), data(n, 13));
            let term = GradSums {
                mean: 0.3f32,
                rstd: 1.7,
            };
            let mut want = [[0.0f32; ACC]; 2];
            scalar_lanes(
                [&g[..], &x[..], &w[..]],
                WeightedGradSums(term),
                0,
                &mut want,
            );
            let want = want.map(pairwise);
            for level in available_levels() {
                let got = at_level(level, || {
                    lane_sums([&g[..], &x[..], &w[..]], WeightedGradSums(term))
                });
                assert_eq!(
                    got.map(f32::to_bits),
                    want.map(f32::to_bits),
                    "{level:?} {n}"
                );
            }
        }
    }

    /// Split across the pool, the per-run results are still added in run order: the same
    /// bits on one thread and on three, on data long enough to split.
    #[test]
    fn every_thread_count_gives_the_same_bits() {
        let (n, c, s) = (4, 3, 4099);
        for (stats, aff) in groupings(n, c, s) {
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a pool");
                pool.install(|| all_outputs(stats, aff, n * c * s))
            };
            assert!(on(1) == on(3), "{stats:?} {aff:?}");
        }
    }

    /// The batch's mean, `1 / sqrt(var + 1e-5)`, and the input's gradient through them.
    fn batch_backward<E: Element>(
        g: &[E],
        x: &[E],
        stats: NormStats,
        affine: Option<(&[E], AffineIndex)>,
    ) -> (Vec<E>, Vec<E>, Vec<E>) {
        let (m, v) = norm_stats(x, stats);
        let r: Vec<E> = v
            .iter()
            .map(|&v| E::one() / (v + E::from_f64(1e-5)).sqrt())
            .collect();
        let through = Through::Batch;
        let dx = norm_backward(g, x, stats, (&m, &r), affine, through, true, None, None);
        (m, r, dx.expect("asked for"))
    }

    #[test]
    fn backward_through_stats_matches_finite_differences() {
        let x: Vec<f64> = (0..2 * 3 * 5)
            .map(|i| ((i * 13) % 11) as f64 * 0.3 - 1.0)
            .collect();
        let w = [1.5, -0.5, 2.0];
        let b = [0.1, 0.2, 0.3];
        let g: Vec<f64> = (0..30).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
        let stats = NormStats::PerChannel { n: 2, c: 3, s: 5 };
        let aff = AffineIndex::Channel { c: 3, s: 5 };
        let loss = |x: &[f64]| {
            let (m, v) = norm_stats(x, stats);
            let r: Vec<f64> = v.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
            let y = norm_forward(x, stats, &m, &r, Some((&w, &b, aff)));
            y.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>()
        };
        let (_, _, dx) = batch_backward(&g, &x, stats, Some((&w[..], aff)));
        for i in 0..30 {
            let (mut p, mut q) = (x.clone(), x.clone());
            p[i] += 1e-6;
            q[i] -= 1e-6;
            let num = (loss(&p) - loss(&q)) / 2e-6;
            assert!((num - dx[i]).abs() < 1e-6, "{i}: {num} vs {}", dx[i]);
        }
    }

    /// Batch norm over a batch split in two parts, each part's sums completed with the
    /// other's (what an all-reduce does), gives each part's rows of the whole batch's input
    /// gradient, at every level and on odd sizes.
    #[test]
    fn backward_across_parts_matches_the_whole_batch() {
        use super::super::simd::{at_level, available_levels};
        for (n, c, s) in [(2, 1, 1), (4, 3, 7), (6, 5, 17), (2, 2, 33)] {
            let len = n * c * s;
            let x: Vec<f32> = (0..len)
                .map(|i| ((i * 13) % 11) as f32 * 0.3 - 1.0)
                .collect();
            let g: Vec<f32> = (0..len).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
            let w: Vec<f32> = (0..c).map(|j| 1.5 - j as f32 * 0.5).collect();
            let whole = NormStats::PerChannel { n, c, s };
            let aff = Some((&w[..], AffineIndex::Channel { c, s }));
            let (m, r, want) = batch_backward(&g, &x, whole, aff);
            let half = n / 2 * c * s;
            let part = NormStats::PerChannel { n: n / 2, c, s };
            // each part's own sums of the gradient terms (its `Through::Batch` sums)
            let sums_of = |lo: usize| {
                let (gp, xp) = (&g[lo..lo + half], &x[lo..lo + half]);
                let u = unit_run(part, aff.map(|a| a.1));
                backward_sums(gp, xp, part, u, (&m, &r), aff, true, None, None)
            };
            let parts = [sums_of(0), sums_of(half)];
            for level in available_levels() {
                for (k, lo) in [0, half].into_iter().enumerate() {
                    let other = &parts[1 - k];
                    let sum = |s1: &mut [f32], s2: &mut [f32]| {
                        s1.iter_mut().zip(&other.0).for_each(|(a, b)| *a += b);
                        s2.iter_mut().zip(&other.1).for_each(|(a, b)| *a += b);
                    };
                    let through = Through::Across {
                        sum: &sum,
                        members: n * s,
                    };
                    let (gp, xp) = (&g[lo..lo + half], &x[lo..lo + half]);
                    let got = at_level(level, || {
                        norm_backward(gp, xp, part, (&m, &r), aff, through, true, None, None)
                    })
                    .expect("asked for");
                    for (i, (a, b)) in got.iter().zip(&want[lo..lo + half]).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                            "{level:?} {n}x{c}x{s} part {k} [{i}]: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
