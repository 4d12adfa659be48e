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
    /// The length of the runs of elements that share a statistic, and the statistic of each
    /// run in order.
    fn runs(&self) -> (usize, Indices) {
        match *self {
            NormStats::PerChannel { c, s, .. } => (s.max(1), Indices::new(1, c)),
            NormStats::Groups { m } => (m.max(1), Indices::new(1, usize::MAX)),
        }
    }
    /// The statistic of each element in order: `(i / s) % c`, or `i / m`.
    fn indices(&self) -> Indices {
        match *self {
            NormStats::PerChannel { c, s, .. } => Indices::new(s, c),
            NormStats::Groups { m } => Indices::new(m, usize::MAX),
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

impl AffineIndex {
    /// The weight of each element in order: `(i / s) % c`, or `i % m`.
    fn indices(&self) -> Indices {
        match *self {
            AffineIndex::Channel { c, s } => Indices::new(s, c),
            AffineIndex::Element { m } => Indices::new(1, m),
        }
    }
}

/// `(i / run) % wrap` for `i = 0, 1, 2, ...`, counted without a division: the loops over a
/// normalised tensor divided twice per element before, which took most of their time.
#[derive(Clone, Copy)]
struct Indices {
    run: usize,
    wrap: usize,
    left: usize,
    at: usize,
}

impl Indices {
    fn new(run: usize, wrap: usize) -> Self {
        let run = run.max(1);
        Indices {
            run,
            wrap: wrap.max(1),
            left: run,
            at: 0,
        }
    }
}

impl Iterator for Indices {
    type Item = usize;
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let at = self.at;
        self.left -= 1;
        if self.left == 0 {
            self.left = self.run;
            self.at += 1;
            if self.at == self.wrap {
                self.at = 0;
            }
        }
        Some(at)
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
            let (run, js) = stats.runs();
            for (part, j) in x.chunks(run).zip(js) {
                mean[j] = part.iter().fold(mean[j], |acc, &v| acc + v);
            }
            mean.iter_mut().for_each(|m| *m = *m / cnt);
            let mut var = vec![E::zero(); k];
            for (part, j) in x.chunks(run).zip(js) {
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
            // loops into buffers rather than `collect`, whose loop is compiled out of line
            // for the baseline
            let mut xhat = vec![E::zero(); x.len()];
            for ((h, &v), j) in xhat.iter_mut().zip(x).zip(stats.indices()) {
                *h = (v - mean[j]) * rstd[j];
            }
            let y = match affine {
                Some((w, b, idx)) => {
                    let mut y = vec![E::zero(); x.len()];
                    for ((y, &h), a) in y.iter_mut().zip(&xhat).zip(idx.indices()) {
                        *y = h.mul_add(w[a], b[a]);
                    }
                    y
                }
                None => xhat.clone(),
            };
            (y, xhat)
        },
    )
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
            if let Some((_, idx)) = affine {
                if let Some(dw) = dw {
                    for ((&gv, &h), a) in g.iter().zip(xhat).zip(idx.indices()) {
                        dw[a] = gv.mul_add(h, dw[a]);
                    }
                }
                if let Some(db) = db {
                    for (&gv, a) in g.iter().zip(idx.indices()) {
                        db[a] = db[a] + gv;
                    }
                }
            }
            let Some(dx) = dx else { return };
            let dxhat: Vec<E> = match affine {
                Some((w, idx)) => {
                    let mut dxhat = vec![E::zero(); g.len()];
                    for ((d, &gv), a) in dxhat.iter_mut().zip(g).zip(idx.indices()) {
                        *d = gv * w[a];
                    }
                    dxhat
                }
                None => g.to_vec(),
            };
            if !through_stats {
                for ((d, &dh), j) in dx.iter_mut().zip(&dxhat).zip(stats.indices()) {
                    *d = dh.mul_add(rstd[j], *d);
                }
                return;
            }
            let k = stats.count(g.len());
            let cnt = E::from_usize(stats.members(g.len()).max(1));
            let (mut s1, mut s2) = (vec![E::zero(); k], vec![E::zero(); k]);
            let (run, js) = stats.runs();
            for ((ds, hs), j) in dxhat.chunks(run).zip(xhat.chunks(run)).zip(js) {
                s1[j] = ds.iter().fold(s1[j], |acc, &d| acc + d);
                s2[j] = ds
                    .iter()
                    .zip(hs)
                    .fold(s2[j], |acc, (&d, &h)| d.mul_add(h, acc));
            }
            let parts = dxhat.iter().zip(xhat).zip(stats.indices());
            for (out, ((&dh, &h), j)) in dx.iter_mut().zip(parts) {
                let v = (dh - s1[j] / cnt - h * s2[j] / cnt) * rstd[j];
                *out = *out + v;
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
