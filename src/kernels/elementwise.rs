//! Elementwise maps and their backward accumulations, split across threads above
//! [`PARALLEL_MIN_ELEMS`](super::PARALLEL_MIN_ELEMS) elements; the sigmoid has an `f32x16` kernel.

use super::{as_f32, as_f32_mut, for_chunks, PARALLEL_MIN_ELEMS, TASK};
use crate::tensor::Element;
use rayon::prelude::*;
use wide::f32x16;

/// `f` applied to every element of `src`, into a new buffer.
///
/// ```
/// assert_eq!(stensor::kernels::map_into(&[1.0f32, 2.0], |x| x * 2.0), vec![2.0, 4.0]);
/// ```
pub fn map_into<A: Copy + Sync, B: Send>(src: &[A], f: impl Fn(A) -> B + Sync) -> Vec<B> {
    if src.len() >= PARALLEL_MIN_ELEMS {
        src.par_iter().with_min_len(TASK).map(|&x| f(x)).collect()
    } else {
        src.iter().map(|&x| f(x)).collect()
    }
}

/// `f` applied to every element of `buf`, in place.
///
/// ```
/// let mut v = vec![1.0f32, -2.0];
/// stensor::kernels::map_inplace(&mut v, |x| x.abs());
/// assert_eq!(v, vec![1.0, 2.0]);
/// ```
pub fn map_inplace<E: Copy + Send>(buf: &mut [E], f: impl Fn(E) -> E + Sync) {
    for_chunks(buf, TASK, |_, c| c.iter_mut().for_each(|v| *v = f(*v)));
}

/// `1 / (1 + e^-x)` of every element of `buf`, in place, written as `e^x / (1 + e^x)` for
/// negative `x` so that tiny results do not round to zero. `f32` runs 16 lanes at a time.
///
/// ```
/// let mut v = vec![0.0f32, 100.0, -100.0];
/// stensor::kernels::sigmoid_inplace(&mut v);
/// assert_eq!(v[..2], [0.5, 1.0]);
/// assert!(v[2] > 0.0 && v[2] < 1e-43);
/// ```
pub fn sigmoid_inplace<E: Element>(buf: &mut [E]) {
    match as_f32_mut(buf) {
        Some(b) => sigmoid_f32(None, b),
        None => map_inplace(buf, sigmoid_scalar),
    }
}

/// `dst = sigmoid(src)` (see [`sigmoid_inplace`]).
///
/// ```
/// let mut y = vec![0.0f64; 2];
/// stensor::kernels::sigmoid_into(&[0.0, 1.0], &mut y);
/// assert_eq!(y[0], 0.5);
/// assert!((y[1] - 0.7310585786300049).abs() < 1e-15);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn sigmoid_into<E: Element>(src: &[E], dst: &mut [E]) {
    assert_eq!(src.len(), dst.len(), "sigmoid_into: lengths differ");
    if let (Some(s), Some(d)) = (as_f32(src), as_f32_mut(dst)) {
        return sigmoid_f32(Some(s), d);
    }
    for_chunks(dst, TASK, |at, d| {
        d.iter_mut()
            .zip(&src[at..])
            .for_each(|(d, &x)| *d = sigmoid_scalar(x))
    });
}

/// `dst = sigmoid(src)`, or in place when `src` is `None`: 16 lanes at a time, tasks of
/// `TASK` elements on the pool when large.
fn sigmoid_f32(src: Option<&[f32]>, dst: &mut [f32]) {
    let one = |v: &mut [f32], x: [f32; 16]| {
        v.copy_from_slice(sigmoid16(f32x16::from(x)).as_array());
    };
    for_chunks(dst, TASK, |at, d| {
        let (len, whole) = (d.len(), d.len() - d.len() % 16);
        let (d, tail) = d.split_at_mut(whole);
        // the two forms as two loops, so neither indexes `src` with a check per vector
        match src {
            Some(src) => {
                let s = &src[at..at + len];
                for (v, x) in d.chunks_exact_mut(16).zip(s.chunks_exact(16)) {
                    one(v, x.try_into().expect("16 lanes"));
                }
                for (v, &x) in tail.iter_mut().zip(&s[whole..]) {
                    *v = sigmoid_scalar(x);
                }
            }
            None => {
                for v in d.chunks_exact_mut(16) {
                    let x = (&*v).try_into().expect("16 lanes");
                    one(v, x);
                }
                for v in tail.iter_mut() {
                    *v = sigmoid_scalar(*v);
                }
            }
        }
    });
}

/// The sigmoid of one value, by the same formula as the vector kernel.
pub(crate) fn sigmoid_scalar<E: Element>(x: E) -> E {
    if x >= E::zero() {
        (E::one() + (-x).exp()).recip()
    } else {
        let e = x.exp();
        e / (E::one() + e)
    }
}

/// `e^y` for `y <= 0`: `y = n ln 2 + r` with `|r| <= ln 2 / 2`, a degree-6 polynomial for
/// `e^r` (error below 2 ulp), and `2^n` written into the exponent bits. Below -87 (where `2^n`
/// would leave the normal range) and for NaN the vector takes `wide`'s full `exp`.
///
/// `n` is rounded by adding and taking away `1.5 * 2^23`, which leaves `n` in the low bits of
/// the sum, so `2^n` is those bits plus the exponent bias, shifted into place: four vector
/// instructions where `round` and `round_int` took a score (the loop was bound by its
/// instruction count, about 60 per 16 values).
#[inline(always)]
fn exp_nonpositive(y: f32x16) -> f32x16 {
    // one compare: NaN is not >= -87
    if !y.simd_ge(f32x16::splat(-87.0)).all() {
        return y.exp();
    }
    const SHIFTER: f32 = 12_582_912.0; // 1.5 * 2^23
    let t = y.mul_add(
        f32x16::splat(std::f32::consts::LOG2_E),
        f32x16::splat(SHIFTER),
    );
    let n = t - f32x16::splat(SHIFTER);
    let r = n.mul_neg_add(f32x16::splat(0.693_359_4), y);
    let r = n.mul_neg_add(f32x16::splat(-2.121_944_4e-4), r);
    let mut p = f32x16::splat(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p.mul_add(r, f32x16::splat(c));
    }
    // the low bits of `t` are `n` (two's complement, -126 <= n <= 0 here); the bits above
    // them shift out
    let bits = (bytemuck::cast::<f32x16, wide::i32x16>(t) + wide::i32x16::splat(127)) << 23;
    p * bytemuck::cast::<wide::i32x16, f32x16>(bits)
}

#[inline(always)]
fn sigmoid16(x: f32x16) -> f32x16 {
    let e = exp_nonpositive(-x.abs());
    let r = (f32x16::ONE + e).recip();
    // x >= 0: 1 / (1 + e^-x); x < 0: e^x / (1 + e^x); NaN stays NaN
    x.simd_ge(f32x16::ZERO).select(r, e * r)
}

/// `f(a[i], b[i])` for every `i`, into `a` (in place).
///
/// ```
/// let mut a = vec![1.0f64, 2.0];
/// stensor::kernels::zip_inplace(&mut a, &[10.0, 20.0], |x, y| x + y);
/// assert_eq!(a, vec![11.0, 22.0]);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn zip_inplace<E: Copy>(a: &mut [E], b: &[E], f: impl Fn(E, E) -> E) {
    assert_eq!(a.len(), b.len(), "zip_inplace: lengths differ");
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

/// `f(a[i], b[i])` for every `i`, into a new buffer.
///
/// ```
/// assert_eq!(stensor::kernels::zip_into(&[1.0f32, 2.0], &[3.0, 4.0], |x, y| x * y), vec![3.0, 8.0]);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn zip_into<E: Copy>(a: &[E], b: &[E], f: impl Fn(E, E) -> E) -> Vec<E> {
    assert_eq!(a.len(), b.len(), "zip_into: lengths differ");
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

/// `dst[i] += g[i] * d(x[i], y[i])`: the backward of a unary map `y = f(x)` with derivative
/// `d(x, y) = f'(x)`.
///
/// ```
/// let mut gx = vec![0.0f64; 2];
/// // y = x^2, dy/dx = 2x
/// stensor::kernels::unary_backward(&mut gx, &[1.0, 3.0], &[1.0, 9.0], &[1.0, 0.5], |x, _| 2.0 * x);
/// assert_eq!(gx, vec![2.0, 3.0]);
/// ```
pub fn unary_backward<E: Element>(
    dst: &mut [E],
    x: &[E],
    y: &[E],
    g: &[E],
    d: impl Fn(E, E) -> E + Sync,
) {
    assert!(dst.len() == x.len() && x.len() == y.len() && y.len() == g.len());
    for_chunks(dst, TASK, |at, dst| {
        for (j, v) in dst.iter_mut().enumerate() {
            *v = *v + g[at + j] * d(x[at + j], y[at + j]);
        }
    });
}

/// `dst[i] += g[i] * d(a[i], b[i])`: the backward of a binary map with respect to one operand.
///
/// ```
/// let mut ga = vec![0.0f64; 2];
/// // y = a * b, dy/da = b
/// stensor::kernels::binary_backward(&mut ga, &[1.0, 2.0], &[5.0, 7.0], &[1.0, 1.0], |_, b| b);
/// assert_eq!(ga, vec![5.0, 7.0]);
/// ```
pub fn binary_backward<E: Element>(
    dst: &mut [E],
    a: &[E],
    b: &[E],
    g: &[E],
    d: impl Fn(E, E) -> E,
) {
    assert!(dst.len() == a.len() && a.len() == b.len() && b.len() == g.len());
    for i in 0..dst.len() {
        dst[i] = dst[i] + g[i] * d(a[i], b[i]);
    }
}

/// `f(x[i], a[i], b[i])` for every `i`, into a new buffer.
///
/// ```
/// let y = stensor::kernels::map3_into(&[1.0f32, 2.0], &[3.0, 4.0], &[5.0, 6.0], |x, a, b| x * a + b);
/// assert_eq!(y, vec![8.0, 14.0]);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn map3_into<E: Copy + Send + Sync>(
    x: &[E],
    a: &[E],
    b: &[E],
    f: impl Fn(E, E, E) -> E + Sync,
) -> Vec<E> {
    assert!(
        x.len() == a.len() && a.len() == b.len(),
        "map3_into: lengths differ"
    );
    if x.len() >= PARALLEL_MIN_ELEMS {
        (x, a, b)
            .into_par_iter()
            .with_min_len(TASK)
            .map(|(&x, &a, &b)| f(x, a, b))
            .collect()
    } else {
        x.iter()
            .zip(a)
            .zip(b)
            .map(|((&x, &a), &b)| f(x, a, b))
            .collect()
    }
}

/// `dst[i] += alpha * src[i]`.
///
/// ```
/// let mut d = vec![1.0f32, 1.0];
/// stensor::kernels::axpy(&mut d, 2.0, &[1.0, 3.0]);
/// assert_eq!(d, vec![3.0, 7.0]);
/// ```
pub fn axpy<E: Element>(dst: &mut [E], alpha: E, src: &[E]) {
    assert_eq!(dst.len(), src.len(), "axpy: lengths differ");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s.mul_add(alpha, *d);
    }
}

/// `dst[i] += src[i]`.
///
/// ```
/// let mut d = vec![1.0f64, 2.0];
/// stensor::kernels::add_assign(&mut d, &[0.5, 0.5]);
/// assert_eq!(d, vec![1.5, 2.5]);
/// ```
pub fn add_assign<E: Element>(dst: &mut [E], src: &[E]) {
    assert_eq!(dst.len(), src.len(), "add_assign: lengths differ");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = *d + s;
    }
}

/// PReLU over `(N, C, S)` data: `x` if positive, else `w[c] x` (one shared slope when
/// `w.len() == 1`, else one per channel).
///
/// ```
/// let y = stensor::kernels::prelu_forward(&[-1.0f32, 2.0, -3.0, 4.0], &[0.5, 0.1], 2, 1);
/// assert_eq!(y, vec![-0.5, 2.0, -1.5, 4.0]);
/// ```
pub fn prelu_forward<E: Element>(x: &[E], w: &[E], channels: usize, inner: usize) -> Vec<E> {
    let slope = |i: usize| {
        if w.len() == 1 {
            w[0]
        } else {
            w[(i / inner.max(1)) % channels]
        }
    };
    x.iter()
        .enumerate()
        .map(|(i, &v)| if v > E::zero() { v } else { slope(i) * v })
        .collect()
}

/// The backward of [`prelu_forward`]: accumulates `dx` and `dw` (either optional).
///
/// ```
/// let (mut dx, mut dw) = (vec![0.0f64; 2], vec![0.0f64; 1]);
/// stensor::kernels::prelu_backward(&[1.0, 1.0], &[-2.0, 3.0], &[0.25], 1, 2, Some(&mut dx), Some(&mut dw));
/// assert_eq!((dx, dw), (vec![0.25, 1.0], vec![-2.0]));
/// ```
pub fn prelu_backward<E: Element>(
    g: &[E],
    x: &[E],
    w: &[E],
    channels: usize,
    inner: usize,
    dx: Option<&mut [E]>,
    dw: Option<&mut [E]>,
) {
    let idx = |i: usize| {
        if w.len() == 1 {
            0
        } else {
            (i / inner.max(1)) % channels
        }
    };
    if let Some(dx) = dx {
        for (i, d) in dx.iter_mut().enumerate() {
            let k = if x[i] > E::zero() {
                E::one()
            } else {
                w[idx(i)]
            };
            *d = g[i].mul_add(k, *d);
        }
    }
    if let Some(dw) = dw {
        for (i, &v) in x.iter().enumerate() {
            if v <= E::zero() {
                let s = idx(i);
                dw[s] = g[i].mul_add(v, dw[s]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 7] = [1, 3, 7, 15, 17, 33, 1025];

    #[test]
    fn the_fast_exp_is_within_two_ulp_on_its_whole_range() {
        let mut worst = 0.0f64;
        // the fast range, 0 down to -87 (below, results leave the normal range)
        for i in 0..=174_000 {
            let y = -(i as f32) * 0.000_5 - if i % 3 == 0 { 1e-7 } else { 0.0 };
            let v = f32x16::splat(y);
            let got = exp_nonpositive(v).as_array()[0] as f64;
            let want = (y as f64).exp();
            worst = worst.max((got - want).abs() / (want * f32::EPSILON as f64));
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        // below the fast range and NaN: `wide`'s exp
        let v = exp_nonpositive(f32x16::from([
            -100.0,
            f32::NAN,
            0.0,
            -1.0,
            -2.0,
            -3.0,
            -4.0,
            -5.0,
            -6.0,
            -7.0,
            -8.0,
            -9.0,
            -10.0,
            -11.0,
            -12.0,
            -88.0,
        ]));
        assert!(v.as_array()[0] > 0.0 && v.as_array()[0] < 1e-43);
        assert!(v.as_array()[1].is_nan());
        assert_eq!(v.as_array()[2], 1.0);
    }

    #[test]
    fn the_f32_sigmoid_matches_f64_on_odd_sizes_and_extremes() {
        let special = [
            0.0,
            -0.0,
            1e-8,
            -1e-8,
            15.9,
            -15.9,
            88.0,
            -88.0,
            89.0,
            -89.0,
            -103.0,
            -104.0,
            1e30,
            -1e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        // the sizes run the 16-lane body, the scalar tail and (the largest) the thread pool
        for n in SIZES.into_iter().chain([PARALLEL_MIN_ELEMS + 17]) {
            let x: Vec<f32> = (0..n)
                .map(|i| {
                    if i % 5 == 4 {
                        special[(i / 5) % special.len()]
                    } else {
                        ((i * 7919) % 4001) as f32 / 100.0 - 20.0
                    }
                })
                .collect();
            let mut y = vec![0.0f32; n];
            sigmoid_into(&x, &mut y);
            let mut inplace = x.clone();
            sigmoid_inplace(&mut inplace);
            for (i, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
                let want = sigmoid_scalar(xi as f64);
                let err = (yi as f64 - want).abs();
                assert!(
                    err <= 4.0 * f32::EPSILON as f64 * want || err < 1e-44,
                    "sigmoid({xi}) = {yi}, want {want} (n = {n}, i = {i})"
                );
                assert_eq!(
                    inplace[i].to_bits(),
                    yi.to_bits(),
                    "in place differs at {i}"
                );
            }
        }
        let mut nan = [f32::NAN; 17];
        sigmoid_inplace(&mut nan);
        assert!(nan.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn maps_match_a_plain_loop() {
        for n in SIZES {
            let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 3.0).collect();
            let y: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
            let mut expect = Vec::new();
            for i in 0..n {
                expect.push(x[i] * y[i] + 1.0);
            }
            assert_eq!(zip_into(&x, &y, |a, b| a * b + 1.0), expect);
            let mut z = x.clone();
            zip_inplace(&mut z, &y, |a, b| a * b + 1.0);
            assert_eq!(z, expect);
            let mut d = vec![1.0f32; n];
            axpy(&mut d, 0.5, &x);
            for i in 0..n {
                assert!((d[i] - (1.0 + 0.5 * x[i])).abs() < 1e-6);
            }
        }
    }
}
