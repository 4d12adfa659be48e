//! `y = x W^T + b` over the last dimension of any-rank input (PyTorch's `F.linear`).

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, gemm, Trans};
use crate::shape::{ConstDim, LinearShape, Shape};
use crate::tensor::{Element, Tensor};

impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
    /// `x W^T + b` over the last dim (`F.linear(x, weight, bias)`): `I` features in, `O` out,
    /// the weight `(O, I)` and the optional bias `(O,)`, at any rank from 1 to 5.
    ///
    /// Untraced (inference), an `f32` weight's layout for the matrix-product kernel is made
    /// once and kept for the next calls while the weight is unchanged (a copy the weight's
    /// size, at most 256 MiB for all weights together); any change to the weight, an
    /// optimizer's step or a write by hand, is seen by the next call.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U1, U2)>::from_array([[1.0, 2.0]]);
    /// let b = Tensor::<(U1,)>::from_array([0.5]);
    /// let y = Tensor::<(usize, U2)>::from_vec_shaped((2, U2::new()), vec![1.0, 1.0, 2.0, 0.0])?.linear(&w, Some(&b));
    /// assert_eq!(y.to_vec(), vec![3.5, 2.5]);
    /// # Ok::<(), stensor::Error>(())
    /// ```
    pub fn linear<I: ConstDim, O: ConstDim>(
        self,
        weight: &Tensor<(O, I), E>,
        bias: Option<&Tensor<(O,), E>>,
    ) -> Tensor<X::Output, E, T>
    where
        X: LinearShape<I, O>,
    {
        let dims = self.dims();
        assert_eq!(dims[dims.len() - 1], I::SIZE, "linear: runtime feature dim");
        let out = self.shape().mapped();
        linear_op(self, weight, bias.map(|b| (b, 0)), 0, out)
    }

    /// `x W^T + b` with `W` the `O` rows of `weight` from row `w_row` and `b` the `O` values of
    /// the bias from `b_row`: one block of a stacked weight (a multi-head attention's
    /// `in_proj_weight` holds the query's, key's and value's), the gradient going to that
    /// block.
    pub(crate) fn linear_rows<I: ConstDim, O: ConstDim, SW: Shape, SB: Shape>(
        self,
        weight: &Tensor<SW, E>,
        w_row: usize,
        bias: Option<(&Tensor<SB, E>, usize)>,
    ) -> Tensor<X::Output, E, T>
    where
        X: LinearShape<I, O>,
    {
        let dims = self.dims();
        assert_eq!(dims[dims.len() - 1], I::SIZE, "linear: runtime feature dim");
        assert!(
            weight.dims()[1] == I::SIZE && (w_row + O::SIZE) * I::SIZE <= weight.numel(),
            "linear: rows {w_row}.. of a weight of dims {:?}",
            weight.dims()
        );
        let out = self.shape().mapped();
        linear_op(self, weight, bias, w_row, out)
    }
}

/// `x` viewed as `m x in`, the `out` rows of `w` from `w_row` as `out x in` (`out` the last
/// dim of `out_shape`), the `out` values of `b` from its offset; the result has shape
/// `out_shape` (`x`'s shape with the last dim replaced by `out`).
fn linear_op<S, S2, SW, SB, E, T>(
    x: Tensor<S, E, T>,
    w: &Tensor<SW, E, NoTape>,
    b: Option<(&Tensor<SB, E, NoTape>, usize)>,
    w_row: usize,
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
    let inp = w.dims()[1];
    let out = out_shape.dims()[S2::RANK - 1];
    let m = x.numel().checked_div(inp).unwrap_or(0);
    let xv = x.data_arc();
    let wv = w.data_arc();
    let (w0, w1) = (w_row * inp, (w_row + out) * inp);
    // the product added onto the bias rows: one pass over `y` fewer than a zero fill and a
    // bias pass after
    let mut y = match b {
        Some((b, at)) => kernels::repeat(&b.as_slice()[at..at + out], m),
        None => kernels::zeros(m * out),
    };
    if T::TRACED {
        gemm(
            m,
            inp,
            out,
            &xv,
            Trans::No,
            &wv[w0..w1],
            Trans::Yes,
            &mut y,
            true,
        );
    } else {
        // inference: the weight serves call after call unchanged, so its packing is kept (a
        // training step's forward would retire it at the optimizer's step)
        kernels::gemm_kept_b(m, inp, out, &xv, &wv, w0, Trans::Yes, &mut y, true);
    }
    let (tx, nx) = x.as_input();
    let tw = w.grad_target();
    let tb = b.map(|(b, at)| (b.grad_target(), at));
    let whole = w0 == 0 && w1 == wv.len();
    let mut inputs = vec![(tx, nx), (tw, None)];
    if let Some((tb, _)) = tb {
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
            let wb = &wv[w0..w1];
            // dx = dy W
            grads.accum_or_init(
                &tx,
                || product(m, out, inp, g, Trans::No, wb),
                |gx| gemm(m, out, inp, g, Trans::No, wb, Trans::No, gx, true),
            );
            // dW = dy^T x, into the weight's block
            let block = |gw: &mut [E]| {
                gemm(
                    out,
                    m,
                    inp,
                    g,
                    Trans::Yes,
                    &xv,
                    Trans::No,
                    &mut gw[w0..w1],
                    true,
                )
            };
            if whole {
                grads.accum_or_init(&tw, || product(out, m, inp, g, Trans::Yes, &xv), block);
            } else if let Some(gw) = grads.accum(&tw) {
                block(gw);
            }
            if let Some((tb, at)) = &tb {
                if let Some(gb) = grads.accum(tb) {
                    kernels::sum_blocks(g, &mut gb[*at..*at + out]);
                }
            }
        })
    })
}
