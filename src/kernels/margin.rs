//! The loops of the multi-class margin losses, one sample (a row of `c` scores) at a time:
//! PyTorch's `multi_margin_loss` and `multilabel_margin_loss` and their gradients. Scalar
//! loops, the same at every instruction-set level.

use crate::element::Element;

/// The settings of [`multi_margin`]: the power (1 or 2), the margin, and a weight per class.
#[derive(Clone, Copy, Debug)]
pub struct MultiMargin<'a, E> {
    /// 1 or 2.
    pub p: i32,
    /// The margin the target's score must clear.
    pub margin: E,
    /// A weight per class (the target's weight scales the sample), if any.
    pub weight: Option<&'a [E]>,
}

impl<E: Element> MultiMargin<'_, E> {
    fn weight_of(&self, class: usize) -> E {
        self.weight.map_or(E::one(), |w| w[class])
    }
}

/// Per sample `n`: `sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / c`, for the rows of
/// `x` (`c` scores each) and their target classes `y` (each below `c`).
pub fn multi_margin<E: Element>(x: &[E], c: usize, y: &[usize], s: MultiMargin<'_, E>) -> Vec<E> {
    let scale = E::from_usize(c).recip();
    x.chunks(c)
        .zip(y)
        .map(|(row, &t)| {
            let mut sum = E::zero();
            for (i, &v) in row.iter().enumerate() {
                let z = s.margin - row[t] + v;
                if i != t && z > E::zero() {
                    sum = sum + if s.p == 2 { z * z } else { z };
                }
            }
            sum * s.weight_of(t) * scale
        })
        .collect()
}

/// The adjoint of [`multi_margin`]: adds `g[n]` times each sample's gradient into `gx`.
pub fn multi_margin_backward<E: Element>(
    x: &[E],
    c: usize,
    y: &[usize],
    s: MultiMargin<'_, E>,
    g: &[E],
    gx: &mut [E],
) {
    let scale = E::from_usize(c).recip();
    for (((row, grow), &t), &gn) in x.chunks(c).zip(gx.chunks_mut(c)).zip(y).zip(g) {
        let k = gn * s.weight_of(t) * scale;
        for i in (0..c).filter(|&i| i != t) {
            let z = s.margin - row[t] + row[i];
            if z > E::zero() {
                let d = if s.p == 2 { (z + z) * k } else { k };
                grow[i] = grow[i] + d;
                grow[t] = grow[t] - d;
            }
        }
    }
}

/// A sample's target classes: the entries of its target row before the first negative one
/// (PyTorch's `-1` terminator).
fn labels(row: &[i64]) -> impl Iterator<Item = usize> + '_ {
    row.iter().take_while(|&&v| v >= 0).map(|&v| v as usize)
}

/// Per sample: `sum_{j in Y} sum_{i not in Y} max(0, 1 - (x[j] - x[i])) / c`, where `Y` are the
/// sample's target classes (listed in its row of `targets`, ended by `-1`; a class listed
/// twice counts twice, as PyTorch's).
pub fn multilabel_margin<E: Element>(x: &[E], c: usize, targets: &[i64]) -> Vec<E> {
    let scale = E::from_usize(c).recip();
    let mut is_target = vec![false; c];
    x.chunks(c)
        .zip(targets.chunks(c))
        .map(|(row, trow)| {
            is_target.iter_mut().for_each(|v| *v = false);
            labels(trow).for_each(|j| is_target[j] = true);
            let mut sum = E::zero();
            for j in labels(trow) {
                for (i, &v) in row.iter().enumerate() {
                    let z = E::one() - row[j] + v;
                    if !is_target[i] && z > E::zero() {
                        sum = sum + z;
                    }
                }
            }
            sum * scale
        })
        .collect()
}

/// The adjoint of [`multilabel_margin`]: adds `g[n]` times each sample's gradient into `gx`.
pub fn multilabel_margin_backward<E: Element>(
    x: &[E],
    c: usize,
    targets: &[i64],
    g: &[E],
    gx: &mut [E],
) {
    let scale = E::from_usize(c).recip();
    let mut is_target = vec![false; c];
    for ((row, trow), (grow, &gn)) in x
        .chunks(c)
        .zip(targets.chunks(c))
        .zip(gx.chunks_mut(c).zip(g))
    {
        is_target.iter_mut().for_each(|v| *v = false);
        labels(trow).for_each(|j| is_target[j] = true);
        let k = gn * scale;
        for j in labels(trow) {
            for i in (0..c).filter(|&i| !is_target[i]) {
                if E::one() - row[j] + row[i] > E::zero() {
                    grow[i] = grow[i] + k;
                    grow[j] = grow[j] - k;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::central_difference as numeric;

    const ODD: [usize; 5] = [1, 7, 15, 17, 33];

    fn vals(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 5 + 3) % 11) as f64 * 0.3 - 1.4)
            .collect()
    }

    #[test]
    fn multi_margin_matches_its_definition_and_its_adjoint_on_odd_sizes() {
        for &n in &ODD[..4] {
            for &c in &ODD {
                let x = vals(n * c);
                let y: Vec<usize> = (0..n).map(|i| (i * 3) % c).collect();
                let w: Vec<f64> = (0..c).map(|i| 0.5 + i as f64 * 0.25).collect();
                for p in [1, 2] {
                    for weight in [None, Some(&w[..])] {
                        let s = MultiMargin {
                            p,
                            margin: 0.7,
                            weight,
                        };
                        let l = multi_margin(&x, c, &y, s);
                        for b in 0..n {
                            let row = &x[b * c..][..c];
                            let want: f64 = (0..c)
                                .filter(|&i| i != y[b])
                                .map(|i| (0.7 - row[y[b]] + row[i]).max(0.0).powi(p))
                                .sum::<f64>()
                                * weight.map_or(1.0, |w| w[y[b]])
                                / c as f64;
                            assert!((l[b] - want).abs() < 1e-12);
                        }
                        let g: Vec<f64> = (0..n).map(|b| 1.0 + b as f64 * 0.5).collect();
                        let mut gx = vec![0.0; x.len()];
                        multi_margin_backward(&x, c, &y, s, &g, &mut gx);
                        let total = |v: &[f64]| {
                            let l = multi_margin(v, c, &y, s);
                            l.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>()
                        };
                        for (k, g) in gx.iter().enumerate() {
                            assert!((g - numeric(total, &x, k)).abs() < 1e-5, "{n} {c} {k}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn multilabel_margin_matches_its_definition_and_its_adjoint_on_odd_sizes() {
        for &n in &ODD[..4] {
            for &c in &ODD {
                let x = vals(n * c);
                // row b lists classes b % c and (b + 2) % c, then -1 (when there is room)
                let mut t = vec![-1i64; n * c];
                for b in 0..n {
                    t[b * c] = (b % c) as i64;
                    if c > 2 {
                        t[b * c + 1] = ((b + 2) % c) as i64;
                    }
                }
                let l = multilabel_margin(&x, c, &t);
                for b in 0..n {
                    let row = &x[b * c..][..c];
                    let ys: Vec<usize> = t[b * c..][..c]
                        .iter()
                        .take_while(|&&v| v >= 0)
                        .map(|&v| v as usize)
                        .collect();
                    let want: f64 = ys
                        .iter()
                        .flat_map(|&j| {
                            (0..c)
                                .filter(|i| !ys.contains(i))
                                .map(move |i| (1.0 - row[j] + row[i]).max(0.0))
                        })
                        .sum::<f64>()
                        / c as f64;
                    assert!((l[b] - want).abs() < 1e-12);
                }
                let g: Vec<f64> = (0..n).map(|b| 0.5 - b as f64 * 0.25).collect();
                let mut gx = vec![0.0; x.len()];
                multilabel_margin_backward(&x, c, &t, &g, &mut gx);
                let total = |v: &[f64]| {
                    let l = multilabel_margin(v, c, &t);
                    l.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>()
                };
                for (k, g) in gx.iter().enumerate() {
                    assert!((g - numeric(total, &x, k)).abs() < 1e-5);
                }
            }
        }
    }
}
