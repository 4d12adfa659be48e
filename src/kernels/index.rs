//! The loops of the indexing ops: taking positions along an axis, gathering and scattering by
//! flat position, running sums, and a table's rows by id. Plain scalar loops (memory moves with
//! no arithmetic to vectorise but the adds), the same at every instruction-set level.

use crate::element::Element;

/// For each of `outer` blocks, the `inner`-long runs at positions `picks` of its `n`, in
/// order: `outer * picks.len() * inner` values.
pub fn take_along<E: Element>(
    src: &[E],
    outer: usize,
    n: usize,
    inner: usize,
    picks: &[usize],
) -> Vec<E> {
    let mut y = Vec::with_capacity(outer * picks.len() * inner);
    for o in 0..outer {
        for &p in picks {
            y.extend_from_slice(&src[(o * n + p) * inner..][..inner]);
        }
    }
    y
}

/// The adjoint of [`take_along`]: adds each run of `g` back at its position of `gx`.
pub fn take_along_backward<E: Element>(
    g: &[E],
    gx: &mut [E],
    outer: usize,
    n: usize,
    inner: usize,
    picks: &[usize],
) {
    let m = picks.len();
    for o in 0..outer {
        for (j, &p) in picks.iter().enumerate() {
            let run = &g[(o * m + j) * inner..][..inner];
            add_into(&mut gx[(o * n + p) * inner..][..inner], run);
        }
    }
}

/// `src[at[k]]` for each `k`.
pub fn gather_flat<E: Element>(src: &[E], at: &[usize]) -> Vec<E> {
    at.iter().map(|&p| src[p]).collect()
}

/// `dst[at[k]] += vals[k]` for each `k` (the adjoint of [`gather_flat`]).
pub fn scatter_add_flat<E: Element>(dst: &mut [E], at: &[usize], vals: &[E]) {
    for (&p, &v) in at.iter().zip(vals) {
        dst[p] = dst[p] + v;
    }
}

/// Running sums along the middle axis of `(outer, n, inner)`, in place; from the end when
/// `reverse` (the adjoint of the forward sums).
pub fn cumsum_axis<E: Element>(buf: &mut [E], outer: usize, n: usize, inner: usize, reverse: bool) {
    for o in 0..outer {
        for i in 0..inner {
            let mut acc = E::zero();
            for j in 0..n {
                let j = if reverse { n - 1 - j } else { j };
                let p = (o * n + j) * inner + i;
                acc = acc + buf[p];
                buf[p] = acc;
            }
        }
    }
}

/// Row `ids[k]` of a table of rows of `width`, each times `scales[id]` when given.
pub fn lookup_rows<E: Element>(
    table: &[E],
    width: usize,
    ids: &[usize],
    scales: Option<&[E]>,
) -> Vec<E> {
    let mut y = Vec::with_capacity(ids.len() * width);
    for &id in ids {
        let row = &table[id * width..][..width];
        match scales {
            Some(s) => y.extend(row.iter().map(|&v| v * s[id])),
            None => y.extend_from_slice(row),
        }
    }
    y
}

/// The adjoint of [`lookup_rows`] without scales: row `k` of `g` times `scale[id]` added to row
/// `ids[k]` of `gw`, except for the id `skip`.
pub fn scatter_rows<E: Element>(
    gw: &mut [E],
    width: usize,
    ids: &[usize],
    g: &[E],
    scale: &[E],
    skip: Option<usize>,
) {
    for (&id, row) in ids.iter().zip(g.chunks_exact(width)) {
        if Some(id) == skip {
            continue;
        }
        for (d, &v) in gw[id * width..][..width].iter_mut().zip(row) {
            *d = *d + v * scale[id];
        }
    }
}

fn add_into<E: Element>(dst: &mut [E], src: &[E]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = *d + v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODD: [usize; 5] = [1, 7, 15, 17, 33];

    fn vals(n: usize) -> Vec<f64> {
        (0..n).map(|i| (i * 7 % 11) as f64 - 5.0).collect()
    }

    #[test]
    fn take_along_and_its_adjoint_match_the_definition_on_odd_sizes() {
        for &outer in &ODD[..3] {
            for &n in &ODD {
                for &inner in &ODD[..3] {
                    let x = vals(outer * n * inner);
                    let picks: Vec<usize> = (0..n).rev().chain([0, n / 2]).collect();
                    let y = take_along(&x, outer, n, inner, &picks);
                    let mut gx = vec![0.0; x.len()];
                    take_along_backward(&y, &mut gx, outer, n, inner, &picks);
                    for o in 0..outer {
                        for (j, &p) in picks.iter().enumerate() {
                            for i in 0..inner {
                                let want = x[(o * n + p) * inner + i];
                                assert_eq!(y[(o * picks.len() + j) * inner + i], want);
                            }
                        }
                        for p in 0..n {
                            let count = picks.iter().filter(|&&q| q == p).count() as f64;
                            for i in 0..inner {
                                let at = (o * n + p) * inner + i;
                                assert_eq!(gx[at], x[at] * count);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gather_scatter_and_cumsum_match_the_definition_on_odd_sizes() {
        for &len in &ODD {
            let x = vals(len);
            let at: Vec<usize> = (0..2 * len).map(|k| k * 5 % len).collect();
            let y = gather_flat(&x, &at);
            assert!(y.iter().zip(&at).all(|(&v, &p)| v == x[p]));
            let mut d = vec![0.0; len];
            scatter_add_flat(&mut d, &at, &y);
            for p in 0..len {
                assert_eq!(d[p], x[p] * at.iter().filter(|&&q| q == p).count() as f64);
            }
            for &(outer, inner) in &[(1, 1), (3, 7)] {
                let mut c = vals(outer * len * inner);
                let src = c.clone();
                cumsum_axis(&mut c, outer, len, inner, false);
                let mut r = src.clone();
                cumsum_axis(&mut r, outer, len, inner, true);
                for o in 0..outer {
                    for i in 0..inner {
                        let line: Vec<f64> =
                            (0..len).map(|j| src[(o * len + j) * inner + i]).collect();
                        for j in 0..len {
                            assert_eq!(
                                c[(o * len + j) * inner + i],
                                line[..=j].iter().sum::<f64>()
                            );
                            assert_eq!(r[(o * len + j) * inner + i], line[j..].iter().sum::<f64>());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rows_by_id_and_their_adjoint_on_odd_sizes() {
        for &width in &ODD {
            let table = vals(5 * width);
            let ids = [4, 0, 4, 2, 1, 4, 3];
            let scales = [1.0, 2.0, 0.5, 1.0, 3.0];
            let y = lookup_rows(&table, width, &ids, Some(&scales));
            for (k, &id) in ids.iter().enumerate() {
                for c in 0..width {
                    assert_eq!(y[k * width + c], table[id * width + c] * scales[id]);
                }
            }
            let g = vals(ids.len() * width);
            let mut gw = vec![0.0; table.len()];
            scatter_rows(&mut gw, width, &ids, &g, &scales, Some(3));
            for r in 0..5 {
                for c in 0..width {
                    let want: f64 = if r == 3 {
                        0.0
                    } else {
                        ids.iter()
                            .enumerate()
                            .filter(|(_, &id)| id == r)
                            .map(|(k, _)| g[k * width + c] * scales[r])
                            .sum()
                    };
                    assert_eq!(gw[r * width + c], want);
                }
            }
        }
    }
}
