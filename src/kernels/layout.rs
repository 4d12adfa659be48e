//! Moving elements: permuting axes, concatenating and splitting along an axis, repeating over
//! leading dimensions and summing back; and the 4 x 4 transpose that the GEMM's packing and the
//! direct convolution's weight gradient both use.

use crate::element::Element;

/// Writes the axes permutation of `src` (row-major with dims `dims`) into `dst`: output axis
/// `k` is input axis `axes[k]`.
///
/// # Panics
/// If `axes` is not a permutation of `0..dims.len()` or the lengths disagree.
pub fn permute<E: Copy>(src: &[E], dims: &[usize], axes: &[usize], dst: &mut [E]) {
    let rank = dims.len();
    assert_eq!(axes.len(), rank, "permute: axes and dims differ in length");
    let numel: usize = dims.iter().product();
    assert!(src.len() == numel && dst.len() == numel, "permute: lengths");
    let mut seen = [false; 8];
    for &a in axes {
        assert!(
            a < rank && !seen[a],
            "permute: {axes:?} is not a permutation"
        );
        seen[a] = true;
    }
    if numel == 0 {
        return;
    }
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * dims[i + 1];
    }
    let out_dims: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
    let strides: Vec<usize> = axes.iter().map(|&a| in_strides[a]).collect();
    if rank == 0 {
        dst[0] = src[0];
        return;
    }
    // Walk the output in order; the innermost output axis is a strided run of the input.
    let inner = out_dims[rank - 1];
    let inner_stride = strides[rank - 1];
    let mut idx = vec![0usize; rank];
    let mut o = 0;
    while o < numel {
        let base: usize = (0..rank - 1).map(|k| idx[k] * strides[k]).sum();
        for (j, d) in dst[o..o + inner].iter_mut().enumerate() {
            *d = src[base + j * inner_stride];
        }
        o += inner;
        for k in (0..rank - 1).rev() {
            idx[k] += 1;
            if idx[k] < out_dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// Concatenates `a` and `b` along an axis: both are `outer` blocks, of `a_inner` and `b_inner`
/// contiguous elements each (the axis length times the trailing dims).
pub fn concat<E: Copy>(a: &[E], b: &[E], outer: usize, a_inner: usize, b_inner: usize) -> Vec<E> {
    assert!(
        a.len() == outer * a_inner && b.len() == outer * b_inner,
        "concat: lengths"
    );
    let mut out = Vec::with_capacity(a.len() + b.len());
    for o in 0..outer {
        out.extend_from_slice(&a[o * a_inner..(o + 1) * a_inner]);
        out.extend_from_slice(&b[o * b_inner..(o + 1) * b_inner]);
    }
    out
}

/// The backward of [`concat()`]: adds the two parts of `g` into `ga` and `gb` (each optional).
pub fn concat_backward<E: Element>(
    g: &[E],
    mut ga: Option<&mut [E]>,
    mut gb: Option<&mut [E]>,
    outer: usize,
    a_inner: usize,
    b_inner: usize,
) {
    let row = a_inner + b_inner;
    for o in 0..outer {
        let part = &g[o * row..(o + 1) * row];
        if let Some(ga) = ga.as_deref_mut() {
            super::add_assign(&mut ga[o * a_inner..(o + 1) * a_inner], &part[..a_inner]);
        }
        if let Some(gb) = gb.as_deref_mut() {
            super::add_assign(&mut gb[o * b_inner..(o + 1) * b_inner], &part[a_inner..]);
        }
    }
}

/// `src` repeated `reps` times (broadcasting over leading dimensions).
pub fn repeat<E: Copy>(src: &[E], reps: usize) -> Vec<E> {
    let mut out = Vec::with_capacity(src.len() * reps);
    for _ in 0..reps {
        out.extend_from_slice(src);
    }
    out
}

/// `dst += sum of the `dst.len()`-long blocks of `src`` (the backward of [`repeat`]).
pub fn sum_blocks<E: Element>(src: &[E], dst: &mut [E]) {
    let n = dst.len();
    assert!(n == 0 || src.len().is_multiple_of(n), "sum_blocks: lengths");
    if n == 0 {
        return;
    }
    for block in src.chunks_exact(n) {
        super::add_assign(dst, block);
    }
}

/// The transpose of a 4 x 4 block given by its rows: SSE shuffles, which every x86-64 CPU
/// has (written out with a plain index loop, the compiler moved the sixteen values one by
/// one).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
pub(super) fn transpose4(r: [&[f32; 4]; 4]) -> [[f32; 4]; 4] {
    use std::arch::x86_64::*;
    let mut out = [[0.0f32; 4]; 4];
    // SAFETY: SSE is part of the x86-64 baseline; every pointer is to four `f32`s (loads and
    // stores are unaligned).
    unsafe {
        let (a, b) = (_mm_loadu_ps(r[0].as_ptr()), _mm_loadu_ps(r[1].as_ptr()));
        let (c, d) = (_mm_loadu_ps(r[2].as_ptr()), _mm_loadu_ps(r[3].as_ptr()));
        let (ab_lo, cd_lo) = (_mm_unpacklo_ps(a, b), _mm_unpacklo_ps(c, d));
        let (ab_hi, cd_hi) = (_mm_unpackhi_ps(a, b), _mm_unpackhi_ps(c, d));
        _mm_storeu_ps(out[0].as_mut_ptr(), _mm_movelh_ps(ab_lo, cd_lo));
        _mm_storeu_ps(out[1].as_mut_ptr(), _mm_movehl_ps(cd_lo, ab_lo));
        _mm_storeu_ps(out[2].as_mut_ptr(), _mm_movelh_ps(ab_hi, cd_hi));
        _mm_storeu_ps(out[3].as_mut_ptr(), _mm_movehl_ps(cd_hi, ab_hi));
    }
    out
}

/// The transpose of a 4 x 4 block given by its rows.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn transpose4(r: [&[f32; 4]; 4]) -> [[f32; 4]; 4] {
    std::array::from_fn(|i| std::array::from_fn(|j| r[j][i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose4_is_the_transpose() {
        let rows: [[f32; 4]; 4] =
            std::array::from_fn(|i| std::array::from_fn(|j| (4 * i + j) as f32));
        let got = transpose4(std::array::from_fn(|i| &rows[i]));
        assert_eq!(
            got,
            std::array::from_fn(|i| std::array::from_fn(|j| rows[j][i]))
        );
    }

    fn reference_permute(src: &[f64], dims: &[usize], axes: &[usize]) -> Vec<f64> {
        let rank = dims.len();
        let numel: usize = dims.iter().product();
        let out_dims: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
        let mut out = vec![0.0; numel];
        for (o, slot) in out.iter_mut().enumerate() {
            // unravel o in out_dims
            let mut rem = o;
            let mut oidx = vec![0; rank];
            for k in (0..rank).rev() {
                oidx[k] = rem % out_dims[k];
                rem /= out_dims[k];
            }
            let mut iidx = vec![0; rank];
            for k in 0..rank {
                iidx[axes[k]] = oidx[k];
            }
            let mut off = 0;
            for k in 0..rank {
                off = off * dims[k] + iidx[k];
            }
            *slot = src[off];
        }
        out
    }

    #[test]
    fn permute_matches_reference_on_odd_sizes() {
        let perms3 = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for dims in [[1, 7, 3], [15, 1, 17], [3, 5, 7], [33, 2, 1]] {
            let n: usize = dims.iter().product();
            let src: Vec<f64> = (0..n).map(|i| i as f64).collect();
            for p in perms3 {
                let mut dst = vec![0.0; n];
                permute(&src, &dims, &p, &mut dst);
                assert_eq!(dst, reference_permute(&src, &dims, &p), "{dims:?} {p:?}");
            }
        }
        let dims = [3, 1, 5, 2, 7];
        let n: usize = dims.iter().product();
        let src: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let p = [4, 2, 0, 3, 1];
        let mut dst = vec![0.0; n];
        permute(&src, &dims, &p, &mut dst);
        assert_eq!(dst, reference_permute(&src, &dims, &p));
    }

    #[test]
    fn concat_and_backward_round_trip() {
        for (outer, ai, bi) in [(1, 1, 1), (7, 3, 5), (15, 17, 1), (3, 33, 7)] {
            let a: Vec<f64> = (0..outer * ai).map(|i| i as f64).collect();
            let b: Vec<f64> = (0..outer * bi).map(|i| -(i as f64)).collect();
            let c = concat(&a, &b, outer, ai, bi);
            let mut ga = vec![0.0; a.len()];
            let mut gb = vec![0.0; b.len()];
            concat_backward(&c, Some(&mut ga), Some(&mut gb), outer, ai, bi);
            assert_eq!((ga, gb), (a, b));
        }
    }
}
