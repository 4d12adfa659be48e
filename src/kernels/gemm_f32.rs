//! The `f32` matrix product in the BLIS structure, with a register-tiled microkernel for each
//! instruction-set level (see [`super::simd`]), chosen at run time.
//!
//! - `B` is packed into `KC x NR` column panels and `A` into `KC x MR` row panels, both
//!   padded at the edges so the microkernel always runs its full `MR x NR` tile. Packing
//!   reads either orientation, so `A^T` and `B^T` are never materialised. Whole tiles of an
//!   `A` stored by rows are read where they are instead (always with AVX2, in narrow blocks
//!   at the other levels: see [`direct_a_panels`]). Where `A` is read in place, `B` is stored
//!   by rows and one thread runs the block (each thread of a column split), `B` is not packed
//!   in a pass of its own: the first tile against each panel reads `B` where it is stored and
//!   writes the packed panel as it goes ([`micro_rows_fill`]), its loads overlapping the
//!   tile's multiply-adds, and the block's other tiles read the packed copy.
//! - The tile per level fills its register file without spilling: AVX-512 (32 registers)
//!   `12 x 32`, 24 accumulators; AVX2 (16 registers) `6 x 16`, 12 accumulators plus two `B`
//!   vectors and a broadcast; the 4-lane baseline `6 x 8`.
//! - Above a work threshold the product runs on the pool: a product at least as wide as it is
//!   tall is split by columns, each thread running the whole product for its columns (its own
//!   packing of `A` and of its `B` columns, no hand-over between blocks: the MLP's batch-64
//!   layers, square products) and writing them into `C` in place through a [`CBlock`]; a
//!   taller one by blocks of rows of `C`, shared evenly among the threads, `B`'s panels packed
//!   on the pool. One thread below the threshold. Packing `A` once for all the threads of a
//!   column split (each block by whichever thread reached it first) made whole runs a tenth
//!   slower on a two-core virtual machine, the packed values passing between cores whose
//!   caches are not known to be shared; so each thread packs its own. A long product called
//!   from outside the pool is handed to it whole (see [`gemm_level`]).
//! - A product that overwrites `C` writes its first block of inner steps over it instead of
//!   adding: `C` is never zeroed first (a pass over it, on one thread, before the split).
//! - Packing buffers are kept and reused without clearing (packing writes every value a tile
//!   reads); a product uses only the part of them it packed.
//! - A one-row product (batch-1 inference) skips packing: a matrix-vector product, eight dot
//!   products at a time. Products of fewer rows than a tile skip packing too.
//!
//! At the FMA levels each element of `C` is one chain of fused multiply-adds over each block
//! of inner steps (`KC`, or `KC_SHORT` for a product of at most `MC` rows: the block depends
//! on the product's shape, never on the level), so AVX2 and AVX-512 agree bit for bit wherever
//! both take the packed path; the baseline rounds each product and sum separately.

use super::layout::transpose4;
use super::simd::{prefetch, prefetch_l2, Base, Kernel, Level, Simd};
use super::Trans;
use rayon::prelude::*;
use std::cell::RefCell;

/// Steps of the inner dimension per block, for a product of more than [`MC`] rows. Each block
/// ends with a pass that reads and writes every tile of `C`, and each tile's call of the
/// microkernel has a fixed cost (its start, the store of its tile), both spread over `KC`
/// steps: the 1024-square product makes one such pass. The `B` panel (`KC x NR`) outgrows L1
/// and streams from L2, which the microkernel's two loads per step allow; the row block of
/// `A` (`MC x KC`) still fits L2 beside it. At 2048 the panel's stream ran slower again.
const KC: usize = 1024;
/// Steps per block for a product of at most [`MC`] rows (a batch-64 layer): its few row
/// panels each stream the `B` panel, which at 256 steps (32 KB at AVX-512) stays in L1
/// between them; the `64 x 784 x 512` product runs a third faster than at 512.
const KC_SHORT: usize = 256;
const MC: usize = 120;
const NC: usize = 1024;

/// Inner steps per block for a product of `m` rows.
pub(super) fn kc_for(m: usize) -> usize {
    if m <= MC {
        KC_SHORT
    } else {
        KC
    }
}
/// Rows past the edge of `A`, for packing.
static ZEROS: [f32; KC] = [0.0; KC];
/// Below this many multiply-adds a product stays on one thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 21;
/// From this many multiply-adds, a product split across the pool from outside it is handed to
/// the pool whole (see [`gemm_level`]); below, the hand-over (two wake-ups) costs more than
/// it saves.
const POOL_MIN_FLOPS: usize = 1 << 28;
/// Most panels of `B` in a block for which the microkernel reads `A`'s rows where they are
/// stored rather than packed (whole tiles of `A` stored by rows), at `S`'s level. With AVX2
/// the in-place loop runs as fast as the packed one (six strided streams from L2 against one),
/// so packing, a pass of its own, never pays and every block reads `A` in place. On the
/// baseline (two multiplies and two adds per broadcast where AVX2 has two fused ones) reading
/// in place wins only for narrow blocks and loses for wide ones; the AVX-512 tile's packed
/// loop is unrolled and the in-place one is not. Both keep the limit of 24 panels found for
/// AVX2 with the earlier in-place loop (AVX-512 not measured since).
fn direct_a_panels<S: Simd>() -> usize {
    match S::LEVEL {
        Level::Avx2 => usize::MAX,
        Level::Baseline | Level::Avx512 => 24,
    }
}
/// Cache lines ahead at which packing `A` asks for each row's coming values.
const PACK_AHEAD: usize = 8;

/// 16 values on a 64-byte boundary: the packed `B` panels' storage, so that every vector load
/// of the microkernel is aligned (an unaligned 64-byte load always crosses a cache line).
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; 16]);

// SAFETY: `Line` is 16 `f32`s with no padding (64 bytes, aligned to 64): any bit pattern is
// valid and all zeros is zero.
#[allow(unsafe_code)]
unsafe impl bytemuck::Zeroable for Line {}
// SAFETY: as above; it is `Copy`, `repr(C)` and holds no pointers.
#[allow(unsafe_code)]
unsafe impl bytemuck::Pod for Line {}

thread_local! {
    /// A packed-B buffer kept between products on this thread. It is taken out for the length
    /// of a product and put back after, never borrowed across parallel work: a rayon worker
    /// that waits inside one product may run a task of another (two networks on one pool, or a
    /// product nested in a parallel loop), which then finds the slot empty and allocates.
    static PACK_B: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    /// A packed-A buffer kept between blocks and products on this thread, as [`PACK_B`]: a
    /// fresh one per block of the inner dimension had been zeroed and faulted in each time.
    static PACK_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A buffer taken out of a thread-local slot, put back when dropped unless the slot holds a
/// larger one by then (taken, not borrowed: see [`PACK_B`]).
struct Kept<T: 'static> {
    slot: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
    buf: Vec<T>,
}

impl<T> Kept<T> {
    fn take(slot: &'static std::thread::LocalKey<RefCell<Vec<T>>>) -> Self {
        let buf = slot.try_with(|s| s.take()).unwrap_or_default();
        Kept { slot, buf }
    }
}

impl<T> Drop for Kept<T> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // a thread being torn down has no slot left: the buffer is then just freed
        let _ = self.slot.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.capacity() < buf.capacity() {
                *s = buf;
            }
        });
    }
}

/// The register tile (rows, columns) of `level`'s microkernel.
pub(crate) fn tile(level: Level) -> (usize, usize) {
    match level {
        Level::Avx512 => (12, 32),
        Level::Avx2 => (6, 16),
        Level::Baseline => (6, 8),
    }
}

/// `C += op(A) op(B)` for `f32` at instruction-set `level`, or `C = op(A) op(B)` when
/// `overwrite` (`C`'s values are then never read: no pass to zero it first), with `op(B)`
/// already packed in `pre` when given (see [`PackedB`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_f32(
    level: Level,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    c: &mut [f32],
    overwrite: bool,
    pre: Option<&PackedB>,
) {
    let pr = Product {
        m,
        k,
        n,
        a,
        ta,
        b,
        tb,
        fresh: overwrite,
    };
    gemm_product(level, pr, c, pre)
}

/// [`gemm_f32`] for the operands in `pr`.
pub(super) fn gemm_product(level: Level, pr: Product<'_>, c: &mut [f32], pre: Option<&PackedB>) {
    let (m, k, n) = (pr.m, pr.k, pr.n);
    if let Some(p) = pre {
        assert!(
            p.level == level && p.k == k && p.n == n && p.kc == kc_for(m),
            "gemm: B was packed for another product"
        );
    }
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            let s = super::simd::Avx512::new().expect("AVX-512 was detected");
            gemm_level::<_, 12, 2>(s, pr, c, pre)
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            let s = super::simd::Avx2::new().expect("AVX2 was detected");
            gemm_level::<_, 6, 2>(s, pr, c, pre)
        }
        _ => gemm_level::<_, 6, 2>(Base, pr, c, pre),
    }
}

/// The whole of `op(B)` (`k x n`) packed once, for many products with the same `B` and
/// `A`s of `m` rows (a recurrent layer's hidden weights, one product per step): each block of
/// the inner dimension as the panels of all `n` columns, in the order and layout the
/// product's own packing writes (see [`pack_b`]), so a product takes any block of whole
/// panels from it instead of packing the same weight again at every step.
pub(crate) struct PackedB {
    level: Level,
    k: usize,
    n: usize,
    /// The inner-dimension block the products use ([`kc_for`] of their rows).
    kc: usize,
    data: Vec<Line>,
}

impl PackedB {
    /// The packed values' size in bytes.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of_val(self.data.as_slice())
    }

    /// The panels of columns `j0..j0 + nc` (`j0` a multiple of the tile width) for the block
    /// of inner steps starting at `p0` (a multiple of the block).
    fn block(&self, p0: usize, j0: usize, nc: usize) -> &[f32] {
        let nr = tile(self.level).1;
        let kc = self.kc.min(self.k - p0);
        let width = self.n.div_ceil(nr) * nr;
        let all: &[f32] = bytemuck::cast_slice(&self.data);
        &all[p0 * width + j0 * kc..][..nc.div_ceil(nr) * nr * kc]
    }
}

/// Whether a product of `m` rows at this level packs `B` at all (a one-row product and
/// products of fewer rows than a tile read `B` as it is stored).
pub(crate) fn packs_b(level: Level, m: usize, ta: Trans) -> bool {
    m > 1 && !(m < tile(level).0 && ta == Trans::No)
}

/// `op(B)` (`B` stored `k x n`, or `n x k` when `tb`) packed for products of `m` rows at
/// `level` (see [`PackedB`]).
pub(crate) fn pack_whole_b(
    level: Level,
    m: usize,
    k: usize,
    n: usize,
    b: &[f32],
    tb: Trans,
) -> PackedB {
    let nr = tile(level).1;
    let kc = kc_for(m);
    let width = n.div_ceil(nr) * nr;
    let mut data = Vec::new();
    grow(&mut data, k * width);
    let out: &mut [f32] = bytemuck::cast_slice_mut(&mut data);
    for p0 in (0..k).step_by(kc.max(1)) {
        let blk = BBlock {
            b,
            tb,
            k,
            n,
            p0,
            kc: kc.min(k - p0),
            j0: 0,
            nc: n,
        };
        let part = &mut out[p0 * width..][..width * blk.kc];
        pack_b_at(nr, blk, part, super::may_split());
    }
    PackedB {
        level,
        k,
        n,
        kc,
        data,
    }
}

/// The block op(B)[p0..p0+kc, j0..j0+nc] of `B` (stored `k x n`, or `n x k` when `tb`).
#[derive(Clone, Copy)]
struct BBlock<'a> {
    b: &'a [f32],
    tb: Trans,
    k: usize,
    n: usize,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
}

/// Packs the block into `out` (`nc.div_ceil(NR) * kc * NR` values) as panels of `NR` columns
/// (the tile's width: 32, 16 or 8): for each panel, for each `p`, `NR` values (zero past the
/// edge). When `parallel`, each thread of the pool packs an equal share of the panels.
fn pack_b<const NR: usize>(blk: BBlock<'_>, out: &mut [f32], parallel: bool) {
    let BBlock { tb, kc, j0, nc, .. } = blk;
    let panels = nc.div_ceil(NR);
    let out = &mut out[..panels * kc * NR];
    let per = if parallel {
        super::part_len(panels, 1)
    } else {
        panels
    };
    let share = |(t, part): (usize, &mut [f32])| match tb {
        Trans::No => pack_rows::<NR>(blk, t * per, part),
        Trans::Yes => {
            for (i, panel) in part.chunks_exact_mut(kc * NR).enumerate() {
                let jb = j0 + (t * per + i) * NR;
                pack_transposed::<NR>(blk, jb, NR.min(j0 + nc - jb), panel);
            }
        }
    };
    if per < panels {
        out.par_chunks_mut(per * kc * NR)
            .enumerate()
            .for_each(share);
    } else {
        share((0, out));
    }
}

/// Rows of `B` (stored `k x n`) per pass of [`pack_rows`].
const PACK_ROWS: usize = 8;

/// The panels `q0..` of the block (`B` stored `k x n`) into `out` (whole panels), a few rows
/// of `B` at a time: each pass reads [`PACK_ROWS`] rows along their length, streams the
/// hardware prefetcher follows, and writes a run of whole cache lines into every panel. Packed
/// a panel at a time, each row had been read one line per panel, a new page at every step,
/// and the loads' misses had taken most of the packing's time.
fn pack_rows<const NR: usize>(blk: BBlock<'_>, q0: usize, out: &mut [f32]) {
    let BBlock {
        b,
        n,
        p0,
        kc,
        j0,
        nc,
        ..
    } = blk;
    for pb in (0..kc).step_by(PACK_ROWS) {
        let rows = pb..(pb + PACK_ROWS).min(kc);
        for (i, panel) in out.chunks_exact_mut(kc * NR).enumerate() {
            let jb = j0 + (q0 + i) * NR;
            let w = NR.min(j0 + nc - jb);
            for p in rows.clone() {
                let src = &b[(p0 + p) * n + jb..][..w];
                let dst = &mut panel[p * NR..][..NR];
                if w == NR {
                    // a copy of a known length (no call to memmove)
                    let dst: &mut [f32; NR] = dst.try_into().expect("NR values");
                    *dst = src.try_into().expect("NR values");
                } else {
                    dst[..w].copy_from_slice(src);
                    dst[w..].fill(0.0);
                }
            }
        }
    }
}

/// One panel of a transposed `B` (stored `n x k`): `panel[p * NR + j] = B[jb + j][p0 + p]`
/// for `j < w`, zero beyond. Four rows of `B` are read four values at a time and written as
/// a transposed 4 x 4 block: reads and writes both contiguous, instead of one value at a time
/// from `NR` rows.
#[inline(always)]
fn pack_transposed<const NR: usize>(blk: BBlock<'_>, jb: usize, w: usize, panel: &mut [f32]) {
    let BBlock { b, k, p0, kc, .. } = blk;
    let panel = &mut panel[..kc * NR];
    let row = |j: usize| &b[(jb + j) * k + p0..][..kc];
    let (w4, kc4) = (w - w % 4, kc - kc % 4);
    for j in (0..w4).step_by(4) {
        let rows = [row(j), row(j + 1), row(j + 2), row(j + 3)];
        for p in (0..kc4).step_by(4) {
            let cols = transpose4(std::array::from_fn(|r| {
                rows[r][p..p + 4].try_into().expect("4 values")
            }));
            for (dst, col) in panel[p * NR..(p + 4) * NR].chunks_exact_mut(NR).zip(cols) {
                dst[j..j + 4].copy_from_slice(&col);
            }
        }
        for p in kc4..kc {
            for r in 0..4 {
                panel[p * NR + j + r] = rows[r][p];
            }
        }
    }
    for j in w4..w {
        for (p, &v) in row(j).iter().enumerate() {
            panel[p * NR + j] = v;
        }
    }
    if w < NR {
        for dst in panel.chunks_exact_mut(NR) {
            dst[w..].fill(0.0);
        }
    }
}

/// Makes `buf` hold at least `len` values. Packing writes every value it reads back, padding
/// included, so a buffer kept from an earlier product is not cleared: filling megabytes with
/// zeros before each product cost as much as packing them.
fn grow(buf: &mut Vec<Line>, len: usize) {
    if buf.len() < len.div_ceil(16) {
        buf.resize(len.div_ceil(16), Line::default());
    }
}

/// [`pack_b`] for the tile width `nr`, into `buf` (grown to fit, 64-byte aligned); returns
/// the packed values.
fn pack_b_nr<'b>(nr: usize, blk: BBlock<'_>, buf: &'b mut Vec<Line>, parallel: bool) -> &'b [f32] {
    let len = blk.nc.div_ceil(nr) * blk.kc * nr;
    grow(buf, len);
    let out = &mut bytemuck::cast_slice_mut(buf)[..len];
    pack_b_at(nr, blk, out, parallel);
    out
}

/// [`pack_b`] for the tile width `nr` (32, 16 or 8).
fn pack_b_at(nr: usize, blk: BBlock<'_>, out: &mut [f32], parallel: bool) {
    match nr {
        32 => pack_b::<32>(blk, out, parallel),
        16 => pack_b::<16>(blk, out, parallel),
        _ => pack_b::<8>(blk, out, parallel),
    }
}

/// The rows `i0..i0 + mc` of `op(A)` and its columns `p0..p0 + kc`: one row block of `A`
/// for one block of the inner dimension, read where it is stored.
#[derive(Clone, Copy)]
struct ABlock<'a> {
    a: &'a [f32],
    ta: Trans,
    m: usize,
    k: usize,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
}

impl<'a> ABlock<'a> {
    /// Panel `q`'s first row and valid rows.
    fn panel_rows<const MR: usize>(&self, q: usize) -> (usize, usize) {
        let ib = self.i0 + q * MR;
        (ib, MR.min(self.i0 + self.mc - ib))
    }

    /// Panel `q`'s rows where `A` is stored by rows and the panel is whole: `A`, the index of
    /// the panel's first value, the distance between rows.
    fn rows<const MR: usize>(&self, q: usize) -> Option<(&'a [f32], usize, usize)> {
        let (ib, h) = self.panel_rows::<MR>(q);
        (self.ta == Trans::No && h == MR).then_some((self.a, ib * self.k + self.p0, self.k))
    }
}

/// Packs panel `q` of `blk` (`MR` of its rows, zero past its end) into `panel`: for each `p`,
/// the `MR` values of column `p`. Every value is written, padding included (see [`grow`]).
fn pack_panel<const MR: usize>(blk: ABlock<'_>, q: usize, panel: &mut [f32]) {
    let ABlock {
        a,
        ta,
        m,
        k,
        p0,
        kc,
        ..
    } = blk;
    let (ib, h) = blk.panel_rows::<MR>(q);
    match ta {
        Trans::No => {
            // The tile's rows read side by side, each panel step written whole
            // (contiguous stores), rather than one row at a time striding through the
            // panel value by value.
            let rows: [&[f32]; MR] = std::array::from_fn(|i| {
                if i < h {
                    &a[(ib + i) * k + p0..][..kc]
                } else {
                    &ZEROS[..kc]
                }
            });
            // four rows at a time as transposed 4 x 4 blocks (four loads, four stores of
            // four values, where one value at a time took sixteen of each), a tile's last
            // two rows (six-row tiles) as pairs; all the rows advance together, each one's
            // coming lines asked for ahead (a row left out waited on every line from L3)
            let (g4, kc4) = (MR - MR % 4, kc - kc % 4);
            for p in (0..kc4).step_by(4) {
                if p % 16 == 0 {
                    for row in &rows {
                        if let Some(ahead) = row.get(p + 16 * PACK_AHEAD..) {
                            prefetch(ahead);
                        }
                    }
                }
                for g in (0..g4).step_by(4) {
                    let cols = transpose4(std::array::from_fn(|r| {
                        rows[g + r][p..p + 4].try_into().expect("4 values")
                    }));
                    for (i, col) in cols.iter().enumerate() {
                        panel[(p + i) * MR + g..][..4].copy_from_slice(col);
                    }
                }
                if MR - g4 == 2 {
                    let (x, y) = (&rows[g4][p..p + 4], &rows[g4 + 1][p..p + 4]);
                    for i in 0..4 {
                        panel[(p + i) * MR + g4..][..2].copy_from_slice(&[x[i], y[i]]);
                    }
                }
            }
            let paired = if MR - g4 == 2 { MR } else { g4 };
            for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                let from = if p < kc4 { paired } else { 0 };
                for (d, row) in dst[from..].iter_mut().zip(&rows[from..]) {
                    *d = row[p];
                }
            }
        }
        Trans::Yes => {
            for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                let col = &a[(p0 + p) * m + ib..(p0 + p) * m + ib + h];
                if h == MR {
                    // a copy of a known length, moved in registers (a call to memmove
                    // for twelve values costs more than the copy)
                    let dst: &mut [f32; MR] = dst.try_into().expect("MR values");
                    *dst = col.try_into().expect("MR values");
                } else {
                    dst[..h].copy_from_slice(col);
                    dst[h..].fill(0.0);
                }
            }
        }
    }
}

/// Steps of the microkernel's loop per pass at a level with 32 registers: four unrolled run
/// the loop's own instructions (counter, two pointer bumps, branch) a quarter as often, where
/// they had competed with the multiply-adds for ports (the AVX-512 tile with both panels in
/// L1 ran at 84% of the FMA peak rolled, 91% unrolled). With 16 registers the tile leaves
/// three free and the compiler, loading ahead across unrolled steps, spills accumulators to
/// the stack (AVX2 at half speed): one step per pass there.
fn unroll<S: Simd>() -> usize {
    if S::REGISTERS >= 32 {
        4
    } else {
        1
    }
}

/// `acc = A_panel * B_panel` over the panels' `kc` steps: the `MR x NV*LANES` register tile.
/// With `next` (the following `B` panel, as long as this one), the pass also asks for it to
/// be brought into L2: the first row panel against each `B` panel otherwise waits for it
/// from L3, where packing left it.
#[inline(always)]
fn micro<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    a: &[f32],
    b: &[f32],
    next: Option<&[f32]>,
) -> [[S::F; NV]; MR] {
    match next {
        Some(next) => micro_loop::<S, MR, NV, true>(s, a, b, next),
        None => micro_loop::<S, MR, NV, false>(s, a, b, &[]),
    }
}

/// [`micro`]'s loop, with the prefetch of `next` compiled in only where it is asked for
/// (`PREFETCH`): tested in the loop, the option had cost every step a test and a branch.
#[inline(always)]
fn micro_loop<S: Simd, const MR: usize, const NV: usize, const PREFETCH: bool>(
    s: S,
    a: &[f32],
    b: &[f32],
    next: &[f32],
) -> [[S::F; NV]; MR] {
    let nr = NV * S::LANES;
    let mut c = [[s.zero(); NV]; MR];
    let u = unroll::<S>();
    let whole = a.len() / MR / u * u;
    let (a_whole, a_rest) = a.split_at(whole * MR);
    let (b_whole, b_rest) = b.split_at(whole * nr);
    let passes = a_whole
        .chunks_exact(MR * u)
        .zip(b_whole.chunks_exact(nr * u));
    for (j, (ap, bp)) in passes.enumerate() {
        if PREFETCH {
            for line in next[j * nr * u..(j + 1) * nr * u].chunks_exact(16) {
                prefetch_l2(line);
            }
        }
        for i in 0..u {
            step::<S, MR, NV>(
                s,
                &mut c,
                &ap[i * MR..(i + 1) * MR],
                &bp[i * nr..(i + 1) * nr],
            );
        }
    }
    for (ap, bp) in a_rest.chunks_exact(MR).zip(b_rest.chunks_exact(nr)) {
        step::<S, MR, NV>(s, &mut c, ap, bp);
    }
    c
}

/// One step of the inner dimension: the tile plus a column of the `A` panel times a row of the
/// `B` panel.
#[inline(always)]
fn step<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    c: &mut [[S::F; NV]; MR],
    ap: &[f32],
    bp: &[f32],
) {
    let ap: &[f32; MR] = ap.try_into().expect("MR values");
    let bv: [S::F; NV] = std::array::from_fn(|v| s.load(&bp[v * S::LANES..]));
    for i in 0..MR {
        let ai = s.splat(ap[i]);
        for v in 0..NV {
            c[i][v] = s.mul_add(ai, bv[v], c[i][v]);
        }
    }
}

/// [`micro`] for a panel of `A` read where it is stored (`rows`: `A`, the index of the panel's
/// first value, the distance between its rows) rather than packed. Each value goes from its
/// load straight into its broadcast: gathered into an array first to call [`step`], the loads
/// were scheduled ahead of the multiply-adds, which then waited on them.
#[inline(always)]
fn micro_rows<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    rows: (&[f32], usize, usize),
    kc: usize,
    b: &[f32],
    next: Option<&[f32]>,
) -> [[S::F; NV]; MR] {
    let nr = NV * S::LANES;
    match next {
        Some(next) => {
            micro_rows_loop::<S, MR, NV, true, false>(s, rows, kc, (b, nr), next, &mut [])
        }
        None => micro_rows_loop::<S, MR, NV, false, false>(s, rows, kc, (b, nr), &[], &mut []),
    }
}

/// [`micro_rows`] against a panel of `B` read where it is stored (`src`: `B` from the panel's
/// first value, the distance between its rows), each step's `B` values also written to
/// `panel`, which then holds the packed panel: the first tile against each panel packs it,
/// its loads overlapping the tile's multiply-adds, instead of a pass of its own over the
/// block before the tiles.
#[inline(always)]
fn micro_rows_fill<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    rows: (&[f32], usize, usize),
    kc: usize,
    src: (&[f32], usize),
    panel: &mut [f32],
) -> [[S::F; NV]; MR] {
    micro_rows_loop::<S, MR, NV, false, true>(s, rows, kc, src, &[], panel)
}

/// The loop of [`micro_rows`] and [`micro_rows_fill`]: `B`'s rows `ldb` apart (the packed
/// panel's width, or `B`'s row length where it is read in place), the prefetch of `next`
/// (`PREFETCH`) and the writing of each step's `B` values to `fill` (`FILL`, which also asks
/// for `B`'s coming rows) compiled in only where they are asked for: tested in the loop, an
/// option had cost every step a test and a branch. `A`'s rows and `B` are walked by pointer,
/// so that a step is little more than its loads, broadcasts and multiply-adds: indexed from
/// `A`'s start, each broadcast had needed its address computed in full first, and the front
/// end, not the FMA units, had set the pace.
#[inline(always)]
fn micro_rows_loop<
    S: Simd,
    const MR: usize,
    const NV: usize,
    const PREFETCH: bool,
    const FILL: bool,
>(
    s: S,
    (a, start, ld): (&[f32], usize, usize),
    kc: usize,
    (b, ldb): (&[f32], usize),
    next: &[f32],
    fill: &mut [f32],
) -> [[S::F; NV]; MR] {
    let nr = NV * S::LANES;
    // the packed panel's rows are `nr` apart, known when the loop is compiled
    let ldb = if FILL { ldb } else { nr };
    assert!(start + (MR - 1) * ld + kc <= a.len());
    assert!(kc == 0 || (kc - 1) * ldb + nr <= b.len());
    assert!(!PREFETCH || next.len() >= kc * nr);
    assert!(!FILL || fill.len() >= kc * nr);
    let mut c = [[s.zero(); NV]; MR];
    // SAFETY: by the asserts, row `i < MR` of `A`, whose pointer starts at `start + i * ld`,
    // is read at offsets `p < kc`, within `a`; `bp` is at `p * ldb` at step `p < kc` and
    // `nr` values are read from it, within `b` (with `FILL`, the row `FILL_AHEAD` further on
    // is prefetched only while it is one of those rows); `np` and `dst` advance `nr` per step
    // for `kc` steps, `np` only prefetched and staying within `next` (with `PREFETCH`), `dst`
    // writing `nr` values each within `fill` (with `FILL`), which aliases neither `a` nor `b`
    // (it is borrowed mutably).
    #[allow(unsafe_code)]
    unsafe {
        let rows: [*const f32; MR] = std::array::from_fn(|i| a.as_ptr().add(start + i * ld));
        let (mut bp, mut np, mut dst) = (b.as_ptr(), next.as_ptr(), fill.as_mut_ptr());
        for p in 0..kc {
            if PREFETCH {
                prefetch_l2(std::slice::from_raw_parts(np, 1));
                np = np.add(nr);
            }
            if FILL && p + FILL_AHEAD < kc {
                let ahead = std::slice::from_raw_parts(bp.add(FILL_AHEAD * ldb), nr);
                prefetch(ahead);
                prefetch(&ahead[nr - 1..]);
            }
            let bv: [S::F; NV] = std::array::from_fn(|v| {
                s.load_at(std::slice::from_raw_parts(bp, nr), v * S::LANES)
            });
            if FILL {
                for (v, &x) in bv.iter().enumerate() {
                    s.store(
                        x,
                        std::slice::from_raw_parts_mut(dst.add(v * S::LANES), S::LANES),
                    );
                }
                dst = dst.add(nr);
            }
            for (ci, row) in c.iter_mut().zip(&rows) {
                let ai = s.splat(*row.add(p));
                for (cv, &b) in ci.iter_mut().zip(&bv) {
                    *cv = s.mul_add(ai, b, *cv);
                }
            }
            bp = bp.add(ldb);
        }
    }
    c
}

/// Steps ahead at which [`micro_rows_fill`] asks for `B`'s coming rows.
const FILL_AHEAD: usize = 16;

/// `C[row0.., j0..] += tile` for the valid `h x w` part, or `= tile` when `fresh` (the first
/// block of inner steps of a product that overwrites `C`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    c: &mut CBlock<'_>,
    row0: usize,
    j0: usize,
    h: usize,
    w: usize,
    tile: &[[S::F; NV]; MR],
    fresh: bool,
) {
    let nr = NV * S::LANES;
    for (i, t) in tile.iter().enumerate().take(h) {
        let row = &mut c.row(row0 + i)[j0..][..w];
        if w == nr {
            for (part, &v) in row.chunks_exact_mut(S::LANES).zip(t) {
                let v = if fresh { v } else { s.add(s.load(part), v) };
                s.store(v, part);
            }
        } else {
            let mut vals = [0.0f32; 64];
            for (v, &tv) in t.iter().enumerate() {
                s.store(tv, &mut vals[v * S::LANES..]);
            }
            if fresh {
                row.copy_from_slice(&vals[..w]);
            } else {
                row.iter_mut().zip(&vals).for_each(|(d, &v)| *d += v);
            }
        }
    }
}

/// The tiles of one row block of `A` against the packed column panels of `B` (`bp`), added
/// to `c` from its column `col0` (written over it when `fresh`). Whole panels of `A` stored by
/// rows are read where they are; the others are packed into `pa` on the first pass.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    ablk: ABlock<'_>,
    pa: &mut [f32],
    bpanels: BPanels<'_>,
    nc: usize,
    c: &mut CBlock<'_>,
    col0: usize,
    fresh: bool,
) {
    let (kc, mc) = (ablk.kc, ablk.mc);
    let nr = NV * S::LANES;
    let mut bpanels = bpanels;
    let panels = bpanels.values().len() / (kc * nr);
    let direct = panels <= direct_a_panels::<S>();
    for q in 0..panels {
        let jb = q * nr;
        let w = nr.min(nc - jb);
        let range = q * kc * nr..(q + 1) * kc * nr;
        // the tile against panel `q` that packs it, if any: the first, rows read in place
        let mut r0 = 0;
        if let BPanels::Fill(blk, buf) = &mut bpanels {
            let panel = &mut buf[range.clone()];
            match ablk.rows::<MR>(0) {
                Some(rows) if direct && w == nr => {
                    prefetch_tile(c, 0, col0 + jb, MR, w);
                    let src = (&blk.b[blk.p0 * blk.n + blk.j0 + jb..], blk.n);
                    let acc = micro_rows_fill::<S, MR, NV>(s, rows, kc, src, panel);
                    store::<S, MR, NV>(s, c, 0, col0 + jb, MR, w, &acc, fresh);
                    r0 = 1;
                }
                _ => {
                    let one = BBlock {
                        j0: blk.j0 + jb,
                        nc: w,
                        ..*blk
                    };
                    pack_b_at(nr, one, panel, false)
                }
            }
        }
        let bp = bpanels.values();
        let bpanel = &bp[range];
        // (a panel packed by its first tile is not there yet to be asked for)
        let next = match bpanels {
            BPanels::Packed(_) => bp.get((q + 1) * kc * nr..(q + 2) * kc * nr),
            BPanels::Fill(..) => None,
        };
        for (r, apanel) in pa.chunks_exact_mut(kc * MR).enumerate().skip(r0) {
            let h = MR.min(mc - r * MR);
            prefetch_tile(c, r * MR, col0 + jb, h, w);
            let next = next.filter(|_| r == 0);
            let acc = match ablk.rows::<MR>(r) {
                Some(rows) if direct => micro_rows::<S, MR, NV>(s, rows, kc, bpanel, next),
                _ => {
                    if q == 0 {
                        pack_panel::<MR>(ablk, r, apanel);
                    }
                    micro::<S, MR, NV>(s, apanel, bpanel, next)
                }
            };
            store::<S, MR, NV>(s, c, r * MR, col0 + jb, h, w, &acc, fresh);
        }
    }
}

/// The `h` rows of `C` from `row0`, columns `j0..j0 + w`, which a tile's store reads after its
/// `kc` steps: fetched at the tile's start, so that their (mostly L3) latency hides behind the
/// multiply-adds.
#[inline(always)]
fn prefetch_tile(c: &mut CBlock<'_>, row0: usize, j0: usize, h: usize, w: usize) {
    for i in 0..h {
        let row = &c.row(row0 + i)[j0..][..w];
        prefetch(row);
        prefetch(&row[w - 1..]);
    }
}

/// Where [`block`] finds `B`'s panels: packed already, or to be packed by its first tile
/// against each panel (`B` stored by rows; the block's first row block only).
enum BPanels<'a> {
    Packed(&'a [f32]),
    Fill(BBlock<'a>, &'a mut [f32]),
}

impl BPanels<'_> {
    /// The panels' values (those of a `Fill` as far as they are packed).
    fn values(&self) -> &[f32] {
        match self {
            BPanels::Packed(bp) => bp,
            BPanels::Fill(_, buf) => buf,
        }
    }

    /// The same panels for a shorter borrow.
    fn reborrow(&mut self) -> BPanels<'_> {
        match self {
            BPanels::Packed(bp) => BPanels::Packed(bp),
            BPanels::Fill(blk, buf) => BPanels::Fill(*blk, buf),
        }
    }
}

/// `c[j] += a . row j of b` for the rows of `b` (each `a.len()` long) that `c` covers: eight
/// rows at a time, so eight independent chains of multiply-adds hide the FMA latency and
/// each load of `a` serves eight rows.
#[inline(always)]
fn dots<S: Simd>(s: S, a: &[f32], b: &[f32], c: &mut [f32]) {
    let k = a.len();
    let j0 = c.len() - c.len() % 8;
    let (whole, rest) = c.split_at_mut(j0);
    for (cg, rows) in whole.chunks_exact_mut(8).zip(b.chunks_exact(8 * k)) {
        dots_n::<S, 8>(s, a, rows, cg);
    }
    for (j, cj) in rest.iter_mut().enumerate() {
        let row = &b[(j0 + j) * k..(j0 + j + 1) * k];
        dots_n::<S, 1>(s, a, row, std::slice::from_mut(cj));
    }
}

/// `c[r] += a . rows[r * k..(r + 1) * k]` for `R` rows (`k = a.len()`), with the loads checked
/// once before the loop: a bounds check per load of nine streams kept this loop at a third of
/// the speed the loads allow. The lanes' partial sums are added once at the end and the last
/// `k % LANES` products after them, in the same order for every row.
#[inline(always)]
#[allow(unsafe_code)]
fn dots_n<S: Simd, const R: usize>(s: S, a: &[f32], rows: &[f32], c: &mut [f32]) {
    let k = a.len();
    let cut = k - k % S::LANES;
    let rows: [&[f32]; R] = std::array::from_fn(|r| &rows[r * k..(r + 1) * k]);
    let mut acc = [s.zero(); R];
    for p in (0..cut).step_by(S::LANES) {
        // SAFETY: `p + LANES <= cut <= k`, the length of `a` and of every row.
        let x = unsafe { s.load_at(a, p) };
        for (acc, row) in acc.iter_mut().zip(&rows) {
            // SAFETY: as above.
            let y = unsafe { s.load_at(row, p) };
            *acc = s.mul_add(x, y, *acc);
        }
    }
    for ((cj, acc), row) in c.iter_mut().zip(&acc).zip(&rows) {
        let tail: f32 = a[cut..].iter().zip(&row[cut..]).map(|(x, y)| x * y).sum();
        *cj += s.reduce_add(*acc) + tail;
    }
}

/// `c += x * a` (a row of `C` plus a scaled row of `B`), the last `len % LANES` values through
/// a padded vector so that every value takes the same instructions.
#[inline(always)]
fn axpy<S: Simd>(s: S, a: f32, x: &[f32], c: &mut [f32]) {
    let av = s.splat(a);
    let cut = c.len() - c.len() % S::LANES;
    let (whole, rest) = c.split_at_mut(cut);
    for (cv, xv) in whole
        .chunks_exact_mut(S::LANES)
        .zip(x.chunks_exact(S::LANES))
    {
        s.store(s.mul_add(av, s.load(xv), s.load(cv)), cv);
    }
    if !rest.is_empty() {
        let (mut cp, mut xp) = ([0.0f32; 16], [0.0f32; 16]);
        cp[..rest.len()].copy_from_slice(rest);
        xp[..rest.len()].copy_from_slice(&x[cut..cut + rest.len()]);
        s.store(s.mul_add(av, s.load(&xp), s.load(&cp)), &mut cp);
        rest.copy_from_slice(&cp[..rest.len()]);
    }
}

/// Products with fewer rows than a register tile (a convolution with few output channels)
/// skip packing: `A B` as scaled rows of `B` added to each row of `C`, `A B^T` as dot products
/// of contiguous rows.
#[inline(always)]
fn few_rows<S: Simd>(s: S, pr: Product<'_>, c: &mut [f32]) {
    let Product {
        m, k, n, a, b, tb, ..
    } = pr;
    for (i, crow) in c.chunks_exact_mut(n).enumerate().take(m) {
        let arow = &a[i * k..(i + 1) * k];
        match tb {
            Trans::No => axpys(s, arow, b, crow),
            Trans::Yes => dots(s, arow, b, crow),
        }
    }
}

/// `c += a B` for one row `a` and `B` row-major (`a.len()` rows of `c.len()`).
#[inline(always)]
fn axpys<S: Simd>(s: S, a: &[f32], b: &[f32], c: &mut [f32]) {
    let n = c.len();
    for (p, &ap) in a.iter().enumerate() {
        axpy(s, ap, &b[p * n..(p + 1) * n], c);
    }
}

/// A block of `C`: `rows` rows of `cols` values, row `i` starting `i * ldc` values after the
/// first. Made from the whole `&mut [f32]` and cut into disjoint blocks, by rows or by columns,
/// that threads write at the same time: a slice cannot be cut by columns, and writing each
/// thread's columns into a buffer of its own, added to `C` after, had cost a zeroed
/// allocation and a pass over `C` per product.
struct CBlock<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    ldc: usize,
    _c: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: a `CBlock` is a unique borrow of its values, as a `&mut [f32]` is (it is made from
// one, and cutting it makes blocks that share no value), so it may move to another thread.
#[allow(unsafe_code)]
unsafe impl Send for CBlock<'_> {}

impl<'a> CBlock<'a> {
    /// All of `c` as `rows` rows of `ldc` values.
    fn new(c: &'a mut [f32], rows: usize, ldc: usize) -> Self {
        assert!(
            rows * ldc <= c.len(),
            "C holds {} values, not {rows} x {ldc}",
            c.len()
        );
        CBlock {
            ptr: c.as_mut_ptr(),
            rows,
            cols: ldc,
            ldc,
            _c: std::marker::PhantomData,
        }
    }

    /// Row `i`'s values in the block.
    #[inline(always)]
    fn row(&mut self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} of a block of {} rows", self.rows);
        // SAFETY: row `i < rows` of the block lies inside the slice the block was made from
        // (`new` checked `rows * ldc` values, cuts only narrow it, and `cols <= ldc`), and the
        // block holds its values uniquely; the returned borrow holds `self` mutably, so no two
        // rows are handed out at once.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr.add(i * self.ldc), self.cols)
        }
    }

    /// A block of the same values for a shorter borrow.
    fn reborrow(&mut self) -> CBlock<'_> {
        CBlock {
            _c: std::marker::PhantomData,
            ..*self
        }
    }

    /// The blocks of rows `bounds[t]..bounds[t + 1]`, each with its first row (`bounds`
    /// increasing, the last at most `rows`).
    fn split_rows(self, bounds: &[usize]) -> Vec<(usize, CBlock<'a>)> {
        self.cut(bounds, true)
    }

    /// The blocks of columns `bounds[t]..bounds[t + 1]` of every row, each with its first
    /// column (`bounds` increasing, the last at most `cols`).
    fn split_cols(self, bounds: &[usize]) -> Vec<(usize, CBlock<'a>)> {
        self.cut(bounds, false)
    }

    /// [`split_rows`](Self::split_rows) (`rows`) or [`split_cols`](Self::split_cols).
    fn cut(self, bounds: &[usize], rows: bool) -> Vec<(usize, CBlock<'a>)> {
        let (len, step) = if rows {
            (self.rows, self.ldc)
        } else {
            (self.cols, 1)
        };
        bounds
            .windows(2)
            .map(|w| {
                assert!(w[0] <= w[1] && w[1] <= len, "{w:?} of {len}");
                // SAFETY: `w[0] <= rows` rows in, or `w[0] <= cols <= ldc` values into the
                // first row: inside the block or one past it (a block of no rows may hold no
                // values at all: its pointer stays).
                #[allow(unsafe_code)]
                let ptr = if self.rows == 0 {
                    self.ptr
                } else {
                    unsafe { self.ptr.add(w[0] * step) }
                };
                let part = CBlock { ptr, ..self };
                let part = match rows {
                    true => CBlock {
                        rows: w[1] - w[0],
                        ..part
                    },
                    false => CBlock {
                        cols: w[1] - w[0],
                        ..part
                    },
                };
                (w[0], part)
            })
            .collect()
    }
}

/// The operands of one product: `op(A)` is `m x k`, `op(B)` is `k x n`.
#[derive(Clone, Copy)]
pub(super) struct Product<'a> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) a: &'a [f32],
    pub(super) ta: Trans,
    pub(super) b: &'a [f32],
    pub(super) tb: Trans,
    /// `C` is written over (its values before are never read), not added to.
    pub(super) fresh: bool,
}

/// `C += op(A) op(B)` with the level of `s` and its `MR x NV*LANES` tile.
fn gemm_level<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    pr: Product<'_>,
    c: &mut [f32],
    pre: Option<&PackedB>,
) {
    let Product { m, k, n, ta, .. } = pr;
    let nr = NV * S::LANES;
    let kc = kc_for(m);
    // the paths that only add to `C`; the packed one writes it over in its first block
    if pr.fresh && (m == 1 || m < MR && ta == Trans::No || k == 0) {
        c.fill(0.0);
    }
    if m == 1 {
        return gemv(s, pr, c);
    }
    if m < MR && ta == Trans::No {
        return s.run(FewRows { pr, c });
    }
    let threads = rayon::current_num_threads().max(1);
    // The row split hands work to the pool once per block of the inner dimension (packing,
    // then the tiles), so each block must be worth a hand-over; the column split hands over
    // once per product and each thread packs and keeps just its part of `B`, but every thread
    // packs all of `A`: it pays where `B` is at least as large (a batch-64 layer's weight, a
    // square product), and only with two tile widths of columns per thread at least.
    let wide_split = n >= m && n >= 2 * nr * threads;
    // (measured on the CIFAR net's 64 x 64 x 1024 products: a split of less than about
    // 8M multiply-adds ran slower on two threads than on one)
    let per_handover = if wide_split {
        m * n * k / 4
    } else {
        m * n * k.min(kc)
    };
    let parallel = per_handover >= PARALLEL_MIN_FLOPS && m > MR && super::may_split();
    if parallel && m * n * k >= POOL_MIN_FLOPS && rayon::current_thread_index().is_none() {
        // Off the pool, a split runs its first part on this thread and waits for the rest; a
        // product this long runs all its parts on the pool's threads instead, this one asleep
        // until the end (two wake-ups, a few hundredths of its time): with a third thread in
        // play on a machine with no core to spare for it, one product in ten had waited for
        // a part's thread to get a core back.
        return super::on_pool_thread(|| gemm_level::<S, MR, NV>(s, pr, c, pre));
    }
    if parallel && wide_split {
        return split_columns::<S, MR, NV>(s, pr, c, threads, pre);
    }
    let c = &mut CBlock::new(c, m, n);
    if parallel {
        // one hand-over to the pool per product, not one per block of the inner dimension
        rayon::scope(|_| gemm_cols::<S, MR, NV>(s, pr, 0..n, c, true, pre));
    } else {
        gemm_cols::<S, MR, NV>(s, pr, 0..n, c, false, pre);
    }
}

/// A product on the pool by columns: each thread takes a range of columns of `op(B)` and runs
/// the whole product for them alone (its own packing of its `B` columns and of `A`, no
/// hand-overs between blocks), writing its columns of `C` in place. Splitting rows instead
/// leaves `B`'s packing to one thread while the others wait, and has every thread read the
/// panels the others packed.
fn split_columns<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    pr: Product<'_>,
    c: &mut [f32],
    threads: usize,
    pre: Option<&PackedB>,
) {
    let (m, n) = (pr.m, pr.n);
    let per = n.div_ceil(threads).next_multiple_of(NV * S::LANES);
    let bounds: Vec<usize> = (0..n).step_by(per).chain([n]).collect();
    let mut parts = CBlock::new(c, m, n).split_cols(&bounds);
    super::run_parts(&mut parts, |(j, cb)| {
        let w = cb.cols;
        gemm_cols::<S, MR, NV>(s, pr, *j..*j + w, cb, false, pre);
    });
}

/// The first row of each task's block of `C`, then `m`: blocks of whole register tiles (the
/// last may end short) of at most `max_rows` rows. With `threads` > 1 the tiles are first
/// shared among the threads to within one tile, each share cut into at least two equal
/// blocks: the pool's halving split then gives every thread the same work, where blocks of
/// one size with a short last one had left a thread up to a block behind.
fn row_blocks(m: usize, mr: usize, max_rows: usize, threads: usize) -> Vec<usize> {
    let tiles = m.div_ceil(mr);
    let per_task = (max_rows / mr).max(1);
    let min_tasks = if threads > 1 { 2 } else { 1 };
    let mut bounds = vec![0];
    for t in 0..threads {
        let (lo, hi) = (tiles * t / threads, tiles * (t + 1) / threads);
        let share = hi - lo;
        let tasks = share.div_ceil(per_task).max(min_tasks).min(share);
        for j in 1..=tasks {
            bounds.push(((lo + share * j / tasks) * mr).min(m));
        }
    }
    bounds
}

/// `C += op(A) op(B)[.., cols]`, where `c`'s column 0 is column `cols.start` of the
/// product: the BLIS loops (column blocks, inner-dimension blocks, row blocks of at most
/// [`MC`] rows from [`row_blocks`], then register tiles), row blocks on the pool when
/// `parallel`; `B`'s panels taken from `pre` when it is given.
fn gemm_cols<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    pr: Product<'_>,
    cols: std::ops::Range<usize>,
    c: &mut CBlock<'_>,
    parallel: bool,
    pre: Option<&PackedB>,
) {
    let Product {
        m,
        k,
        n,
        a,
        ta,
        b,
        tb,
        fresh,
    } = pr;
    let nr = NV * S::LANES;
    let kc_max = kc_for(m);
    let mut pb = Kept::take(&PACK_B);
    let mut pa = Kept::take(&PACK_A);
    let threads = if parallel {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let bounds = row_blocks(m, MR, MC, threads);
    for j0 in cols.clone().step_by(NC) {
        let nc = NC.min(cols.end - j0);
        for p0 in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - p0);
            let blk = BBlock {
                b,
                tb,
                k,
                n,
                p0,
                kc,
                j0,
                nc,
            };
            // one thread, `A` read in place and `B` stored by rows: the first row block's
            // first tile against each panel packs it (see [`micro_rows_fill`])
            let fuse = pre.is_none()
                && !parallel
                && ta == Trans::No
                && tb == Trans::No
                && nc.div_ceil(nr) <= direct_a_panels::<S>();
            let mut bpanels = match pre {
                Some(p) => BPanels::Packed(p.block(p0, j0, nc)),
                None if fuse => {
                    let len = nc.div_ceil(nr) * kc * nr;
                    grow(&mut pb.buf, len);
                    BPanels::Fill(blk, &mut bytemuck::cast_slice_mut(&mut pb.buf)[..len])
                }
                None => BPanels::Packed(pack_b_nr(nr, blk, &mut pb.buf, parallel)),
            };
            let task =
                |pa: &mut Kept<f32>, (i0, c_rows): (usize, CBlock<'_>), bpanels: BPanels<'_>| {
                    let mc = c_rows.rows;
                    let ablk = ABlock {
                        a,
                        ta,
                        m,
                        k,
                        i0,
                        mc,
                        p0,
                        kc,
                    };
                    let len = mc.div_ceil(MR) * kc * MR;
                    if pa.buf.len() < len {
                        pa.buf.resize(len, 0.0);
                    }
                    let col0 = j0 - cols.start;
                    s.run(Block::<MR, NV> {
                        ablk,
                        pa: &mut pa.buf[..len],
                        bp: bpanels,
                        nc,
                        c: c_rows,
                        col0,
                        fresh: fresh && p0 == 0,
                    });
                };
            let blocks = c.reborrow().split_rows(&bounds);
            if parallel {
                let bp = bpanels.values();
                blocks.into_par_iter().for_each_init(
                    || Kept::take(&PACK_A),
                    |pa, x| task(pa, x, BPanels::Packed(bp)),
                );
            } else {
                for x in blocks {
                    task(&mut pa, x, bpanels.reborrow());
                    // the first row block packed every panel
                    if let BPanels::Fill(_, buf) = bpanels {
                        bpanels = BPanels::Packed(buf);
                    }
                }
            }
        }
    }
}

/// `c += a op(B)` for one row `a` (length `k`): dot products with the rows of `B` stored
/// transposed, or a sum of scaled rows of `B`.
fn gemv<S: Simd>(s: S, pr: Product<'_>, c: &mut [f32]) {
    let Product { k, n, a, b, tb, .. } = pr;
    match tb {
        Trans::Yes => {
            // Memory-bound: two threads pay off well below the packed product's threshold.
            if n * k >= PARALLEL_MIN_FLOPS / 8 && super::may_split() {
                c.par_chunks_mut(64).enumerate().for_each(|(t, cs)| {
                    s.run(Dots(a, &b[t * 64 * k..], cs));
                });
            } else {
                s.run(Dots(a, b, c));
            }
        }
        Trans::No => s.run(Axpys(a, &b[..k * n], c)),
    }
}

/// [`few_rows`] as a [`Kernel`].
struct FewRows<'a> {
    pr: Product<'a>,
    c: &'a mut [f32],
}

impl<S: Simd> Kernel<S> for FewRows<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        few_rows(s, self.pr, self.c)
    }
}

/// [`block`] as a [`Kernel`].
struct Block<'a, const MR: usize, const NV: usize> {
    ablk: ABlock<'a>,
    pa: &'a mut [f32],
    bp: BPanels<'a>,
    nc: usize,
    c: CBlock<'a>,
    col0: usize,
    fresh: bool,
}

impl<S: Simd, const MR: usize, const NV: usize> Kernel<S> for Block<'_, MR, NV> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let Block {
            ablk,
            pa,
            bp,
            nc,
            mut c,
            col0,
            fresh,
        } = self;
        block::<S, MR, NV>(s, ablk, pa, bp, nc, &mut c, col0, fresh)
    }
}

/// [`dots`] as a [`Kernel`].
struct Dots<'a>(&'a [f32], &'a [f32], &'a mut [f32]);

impl<S: Simd> Kernel<S> for Dots<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        dots(s, self.0, self.1, self.2)
    }
}

/// [`axpys`] as a [`Kernel`].
struct Axpys<'a>(&'a [f32], &'a [f32], &'a mut [f32]);

impl<S: Simd> Kernel<S> for Axpys<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        axpys(s, self.0, self.1, self.2)
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
        for (level, (m, k, n)) in crate::kernels::simd::available_levels()
            .into_iter()
            .flat_map(|l| [(l, (320, 160, 96)), (l, (96, 320, 640))])
        {
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
                                add_product(level, (m, k, n), &a, Trans::No, &b, Trans::No, &mut c);
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

    /// `C += op(A) op(B)` at `level`, `B` packed by the product itself: the product most
    /// tests check.
    fn add_product(
        level: Level,
        (m, k, n): (usize, usize, usize),
        a: &[f32],
        ta: Trans,
        b: &[f32],
        tb: Trans,
        c: &mut [f32],
    ) {
        gemm_f32(level, m, k, n, a, ta, b, tb, c, false, None)
    }

    fn vals(len: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::rng::Rng::seed(seed);
        (0..len).map(|_| r.uniform(-1.0, 1.0) as f32).collect()
    }

    const ODD: [usize; 11] = [1, 3, 6, 7, 12, 15, 17, 31, 33, 65, 257];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn packed_f32_matches_the_definition_on_odd_sizes(mi in 0..ODD.len(), ki in 0..ODD.len(), ni in 0..ODD.len(), ta in any::<bool>(), tb in any::<bool>(), seed in 0u64..100) {
            let (m, k, n) = (ODD[mi], ODD[ki], ODD[ni]);
            let ta = if ta { Trans::Yes } else { Trans::No };
            let tb = if tb { Trans::Yes } else { Trans::No };
            let a = vals(m * k, seed);
            let b = vals(k * n, seed + 1);
            let r = reference(m, k, n, &a, ta, &b, tb);
            for level in crate::kernels::simd::available_levels() {
                let mut c = vals(m * n, seed + 2);
                let c0 = c.clone();
                add_product(level, (m, k, n), &a, ta, &b, tb, &mut c);
                for i in 0..m * n {
                    let want = r[i] + c0[i] as f64;
                    prop_assert!((c[i] as f64 - want).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()), "{level} ({m},{k},{n}) {i}: {} vs {want}", c[i]);
                }
            }
        }
    }

    /// The packing buffers are reused without clearing or shrinking: a short row block after
    /// a full one (130 rows: 120 then 10, one thread) and a small product after a large one
    /// must use only what they packed. Reading the whole buffer ran the tiles past `C`.
    #[test]
    fn reused_packing_buffers_leave_no_stale_values() {
        for level in crate::kernels::simd::available_levels() {
            for (ta, tb) in [
                (Trans::No, Trans::No),
                (Trans::Yes, Trans::No),
                (Trans::No, Trans::Yes),
                (Trans::Yes, Trans::Yes),
            ] {
                for (m, k, n) in [(250, 1100, 70), (13, 9, 21), (130, 600, 20), (17, 3, 5)] {
                    let a = vals(m * k, (m + k) as u64);
                    let b = vals(k * n, (k + n) as u64);
                    let r = reference(m, k, n, &a, ta, &b, tb);
                    let mut c = vec![0.0; m * n];
                    add_product(level, (m, k, n), &a, ta, &b, tb, &mut c);
                    for (i, (&got, &want)) in c.iter().zip(&r).enumerate() {
                        assert!(
                            (got as f64 - want).abs()
                                <= 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()),
                            "{level} {ta:?} {tb:?} ({m},{k},{n}) {i}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn row_blocks_are_whole_tiles_and_share_work_evenly() {
        for m in [1, 7, 12, 13, 100, 1024, 1031] {
            for threads in [1, 2, 3, 4] {
                for max_rows in [12, 120] {
                    let b = super::row_blocks(m, 12, max_rows, threads);
                    assert_eq!(
                        (b[0], *b.last().unwrap()),
                        (0, m),
                        "{m} {threads} {max_rows}"
                    );
                    for w in b.windows(2) {
                        assert!(w[0] < w[1] && w[1] - w[0] <= max_rows, "{b:?}");
                        assert!(w[0] % 12 == 0, "{b:?} starts mid-tile");
                    }
                    // the pool's halving split gives each half of the blocks to one of two
                    // threads: the halves' tiles differ by at most one
                    if threads == 2 && b.len() % 2 == 1 {
                        let tiles = |r: &[usize]| (r[r.len() - 1] - r[0]).div_ceil(12);
                        let half = (b.len() - 1) / 2;
                        let (lo, hi) = (tiles(&b[..=half]), tiles(&b[half..]));
                        assert!(lo.abs_diff(hi) <= 1, "{m}: {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn large_products_split_across_threads_and_agree() {
        // wide and square products split by columns, a tall one by rows; three threads make
        // shares that do not fall on tile boundaries
        for (m, k, n) in [(300, 600, 1100), (333, 300, 333), (700, 300, 150)] {
            let a = vals(m * k, 1);
            let b = vals(k * n, 2);
            let r = reference(m, k, n, &a, Trans::No, &b, Trans::Yes);
            for threads in [2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                for level in crate::kernels::simd::available_levels() {
                    let mut c = vec![0.5; m * n];
                    pool.install(|| {
                        add_product(level, (m, k, n), &a, Trans::No, &b, Trans::Yes, &mut c)
                    });
                    for i in (0..m * n).step_by(7) {
                        let want = r[i] + 0.5;
                        assert!((c[i] as f64 - want).abs() < 1e-3, "{m}x{k}x{n} {level} {i}");
                    }
                }
            }
        }
    }

    /// Whether a tile of `A` is read where it is stored (a whole tile of `A` stored by rows,
    /// in a block with few enough `B` panels) or packed (`A` stored transposed, a partial
    /// tile, or at AVX-512 a block with many panels), and whether a panel of `B` is packed by
    /// the first tile against it (both stored by rows, one thread per column range) or ahead
    /// of the tiles (`B` stored transposed), each value of `C` gets the same chain of
    /// multiply-adds: the products of `A` and `B`, of `A` stored transposed and `B`, and of
    /// `A` and `B` stored transposed have the same bits, for products narrow and wide (a
    /// partial last panel), row counts with and without a partial last tile, and one or two
    /// blocks of inner steps.
    #[test]
    fn operands_read_in_place_or_packed_give_the_same_bits() {
        for level in crate::kernels::simd::available_levels() {
            let nr = tile(level).1;
            for n in [2 * nr + 3, 27 * nr + 5, 4 * nr] {
                for (m, k) in [(37, 33), (130, 1100), (12, 7)] {
                    let a = vals(m * k, (m + k) as u64);
                    let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
                    let b = vals(k * n, 5);
                    let bt: Vec<f32> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
                    let mut rows = vals(m * n, 8);
                    let (mut a_cols, mut b_cols) = (rows.clone(), rows.clone());
                    add_product(level, (m, k, n), &a, Trans::No, &b, Trans::No, &mut rows);
                    add_product(
                        level,
                        (m, k, n),
                        &at,
                        Trans::Yes,
                        &b,
                        Trans::No,
                        &mut a_cols,
                    );
                    add_product(
                        level,
                        (m, k, n),
                        &a,
                        Trans::No,
                        &bt,
                        Trans::Yes,
                        &mut b_cols,
                    );
                    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&rows), bits(&a_cols), "{m}x{k}x{n} {level}: A");
                    assert_eq!(bits(&rows), bits(&b_cols), "{m}x{k}x{n} {level}: B");
                }
            }
        }
    }

    /// A product that overwrites `C` never reads it (here all NaN) and gives the bits of the
    /// same product added onto zeros, on every path: one row, fewer rows than a tile, no inner
    /// steps, one and two blocks of them, on one thread and split by rows or columns, with
    /// `B` packed ahead or not.
    #[test]
    fn overwriting_products_never_read_c_and_match_adding_onto_zeros() {
        let shapes = [
            (1, 37, 50),
            (3, 33, 40),
            (20, 0, 30),
            (33, 700, 47),
            (130, 1100, 20),
            (40, 300, 400),
        ];
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for level in crate::kernels::simd::available_levels() {
                for (m, k, n) in shapes {
                    for (ta, tb) in [(Trans::No, Trans::No), (Trans::Yes, Trans::Yes)] {
                        let a = vals(m * k, 3);
                        let b = vals(k * n, 4);
                        let (mut added, mut written) = (vec![0.0; m * n], vec![f32::NAN; m * n]);
                        pool.install(|| {
                            add_product(level, (m, k, n), &a, ta, &b, tb, &mut added);
                            gemm_f32(level, m, k, n, &a, ta, &b, tb, &mut written, true, None);
                        });
                        let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                        let at = format!("{level} ({m},{k},{n}) {ta:?} {tb:?} {threads} threads");
                        assert!(bits(&added) == bits(&written), "{at}");
                        if ta == Trans::No && k > 0 && packs_b(level, m, ta) {
                            let pre = pack_whole_b(level, m, k, n, &b, tb);
                            let mut c = vec![f32::NAN; m * n];
                            pool.install(|| {
                                gemm_f32(level, m, k, n, &a, ta, &b, tb, &mut c, true, Some(&pre))
                            });
                            assert!(bits(&added) == bits(&c), "{at}, B packed ahead");
                        }
                    }
                }
            }
        }
    }

    /// A product long enough to be handed to the pool whole when it is called from outside
    /// the pool gives the bits it gives on one thread.
    #[test]
    fn a_product_handed_to_the_pool_whole_agrees_with_one_thread() {
        let (m, k, n) = (700, 800, 500);
        assert!(m * k * n >= POOL_MIN_FLOPS);
        let a = vals(m * k, 5);
        let b = vals(k * n, 6);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for level in crate::kernels::simd::available_levels() {
            let product = |c: &mut [f32]| {
                gemm_f32(level, m, k, n, &a, Trans::No, &b, Trans::No, c, true, None)
            };
            let mut want = vec![0.0; m * n];
            one.install(|| product(&mut want));
            // from this test's own thread, not a pool's: the global pool takes the product
            let mut got = vec![f32::NAN; m * n];
            product(&mut got);
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(w, g)| w.to_bits() == g.to_bits()),
                "{level}"
            );
        }
    }

    /// A `B` packed once gives the bits the product's own packing gives, at every level, on
    /// one thread and split by rows or columns across two and three, on odd sizes; and a
    /// product that would not pack (one row, fewer rows than a tile) reads `B` as stored.
    #[test]
    fn a_b_packed_once_gives_the_products_own_results() {
        for (m, k, n) in [
            (2, 7, 17),
            (13, 1, 33),
            (33, 300, 1100),
            (17, 600, 65),
            (130, 1030, 15),
            (300, 33, 70),
            (1, 65, 33),
            (5, 17, 7),
        ] {
            for tb in [Trans::No, Trans::Yes] {
                let a = vals(m * k, (m * k) as u64);
                let b = vals(k * n, (k + n) as u64);
                for threads in [1, 2, 3] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    for level in crate::kernels::simd::available_levels() {
                        let (mut want, mut got) = (vals(m * n, 9), vals(m * n, 9));
                        pool.install(|| {
                            add_product(level, (m, k, n), &a, Trans::No, &b, tb, &mut want);
                            let pre = packs_b(level, m, Trans::No)
                                .then(|| pack_whole_b(level, m, k, n, &b, tb));
                            gemm_f32(
                                level,
                                m,
                                k,
                                n,
                                &a,
                                Trans::No,
                                &b,
                                tb,
                                &mut got,
                                false,
                                pre.as_ref(),
                            );
                        });
                        let (w, g): (Vec<u32>, Vec<u32>) = (
                            want.iter().map(|v| v.to_bits()).collect(),
                            got.iter().map(|v| v.to_bits()).collect(),
                        );
                        assert!(w == g, "{level} {tb:?} ({m},{k},{n}) on {threads} threads");
                    }
                }
            }
        }
        // through the element-generic wrapper, f32 and f64, accumulating or not
        let (m, k, n) = (20, 40, 50);
        let a = vals(m * k, 3);
        let b = vals(k * n, 4);
        let r = reference(m, k, n, &a, Trans::No, &b, Trans::Yes);
        let prepared = crate::kernels::PreparedB::new(m, k, n, &b, Trans::Yes);
        let mut c = vec![1.0f32; m * n];
        prepared.gemm(m, &a, &mut c, false);
        prepared.gemm(m, &a, &mut c, true);
        let (a64, b64): (Vec<f64>, Vec<f64>) = (
            a.iter().map(|&v| v as f64).collect(),
            b.iter().map(|&v| v as f64).collect(),
        );
        let mut c64 = vec![1.0f64; m * n];
        crate::kernels::PreparedB::new(m, k, n, &b64, Trans::Yes).gemm(m, &a64, &mut c64, false);
        for i in 0..m * n {
            assert!((c[i] as f64 - 2.0 * r[i]).abs() < 1e-4, "f32 {i}");
            assert!((c64[i] - r[i]).abs() < 1e-12, "f64 {i}");
        }
    }

    #[test]
    fn c_blocks_cut_by_rows_and_columns_cover_every_value_once() {
        let (rows, ldc) = (7, 10);
        let mut c = vec![0.0f32; rows * ldc + 3];
        let mut id = 0.0;
        for (r0, mut band) in CBlock::new(&mut c, rows, ldc).split_rows(&[0, 3, 3, 7]) {
            for (c0, mut blk) in band.reborrow().split_cols(&[0, 4, 9]) {
                id += 1.0;
                for i in 0..blk.rows {
                    for (j, v) in blk.row(i).iter_mut().enumerate() {
                        *v += id + ((r0 + i) * 100 + c0 + j) as f32 * 1e-3;
                    }
                }
            }
        }
        for i in 0..rows {
            for j in 0..ldc {
                let v = c[i * ldc + j];
                if j == 9 {
                    assert_eq!(v, 0.0, "column 9 is in no block");
                } else {
                    // the empty band between the two took ids 3 and 4
                    let want = if i < 3 { 1.0 } else { 5.0 } + if j < 4 { 0.0 } else { 1.0 };
                    assert_eq!(v, want + (i * 100 + j) as f32 * 1e-3, "({i}, {j})");
                }
            }
        }
        assert_eq!(&c[rows * ldc..], &[0.0; 3], "past the rows");
    }

    #[test]
    fn fma_levels_agree_bit_for_bit_and_the_baseline_to_rounding() {
        let levels = crate::kernels::simd::available_levels();
        for (m, k, n) in [(37, 300, 45), (64, 17, 129), (1, 33, 70), (5, 40, 33)] {
            let a = vals(m * k, 3);
            let b = vals(k * n, 4);
            let r = reference(m, k, n, &a, Trans::No, &b, Trans::No);
            let mut fma: Option<Vec<f32>> = None;
            for &level in &levels {
                let mut c = vec![0.0; m * n];
                add_product(level, (m, k, n), &a, Trans::No, &b, Trans::No, &mut c);
                for (i, (&got, &want)) in c.iter().zip(&r).enumerate() {
                    assert!(
                        (got as f64 - want).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()),
                        "{level} ({m},{k},{n}) {i}: {got} vs {want}"
                    );
                }
                // the packed path at the FMA levels: the same chains of fused multiply-adds
                if level != Level::Baseline && m >= 12 {
                    match &fma {
                        Some(f) => assert_eq!(f, &c, "{level} ({m},{k},{n})"),
                        None => fma = Some(c),
                    }
                }
            }
        }
    }
}
