//! Softmax and log-softmax along the middle axis of `outer x n x inner`, stable for any
//! magnitude (the maximum is subtracted before exponentiating).

use crate::element::Element;

/// Softmax (or log-softmax with `log = true`) along the middle axis.
pub fn softmax_axis<E: Element>(
    src: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    log: bool,
) -> Vec<E> {
    assert_eq!(src.len(), outer * n * inner, "softmax_axis: length");
    let mut out = vec![E::zero(); src.len()];
    let at = |o: usize, j: usize, i: usize| (o * n + j) * inner + i;
    for o in 0..outer {
        for i in 0..inner {
            let mut m = E::neg_infinity();
            for j in 0..n {
                m = m.max(src[at(o, j, i)]);
            }
            if m == E::neg_infinity() {
                // every logit is -inf: PyTorch gives NaN (0/0); subtracting -inf would too.
                m = E::zero();
            }
            let mut s = E::zero();
            for j in 0..n {
                let e = (src[at(o, j, i)] - m).exp();
                out[at(o, j, i)] = e;
                s = s + e;
            }
            if log {
                let lse = s.ln();
                for j in 0..n {
                    out[at(o, j, i)] = src[at(o, j, i)] - m - lse;
                }
            } else {
                for j in 0..n {
                    out[at(o, j, i)] = out[at(o, j, i)] / s;
                }
            }
        }
    }
    out
}

/// Backward of softmax / log-softmax given the output `y` and its gradient `g`, accumulated
/// into `dst`: softmax `dx = y (g - sum(g y))`, log-softmax `dx = g - exp(y) sum(g)`.
#[allow(clippy::too_many_arguments)]
pub fn softmax_backward<E: Element>(
    dst: &mut [E],
    y: &[E],
    g: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    log: bool,
) {
    let at = |o: usize, j: usize, i: usize| (o * n + j) * inner + i;
    for o in 0..outer {
        for i in 0..inner {
            let mut s = E::zero();
            for j in 0..n {
                let k = at(o, j, i);
                s = s + if log { g[k] } else { g[k] * y[k] };
            }
            for j in 0..n {
                let k = at(o, j, i);
                let d = if log {
                    g[k] - y[k].exp() * s
                } else {
                    y[k] * (g[k] - s)
                };
                dst[k] = dst[k] + d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_softmax_on_odd_sizes() {
        for (outer, n, inner) in [(1, 1, 1), (3, 7, 1), (1, 15, 17), (7, 3, 33)] {
            let x: Vec<f64> = (0..outer * n * inner)
                .map(|i| ((i * 31) % 17) as f64 * 0.3 - 2.0)
                .collect();
            let y = softmax_axis(&x, outer, n, inner, false);
            let l = softmax_axis(&x, outer, n, inner, true);
            for o in 0..outer {
                for i in 0..inner {
                    let z: f64 = (0..n).map(|j| x[(o * n + j) * inner + i].exp()).sum();
                    for j in 0..n {
                        let k = (o * n + j) * inner + i;
                        assert!((y[k] - x[k].exp() / z).abs() < 1e-12);
                        assert!((l[k] - (x[k] - z.ln())).abs() < 1e-12);
                    }
                }
            }
        }
    }
}
