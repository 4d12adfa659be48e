//! Softmax and log-softmax along a typed axis, stable for logits of any magnitude.

use super::axis_split;
use crate::autograd::{op_result, TapeMode};
use crate::kernels;
use crate::shape::{HasAxis, Shape};
use crate::tensor::{Element, Tensor};

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    fn softmax_op(self, axis: usize, log: bool) -> Self {
        let (outer, n, inner) = axis_split(&self.dims(), axis);
        let (target, node) = self.as_input();
        let y = kernels::softmax_axis(self.as_slice(), outer, n, inner, log);
        op_result(self.shape(), y, &[(target, node)], |y| {
            let y = y.clone();
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    kernels::softmax_backward(gx, &y, g, outer, n, inner, log);
                }
            })
        })
    }

    /// Softmax along axis `I`: `exp(x) / sum(exp(x))`, computed after subtracting the maximum.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1, U3)>::from_array([[1000.0, 1000.0, -1000.0]]).softmax::<1>();
    /// assert_eq!(y.to_vec(), vec![0.5, 0.5, 0.0]);
    /// ```
    pub fn softmax<const I: usize>(self) -> Self
    where
        S: HasAxis<I>,
    {
        self.softmax_op(I, false)
    }

    /// Log-softmax along axis `I`: `x - max - ln(sum(exp(x - max)))`, finite for finite logits
    /// of any magnitude.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2,), f64>::from_array([1000.0, -1000.0]).log_softmax::<0>();
    /// assert_eq!(y.to_vec(), vec![0.0, -2000.0]);
    /// ```
    pub fn log_softmax<const I: usize>(self) -> Self
    where
        S: HasAxis<I>,
    {
        self.softmax_op(I, true)
    }
}
