//! `y = x W^T + b` over the last dimension of any-rank input (PyTorch's `F.linear`).

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, gemm, Trans};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

/// `x` viewed as `m x in`, `w` as `out x in`, `b` as `out`; the result has shape `out_shape`
/// (`x`'s shape with the last dim replaced by `out`).
pub(crate) fn linear_op<S, S2, SW, SB, E, T>(
    x: Tensor<S, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<&Tensor<SB, E, NoTape>>,
    out_shape: S2,
) -> Tensor<S2, E, T>
where
    S: Shape,
    S2: Shape,
    SW: Shape,
    SB: Shape,
    E: Element,
    T: TapeMode<E>,
{
    let wd = w.dims();
    let (out, inp) = (wd[0], wd[1]);
    let m = x.numel().checked_div(inp).unwrap_or(0);
    let xv = x.data_arc();
    let wv = w.data_arc();
    let mut y = kernels::zeros(m * out);
    gemm(m, inp, out, &xv, Trans::No, &wv, Trans::Yes, &mut y, false);
    if let Some(b) = b {
        kernels::add_channel_bias(&mut y, 1, b.as_slice());
    }
    let (tx, nx) = x.as_input();
    let tw = w.grad_target();
    let tb = b.map(|b| b.grad_target());
    let mut inputs = vec![(tx, nx), (tw, None)];
    if let Some(tb) = tb {
        inputs.push((tb, None));
    }
    op_result(out_shape, y, &inputs, |_| {
        Box::new(move |g, grads| {
            // each gradient is the product itself when it is the first to reach its input,
            // else added into the gradient there
            let product = |rows, k, cols, a: &[E], ta, b: &[E]| {
                let mut v = kernels::zeros(rows * cols);
                gemm(rows, k, cols, a, ta, b, Trans::No, &mut v, true);
                v
            };
            // dx = dy W
            grads.accum_or_init(
                &tx,
                || product(m, out, inp, g, Trans::No, &wv),
                |gx| gemm(m, out, inp, g, Trans::No, &wv, Trans::No, gx, true),
            );
            // dW = dy^T x
            grads.accum_or_init(
                &tw,
                || product(out, m, inp, g, Trans::Yes, &xv),
                |gw| gemm(out, m, inp, g, Trans::Yes, &xv, Trans::No, gw, true),
            );
            if let Some(gb) = tb.as_ref().and_then(|tb| grads.accum(tb)) {
                kernels::sum_blocks(g, gb);
            }
        })
    })
}
