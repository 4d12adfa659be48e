//! The loops of norms and distances: the `p`-norm of a line and its derivative, all distances
//! between two sets of rows (`cdist`), and between the rows of one set (`pdist`). Scalar
//! loops, the same at every instruction-set level; rows split across the pool when there are
//! enough of them.
//!
//! Distances are computed directly, `(sum |a - b|^p)^(1/p)`, for every `p`. PyTorch's `cdist`
//! takes `|a|^2 + |b|^2 - 2 a.b` through a matrix product for `p = 2` once a side has more than
//! 25 rows: faster for wide rows, but it cancels catastrophically for near points (a distance
//! of 1e-4 between points of norm 1 keeps about 4 digits in `f32`), and gives a gradient of 0
//! at coinciding points only by clamping. The direct sum keeps full relative precision.

use crate::element::Element;
use rayon::prelude::*;

/// Work (multiply-adds) below which a distance kernel stays on the calling thread.
const SPLIT_WORK: usize = 1 << 15;

/// `(sum |v|^p)^(1/p)` of the values `line` (`p = 0`: how many are non-zero; `p = inf`: the
/// largest `|v|`, NaN if any is NaN), as PyTorch's `vector_norm`.
pub fn lp_norm<E: Element>(line: impl Iterator<Item = E>, p: f64) -> E {
    let line = line.map(|v| v.abs());
    if p == 0.0 {
        line.fold(
            E::zero(),
            |s, v| if v == E::zero() { s } else { s + E::one() },
        )
    } else if p.is_infinite() {
        line.fold(E::zero(), |m, v| if v > m || v.is_nan() { v } else { m })
    } else if p == 1.0 {
        line.fold(E::zero(), |s, v| s + v)
    } else if p == 2.0 {
        line.fold(E::zero(), |s, v| s + v * v).sqrt()
    } else {
        let pe = E::from_f64(p);
        line.fold(E::zero(), |s, v| s + v.powf(pe)).powf(pe.recip())
    }
}

/// The `p`-norm of each line along the middle axis of an `(outer, n, inner)` buffer, lines in
/// `outer * inner` order.
pub fn lp_norm_lines<E: Element>(x: &[E], [outer, n, inner]: [usize; 3], p: f64) -> Vec<E> {
    (0..outer * inner)
        .map(|l| {
            let (o, i) = (l / inner, l % inner);
            lp_norm((0..n).map(|j| x[(o * n + j) * inner + i]), p)
        })
        .collect()
}

/// `d norm / d v` for an entry `v` of a line whose `p`-norm is `norm`: zero at a zero norm and
/// for `p = 0` (as PyTorch's), `sign(v)` for `p = 1` (zero at 0), the sign at the largest
/// `|v|` (every one of ties) for `p = inf`, `sign(v) (|v| / norm)^(p - 1)` otherwise.
pub fn lp_norm_grad<E: Element>(v: E, norm: E, p: f64) -> E {
    if norm == E::zero() || p == 0.0 {
        E::zero()
    } else if p.is_infinite() {
        if v.abs() == norm {
            v.signum()
        } else {
            E::zero()
        }
    } else if p == 1.0 {
        if v == E::zero() {
            E::zero()
        } else {
            v.signum()
        }
    } else if p == 2.0 {
        v / norm
    } else {
        v.signum() * (v.abs() / norm).powf(E::from_f64(p - 1.0))
    }
}

/// Runs `f(row, out_row)` for each `width`-long row of `out`, across the pool when the work
/// (`work_per_row` per row) is worth it.
fn each_row<E: Element>(
    out: &mut [E],
    width: usize,
    work_per_row: usize,
    f: impl Fn(usize, &mut [E]) + Sync,
) {
    if width == 0 {
        return;
    }
    let rows = out.len() / width;
    if rows > 1 && rows.saturating_mul(work_per_row) >= SPLIT_WORK && super::may_split() {
        out.par_chunks_mut(width)
            .enumerate()
            .for_each(|(r, o)| super::as_task(|| f(r, o)));
    } else {
        out.chunks_mut(width).enumerate().for_each(|(r, o)| f(r, o));
    }
}

/// Lanes of the sums of [`dist`] for `p` 1 and 2: independent partial sums let the compiler
/// keep them in vector registers (one running sum is a chain it must not reorder).
const LANES: usize = 8;

/// `sum f(a_i - b_i)` over eight interleaved partial sums, then the lanes in order.
fn lane_sum<E: Element>(a: &[E], b: &[E], f: impl Fn(E) -> E) -> E {
    let mut acc = [E::zero(); LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = ac.remainder().iter().zip(bc.remainder());
    for (u, v) in ac.zip(bc) {
        for k in 0..LANES {
            acc[k] = acc[k] + f(u[k] - v[k]);
        }
    }
    tail.fold(acc.iter().fold(E::zero(), |s, &v| s + v), |s, (&u, &v)| {
        s + f(u - v)
    })
}

/// The distance between `a` and `b` (equal lengths).
fn dist<E: Element>(a: &[E], b: &[E], p: f64) -> E {
    if p == 1.0 {
        lane_sum(a, b, |d| d.abs())
    } else if p == 2.0 {
        lane_sum(a, b, |d| d * d).sqrt()
    } else {
        lp_norm(a.iter().zip(b).map(|(&u, &v)| u - v), p)
    }
}

/// Adds `scale * d dist(a, b) / d a` to `acc`, where `d` is that distance.
fn add_dist_grad<E: Element>(acc: &mut [E], a: &[E], b: &[E], d: E, scale: E, p: f64) {
    if scale == E::zero() {
        return;
    }
    for ((s, &u), &v) in acc.iter_mut().zip(a).zip(b) {
        *s = *s + scale * lp_norm_grad(u - v, d, p);
    }
}

/// For each line along the middle axis of `(outer, n, inner)` buffers `a` and `b`: the norms
/// `|a|`, `|b|`, and the cosine `sum(a b) / (max(|a|, eps) max(|b|, eps))`, each side divided
/// by its clamped norm before the product (as PyTorch's `cosine_similarity`, so the result
/// stays in `[-1, 1]`). Lines in `outer * inner` order.
pub fn cosine_lines<E: Element>(
    a: &[E],
    b: &[E],
    [outer, n, inner]: [usize; 3],
    eps: E,
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let lines = outer * inner;
    let (mut n1, mut n2, mut y) = (
        Vec::with_capacity(lines),
        Vec::with_capacity(lines),
        Vec::with_capacity(lines),
    );
    for l in 0..lines {
        let (o, i) = (l / inner, l % inner);
        let at = |j: usize| (o * n + j) * inner + i;
        let norm = |x: &[E]| {
            (0..n)
                .map(|j| x[at(j)] * x[at(j)])
                .fold(E::zero(), |s, v| s + v)
                .sqrt()
        };
        let (na, nb) = (norm(a), norm(b));
        let (ca, cb) = (na.max(eps), nb.max(eps));
        let dot = (0..n).fold(E::zero(), |s, j| s + (a[at(j)] / ca) * (b[at(j)] / cb));
        n1.push(na);
        n2.push(nb);
        y.push(dot);
    }
    (n1, n2, y)
}

/// The geometry of `cdist`: `batch` pairs of sets, `p_rows` rows against `r_rows` rows, each
/// `m` long.
#[derive(Clone, Copy, Debug)]
pub struct CdistDims {
    /// Pairs of sets.
    pub batch: usize,
    /// Rows of the first set.
    pub p_rows: usize,
    /// Rows of the second set.
    pub r_rows: usize,
    /// Length of a row.
    pub m: usize,
}

/// `y[b, i, j] = ||x1[b, i] - x2[b, j]||_p`: `(batch, p_rows, m)` against `(batch, r_rows, m)`,
/// into `(batch, p_rows, r_rows)`.
pub fn cdist<E: Element>(x1: &[E], x2: &[E], g: CdistDims, p: f64) -> Vec<E> {
    let CdistDims {
        p_rows, r_rows, m, ..
    } = g;
    let mut y = super::zeros(g.batch * p_rows * r_rows);
    each_row(&mut y, r_rows, r_rows * m, |row, out| {
        let b = row / p_rows;
        let a = &x1[row * m..][..m];
        for (j, o) in out.iter_mut().enumerate() {
            *o = dist(a, &x2[(b * r_rows + j) * m..][..m], p);
        }
    });
    y
}

/// The adjoint of [`cdist`] given its output `y` and upstream gradient `g`: adds into the
/// gradients of `x1` and `x2` that are asked for.
pub fn cdist_backward<E: Element>(
    [x1, x2]: [&[E]; 2],
    y: &[E],
    grad: &[E],
    dims: CdistDims,
    p: f64,
    gx1: Option<&mut [E]>,
    gx2: Option<&mut [E]>,
) {
    let CdistDims {
        p_rows, r_rows, m, ..
    } = dims;
    if let Some(gx1) = gx1 {
        each_row(gx1, m, r_rows * m, |row, acc| {
            let b = row / p_rows;
            let a = &x1[row * m..][..m];
            for j in 0..r_rows {
                let at = row * r_rows + j;
                let other = &x2[(b * r_rows + j) * m..][..m];
                add_dist_grad(acc, a, other, y[at], grad[at], p);
            }
        });
    }
    if let Some(gx2) = gx2 {
        each_row(gx2, m, p_rows * m, |row, acc| {
            let (b, j) = (row / r_rows, row % r_rows);
            let a = &x2[row * m..][..m];
            for i in 0..p_rows {
                let at = (b * p_rows + i) * r_rows + j;
                let other = &x1[(b * p_rows + i) * m..][..m];
                add_dist_grad(acc, a, other, y[at], grad[at], p);
            }
        });
    }
}

/// Where the distance between rows `i < j` of `n` sits in [`pdist`]'s output (row-major upper
/// triangle, as PyTorch's).
fn pair_index(n: usize, i: usize, j: usize) -> usize {
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

/// The distances between every two of the `n` rows of `x` (each `m` long), pairs `(i, j)` with
/// `i < j` in row-major order: `n (n - 1) / 2` values.
pub fn pdist<E: Element>(x: &[E], n: usize, m: usize, p: f64) -> Vec<E> {
    let mut y = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        let a = &x[i * m..][..m];
        for j in i + 1..n {
            y.push(dist(a, &x[j * m..][..m], p));
        }
    }
    y
}

/// The adjoint of [`pdist`] given its output `y` and upstream gradient `g`: each row gathers
/// the gradient of every distance it takes part in.
pub fn pdist_backward<E: Element>(
    x: &[E],
    y: &[E],
    grad: &[E],
    n: usize,
    m: usize,
    p: f64,
    gx: &mut [E],
) {
    each_row(gx, m, n * m, |i, acc| {
        let a = &x[i * m..][..m];
        for j in (0..n).filter(|&j| j != i) {
            let at = pair_index(n, i.min(j), i.max(j));
            add_dist_grad(acc, a, &x[j * m..][..m], y[at], grad[at], p);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::central_difference as numeric;

    const ODD: [usize; 5] = [1, 7, 15, 17, 33];
    const PS: [f64; 6] = [0.0, 1.0, 1.5, 2.0, 3.0, f64::INFINITY];

    /// Values without repeats, so no two rows coincide (where a distance has a kink).
    fn vals(n: usize, salt: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7 + salt) as f64 * 0.37).sin() * 1.5)
            .collect()
    }

    /// The definition, written out for one pair of rows.
    fn reference(a: &[f64], b: &[f64], p: f64) -> f64 {
        let d: Vec<f64> = a.iter().zip(b).map(|(u, v)| (u - v).abs()).collect();
        if p == 0.0 {
            d.iter().filter(|&&v| v != 0.0).count() as f64
        } else if p.is_infinite() {
            d.iter().cloned().fold(0.0, f64::max)
        } else {
            d.iter().map(|v| v.powf(p)).sum::<f64>().powf(1.0 / p)
        }
    }

    #[test]
    fn cdist_and_its_adjoint_match_the_definition_on_odd_sizes() {
        for &pr in &ODD[..3] {
            for &rr in &ODD[..4] {
                for &m in &ODD {
                    for &p in &PS {
                        let dims = CdistDims {
                            batch: 2,
                            p_rows: pr,
                            r_rows: rr,
                            m,
                        };
                        let (x1, x2) = (vals(2 * pr * m, 1), vals(2 * rr * m, 5));
                        let y = cdist(&x1, &x2, dims, p);
                        for b in 0..2 {
                            for i in 0..pr {
                                for j in 0..rr {
                                    let want = reference(
                                        &x1[(b * pr + i) * m..][..m],
                                        &x2[(b * rr + j) * m..][..m],
                                        p,
                                    );
                                    let got = y[(b * pr + i) * rr + j];
                                    assert!((got - want).abs() <= 1e-12 * want.max(1.0));
                                }
                            }
                        }
                        // the adjoint against the forward: <g, J dx> summed over all outputs
                        // equals <J^T g, dx>, checked per entry with the all-ones g at p = 2
                        // where every distance here is differentiable.
                        if p == 2.0 && pr * rr * m <= 7 * 15 * 17 {
                            let g = vec![1.0; y.len()];
                            let (mut g1, mut g2) = (vec![0.0; x1.len()], vec![0.0; x2.len()]);
                            cdist_backward(
                                [&x1, &x2],
                                &y,
                                &g,
                                dims,
                                p,
                                Some(&mut g1),
                                Some(&mut g2),
                            );
                            let total1 = |v: &[f64]| cdist(v, &x2, dims, p).iter().sum::<f64>();
                            let total2 = |v: &[f64]| cdist(&x1, v, dims, p).iter().sum::<f64>();
                            for k in [0, x1.len() / 2, x1.len() - 1] {
                                assert!((g1[k] - numeric(total1, &x1, k)).abs() < 1e-5);
                            }
                            for k in [0, x2.len() / 2, x2.len() - 1] {
                                assert!((g2[k] - numeric(total2, &x2, k)).abs() < 1e-5);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pdist_and_its_adjoint_match_the_definition_on_odd_sizes() {
        for &n in &ODD {
            for &m in &ODD[..4] {
                for &p in &PS {
                    let x = vals(n * m, 3);
                    let y = pdist(&x, n, m, p);
                    assert_eq!(y.len(), n * (n - 1) / 2);
                    let mut k = 0;
                    for i in 0..n {
                        for j in i + 1..n {
                            let want = reference(&x[i * m..][..m], &x[j * m..][..m], p);
                            assert!((y[k] - want).abs() <= 1e-12 * want.max(1.0));
                            assert_eq!(pair_index(n, i, j), k);
                            k += 1;
                        }
                    }
                    if p == 3.0 && n > 1 {
                        let g: Vec<f64> = (0..y.len()).map(|k| 0.5 + k as f64 * 0.1).collect();
                        let mut gx = vec![0.0; x.len()];
                        pdist_backward(&x, &y, &g, n, m, p, &mut gx);
                        let total = |v: &[f64]| {
                            pdist(v, n, m, p)
                                .iter()
                                .zip(&g)
                                .map(|(a, b)| a * b)
                                .sum::<f64>()
                        };
                        for k in [0, x.len() / 2, x.len() - 1] {
                            assert!((gx[k] - numeric(total, &x, k)).abs() < 1e-5);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cosine_lines_match_the_definition_on_odd_sizes() {
        for &outer in &ODD[..3] {
            for &n in &ODD {
                for &inner in &ODD[..3] {
                    let (a, b) = (vals(outer * n * inner, 2), vals(outer * n * inner, 9));
                    let (na, nb, y) = cosine_lines(&a, &b, [outer, n, inner], 1e-8);
                    for o in 0..outer {
                        for i in 0..inner {
                            let line = |x: &[f64]| -> Vec<f64> {
                                (0..n).map(|j| x[(o * n + j) * inner + i]).collect()
                            };
                            let (u, v) = (line(&a), line(&b));
                            let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
                            let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                            let dot: f64 = u.iter().zip(&v).map(|(x, y)| x * y).sum();
                            let l = o * inner + i;
                            assert!((na[l] - nu).abs() < 1e-12 && (nb[l] - nv).abs() < 1e-12);
                            assert!((y[l] - dot / (nu * nv)).abs() < 1e-12);
                        }
                    }
                }
            }
        }
        // a zero line: its norm clamps at eps, the cosine is 0
        let (_, _, y) = cosine_lines(&[0.0, 0.0], &[1.0, 2.0], [1, 2, 1], 1e-8);
        assert_eq!(y, [0.0]);
    }

    #[test]
    fn norms_of_lines_match_the_definition_on_odd_sizes() {
        for &outer in &ODD[..3] {
            for &n in &ODD {
                for &inner in &ODD[..3] {
                    let x = vals(outer * n * inner, 4);
                    for &p in &PS {
                        let y = lp_norm_lines(&x, [outer, n, inner], p);
                        for o in 0..outer {
                            for i in 0..inner {
                                let line: Vec<f64> =
                                    (0..n).map(|j| x[(o * n + j) * inner + i]).collect();
                                let want = reference(&line, &vec![0.0; n], p);
                                let got = y[o * inner + i];
                                assert!((got - want).abs() <= 1e-12 * want.max(1.0));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_norm_gradient_is_zero_where_pytorch_makes_it_zero() {
        assert_eq!(lp_norm_grad(0.0, 0.0, 2.0), 0.0);
        assert_eq!(lp_norm_grad(3.0, 5.0, 0.0), 0.0);
        assert_eq!(lp_norm_grad(0.0, 5.0, 1.0), 0.0);
        assert_eq!(lp_norm_grad(-5.0, 5.0, f64::INFINITY), -1.0);
        assert_eq!(lp_norm_grad(4.0, 5.0, f64::INFINITY), 0.0);
        assert!((lp_norm_grad(3.0f64, 5.0, 2.0) - 0.6).abs() < 1e-15);
    }
}
