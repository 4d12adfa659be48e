//! Distance functions (PyTorch's `nn.PairwiseDistance`; `nn.CosineSimilarity`, `cdist` and
//! `pdist` come with the rest of issue 20).

use crate::autograd::{MergeTape, TapeMode};
use crate::shape::Dim;
use crate::tensor::{Element, Tensor};

impl<N: Dim, D: Dim, E: Element, T: TapeMode<E>> Tensor<(N, D), E, T> {
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
        T: MergeTape<E, T2>,
    {
        self.sub(other)
            .add_scalar(E::from_f64(eps))
            .norm_axis::<1>(p)
    }
}

/// The `p`-norm distance between paired rows (PyTorch's `nn.PairwiseDistance(p=2, eps=1e-6,
/// keepdim=False)`; `keepdim` is [`forward_keepdim`](PairwiseDistance::forward_keepdim)).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::PairwiseDistance;
/// let a = Tensor::<(U2, U3)>::zeros();
/// let d = PairwiseDistance::default().forward(a.clone(), &a.clone().add_scalar(1.0));
/// assert_eq!(d.dims(), [2]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairwiseDistance {
    /// The norm's degree.
    pub p: f64,
    /// Added to the difference, so that the norm of a zero difference has a gradient.
    pub eps: f64,
}

impl Default for PairwiseDistance {
    fn default() -> Self {
        PairwiseDistance { p: 2.0, eps: 1e-6 }
    }
}

impl PairwiseDistance {
    /// One distance per row: `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::PairwiseDistance;
    /// let a = Tensor::<(U1, U2), f64>::from_array([[1.0, 1.0]]);
    /// let d = PairwiseDistance { p: 1.0, eps: 0.0 }.forward(a, &Tensor::zeros());
    /// assert_eq!(d.item(), 2.0);
    /// ```
    pub fn forward<N, D, E, T, T2>(
        &self,
        x1: Tensor<(N, D), E, T>,
        x2: &Tensor<(N, D), E, T2>,
    ) -> Tensor<(N,), E, T::Output>
    where
        N: Dim,
        D: Dim,
        E: Element,
        T: MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        x1.pairwise_distance(x2, self.p, self.eps)
    }

    /// One distance per row, the last dim kept: `(N, 1)` (`keepdim=True`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::PairwiseDistance;
    /// let a = Tensor::<(U3, U2)>::zeros();
    /// assert_eq!(PairwiseDistance::default().forward_keepdim(a.clone(), &a).dims(), [3, 1]);
    /// ```
    pub fn forward_keepdim<N, D, E, T, T2>(
        &self,
        x1: Tensor<(N, D), E, T>,
        x2: &Tensor<(N, D), E, T2>,
    ) -> Tensor<(N, typenum::U1), E, T::Output>
    where
        N: Dim,
        D: Dim,
        E: Element,
        T: MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        self.forward(x1, x2).unsqueeze::<1>()
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
        T: MergeTape<E, T2>,
    {
        crate::ops::cosine_similarity_op::<S, I, E, T, T2>(self, other, eps)
    }
}

/// The cosine similarity along a dim (PyTorch's `nn.CosineSimilarity(dim, eps=1e-8)`), the dim
/// a const parameter checked against the input's shape.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::CosineSimilarity;
/// let x = Tensor::<(U3, U4)>::ones();
/// let c = CosineSimilarity::<1>::default().forward(x.clone(), &x);
/// assert_eq!(c.dims(), [3]);
/// assert!(c.to_vec().iter().all(|v| (v - 1.0).abs() < 1e-6));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineSimilarity<const I: usize> {
    /// The smallest norm divided by.
    pub eps: f64,
}

impl<const I: usize> Default for CosineSimilarity<I> {
    fn default() -> Self {
        CosineSimilarity { eps: 1e-8 }
    }
}

impl<const I: usize> CosineSimilarity<I> {
    /// The similarities, axis `I` removed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::CosineSimilarity;
    /// let a = Tensor::<(U2,), f64>::from_array([1.0, 0.0]);
    /// let b = Tensor::<(U2,), f64>::from_array([-1.0, 0.0]);
    /// assert_eq!(CosineSimilarity::<0>::default().forward(a, &b).item(), -1.0);
    /// ```
    pub fn forward<S, E, T, T2>(
        &self,
        x1: Tensor<S, E, T>,
        x2: &Tensor<S, E, T2>,
    ) -> Tensor<<S as crate::shape::RemoveAxis<I>>::Output, E, T::Output>
    where
        S: crate::shape::RemoveAxis<I>,
        E: Element,
        T: MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        x1.cosine_similarity::<I, T2>(x2, self.eps)
    }
}
