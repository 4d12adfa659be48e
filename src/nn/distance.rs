//! Distance layers (PyTorch's `nn.PairwiseDistance` and `nn.CosineSimilarity`; their ops,
//! `pairwise_distance` and `cosine_similarity`, live in `ops`).

use crate::autograd::{MergeTape, TapeMode};
use crate::shape::Dim;
use crate::tensor::{Element, Tensor};

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
