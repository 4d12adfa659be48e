//! Normalization over a `(N, C, S)` view of the data: statistics per channel across the batch
//! and positions (batch norm), or per contiguous group of elements (layer, instance and group
//! norm); normalization with an optional affine transform; and the backward pass, through the
//! statistics (batch statistics) or with them fixed (running statistics).

use super::simd::vectorised;
use crate::element::Element;

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

/// Mean and biased variance (two passes) of every statistic group.
pub fn norm_stats<E: Element>(x: &[E], stats: NormStats) -> (Vec<E>, Vec<E>) {
    // in the closure, so that the loops compile at the run-time level (`f32::mul_add` is one
    // instruction with FMA, a library call without)
    vectorised(
        #[inline(always)]
        move || {
            let k = stats.count(x.len());
            let cnt = E::from_usize(stats.members(x.len()).max(1));
            let mut mean = vec![E::zero(); k];
            // a run at a time, its sum carried in a register (the same additions in the same
            // order as one element at a time through memory)
            let run = unit_run(stats, None);
            for (r, part) in x.chunks(run).enumerate() {
                let j = stat_of(stats, run, r);
                mean[j] = part.iter().fold(mean[j], |acc, &v| acc + v);
            }
            mean.iter_mut().for_each(|m| *m = *m / cnt);
            let mut var = vec![E::zero(); k];
            for (r, part) in x.chunks(run).enumerate() {
                let j = stat_of(stats, run, r);
                let m = mean[j];
                var[j] = part
                    .iter()
                    .fold(var[j], |acc, &v| (v - m).mul_add(v - m, acc));
            }
            var.iter_mut().for_each(|v| *v = *v / cnt);
            (mean, var)
        },
    )
}

/// `xhat = (x - mean) * rstd` per statistic, and `y = xhat * w + b` with the affine transform
/// when given. Returns `(y, xhat)`.
pub fn norm_forward<E: Element>(
    x: &[E],
    stats: NormStats,
    mean: &[E],
    rstd: &[E],
    affine: Option<(&[E], &[E], AffineIndex)>,
) -> (Vec<E>, Vec<E>) {
    // in the closure, so that the loops compile at the run-time level (`f32::mul_add` is one
    // instruction with FMA, a library call without)
    vectorised(
        #[inline(always)]
        move || {
            forward_runs(
                x,
                stats,
                unit_run(stats, affine.map(|a| a.2)),
                mean,
                rstd,
                affine,
            )
        },
    )
}

/// [`norm_forward`] a unit run at a time (the same operations per element, so the same
/// numbers).
#[inline(always)]
fn forward_runs<E: Element>(
    x: &[E],
    stats: NormStats,
    u: usize,
    mean: &[E],
    rstd: &[E],
    affine: Option<(&[E], &[E], AffineIndex)>,
) -> (Vec<E>, Vec<E>) {
    let mut xhat = vec![E::zero(); x.len()];
    for (r, (hs, xs)) in xhat.chunks_mut(u).zip(x.chunks(u)).enumerate() {
        let j = stat_of(stats, u, r);
        let (m, rs) = (mean[j], rstd[j]);
        for (h, &v) in hs.iter_mut().zip(xs) {
            *h = (v - m) * rs;
        }
    }
    let Some((w, b, idx)) = affine else {
        return (xhat.clone(), xhat);
    };
    let mut y = vec![E::zero(); x.len()];
    for (r, (ys, hs)) in y.chunks_mut(u).zip(xhat.chunks(u)).enumerate() {
        match idx {
            AffineIndex::Channel { c, .. } => {
                let (wa, ba) = (w[r % c], b[r % c]);
                for (y, &h) in ys.iter_mut().zip(hs) {
                    *y = h.mul_add(wa, ba);
                }
            }
            AffineIndex::Element { .. } => {
                for (((y, &h), &wa), &ba) in ys.iter_mut().zip(hs).zip(w).zip(b) {
                    *y = h.mul_add(wa, ba);
                }
            }
        }
    }
    (y, xhat)
}

/// The backward of [`norm_forward`]: accumulates into `dx` (through the batch statistics when
/// `through_stats`, else with them fixed), `dw` and `db`.
#[allow(clippy::too_many_arguments)]
pub fn norm_backward<E: Element>(
    g: &[E],
    xhat: &[E],
    stats: NormStats,
    rstd: &[E],
    affine: Option<(&[E], AffineIndex)>,
    through_stats: bool,
    dx: Option<&mut [E]>,
    dw: Option<&mut [E]>,
    db: Option<&mut [E]>,
) {
    // in the closure, so that the loops compile at the run-time level (`f32::mul_add` is one
    // instruction with FMA, a library call without)
    vectorised(
        #[inline(always)]
        move || {
            let u = unit_run(stats, affine.map(|a| a.1));
            let sums =
                (through_stats && dx.is_some()).then(|| stat_sums(g, xhat, stats, u, affine));
            backward_runs(g, xhat, stats, u, rstd, affine, sums, dx, dw, db);
        },
    )
}

/// The per-statistic sums of `dxhat` and `dxhat * xhat` that the backward through the batch
/// statistics needs, a unit run at a time in order (the same additions as element by element).
#[inline(always)]
fn stat_sums<E: Element>(
    g: &[E],
    xhat: &[E],
    stats: NormStats,
    u: usize,
    affine: Option<(&[E], AffineIndex)>,
) -> (Vec<E>, Vec<E>) {
    let k = stats.count(g.len());
    let (mut s1, mut s2) = (vec![E::zero(); k], vec![E::zero(); k]);
    for (r, (gs, hs)) in g.chunks(u).zip(xhat.chunks(u)).enumerate() {
        let j = stat_of(stats, u, r);
        for (i, (&gv, &h)) in gs.iter().zip(hs).enumerate() {
            let d = dxhat_at(gv, affine, r, i);
            s1[j] = s1[j] + d;
            s2[j] = d.mul_add(h, s2[j]);
        }
    }
    (s1, s2)
}

/// `dxhat = g * w` of element `i` of unit run `r` (`g` without an affine).
#[inline(always)]
fn dxhat_at<E: Element>(gv: E, affine: Option<(&[E], AffineIndex)>, r: usize, i: usize) -> E {
    match affine {
        Some((w, AffineIndex::Channel { c, .. })) => gv * w[r % c],
        Some((w, AffineIndex::Element { .. })) => gv * w[i],
        None => gv,
    }
}

/// [`norm_backward`] a unit run at a time (the same operations per element, in the same order,
/// so the same numbers); `sums` are [`stat_sums`] when the gradient goes through the batch
/// statistics.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_runs<E: Element>(
    g: &[E],
    xhat: &[E],
    stats: NormStats,
    u: usize,
    rstd: &[E],
    affine: Option<(&[E], AffineIndex)>,
    sums: Option<(Vec<E>, Vec<E>)>,
    dx: Option<&mut [E]>,
    mut dw: Option<&mut [E]>,
    mut db: Option<&mut [E]>,
) {
    let cnt = E::from_usize(stats.members(g.len()).max(1));
    let mut dx = dx;
    for (r, (gs, hs)) in g.chunks(u).zip(xhat.chunks(u)).enumerate() {
        if let Some((_, idx)) = affine {
            for (i, (&gv, &h)) in gs.iter().zip(hs).enumerate() {
                let a = match idx {
                    AffineIndex::Channel { c, .. } => r % c,
                    AffineIndex::Element { .. } => i,
                };
                if let Some(dw) = dw.as_deref_mut() {
                    dw[a] = gv.mul_add(h, dw[a]);
                }
                if let Some(db) = db.as_deref_mut() {
                    db[a] = db[a] + gv;
                }
            }
        }
        let Some(dx) = dx.as_deref_mut() else {
            continue;
        };
        let j = stat_of(stats, u, r);
        let rs = rstd[j];
        let out = &mut dx[r * u..r * u + gs.len()];
        match &sums {
            None => {
                for (i, (d, &gv)) in out.iter_mut().zip(gs).enumerate() {
                    *d = dxhat_at(gv, affine, r, i).mul_add(rs, *d);
                }
            }
            Some((s1, s2)) => {
                let (a1, a2) = (s1[j], s2[j]);
                for (i, ((d, &gv), &h)) in out.iter_mut().zip(gs).zip(hs).enumerate() {
                    let dh = dxhat_at(gv, affine, r, i);
                    *d = *d + (dh - a1 / cnt - h * a2 / cnt) * rs;
                }
            }
        }
    }
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

    /// One grouping of `(N, C, S)` data with its inputs, for the per-run loops' reference.
    struct RunCase<E> {
        stats: NormStats,
        aff: AffineIndex,
        x: Vec<E>,
        g: Vec<E>,
        w: Vec<E>,
        b: Vec<E>,
    }

    impl<E: Element> RunCase<E> {
        fn new(stats: NormStats, aff: AffineIndex, len: usize) -> Self {
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
        /// The forward, element by element; returns `xhat`.
        fn check_forward(&self, affine: bool) -> Vec<E> {
            let (mean, rstd) = self.rstd();
            let aff = affine.then_some((&self.w[..], &self.b[..], self.aff));
            let (y, xhat) = norm_forward(&self.x, self.stats, &mean, &rstd, aff);
            for i in 0..self.x.len() {
                let (j, a) = (self.stat(i), self.wi(i));
                let h = (self.x[i] - mean[j]) * rstd[j];
                let want = if affine {
                    h.mul_add(self.w[a], self.b[a])
                } else {
                    h
                };
                assert!(
                    xhat[i] == h && y[i] == want,
                    "forward {:?} {:?} at {i}",
                    self.stats,
                    self.aff
                );
            }
            xhat
        }
        /// The backward, element by element, through the statistics or with them fixed.
        fn check_backward(&self, xhat: &[E], affine: bool, through: bool) {
            let (_, rstd) = self.rstd();
            let (len, wn, g) = (self.x.len(), self.w.len(), &self.g);
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
            let (mut dx, mut dw, mut db) = (
                vec![E::one(); len],
                vec![E::zero(); wn],
                vec![E::zero(); wn],
            );
            let aff = affine.then_some((&self.w[..], self.aff));
            let (dxs, dws, dbs) = (Some(&mut dx[..]), Some(&mut dw[..]), Some(&mut db[..]));
            norm_backward(g, xhat, self.stats, &rstd, aff, through, dxs, dws, dbs);
            let cnt = E::from_usize(self.stats.members(len));
            let (mut rw, mut rb) = (vec![E::zero(); wn], vec![E::zero(); wn]);
            for i in 0..len {
                let j = self.stat(i);
                let want = match through {
                    true => E::one() + (dxhat[i] - s1[j] / cnt - xhat[i] * s2[j] / cnt) * rstd[j],
                    false => dxhat[i].mul_add(rstd[j], E::one()),
                };
                assert!(
                    dx[i] == want,
                    "backward {:?} {:?} through={through} at {i}",
                    self.stats,
                    self.aff
                );
                rw[self.wi(i)] = g[i].mul_add(xhat[i], rw[self.wi(i)]);
                rb[self.wi(i)] = rb[self.wi(i)] + g[i];
            }
            assert!(
                !affine || (dw == rw && db == rb),
                "affine grads {:?} {:?}",
                self.stats,
                self.aff
            );
        }
    }

    /// The per-run loops against a plain element-by-element reference (each element's
    /// statistic and weight from its index), bit for bit, on odd sizes, for batch, instance,
    /// group and layer norm's groupings, with and without an affine, through the statistics and
    /// with them fixed. `.ci/run` runs this at every instruction-set level the machine has.
    fn runs_match_reference<E: Element>() {
        for (n, c, s) in [(1, 1, 1), (2, 3, 7), (3, 1, 17), (1, 5, 15), (2, 2, 33)] {
            let groupings = [
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
            ];
            for (stats, aff) in groupings {
                let case = RunCase::<E>::new(stats, aff, n * c * s);
                for affine in [false, true] {
                    let xhat = case.check_forward(affine);
                    case.check_backward(&xhat, affine, false);
                    case.check_backward(&xhat, affine, true);
                }
            }
        }
    }

    #[test]
    fn per_run_loops_match_an_element_by_element_reference_bit_for_bit() {
        runs_match_reference::<f32>();
        runs_match_reference::<f64>();
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
            let (y, _) = norm_forward(x, stats, &m, &r, Some((&w, &b, aff)));
            y.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>()
        };
        let (m, v) = norm_stats(&x, stats);
        let r: Vec<f64> = v.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
        let (_, xhat) = norm_forward(&x, stats, &m, &r, Some((&w, &b, aff)));
        let mut dx = vec![0.0; 30];
        norm_backward(
            &g,
            &xhat,
            stats,
            &r,
            Some((&w, aff)),
            true,
            Some(&mut dx),
            None,
            None,
        );
        for i in 0..30 {
            let (mut p, mut q) = (x.clone(), x.clone());
            p[i] += 1e-6;
            q[i] -= 1e-6;
            let num = (loss(&p) - loss(&q)) / 2e-6;
            assert!((num - dx[i]).abs() < 1e-6, "{i}: {num} vs {}", dx[i]);
        }
    }
}
