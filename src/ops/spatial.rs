//! Recorded operations over spatial data: padding, convolution (plain and transposed),
//! pooling and unpooling.
//!
//! They work on `(N, C, D, H, W)` tensors of runtime dims ([`Dyn5`]): the typed layers in
//! [`crate::nn`] check every shape at compile time, then view their input as `Dyn5` (1-d and
//! 2-d data with leading spatial dims of 1), run one of these, and view the result as the typed
//! output. The views are recorded too, so gradients flow through unchanged.

use crate::autograd::{op_result, unary_result, GradTarget, Gradients, NoTape, Node, TapeMode};
use crate::kernels::{self, ConvGeom, PadMode, PoolGeom};
use crate::shape::spatial::{PadKind, PaddingMode};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// A 5-d shape of runtime dims: `(N, C, D, H, W)`.
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<stensor::ops::spatial::Dyn5>::zeros_shaped((1, 2, 1, 3, 4));
/// assert_eq!(x.dims(), [1, 2, 1, 3, 4]);
/// ```
pub type Dyn5 = (usize, usize, usize, usize, usize);

fn dyn5(d: [usize; 5]) -> Dyn5 {
    (d[0], d[1], d[2], d[3], d[4])
}

fn split(x: &Dyn5) -> (usize, usize, [usize; 3]) {
    (x.0, x.1, [x.2, x.3, x.4])
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// This `(N, C, spatial..)` tensor (1 to 3 spatial dims) as `(N, C, D, H, W)`.
    pub(crate) fn into_dyn5(self) -> Tensor<Dyn5, E, T> {
        let d = self.dims();
        let r = d.len();
        assert!((3..=5).contains(&r), "spatial op on a rank-{r} tensor");
        let mut s = [1usize; 3];
        s[3 - (r - 2)..].copy_from_slice(&d[2..]);
        self.view_as(dyn5([d[0], d[1], s[0], s[1], s[2]]))
    }
}

impl<E: Element, T: TapeMode<E>> Tensor<Dyn5, E, T> {
    /// Back to a typed shape with the same elements.
    pub(crate) fn into_typed<S2: Shape>(self, shape: S2) -> Tensor<S2, E, T> {
        assert_eq!(shape.numel(), self.numel(), "spatial op: typed output size");
        self.view_as(shape)
    }
}

/// The kernels' padding mode for the mode type `M`, with `value` for constant padding.
pub(crate) fn pad_mode<M: PaddingMode, E: Element>(value: E) -> PadMode<E> {
    match M::KIND {
        PadKind::Zeros => PadMode::Constant(E::zero()),
        PadKind::Constant => PadMode::Constant(value),
        PadKind::Reflect => PadMode::Reflect,
        PadKind::Replicate => PadMode::Replicate,
        PadKind::Circular => PadMode::Circular,
    }
}

/// Pads the spatial dims by `pads` (front, back) in `mode`.
pub(crate) fn pad_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    pads: [(usize, usize); 3],
    mode: PadMode<E>,
) -> Tensor<Dyn5, E, T> {
    let (n, c, sp) = split(&x.shape());
    let out = [0, 1, 2].map(|d| sp[d] + pads[d].0 + pads[d].1);
    let y = kernels::pad(x.as_slice(), n * c, sp, pads, mode);
    unary_result(dyn5([n, c, out[0], out[1], out[2]]), y, &x, move |g, gx| {
        kernels::pad_backward(g, gx, n * c, sp, pads, mode)
    })
}

/// The gradient targets of a convolution's operands (`b` when given) and `x`'s node.
fn conv_targets<E, T, SW, SB>(
    x: &Tensor<Dyn5, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<&Tensor<SB, E, NoTape>>,
) -> ConvTargets<E>
where
    E: Element,
    T: TapeMode<E>,
    SW: Shape,
    SB: Shape,
{
    let (tx, nx) = x.as_input();
    ConvTargets {
        tx,
        nx: nx.cloned(),
        tw: w.grad_target(),
        tb: b.map(|b| b.grad_target()),
    }
}

/// What [`conv_targets`] returns.
struct ConvTargets<E> {
    tx: GradTarget,
    nx: Option<Arc<Node<E>>>,
    tw: GradTarget,
    tb: Option<GradTarget>,
}

impl<E: Element> ConvTargets<E> {
    /// Records `y` (of `shape`) with `backward`, which gets the output gradient, the gradients,
    /// and a buffer for the bias gradient (`Some` when the bias requires grad) that is added
    /// to the bias's gradient after it.
    fn record<T: TapeMode<E>>(
        self,
        shape: Dyn5,
        y: Vec<E>,
        bias_len: usize,
        backward: impl Fn(&[E], &mut Gradients<E>, &GradTarget, &GradTarget, Option<&mut [E]>)
            + Send
            + Sync
            + 'static,
    ) -> Tensor<Dyn5, E, T> {
        let ConvTargets { tx, nx, tw, tb } = self;
        let mut inputs = vec![(tx, nx.as_ref()), (tw, None)];
        inputs.extend(tb.map(|tb| (tb, None)));
        op_result(shape, y, &inputs, |_| {
            Box::new(move |g, grads| {
                let mut db = tb
                    .as_ref()
                    .is_some_and(|tb| tb.requires_grad)
                    .then(|| vec![E::zero(); bias_len]);
                backward(g, grads, &tx, &tw, db.as_deref_mut());
                if let (Some(db), Some(gb)) = (&db, tb.as_ref().and_then(|tb| grads.accum(tb))) {
                    kernels::add_assign(gb, db);
                }
            })
        })
    }
}

/// A convolution with weights `w` and optional bias.
pub(crate) fn conv_op<E, T, SW, SB>(
    x: Tensor<Dyn5, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<&Tensor<SB, E, NoTape>>,
    geom: ConvGeom,
) -> Tensor<Dyn5, E, T>
where
    E: Element,
    T: TapeMode<E>,
    SW: Shape,
    SB: Shape,
{
    let (xv, wv) = (x.data_arc(), w.data_arc());
    let y = kernels::conv_forward_new(&geom, &xv, &wv, b.map(|b| b.as_slice()));
    let out = geom.output;
    let shape = dyn5([geom.batch, geom.cout, out[0], out[1], out[2]]);
    let targets = conv_targets(&x, w, b);
    targets.record(shape, y, geom.cout, move |g, grads, tx, tw, db| {
        // the input gradient is the transposed convolution of `g`, its first contribution
        // written straight into a fresh buffer (no zero fill of it first)
        grads.accum_or_init(
            tx,
            || kernels::conv_transpose_forward_new(&geom, g, &wv),
            |gx| kernels::conv_backward_input(&geom, g, &wv, gx),
        );
        // the bias gradient inside the weight gradient's pass over `g` where both are wanted
        match (grads.accum(tw), db) {
            (Some(gw), Some(db)) => kernels::conv_backward_weight_bias(&geom, &xv, g, gw, db),
            (Some(gw), None) => kernels::conv_backward_weight(&geom, &xv, g, gw),
            (None, Some(db)) => kernels::channel_sum(g, geom.batch, geom.cout, db),
            (None, None) => {}
        }
    })
}

/// A transposed convolution with weights `w` and optional bias; `geom` is that of the
/// convolution going back from its output to its input.
pub(crate) fn conv_transpose_op<E, T, SW, SB>(
    x: Tensor<Dyn5, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<&Tensor<SB, E, NoTape>>,
    geom: ConvGeom,
) -> Tensor<Dyn5, E, T>
where
    E: Element,
    T: TapeMode<E>,
    SW: Shape,
    SB: Shape,
{
    let (xv, wv) = (x.data_arc(), w.data_arc());
    let plane: usize = geom.input.iter().product();
    let mut y = kernels::conv_transpose_forward_new(&geom, &xv, &wv);
    if let Some(b) = b {
        kernels::add_channel_bias(&mut y, plane, b.as_slice());
    }
    let sp = geom.input;
    let shape = dyn5([geom.batch, geom.cin, sp[0], sp[1], sp[2]]);
    let targets = conv_targets(&x, w, b);
    targets.record(shape, y, geom.cin, move |g, grads, tx, tw, db| {
        // the input gradient is the convolution of `g`
        grads.accum_or_init(
            tx,
            || kernels::conv_forward_new(&geom, g, &wv, None),
            |gx| {
                let mut t = vec![E::zero(); gx.len()];
                kernels::conv_forward(&geom, g, &wv, None, &mut t);
                kernels::add_assign(gx, &t);
            },
        );
        if let Some(gw) = grads.accum(tw) {
            kernels::conv_backward_weight(&geom, g, &xv, gw);
        }
        if let Some(db) = db {
            kernels::channel_sum(g, geom.batch, geom.cin, db);
        }
    })
}

/// Max pooling; also returns the flat index of every maximum within its input plane.
pub(crate) fn max_pool_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    geom: PoolGeom,
) -> (Tensor<Dyn5, E, T>, Arc<Vec<usize>>) {
    let (n, c, sp) = split(&x.shape());
    let (y, idx) = kernels::max_pool_forward(&geom, x.as_slice());
    let idx = Arc::new(idx);
    let out = scatter_op(x, y, idx.clone(), [n, c], sp, geom.output);
    (out, idx)
}

/// A result whose elements were gathered from the input at `idx` (max pooling, adaptive max
/// pooling): the backward scatters the gradient back.
fn scatter_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    y: Vec<E>,
    idx: Arc<Vec<usize>>,
    [n, c]: [usize; 2],
    input: [usize; 3],
    output: [usize; 3],
) -> Tensor<Dyn5, E, T> {
    let (iv, ov) = (
        input.iter().product::<usize>(),
        output.iter().product::<usize>(),
    );
    unary_result(
        dyn5([n, c, output[0], output[1], output[2]]),
        y,
        &x,
        move |g, gx| kernels::scatter_add_planes(g, &idx, ov, gx, iv),
    )
}

/// Average pooling with PyTorch's divisor options.
pub(crate) fn avg_pool_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    geom: PoolGeom,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Tensor<Dyn5, E, T> {
    let (n, c, _) = split(&x.shape());
    let y = kernels::avg_pool_forward(&geom, x.as_slice(), count_include_pad, divisor_override);
    let o = geom.output;
    unary_result(dyn5([n, c, o[0], o[1], o[2]]), y, &x, move |g, gx| {
        kernels::avg_pool_backward(&geom, g, count_include_pad, divisor_override, gx)
    })
}

/// Adaptive average pooling to `output`.
pub(crate) fn adaptive_avg_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    output: [usize; 3],
) -> Tensor<Dyn5, E, T> {
    let (n, c, sp) = split(&x.shape());
    let y = kernels::adaptive_avg_forward(x.as_slice(), n * c, sp, output);
    unary_result(
        dyn5([n, c, output[0], output[1], output[2]]),
        y,
        &x,
        move |g, gx| kernels::adaptive_avg_backward(g, gx, n * c, sp, output),
    )
}

/// Adaptive max pooling to `output`; also returns the indices.
pub(crate) fn adaptive_max_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    output: [usize; 3],
) -> (Tensor<Dyn5, E, T>, Arc<Vec<usize>>) {
    let (n, c, sp) = split(&x.shape());
    let (y, idx) = kernels::adaptive_max_forward(x.as_slice(), n * c, sp, output);
    let idx = Arc::new(idx);
    (scatter_op(x, y, idx.clone(), [n, c], sp, output), idx)
}

/// Max unpooling: `x`'s values placed at `idx` in zero planes of `output` length.
pub(crate) fn max_unpool_op<E: Element, T: TapeMode<E>>(
    x: Tensor<Dyn5, E, T>,
    idx: Arc<Vec<usize>>,
    output: [usize; 3],
) -> Tensor<Dyn5, E, T> {
    let (n, c, sp) = split(&x.shape());
    let (iv, ov) = (
        sp.iter().product::<usize>(),
        output.iter().product::<usize>(),
    );
    let y = kernels::unpool_planes(x.as_slice(), &idx, n * c, iv, ov);
    unary_result(
        dyn5([n, c, output[0], output[1], output[2]]),
        y,
        &x,
        move |g, gx| kernels::add_assign(gx, &kernels::gather_planes(g, &idx, iv, ov)),
    )
}
