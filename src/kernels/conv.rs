//! Convolution over 3-d spatial data (1-d and 2-d convolutions are 3-d ones with leading
//! spatial dims of size 1): forward, input gradient and weight gradient, with groups, strides,
//! zero padding and dilation. A transposed convolution is the input gradient of the convolution
//! going the other way, so these three kernels serve it too.
//!
//! Each image and group is lowered to a matrix product: `im2col` lays out every receptive field
//! as a column (`Cin/G * Kvol` rows by `Ovol` columns), the weights of the group multiply it, and
//! `col2im` scatters columns back for the input gradient. Images run in parallel.
//!
//! `f32` convolutions over 1-d or 2-d data take the direct kernel of `direct.rs` instead (no
//! column matrix: every tap is a shifted contiguous read of the padded image, or of its phase
//! planes when strided), which measured faster than im2col + GEMM on every layer of the
//! reference workloads; 3-d and `f64` convolutions, and the input gradient of a strided one
//! (a transposed convolution), keep the im2col path here.

use super::direct::Plan;
use super::{as_f32, as_f32_mut};
use super::{gemm, Trans};
use crate::element::Element;
use crate::shape::spatial::Window3;
use rayon::prelude::*;

/// The sizes of a convolution: batch, channels, groups, and per spatial dim (depth, height,
/// width) the input, kernel, stride, front zero padding, dilation and output lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Groups (divides `cin` and `cout`).
    pub groups: usize,
    /// Per spatial dim: the input, kernel, stride, front zero padding (the padding behind
    /// only shapes `output`), dilation and output lengths; read through `Deref`
    /// (`g.kernel`).
    pub window: Window3,
}

impl ConvGeom {
    /// The geometry of a convolution over window `w` (its padding on the front of each dim).
    pub fn new(batch: usize, cin: usize, cout: usize, groups: usize, w: Window3) -> Self {
        ConvGeom {
            batch,
            cin,
            cout,
            groups,
            window: w,
        }
    }
}

// The window's fields read as the geometry's own (`g.kernel`, `g.output`): every kernel walks
// them, and the window is the one place they are declared.
impl std::ops::Deref for ConvGeom {
    type Target = Window3;
    fn deref(&self) -> &Window3 {
        &self.window
    }
}

impl std::ops::DerefMut for ConvGeom {
    fn deref_mut(&mut self) -> &mut Window3 {
        &mut self.window
    }
}

impl ConvGeom {
    fn in_vol(&self) -> usize {
        self.input.iter().product()
    }
    fn out_vol(&self) -> usize {
        self.output.iter().product()
    }
    fn k_vol(&self) -> usize {
        self.kernel.iter().product()
    }
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// The number of weights: `cout * cin / groups * Kvol`.
    pub fn weight_len(&self) -> usize {
        self.cout * self.cin_g() * self.k_vol()
    }
    fn check(&self) {
        assert!(
            self.groups > 0
                && self.cin.is_multiple_of(self.groups)
                && self.cout.is_multiple_of(self.groups),
            "conv: groups must divide the channels"
        );
    }
}

/// The output positions `[lo, hi)` along one dim whose input position
/// `o * stride + offset - pad` falls inside `0..len`.
fn valid_range(out: usize, len: usize, stride: usize, pad: usize, offset: usize) -> (usize, usize) {
    let lo = if offset >= pad {
        0
    } else {
        (pad - offset).div_ceil(stride)
    };
    let hi = if len + pad > offset {
        ((len - 1 + pad - offset) / stride + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// For every kernel tap `(c, a, b, e)` and output row `(z, y)` with `z * oh + y` in
/// `rows`, calls `f(row, o_start, src)` where `o_start` is the row's first column within the
/// block and `src` is `None` for a row that falls into the padding, else `Some((input offset of
/// the first valid x, x range))`: the shared walk of [`im2col_rows`] and [`col2im_rows`].
fn for_each_tap_row(
    g: &ConvGeom,
    rows: std::ops::Range<usize>,
    mut f: impl FnMut(usize, usize, Option<(usize, (usize, usize))>),
) {
    let [id, ih, iw] = g.input;
    let [kd, kh, kw] = g.kernel;
    let [od, oh, ow] = g.output;
    let _ = od;
    let mut row = 0;
    for c in 0..g.cin_g() {
        for a in 0..kd {
            let zr = valid_range(od, id, g.stride[0], g.padding[0], a * g.dilation[0]);
            for b in 0..kh {
                let yr = valid_range(oh, ih, g.stride[1], g.padding[1], b * g.dilation[1]);
                for e in 0..kw {
                    let xr = valid_range(ow, iw, g.stride[2], g.padding[2], e * g.dilation[2]);
                    for zy in rows.clone() {
                        let (z, y) = (zy / oh, zy % oh);
                        {
                            let o = (zy - rows.start) * ow;
                            if z < zr.0 || z >= zr.1 || y < yr.0 || y >= yr.1 || xr.0 >= xr.1 {
                                f(row, o, None);
                                continue;
                            }
                            let zi = z * g.stride[0] + a * g.dilation[0] - g.padding[0];
                            let yi = y * g.stride[1] + b * g.dilation[1] - g.padding[1];
                            let xi = xr.0 * g.stride[2] + e * g.dilation[2] - g.padding[2];
                            let src = ((c * id + zi) * ih + yi) * iw + xi;
                            f(row, o, Some((src, xr)));
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Lays out the receptive fields of one image-group `x` (`cin_g x in_vol`) as the columns of
/// `col` (`cin_g * k_vol x out_vol`), zeros where a field reaches into the padding. Rows of the
/// output are copied whole where the stride is 1.
fn im2col<E: Element>(g: &ConvGeom, x: &[E], col: &mut [E]) {
    im2col_rows(g, x, col, 0..g.output[0] * g.output[1]);
}

/// [`im2col`] of the output rows `rows` only: `col` is `cin_g * k_vol x rows.len() * ow`.
fn im2col_rows<E: Element>(g: &ConvGeom, x: &[E], col: &mut [E], rows: std::ops::Range<usize>) {
    let (ow, sx) = (g.output[2], g.stride[2]);
    let width = rows.len() * ow;
    for_each_tap_row(g, rows, |row, o, src| {
        let dst = &mut col[row * width + o..row * width + o + ow];
        match src {
            None => dst.fill(E::zero()),
            Some((s, (lo, hi))) => {
                dst[..lo].fill(E::zero());
                dst[hi..].fill(E::zero());
                if sx == 1 {
                    dst[lo..hi].copy_from_slice(&x[s..s + hi - lo]);
                } else {
                    for (j, d) in dst[lo..hi].iter_mut().enumerate() {
                        *d = x[s + j * sx];
                    }
                }
            }
        }
    });
}

/// The adjoint of [`im2col_rows`]: adds each column entry of the output rows `rows` back to the
/// input position it came from.
fn col2im_rows<E: Element>(g: &ConvGeom, col: &[E], dx: &mut [E], rows: std::ops::Range<usize>) {
    let (ow, sx) = (g.output[2], g.stride[2]);
    let width = rows.len() * ow;
    for_each_tap_row(g, rows, |row, o, src| {
        if let Some((s, (lo, hi))) = src {
            let from = &col[row * width + o + lo..row * width + o + hi];
            if sx == 1 {
                super::add_assign(&mut dx[s..s + hi - lo], from);
            } else {
                for (j, &v) in from.iter().enumerate() {
                    dx[s + j * sx] = dx[s + j * sx] + v;
                }
            }
        }
    });
}

/// Output rows per block of im2col columns: all of them for small convolutions, else about
/// 512 KiB of columns, so im2col, packing and the product share the cache.
fn block_rows(g: &ConvGeom) -> usize {
    let (kv, ow, ov) = (g.cin_g() * g.k_vol(), g.output[2], g.out_vol());
    let rows = g.output[0] * g.output[1];
    if kv * ov > 1 << 18 {
        ((1 << 17) / (kv * ow).max(1)).clamp(1, rows.max(1))
    } else {
        rows.max(1)
    }
}

/// Columns `r0 * ow .. r1 * ow` of each of the `channels` planes of `src` (`channels x ov`),
/// packed contiguously.
fn gather_block<E: Element>(src: &[E], ov: usize, cols: std::ops::Range<usize>, out: &mut [E]) {
    let nb = cols.len();
    for (o, s) in out.chunks_exact_mut(nb).zip(src.chunks_exact(ov)) {
        o.copy_from_slice(&s[cols.clone()]);
    }
}

/// The direct kernel's plan for `g`, if it applies (`f32`, 1-d or 2-d, not too many taps).
fn direct_plan<E: Element>(g: &ConvGeom) -> Option<Plan> {
    if E::VECTOR_KERNELS {
        Plan::new(g)
    } else {
        None
    }
}

fn parallel<E>(g: &ConvGeom) -> bool {
    let _ = std::marker::PhantomData::<E>;
    g.batch > 1
        && super::may_split()
        && g.batch * g.cout * g.out_vol() * g.cin_g() * g.k_vol() >= 1 << 18
}

/// `out = conv(x, w) + bias`: `x` is `batch x cin x input`, `w` is `cout x cin/groups x
/// kernel`, `out` is `batch x cout x output`.
pub fn conv_forward<E: Element>(g: &ConvGeom, x: &[E], w: &[E], bias: Option<&[E]>, out: &mut [E]) {
    forward_into(g, x, w, bias, out, false);
}

/// [`conv_forward`] into a new buffer. The direct kernel writes each output once; other
/// paths fill zeros first.
pub(crate) fn conv_forward_new<E: Element>(
    g: &ConvGeom,
    x: &[E],
    w: &[E],
    bias: Option<&[E]>,
) -> Vec<E> {
    if let Some(v) = direct_new(g, x, w, bias) {
        return v;
    }
    let mut out = super::zeros(g.batch * g.cout * g.out_vol());
    conv_forward(g, x, w, bias, &mut out);
    out
}

/// [`conv_transpose_forward`] into a new buffer, written once where the direct kernel runs it.
pub(crate) fn conv_transpose_forward_new<E: Element>(g: &ConvGeom, dy: &[E], w: &[E]) -> Vec<E> {
    let direct = |t: &ConvGeom| direct_plan::<E>(t).is_some();
    if let Some(t) = transposed_geometry::<E>(g).filter(direct) {
        if let Some(v) = direct_new(&t, dy, &transpose_flip_weights(g, w), None) {
            return v;
        }
    }
    let mut out = super::zeros(g.batch * g.cin * g.in_vol());
    conv_transpose_forward(g, dy, w, &mut out);
    out
}

/// The direct kernel's forward of `g` into a new buffer, where it runs (`f32`).
fn direct_new<E: Element>(g: &ConvGeom, x: &[E], w: &[E], bias: Option<&[E]>) -> Option<Vec<E>> {
    let out_len = g.batch * g.cout * g.out_vol();
    check_lengths(g, x.len(), w.len(), out_len, "conv_forward");
    let plan = direct_plan::<E>(g)?;
    let (x, w) = (as_f32(x)?, as_f32(w)?);
    E::from_vector(plan.forward_new(x, w, bias.and_then(as_f32), parallel::<E>(g)))
}

/// Checks `g` and the lengths of a convolution's input (or its gradient), weights (or their
/// gradient) and output (or its gradient) against it; `op` names the kernel in the message.
fn check_lengths(g: &ConvGeom, x: usize, w: usize, y: usize, op: &str) {
    g.check();
    assert_eq!(x, g.batch * g.cin * g.in_vol(), "{op}: input length");
    assert_eq!(w, g.weight_len(), "{op}: weight length");
    assert_eq!(y, g.batch * g.cout * g.out_vol(), "{op}: output length");
}

/// [`conv_forward`], adding to `out` instead of overwriting it when `accumulate`.
fn forward_into<E: Element>(
    g: &ConvGeom,
    x: &[E],
    w: &[E],
    bias: Option<&[E]>,
    out: &mut [E],
    accumulate: bool,
) {
    check_lengths(g, x.len(), w.len(), out.len(), "conv_forward");
    let (iv, ov, kv) = (g.in_vol(), g.out_vol(), g.k_vol());
    if out.is_empty() {
        return;
    }
    if let Some(plan) = direct_plan::<E>(g) {
        let par = parallel::<E>(g);
        if let (Some(x), Some(w), Some(out)) = (as_f32(x), as_f32(w), as_f32_mut(out)) {
            let bias = bias.and_then(as_f32);
            plan.forward(x, w, bias, out, accumulate, par);
            return;
        }
    }
    let (xs, os) = (g.cin * iv, g.cout * ov);
    let per_image = |bufs: &mut ColBufs<E>, (xn, on): (&[E], &mut [E])| {
        let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
        for gi in 0..g.groups {
            let xg = &xn[gi * cin_g * iv..(gi + 1) * cin_g * iv];
            let wg = &w[gi * cout_g * cin_g * kv..(gi + 1) * cout_g * cin_g * kv];
            let og = &mut on[gi * cout_g * ov..(gi + 1) * cout_g * ov];
            forward_group(g, xg, wg, og, bufs, accumulate);
        }
        if let Some(b) = bias {
            add_channel_bias(on, ov, b);
        }
    };
    if parallel::<E>(g) {
        x.par_chunks(xs.max(1))
            .zip(out.par_chunks_mut(os))
            .for_each_init(
                || ColBufs::new(g),
                |b, p| super::as_task(|| per_image(b, p)),
            );
    } else {
        let mut bufs = ColBufs::new(g);
        x.chunks(xs.max(1))
            .zip(out.chunks_mut(os))
            .for_each(|p| per_image(&mut bufs, p));
    }
}

/// The im2col buffers of one thread for one call (a fresh pair per image costs page faults):
/// the columns of a block of output rows ([`block_rows`]) and the product for them.
struct ColBufs<E> {
    col: Vec<E>,
    tmp: Vec<E>,
}

impl<E: Element> ColBufs<E> {
    fn new(g: &ConvGeom) -> Self {
        let (ow, block) = (g.output[2], block_rows(g));
        ColBufs {
            col: vec![E::zero(); g.cin_g() * g.k_vol() * block * ow],
            tmp: vec![E::zero(); g.cout_g() * block * ow],
        }
    }
}

/// One group of one image by im2col and a product: `og (+)= wg col(xg)`. Large im2col
/// matrices are built a block of output rows at a time (about 512 KiB), so the columns stay in
/// cache between im2col, packing and the product.
fn forward_group<E: Element>(
    g: &ConvGeom,
    xg: &[E],
    wg: &[E],
    og: &mut [E],
    bufs: &mut ColBufs<E>,
    accumulate: bool,
) {
    let (ckv, cout_g, ov) = (g.cin_g() * g.k_vol(), g.cout_g(), g.out_vol());
    let (ow, out_rows, block) = (g.output[2], g.output[0] * g.output[1], block_rows(g));
    if block >= out_rows {
        im2col(g, xg, &mut bufs.col);
        let col = &bufs.col;
        return gemm(
            cout_g,
            ckv,
            ov,
            wg,
            Trans::No,
            col,
            Trans::No,
            og,
            accumulate,
        );
    }
    for r0 in (0..out_rows).step_by(block) {
        let r1 = (r0 + block).min(out_rows);
        let nb = (r1 - r0) * ow;
        let colb = &mut bufs.col[..ckv * nb];
        im2col_rows(g, xg, colb, r0..r1);
        let tb = &mut bufs.tmp[..cout_g * nb];
        gemm(cout_g, ckv, nb, wg, Trans::No, colb, Trans::No, tb, false);
        for (orow, trow) in og.chunks_exact_mut(ov).zip(tb.chunks_exact(nb)) {
            let dst = &mut orow[r0 * ow..r1 * ow];
            if accumulate {
                super::add_assign(dst, trow);
            } else {
                dst.copy_from_slice(trow);
            }
        }
    }
}

/// `dx += conv_backward_input(dy, w)`: the gradient of the input (and the forward pass of a
/// transposed convolution).
pub fn conv_backward_input<E: Element>(g: &ConvGeom, dy: &[E], w: &[E], dx: &mut [E]) {
    backward_input_into(g, dy, w, dx, true);
}

/// `dx = conv_backward_input(dy, w)`, overwriting `dx`: the forward pass of a transposed
/// convolution. Writing instead of adding matters for a freshly allocated output: adding reads
/// its untouched pages first, and each such page then faults twice.
pub fn conv_transpose_forward<E: Element>(g: &ConvGeom, dy: &[E], w: &[E], dx: &mut [E]) {
    backward_input_into(g, dy, w, dx, false);
}

fn backward_input_into<E: Element>(
    g: &ConvGeom,
    dy: &[E],
    w: &[E],
    dx: &mut [E],
    accumulate: bool,
) {
    check_lengths(g, dx.len(), w.len(), dy.len(), "conv_backward_input");
    let (iv, ov, kv) = (g.in_vol(), g.out_vol(), g.k_vol());
    let transposed = transposed_geometry::<E>(g);
    if !accumulate && (transposed.is_none() || dy.is_empty()) {
        dx.fill(E::zero());
    }
    if dx.is_empty() || dy.is_empty() {
        return;
    }
    if let Some(t) = transposed {
        // dx = full convolution of dy with the flipped, transposed weights: a forward
        // convolution with `cout/G * Kvol` as the product's inner size instead of `cout/G`,
        // and no scatter-add of columns.
        let wt = transpose_flip_weights(g, w);
        forward_into(&t, dy, &wt, None, dx, accumulate);
        return;
    }
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let (ow, out_rows, block) = (g.output[2], g.output[0] * g.output[1], block_rows(g));
    let new_col = || {
        (
            vec![E::zero(); cin_g * kv * block * ow],
            vec![E::zero(); cout_g * block * ow],
        )
    };
    let per_image = |(col, tmp): &mut (Vec<E>, Vec<E>), (dyn_, dxn): (&[E], &mut [E])| {
        for gi in 0..g.groups {
            let wg = &w[gi * cout_g * cin_g * kv..(gi + 1) * cout_g * cin_g * kv];
            let dyg = &dyn_[gi * cout_g * ov..(gi + 1) * cout_g * ov];
            let dxg = &mut dxn[gi * cin_g * iv..(gi + 1) * cin_g * iv];
            for r0 in (0..out_rows).step_by(block) {
                let r1 = (r0 + block).min(out_rows);
                let nb = (r1 - r0) * ow;
                // dcol = W^T dY for these output rows, then scattered back
                let dyb = &mut tmp[..cout_g * nb];
                gather_block(dyg, ov, r0 * ow..r1 * ow, dyb);
                let colb = &mut col[..cin_g * kv * nb];
                gemm(
                    cin_g * kv,
                    cout_g,
                    nb,
                    wg,
                    Trans::Yes,
                    dyb,
                    Trans::No,
                    colb,
                    false,
                );
                col2im_rows(g, colb, dxg, r0..r1);
            }
        }
    };
    let (xs, os) = (g.cin * iv, g.cout * ov);
    if parallel::<E>(g) {
        dy.par_chunks(os)
            .zip(dx.par_chunks_mut(xs))
            .for_each_init(new_col, |b, p| super::as_task(|| per_image(b, p)));
    } else {
        let mut bufs = new_col();
        dy.chunks(os)
            .zip(dx.chunks_mut(xs))
            .for_each(|p| per_image(&mut bufs, p));
    }
}

/// The forward convolution whose output is the input gradient of `g`, where that pays: stride
/// 1, front padding at most the dilated kernel's reach (so the new padding is not negative),
/// and either the direct kernel takes it or there are enough channels for the product to fill
/// the microkernel (`cin/G >= 16`, inner size `cout/G * Kvol >= 64`). Otherwise the im2col +
/// scatter path, whose product is shaped better for few channels.
fn transposed_geometry<E: Element>(g: &ConvGeom) -> Option<ConvGeom> {
    let reach = |i: usize| g.dilation[i] * (g.kernel[i] - 1);
    let fits = g.stride == [1; 3] && (0..3).all(|i| g.kernel[i] > 0 && g.padding[i] <= reach(i));
    if !fits {
        return None;
    }
    let t = ConvGeom {
        batch: g.batch,
        cin: g.cout,
        cout: g.cin,
        groups: g.groups,
        window: Window3 {
            input: g.output,
            kernel: g.kernel,
            stride: [1; 3],
            padding: [0, 1, 2].map(|i| reach(i) - g.padding[i]),
            dilation: g.dilation,
            output: g.input,
        },
    };
    let fills_gemm = g.cin_g() >= 16 && g.cout_g() * g.k_vol() >= 64;
    (fills_gemm || direct_plan::<E>(&t).is_some()).then_some(t)
}

/// `w` (`cout x cin/G x Kvol`) as the weights of [`transposed_geometry`] (`cin x cout/G x
/// Kvol`): input and output channels swapped within each group, kernel reversed in every dim.
fn transpose_flip_weights<E: Element>(g: &ConvGeom, w: &[E]) -> Vec<E> {
    let (cin_g, cout_g, kv) = (g.cin_g(), g.cout_g(), g.k_vol());
    let mut wt = vec![E::zero(); w.len()];
    for gi in 0..g.groups {
        for co in 0..cout_g {
            for ci in 0..cin_g {
                let src = ((gi * cout_g + co) * cin_g + ci) * kv;
                let dst = ((gi * cin_g + ci) * cout_g + co) * kv;
                for t in 0..kv {
                    wt[dst + kv - 1 - t] = w[src + t];
                }
            }
        }
    }
    wt
}

/// `dw += conv_backward_weight(x, dy)` and `db +=` the sum of `dy` per output channel: the
/// gradients of a convolution's weights and bias together. Where the direct kernel computes
/// the weight gradient, each image's `dy` is summed while it is in cache (one pass over `dy`
/// fewer than [`conv_backward_weight`] then [`channel_sum`]).
///
/// # Panics
/// If a length disagrees with `g`.
pub fn conv_backward_weight_bias<E: Element>(
    g: &ConvGeom,
    x: &[E],
    dy: &[E],
    dw: &mut [E],
    db: &mut [E],
) {
    assert_eq!(db.len(), g.cout, "conv_backward_weight_bias: bias length");
    backward_weight_into(g, x, dy, dw, Some(db));
}

/// `dw += conv_backward_weight(x, dy)`: the gradient of the weights, summed over the batch.
pub fn conv_backward_weight<E: Element>(g: &ConvGeom, x: &[E], dy: &[E], dw: &mut [E]) {
    backward_weight_into(g, x, dy, dw, None);
}

/// [`conv_backward_weight`], and [`channel_sum`] into `db` when given (inside the direct
/// kernel's pass where it runs).
fn backward_weight_into<E: Element>(
    g: &ConvGeom,
    x: &[E],
    dy: &[E],
    dw: &mut [E],
    mut db: Option<&mut [E]>,
) {
    check_lengths(g, x.len(), dw.len(), dy.len(), "conv_backward_weight");
    let (iv, ov) = (g.in_vol(), g.out_vol());
    if dw.is_empty() || dy.is_empty() {
        if let Some(db) = db {
            channel_sum(dy, g.batch, g.cout, db);
        }
        return;
    }
    if let Some(plan) = direct_plan::<E>(g).filter(Plan::weight_grad_pays) {
        let par = parallel::<E>(g);
        if let (Some(x), Some(dy32), Some(dw)) = (as_f32(x), as_f32(dy), as_f32_mut(dw)) {
            let db32 = db.as_deref_mut().and_then(|d| as_f32_mut(d));
            plan.backward_weight(x, dy32, dw, db32, par);
            return;
        }
    }
    if let Some(db) = db {
        channel_sum(dy, g.batch, g.cout, db);
    }
    // dW += dY col^T, a block of output rows at a time, computed as dW^T += col dY^T where
    // that fills the microkernel better: the long side (`cin/G * Kvol`) then runs down its
    // rows and `cout/G` across its 32 columns, and packing `col` as A reads it in order.
    let (ckv, cout_g) = (g.cin_g() * g.k_vol(), g.cout_g());
    let tiles = |rows: usize, cols: usize| rows.div_ceil(12) * 12 * cols.div_ceil(32) * 32;
    let transposed = tiles(ckv, cout_g) < tiles(cout_g, ckv);
    let accumulate = |acc: &mut [E], bufs: &mut ColBufs<E>, n: usize| {
        let xn = &x[n * g.cin * iv..(n + 1) * g.cin * iv];
        let dyn_ = &dy[n * g.cout * ov..(n + 1) * g.cout * ov];
        let (xs, dys, dws) = (g.cin_g() * iv, cout_g * ov, cout_g * ckv);
        for gi in 0..g.groups {
            let xg = &xn[gi * xs..(gi + 1) * xs];
            let dyg = &dyn_[gi * dys..(gi + 1) * dys];
            let dwg = &mut acc[gi * dws..(gi + 1) * dws];
            weight_grad_group(g, xg, dyg, dwg, bufs, transposed);
        }
    };
    let total = batch_sum(g, dw.len(), accumulate);
    if transposed {
        add_transposed(g, &total, dw);
    } else {
        super::add_assign(dw, &total);
    }
}

/// The sum over the batch of what `accumulate(acc, bufs, image)` adds to a zeroed `len`-long
/// accumulator: a private accumulator and column buffers per run of images when parallel.
fn batch_sum<E: Element>(
    g: &ConvGeom,
    len: usize,
    accumulate: impl Fn(&mut [E], &mut ColBufs<E>, usize) + Sync,
) -> Vec<E> {
    if !parallel::<E>(g) {
        let (mut acc, mut bufs) = (vec![E::zero(); len], ColBufs::new(g));
        for n in 0..g.batch {
            accumulate(&mut acc, &mut bufs, n);
        }
        return acc;
    }
    // one run of images per thread: each split of the range makes a fold state, which is a
    // zeroed accumulator and column buffers
    let per = g.batch.div_ceil(rayon::current_num_threads().max(1));
    (0..g.batch)
        .into_par_iter()
        .with_min_len(per.max(1))
        .fold(
            || (vec![E::zero(); len], ColBufs::new(g)),
            |(mut acc, mut bufs), n| {
                super::as_task(|| accumulate(&mut acc, &mut bufs, n));
                (acc, bufs)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(
            || vec![E::zero(); len],
            |mut a, b| {
                super::add_assign(&mut a, &b);
                a
            },
        )
}

/// One group of one image's weight gradient, `dwg += dyg col(xg)^T` (or its transpose into
/// `dwg` when `transposed`), a block of output rows at a time.
fn weight_grad_group<E: Element>(
    g: &ConvGeom,
    xg: &[E],
    dyg: &[E],
    dwg: &mut [E],
    bufs: &mut ColBufs<E>,
    transposed: bool,
) {
    let (ckv, cout_g, ov) = (g.cin_g() * g.k_vol(), g.cout_g(), g.out_vol());
    let (ow, out_rows, block) = (g.output[2], g.output[0] * g.output[1], block_rows(g));
    for r0 in (0..out_rows).step_by(block) {
        let r1 = (r0 + block).min(out_rows);
        let nb = (r1 - r0) * ow;
        let colb = &mut bufs.col[..ckv * nb];
        im2col_rows(g, xg, colb, r0..r1);
        let dyb = &mut bufs.tmp[..cout_g * nb];
        gather_block(dyg, ov, r0 * ow..r1 * ow, dyb);
        if transposed {
            gemm(ckv, nb, cout_g, colb, Trans::No, dyb, Trans::Yes, dwg, true);
        } else {
            gemm(cout_g, nb, ckv, dyb, Trans::No, colb, Trans::Yes, dwg, true);
        }
    }
}

/// `dw += wt` for `wt` holding each group's weight gradient transposed (`cin/G * Kvol x
/// cout/G`).
fn add_transposed<E: Element>(g: &ConvGeom, wt: &[E], dw: &mut [E]) {
    let (rows, cols) = (g.cin_g() * g.k_vol(), g.cout_g());
    for (tg, dg) in wt
        .chunks_exact(rows * cols)
        .zip(dw.chunks_exact_mut(rows * cols))
    {
        for (r, trow) in tg.chunks_exact(cols).enumerate() {
            for (c, &v) in trow.iter().enumerate() {
                dg[c * rows + r] = dg[c * rows + r] + v;
            }
        }
    }
}

/// `y[n, c, :] += b[c]` for `y` of planes of `plane` elements, channels cycling through `b`.
pub fn add_channel_bias<E: Element>(y: &mut [E], plane: usize, b: &[E]) {
    if plane == 0 || b.is_empty() {
        return;
    }
    debug_assert!(y.len().is_multiple_of(plane * b.len()), "whole samples");
    // channel by channel through each sample (no division per plane)
    for sample in y.chunks_exact_mut(plane * b.len()) {
        for (p, &bc) in sample.chunks_exact_mut(plane).zip(b) {
            p.iter_mut().for_each(|v| *v = *v + bc);
        }
    }
}

/// `db[c] += sum of dy over the batch and the spatial positions of channel c`.
pub fn channel_sum<E: Element>(dy: &[E], batch: usize, channels: usize, db: &mut [E]) {
    assert_eq!(db.len(), channels, "channel_sum: length");
    let per = dy.len().checked_div(batch * channels).unwrap_or(0);
    // channel by channel (on the pool when large), each plane summed in vector chains
    let add_channel = |(c, d): (usize, &mut E)| {
        for n in 0..batch {
            let start = (n * channels + c) * per;
            *d = *d + super::reduce::sum_run(&dy[start..start + per]);
        }
    };
    if super::on_pool(dy.len()) {
        db.par_iter_mut().enumerate().for_each(add_channel);
    } else {
        db.iter_mut().enumerate().for_each(add_channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn vals(n: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng::seed(seed);
        (0..n).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    /// The new-buffer forms (each output written once where the direct kernel runs, through
    /// a new vector's spare capacity) equal the overwriting kernels, bit for bit, on direct
    /// and non-direct geometries, batches that split across threads or not.
    #[test]
    fn new_buffer_forms_equal_the_overwriting_kernels() {
        let geoms = [
            // LeNet's second layer (direct both ways), a strided one (im2col), a 1-d one
            (4, 6, 16, [1, 14, 14], [1, 5, 5], [1, 1, 1], [0, 0, 0]),
            (3, 2, 8, [1, 9, 9], [1, 3, 3], [1, 2, 2], [0, 1, 1]),
            (64, 3, 32, [1, 1, 33], [1, 1, 5], [1, 1, 1], [0, 0, 2]),
        ];
        for (i, (batch, cin, cout, input, kernel, stride, padding)) in geoms.into_iter().enumerate()
        {
            let output = [0, 1, 2].map(|d| (input[d] + 2 * padding[d] - kernel[d]) / stride[d] + 1);
            let g = ConvGeom {
                batch,
                cin,
                cout,
                groups: 1,
                window: Window3 {
                    input,
                    kernel,
                    stride,
                    padding,
                    dilation: [1; 3],
                    output,
                },
            };
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let x = f(vals(batch * cin * g.in_vol(), 3 * i as u64));
            let w = f(vals(g.weight_len(), 3 * i as u64 + 1));
            let b = f(vals(cout, 3 * i as u64 + 2));
            let dy = f(vals(batch * cout * g.out_vol(), 3 * i as u64 + 3));
            let mut y = vec![f32::NAN; dy.len()];
            conv_forward(&g, &x, &w, Some(&b), &mut y);
            assert_eq!(conv_forward_new(&g, &x, &w, Some(&b)), y, "forward {g:?}");
            let mut dx = vec![f32::NAN; x.len()];
            conv_transpose_forward(&g, &dy, &w, &mut dx);
            assert_eq!(
                conv_transpose_forward_new(&g, &dy, &w),
                dx,
                "transposed {g:?}"
            );
        }
    }

    /// The definition, one output element at a time.
    fn reference(g: &ConvGeom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        let [od, oh, ow] = g.output;
        let [id, ih, iw] = g.input;
        let [kd, kh, kw] = g.kernel;
        let mut out = vec![0.0; g.batch * g.cout * od * oh * ow];
        for n in 0..g.batch {
            for co in 0..g.cout {
                let grp = co / cout_g;
                for z in 0..od {
                    for y in 0..oh {
                        for xo in 0..ow {
                            let mut s = 0.0;
                            for ci in 0..cin_g {
                                for a in 0..kd {
                                    for b in 0..kh {
                                        for e in 0..kw {
                                            let zi = (z * g.stride[0] + a * g.dilation[0]) as isize
                                                - g.padding[0] as isize;
                                            let yi = (y * g.stride[1] + b * g.dilation[1]) as isize
                                                - g.padding[1] as isize;
                                            let xi = (xo * g.stride[2] + e * g.dilation[2])
                                                as isize
                                                - g.padding[2] as isize;
                                            if zi < 0
                                                || yi < 0
                                                || xi < 0
                                                || zi >= id as isize
                                                || yi >= ih as isize
                                                || xi >= iw as isize
                                            {
                                                continue;
                                            }
                                            let c = grp * cin_g + ci;
                                            let xv = x[(((n * g.cin + c) * id + zi as usize) * ih
                                                + yi as usize)
                                                * iw
                                                + xi as usize];
                                            let wv =
                                                w[(((co * cin_g + ci) * kd + a) * kh + b) * kw + e];
                                            s += xv * wv;
                                        }
                                    }
                                }
                            }
                            out[(((n * g.cout + co) * od + z) * oh + y) * ow + xo] = s;
                        }
                    }
                }
            }
        }
        out
    }

    fn geometries() -> Vec<ConvGeom> {
        let mut v = Vec::new();
        let os = |i: usize, k: usize, s: usize, p: usize, d: usize| {
            crate::shape::out::conv_out_size(i, k, s, p, d).unwrap()
        };
        for (batch, cin, cout, groups) in [
            (1, 1, 1, 1),
            (3, 2, 4, 1),
            (2, 4, 6, 2),
            (2, 3, 3, 3),
            (1, 6, 2, 2),
            // enough channels per group for the input gradient's transposed path
            (2, 32, 16, 1),
            (1, 32, 32, 2),
        ] {
            for (inp, k, s, p, d) in [
                ([1, 1, 17], [1, 1, 3], [1, 1, 2], [0, 0, 1], [1, 1, 1]),
                ([1, 7, 15], [1, 3, 2], [1, 2, 1], [0, 1, 0], [1, 1, 2]),
                ([1, 9, 9], [1, 3, 3], [1, 1, 1], [0, 2, 2], [1, 2, 2]),
                ([3, 5, 4], [2, 2, 3], [1, 2, 1], [1, 0, 1], [1, 1, 1]),
                ([1, 33, 1], [1, 5, 1], [1, 3, 1], [0, 2, 0], [1, 1, 1]),
                ([1, 6, 7], [1, 2, 2], [1, 1, 1], [0, 1, 1], [1, 1, 1]),
                ([2, 5, 3], [1, 1, 1], [1, 1, 1], [0, 1, 0], [1, 1, 1]),
            ] {
                let output = [0, 1, 2].map(|i| os(inp[i], k[i], s[i], p[i], d[i]));
                v.push(ConvGeom {
                    batch,
                    cin,
                    cout,
                    groups,
                    window: Window3 {
                        input: inp,
                        kernel: k,
                        stride: s,
                        padding: p,
                        dilation: d,
                        output,
                    },
                });
            }
        }
        v
    }

    #[test]
    fn the_input_gradient_takes_the_transposed_path_only_where_it_is_exact_and_pays() {
        let taken: Vec<bool> = geometries()
            .iter()
            .map(|g| transposed_geometry::<f64>(g).is_some())
            .collect();
        let expect = |g: &ConvGeom| {
            g.stride == [1; 3]
                && g.cin / g.groups >= 16
                && (0..3).all(|i| g.padding[i] <= g.dilation[i] * (g.kernel[i] - 1))
        };
        let want: Vec<bool> = geometries().iter().map(expect).collect();
        assert_eq!(taken, want);
        assert!(taken.iter().filter(|&&t| t).count() >= 4);
        // padding beyond the kernel's reach falls back to the scatter path
        assert!(geometries().iter().any(|g| g.cin / g.groups >= 16
            && g.stride == [1; 3]
            && transposed_geometry::<f64>(g).is_none()));
    }

    #[test]
    fn forward_matches_the_definition_on_odd_sizes() {
        for (i, g) in geometries().iter().enumerate() {
            let x = vals(
                g.batch * g.cin * g.input.iter().product::<usize>(),
                i as u64,
            );
            let w = vals(g.weight_len(), 100 + i as u64);
            let b = vals(g.cout, 200 + i as u64);
            let mut out = vec![0.0; g.batch * g.cout * g.output.iter().product::<usize>()];
            conv_forward(g, &x, &w, Some(&b), &mut out);
            let expect = reference(g, &x, &w);
            let ov: usize = g.output.iter().product();
            for (j, (o, e)) in out.iter().zip(&expect).enumerate() {
                let c = (j / ov) % g.cout;
                assert!((o - e - b[c]).abs() < 1e-12, "{g:?}");
            }
        }
    }

    /// The forward against the definition, and `<conv(x, w), y> == <x, dx(y, w)> == <w,
    /// dw(x, y)>`, with overwriting and accumulating input gradients.
    fn check_against_definition(g: &ConvGeom, seed: u64) {
        let x = vals(g.batch * g.cin * g.input.iter().product::<usize>(), seed);
        let w = vals(g.weight_len(), seed + 300);
        let y = vals(
            g.batch * g.cout * g.output.iter().product::<usize>(),
            seed + 400,
        );
        let mut out = vec![0.0; y.len()];
        conv_forward(g, &x, &w, None, &mut out);
        let expect = reference(g, &x, &w);
        assert!(
            out.iter().zip(&expect).all(|(o, e)| (o - e).abs() < 1e-12),
            "forward {g:?}"
        );
        let lhs: f64 = out.iter().zip(&y).map(|(a, b)| a * b).sum();
        let mut dx = vec![0.0; x.len()];
        conv_backward_input(g, &y, &w, &mut dx);
        let mut dw = vec![0.0; w.len()];
        conv_backward_weight(g, &x, &y, &mut dw);
        // overwriting ignores what was there; accumulating adds to it
        let mut over = vec![7.0; x.len()];
        conv_transpose_forward(g, &y, &w, &mut over);
        let mut added = vec![7.0; x.len()];
        conv_backward_input(g, &y, &w, &mut added);
        for ((o, a), d) in over.iter().zip(&added).zip(&dx) {
            assert!(
                (o - d).abs() < 1e-12 && (a - 7.0 - d).abs() < 1e-12,
                "{g:?}"
            );
        }
        let via_x: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        let via_w: f64 = w.iter().zip(&dw).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - via_x).abs() < 1e-10 && (lhs - via_w).abs() < 1e-10,
            "{g:?}"
        );
    }

    #[test]
    fn backward_kernels_are_the_adjoints_of_forward() {
        for (i, g) in geometries().iter().enumerate() {
            check_against_definition(g, i as u64);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random 1-d, 2-d and 3-d geometries on odd sizes, with groups, strides, padding
        /// and dilation (the generic path that `f64` and strided `f32` convolutions take).
        #[test]
        fn kernels_agree_with_the_definition_on_random_geometries(
            batch in 1usize..3,
            groups in 1usize..3,
            cin_g in 1usize..4,
            cout_g in 1usize..4,
            dims in 1usize..4,
            size in proptest::sample::select(vec![1usize, 3, 7, 9]),
            k in 1usize..4,
            s in 1usize..3,
            p in 0usize..2,
            d in 1usize..3,
            seed in 0u64..1000,
        ) {
            let spatial = |v: usize, one: usize| -> [usize; 3] {
                let mut a = [one; 3];
                a[3 - dims..].fill(v);
                a
            };
            let (input, kernel) = (spatial(size, 1), spatial(k, 1));
            let (stride, padding, dilation) = (spatial(s, 1), spatial(p, 0), spatial(d, 1));
            let os: Option<Vec<usize>> = (0..3)
                .map(|i| {
                    crate::shape::out::conv_out_size(input[i], kernel[i], stride[i], padding[i], dilation[i])
                })
                .collect();
            proptest::prop_assume!(os.is_some());
            let os = os.expect("some");
            let g = ConvGeom {
                batch,
                cin: groups * cin_g,
                cout: groups * cout_g,
                groups,
                window: Window3 {
                    input,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    output: [os[0], os[1], os[2]],
                },
            };
            check_against_definition(&g, seed);
        }
    }

    #[test]
    fn large_convolutions_take_the_blocked_path_and_agree() {
        // 16 * 9 * 64 * 64 columns exceed the block threshold: several row blocks per image;
        // the second geometry's input gradient is a blocked forward convolution too.
        for (cin, cout, groups) in [(16, 4, 2), (32, 8, 1)] {
            large_convolution_agrees(cin, cout, groups);
        }
    }

    fn large_convolution_agrees(cin: usize, cout: usize, groups: usize) {
        let g = ConvGeom {
            batch: 2,
            cin,
            cout,
            groups,
            window: Window3 {
                input: [1, 66, 65],
                kernel: [1, 3, 3],
                stride: [1, 1, 1],
                padding: [0, 1, 0],
                dilation: [1; 3],
                output: [1, 66, 63],
            },
        };
        assert!(block_rows(&g) < 66);
        if let Some(t) = transposed_geometry::<f64>(&g) {
            assert!(block_rows(&t) < 66);
        }
        let x = vals(2 * cin * 66 * 65, 11);
        let w = vals(g.weight_len(), 12);
        let y = vals(2 * cout * 66 * 63, 13);
        let mut out = vec![0.0; y.len()];
        conv_forward(&g, &x, &w, None, &mut out);
        let expect = reference(&g, &x, &w);
        assert!(out.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 1e-10));
        let mut dx = vec![0.0; x.len()];
        conv_backward_input(&g, &y, &w, &mut dx);
        let mut dw = vec![0.0; w.len()];
        conv_backward_weight(&g, &x, &y, &mut dw);
        let lhs: f64 = out.iter().zip(&y).map(|(a, b)| a * b).sum();
        let via_x: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        let via_w: f64 = w.iter().zip(&dw).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - via_x).abs() < 1e-8 * lhs.abs().max(1.0)
                && (lhs - via_w).abs() < 1e-8 * lhs.abs().max(1.0)
        );
    }

    #[test]
    fn large_batches_take_the_parallel_path_and_agree() {
        let g = ConvGeom {
            batch: 8,
            cin: 4,
            cout: 8,
            groups: 1,
            window: Window3 {
                input: [1, 16, 16],
                kernel: [1, 3, 3],
                stride: [1; 3],
                padding: [0, 1, 1],
                dilation: [1; 3],
                output: [1, 16, 16],
            },
        };
        assert_eq!(parallel::<f64>(&g), rayon::current_num_threads() > 1);
        let x = vals(8 * 4 * 256, 1);
        let w = vals(g.weight_len(), 2);
        let y = vals(8 * 8 * 256, 3);
        let mut dw = vec![0.0; w.len()];
        conv_backward_weight(&g, &x, &y, &mut dw);
        let mut out = vec![0.0; y.len()];
        conv_forward(&g, &x, &w, None, &mut out);
        let lhs: f64 = out.iter().zip(&y).map(|(a, b)| a * b).sum();
        let via_w: f64 = w.iter().zip(&dw).map(|(a, b)| a * b).sum();
        assert!((lhs - via_w).abs() < 1e-9);
        let expect = reference(&g, &x, &w);
        assert!(out.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}
