//! Ops that take or give index tensors and masks: `masked_fill`, `where_`, `argmax`/`argmin`,
//! `max`/`min` with indices, and `try_concat` (joining what the data sized).

use super::axis_split;
use crate::autograd::{op_result, unary_result, MergeTape, TapeMode};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{BroadcastSuffix, ConcatAlong, RemoveAxis, Shape};
use crate::tensor::{Element, Indices, Mask, Tensor};

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `value` where `mask` is true, `self` elsewhere (PyTorch's `masked_fill`); the gradient
    /// passes where the mask is false. The mask is `self`'s shape or a trailing part of it,
    /// repeated over the leading dims (a `(L, L)` causal mask over `(N, heads, L, L)` scores).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let scores = Tensor::<(U2, U2, U2)>::ones();
    /// let causal = Mask::<(U2, U2)>::from_array([[false, true], [false, false]]);
    /// let s = scores.masked_fill(&causal, f64::NEG_INFINITY);
    /// assert_eq!(s.to_vec()[..4], [1.0, f32::NEG_INFINITY, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the mask's runtime dims differ from the trailing dims of `self`; the message names
    /// both shapes.
    pub fn masked_fill<S2: Shape>(self, mask: &Mask<S2>, value: f64) -> Tensor<S, E, T>
    where
        S: BroadcastSuffix<S2>,
    {
        let (dims, mdims) = (self.dims(), mask.dims());
        assert!(
            dims[S::RANK - S2::RANK..] == mdims[..],
            "masked_fill: the mask's dims {mdims:?} are not the trailing dims of {dims:?}"
        );
        let m = mask.as_slice().to_vec();
        let per = m.len().max(1);
        let v = E::from_f64(value);
        let x = self.as_slice();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, &a)| if m[i % per] { v } else { a })
            .collect();
        unary_result(self.shape(), y, &self, move |g, gx| {
            for (i, (d, &gi)) in gx.iter_mut().zip(g).enumerate() {
                if !m[i % per] {
                    *d = *d + gi;
                }
            }
        })
    }

    /// `self` where `cond` is true, `other` elsewhere (PyTorch's `torch.where(cond, self,
    /// other)`); each gradient goes to the operand whose value was taken.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,)>::from_array([1.0, -2.0, 3.0]);
    /// let zero = Tensor::<(U3,)>::zeros();
    /// let relu = x.clone().where_(&x.gt_scalar(0.0), &zero);
    /// assert_eq!(relu.to_vec(), vec![1.0, 0.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If runtime (`usize`) dims differ; the message names the shapes.
    pub fn where_<T2: TapeMode<E>>(
        self,
        cond: &Mask<S>,
        other: &Tensor<S, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        super::assert_same_dims(&self.shape(), &other.shape(), "where");
        super::assert_same_dims(&self.shape(), &cond.shape(), "where (condition)");
        let c = cond.as_slice().to_vec();
        let y = self
            .as_slice()
            .iter()
            .zip(other.as_slice())
            .zip(&c)
            .map(|((&a, &b), &t)| if t { a } else { b })
            .collect();
        let (ta, na) = self.as_input();
        let (tb, nb) = other.as_input();
        op_result(self.shape(), y, &[(ta, na), (tb, nb)], |_| {
            Box::new(move |g, grads| {
                for (target, take) in [(&ta, true), (&tb, false)] {
                    if let Some(gx) = grads.accum(target) {
                        for ((d, &gi), &t) in gx.iter_mut().zip(g.iter()).zip(&c) {
                            if t == take {
                                *d = *d + gi;
                            }
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
