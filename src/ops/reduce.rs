//! Reductions: over everything (to a rank-0 tensor) or along one typed axis.

use super::axis_split;
use crate::autograd::{op_result, TapeMode};
use crate::kernels;
use crate::shape::{RemoveAxis, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// Which reduction along an axis.
#[derive(Clone, Copy)]
enum Reduce {
    Sum,
    Mean,
    Max,
    Min,
    Var(usize),
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Reduces the axis `axis` of dims `dims` (the whole tensor as one axis when `axis` is
    /// `None`) into a tensor of shape `out`.
    fn reduce_op<S2: Shape>(self, out: S2, axis: Option<usize>, how: Reduce) -> Tensor<S2, E, T> {
        let dims = self.dims();
        let (outer, n, inner) = match axis {
            Some(ax) => axis_split(&dims, ax),
            None => (1, self.numel(), 1),
        };
        let x = self.data_arc();
        let (target, node) = self.as_input();
        let nn = E::from_usize(n);
        match how {
            Reduce::Sum | Reduce::Mean => {
                let mut y = kernels::sum_axis(&x, outer, n, inner);
                let scale = if let Reduce::Mean = how {
                    nn.recip()
                } else {
                    E::one()
                };
                if let Reduce::Mean = how {
                    kernels::map_inplace(&mut y, |v| v * scale);
                }
                op_result(out, y, &[(target, node)], |_| {
                    Box::new(move |g, grads| {
                        let spread = |gx: &mut [E]| {
                            kernels::spread_axis(gx, g, outer, n, inner, |_, _, _| scale)
                        };
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
            Reduce::Max | Reduce::Min => {
                let max = matches!(how, Reduce::Max);
                let (y, idx) = kernels::arg_extreme_axis(&x, outer, n, inner, max);
                if axis.is_some() {
                    // Along an axis the gradient goes to the index returned (PyTorch's
                    // `max(dim)`).
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
                } else {
                    // Over everything the gradient is shared evenly by the ties (PyTorch's
                    // `max()`).
                    let best = y[0];
                    op_result(out, y, &[(target, node)], |_| {
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
            }
            Reduce::Var(correction) => {
                let (mean, var) = kernels::mean_var_axis(&x, outer, n, inner, correction);
                let mean = Arc::new(mean);
                let denom = E::from_usize(n.saturating_sub(correction));
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
        }
    }

    /// The sum of every element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U3)>::arange().sum().item(), 15.0);
    /// ```
    pub fn sum(self) -> Tensor<(), E, T> {
        self.reduce_op((), None, Reduce::Sum)
    }

    /// The mean of every element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U2)>::arange().mean().item(), 1.5);
    /// ```
    pub fn mean(self) -> Tensor<(), E, T> {
        self.reduce_op((), None, Reduce::Mean)
    }

    /// The largest element (NaN if any is NaN); its gradient is shared evenly by ties.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([1.0, 7.0, 3.0]).max().item(), 7.0);
    /// ```
    pub fn max(self) -> Tensor<(), E, T> {
        self.reduce_op((), None, Reduce::Max)
    }

    /// The smallest element (NaN if any is NaN); its gradient is shared evenly by ties.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([1.0, 7.0, 3.0]).min().item(), 1.0);
    /// ```
    pub fn min(self) -> Tensor<(), E, T> {
        self.reduce_op((), None, Reduce::Min)
    }

    /// The unbiased variance of every element (PyTorch's default, `correction=1`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let v = Tensor::<(U4,), f64>::from_array([1.0, 2.0, 3.0, 4.0]).var();
    /// assert!((v.item() - 5.0 / 3.0).abs() < 1e-15);
    /// ```
    pub fn var(self) -> Tensor<(), E, T> {
        self.reduce_op((), None, Reduce::Var(1))
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
        self.reduce_op(out, Some(I), Reduce::Sum)
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
        self.reduce_op(out, Some(I), Reduce::Mean)
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
        self.reduce_op(out, Some(I), Reduce::Max)
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
        self.reduce_op(out, Some(I), Reduce::Min)
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
        self.reduce_op(out, Some(I), Reduce::Var(correction))
    }
}
