//! Normalization over a `(N, C, S)` view of the data: statistics per channel across the batch
//! and positions (batch norm), or per contiguous group of elements (layer, instance and group
//! norm); normalization with an optional affine transform; and the backward pass, through the
//! statistics (batch statistics) or with them fixed (running statistics).

use crate::tensor::Element;

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
    fn index(&self, i: usize) -> usize {
        match *self {
            NormStats::PerChannel { c, s, .. } => (i / s.max(1)) % c,
            NormStats::Groups { m } => i / m.max(1),
        }
    }
    /// Elements per statistic.
    ///
    /// ```
    /// use stensor::kernels::NormStats;
    /// assert_eq!(NormStats::PerChannel { n: 4, c: 3, s: 25 }.members(300), 100);
    /// assert_eq!(NormStats::Groups { m: 8 }.members(64), 8);
    /// ```
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
    fn index(&self, i: usize) -> usize {
        match *self {
            AffineIndex::Channel { c, s } => (i / s.max(1)) % c,
            AffineIndex::Element { m } => i % m.max(1),
        }
    }
}

/// Mean and biased variance (two passes) of every statistic group.
///
/// ```
/// use stensor::kernels::{norm_stats, NormStats};
/// let (m, v) = norm_stats(&[1.0f64, 3.0, 10.0, 10.0], NormStats::Groups { m: 2 });
/// assert_eq!((m, v), (vec![2.0, 10.0], vec![1.0, 0.0]));
/// ```
pub fn norm_stats<E: Element>(x: &[E], stats: NormStats) -> (Vec<E>, Vec<E>) {
    let k = stats.count(x.len());
    let cnt = E::from_usize(stats.members(x.len()).max(1));
    let mut mean = vec![E::zero(); k];
    for (i, &v) in x.iter().enumerate() {
        let j = stats.index(i);
        mean[j] = mean[j] + v;
    }
    mean.iter_mut().for_each(|m| *m = *m / cnt);
    let mut var = vec![E::zero(); k];
    for (i, &v) in x.iter().enumerate() {
        let j = stats.index(i);
        let d = v - mean[j];
        var[j] = d.mul_add(d, var[j]);
    }
    var.iter_mut().for_each(|v| *v = *v / cnt);
    (mean, var)
}

/// `xhat = (x - mean) * rstd` per statistic, and `y = xhat * w + b` with the affine transform
/// when given. Returns `(y, xhat)`.
///
/// ```
/// use stensor::kernels::{norm_forward, NormStats};
/// let (y, _) = norm_forward(&[1.0f64, 3.0], NormStats::Groups { m: 2 }, &[2.0], &[1.0], None);
/// assert_eq!(y, vec![-1.0, 1.0]);
/// ```
pub fn norm_forward<E: Element>(
    x: &[E],
    stats: NormStats,
    mean: &[E],
    rstd: &[E],
    affine: Option<(&[E], &[E], AffineIndex)>,
) -> (Vec<E>, Vec<E>) {
    let xhat: Vec<E> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let j = stats.index(i);
            (v - mean[j]) * rstd[j]
        })
        .collect();
    let y = match affine {
        Some((w, b, idx)) => xhat
            .iter()
            .enumerate()
            .map(|(i, &h)| {
                let a = idx.index(i);
                h.mul_add(w[a], b[a])
            })
            .collect(),
        None => xhat.clone(),
    };
    (y, xhat)
}

/// The backward of [`norm_forward`]: accumulates into `dx` (through the batch statistics when
/// `through_stats`, else with them fixed), `dw` and `db`.
///
/// ```
/// use stensor::kernels::{norm_backward, NormStats};
/// // Normalizing two values: a gradient on both outputs equally does not move the input.
/// let mut dx = vec![0.0f64; 2];
/// norm_backward(&[1.0, 1.0], &[-1.0, 1.0], NormStats::Groups { m: 2 }, &[1.0], None, true, Some(&mut dx), None, None);
/// assert_eq!(dx, vec![0.0, 0.0]);
/// ```
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
    if let Some((_, idx)) = affine {
        if let Some(dw) = dw {
            for (i, (&gv, &h)) in g.iter().zip(xhat).enumerate() {
                let a = idx.index(i);
                dw[a] = gv.mul_add(h, dw[a]);
            }
        }
        if let Some(db) = db {
            for (i, &gv) in g.iter().enumerate() {
                let a = idx.index(i);
                db[a] = db[a] + gv;
            }
        }
    }
    let Some(dx) = dx else { return };
    let dxhat: Vec<E> = match affine {
        Some((w, idx)) => g
            .iter()
            .enumerate()
            .map(|(i, &gv)| gv * w[idx.index(i)])
            .collect(),
        None => g.to_vec(),
    };
    if !through_stats {
        for (i, d) in dx.iter_mut().enumerate() {
            *d = dxhat[i].mul_add(rstd[stats.index(i)], *d);
        }
        return;
    }
    let k = stats.count(g.len());
    let cnt = E::from_usize(stats.members(g.len()).max(1));
    let (mut s1, mut s2) = (vec![E::zero(); k], vec![E::zero(); k]);
    for (i, (&d, &h)) in dxhat.iter().zip(xhat).enumerate() {
        let j = stats.index(i);
        s1[j] = s1[j] + d;
        s2[j] = d.mul_add(h, s2[j]);
    }
    for (i, out) in dx.iter_mut().enumerate() {
        let j = stats.index(i);
        let v = (dxhat[i] - s1[j] / cnt - xhat[i] * s2[j] / cnt) * rstd[j];
        *out = *out + v;
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
