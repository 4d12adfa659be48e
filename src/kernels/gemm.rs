//! Matrix multiplication: `C (+)= op(A) op(B)` for row-major matrices, `op` the identity or the
//! transpose.
//!
//! `f32` runs the BLIS-structured SIMD kernel of `gemm_f32`. Other element types (`f64`, used
//! by gradient checks) take a correct, cache-blocked generic path: four rows of `C` at a time
//! sweep a `KC x NC` block of `B` that stays in L2, so each loaded row of `B` feeds four fused
//! multiply-adds, and the inner loop runs over contiguous memory the compiler vectorises.

use crate::element::Element;
use rayon::prelude::*;
use std::sync::{Arc, Mutex, Weak};

const KC: usize = 256;
const NC: usize = 512;
const MR: usize = 4;
/// Below this many multiply-adds a product stays on one thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 22;

/// Whether an operand is used as stored or transposed.
///
/// ```
/// use stensor::{gemm, Trans};
/// // [1 2; 3 4]^T [1; 1] = [4; 6]
/// let mut c = [0.0f64; 2];
/// gemm(2, 2, 1, &[1.0, 2.0, 3.0, 4.0], Trans::Yes, &[1.0, 1.0], Trans::No, &mut c, false);
/// assert_eq!(c, [4.0, 6.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored.
    No,
    /// Use its transpose.
    Yes,
}

/// `C = op(A) op(B)` (or `C += ...` when `accumulate`), where `op(A)` is `m x k`, `op(B)` is
/// `k x n` and `C` is `m x n`, all row-major. A stored transposed (`Trans::Yes`) is `k x m`;
/// B stored transposed is `n x k`.
///
/// ```
/// use stensor::{gemm, Trans};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // 2x2
/// let b = [5.0f32, 6.0, 7.0, 8.0]; // 2x2
/// let mut c = [0.0f32; 4];
/// gemm(2, 2, 2, &a, Trans::No, &b, Trans::No, &mut c, false);
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// gemm(2, 2, 2, &a, Trans::Yes, &b, Trans::No, &mut c, false);
/// assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
/// ```
///
/// # Panics
/// If a slice's length is not the product of its dimensions.
#[allow(clippy::too_many_arguments)]
pub fn gemm<E: Element>(
    m: usize,
    k: usize,
    n: usize,
    a: &[E],
    ta: Trans,
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    assert_eq!(
        a.len(),
        m * k,
        "gemm: A has {} elements, not {m}x{k}",
        a.len()
    );
    assert_eq!(
        b.len(),
        k * n,
        "gemm: B has {} elements, not {k}x{n}",
        b.len()
    );
    assert_eq!(
        c.len(),
        m * n,
        "gemm: C has {} elements, not {m}x{n}",
        c.len()
    );
    if m == 0 || n == 0 || k == 0 {
        if !accumulate {
            c.fill(E::zero());
        }
        return;
    }
    if let (Some(a), Some(b)) = (E::as_vector(a), E::as_vector(b)) {
        if let Some(c) = E::as_vector_mut(c) {
            let level = super::simd::level();
            return super::gemm_f32(level, m, k, n, a, ta, b, tb, c, !accumulate, None);
        }
    }
    if !accumulate {
        c.fill(E::zero());
    }
    // The generic path (f64): bring both operands to row-major op(A) (m x k) and op(B) (k x n). A transposed copy costs
    // O(mk) against the product's O(mkn).
    let a_rm;
    let a = match ta {
        Trans::No => a,
        Trans::Yes => {
            a_rm = transpose(a, k, m);
            &a_rm[..]
        }
    };
    let b_rm;
    let b = match tb {
        Trans::No => b,
        Trans::Yes => {
            b_rm = transpose(b, n, k);
            &b_rm[..]
        }
    };
    if m * n * k >= PARALLEL_MIN_FLOPS && m >= 2 * MR && super::may_split() {
        let rows_per_task = (m.div_ceil(rayon::current_num_threads() * 4)).next_multiple_of(MR);
        c.par_chunks_mut(rows_per_task * n)
            .enumerate()
            .for_each(|(t, c_rows)| {
                let r0 = t * rows_per_task;
                let rows = c_rows.len() / n;
                gemm_rows(&a[r0 * k..(r0 + rows) * k], b, c_rows, rows, k, n);
            });
    } else {
        gemm_rows(a, b, c, m, k, n);
    }
}

/// `B` of many products `C (+)= op(A) op(B)` with the same `B` and `A`s of `m` rows (a
/// recurrent layer's hidden weights, one product per step), packed once for the `f32` kernel
/// where its products would pack it (not at one row, nor for other element types).
pub(crate) struct PreparedB<'a, E> {
    k: usize,
    n: usize,
    b: &'a [E],
    tb: Trans,
    packed: Option<super::gemm_f32::PackedB>,
}

impl<'a, E: Element> PreparedB<'a, E> {
    /// `op(B)` (`k x n`; `B` stored `k x n`, or `n x k` when `tb`) for products of `m`-row
    /// `A`s used as stored.
    ///
    /// # Panics
    /// If `b` is not `k x n`.
    pub(crate) fn new(m: usize, k: usize, n: usize, b: &'a [E], tb: Trans) -> Self {
        assert_eq!(
            b.len(),
            k * n,
            "gemm: B has {} elements, not {k}x{n}",
            b.len()
        );
        let level = super::simd::level();
        let packed = E::as_vector(b)
            .filter(|_| k > 0 && n > 0 && super::gemm_f32::packs_b(level, m, Trans::No))
            .map(|b| super::gemm_f32::pack_whole_b(level, m, k, n, b, tb));
        PreparedB {
            k,
            n,
            b,
            tb,
            packed,
        }
    }

    /// [`gemm`]`(m, k, n, a, Trans::No, b, tb, c, accumulate)` with this `B`.
    ///
    /// # Panics
    /// If `a` is not `m x k` or `c` not `m x n`.
    pub(crate) fn gemm(&self, m: usize, a: &[E], c: &mut [E], accumulate: bool) {
        let (k, n) = (self.k, self.n);
        match (&self.packed, E::as_vector(a)) {
            (Some(p), Some(af)) if m > 0 => {
                assert!(
                    a.len() == m * k && c.len() == m * n,
                    "gemm: A or C is not {m}x{k} or {m}x{n}"
                );
                let bf = E::as_vector(self.b).expect("f32 as B was");
                let cf = E::as_vector_mut(c).expect("f32 as A is");
                super::gemm_f32::gemm_f32(
                    super::simd::level(),
                    m,
                    k,
                    n,
                    af,
                    Trans::No,
                    bf,
                    self.tb,
                    cf,
                    !accumulate,
                    Some(p),
                );
            }
            _ => gemm(m, k, n, a, Trans::No, self.b, self.tb, c, accumulate),
        }
    }
}

/// Whole `op(B)`s packed for the `f32` kernel and kept between products, for weights used
/// again and again unchanged (a network serving requests): packing a layer's weight had taken
/// a tenth of a batch-1 encoder layer's time on one thread, every call.
///
/// An entry is keyed by the weight's buffer and holds only a [`Weak`] handle to it, which is
/// what makes reuse sound: while a handle is alive the buffer's allocation is not reused, and a
/// buffer cannot change in place (`Arc::make_mut` moves it out when weak handles exist, and
/// `Arc::get_mut` refuses), so an entry whose handle still upgrades to the caller's own buffer
/// was packed from these very values. An optimizer step that writes the weight therefore
/// retires its entry at no cost (the step moves the buffer's 24-byte header, not its values);
/// entries of dropped or changed weights are removed at the next miss, and the live ones are
/// bounded by [`KEPT_MAX_BYTES`] (the first made go first).
struct KeptB {
    /// The weight's buffer, type-erased: only its address and liveness are used.
    owner: Weak<dyn Send + Sync>,
    key: KeptKey,
    packed: Arc<super::gemm_f32::PackedB>,
}

/// A [`KeptB`] entry's product: the first value of `B` within the buffer, then `k`, `n`, `B`'s
/// layout and the inner-dimension block (`kc`) and level it was packed for.
type KeptKey = (usize, usize, usize, Trans, usize, super::simd::Level);

/// The most packed bytes [`KeptB`] entries hold at once.
const KEPT_MAX_BYTES: usize = 256 << 20;

static KEPT_B: Mutex<Vec<KeptB>> = Mutex::new(Vec::new());

/// [`gemm`]`(m, k, n, a, Trans::No, &b[at..at + k * n], tb, c, accumulate)`, where `b` is a
/// weight that later products use unchanged: for `f32`, `op(B)` is packed once and kept (see
/// [`KeptB`]) instead of packed at every product.
///
/// # Panics
/// If `a` is not `m x k`, `b` has no `k x n` values from `at`, or `c` is not `m x n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_kept_b<E: Element>(
    m: usize,
    k: usize,
    n: usize,
    a: &[E],
    b: &Arc<Vec<E>>,
    at: usize,
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    let level = super::simd::level();
    let bs = &b[at..at + k * n];
    let packs = k > 0 && n > 0 && super::gemm_f32::packs_b(level, m, Trans::No);
    match (E::as_vector(a), E::as_vector(bs), E::as_vector_mut(c)) {
        (Some(af), Some(bf), Some(cf)) if packs => {
            let pr = super::gemm_f32::Product {
                m,
                k,
                n,
                a: af,
                ta: Trans::No,
                b: bf,
                tb,
                fresh: !accumulate,
            };
            gemm_kept_f32(level, pr, cf, b.clone(), at)
        }
        _ => gemm(m, k, n, a, Trans::No, bs, tb, c, accumulate),
    }
}

/// [`gemm_kept_b`] for `f32`, `owner` the buffer that holds `pr.b` from `at`. Not generic, so
/// compiled once in the library rather than in every crate with a linear layer.
fn gemm_kept_f32(
    level: super::simd::Level,
    pr: super::gemm_f32::Product<'_>,
    c: &mut [f32],
    owner: Arc<dyn Send + Sync>,
    at: usize,
) {
    let (m, k, n, tb) = (pr.m, pr.k, pr.n, pr.tb);
    assert!(
        pr.a.len() == m * k && c.len() == m * n,
        "gemm: A or C is not {m}x{k} or {m}x{n}"
    );
    let key = (at, k, n, tb, super::gemm_f32::kc_for(m), level);
    let packed = kept_b(owner, key, || {
        super::gemm_f32::pack_whole_b(level, m, k, n, pr.b, tb)
    });
    super::gemm_f32::gemm_product(level, pr, c, Some(&packed));
}

/// The kept packing of `owner`'s values for `key`, made with `pack` (outside the lock) when
/// there is none.
fn kept_b(
    owner: Arc<dyn Send + Sync>,
    key: KeptKey,
    pack: impl FnOnce() -> super::gemm_f32::PackedB,
) -> Arc<super::gemm_f32::PackedB> {
    let addr = Arc::as_ptr(&owner).cast::<()>();
    let mine = |e: &KeptB| e.owner.as_ptr().cast::<()>() == addr && e.owner.strong_count() > 0;
    let kept = KEPT_B.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = kept.iter().find(|e| mine(e) && e.key == key) {
        return e.packed.clone();
    }
    drop(kept);
    let packed = Arc::new(pack());
    let entry = KeptB {
        owner: Arc::downgrade(&owner),
        key,
        packed: packed.clone(),
    };
    drop(owner);
    let mut kept = KEPT_B.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|e| e.owner.strong_count() > 0 && !(mine(e) && e.key == key));
    kept.push(entry);
    let mut bytes: usize = kept.iter().map(|e| e.packed.bytes()).sum();
    while bytes > KEPT_MAX_BYTES && kept.len() > 1 {
        bytes -= kept.remove(0).packed.bytes();
    }
    packed
}

/// `batch` independent products `C_i (+)= op(A_i) op(B_i)`, the operands stored one after the
/// other (each as for [`gemm`]).
///
/// # Panics
/// If a slice's length is not `batch` times the product of its dimensions.
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched<E: Element>(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[E],
    ta: Trans,
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    assert!(
        a.len() == batch * m * k && b.len() == batch * k * n && c.len() == batch * m * n,
        "gemm_batched: lengths"
    );
    if batch == 0 || m * n == 0 {
        return;
    }
    let (sa, sb, sc) = (m * k, k * n, m * n);
    for (i, ci) in c.chunks_exact_mut(sc).enumerate() {
        let ai = &a[i * sa..(i + 1) * sa];
        let bi = &b[i * sb..(i + 1) * sb];
        gemm(m, k, n, ai, ta, bi, tb, ci, accumulate);
    }
}

/// `src` is `rows x cols`; returns its `cols x rows` transpose.
fn transpose<E: Element>(src: &[E], rows: usize, cols: usize) -> Vec<E> {
    let mut out = vec![E::zero(); src.len()];
    crate::kernels::permute(src, &[rows, cols], &[1, 0], &mut out);
    out
}

/// `C += A B` for row-major `A` (`m x k`), `B` (`k x n`), `C` (`m x n`), compiled for the
/// run-time level: at the FMA levels each multiply-add is the level's vector instruction, at
/// the baseline a product and a sum (see [`MulAdd`](super::simd::MulAdd)). Compiled for the
/// baseline alone, each `mul_add` would be a call into the C library, at every level.
fn gemm_rows<E: Element>(a: &[E], b: &[E], c: &mut [E], m: usize, k: usize, n: usize) {
    super::simd::vectorised_mul_add(
        #[inline(always)]
        |ma| gemm_rows_with(ma, a, b, c, m, k, n),
    )
}

/// [`gemm_rows`] with the level's multiply-add.
#[inline(always)]
fn gemm_rows_with<E: Element>(
    ma: super::simd::MulAdd,
    a: &[E],
    b: &[E],
    c: &mut [E],
    m: usize,
    k: usize,
    n: usize,
) {
    for j0 in (0..n).step_by(NC) {
        let j1 = (j0 + NC).min(n);
        for p0 in (0..k).step_by(KC) {
            let p1 = (p0 + KC).min(k);
            let mut i = 0;
            while i + MR <= m {
                let (c0, rest) = c[i * n..(i + MR) * n].split_at_mut(n);
                let (c1, rest) = rest.split_at_mut(n);
                let (c2, c3) = rest.split_at_mut(n);
                let (c0, c1, c2, c3) = (
                    &mut c0[j0..j1],
                    &mut c1[j0..j1],
                    &mut c2[j0..j1],
                    &mut c3[j0..j1],
                );
                for p in p0..p1 {
                    let brow = &b[p * n + j0..p * n + j1];
                    let (a0, a1, a2, a3) = (
                        a[i * k + p],
                        a[(i + 1) * k + p],
                        a[(i + 2) * k + p],
                        a[(i + 3) * k + p],
                    );
                    for (j, &bv) in brow.iter().enumerate() {
                        c0[j] = ma.mul_add(a0, bv, c0[j]);
                        c1[j] = ma.mul_add(a1, bv, c1[j]);
                        c2[j] = ma.mul_add(a2, bv, c2[j]);
                        c3[j] = ma.mul_add(a3, bv, c3[j]);
                    }
                }
                i += MR;
            }
            while i < m {
                let crow = &mut c[i * n + j0..i * n + j1];
                for p in p0..p1 {
                    let av = a[i * k + p];
                    let brow = &b[p * n + j0..p * n + j1];
                    for (cv, &bv) in crow.iter_mut().zip(brow) {
                        *cv = ma.mul_add(av, bv, *cv);
                    }
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm_f32::packs_b;
    use super::super::simd::{at_level, available_levels};
    use super::*;
    use proptest::prelude::*;

    /// How many live entries `b`'s buffer has.
    fn entries_of(b: &Arc<Vec<f32>>) -> usize {
        let addr = Arc::as_ptr(b).cast::<()>();
        let kept = KEPT_B.lock().unwrap();
        kept.iter()
            .filter(|e| e.owner.as_ptr().cast::<()>() == addr && e.owner.strong_count() > 0)
            .count()
    }

    #[test]
    fn kept_weights_give_the_plain_products_bits_and_follow_every_change() {
        let vals = |len: usize, seed: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0)
                .collect()
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // rows below and above the short inner block's limit, odd sizes, a weight whose
        // second block of rows is the product's `B` (a stacked projection)
        for (m, k, n) in [(7, 15, 17), (33, 1, 7), (130, 257, 33), (17, 600, 65)] {
            for tb in [Trans::No, Trans::Yes] {
                for level in available_levels() {
                    let a = vals(m * k, m);
                    let at = k * n;
                    let mut w = Arc::new(vals(3 * k * n, n));
                    let plain = |w: &[f32]| {
                        let mut c = vals(m * n, 3);
                        let b = &w[at..at + k * n];
                        super::super::gemm_f32(
                            level,
                            m,
                            k,
                            n,
                            &a,
                            Trans::No,
                            b,
                            tb,
                            &mut c,
                            false,
                            None,
                        );
                        c
                    };
                    let kept = |w: &Arc<Vec<f32>>| {
                        let mut c = vals(m * n, 3);
                        at_level(level, || gemm_kept_b(m, k, n, &a, w, at, tb, &mut c, true));
                        c
                    };
                    let packs = packs_b(level, m, Trans::No);
                    // the first product packs and keeps, the second takes the kept packing
                    for round in 0..2 {
                        assert_eq!(
                            bits(&kept(&w)),
                            bits(&plain(&w)),
                            "{m}x{k}x{n} {tb:?} {level:?} {round}"
                        );
                        assert_eq!(entries_of(&w), usize::from(packs));
                    }
                    // a change in place (an optimizer's step) is seen at once
                    Arc::make_mut(&mut w)[at + k * n - 1] += 1.5;
                    Arc::make_mut(&mut w)[at] -= 0.25;
                    assert_eq!(entries_of(&w), 0);
                    assert_eq!(
                        bits(&kept(&w)),
                        bits(&plain(&w)),
                        "{m}x{k}x{n} {tb:?} {level:?} changed"
                    );
                    // a clone shares the packing; one changed in place goes its own way
                    let mut other = w.clone();
                    assert_eq!(bits(&kept(&other)), bits(&plain(&w)));
                    Arc::make_mut(&mut other)[at + 1] = 4.0;
                    assert_eq!(bits(&kept(&other)), bits(&plain(&other)));
                    assert_eq!(bits(&kept(&w)), bits(&plain(&w)));
                }
            }
        }
    }

    #[test]
    fn kept_packings_of_dropped_weights_are_let_go() {
        let (m, k, n) = (40, 64, 48);
        let a = vec![0.5f32; m * k];
        let w = Arc::new(vec![0.25f32; k * n]);
        let handle = Arc::downgrade(&w);
        let mut c = vec![0.0f32; m * n];
        gemm_kept_b(m, k, n, &a, &w, 0, Trans::Yes, &mut c, false);
        assert!(c.iter().all(|&v| v == 8.0));
        let held = |h: &Weak<Vec<f32>>| {
            KEPT_B
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.owner.as_ptr().cast::<()>() == h.as_ptr().cast::<()>())
        };
        assert!(held(&handle));
        drop(w);
        // the next packing removes the dead entry
        let w2 = Arc::new(vec![1.0f32; k * n]);
        gemm_kept_b(m, k, n, &a, &w2, 0, Trans::Yes, &mut c, false);
        assert!(c.iter().all(|&v| v == 32.0));
        assert!(!held(&handle));
    }

    fn reference(
        m: usize,
        k: usize,
        n: usize,
        a: &[f64],
        ta: Trans,
        b: &[f64],
        tb: Trans,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if ta == Trans::No {
                        a[i * k + p]
                    } else {
                        a[p * m + i]
                    };
                    let bv = if tb == Trans::No {
                        b[p * n + j]
                    } else {
                        b[j * k + p]
                    };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut r = crate::rng::Rng::seed(seed);
        (0..len).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    const ODD: [usize; 8] = [1, 3, 7, 15, 17, 31, 33, 65];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_reference_on_odd_sizes(
            mi in 0..ODD.len(), ki in 0..ODD.len(), ni in 0..ODD.len(),
            ta in any::<bool>(), tb in any::<bool>(), acc in any::<bool>(), seed in 0u64..1000,
        ) {
            let (m, k, n) = (ODD[mi], ODD[ki], ODD[ni]);
            let ta = if ta { Trans::Yes } else { Trans::No };
            let tb = if tb { Trans::Yes } else { Trans::No };
            let a = values(m * k, seed);
            let b = values(k * n, seed + 1);
            let c0 = values(m * n, seed + 2);
            let mut c = c0.clone();
            gemm(m, k, n, &a, ta, &b, tb, &mut c, acc);
            let mut expect = reference(m, k, n, &a, ta, &b, tb);
            if acc {
                for (e, c0) in expect.iter_mut().zip(&c0) { *e += c0; }
            }
            for (x, y) in c.iter().zip(&expect) {
                prop_assert!((x - y).abs() <= 1e-12 * (k as f64) + 1e-12 * y.abs(), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn batched_matches_reference_per_matrix_on_odd_sizes() {
        for (batch, m, k, n) in [(1, 1, 1, 1), (3, 7, 15, 17), (2, 33, 1, 7), (7, 1, 17, 3)] {
            let a = values(batch * m * k, 5);
            let b = values(batch * k * n, 6);
            let mut c = vec![0.0; batch * m * n];
            gemm_batched(batch, m, k, n, &a, Trans::Yes, &b, Trans::No, &mut c, false);
            for i in 0..batch {
                let e = reference(
                    m,
                    k,
                    n,
                    &a[i * m * k..(i + 1) * m * k],
                    Trans::Yes,
                    &b[i * k * n..(i + 1) * k * n],
                    Trans::No,
                );
                for (x, y) in c[i * m * n..(i + 1) * m * n].iter().zip(&e) {
                    assert!((x - y).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn large_parallel_product_matches_reference() {
        let (m, k, n) = (257, 130, 129);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let mut c = vec![0.0; m * n];
        gemm(m, k, n, &a, Trans::No, &b, Trans::Yes, &mut c, false);
        let expect = reference(m, k, n, &a, Trans::No, &b, Trans::Yes);
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-10);
        }
    }

    #[test]
    fn f32_matches_f64_reference() {
        let (m, k, n) = (33, 65, 17);
        let a = values(m * k, 3);
        let b = values(k * n, 4);
        let af: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let mut c = vec![0.0f32; m * n];
        gemm(m, k, n, &af, Trans::No, &bf, Trans::No, &mut c, false);
        let expect = reference(m, k, n, &a, Trans::No, &b, Trans::No);
        for (x, y) in c.iter().zip(&expect) {
            assert!((*x as f64 - y).abs() < 1e-4);
        }
    }
}
