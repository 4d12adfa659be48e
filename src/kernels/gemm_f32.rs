//! The `f32` matrix product in the BLIS structure, with `wide::f32x16` (AVX-512 with
//! `-C target-cpu=native`) microkernels.
//!
//! - `B` is packed into `KC x 32` column panels of `f32x16` pairs, `A` into `KC x 12` row panels,
//!   both zero-padded at the edges so the microkernel always runs its full `12 x 32` tile (24
//!   accumulators in registers). Packing reads either orientation, so `A^T` and `B^T` are never
//!   materialised.
//! - Above a work threshold the product runs on the pool: a product at least as wide as it is
//!   tall is split by columns, each thread running the whole product for its columns (its own
//!   packing of `A` and of its `B` columns, no hand-over between blocks: measured faster for
//!   W5 at 512 and 1024 and for the MLP's batch-64 layers); a tall one by blocks of rows of
//!   `C`, `B`'s panels packed on the pool. One thread below the threshold.
//! - A one-row product (batch-1 inference) skips packing: a matrix-vector product, eight dot
//!   products at a time. Products of fewer rows than a tile skip packing too.
//!
//! The packed panels are `Vec<f32x16>`, so the microkernel's loads are aligned, typed reads
//! with no `unsafe`; only the matrix-vector dot groups (`dots8`) load unchecked, their bounds
//! checked once per call.

use super::{load_unchecked, Trans};
use rayon::prelude::*;
use std::cell::RefCell;
use wide::f32x16;

const MR: usize = 12;
const NR: usize = 32;
const KC: usize = 256;
const MC: usize = 120;
const NC: usize = 1024;
/// Rows past the edge of `A`, for packing.
static ZEROS: [f32; KC] = [0.0; KC];
/// Below this many multiply-adds a product stays on one thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 21;

thread_local! {
    /// A packed-B buffer kept between products on this thread. It is taken out for the length
    /// of a product and put back after, never borrowed across parallel work: a rayon worker
    /// that waits inside one product may run a task of another (two networks on one pool, or a
    /// product nested in a parallel loop), which then finds the slot empty and allocates.
    static PACK_B: RefCell<Vec<f32x16>> = const { RefCell::new(Vec::new()) };
}

/// Packs op(B)[p0..p0+kc, j0..j0+nc] into panels of `NR` columns: for each panel, for each `p`,
/// two `f32x16` (zero past the edge). Panels are packed on the pool when `parallel`.
#[allow(clippy::too_many_arguments)]
fn pack_b(
    b: &[f32],
    tb: Trans,
    k: usize,
    n: usize,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    out: &mut Vec<f32x16>,
    parallel: bool,
) {
    let panels = nc.div_ceil(NR);
    out.clear();
    out.resize(panels * kc * 2, f32x16::ZERO);
    let pack_panel = |(q, panel): (usize, &mut [f32x16])| {
        let jb = j0 + q * NR;
        let w = NR.min(j0 + nc - jb);
        if tb == Trans::No && w == NR {
            // whole rows of 32: two vector loads each (a variable-length copy calls memmove)
            for (p, pair) in panel.chunks_exact_mut(2).enumerate() {
                let at = (p0 + p) * n + jb;
                pair[0] = f32x16::from(<[f32; 16]>::try_from(&b[at..at + 16]).expect("16"));
                pair[1] = f32x16::from(<[f32; 16]>::try_from(&b[at + 16..at + 32]).expect("16"));
            }
            return;
        }
        for p in 0..kc {
            let mut tmp = [0.0f32; NR];
            match tb {
                Trans::No => tmp[..w].copy_from_slice(&b[(p0 + p) * n + jb..(p0 + p) * n + jb + w]),
                Trans::Yes => {
                    for (j, t) in tmp[..w].iter_mut().enumerate() {
                        *t = b[(jb + j) * k + p0 + p];
                    }
                }
            }
            panel[p * 2] = f32x16::from(<[f32; 16]>::try_from(&tmp[..16]).expect("16"));
            panel[p * 2 + 1] = f32x16::from(<[f32; 16]>::try_from(&tmp[16..]).expect("16"));
        }
    };
    if parallel && panels > 1 {
        out.par_chunks_mut(kc * 2).enumerate().for_each(pack_panel);
    } else {
        out.chunks_exact_mut(kc * 2)
            .enumerate()
            .for_each(pack_panel);
    }
}

/// Packs op(A)[i0..i0+mc, p0..p0+kc] into panels of `MR` rows: for each panel, for each `p`,
/// `MR` values (zero past the edge).
#[allow(clippy::too_many_arguments)]
fn pack_a(
    a: &[f32],
    ta: Trans,
    m: usize,
    k: usize,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    out: &mut Vec<f32>,
) {
    let panels = mc.div_ceil(MR);
    out.clear();
    out.resize(panels * kc * MR, 0.0);
    for (q, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let ib = i0 + q * MR;
        let h = MR.min(i0 + mc - ib);
        match ta {
            Trans::No => {
                // Twelve rows read side by side, each panel step written whole (contiguous
                // stores): writing one row at a time strode through the panel value by value,
                // 10% of a 1024^3 product.
                let rows: [&[f32]; MR] = std::array::from_fn(|i| {
                    if i < h {
                        &a[(ib + i) * k + p0..][..kc]
                    } else {
                        &ZEROS[..kc]
                    }
                });
                for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    let dst: &mut [f32; MR] = dst.try_into().expect("MR values");
                    for (d, row) in dst.iter_mut().zip(&rows) {
                        *d = row[p];
                    }
                }
            }
            Trans::Yes => {
                for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    let col = &a[(p0 + p) * m + ib..(p0 + p) * m + ib + h];
                    dst[..h].copy_from_slice(col);
                }
            }
        }
    }
}

/// `acc += A_panel * B_panel` over `kc` steps: the 12 x 32 register tile.
#[inline(always)]
fn micro(a: &[f32], b: &[f32x16], acc: &mut [[f32x16; 2]; MR]) {
    let mut c = *acc;
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(2)) {
        let ap: &[f32; MR] = ap.try_into().expect("MR values");
        let (b0, b1) = (bp[0], bp[1]);
        for i in 0..MR {
            let ai = f32x16::splat(ap[i]);
            c[i][0] = ai.mul_add(b0, c[i][0]);
            c[i][1] = ai.mul_add(b1, c[i][1]);
        }
    }
    *acc = c;
}

/// `C[i0.., j0..] += tile` for the valid `h x w` part.
fn store(
    c: &mut [f32],
    n: usize,
    row0: usize,
    j0: usize,
    h: usize,
    w: usize,
    tile: &[[f32x16; 2]; MR],
) {
    for (i, t) in tile.iter().enumerate().take(h) {
        let row = &mut c[(row0 + i) * n + j0..(row0 + i) * n + j0 + w];
        if w == NR {
            for (half, v) in row.chunks_exact_mut(16).zip(t) {
                let cur = f32x16::from(<[f32; 16]>::try_from(&*half).expect("16"));
                half.copy_from_slice(&(cur + *v).to_array());
            }
        } else {
            let lo = t[0].to_array();
            let hi = t[1].to_array();
            for (j, v) in row.iter_mut().enumerate() {
                *v += if j < 16 { lo[j] } else { hi[j - 16] };
            }
        }
    }
}

/// `c[j] += a . row j of b` for the rows of `b` (each `a.len()` long) that `c` covers: eight
/// rows at a time, so eight independent chains of multiply-adds hide the FMA latency and
/// each load of `a` serves eight rows.
fn dots(a: &[f32], b: &[f32], c: &mut [f32]) {
    let k = a.len();
    let j0 = c.len() - c.len() % 8;
    let (whole, rest) = c.split_at_mut(j0);
    for (cg, rows) in whole.chunks_exact_mut(8).zip(b.chunks_exact(8 * k)) {
        dots8(a, rows, cg);
    }
    for (j, cj) in rest.iter_mut().enumerate() {
        *cj += dot(a, &b[(j0 + j) * k..(j0 + j + 1) * k]);
    }
}

/// `c[r] += a . rows[r * k..(r + 1) * k]` for eight rows (`k = a.len()`). Out of line and
/// with the loads checked once before the loop: a bounds check per load of nine streams
/// kept this loop at a third of the speed the loads allow.
#[inline(never)]
#[allow(unsafe_code)]
fn dots8(a: &[f32], rows: &[f32], c: &mut [f32]) {
    let k = a.len();
    let cut = k - k % 16;
    let rows: [&[f32]; 8] = std::array::from_fn(|r| &rows[r * k..(r + 1) * k]);
    let mut acc = [f32x16::ZERO; 8];
    for p in (0..cut).step_by(16) {
        // SAFETY: `p + 16 <= cut <= k`, the length of `a` and of every row.
        let x = unsafe { load_unchecked(a, p) };
        for (acc, row) in acc.iter_mut().zip(&rows) {
            // SAFETY: as above.
            let y = unsafe { load_unchecked(row, p) };
            *acc = x.mul_add(y, *acc);
        }
    }
    for ((cj, acc), row) in c.iter_mut().zip(&acc).zip(&rows) {
        let tail: f32 = a[cut..].iter().zip(&row[cut..]).map(|(x, y)| x * y).sum();
        *cj += acc.reduce_add() + tail;
    }
}

/// `a . b` with `f32x16` lanes, four chains of multiply-adds.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let cut = a.len() - a.len() % 64;
    let mut acc = [f32x16::ZERO; 4];
    for (x, y) in a[..cut].chunks_exact(64).zip(b[..cut].chunks_exact(64)) {
        for (q, acc) in acc.iter_mut().enumerate() {
            let x = f32x16::from(<[f32; 16]>::try_from(&x[q * 16..q * 16 + 16]).expect("16"));
            let y = f32x16::from(<[f32; 16]>::try_from(&y[q * 16..q * 16 + 16]).expect("16"));
            *acc = x.mul_add(y, *acc);
        }
    }
    let cut16 = a.len() - a.len() % 16;
    for (x, y) in a[cut..cut16]
        .chunks_exact(16)
        .zip(b[cut..cut16].chunks_exact(16))
    {
        let x = f32x16::from(<[f32; 16]>::try_from(x).expect("16"));
        let y = f32x16::from(<[f32; 16]>::try_from(y).expect("16"));
        acc[0] = x.mul_add(y, acc[0]);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
        + a[cut16..]
            .iter()
            .zip(&b[cut16..])
            .map(|(x, y)| x * y)
            .sum::<f32>()
}

/// Products with fewer rows than a register tile (a convolution with few output channels)
/// skip packing: `A B` as scaled rows of `B` added to each row of `C`, `A B^T` as dot products
/// of contiguous rows.
fn few_rows(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], tb: Trans, c: &mut [f32]) {
    for (i, crow) in c.chunks_exact_mut(n).enumerate().take(m) {
        let arow = &a[i * k..(i + 1) * k];
        match tb {
            Trans::No => {
                for (p, &ap) in arow.iter().enumerate() {
                    for (cj, &bj) in crow.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                        *cj = ap.mul_add(bj, *cj);
                    }
                }
            }
            Trans::Yes => dots(arow, b, crow),
        }
    }
}

/// The operands of one product: `op(A)` is `m x k`, `op(B)` is `k x n`.
#[derive(Clone, Copy)]
struct Product<'a> {
    m: usize,
    k: usize,
    n: usize,
    a: &'a [f32],
    ta: Trans,
    b: &'a [f32],
    tb: Trans,
}

/// `C += op(A) op(B)` for `f32`, `C` zeroed by the caller if needed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_f32(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    c: &mut [f32],
) {
    if m == 1 {
        return gemv(k, n, a, b, tb, c);
    }
    if m < MR && ta == Trans::No {
        return few_rows(m, k, n, a, b, tb, c);
    }
    // Inside a rayon task (a convolution's per-image product, a batched product) the caller
    // already keeps the threads busy; splitting again only adds joins and packing buffers.
    let threads = rayon::current_num_threads().max(1);
    // The row split hands work to the pool once per block of the inner dimension (packing,
    // then the tiles), so each block must be worth a hand-over; the column split hands over
    // once per product.
    let wide_split = n >= m && n >= 2 * NR * threads;
    // (measured on the CIFAR net's 64 x 64 x 1024 products: a split of less than about
    // 8M multiply-adds ran slower on two threads than on one)
    let per_handover = if wide_split {
        m * n * k / 4
    } else {
        m * n * k.min(KC)
    };
    let parallel = per_handover >= PARALLEL_MIN_FLOPS
        && m > MR
        && threads > 1
        && rayon::current_thread_index().is_none();
    let pr = Product {
        m,
        k,
        n,
        a,
        ta,
        b,
        tb,
    };
    if parallel && wide_split {
        return split_columns(pr, c, threads);
    }
    // rows per task: all of them on one thread; else about m / (2 threads), a multiple of MR
    let rows = if parallel {
        m.div_ceil(2 * threads).next_multiple_of(MR).clamp(MR, MC)
    } else {
        MC
    };
    if parallel {
        // one hand-over to the pool per product, not one per block of the inner dimension
        rayon::scope(|_| gemm_cols(pr, 0..n, c, n, rows, true));
    } else {
        gemm_cols(pr, 0..n, c, n, rows, false);
    }
}

/// A wide product on the pool: each thread takes a range of columns of `op(B)` and runs the
/// whole product for them alone (its own packing of its `B` columns and of `A`, no hand-overs
/// between blocks), into its own block of `C`, added to `C` at the end. Splitting rows
/// instead would leave `B`'s packing to one thread while the others wait.
fn split_columns(pr: Product<'_>, c: &mut [f32], threads: usize) {
    let (m, n) = (pr.m, pr.n);
    let per = n.div_ceil(threads).next_multiple_of(NR);
    let starts: Vec<usize> = (0..n).step_by(per).collect();
    let parts: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&j| {
            let w = per.min(n - j);
            let mut cb = vec![0.0; m * w];
            gemm_cols(pr, j..j + w, &mut cb, w, MC, false);
            cb
        })
        .collect();
    c.par_chunks_mut(n).enumerate().for_each(|(i, crow)| {
        for (&j, cb) in starts.iter().zip(&parts) {
            let w = cb.len() / m;
            for (d, &v) in crow[j..j + w].iter_mut().zip(&cb[i * w..(i + 1) * w]) {
                *d += v;
            }
        }
    });
}

/// `C += op(A) op(B)[.., cols]`, where `C` has row stride `ldc` and its column 0 is column
/// `cols.start` of the product: the BLIS loops (column blocks, inner-dimension blocks, row
/// blocks of `rows`, then register tiles), row blocks on the pool when `parallel`.
fn gemm_cols(
    pr: Product<'_>,
    cols: std::ops::Range<usize>,
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    parallel: bool,
) {
    let Product {
        m,
        k,
        n,
        a,
        ta,
        b,
        tb,
    } = pr;
    let mut pb = PACK_B.with(|slot| slot.take());
    for j0 in cols.clone().step_by(NC) {
        let nc = NC.min(cols.end - j0);
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            pack_b(b, tb, k, n, p0, kc, j0, nc, &mut pb, parallel);
            let bp: &[f32x16] = &pb;
            let task = |pa: &mut Vec<f32>, (t, c_rows): (usize, &mut [f32])| {
                let i0 = t * rows;
                let mc = c_rows.len() / ldc;
                pack_a(a, ta, m, k, i0, mc, p0, kc, pa);
                for (q, bpanel) in bp.chunks_exact(kc * 2).enumerate() {
                    let jb = q * NR;
                    let w = NR.min(nc - jb);
                    for (r, apanel) in pa.chunks_exact(kc * MR).enumerate() {
                        let mut acc = [[f32x16::ZERO; 2]; MR];
                        let h = MR.min(mc - r * MR);
                        micro(apanel, bpanel, &mut acc);
                        store(c_rows, ldc, r * MR, j0 - cols.start + jb, h, w, &acc);
                    }
                }
            };
            if parallel {
                c.par_chunks_mut(rows * ldc)
                    .enumerate()
                    .for_each_init(Vec::new, task);
            } else {
                let mut pa = Vec::new();
                c.chunks_mut(rows * ldc)
                    .enumerate()
                    .for_each(|x| task(&mut pa, x));
            }
        }
    }
    PACK_B.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.capacity() < pb.capacity() {
            *slot = pb;
        }
    });
}

/// `c += a op(B)` for one row `a` (length `k`): dot products with the rows of `B` stored
/// transposed, or a sum of scaled rows of `B`.
fn gemv(k: usize, n: usize, a: &[f32], b: &[f32], tb: Trans, c: &mut [f32]) {
    match tb {
        Trans::Yes => {
            // Memory-bound: two threads pay off well below the packed product's threshold.
            if n * k >= PARALLEL_MIN_FLOPS / 8 && rayon::current_num_threads() > 1 {
                c.par_chunks_mut(64).enumerate().for_each(|(t, cs)| {
                    dots(a, &b[t * 64 * k..], cs);
                });
            } else {
                dots(a, b, c);
            }
        }
        Trans::No => {
            for (p, &ap) in a.iter().enumerate() {
                let row = &b[p * n..(p + 1) * n];
                for (cj, &bj) in c.iter_mut().zip(row) {
                    *cj = ap.mul_add(bj, *cj);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Products started from inside parallel tasks (two networks on one pool): a worker that
    /// waits inside one product runs another's tasks, and both need a packing buffer. This
    /// panicked with "RefCell already borrowed" while the buffer stayed borrowed.
    #[test]
    fn concurrent_products_on_one_pool_are_correct() {
        // taller than wide (rows split inside `rayon::scope`) and wider than tall (columns)
        for (m, k, n) in [(320, 160, 96), (96, 320, 640)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let mut want = vec![0.0f32; m * n];
            for i in 0..m {
                for p in 0..k {
                    for j in 0..n {
                        want[i * n + j] += a[i * k + p] * b[p * n + j];
                    }
                }
            }
            // several threads that are not pool workers, each running products on the pool
            let results: Vec<Vec<f32>> = std::thread::scope(|scope| {
                let runs: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut c = vec![0.0f32; m * n];
                            for _ in 0..50 {
                                c.fill(0.0);
                                gemm_f32(m, k, n, &a, Trans::No, &b, Trans::No, &mut c);
                            }
                            c
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            for c in results {
                // small integers: every sum is exact
                assert_eq!(c, want);
            }
        }
    }

    fn at(x: &[f32], t: Trans, rows: usize, cols: usize, r: usize, c: usize) -> f32 {
        // element (r, c) of op(x), where op(x) is rows x cols
        match t {
            Trans::No => x[r * cols + c],
            Trans::Yes => x[c * rows + r],
        }
    }

    fn reference(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        ta: Trans,
        b: &[f32],
        tb: Trans,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| at(a, ta, m, k, i, p) as f64 * at(b, tb, k, n, p, j) as f64)
                    .sum();
            }
        }
        c
    }

    fn vals(len: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::tensor::Rng::seed(seed);
        (0..len).map(|_| r.uniform(-1.0, 1.0) as f32).collect()
    }

    const ODD: [usize; 10] = [1, 3, 7, 12, 15, 17, 31, 33, 65, 257];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn packed_f32_matches_the_definition_on_odd_sizes(mi in 0..ODD.len(), ki in 0..ODD.len(), ni in 0..ODD.len(), ta in any::<bool>(), tb in any::<bool>(), seed in 0u64..100) {
            let (m, k, n) = (ODD[mi], ODD[ki], ODD[ni]);
            let ta = if ta { Trans::Yes } else { Trans::No };
            let tb = if tb { Trans::Yes } else { Trans::No };
            let a = vals(m * k, seed);
            let b = vals(k * n, seed + 1);
            let mut c = vals(m * n, seed + 2);
            let c0 = c.clone();
            gemm_f32(m, k, n, &a, ta, &b, tb, &mut c);
            let r = reference(m, k, n, &a, ta, &b, tb);
            for i in 0..m * n {
                let want = r[i] + c0[i] as f64;
                prop_assert!((c[i] as f64 - want).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()), "({m},{k},{n}) {i}: {} vs {want}", c[i]);
            }
        }
    }

    #[test]
    fn large_products_split_across_threads_and_agree() {
        let (m, k, n) = (300, 600, 1100);
        let a = vals(m * k, 1);
        let b = vals(k * n, 2);
        let mut c = vec![0.0; m * n];
        gemm_f32(m, k, n, &a, Trans::No, &b, Trans::Yes, &mut c);
        let r = reference(m, k, n, &a, Trans::No, &b, Trans::Yes);
        for i in (0..m * n).step_by(97) {
            assert!((c[i] as f64 - r[i]).abs() < 1e-3, "{i}");
        }
    }

    #[test]
    // The assertions are on purpose about constants: they check how this crate was built.
    #[allow(clippy::assertions_on_constants)]
    fn the_build_targets_avx512_and_fma() {
        // wide picks its instructions at compile time: without these the kernels silently run
        // at half speed or worse. `.cargo/config.toml` builds with -C target-cpu=native.
        assert!(
            cfg!(target_feature = "fma"),
            "build without FMA: set -C target-cpu=native"
        );
        assert!(
            cfg!(target_feature = "avx2"),
            "build without AVX2: set -C target-cpu=native"
        );
        if std::is_x86_feature_detected!("avx512f") {
            assert!(
                cfg!(target_feature = "avx512f"),
                "the CPU has AVX-512 but the build does not use it"
            );
        }
    }
}
