//! Recorded operations over spatial data: padding, convolution (plain and transposed),
//! pooling and unpooling.
//!
//! They work on `(N, C, D, H, W)` tensors of runtime dims ([`Dyn5`]): the typed layers in
//! [`crate::nn`] check every shape at compile time, then view their input as `Dyn5` (1-d and
//! 2-d data with leading spatial dims of 1), run one of these, and view the result as the typed
//! output. The views are recorded too, so gradients flow through unchanged.

use crate::autograd::{op_result, unary_result, NoTape, TapeMode};
use crate::kernels::{self, ConvGeom, PadMode, PoolGeom};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// A 5-d shape of runtime dims: `(N, C, D, H, W)`.
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

/// A convolution (or, with `transposed`, a transposed convolution whose `geom` is that of the
/// convolution going back from its output to its input) with weights `w` and optional bias.
pub(crate) fn conv_op<E, T, SW, SB>(
    x: Tensor<Dyn5, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<&Tensor<SB, E, NoTape>>,
    geom: ConvGeom,
    transposed: bool,
) -> Tensor<Dyn5, E, T>
where
    E: Element,
    T: TapeMode<E>,
    SW: Shape,
    SB: Shape,
{
    let (in_vol, out_vol): (usize, usize) =
        (geom.input.iter().product(), geom.output.iter().product());
    let (out_c, out_sp, out_len) = if transposed {
        (geom.cin, geom.input, geom.batch * geom.cin * in_vol)
    } else {
        (geom.cout, geom.output, geom.batch * geom.cout * out_vol)
    };
    let xv = x.data_arc();
    let wv = w.data_arc();
    let y = if transposed {
        let mut y = kernels::conv_transpose_forward_new(&geom, &xv, &wv);
        if let Some(b) = b {
            kernels::add_channel_bias(&mut y, in_vol, b.as_slice());
        }
        y
    } else {
        kernels::conv_forward_new(&geom, &xv, &wv, b.map(|b| b.as_slice()))
    };
    debug_assert_eq!(y.len(), out_len);
    let (tx, nx) = x.as_input();
    let tw = w.grad_target();
    let tb = b.map(|b| b.grad_target());
    let mut inputs = vec![(tx, nx), (tw, None)];
    if let Some(tb) = tb {
        inputs.push((tb, None));
    }
    let shape = dyn5([geom.batch, out_c, out_sp[0], out_sp[1], out_sp[2]]);
    op_result(shape, y, &inputs, |_| {
        Box::new(move |g, grads| {
            // The input gradient: the convolution going the other way. Its first contribution
            // is written straight into a fresh buffer (no zero fill of it first).
            let x_len = if transposed {
                geom.batch * geom.cout * out_vol
            } else {
                geom.batch * geom.cin * in_vol
            };
            let write = |gx: &mut [E]| {
                if transposed {
                    kernels::conv_forward(&geom, g, &wv, None, gx);
                } else {
                    kernels::conv_transpose_forward(&geom, g, &wv, gx);
                }
            };
            grads.accum_or_init(
                &tx,
                || {
                    let gx = if transposed {
                        kernels::conv_forward_new(&geom, g, &wv, None)
                    } else {
                        kernels::conv_transpose_forward_new(&geom, g, &wv)
                    };
                    debug_assert_eq!(gx.len(), x_len);
                    gx
                },
                |gx| {
                    if transposed {
                        let mut t = vec![E::zero(); gx.len()];
                        write(&mut t);
                        kernels::add_assign(gx, &t);
                    } else {
                        kernels::conv_backward_input(&geom, g, &wv, gx);
                    }
                },
            );
            // The bias gradient (the sum of `g` per channel) inside the weight gradient's pass
            // over `g` where both are wanted; `g` is the convolution's `dy` unless transposed.
            let mut db = tb
                .as_ref()
                .is_some_and(|tb| tb.requires_grad)
                .then(|| vec![E::zero(); out_c]);
            match (grads.accum(&tw), db.as_deref_mut()) {
                (Some(gw), Some(db)) if !transposed => {
                    kernels::conv_backward_weight_bias(&geom, &xv, g, gw, db)
                }
                (gw, db) => {
                    match gw {
                        Some(gw) if transposed => kernels::conv_backward_weight(&geom, g, &xv, gw),
                        Some(gw) => kernels::conv_backward_weight(&geom, &xv, g, gw),
                        None => {}
                    }
                    if let Some(db) = db {
                        kernels::channel_sum(g, geom.batch, out_c, db);
                    }
                }
            }
            if let (Some(db), Some(gb)) = (&db, tb.as_ref().and_then(|tb| grads.accum(tb))) {
                kernels::add_assign(gb, db);
            }
        })
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
