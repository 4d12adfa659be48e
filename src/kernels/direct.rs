//! Direct ("implicit im2col") `f32` convolution for layers with few input channels, after the
//! design in `KERNELS.md`: each image is zero-padded once into planes of `Hp x Wp`, and the
//! output is computed on a *wide* grid of `Ho x Wp` positions with the flat index
//! `p = oy * Wp + ox`. Every kernel tap `(ci, kh, kw)` then reads the padded input at the
//! constant offset `ci * Hp * Wp + kh * dh * Wp + kw * dw` from `p`, so a run of 16 output
//! positions is one contiguous vector load: no column matrix is built, copied or packed. The
//! columns `ox >= Wo` of the wide grid are computed and thrown away (they cost `Wp / Wo - 1`
//! extra work, 14% for LeNet's first layer).
//!
//! - Forward: a register tile of `CB` output channels by a few vectors of positions (per
//!   level: `Plan::forward_level`), the weights of a block of `CB` channels broadcast from
//!   their rows in place, in passes of [`TAP_BLOCK`] taps whose inputs stay in L1.
//! - Weight gradient: `dW[co, tap] = sum_p dY[co, p] * Xp[p + offset(tap)]`, with `dY` laid
//!   on the wide grid (zeros in the thrown-away columns): a tile of `CB` channels by `24 / CB`
//!   taps of vector accumulators, reduced across lanes once per batch. Where the output
//!   channels fill whole vectors (16, 32, 64, ...) the channels go in the lanes instead: `dY`
//!   is transposed a block of positions at a time and each input value is broadcast, a matrix
//!   product over the valid positions only, with no lane reduction and no wide-grid waste.
//! - Input gradient: stride 1 makes it a forward convolution of the output gradient with the
//!   flipped, transposed weights, which this kernel runs when that convolution qualifies.
//!
//! - Strides: the padded image is split into its `sh x sw` *phase planes* (rows `r` with
//!   `r % sh == py`, columns with `c % sw == px`), each `ceil(Hp / sh) x ceil(Wp / sw)`. Output
//!   `(oy, ox)` reads padded `(oy * sh + ky, ox * sw + kx)`, which is row `oy + ky / sh`,
//!   column `ox + kx / sw` of phase plane `(ky % sh, kx % sw)`: a stride-`s` convolution is a
//!   stride-1 one over `s x s` times as many (smaller) planes, with the same taps at other
//!   offsets, and every kernel below runs it unchanged on a wide grid of `Ho x ceil(Wp / sw)`.
//!   (im2col + GEMM, which stride-2 layers took before, ran ResNet-20's at a third of the
//!   direct kernel's rate: its column matrix is as large as the product's input.)
//!
//! It takes any stride, dilation and padding, groups, and 1-d or 2-d data (depth 1), with
//! at least 4 output channels per group. Its forward does no im2col copy and keeps output
//! tiles in registers across all taps; it ran faster than im2col + GEMM on every layer of the
//! reference workloads, so it takes any number of taps up to [`MAX_TAPS`]; the weight gradient
//! is direct where [`Plan::weight_grad_pays`].

use super::layout::transpose4;
use super::simd::{dispatch, simd, Kernel, Level, Simd};
use super::ConvGeom;
use rayon::prelude::*;

/// The wide grid's granularity: its rows of positions are padded to a multiple of the widest
/// level's vector, so that every level's tiles cover it in whole vectors.
const LANES: usize = 16;
/// The largest inner size `Cin/G * Kh * Kw` that runs direct. With more taps per output the
/// im2col product reuses each loaded input across more output channels and wins.
pub(super) const MAX_TAPS: usize = 4096;
/// Taps per pass of the forward tiles over a chunk of positions: each tile adds its pass to
/// the partial sums in the wide output (the same chain of multiply-adds, so the same bits),
/// and the inputs a pass reads, every channel block over again, are those of 144 taps (16
/// channels of a 3x3 kernel), which stay in L1 where all of a 64-channel layer's did not.
const TAP_BLOCK: usize = 144;
/// Positions (summed over images) one weight-gradient tile runs through before its registers
/// are added to the accumulators.
const BLOCK_POSITIONS: usize = 1024;
/// The largest inner size whose weight gradient runs direct (see [`Plan::weight_grad_pays`]).
const MAX_WEIGHT_GRAD_TAPS: usize = 200;
/// Values (positions times output channels) of one block of the transposed output gradient
/// in [`Plan::backward_weight_lanes`]: 32 KB, which stays in L1 while every tap runs over it.
const LANE_BLOCK_VALUES: usize = 8192;

/// A convolution's geometry as the direct kernel walks it.
pub(super) struct Plan {
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    h: usize,
    w: usize,
    pad: [usize; 2],
    /// Stride (rows, columns): the phase planes per input channel are `stride[0] * stride[1]`.
    stride: [usize; 2],
    /// Columns of a phase plane, `ceil(Wp / sw)`: the wide grid's row length.
    wp: usize,
    /// Values of a phase plane, `ceil(Hp / sh) * wp`.
    plane: usize,
    ho: usize,
    wo: usize,
    /// `Ho * Wp` rounded up to whole vectors.
    wide: usize,
    /// Offset of each tap from the output position, in the padded image.
    offsets: Vec<usize>,
    /// The largest of `offsets` (the last tap's).
    max_off: usize,
    /// Length of the padded image buffer, with room for the last tile's reads.
    padded_len: usize,
    /// Output channels per block of the wide output: 4, 6 or 8 (a tile takes a block, or
    /// half of one where the level's registers hold fewer accumulators).
    cb: usize,
    /// The instruction-set level the tiles run at.
    level: Level,
}

impl Plan {
    /// The plan for `g`, or `None` where the direct kernel does not apply or does not pay.
    pub(super) fn new(g: &ConvGeom) -> Option<Plan> {
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        let [_, kh, kw] = g.kernel;
        let [_, h, w] = g.input;
        let [_, dh, dw] = g.dilation;
        let taps = cin_g * kh * kw;
        let flat = g.input[0] == 1 && g.kernel[0] == 1 && g.output[0] == 1 && g.padding[0] == 0;
        let [st, sh, sw] = g.stride;
        if !flat || st != 1 || sh == 0 || sw == 0 || cout_g < 4 || taps == 0 || taps > MAX_TAPS {
            return None;
        }
        let (ph, pw) = (g.padding[1], g.padding[2]);
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        let (reach_h, reach_w) = (dh * (kh - 1), dw * (kw - 1));
        if hp <= reach_h || wp <= reach_w {
            return None;
        }
        let (ho, wo) = ((hp - reach_h - 1) / sh + 1, (wp - reach_w - 1) / sw + 1);
        if [1, ho, wo] != g.output {
            return None;
        }
        let (hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
        let plane = hq * wq;
        // (sized up front: a collected `flat_map` grows the vector step by step)
        let mut offsets = Vec::with_capacity(taps);
        for ci in 0..cin_g {
            for a in 0..kh {
                let ky = a * dh;
                offsets.extend((0..kw).map(|b| {
                    let kx = b * dw;
                    let phase = (ci * sh + ky % sh) * sw + kx % sw;
                    phase * plane + ky / sh * wq + kx / sw
                }));
            }
        }
        let wide = (ho * wq).next_multiple_of(LANES);
        let max_off = offsets.iter().copied().max().unwrap_or(0);
        // Waste in the last channel block decides the tile height.
        let cb = [8, 6, 4]
            .into_iter()
            .min_by_key(|&cb| (cout_g.div_ceil(cb) * cb, usize::MAX - cb))
            .unwrap_or(4);
        Some(Plan {
            groups: g.groups,
            cin_g,
            cout_g,
            h,
            w,
            pad: [ph, pw],
            stride: [sh, sw],
            wp: wq,
            plane,
            ho,
            wo,
            wide,
            offsets,
            max_off,
            padded_len: (cin_g * sh * sw * plane).max(max_off + wide),
            cb,
            level: super::simd::level(),
        })
    }

    /// Whether the weight gradient runs direct too: always where the output channels fill
    /// vectors ([`Plan::backward_weight_lanes`], measured faster than im2col on every W1, W2
    /// and W4 layer it takes). Otherwise its tiles add their registers to accumulators once
    /// per pass, so it needs few taps, or a wide grid that is mostly valid positions, at least
    /// 70% (an 8x8 image padded to 12x12 has 64 of 96); the im2col product wins otherwise.
    pub(super) fn weight_grad_pays(&self) -> bool {
        self.channel_lanes()
            || self.taps() <= MAX_WEIGHT_GRAD_TAPS
            || 10 * self.ho * self.wo >= 7 * self.wide
    }

    /// Lengths of one image-group's input and output, and of one image's input and output.
    fn lens(&self) -> [usize; 4] {
        let (xg, og) = (
            self.cin_g * self.h * self.w,
            self.cout_g * self.ho * self.wo,
        );
        [xg, og, self.groups * xg, self.groups * og]
    }

    /// The offset of tap `t`, or 0 for the padding taps past the last (whose accumulators
    /// nobody reads).
    fn tap_offset(&self, t: usize) -> usize {
        self.offsets.get(t).copied().unwrap_or(0)
    }

    fn taps(&self) -> usize {
        self.offsets.len()
    }

    fn blocks(&self) -> usize {
        self.cout_g.div_ceil(self.cb)
    }

    /// One image-group (`cin_g x H x W`) zero-padded into `xp`, split into phase planes where
    /// the stride is more than 1 (at stride 1 each channel is one plane, its rows copied
    /// whole). (`xp` is `padded_len` long; every element is written.)
    fn pad_image(&self, x: &[f32], xp: &mut [f32]) {
        let [ph, pw] = self.pad;
        let [sh, sw] = self.stride;
        let (planes, tail) = xp.split_at_mut(self.cin_g * sh * sw * self.plane);
        tail.fill(0.0);
        for (i, dst) in planes.chunks_exact_mut(self.plane).enumerate() {
            let (src, py, px) = (i / (sh * sw), i / sw % sh, i % sw);
            let src = &x[src * self.h * self.w..][..self.h * self.w];
            // columns `c` with `pw <= c * sw + px < pw + w` hold row values from `first` on,
            // every `sw`-th (worked out once per plane: a division per row cost as much as the
            // row's copy)
            let lo = pw.saturating_sub(px).div_ceil(sw).min(self.wp);
            let hi = (pw + self.w)
                .saturating_sub(px)
                .div_ceil(sw)
                .clamp(lo, self.wp);
            let first = (lo * sw + px).saturating_sub(pw).min(self.w);
            for (r, drow) in dst.chunks_exact_mut(self.wp).enumerate() {
                // padded row `r * sh + py`
                let y = (r * sh + py).wrapping_sub(ph);
                if y >= self.h {
                    drow.fill(0.0);
                    continue;
                }
                let (front, rest) = drow.split_at_mut(lo);
                let (mid, back) = rest.split_at_mut(hi - lo);
                front.fill(0.0);
                back.fill(0.0);
                let row = &src[y * self.w + first..(y + 1) * self.w];
                match sw {
                    1 => mid.copy_from_slice(row),
                    2 => every_nth::<2>(row, mid),
                    _ => mid
                        .iter_mut()
                        .zip(row.iter().step_by(sw))
                        .for_each(|(d, &v)| *d = v),
                }
            }
        }
    }

    /// Images `images` (group `gi` of each) of the batch `x` zero-padded into consecutive
    /// slots of `padded_len` in `xp`: the inputs of one weight-gradient pass.
    fn pad_pass(&self, x: &[f32], images: std::ops::Range<usize>, gi: usize, xp: &mut Vec<f32>) {
        let [xg_len, _, xs, _] = self.lens();
        xp.resize(images.len() * self.padded_len, 0.0);
        for (slot, n) in xp.chunks_exact_mut(self.padded_len).zip(images) {
            let at = n * xs + gi * xg_len;
            self.pad_image(&x[at..at + xg_len], slot);
        }
    }

    /// The wide-grid output of one image-group: `yw` is `blocks * cb x wide`.
    /// (`wg` is the group's weights, `cout_g x taps`.)
    fn forward_wide(&self, xp: &[f32], wg: &[f32], yw: &mut [f32]) {
        dispatch!(self.level, |s| self.forward_level(s, xp, wg, yw))
    }

    /// The forward tile of each level: `CB x V` accumulators plus `V` inputs and a broadcast
    /// within the register file (32 registers for AVX-512, 16 for AVX2 and the baseline).
    /// With 16 registers the tile leaves at least one free: a `4 x 3` tile fills all 16, and
    /// LLVM's allocator, wanting the next broadcast before the last multiply-add of the one
    /// before, then kept an accumulator on the stack and copied five registers round each
    /// step, at half the speed of the smaller `4 x 2` tile.
    fn forward_level<S: Simd>(&self, s: S, xp: &[f32], wg: &[f32], yw: &mut [f32]) {
        match (S::LEVEL, self.cb) {
            (Level::Avx512, 8) => self.forward_tiles::<S, 8, 3>(s, xp, wg, yw),
            (Level::Avx512, 6) => self.forward_tiles::<S, 6, 4>(s, xp, wg, yw),
            (Level::Avx512, _) => self.forward_tiles::<S, 4, 6>(s, xp, wg, yw),
            (_, 6) => self.forward_tiles::<S, 6, 2>(s, xp, wg, yw),
            _ => self.forward_tiles::<S, 4, 2>(s, xp, wg, yw),
        }
    }

    fn forward_tiles<S: Simd, const CB: usize, const V: usize>(
        &self,
        s: S,
        xp: &[f32],
        wg: &[f32],
        yw: &mut [f32],
    ) {
        let chunk = V * S::LANES;
        let taps = self.taps();
        // The weight rows of each block of `CB` channels, read in place (each tap's `CB`
        // weights are broadcast one by one, so they need not be adjacent: no packing). Rows
        // past the last channel repeat it; the tile's rows for them are never stored.
        let blocks: Vec<[&[f32]; CB]> = (0..self.cout_g.div_ceil(CB))
            .map(|b| {
                std::array::from_fn(|r| {
                    let co = (b * CB + r).min(self.cout_g - 1);
                    &wg[co * taps..(co + 1) * taps]
                })
            })
            .collect();
        // Positions outside, then passes of taps, channel blocks inside: the inputs one pass
        // reads (a few rows of some input channels) stay in L1 for every block. The last
        // chunk may be short: it runs fewer vectors of positions at a time. Each tile is its
        // own call into the level's code: inlined into the chunk loop, the register
        // allocator kept the accumulators on the stack.
        for p0 in (0..self.wide).step_by(chunk) {
            for t0 in (0..taps).step_by(TAP_BLOCK) {
                let ts = t0..(t0 + TAP_BLOCK).min(taps);
                for (b, rows) in blocks.iter().enumerate() {
                    let tile = ForwardTile::<CB, V> {
                        plan: self,
                        xp,
                        at: TileAt {
                            rows,
                            b,
                            p0,
                            ts: ts.clone(),
                        },
                        yw: &mut *yw,
                    };
                    if p0 + chunk <= self.wide {
                        s.run(tile);
                    } else {
                        s.run(ForwardTail(tile));
                    }
                }
            }
        }
    }

    /// [`Plan::forward_tile`] for the positions from `p0` to the end: two vectors at a time,
    /// then one. A one-vector tile issues a broadcast per multiply-add and runs at half the
    /// rate of the wider ones, and an 8x8 image's wide grid (5 vectors) is 2 of them past
    /// its one 3-vector chunk.
    #[inline(always)]
    fn forward_tail<S: Simd, const CB: usize>(
        &self,
        s: S,
        xp: &[f32],
        mut at: TileAt<'_, CB>,
        yw: &mut [f32],
    ) {
        while at.p0 + 2 * S::LANES <= self.wide {
            self.forward_tile::<S, CB, 2>(s, xp, at.clone(), yw);
            at.p0 += 2 * S::LANES;
        }
        if at.p0 < self.wide {
            self.forward_tile::<S, CB, 1>(s, xp, at, yw);
        }
    }

    /// Channels `b * CB ..` (weight rows `rows`) of positions `p0 .. p0 + LANES * V` of the
    /// wide output over the taps `ts` (all of `at`), added to the pass before unless `ts`
    /// starts at the first tap, with the reads checked once before the tap loop.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn forward_tile<S: Simd, const CB: usize, const V: usize>(
        &self,
        s: S,
        xp: &[f32],
        at: TileAt<'_, CB>,
        yw: &mut [f32],
    ) {
        let TileAt { rows, b, p0, ts } = at;
        let taps = self.offsets.len();
        let reach = self.max_off + p0 + V * S::LANES;
        assert!(
            reach <= xp.len() && rows.iter().all(|r| r.len() >= taps),
            "forward_tile: reads to {reach} of {}, weight rows shorter than {taps}",
            xp.len()
        );
        // the tile's values of channel row `r` in the wide output
        let out = |r: usize| {
            let at = (b * CB + r) * self.wide + p0;
            at..at + V * S::LANES
        };
        let mut acc = [[s.zero(); V]; CB];
        if ts.start > 0 {
            for (r, a) in acc.iter_mut().enumerate() {
                for (d, part) in a.iter_mut().zip(yw[out(r)].chunks_exact(S::LANES)) {
                    *d = s.load(part);
                }
            }
        }
        let offs = &self.offsets[ts.clone()];
        let rws: [&[f32]; CB] = std::array::from_fn(|r| &rows[r][ts.clone()]);
        let xq = &xp[p0..];
        for (t, &off) in offs.iter().enumerate() {
            // SAFETY: `off + p0 + LANES * V <= reach <= xp.len()` for every offset, by the
            // assert.
            let xs: [S::F; V] =
                std::array::from_fn(|v| unsafe { s.load_at(xq, off + v * S::LANES) });
            for (a, row) in acc.iter_mut().zip(&rws) {
                // SAFETY: `t < offs.len() = row.len()`.
                let wv = s.splat(unsafe { *row.get_unchecked(t) });
                for v in 0..V {
                    a[v] = s.mul_add(wv, xs[v], a[v]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            for (&v, part) in a.iter().zip(yw[out(r)].chunks_exact_mut(S::LANES)) {
                s.store(v, part);
            }
        }
    }

    /// Copies the valid columns of the wide output into `out` (`cout_g x Ho x Wo`), adding
    /// `bias` and adding to `out` when `accumulate` (initialised outputs only): every element
    /// of `out` is written.
    fn store<T: Slot>(&self, yw: &[f32], out: &mut [T], bias: Option<&[f32]>, accumulate: bool) {
        simd!(
            self.level,
            Store {
                plan: self,
                yw,
                out,
                bias,
                accumulate
            }
        )
    }
}

/// [`Plan::store`] as a [`Kernel`].
struct Store<'a, T> {
    plan: &'a Plan,
    yw: &'a [f32],
    out: &'a mut [T],
    bias: Option<&'a [f32]>,
    accumulate: bool,
}

impl<S: Simd, T: Slot> Kernel<S> for Store<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let Store {
            plan,
            yw,
            out,
            bias,
            accumulate,
        } = self;
        let ov = plan.ho * plan.wo;
        for (co, orow) in out.chunks_exact_mut(ov).enumerate() {
            let b = bias.map_or(0.0, |b| b[co]);
            let src = &yw[co * plan.wide..];
            for (y, dst) in orow.chunks_exact_mut(plan.wo).enumerate() {
                let row = &src[y * plan.wp..y * plan.wp + plan.wo];
                if accumulate {
                    dst.iter_mut().zip(row).for_each(|(d, &v)| d.add(v + b));
                } else {
                    copy_plus(s, row, b, dst);
                }
            }
        }
    }
}

impl Plan {
    /// `conv(x, w) + bias` for the whole batch into a new buffer, each output written once
    /// (no zero fill first): [`Plan::forward`] into the buffer's spare capacity.
    #[allow(unsafe_code)]
    pub(super) fn forward_new(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        parallel: bool,
    ) -> Vec<f32> {
        let [_, _, xs, os] = self.lens();
        assert!(
            xs > 0 && x.len().is_multiple_of(xs),
            "forward_new: {} inputs, not whole images of {xs}",
            x.len()
        );
        let len = x.len() / xs * os;
        let mut out = super::new_buffer(len);
        let spare = &mut out.spare_capacity_mut()[..len];
        self.forward(x, w, bias, spare, false, parallel);
        // SAFETY: `forward` runs `store` on every group of every image of `spare`
        // (`len = batch x cout x Ho x Wo` for the `batch = x.len() / xs` whole images of `x`,
        // by the assert), and `store` writes every element of the output it is given.
        unsafe { out.set_len(len) };
        out
    }

    /// `out (+)= conv(x, w) + bias` for the whole batch (images in parallel when `parallel`):
    /// into initialised outputs, or, not accumulating, into uninitialised ones.
    pub(super) fn forward<T: Slot>(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        out: &mut [T],
        accumulate: bool,
        parallel: bool,
    ) {
        let wg_len = self.cout_g * self.taps();
        let [xg_len, og_len, xs, os] = self.lens();
        let new_bufs = || {
            (
                Vec::new(),
                vec![0.0f32; self.blocks() * self.cb * self.wide],
            )
        };
        let per_image = |(xp, yw): &mut (Vec<f32>, Vec<f32>), (xn, on): (&[f32], &mut [T])| {
            for gi in 0..self.groups {
                xp.resize(self.padded_len, 0.0);
                self.pad_image(&xn[gi * xg_len..(gi + 1) * xg_len], xp);
                self.forward_wide(xp, &w[gi * wg_len..(gi + 1) * wg_len], yw);
                let bg = bias.map(|b| &b[gi * self.cout_g..(gi + 1) * self.cout_g]);
                self.store(yw, &mut on[gi * og_len..(gi + 1) * og_len], bg, accumulate);
            }
        };
        // One contiguous run of images per thread, each with one set of buffers (more,
        // smaller tasks each allocating buffers cost page faults and TLB shootdowns).
        let batch = x.len() / xs.max(1);
        let per = batch.div_ceil(parts(batch, parallel)).max(1);
        let run = |(i, ob): (usize, &mut [T])| {
            let mut bufs = new_bufs();
            let xb = &x[i * per * xs..];
            xb.chunks(xs)
                .zip(ob.chunks_mut(os))
                .for_each(|p| per_image(&mut bufs, p));
        };
        if per < batch {
            out.par_chunks_mut(per * os).enumerate().for_each(run);
        } else {
            run((0, out));
        }
    }

    /// `dw += conv_backward_weight(x, dy)` summed over the batch (images in parallel when
    /// `parallel`, each task with its own accumulators), and the bias gradient `db +=` the
    /// sum of `dy` per channel when asked: each image's `dy` is summed while the kernel has
    /// it in cache, which spares the whole pass over `dy` a separate sum would make.
    pub(super) fn backward_weight(
        &self,
        x: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        db: Option<&mut [f32]>,
        parallel: bool,
    ) {
        debug_assert!(self.weight_grad_pays());
        let g = WeightGrad {
            x,
            dy,
            dw,
            db,
            parallel,
        };
        dispatch!(self.level, |s| self.backward_weight_level(s, g))
    }

    /// The weight-gradient tile of each level (see [`Plan::forward_level`]).
    fn backward_weight_level<S: Simd>(&self, s: S, g: WeightGrad<'_>) {
        if self.channel_lanes() {
            // `CV` vectors of channels by `TT` taps; `cout_g` is a multiple of 16, so the
            // channels fill `CV` whole vectors at every level
            return match (S::LEVEL, (self.cout_g / LANES) % 4) {
                (Level::Avx512, 0) => self.backward_weight_lanes::<S, 4, 6>(s, g),
                (Level::Avx512, 2) => self.backward_weight_lanes::<S, 2, 12>(s, g),
                (Level::Avx512, _) => self.backward_weight_lanes::<S, 1, 24>(s, g),
                _ => self.backward_weight_lanes::<S, 2, 6>(s, g),
            };
        }
        // `CB` channels by `TB` taps
        match (S::LEVEL, self.cb) {
            (Level::Avx512, 8) => self.backward_weight_tiles::<S, 8, 3>(s, g),
            (Level::Avx512, 6) => self.backward_weight_tiles::<S, 6, 4>(s, g),
            (Level::Avx512, _) => self.backward_weight_tiles::<S, 4, 6>(s, g),
            (_, 6) => self.backward_weight_tiles::<S, 6, 2>(s, g),
            _ => self.backward_weight_tiles::<S, 4, 3>(s, g),
        }
    }

    /// [`Plan::backward_weight`] on the wide grid: tiles of `CB` channels by `TB` taps of
    /// vector accumulators, reduced across lanes once per batch.
    fn backward_weight_tiles<S: Simd, const CB: usize, const TB: usize>(
        &self,
        s: S,
        g: WeightGrad<'_>,
    ) {
        let (x, dy) = (g.x, g.dy);
        let taps_pad = self.taps().next_multiple_of(TB);
        let rows = self.blocks() * self.cb;
        // accumulators (of `LANES` values each) per image-group
        let gacc = rows * taps_pad;
        let [_, og_len, xs, os] = self.lens();
        let rows_len = rows * self.wide;
        let batch = x.len() / xs.max(1);
        // Small images are taken several at a time, so each tile's pass over positions is
        // long enough to pay for adding its registers to the accumulators.
        let per_pass = (BLOCK_POSITIONS / self.wide).max(1);
        let (total, dw) = g.accumulate(self, batch, |images, sums_len| {
            let mut acc = vec![0.0f32; self.groups * gacc * S::LANES];
            let mut sums = vec![0.0f32; sums_len];
            let (mut xp, mut dyw) = (Vec::new(), Vec::new());
            for n0 in images.clone().step_by(per_pass) {
                let n1 = (n0 + per_pass).min(images.end);
                for gi in 0..self.groups {
                    self.pad_pass(x, n0..n1, gi, &mut xp);
                    dyw.resize((n1 - n0) * rows_len, 0.0);
                    for (k, n) in (n0..n1).enumerate() {
                        let at = n * os + gi * og_len;
                        let slot = &mut dyw[k * rows_len..(k + 1) * rows_len];
                        let dyg = &dy[at..at + og_len];
                        self.widen(dyg, slot);
                        if sums_len > 0 {
                            self.add_channel_sums(dyg, gi, &mut sums);
                        }
                    }
                    let a = &mut acc[gi * gacc * S::LANES..(gi + 1) * gacc * S::LANES];
                    self.weight_tiles::<S, CB, TB>(s, &xp, &dyw, taps_pad, a);
                }
            }
            (acc, sums)
        });
        let taps = self.taps();
        for (gacc, dwg) in total
            .chunks_exact(gacc * S::LANES)
            .zip(dw.chunks_exact_mut(self.cout_g * taps))
        {
            for (co, drow) in dwg.chunks_exact_mut(taps).enumerate() {
                for (t, d) in drow.iter_mut().enumerate() {
                    let lanes = &gacc[(co * taps_pad + t) * S::LANES..][..S::LANES];
                    *d += lanes.iter().sum::<f32>();
                }
            }
        }
    }

    /// `sums[gi * cout_g + co] +=` the sum of channel `co` of the image-group `dyg`.
    fn add_channel_sums(&self, dyg: &[f32], gi: usize, sums: &mut [f32]) {
        let sg = &mut sums[gi * self.cout_g..(gi + 1) * self.cout_g];
        for (s, p) in sg.iter_mut().zip(dyg.chunks_exact(self.ho * self.wo)) {
            *s += super::reduce::sum_run(p);
        }
    }

    /// Whether the weight gradient runs with output channels in the vector lanes (see
    /// [`Plan::backward_weight_lanes`]): where they fill whole vectors.
    fn channel_lanes(&self) -> bool {
        self.cout_g.is_multiple_of(LANES)
    }

    /// [`Plan::backward_weight`] with output channels in the lanes: the product
    /// `dW[tap, co] = sum_p X[p + offset(tap), ...] dY^T[p, co]` as a matrix product over the
    /// positions, `dY` transposed block by block (positions by channels, in L1) and each input
    /// value broadcast. A register tile of `CV` vectors of channels by `TT` taps keeps its
    /// accumulators through a whole block and never reduces across lanes, and only valid
    /// positions are visited (no wide grid), which makes it faster than the tiles of
    /// [`weight_tile`] wherever the channels fill vectors.
    fn backward_weight_lanes<S: Simd, const CV: usize, const TT: usize>(
        &self,
        s: S,
        g: WeightGrad<'_>,
    ) {
        let (x, dy) = (g.x, g.dy);
        let vs = self.cout_g / S::LANES;
        let taps = self.taps();
        let taps_pad = taps.next_multiple_of(TT);
        // values per image-group: `taps_pad` rows of `cout_g` channels
        let gacc = taps_pad * self.cout_g;
        let [_, og_len, xs, os] = self.lens();
        let batch = x.len() / xs.max(1);
        // rows of positions per block, and whole small images per pass
        let block_rows = (LANE_BLOCK_VALUES / self.cout_g / self.wo).max(1);
        let per_pass = (block_rows / self.ho).max(1);
        let (total, dw) = g.accumulate(self, batch, |images, sums_len| {
            let mut acc = vec![0.0f32; self.groups * gacc];
            let mut sums = vec![0.0f32; sums_len];
            // the transposed gradient of one block; every value of a block is written below,
            // so it is zeroed once, not per block
            let mut dyt = vec![0.0f32; block_rows * self.wo * self.cout_g];
            let (mut xp, mut starts) = (Vec::new(), Vec::new());
            for n0 in images.clone().step_by(per_pass) {
                let n1 = (n0 + per_pass).min(images.end);
                for gi in 0..self.groups {
                    self.pad_pass(x, n0..n1, gi, &mut xp);
                    if sums_len > 0 {
                        for n in n0..n1 {
                            let dyg = &dy[n * os + gi * og_len..][..og_len];
                            self.add_channel_sums(dyg, gi, &mut sums);
                        }
                    }
                    let rows = (n1 - n0) * self.ho;
                    for r0 in (0..rows).step_by(block_rows) {
                        let r1 = (r0 + block_rows).min(rows);
                        let dyt = &mut dyt[..(r1 - r0) * self.wo * self.cout_g];
                        self.transpose_rows(dy, n0, gi, r0..r1, dyt, &mut starts);
                        let a = &mut acc[gi * gacc..(gi + 1) * gacc];
                        for t0 in (0..taps_pad).step_by(TT) {
                            let offs: [usize; TT] =
                                std::array::from_fn(|j| self.tap_offset(t0 + j));
                            for v0 in (0..vs).step_by(CV) {
                                s.run(LanesTile::<CV, TT> {
                                    x: &xp,
                                    starts: &starts,
                                    wo: self.wo,
                                    dyt,
                                    vs,
                                    v0,
                                    offs,
                                    sums: &mut a[t0 * self.cout_g..],
                                });
                            }
                        }
                    }
                }
            }
            (acc, sums)
        });
        for (flat, dwg) in total
            .chunks_exact(gacc)
            .zip(dw.chunks_exact_mut(self.cout_g * taps))
        {
            for (co, drow) in dwg.chunks_exact_mut(taps).enumerate() {
                for (t, d) in drow.iter_mut().enumerate() {
                    *d += flat[t * self.cout_g + co];
                }
            }
        }
    }

    /// Rows `rows` of the pass starting at image `n0` (row `r` is image `n0 + r / Ho`, output
    /// row `r % Ho`) of group `gi`'s output gradient, transposed into `dyt` (positions by
    /// channels); `starts` gets each row's first value in the pass's padded input.
    fn transpose_rows(
        &self,
        dy: &[f32],
        n0: usize,
        gi: usize,
        rows: std::ops::Range<usize>,
        dyt: &mut [f32],
        starts: &mut Vec<usize>,
    ) {
        let [_, og_len, _, os] = self.lens();
        let plane = self.ho * self.wo;
        starts.clear();
        for (ri, r) in rows.enumerate() {
            let (k, y) = (r / self.ho, r % self.ho);
            starts.push(k * self.padded_len + y * self.wp);
            let src = &dy[(n0 + k) * os + gi * og_len + y * self.wo..];
            let dst = &mut dyt[ri * self.wo * self.cout_g..][..self.wo * self.cout_g];
            // 4 x 4 blocks through SSE shuffles (`cout_g` is a multiple of 16 here): a value at
            // a time, each store a cache line apart from the last, took a fifth of the
            // weight gradient's time
            let (wo, wo4) = (self.wo, self.wo - self.wo % 4);
            for co in (0..self.cout_g).step_by(4) {
                let rows: [&[f32]; 4] = std::array::from_fn(|i| &src[(co + i) * plane..][..wo]);
                for ox in (0..wo4).step_by(4) {
                    let cols = transpose4(std::array::from_fn(|i| {
                        rows[i][ox..ox + 4].try_into().expect("4 values")
                    }));
                    for (j, col) in cols.iter().enumerate() {
                        dst[(ox + j) * self.cout_g + co..][..4].copy_from_slice(col);
                    }
                }
                for ox in wo4..wo {
                    for (i, row) in rows.iter().enumerate() {
                        dst[ox * self.cout_g + co + i] = row[ox];
                    }
                }
            }
        }
    }

    /// One image-group's output gradient (`cout_g x Ho x Wo`) on the wide grid, `blocks * cb`
    /// rows of `wide`, zeros in the thrown-away columns and rows.
    fn widen(&self, dy: &[f32], dyw: &mut [f32]) {
        dyw.fill(0.0);
        for (src, dst) in dy
            .chunks_exact(self.ho * self.wo)
            .zip(dyw.chunks_exact_mut(self.wide))
        {
            for (y, row) in src.chunks_exact(self.wo).enumerate() {
                dst[y * self.wp..y * self.wp + self.wo].copy_from_slice(row);
            }
        }
    }

    /// `acc[(row * taps_pad + tap) * LANES + lane] +=` the sum over the positions `p` of that
    /// lane of `dyw[row, p] * xp[p + offset(tap)]`, in tiles of `CB` rows by `TB` taps (padded
    /// taps read offset 0 and land in accumulators nobody reads).
    fn weight_tiles<S: Simd, const CB: usize, const TB: usize>(
        &self,
        s: S,
        xp: &[f32],
        dyw: &[f32],
        taps_pad: usize,
        acc: &mut [f32],
    ) {
        let rows_len = self.blocks() * self.cb * self.wide;
        let images = dyw.len() / rows_len;
        // One image at a time is cut into blocks of positions; several images are one block.
        let pb = if images > 1 {
            self.wide
        } else {
            BLOCK_POSITIONS.min(self.wide)
        };
        for p0 in (0..self.wide).step_by(pb) {
            let p1 = (p0 + pb).min(self.wide);
            for b in 0..self.blocks() * self.cb / CB {
                for t0 in (0..taps_pad).step_by(TB) {
                    let offs: [usize; TB] = std::array::from_fn(|j| self.tap_offset(t0 + j));
                    s.run(WeightBlock::<CB, TB> {
                        plan: self,
                        xp,
                        dyw,
                        b,
                        t0,
                        offs,
                        range: p0..p1,
                        acc: &mut *acc,
                        taps_pad,
                    });
                }
            }
        }
    }
}

/// The `CB x TB` weight-gradient tile of rows `b * CB ..` and taps `t0 ..` (offsets `offs`)
/// over positions `range` of every image in `xp` / `dyw`, added to its accumulators in `acc`.
struct WeightBlock<'a, const CB: usize, const TB: usize> {
    plan: &'a Plan,
    xp: &'a [f32],
    dyw: &'a [f32],
    b: usize,
    t0: usize,
    offs: [usize; TB],
    range: std::ops::Range<usize>,
    acc: &'a mut [f32],
    taps_pad: usize,
}

impl<S: Simd, const CB: usize, const TB: usize> Kernel<S> for WeightBlock<'_, CB, TB> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let WeightBlock {
            plan,
            xp,
            dyw,
            b,
            t0,
            offs,
            range,
            acc,
            taps_pad,
        } = self;
        let rows_len = plan.blocks() * plan.cb * plan.wide;
        let mut c = [[s.zero(); TB]; CB];
        for j in 0..dyw.len() / rows_len {
            let xj = &xp[j * plan.padded_len..(j + 1) * plan.padded_len];
            let dj = &dyw[j * rows_len + b * CB * plan.wide..][..CB * plan.wide];
            weight_tile(s, xj, dj, plan.wide, &offs, range.clone(), &mut c);
        }
        for (r, cr) in c.iter().enumerate() {
            let at = ((b * CB + r) * taps_pad + t0) * S::LANES;
            for (q, &v) in cr.iter().enumerate() {
                let d = &mut acc[at + q * S::LANES..];
                s.store(s.add(s.load(d), v), d);
            }
        }
    }
}

/// Where a forward tile runs: channels `b * CB ..` (weight rows `rows`), positions `p0 ..`
/// of the wide output, taps `ts`.
#[derive(Clone)]
struct TileAt<'a, const CB: usize> {
    rows: &'a [&'a [f32]; CB],
    b: usize,
    p0: usize,
    ts: std::ops::Range<usize>,
}

/// The forward tile `at` of the wide output `yw` (see [`Plan::forward_tile`]).
struct ForwardTile<'a, const CB: usize, const V: usize> {
    plan: &'a Plan,
    xp: &'a [f32],
    at: TileAt<'a, CB>,
    yw: &'a mut [f32],
}

impl<S: Simd, const CB: usize, const V: usize> Kernel<S> for ForwardTile<'_, CB, V> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let t = self;
        t.plan.forward_tile::<S, CB, V>(s, t.xp, t.at, t.yw)
    }
}

/// A [`ForwardTile`] from `p0` to the end of the wide grid ([`Plan::forward_tail`]).
struct ForwardTail<'a, const CB: usize, const V: usize>(ForwardTile<'a, CB, V>);

impl<S: Simd, const CB: usize, const V: usize> Kernel<S> for ForwardTail<'_, CB, V> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let t = self.0;
        t.plan.forward_tail::<S, CB>(s, t.xp, t.at, t.yw)
    }
}

/// [`weight_tile_lanes`] as a [`Kernel`].
struct LanesTile<'a, const CV: usize, const TT: usize> {
    x: &'a [f32],
    starts: &'a [usize],
    wo: usize,
    dyt: &'a [f32],
    vs: usize,
    v0: usize,
    offs: [usize; TT],
    sums: &'a mut [f32],
}

impl<S: Simd, const CV: usize, const TT: usize> Kernel<S> for LanesTile<'_, CV, TT> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let t = self;
        weight_tile_lanes::<S, CV, TT>(s, t.x, t.starts, t.wo, t.dyt, t.vs, t.v0, &t.offs, t.sums)
    }
}

/// `c[r][q] += dy[r, p] * x[p + offs[q]]` lane by lane for `p` in `range` (a multiple of 16
/// long): `dy` holds rows of `wide` positions.
///
/// Every read is checked against the slices once, before the loop: the loop body is 24
/// multiply-adds and 11 loads, and a bounds check per load (two compares and the address
/// arithmetic for each of 11 slices) made the loop issue-bound at a third of the FMA peak.
#[inline(always)]
#[allow(unsafe_code)]
fn weight_tile<S: Simd, const CB: usize, const TB: usize>(
    s: S,
    x: &[f32],
    dy: &[f32],
    wide: usize,
    offs: &[usize; TB],
    range: std::ops::Range<usize>,
    c: &mut [[S::F; TB]; CB],
) {
    if range.is_empty() {
        return;
    }
    let len = range.len();
    assert!(len.is_multiple_of(S::LANES), "weight_tile: {range:?}");
    let xr: [&[f32]; TB] = std::array::from_fn(|q| &x[offs[q] + range.start..][..len]);
    let dr: [&[f32]; CB] = std::array::from_fn(|r| &dy[r * wide + range.start..][..len]);
    let mut acc = *c;
    for i in (0..len).step_by(S::LANES) {
        // SAFETY: `i + LANES <= len`, the length of every slice in `xr` and `dr`.
        let xs: [S::F; TB] = std::array::from_fn(|q| unsafe { s.load_at(xr[q], i) });
        for r in 0..CB {
            // SAFETY: as above.
            let d = unsafe { s.load_at(dr[r], i) };
            for q in 0..TB {
                acc[r][q] = s.mul_add(d, xs[q], acc[r][q]);
            }
        }
    }
    *c = acc;
}

/// `acc[(t * vs + v0 + v) * LANES ..] +=` the sum over positions of `x[position + offs[t]] *
/// dyt[position, v0 + v]`: for each row of `wo` positions starting at `x[s]` (`s` in
/// `starts`), the rows' positions numbered on in `dyt`, which holds `vs` vectors of channels
/// per position.
///
/// Its loads are checked once per row (the input rows) and once per call (the transposed
/// gradient), not once per load (see [`weight_tile`]).
#[inline(always)]
#[allow(unsafe_code, clippy::too_many_arguments)]
fn weight_tile_lanes<S: Simd, const CV: usize, const TT: usize>(
    s: S,
    x: &[f32],
    starts: &[usize],
    wo: usize,
    dyt: &[f32],
    vs: usize,
    v0: usize,
    offs: &[usize; TT],
    sums: &mut [f32],
) {
    assert!(
        v0 + CV <= vs && starts.len() * wo * vs * S::LANES <= dyt.len(),
        "weight_tile_lanes: {} rows of {wo} x {vs} vectors in {}",
        starts.len(),
        dyt.len()
    );
    let mut acc = [[s.zero(); CV]; TT];
    let mut k = v0;
    for &st in starts {
        let xr: [&[f32]; TT] = std::array::from_fn(|t| &x[st + offs[t]..][..wo]);
        for i in 0..wo {
            // SAFETY: position `i` of row `r` of `starts` is vector `k = (r * wo + i) * vs + v0`,
            // and `(k + CV) * LANES <= starts.len() * wo * vs * LANES <= dyt.len()` by the
            // assert.
            let d: [S::F; CV] =
                std::array::from_fn(|v| unsafe { s.load_at(dyt, (k + v) * S::LANES) });
            for (a, row) in acc.iter_mut().zip(&xr) {
                // SAFETY: `i < wo`, the length of every row in `xr`.
                let xv = s.splat(unsafe { *row.get_unchecked(i) });
                for v in 0..CV {
                    a[v] = s.mul_add(xv, d[v], a[v]);
                }
            }
            k += vs;
        }
    }
    for (t, at) in acc.iter().enumerate() {
        for (v, &a) in at.iter().enumerate() {
            let d = &mut sums[(t * vs + v0 + v) * S::LANES..];
            s.store(s.add(s.load(d), a), d);
        }
    }
}

/// The operands of one weight-gradient pass: input `x`, output gradient `dy`, the gradients
/// `dw` (and `db`, the bias's) added to, images in parallel when `parallel`.
struct WeightGrad<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    dw: &'a mut [f32],
    db: Option<&'a mut [f32]>,
    parallel: bool,
}

impl<'a> WeightGrad<'a> {
    /// Splits the `batch` images into one contiguous run per thread (one when not
    /// `parallel`), calls `run(images, sums_len)` for each (on the pool when more than one),
    /// and adds up what they return: the weight-gradient accumulators, returned with `dw`, and
    /// the per-channel sums of `dy` (`sums_len` of them: none unless the bias gradient is
    /// asked for), added to `db`.
    fn accumulate(
        self,
        plan: &Plan,
        batch: usize,
        run: impl Fn(std::ops::Range<usize>, usize) -> (Vec<f32>, Vec<f32>) + Sync + Send,
    ) -> (Vec<f32>, &'a mut [f32]) {
        let parts = parts(batch, self.parallel);
        let sums_len = self.db.as_ref().map_or(0, |_| plan.groups * plan.cout_g);
        let one = |i: usize| run(i * batch / parts..(i + 1) * batch / parts, sums_len);
        let (total, sums) = if parts > 1 {
            (0..parts).into_par_iter().map(one).reduce_with(|mut a, b| {
                a.0.iter_mut().zip(&b.0).for_each(|(a, &b)| *a += b);
                a.1.iter_mut().zip(&b.1).for_each(|(a, &b)| *a += b);
                a
            })
        } else {
            Some(one(0))
        }
        .unwrap_or_default();
        if let Some(db) = self.db {
            db.iter_mut().zip(&sums).for_each(|(d, &s)| *d += s);
        }
        (total, self.dw)
    }
}

/// An output element the direct kernel stores to: an initialised `f32`, or a slot of a new
/// buffer's spare capacity written for the first time.
pub(super) trait Slot: Send {
    /// `*self = v`.
    fn set(&mut self, v: f32);
    /// `*self += v` (initialised outputs only).
    fn add(&mut self, v: f32);
}

impl Slot for f32 {
    fn set(&mut self, v: f32) {
        *self = v;
    }
    fn add(&mut self, v: f32) {
        *self += v;
    }
}

impl Slot for std::mem::MaybeUninit<f32> {
    fn set(&mut self, v: f32) {
        self.write(v);
    }
    fn add(&mut self, _: f32) {
        unreachable!("the direct kernel adds only into initialised outputs")
    }
}

/// `dst[i] = src[i] + b` for every `i` of `dst`, a vector at a time; a row of a vector or
/// more ends with one vector that overlaps the last whole one (the compiler's own loop took 4
/// lanes at a time for rows as short as LeNet's 28 and 10: the top of a batch-1 LeNet's
/// copy-out profile). Every value is the one rounding of `src[i] + b`, however it is reached.
#[inline(always)]
fn copy_plus<S: Simd, T: Slot>(s: S, src: &[f32], b: f32, dst: &mut [T]) {
    let n = dst.len();
    let bv = s.splat(b);
    let one = |d: &mut [T], src: &[f32]| {
        let mut v = [0.0f32; 16];
        s.store(s.add(s.load(src), bv), &mut v);
        for (d, &v) in d[..S::LANES].iter_mut().zip(&v) {
            d.set(v);
        }
    };
    if n < S::LANES {
        dst.iter_mut().zip(src).for_each(|(d, &v)| d.set(v + b));
        return;
    }
    for (d, src) in dst
        .chunks_exact_mut(S::LANES)
        .zip(src.chunks_exact(S::LANES))
    {
        one(d, src);
    }
    if !n.is_multiple_of(S::LANES) {
        one(&mut dst[n - S::LANES..], &src[n - S::LANES..n]);
    }
}

/// `dst[i] = src[i * N]` for every `i` of `dst` (`src` holds at least `(len - 1) * N + 1`
/// values): `N` known to the compiler, so the loop is a plain strided copy.
fn every_nth<const N: usize>(src: &[f32], dst: &mut [f32]) {
    let Some((last, body)) = dst.split_last_mut() else {
        return;
    };
    for (d, c) in body.iter_mut().zip(src.chunks_exact(N)) {
        *d = c[0];
    }
    *last = src[body.len() * N];
}

/// How many runs of images a batch splits into: one per thread when `parallel`.
fn parts(batch: usize, parallel: bool) -> usize {
    if parallel {
        rayon::current_num_threads().clamp(1, batch.max(1))
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{conv_backward_input, conv_backward_weight, conv_forward};
    use crate::rng::Rng;
    use crate::shape::spatial::Window3;
    use proptest::prelude::*;

    fn vals(n: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng::seed(seed);
        (0..n).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    struct CopyPlus<'a>(&'a [f32], &'a mut [f32]);

    impl<S: Simd> Kernel<S> for CopyPlus<'_> {
        type Out = ();
        fn run(self, s: S) {
            copy_plus(s, self.0, 0.25, self.1)
        }
    }

    #[test]
    fn copy_plus_matches_the_plain_loop_on_odd_lengths() {
        for n in [1, 7, 15, 16, 17, 28, 31, 32, 33, 47] {
            let src = to32(&vals(n, n as u64));
            let want: Vec<f32> = src.iter().map(|&v| v + 0.25).collect();
            for level in crate::kernels::simd::available_levels() {
                let mut got = vec![f32::NAN; n];
                simd!(level, CopyPlus(&src, &mut got));
                assert_eq!(got, want, "{level}, length {n}");
            }
        }
    }

    fn to32(v: &[f64]) -> Vec<f32> {
        v.iter().map(|&x| x as f32).collect()
    }

    fn close(got: &[f32], want: &[f64], what: &str, g: &ConvGeom) {
        assert_eq!(got.len(), want.len());
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what} [{i}] at {}: direct f32 {a} vs f64 {b}, {g:?}",
                crate::kernels::simd::level()
            );
        }
    }

    /// The direct `f32` kernels against the generic `f64` path (itself checked against the
    /// definition in `conv.rs`): forward with bias, input and weight gradients added to
    /// existing values.
    fn agrees(g: ConvGeom, seed: u64) {
        for level in crate::kernels::simd::available_levels() {
            crate::kernels::simd::at_level(level, || agrees_at(g, seed));
        }
    }

    /// [`agrees`] at the level the plan takes on this thread.
    fn agrees_at(g: ConvGeom, seed: u64) {
        assert!(Plan::new(&g).is_some(), "not a direct geometry: {g:?}");
        let iv: usize = g.input.iter().product();
        let ov: usize = g.output.iter().product();
        let x = vals(g.batch * g.cin * iv, seed);
        let w = vals(g.weight_len(), seed + 1);
        let b = vals(g.cout, seed + 2);
        let dy = vals(g.batch * g.cout * ov, seed + 3);
        let start_x = vals(x.len(), seed + 4);
        let start_w = vals(w.len(), seed + 5);

        let mut y64 = vec![0.0; dy.len()];
        conv_forward(&g, &x, &w, Some(&b), &mut y64);
        let mut y32 = vec![0.0f32; dy.len()];
        conv_forward(&g, &to32(&x), &to32(&w), Some(&to32(&b)), &mut y32);
        close(&y32, &y64, "forward", &g);

        let mut dx64 = start_x.clone();
        conv_backward_input(&g, &dy, &w, &mut dx64);
        let mut dx32 = to32(&start_x);
        conv_backward_input(&g, &to32(&dy), &to32(&w), &mut dx32);
        close(&dx32, &dx64, "input gradient", &g);

        let mut dw64 = start_w.clone();
        conv_backward_weight(&g, &x, &dy, &mut dw64);
        let mut dw32 = to32(&start_w);
        conv_backward_weight(&g, &to32(&x), &to32(&dy), &mut dw32);
        close(&dw32, &dw64, "weight gradient", &g);

        // weight and bias gradients in one pass, against the separate f64 kernels
        let start_b = vals(g.cout, seed + 6);
        let mut db64 = start_b.clone();
        crate::kernels::channel_sum(&dy, g.batch, g.cout, &mut db64);
        let (mut dw32, mut db32) = (to32(&start_w), to32(&start_b));
        crate::kernels::conv_backward_weight_bias(&g, &to32(&x), &to32(&dy), &mut dw32, &mut db32);
        close(&dw32, &dw64, "weight gradient (with bias)", &g);
        close(&db32, &db64, "bias gradient", &g);
    }

    /// A stride-1 geometry from its parts, `None` when the kernel does not fit the input.
    #[allow(clippy::too_many_arguments)]
    fn geom(
        batch: usize,
        groups: usize,
        cin_g: usize,
        cout_g: usize,
        hw: [usize; 2],
        k: [usize; 2],
        p: [usize; 2],
        d: [usize; 2],
    ) -> Option<ConvGeom> {
        let out = |i: usize| {
            (hw[i] + 2 * p[i])
                .checked_sub(d[i] * (k[i] - 1))
                .filter(|&o| o > 0)
        };
        Some(ConvGeom {
            batch,
            cin: groups * cin_g,
            cout: groups * cout_g,
            groups,
            window: Window3 {
                input: [1, hw[0], hw[1]],
                kernel: [1, k[0], k[1]],
                stride: [1; 3],
                padding: [0, p[0], p[1]],
                dilation: [1, d[0], d[1]],
                output: [1, out(0)?, out(1)?],
            },
        })
    }

    /// `g` with stride `s` (rows, columns): every `s`-th of its stride-1 outputs.
    fn strided(g: Option<ConvGeom>, s: [usize; 2]) -> Option<ConvGeom> {
        let mut g = g?;
        for (i, s) in s.into_iter().enumerate() {
            g.stride[i + 1] = s;
            g.output[i + 1] = (g.output[i + 1] - 1) / s + 1;
        }
        Some(g)
    }

    #[test]
    fn the_seed_networks_layers_run_direct_and_agree() {
        // LeNet's two convolutions, a 1-d one, and W2's first layer
        for (i, g) in [
            geom(3, 1, 1, 6, [28, 28], [5, 5], [2, 2], [1, 1]),
            geom(2, 1, 6, 16, [14, 14], [5, 5], [0, 0], [1, 1]),
            geom(2, 1, 3, 7, [1, 33], [1, 5], [0, 2], [1, 1]),
            geom(2, 1, 3, 32, [32, 32], [5, 5], [2, 2], [1, 1]),
            geom(2, 1, 32, 64, [8, 8], [5, 5], [2, 2], [1, 1]),
            geom(2, 1, 32, 32, [16, 16], [5, 5], [2, 2], [1, 1]),
        ]
        .into_iter()
        .enumerate()
        {
            agrees(g.expect("valid"), 10 * i as u64);
        }
    }

    #[test]
    fn many_taps_or_few_outputs_are_left_to_im2col() {
        let many = geom(1, 1, 200, 8, [8, 8], [5, 5], [2, 2], [1, 1]).expect("valid");
        assert!(Plan::new(&many).is_none());
        // 8x8 padded to 12x12 with many taps: direct forward; the weight gradient is direct
        // with output channels filling vectors (W2's last convolution), im2col otherwise
        let small = geom(1, 1, 32, 24, [8, 8], [5, 5], [2, 2], [1, 1]).expect("valid");
        assert!(Plan::new(&small).is_some_and(|p| !p.weight_grad_pays()));
        let w2 = geom(1, 1, 32, 64, [8, 8], [5, 5], [2, 2], [1, 1]).expect("valid");
        assert!(Plan::new(&w2).is_some_and(|p| p.weight_grad_pays()));
        let lenet = geom(1, 1, 6, 16, [14, 14], [5, 5], [0, 0], [1, 1]).expect("valid");
        assert!(Plan::new(&lenet).is_some_and(|p| p.weight_grad_pays()));
        let few_out = geom(1, 1, 3, 3, [8, 8], [3, 3], [1, 1], [1, 1]).expect("valid");
        assert!(Plan::new(&few_out).is_none());
    }

    #[test]
    fn resnets_strided_layers_run_direct_and_agree() {
        // ResNet-20's stride-2 convolutions and its 1x1 projection shortcut, a 1-d stride-3
        // one, and unequal strides with dilation
        for (i, g) in [
            strided(geom(2, 1, 16, 32, [32, 32], [3, 3], [1, 1], [1, 1]), [2, 2]),
            strided(geom(2, 1, 32, 64, [16, 16], [1, 1], [0, 0], [1, 1]), [2, 2]),
            strided(geom(3, 1, 3, 8, [1, 40], [1, 4], [0, 1], [1, 1]), [1, 3]),
            strided(geom(2, 2, 3, 5, [13, 11], [3, 2], [2, 1], [2, 1]), [3, 2]),
        ]
        .into_iter()
        .enumerate()
        {
            agrees(g.expect("valid"), 70 + i as u64);
        }
        // the wide grid has the phase planes' rows: 16 output rows of 34 / 2 = 17 columns
        // (not of the padded image's 34, which computes twice the outputs it keeps)
        let g = strided(geom(1, 1, 16, 32, [32, 32], [3, 3], [1, 1], [1, 1]), [2, 2]);
        let plan = Plan::new(&g.expect("valid")).expect("direct");
        assert_eq!((plan.wp, plan.wide), (17, 16 * 17));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn direct_kernels_agree_on_odd_sizes(
            batch in 1usize..4,
            groups in 1usize..3,
            // (19 channels of up to 25 taps: forward passes of `TAP_BLOCK` taps end anywhere)
            cin_g in prop::sample::select(vec![1usize, 2, 3, 5, 19]),
            cout_g in prop::sample::select(vec![4usize, 5, 6, 7, 8, 9, 13, 16, 17, 32, 48, 64]),
            h in prop::sample::select(vec![1usize, 3, 7, 15, 17]),
            w in prop::sample::select(vec![1usize, 3, 7, 15, 17, 31, 33]),
            k in (1usize..6, 1usize..6),
            p in (0usize..3, 0usize..3),
            d in (1usize..3, 1usize..3),
            s in prop::sample::select(vec![(1usize, 1usize), (1, 1), (2, 2), (1, 2), (3, 2)]),
            seed in 0u64..1000,
        ) {
            let g = geom(batch, groups, cin_g, cout_g, [h, w], [k.0, k.1], [p.0, p.1], [d.0, d.1]);
            let g = strided(g, [s.0, s.1]);
            prop_assume!(g.is_some());
            agrees(g.expect("some"), seed);
        }
    }
}
