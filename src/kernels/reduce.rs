//! Reductions along one axis of a row-major buffer viewed as `outer x n x inner`.

use super::{for_chunks, PARALLEL_MIN_ELEMS, TASK};
use crate::element::Element;
use rayon::prelude::*;

/// The sum of a contiguous run: 64 interleaved partial sums (so the loop vectorises into four
/// independent chains of `f32x16` adds), then those added in order. Long runs are cut into
/// tasks whose sums are added in order, so the result does not depend on the thread count.
pub(super) fn sum_run<E: Element>(s: &[E]) -> E {
    let run = |s: &[E]| {
        let mut acc = [E::zero(); 64];
        let mut chunks = s.chunks_exact(64);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a = *a + v;
            }
        }
        let tail = chunks.remainder().iter().fold(E::zero(), |a, &v| a + v);
        acc.iter().fold(E::zero(), |a, &v| a + v) + tail
    };
    if super::on_pool(s.len()) {
        let parts: Vec<E> = s.par_chunks(TASK).map(run).collect();
        parts.into_iter().fold(E::zero(), |a, v| a + v)
    } else if s.len() >= PARALLEL_MIN_ELEMS {
        // the pool's partition, in order here: a sum does not change with the thread count
        s.chunks(TASK).map(run).fold(E::zero(), |a, v| a + v)
    } else {
        run(s)
    }
}

/// Sum along the middle axis of `src` viewed as `outer x n x inner`, into `outer x inner`.
pub fn sum_axis<E: Element>(src: &[E], outer: usize, n: usize, inner: usize) -> Vec<E> {
    assert_eq!(src.len(), outer * n * inner, "sum_axis: length");
    if inner == 1 {
        return src.chunks(n.max(1)).map(sum_run).collect();
    }
    let mut out = vec![E::zero(); outer * inner];
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for j in 0..n {
            let row = &src[(o * n + j) * inner..(o * n + j + 1) * inner];
            super::add_assign(dst, row);
        }
    }
    out
}

/// The backward of a reduction along the middle axis: `dst[o, j, i] += g[o, i] * w(o, j, i)`
/// where `w` gives the weight of input element `(o, j, i)`.
pub fn spread_axis<E: Element>(
    dst: &mut [E],
    g: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    w: impl Fn(usize, usize, usize) -> E + Sync,
) {
    assert_eq!(dst.len(), outer * n * inner, "spread_axis: length");
    if dst.is_empty() {
        return;
    }
    // Tasks of whole rows `(o, j)` (or, for `inner == 1`, runs of them), each walking its
    // rows in order.
    let rows_per_task = (TASK / inner).max(1);
    for_chunks(dst, rows_per_task * inner, |start, d| {
        let r0 = start / inner;
        let (mut o, mut j) = (r0 / n, r0 % n);
        for row in d.chunks_mut(inner) {
            let go = &g[o * inner..(o + 1) * inner];
            for (i, (d, &gv)) in row.iter_mut().zip(go).enumerate() {
                *d = *d + gv * w(o, j, i);
            }
            j += 1;
            if j == n {
                (o, j) = (o + 1, 0);
            }
        }
    });
}

/// The index along the middle axis of the first maximum (or minimum, with `max = false`) for
/// every `(outer, inner)` position, and the value there. NaN wins, as in PyTorch.
pub fn arg_extreme_axis<E: Element>(
    src: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    max: bool,
) -> (Vec<E>, Vec<usize>) {
    assert_eq!(src.len(), outer * n * inner, "arg_extreme_axis: length");
    assert!(n > 0, "arg_extreme_axis: reduction over an empty axis");
    let mut vals = vec![E::zero(); outer * inner];
    let mut idx = vec![0usize; outer * inner];
    for o in 0..outer {
        for i in 0..inner {
            let mut best = src[o * n * inner + i];
            let mut bi = 0;
            for j in 1..n {
                let v = src[(o * n + j) * inner + i];
                if best.is_nan() {
                    break;
                }
                let better = v.is_nan() || if max { v > best } else { v < best };
                if better {
                    best = v;
                    bi = j;
                }
            }
            vals[o * inner + i] = best;
            idx[o * inner + i] = bi;
        }
    }
    (vals, idx)
}

/// Mean and variance (with `correction`: 0 biased, 1 unbiased) along the middle axis, two-pass
/// for accuracy.
pub fn mean_var_axis<E: Element>(
    src: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    correction: usize,
) -> (Vec<E>, Vec<E>) {
    let mut mean = sum_axis(src, outer, n, inner);
    let nn = E::from_usize(n);
    for m in mean.iter_mut() {
        *m = *m / nn;
    }
    let mut var = vec![E::zero(); outer * inner];
    // at the run-time level, where `mul_add` is an instruction, not a library call per value
    super::simd::vectorised_mul_add(
        #[inline(always)]
        |ma| {
            for o in 0..outer {
                for j in 0..n {
                    for i in 0..inner {
                        let d = src[(o * n + j) * inner + i] - mean[o * inner + i];
                        var[o * inner + i] = ma.mul_add(d, d, var[o * inner + i]);
                    }
                }
            }
        },
    );
    let denom = E::from_usize(n.saturating_sub(correction));
    for v in var.iter_mut() {
        *v = *v / denom;
    }
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_match_plain_loops_on_odd_sizes() {
        for (outer, n, inner) in [(1, 1, 1), (3, 7, 1), (1, 15, 17), (7, 3, 33), (2, 17, 5)] {
            let x: Vec<f64> = (0..outer * n * inner)
                .map(|i| ((i * 7919) % 101) as f64 - 50.0)
                .collect();
            let s = sum_axis(&x, outer, n, inner);
            let (mx, ix) = arg_extreme_axis(&x, outer, n, inner, true);
            let (mn, _) = arg_extreme_axis(&x, outer, n, inner, false);
            let (mean, var) = mean_var_axis(&x, outer, n, inner, 0);
            for o in 0..outer {
                for i in 0..inner {
                    let col: Vec<f64> = (0..n).map(|j| x[(o * n + j) * inner + i]).collect();
                    let sum: f64 = col.iter().sum();
                    assert_eq!(s[o * inner + i], sum);
                    let best = col.iter().cloned().fold(f64::MIN, f64::max);
                    assert_eq!(mx[o * inner + i], best);
                    assert_eq!(
                        ix[o * inner + i],
                        col.iter().position(|&v| v == best).unwrap()
                    );
                    assert_eq!(
                        mn[o * inner + i],
                        col.iter().cloned().fold(f64::MAX, f64::min)
                    );
                    let m = sum / n as f64;
                    assert!((mean[o * inner + i] - m).abs() < 1e-12);
                    let v = col.iter().map(|c| (c - m) * (c - m)).sum::<f64>() / n as f64;
                    assert!((var[o * inner + i] - v).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn nan_is_the_maximum() {
        let (v, i) = arg_extreme_axis(&[1.0f32, f32::NAN, 3.0], 1, 3, 1, true);
        assert!(v[0].is_nan());
        assert_eq!(i, vec![1]);
    }
}
