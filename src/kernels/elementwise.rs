//! Elementwise maps and their backward accumulations.

use crate::tensor::Element;

/// `f` applied to every element of `src`, into a new buffer.
///
/// ```
/// assert_eq!(stensor::kernels::map_into(&[1.0f32, 2.0], |x| x * 2.0), vec![2.0, 4.0]);
/// ```
pub fn map_into<A: Copy, B>(src: &[A], f: impl Fn(A) -> B) -> Vec<B> {
    src.iter().map(|&x| f(x)).collect()
}

/// `f` applied to every element of `buf`, in place.
///
/// ```
/// let mut v = vec![1.0f32, -2.0];
/// stensor::kernels::map_inplace(&mut v, |x| x.abs());
/// assert_eq!(v, vec![1.0, 2.0]);
/// ```
pub fn map_inplace<E: Copy>(buf: &mut [E], f: impl Fn(E) -> E) {
    for v in buf.iter_mut() {
        *v = f(*v);
    }
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
pub fn unary_backward<E: Element>(dst: &mut [E], x: &[E], y: &[E], g: &[E], d: impl Fn(E, E) -> E) {
    assert!(dst.len() == x.len() && x.len() == y.len() && y.len() == g.len());
    for i in 0..dst.len() {
        dst[i] = dst[i] + g[i] * d(x[i], y[i]);
    }
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
pub fn map3_into<E: Copy>(x: &[E], a: &[E], b: &[E], f: impl Fn(E, E, E) -> E) -> Vec<E> {
    assert!(
        x.len() == a.len() && a.len() == b.len(),
        "map3_into: lengths differ"
    );
    x.iter()
        .zip(a)
        .zip(b)
        .map(|((&x, &a), &b)| f(x, a, b))
        .collect()
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
