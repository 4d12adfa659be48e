//! Elementwise maps and their backward accumulations, split across threads above
//! [`PARALLEL_MIN_ELEMS`](super::PARALLEL_MIN_ELEMS) elements (on a pool of two threads or more); the sigmoid has a vector kernel per
//! instruction-set level.

use super::simd::{simd, Kernel, Level, Simd};
use super::{as_f32_mut, for_chunks, on_pool, TASK};
use crate::element::Element;
use rayon::prelude::*;

/// `f` applied to every element of `src`, into a new buffer.
pub fn map_into<A: Copy + Sync, B: Send>(src: &[A], f: impl Fn(A) -> B + Sync) -> Vec<B> {
    if on_pool(src.len()) {
        src.par_iter().with_min_len(TASK).map(|&x| f(x)).collect()
    } else {
        src.iter().map(|&x| f(x)).collect()
    }
}

/// `f` applied to every element of `buf`, in place.
pub fn map_inplace<E: Copy + Send>(buf: &mut [E], f: impl Fn(E) -> E + Sync) {
    for_chunks(buf, TASK, |_, c| c.iter_mut().for_each(|v| *v = f(*v)));
}

/// `1 / (1 + e^-x)` of every element of `buf`, in place, written as `e^x / (1 + e^x)` for
/// negative `x` so that tiny results do not round to zero. `f32` runs a vector at a time.
pub fn sigmoid_inplace<E: Element>(buf: &mut [E]) {
    match as_f32_mut(buf) {
        Some(b) => sigmoid_f32(None, b),
        None => map_inplace(buf, sigmoid_scalar),
    }
}

/// `dst = sigmoid(src)`, or in place when `src` is `None`, at the process's level.
fn sigmoid_f32(src: Option<&[f32]>, dst: &mut [f32]) {
    sigmoid_f32_at(super::simd::level(), src, dst)
}

/// [`sigmoid_f32`] at `level`: a vector at a time, tasks of `TASK` elements on the pool when
/// large. The last `len % LANES` values go through a zero-padded vector, so every value takes
/// the same instructions wherever it sits (a value's sigmoid does not depend on the batch it
/// came in); and since the kernel fuses no multiply-add, every level gives the same bits.
fn sigmoid_f32_at(level: Level, src: Option<&[f32]>, dst: &mut [f32]) {
    for_chunks(dst, TASK, |at, d| {
        let s = src.map(|s| &s[at..at + d.len()]);
        simd!(level, Sigmoid(s, d))
    });
}

/// `d = sigmoid(src)`, or in place where `src` is `None`.
struct Sigmoid<'a>(Option<&'a [f32]>, &'a mut [f32]);

impl<S: Simd> Kernel<S> for Sigmoid<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        sigmoid_run(s, self.0, self.1)
    }
}

#[inline(always)]
fn sigmoid_run<S: Simd>(s: S, src: Option<&[f32]>, d: &mut [f32]) {
    let cut = d.len() - d.len() % S::LANES;
    let (whole, rest) = d.split_at_mut(cut);
    // the two forms as two loops, so neither indexes `src` with a check per vector
    match src {
        Some(src) => {
            for (v, x) in whole
                .chunks_exact_mut(S::LANES)
                .zip(src.chunks_exact(S::LANES))
            {
                s.store(sigmoid_vec(s, s.load(x)), v);
            }
        }
        None => {
            for v in whole.chunks_exact_mut(S::LANES) {
                s.store(sigmoid_vec(s, s.load(v)), v);
            }
        }
    }
    if !rest.is_empty() {
        let mut buf = [0.0f32; 16];
        let x = src.map_or(&*rest, |src| &src[cut..]);
        buf[..rest.len()].copy_from_slice(x);
        s.store(sigmoid_vec(s, s.load(&buf)), &mut buf);
        rest.copy_from_slice(&buf[..rest.len()]);
    }
}

/// `tanh` of every element of `buf`, in place; `f32` runs a vector at a time ([`tanh_vec`]),
/// other types through their own `tanh`.
pub fn tanh_inplace<E: Element>(buf: &mut [E]) {
    match as_f32_mut(buf) {
        Some(b) => tanh_f32_at(super::simd::level(), b),
        None => map_inplace(buf, |x| x.tanh()),
    }
}

/// [`tanh_inplace`] for `f32` at `level`, as [`sigmoid_f32_at`] is laid out: the same bits at
/// every level and wherever a value sits.
fn tanh_f32_at(level: Level, dst: &mut [f32]) {
    for_chunks(dst, TASK, |_, d| simd!(level, Tanh(d)));
}

/// `d = tanh(d)`.
struct Tanh<'a>(&'a mut [f32]);

impl<S: Simd> Kernel<S> for Tanh<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let d = self.0;
        let cut = d.len() - d.len() % S::LANES;
        let (whole, rest) = d.split_at_mut(cut);
        for v in whole.chunks_exact_mut(S::LANES) {
            s.store(tanh_vec(s, s.load(v)), v);
        }
        if !rest.is_empty() {
            let mut buf = [0.0f32; 16];
            buf[..rest.len()].copy_from_slice(rest);
            s.store(tanh_vec(s, s.load(&buf)), &mut buf);
            rest.copy_from_slice(&buf[..rest.len()]);
        }
    }
}

/// The hyperbolic tangent of a vector, within 3 ulp: below `|x| = 0.625` the odd polynomial
/// of Cephes' `tanhf` (`x (1 + x^2 P(x^2))`), where `(1 - e) / (1 + e)` would lose the leading
/// digits of a small result to cancellation; above it `sign(x) (1 - e) / (1 + e)` with
/// `e = e^(-2|x|)` (at least 0.71 in the numerator, so no digits lost). No step fuses a
/// multiply and an add, so every level gives the same bits. NaN stays NaN, `-0.0` stays
/// `-0.0`, and the infinities give +-1.
#[inline(always)]
pub(crate) fn tanh_vec<S: Simd>(s: S, x: S::F) -> S::F {
    let one = s.splat(1.0);
    let a = s.abs(x);
    let e = exp_nonpositive(s, s.sub(s.zero(), s.add(a, a)));
    let big = s.div(s.sub(one, e), s.add(one, e));
    let big = s.select(s.ge(x, s.zero()), big, s.sub(s.zero(), big));
    let z = s.mul(x, x);
    let mut p = s.splat(-5.704_988_7e-3);
    for c in [2.063_909e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328e-1] {
        p = s.add(s.mul(p, z), s.splat(c));
    }
    // `x (1 + z P)`, not `x + x z P`: the sum's `-0.0 + 0.0` would lose the sign of `-0.0`
    let small = s.mul(x, s.add(one, s.mul(p, z)));
    // NaN compares false and takes `big`, which is NaN
    s.select(s.ge(s.splat(0.625), a), small, big)
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

/// `e^y` for `y <= 0` (NaN stays NaN): `y = n ln 2 + r` with `|r| <= ln 2 / 2` (the
/// reduction in two steps, Cody and Waite), a degree-6 polynomial for `e^r` (error within 2
/// ulp), and `p * 2^n` through the exponent bits (two normal powers of two, so that results
/// below 2^-126 round once into the subnormals). Below -104 the result is 0, as it rounds.
///
/// `n` is rounded by adding and taking away `1.5 * 2^23`, which leaves `n` in the low bits of
/// the sum. No step fuses a multiply and an add: the same operations, and so the same bits,
/// at every level.
#[inline(always)]
fn exp_nonpositive<S: Simd>(s: S, y: S::F) -> S::F {
    exp_steps::<S, false>(s, y)
}

/// [`exp_nonpositive`] with each multiply and add of the reduction and the polynomial fused
/// where the level has FMA: half the operations, each step rounding once (no less accurate,
/// within 2 ulp), the levels then agreeing to an ulp rather than bit for bit. For the
/// attention kernel, whose exponentials are as many as its multiply-adds over the head size.
#[inline(always)]
pub(super) fn exp_nonpositive_fused<S: Simd>(s: S, y: S::F) -> S::F {
    exp_steps::<S, true>(s, y)
}

/// The steps of [`exp_nonpositive`], `a * b + c` fused when `FUSED`.
#[inline(always)]
fn exp_steps<S: Simd, const FUSED: bool>(s: S, y: S::F) -> S::F {
    let madd = |a, b, c| {
        if FUSED {
            s.mul_add(a, b, c)
        } else {
            s.add(s.mul(a, b), c)
        }
    };
    // 1.5 * 2^23
    const SHIFTER: f32 = 12_582_912.0;
    // `max` gives its second operand where either is NaN: NaN stays
    let y = s.max(s.splat(-104.0), y);
    let t = madd(y, s.splat(std::f32::consts::LOG2_E), s.splat(SHIFTER));
    let n = s.sub(t, s.splat(SHIFTER));
    // `y - n c` as `(-n c) + y`: the same rounding
    let r = madd(n, s.splat(-0.693_359_4), y);
    let r = madd(n, s.splat(2.121_944_4e-4), r);
    let mut p = s.splat(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = madd(p, r, s.splat(c));
    }
    s.scale_pow2(p, t)
}

/// The sigmoid of a vector, with a true division (no approximate reciprocal).
#[inline(always)]
pub(crate) fn sigmoid_vec<S: Simd>(s: S, x: S::F) -> S::F {
    let e = exp_nonpositive(s, s.sub(s.zero(), s.abs(x)));
    let r = s.div(s.splat(1.0), s.add(s.splat(1.0), e));
    // x >= 0: 1 / (1 + e^-x); x < 0: e^x / (1 + e^x); NaN stays NaN
    s.select(s.ge(x, s.zero()), r, s.mul(e, r))
}

/// `f(a[i], b[i])` for every `i`, into `a` (in place), split across the pool when long.
///
/// # Panics
/// If the lengths differ.
pub fn zip_inplace<E: Copy + Send + Sync>(a: &mut [E], b: &[E], f: impl Fn(E, E) -> E + Sync) {
    assert_eq!(a.len(), b.len(), "zip_inplace: lengths differ");
    for_chunks(a, TASK, |at, a| {
        let n = a.len();
        for (x, &y) in a.iter_mut().zip(&b[at..at + n]) {
            *x = f(*x, y);
        }
    });
}

/// `f(a[i], b[i])` for every `i`, into a new buffer, split across the pool when long.
///
/// # Panics
/// If the lengths differ.
pub fn zip_into<E: Copy + Send + Sync>(a: &[E], b: &[E], f: impl Fn(E, E) -> E + Sync) -> Vec<E> {
    assert_eq!(a.len(), b.len(), "zip_into: lengths differ");
    if on_pool(a.len()) {
        (a.par_iter().zip(b).with_min_len(TASK))
            .map(|(&x, &y)| f(x, y))
            .collect()
    } else {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    }
}

/// `dst[i] += g[i] * d(x[i], y[i])`: the backward of a unary map `y = f(x)` with derivative
/// `d(x, y) = f'(x)`.
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

/// `dst[i] += g[i] * d(a[i], b[i])`: the backward of a binary map with respect to one operand,
/// split across the pool when long.
pub fn binary_backward<E: Element>(
    dst: &mut [E],
    a: &[E],
    b: &[E],
    g: &[E],
    d: impl Fn(E, E) -> E + Sync,
) {
    assert!(dst.len() == a.len() && a.len() == b.len() && b.len() == g.len());
    for_chunks(dst, TASK, |at, dst| {
        let n = dst.len();
        let (a, b, g) = (&a[at..at + n], &b[at..at + n], &g[at..at + n]);
        for (((v, &x), &y), &gv) in dst.iter_mut().zip(a).zip(b).zip(g) {
            *v = *v + gv * d(x, y);
        }
    });
}

/// `f(x[i], a[i], b[i])` for every `i`, into a new buffer.
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
    if on_pool(x.len()) {
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

/// `dst[i] += src[i]`, split across the pool when long.
pub fn add_assign<E: Element>(dst: &mut [E], src: &[E]) {
    assert_eq!(dst.len(), src.len(), "add_assign: lengths differ");
    for_chunks(dst, TASK, |at, d| {
        let s = &src[at..at + d.len()];
        // compiled at the run-time level: the widest vectors, where a closure compiled for
        // the baseline adds four values at a time (gradients are summed with this)
        super::simd::vectorised(
            #[inline(always)]
            || {
                for (x, &y) in d.iter_mut().zip(s) {
                    *x = *x + y;
                }
            },
        )
    });
}

/// PReLU over `(N, C, S)` data: `x` if positive, else `w[c] x` (one shared slope when
/// `w.len() == 1`, else one per channel). A plane of `S` values at a time, its slope looked
/// up once (not a division per value), at the run-time level.
pub fn prelu_forward<E: Element>(x: &[E], w: &[E], channels: usize, inner: usize) -> Vec<E> {
    let mut y = x.to_vec();
    super::simd::vectorised(
        #[inline(always)]
        || {
            for (r, plane) in y.chunks_mut(inner.max(1)).enumerate() {
                let k = w[prelu_slope(w, channels, r)];
                for v in plane {
                    *v = if *v > E::zero() { *v } else { k * *v };
                }
            }
        },
    );
    y
}

/// Which slope plane `r` takes (the one shared slope when `w.len() == 1`).
#[inline(always)]
fn prelu_slope<E>(w: &[E], channels: usize, r: usize) -> usize {
    if w.len() == 1 {
        0
    } else {
        r % channels
    }
}

/// The backward of [`prelu_forward`]: accumulates `dx` and `dw` (either optional), a plane at
/// a time as the forward, at the run-time level (where `mul_add` is an instruction, not a
/// library call per value).
pub fn prelu_backward<E: Element>(
    g: &[E],
    x: &[E],
    w: &[E],
    channels: usize,
    inner: usize,
    dx: Option<&mut [E]>,
    dw: Option<&mut [E]>,
) {
    let u = inner.max(1);
    super::simd::vectorised_mul_add(
        #[inline(always)]
        |ma| {
            if let Some(dx) = dx {
                for (r, ((d, gs), xs)) in dx
                    .chunks_mut(u)
                    .zip(g.chunks(u))
                    .zip(x.chunks(u))
                    .enumerate()
                {
                    let k = w[prelu_slope(w, channels, r)];
                    for ((d, &gv), &v) in d.iter_mut().zip(gs).zip(xs) {
                        let k = if v > E::zero() { E::one() } else { k };
                        *d = ma.mul_add(gv, k, *d);
                    }
                }
            }
            if let Some(dw) = dw {
                for (r, (gs, xs)) in g.chunks(u).zip(x.chunks(u)).enumerate() {
                    let s = prelu_slope(w, channels, r);
                    // in element order, the positive ones skipped
                    let mut acc = dw[s];
                    for (&gv, &v) in gs.iter().zip(xs) {
                        if v <= E::zero() {
                            acc = ma.mul_add(gv, v, acc);
                        }
                    }
                    dw[s] = acc;
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PReLU's planes against one value at a time (each value's slope from its index, the
    /// slope gradient summed in element order) on odd sizes, one shared slope and one per
    /// channel, at every level: the forward exactly, the gradients within a rounding (fused
    /// or not by level).
    #[test]
    fn prelu_planes_match_a_value_by_value_reference_at_every_level() {
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
        for (channels, inner) in [(1, 1), (3, 7), (7, 17), (5, 33), (2, 1)] {
            for shared in [true, false] {
                let len = 3 * channels * inner;
                let val = |i: usize, k: usize| ((i * k) % 23) as f32 * 0.37 - 4.1;
                let (x, g): (Vec<f32>, Vec<f32>) =
                    (0..len).map(|i| (val(i, 7), val(i, 11))).unzip();
                let w: Vec<f32> = (0..if shared { 1 } else { channels })
                    .map(|c| 0.1 + 0.2 * c as f32)
                    .collect();
                let s = |i: usize| if shared { 0 } else { (i / inner) % channels };
                let want_y: Vec<f32> = (0..len)
                    .map(|i| if x[i] > 0.0 { x[i] } else { w[s(i)] * x[i] })
                    .collect();
                let want_dx: Vec<f32> = (0..len)
                    .map(|i| if x[i] > 0.0 { g[i] } else { g[i] * w[s(i)] })
                    .collect();
                let mut want_dw = vec![0.0f32; w.len()];
                for i in (0..len).filter(|&i| x[i] <= 0.0) {
                    want_dw[s(i)] += g[i] * x[i];
                }
                for level in crate::kernels::simd::available_levels() {
                    crate::kernels::simd::at_level(level, || {
                        let y = prelu_forward(&x, &w, channels, inner);
                        assert_eq!(y, want_y, "{level:?} {channels}x{inner} shared={shared}");
                        let (mut dx, mut dw) = (vec![0.0f32; len], vec![0.0f32; w.len()]);
                        prelu_backward(&g, &x, &w, channels, inner, Some(&mut dx), Some(&mut dw));
                        let all =
                            |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(&p, &q)| close(p, q));
                        assert!(
                            all(&dx, &want_dx) && all(&dw, &want_dw),
                            "{level:?} {channels}x{inner}"
                        );
                    });
                }
            }
        }
    }

    const SIZES: [usize; 7] = [1, 3, 7, 15, 17, 33, 1025];

    /// `exp_nonpositive` of `ys` (at most 16) at `level`.
    fn exp_at(level: Level, ys: &[f32]) -> Vec<f32> {
        simd!(level, ExpEach(ys))
    }

    struct ExpEach<'a>(&'a [f32]);

    impl<S: Simd> Kernel<S> for ExpEach<'_> {
        type Out = Vec<f32>;
        fn run(self, s: S) -> Vec<f32> {
            let mut out = Vec::new();
            for y in self.0 {
                let mut buf = [*y; 16];
                s.store(exp_nonpositive(s, s.load(&buf)), &mut buf);
                out.push(buf[0]);
            }
            out
        }
    }

    /// The error of `got` against `want` in units of the last place of `want`'s `f32`
    /// neighbourhood (the subnormal spacing below 2^-126).
    fn ulps(got: f32, want: f64) -> f64 {
        let spacing = (want.abs() * f32::EPSILON as f64).max(f64::from(f32::from_bits(1)));
        (got as f64 - want).abs() / spacing
    }

    #[test]
    fn the_exp_is_within_two_ulp_on_its_whole_range_at_every_level() {
        // 0 down to -104 (below, e^y rounds to zero), on a grid and at the edges
        let ys: Vec<f32> = (0..=208_000)
            .map(|i| -(i as f32) * 0.000_5 - if i % 3 == 0 { 1e-7 } else { 0.0 })
            .chain([
                -87.0,
                -87.5,
                -103.0,
                -103.9,
                -104.0,
                -120.0,
                -1e30,
                f32::NEG_INFINITY,
            ])
            .collect();
        let mut first: Option<Vec<u32>> = None;
        for level in crate::kernels::simd::available_levels() {
            let got: Vec<f32> = ys.chunks(16).flat_map(|c| exp_at(level, c)).collect();
            let worst = ys
                .iter()
                .zip(&got)
                .map(|(&y, &g)| ulps(g, (y as f64).exp()))
                .fold(0.0f64, f64::max);
            assert!(worst <= 2.0, "{level}: worst error {worst} ulp");
            let nan = exp_at(level, &[f32::NAN, 0.0]);
            assert!(nan[0].is_nan() && nan[1] == 1.0, "{level}: {nan:?}");
            // no fused steps: every level gives the same bits
            let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
            match &first {
                Some(f) => assert!(f == &bits, "{level} differs from the baseline"),
                None => first = Some(bits),
            }
        }
    }

    #[test]
    fn the_f32_sigmoid_matches_f64_on_odd_sizes_and_extremes_at_every_level() {
        let special = [
            0.0,
            -0.0,
            1e-8,
            -1e-8,
            15.9,
            -15.9,
            -20.0,
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
        // the sizes run the vector body, the padded tail and (the largest) the thread pool
        for n in SIZES
            .into_iter()
            .chain([crate::kernels::PARALLEL_MIN_ELEMS + 17])
        {
            let x: Vec<f32> = (0..n)
                .map(|i| {
                    if i % 5 == 4 {
                        special[(i / 5) % special.len()]
                    } else {
                        ((i * 7919) % 4001) as f32 / 100.0 - 20.0
                    }
                })
                .collect();
            let mut first: Option<Vec<f32>> = None;
            for level in crate::kernels::simd::available_levels() {
                let mut y = vec![0.0f32; n];
                sigmoid_f32_at(level, Some(&x), &mut y);
                let mut inplace = x.clone();
                sigmoid_f32_at(level, None, &mut inplace);
                for (i, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
                    let want = sigmoid_scalar(xi as f64);
                    assert!(
                        ulps(yi, want) <= 3.0,
                        "{level}: sigmoid({xi}) = {yi}, want {want} (n = {n}, i = {i})"
                    );
                    assert_eq!(
                        inplace[i].to_bits(),
                        yi.to_bits(),
                        "in place differs at {i}"
                    );
                    // the same value alone (a batch of one) gives the same bits
                    let mut alone = [0.0f32];
                    sigmoid_f32_at(level, Some(&[xi]), &mut alone);
                    assert_eq!(
                        alone[0].to_bits(),
                        yi.to_bits(),
                        "{level}: position {i} of {n}"
                    );
                }
                match &first {
                    Some(f) => assert!(
                        f.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{level} differs from the baseline"
                    ),
                    None => first = Some(y),
                }
            }
        }
        let mut nan = [f32::NAN; 17];
        sigmoid_inplace(&mut nan);
        assert!(nan.iter().all(|v| v.is_nan()));
        // the values the AVX2 report named, through the public kernel at the process's level
        let mut v = [-20.0f32];
        sigmoid_inplace(&mut v);
        assert!(ulps(v[0], sigmoid_scalar(-20.0f64)) <= 3.0, "{}", v[0]);
    }

    #[test]
    fn the_f32_tanh_is_within_three_ulp_on_odd_sizes_and_extremes_at_every_level() {
        let special = [
            0.0,
            -0.0,
            1e-30,
            -1e-8,
            0.624_999_9,
            0.625,
            -0.625_000_1,
            9.0,
            -9.1,
            45.0,
            -89.0,
            1e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        // a fine grid through both branches, the specials, then odd sizes and the pool
        let grid: Vec<f32> = (-40_000..=40_000)
            .map(|i| i as f32 * 2.5e-4)
            .chain(special)
            .collect();
        for n in SIZES
            .into_iter()
            .chain([grid.len(), crate::kernels::PARALLEL_MIN_ELEMS + 17])
        {
            let x: Vec<f32> = (0..n).map(|i| grid[(i * 7919) % grid.len()]).collect();
            let mut first: Option<Vec<u32>> = None;
            for level in crate::kernels::simd::available_levels() {
                let mut y = x.clone();
                tanh_f32_at(level, &mut y);
                for (i, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
                    let want = (xi as f64).tanh();
                    assert!(
                        ulps(yi, want) <= 3.0,
                        "{level}: tanh({xi}) = {yi}, want {want} (n = {n}, i = {i})"
                    );
                    assert_eq!(yi.is_sign_negative(), xi.is_sign_negative(), "sign of {xi}");
                }
                let bits: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
                match &first {
                    Some(f) => assert!(f == &bits, "{level} differs from the baseline"),
                    None => first = Some(bits),
                }
            }
        }
        let mut nan = [f32::NAN; 5];
        tanh_inplace(&mut nan);
        assert!(nan.iter().all(|v| v.is_nan()));
        let mut wide = [0.3f64, -2.0];
        tanh_inplace(&mut wide);
        assert_eq!(wide, [0.3f64.tanh(), (-2.0f64).tanh()]);
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
        }
    }

    /// The binary maps and their backward, on a pool of three threads and long enough to be
    /// split, against a plain loop.
    #[test]
    fn binary_maps_split_across_the_pool_match_a_plain_loop() {
        let n = crate::kernels::PARALLEL_MIN_ELEMS + 3 * TASK + 17;
        let x: Vec<f32> = (0..n).map(|i| (i % 101) as f32 * 0.37 - 3.0).collect();
        let y: Vec<f32> = (0..n).map(|i| ((i % 7) as f32).sin()).collect();
        let g: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            let f = |a: f32, b: f32| a * b + 1.0;
            let want: Vec<f32> = x.iter().zip(&y).map(|(&a, &b)| f(a, b)).collect();
            assert_eq!(zip_into(&x, &y, f), want);
            let mut z = x.clone();
            zip_inplace(&mut z, &y, f);
            assert_eq!(z, want);
            let mut d = y.clone();
            binary_backward(&mut d, &x, &y, &g, |a, b| a - b);
            let want: Vec<f32> = (0..n).map(|i| y[i] + g[i] * (x[i] - y[i])).collect();
            assert_eq!(d, want);
        });
    }
}
