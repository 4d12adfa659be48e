//! Reductions: over everything (to a rank-0 tensor) or along one typed axis.

use super::axis_split;
use crate::autograd::{op_result, TapeMode};
use crate::kernels;
use crate::shape::{RemoveAxis, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `(outer, n, inner)`: the axis `axis` of this tensor's dims, or the whole tensor as one
    /// axis when `axis` is `None`.
    fn reduced_axis(&self, axis: Option<usize>) -> (usize, usize, usize) {
        match axis {
            Some(ax) => axis_split(&self.dims(), ax),
            None => (1, self.numel(), 1),
        }
    }

    /// The sum along `axis` (everything when `None`), or the mean when `mean`, into shape
    /// `out`.
    fn sum_op<S2: Shape>(self, out: S2, axis: Option<usize>, mean: bool) -> Tensor<S2, E, T> {
        let (outer, n, inner) = self.reduced_axis(axis);
        let scale = if mean {
            E::from_usize(n).recip()
        } else {
            E::one()
        };
        let mut y = kernels::sum_axis(&self.data_arc(), outer, n, inner);
        if mean {
            kernels::map_inplace(&mut y, |v| v * scale);
        }
        let (target, node) = self.as_input();
        op_result(out, y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                let spread =
                    |gx: &mut [E]| kernels::spread_axis(gx, g, outer, n, inner, |_, _, _| scale);
                grads.accum_or_init(
                    &target,
                    || {
                        let mut gx = vec![E::zero(); outer * n * inner];
                        if outer * inner == 1 {
                            let v = g[0] * scale;
                            kernels::map_inplace(&mut gx, |_| v);
                        } else {
                            spread(&mut gx);
                        }
                        gx
                    },
                    spread,
                );
            })
        })
    }

    /// The largest (`max`) or smallest value along `axis`, into shape `out`; its gradient goes
    /// to the index returned (PyTorch's `max(dim)`).
    fn extreme_along<S2: Shape>(self, out: S2, axis: usize, max: bool) -> Tensor<S2, E, T> {
        let (outer, n, inner) = self.reduced_axis(Some(axis));
        let (y, idx) = kernels::arg_extreme_axis(&self.data_arc(), outer, n, inner, max);
        let (target, node) = self.as_input();
        op_result(out, y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    kernels::spread_axis(gx, g, outer, n, inner, |o, j, i| {
                        if idx[o * inner + i] == j {
                            E::one()
                        } else {
                            E::zero()
                        }
                    });
                }
            })
        })
    }

    /// The largest (`max`) or smallest element; its gradient is shared evenly by the ties
    /// (PyTorch's `max()`).
    fn extreme_all(self, max: bool) -> Tensor<(), E, T> {
        let x = self.data_arc();
        let (y, _) = kernels::arg_extreme_axis(&x, 1, x.len(), 1, max);
        let best = y[0];
        let (target, node) = self.as_input();
        op_result((), y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    let ties = x.iter().filter(|&&v| v == best).count().max(1);
                    let share = g[0] / E::from_usize(ties);
                    for (d, &v) in gx.iter_mut().zip(x.iter()) {
                        if v == best {
                            *d = *d + share;
                        }
                    }
                }
            })
        })
    }

    /// The variance along `axis` (everything when `None`) with `correction`, into shape `out`.
    fn var_op<S2: Shape>(
        self,
        out: S2,
        axis: Option<usize>,
        correction: usize,
    ) -> Tensor<S2, E, T> {
        let (outer, n, inner) = self.reduced_axis(axis);
        let x = self.data_arc();
        let (mean, var) = kernels::mean_var_axis(&x, outer, n, inner, correction);
        let mean = Arc::new(mean);
        let denom = E::from_usize(n.saturating_sub(correction));
        let (target, node) = self.as_input();
        op_result(out, var, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    let two = E::from_f64(2.0);
                    kernels::spread_axis(gx, g, outer, n, inner, |o, j, i| {
                        two * (x[(o * n + j) * inner + i] - mean[o * inner + i]) / denom
                    });
                }
            })
        })
    }

    /// The sum of every element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U3)>::arange().sum().item(), 15.0);
    /// ```
    pub fn sum(self) -> Tensor<(), E, T> {
        self.sum_op((), None, false)
    }

    /// The mean of every element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U2)>::arange().mean().item(), 1.5);
    /// ```
    pub fn mean(self) -> Tensor<(), E, T> {
        self.sum_op((), None, true)
    }

    /// The largest element (NaN if any is NaN); its gradient is shared evenly by ties.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([1.0, 7.0, 3.0]).max().item(), 7.0);
    /// ```
    pub fn max(self) -> Tensor<(), E, T> {
        self.extreme_all(true)
    }

    /// The smallest element (NaN if any is NaN); its gradient is shared evenly by ties.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([1.0, 7.0, 3.0]).min().item(), 1.0);
    /// ```
    pub fn min(self) -> Tensor<(), E, T> {
        self.extreme_all(false)
    }

    /// The unbiased variance of every element (PyTorch's default, `correction=1`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let v = Tensor::<(U4,), f64>::from_array([1.0, 2.0, 3.0, 4.0]).var();
    /// assert!((v.item() - 5.0 / 3.0).abs() < 1e-15);
    /// ```
    pub fn var(self) -> Tensor<(), E, T> {
        self.var_op((), None, 1)
    }

    /// Sum along axis `I`, which is removed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::arange(); // [[0, 1, 2], [3, 4, 5]]
    /// let s: Tensor<(U3,)> = x.clone().sum_axis::<0>();
    /// assert_eq!(s.to_vec(), vec![3.0, 5.0, 7.0]);
    /// assert_eq!(x.sum_axis::<1>().to_vec(), vec![3.0, 12.0]);
    /// ```
    pub fn sum_axis<const I: usize>(self) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let out = self.shape().remove();
        self.sum_op(out, Some(I), false)
    }

    /// Mean along axis `I`, which is removed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::arange();
    /// assert_eq!(x.mean_axis::<1>().to_vec(), vec![1.0, 4.0]);
    /// ```
    pub fn mean_axis<const I: usize>(self) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let out = self.shape().remove();
        self.sum_op(out, Some(I), true)
    }

    /// Maximum along axis `I`, which is removed; the gradient goes to the first maximum.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::from_array([[1.0, 9.0], [4.0, 2.0]]);
    /// assert_eq!(x.max_axis::<0>().to_vec(), vec![4.0, 9.0]);
    /// ```
    pub fn max_axis<const I: usize>(self) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let out = self.shape().remove();
        self.extreme_along(out, I, true)
    }

    /// Minimum along axis `I`, which is removed; the gradient goes to the first minimum.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::from_array([[1.0, 9.0], [4.0, 2.0]]);
    /// assert_eq!(x.min_axis::<1>().to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn min_axis<const I: usize>(self) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let out = self.shape().remove();
        self.extreme_along(out, I, false)
    }

    /// Unbiased variance along axis `I` (PyTorch's `var(dim)`, `correction=1`), which is
    /// removed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2), f64>::from_array([[1.0, 3.0], [2.0, 2.0]]);
    /// assert_eq!(x.var_axis::<1>().to_vec(), vec![2.0, 0.0]);
    /// ```
    pub fn var_axis<const I: usize>(self) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        self.var_axis_correction::<I>(1)
    }

    /// Variance along axis `I` with Bessel's `correction` (0: biased, divide by `n`; 1:
    /// unbiased, divide by `n - 1`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2), f64>::from_array([[1.0, 3.0], [2.0, 2.0]]);
    /// assert_eq!(x.var_axis_correction::<1>(0).to_vec(), vec![1.0, 0.0]);
    /// ```
    pub fn var_axis_correction<const I: usize>(self, correction: usize) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let out = self.shape().remove();
        self.var_op(out, Some(I), correction)
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The `p`-norm along axis `I`, `(sum |x|^p)^(1/p)` (`p = f64::INFINITY`: the largest
    /// `|x|`; `p = 0`: how many entries are non-zero), as PyTorch's
    /// `linalg.vector_norm(x, p, dim=I)`. Its gradient at a zero norm is zero, as PyTorch's.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::from_array([[3.0, 4.0], [-1.0, 1.0]]);
    /// assert_eq!(x.clone().norm_axis::<1>(2.0).to_vec(), vec![5.0, 2f32.sqrt()]);
    /// assert_eq!(x.clone().norm_axis::<1>(1.0).to_vec(), vec![7.0, 2.0]);
    /// assert_eq!(x.norm_axis::<1>(f64::INFINITY).to_vec(), vec![4.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If `p` is negative.
    pub fn norm_axis<const I: usize>(self, p: f64) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        assert!(p >= 0.0, "norm_axis: p must not be negative, got {p}");
        let (outer, n, inner) = self.reduced_axis(Some(I));
        let x = self.data_arc();
        let at = move |o: usize, j: usize, i: usize| (o * n + j) * inner + i;
        let y = kernels::lp_norm_lines(&x, [outer, n, inner], p);
        let norms = Arc::new(y.clone());
        let out = self.shape().remove();
        let (target, node) = self.as_input();
        op_result(out, y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    kernels::spread_axis(gx, g, outer, n, inner, |o, j, i| {
                        kernels::lp_norm_grad(x[at(o, j, i)], norms[o * inner + i], p)
                    });
                }
            })
        })
    }
}
