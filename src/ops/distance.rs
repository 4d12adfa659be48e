//! Distances: between matching rows (`pairwise_distance`), along an axis
//! (`cosine_similarity`), between every row of one set and every row of another (`cdist`), and
//! between every two rows of one set (`pdist`). The loops live in `kernels::distance`.

use super::axis_split;
use crate::autograd::{op_result, MergeTape, TapeMode};
use crate::kernels::{self, CdistDims};
use crate::shape::{Dim, PairsDim, RemoveAxis, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// Panics unless `p` is a norm order distances take (`p >= 0`, as PyTorch's).
fn check_order(p: f64, op: &str) {
    assert!(p >= 0.0, "{op}: p must not be negative, got {p}");
}

/// `cdist` over `(batch, p_rows, m)` and `(batch, r_rows, m)` buffers, both traced as inputs.
fn cdist_op<S, E, T, T2, S2, S3>(
    x1: Tensor<S, E, T>,
    x2: &Tensor<S2, E, T2>,
    out: S3,
    dims: CdistDims,
    p: f64,
) -> Tensor<S3, E, T::Output>
where
    S: Shape,
    S2: Shape,
    S3: Shape,
    E: Element,
    T: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    check_order(p, "cdist");
    let (a, b) = (x1.data_arc(), x2.data_arc());
    let y = kernels::cdist(&a, &b, dims, p);
    let dists = Arc::new(y.clone());
    let (ta, na) = x1.as_input();
    let (tb, nb) = x2.as_input();
    op_result(out, y, &[(ta, na), (tb, nb)], |_| {
        Box::new(move |g, grads| {
            // one side at a time: `cdist(x, x)` has both sides in one buffer
            if let Some(g1) = grads.accum(&ta) {
                kernels::cdist_backward([&a, &b], &dists, g, dims, p, Some(g1), None);
            }
            if let Some(g2) = grads.accum(&tb) {
                kernels::cdist_backward([&a, &b], &dists, g, dims, p, None, Some(g2));
            }
        })
    })
}

impl<B: Dim, P: Dim, M: Dim, E: Element, T: TapeMode<E>> Tensor<(B, P, M), E, T> {
    /// The `p`-norm distance between every row of `self` and every row of `other`, batch by
    /// batch: `(B, P, M)` against `(B, R, M)` gives `(B, P, R)` (PyTorch's `torch.cdist`,
    /// `p >= 0`, `p = f64::INFINITY` for the largest difference). Computed directly for every
    /// `p` (see `kernels::distance` on why not through a matrix product for `p = 2`); the
    /// gradient at coinciding rows is zero, as PyTorch's.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U1, U2, U2), f64>::from_array([[[0.0, 0.0], [1.0, 1.0]]]);
    /// let b = Tensor::<(U1, U1, U2), f64>::from_array([[[3.0, 4.0]]]);
    /// let d = a.cdist(&b, 2.0);
    /// assert_eq!(d.dims(), [1, 2, 1]);
    /// assert_eq!(d.to_vec()[0], 5.0);
    /// ```
    ///
    /// # Panics
    /// If the runtime batch or row-length dims differ (the message names both shapes), or `p`
    /// is negative.
    pub fn cdist<R: Dim, T2: TapeMode<E>>(
        self,
        other: &Tensor<(B, R, M), E, T2>,
        p: f64,
    ) -> Tensor<(B, P, R), E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        let ((bd, pd, md), (bd2, rd, md2)) = (self.shape(), other.shape());
        assert!(
            bd == bd2 && md == md2,
            "cdist: batch and row length differ ({:?} vs {:?})",
            self.dims(),
            other.dims()
        );
        let dims = CdistDims {
            batch: bd.size(),
            p_rows: pd.size(),
            r_rows: rd.size(),
            m: md.size(),
        };
        cdist_op(self, other, (bd, pd, rd), dims, p)
    }
}

impl<P: Dim, M: Dim, E: Element, T: TapeMode<E>> Tensor<(P, M), E, T> {
    /// The `p`-norm distance between every row of `self` and every row of `other`: `(P, M)`
    /// against `(R, M)` gives `(P, R)` (PyTorch's `torch.cdist` without a batch; see the
    /// batched form for the details).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U2), f64>::from_array([[0.0, 0.0], [1.0, 1.0]]);
    /// let b = Tensor::<(U1, U2), f64>::from_array([[3.0, 4.0]]);
    /// assert_eq!(a.cdist(&b, 1.0).to_vec(), vec![7.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If the runtime row lengths differ, or `p` is negative.
    pub fn cdist<R: Dim, T2: TapeMode<E>>(
        self,
        other: &Tensor<(R, M), E, T2>,
        p: f64,
    ) -> Tensor<(P, R), E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        let ((pd, md), (rd, md2)) = (self.shape(), other.shape());
        assert!(
            md == md2,
            "cdist: row lengths differ ({:?} vs {:?})",
            self.dims(),
            other.dims()
        );
        let dims = CdistDims {
            batch: 1,
            p_rows: pd.size(),
            r_rows: rd.size(),
            m: md.size(),
        };
        cdist_op(self, other, (pd, rd), dims, p)
    }

    /// The `p`-norm distance between every two rows `i < j`, in row-major order of the pairs
    /// (PyTorch's `F.pdist`, the upper triangle of `cdist(x, x)` without its diagonal): `(N, M)`
    /// gives `(N (N - 1) / 2,)`, a static length for a static `N`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3, U2), f64>::from_array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]);
    /// let d: Tensor<(U3,), f64> = x.pdist(2.0);
    /// assert_eq!(d.to_vec(), vec![5.0, 10.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If `p` is negative.
    pub fn pdist(self, p: f64) -> Tensor<(P::Output,), E, T>
    where
        P: PairsDim,
    {
        check_order(p, "pdist");
        let (pd, md) = self.shape();
        let (n, m) = (pd.size(), md.size());
        let x = self.data_arc();
        let y = kernels::pdist(&x, n, m, p);
        let dists = Arc::new(y.clone());
        let (target, node) = self.as_input();
        op_result((P::pairs(n),), y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&target) {
                    kernels::pdist_backward(&x, &dists, g, n, m, p, gx);
                }
            })
        })
    }
}

impl<N: crate::shape::Dim, D: crate::shape::Dim, E: Element, T: TapeMode<E>> Tensor<(N, D), E, T> {
    /// The `p`-norm distance between each row of `self` and the same row of `other`, computed
    /// as PyTorch's `pairwise_distance`: `||x1 - x2 + eps||_p` over the last dim.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U1, U2), f64>::from_array([[0.0, 0.0]]);
    /// let b = Tensor::<(U1, U2), f64>::from_array([[3.0, 4.0]]);
    /// assert!((a.pairwise_distance(&b, 2.0, 0.0).item() - 5.0).abs() < 1e-15);
    /// ```
    ///
    /// # Panics
    /// If runtime dims differ, or `p` is not positive.
    pub fn pairwise_distance<T2: TapeMode<E>>(
        self,
        other: &Tensor<(N, D), E, T2>,
        p: f64,
        eps: f64,
    ) -> Tensor<(N,), E, T::Output>
    where
        T: crate::autograd::MergeTape<E, T2>,
    {
        self.sub(other)
            .add_scalar(E::from_f64(eps))
            .norm_axis::<1>(p)
    }
}

impl<S: crate::shape::Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The cosine of the angle between `self` and `other` along axis `I`, computed as PyTorch's
    /// `cosine_similarity(x1, x2, dim=I, eps)`: each side divided by its norm clamped at `eps`,
    /// then the dot product (so the result stays in `[-1, 1]`); as PyTorch's, the clamp passes
    /// the norm's gradient.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U2), f64>::from_array([[1.0, 0.0], [1.0, 1.0]]);
    /// let b = Tensor::<(U2, U2), f64>::from_array([[0.0, 2.0], [3.0, 3.0]]);
    /// let c = a.cosine_similarity::<1, _>(&b, 1e-8);
    /// assert!(c.to_vec()[0].abs() < 1e-15 && (c.to_vec()[1] - 1.0).abs() < 1e-15);
    /// ```
    ///
    /// # Panics
    /// If runtime dims differ; the message names both shapes.
    pub fn cosine_similarity<const I: usize, T2: TapeMode<E>>(
        self,
        other: &Tensor<S, E, T2>,
        eps: f64,
    ) -> Tensor<<S as crate::shape::RemoveAxis<I>>::Output, E, T::Output>
    where
        S: crate::shape::RemoveAxis<I>,
        T: crate::autograd::MergeTape<E, T2>,
    {
        cosine_similarity_op::<S, I, E, T, T2>(self, other, eps)
    }
}

/// [`Tensor::cosine_similarity`](crate::Tensor::cosine_similarity): for each line along axis
/// `I`, `y = sum(x1 x2) / (c1 c2)` with `c = max(|x|, eps)`. The gradient follows PyTorch's
/// graph, where the clamp is applied to a copy of the norm without a gradient: `c` stands for
/// the norm, whose own derivative is `x / |x|` (zero at a zero norm), so
/// `dy/dx1 = x2 / (c1 c2) - y x1 / (c1 |x1|)`.
fn cosine_similarity_op<S, const I: usize, E, T, T2>(
    x1: Tensor<S, E, T>,
    x2: &Tensor<S, E, T2>,
    eps: f64,
) -> Tensor<<S as RemoveAxis<I>>::Output, E, T::Output>
where
    S: RemoveAxis<I>,
    E: Element,
    T: crate::autograd::MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    super::assert_same_dims(&x1.shape(), &x2.shape(), "cosine_similarity");
    let (outer, n, inner) = axis_split(&x1.dims(), I);
    let (a, b) = (x1.data_arc(), x2.data_arc());
    let at = move |o: usize, j: usize, i: usize| (o * n + j) * inner + i;
    let eps = E::from_f64(eps);
    let (n1, n2, y) = kernels::cosine_lines(&a, &b, [outer, n, inner], eps);
    let sims = Arc::new(y.clone());
    let out = x1.shape().remove();
    let (ta, na) = x1.as_input();
    let (tb, nb) = x2.as_input();
    op_result(out, y, &[(ta, na), (tb, nb)], |_| {
        Box::new(move |g, grads| {
            // d/dx of side `x` whose partner is `w`: w / (cx cw) - y x / (cx |x|)
            let side = |x: &[E], w: &[E], nx: &[E], nw: &[E], gx: &mut [E]| {
                kernels::spread_axis(gx, g, outer, n, inner, |o, j, i| {
                    let l = o * inner + i;
                    let (cx, cw) = (nx[l].max(eps), nw[l].max(eps));
                    let through_norm = if nx[l] == E::zero() {
                        E::zero()
                    } else {
                        sims[l] * x[at(o, j, i)] / (cx * nx[l])
                    };
                    w[at(o, j, i)] / (cx * cw) - through_norm
                });
            };
            if let Some(gx) = grads.accum(&ta) {
                side(&a, &b, &n1, &n2, gx);
            }
            if let Some(gx) = grads.accum(&tb) {
                side(&b, &a, &n2, &n1, gx);
            }
        })
    })
}
