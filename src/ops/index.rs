//! Ops that take or give index tensors and masks: `masked_fill`, `where_`, `argmax`/`argmin`,
//! `max`/`min` with indices, and `try_concat` (joining what the data sized).

use super::axis_split;
use crate::autograd::{op_result, unary_result, MergeTape, TapeMode};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{BroadcastsTo, ConcatAlong, RemoveAxis, Shape};
use crate::tensor::{Element, Indices, Mask, Tensor};

/// For each position of a tensor of dims `big`, the position of the operand of dims `small`
/// that broadcasts to it (aligned from the last dim; a dim of 1 repeats). Panics naming `op`
/// and both shapes when a dim is neither equal nor 1 (only runtime dims can be, once the
/// types broadcast).
pub(crate) fn broadcast_positions(op: &str, small: &[usize], big: &[usize]) -> Vec<usize> {
    let lead = big.len() - small.len();
    assert!(
        small
            .iter()
            .zip(&big[lead..])
            .all(|(&s, &b)| s == b || s == 1),
        "{op}: runtime dimensions do not broadcast ({small:?} to {big:?})"
    );
    // the stride of each big dim in the small operand: 0 where it repeats
    let mut strides = vec![0usize; big.len()];
    let mut acc = 1;
    for k in (0..small.len()).rev() {
        if small[k] != 1 {
            strides[lead + k] = acc;
        }
        acc *= small[k];
    }
    let n: usize = big.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut ix = vec![0usize; big.len()];
    let mut p = 0usize;
    for _ in 0..n {
        out.push(p);
        for k in (0..big.len()).rev() {
            ix[k] += 1;
            p += strides[k];
            if ix[k] < big[k] {
                break;
            }
            p -= strides[k] * big[k];
            ix[k] = 0;
        }
    }
    out
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `value` where `mask` is true, `self` elsewhere (PyTorch's `masked_fill`); the gradient
    /// passes where the mask is false. The mask broadcasts to `self`'s shape as PyTorch's
    /// does: a `(L, L)` causal mask over `(N, heads, L, L)` scores, a `(N, 1, 1, L)` padding
    /// mask over them.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let scores = Tensor::<(U2, U2, U2)>::ones();
    /// let causal = Mask::<(U2, U2)>::from_array([[false, true], [false, false]]);
    /// let s = scores.clone().masked_fill(&causal, f64::NEG_INFINITY);
    /// assert_eq!(s.to_vec()[..4], [1.0, f32::NEG_INFINITY, 1.0, 1.0]);
    /// // one row per batch entry, repeated over the middle axis
    /// let pad = Mask::<(U2, U1, U2)>::from_array([[[false, true]], [[false, false]]]);
    /// assert_eq!(scores.masked_fill(&pad, 0.0).to_vec(), vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime dim of the mask is neither `self`'s nor 1; the message names both shapes.
    pub fn masked_fill<S2: BroadcastsTo<S>>(self, mask: &Mask<S2>, value: f64) -> Tensor<S, E, T> {
        let at = broadcast_positions("masked_fill", &mask.dims(), &self.dims());
        let m: Vec<bool> = at.iter().map(|&p| mask.as_slice()[p]).collect();
        let v = E::from_f64(value);
        let y = self
            .as_slice()
            .iter()
            .zip(&m)
            .map(|(&a, &masked)| if masked { v } else { a })
            .collect();
        unary_result(self.shape(), y, &self, move |g, gx| {
            for ((d, &gi), &masked) in gx.iter_mut().zip(g).zip(&m) {
                if !masked {
                    *d = *d + gi;
                }
            }
        })
    }

    /// `self` where `cond` is true, `other` elsewhere (PyTorch's `torch.where(cond, self,
    /// other)`), `cond` and `other` broadcast to `self`'s shape; each gradient goes to the
    /// operand whose value was taken (summed over the positions `other` was repeated to).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,)>::from_array([1.0, -2.0, 3.0]);
    /// let zero = Tensor::<(U3,)>::zeros();
    /// let relu = x.clone().where_(&x.gt_scalar(0.0), &zero);
    /// assert_eq!(relu.to_vec(), vec![1.0, 0.0, 3.0]);
    /// // a scalar-like `other` of shape (1,)
    /// let floor = Tensor::<(U1,)>::from_array([-1.0]);
    /// assert_eq!(x.clone().where_(&x.gt_scalar(-1.0), &floor).to_vec(), vec![1.0, -1.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime dim of `cond` or `other` is neither `self`'s nor 1; the message names the
    /// shapes.
    pub fn where_<S2, S3, T2>(
        self,
        cond: &Mask<S2>,
        other: &Tensor<S3, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S2: BroadcastsTo<S>,
        S3: BroadcastsTo<S>,
        T2: TapeMode<E>,
        T: MergeTape<E, T2>,
    {
        let dims = self.dims();
        let c_at = broadcast_positions("where (condition)", &cond.dims(), &dims);
        let o_at = broadcast_positions("where", &other.dims(), &dims);
        let c: Vec<bool> = c_at.iter().map(|&p| cond.as_slice()[p]).collect();
        let ov = other.as_slice();
        let y = self
            .as_slice()
            .iter()
            .zip(&c)
            .zip(&o_at)
            .map(|((&a, &t), &p)| if t { a } else { ov[p] })
            .collect();
        let (ta, na) = self.as_input();
        let (tb, nb) = other.as_input();
        op_result(self.shape(), y, &[(ta, na), (tb, nb)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&ta) {
                    for ((d, &gi), &t) in gx.iter_mut().zip(g.iter()).zip(&c) {
                        if t {
                            *d = *d + gi;
                        }
                    }
                }
                if let Some(go) = grads.accum(&tb) {
                    for ((&gi, &t), &p) in g.iter().zip(&c).zip(&o_at) {
                        if !t {
                            go[p] = go[p] + gi;
                        }
                    }
                }
            })
        })
    }

    /// The index of the first largest value along axis `I` (PyTorch's `argmax(dim=I)`; NaN
    /// counts as largest).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let logits = Tensor::<(U2, U3)>::from_array([[0.1, 2.0, -1.0], [5.0, 5.0, 0.0]]);
    /// assert_eq!(logits.argmax::<1>().to_vec(), vec![1, 0]);
    /// ```
    pub fn argmax<const I: usize>(&self) -> Indices<S::Output>
    where
        S: RemoveAxis<I>,
    {
        self.arg_extreme::<I>(true).1
    }

    /// The index of the first smallest value along axis `I` (PyTorch's `argmin(dim=I)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::from_array([[3.0, 1.0], [0.0, 2.0]]);
    /// assert_eq!(x.argmin::<0>().to_vec(), vec![1, 0]);
    /// ```
    pub fn argmin<const I: usize>(&self) -> Indices<S::Output>
    where
        S: RemoveAxis<I>,
    {
        self.arg_extreme::<I>(false).1
    }

    /// The largest values along axis `I` and their indices (PyTorch's `max(dim=I)`); the
    /// gradient goes to the index returned.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::from_array([[1.0, 4.0, 2.0], [7.0, 0.0, 7.0]]);
    /// let (v, i) = x.max_with_indices::<1>();
    /// assert_eq!((v.to_vec(), i.to_vec()), (vec![4.0, 7.0], vec![1, 0]));
    /// ```
    pub fn max_with_indices<const I: usize>(self) -> (Tensor<S::Output, E, T>, Indices<S::Output>)
    where
        S: RemoveAxis<I>,
    {
        let (_, idx) = self.arg_extreme::<I>(true);
        (self.max_axis::<I>(), idx)
    }

    /// The smallest values along axis `I` and their indices (PyTorch's `min(dim=I)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,)>::from_array([2.0, -1.0, 5.0]);
    /// let (v, i) = x.min_with_indices::<0>();
    /// assert_eq!((v.item(), i.to_vec()), (-1.0, vec![1]));
    /// ```
    pub fn min_with_indices<const I: usize>(self) -> (Tensor<S::Output, E, T>, Indices<S::Output>)
    where
        S: RemoveAxis<I>,
    {
        let (_, idx) = self.arg_extreme::<I>(false);
        (self.min_axis::<I>(), idx)
    }

    fn arg_extreme<const I: usize>(&self, max: bool) -> (Vec<E>, Indices<S::Output>)
    where
        S: RemoveAxis<I>,
    {
        let (outer, n, inner) = axis_split(&self.dims(), I);
        let (v, idx) = kernels::arg_extreme_axis(self.as_slice(), outer, n, inner, max);
        let idx = idx.into_iter().map(|i| i as i64).collect();
        let shape = self.shape().remove();
        (
            v,
            Indices::from_vec_shaped(shape, idx).expect("one index per position"),
        )
    }

    /// [`concat`](Tensor::concat) for runtime dims the data decides: `Err` naming both shapes
    /// when a runtime dim off the axis differs, where `concat` panics.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(usize, U2)>::zeros_shaped((3, U2::new()));
    /// let b = Tensor::<(usize, U2)>::zeros_shaped((4, U2::new()));
    /// assert_eq!(a.clone().try_concat::<0, _, _>(&b).unwrap().dims(), [7, 2]);
    /// // joined along the features, the lengths must agree
    /// let err = a.try_concat::<1, _, _>(&b).unwrap_err();
    /// assert_eq!(err.to_string(), "concat: runtime dimensions differ ([3, 2] vs [4, 2])");
    /// ```
    pub fn try_concat<const I: usize, S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Result<Tensor<<S as ConcatAlong<S2, I>>::Output, E, T::Output>>
    where
        S: ConcatAlong<S2, I>,
        T: MergeTape<E, T2>,
    {
        let (da, db) = (self.dims(), rhs.dims());
        if (0..S::RANK).any(|ax| ax != I && da[ax] != db[ax]) {
            return Err(Error::Mismatch {
                op: "concat".into(),
                left: da.to_vec(),
                right: db.to_vec(),
            });
        }
        Ok(self.concat::<I, S2, T2>(rhs))
    }
}
