//! `y = x W^T + b` over the last dimension of any-rank input (PyTorch's `F.linear`).

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, gemm, Trans};
use crate::shape::{ConstDim, LinearShape, Shape};
use crate::tensor::{Element, Tensor};

impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
    /// `x W^T + b` over the last dim (`F.linear(x, weight, bias)`): `I` features in, `O` out,
    /// the weight `(O, I)` and the optional bias `(O,)`, at any rank from 1 to 5.
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
        linear_op(self, weight, bias, out)
    }
}

/// `x` viewed as `m x in`, `w` as `out x in`, `b` as `out`; the result has shape `out_shape`
/// (`x`'s shape with the last dim replaced by `out`).
fn linear_op<S, S2, SW, SB, E, T>(
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
    // the product added onto the bias rows: one pass over `y` fewer than a zero fill and a
    // bias pass after
    let mut y = match b {
        Some(b) => kernels::repeat(b.as_slice(), m),
        None => kernels::zeros(m * out),
    };
    gemm(m, inp, out, &xv, Trans::No, &wv, Trans::Yes, &mut y, true);
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
