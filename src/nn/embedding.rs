//! `Embedding`: a table of vectors looked up by id.

use super::repr::py_bool;
use super::{param, Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::{AppendDim, ConstDim};
use crate::tensor::{Element, Indices, Rng, Tensor};

/// A table of `V` vectors of `D` values looked up by id (PyTorch's
/// `nn.Embedding(num_embeddings, embedding_dim)`): ids of any shape `S` (runtime dims
/// included) give `S` with `D` appended. The weight is `(V, D)`, initialised from `N(0, 1)`,
/// named `weight` in a state dict as in PyTorch.
///
/// `padding_idx` marks an id whose row starts at zero and gets no gradient;
/// `scale_grad_by_freq` divides each row's gradient by how often the batch looked it up.
/// An id outside `0..V` panics naming the id and the table size; [`try_forward`] returns the
/// `Err` instead, for ids that come from data.
///
/// [`try_forward`]: Embedding::try_forward
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Embedding, Forward, Linear};
/// let mut rng = Rng::seed(0);
/// let emb = Embedding::<U100, U16>::new(&mut rng).padding_idx(0);
/// let fc = Linear::<U16, U2>::new(&mut rng);
/// // two sequences of five token ids, batch and length decided at run time
/// let ids = Indices::<(usize, usize)>::from_vec_shaped((2, 5), vec![5, 7, 9, 0, 0, 3, 3, 1, 4, 2]).unwrap();
/// let vectors: Tensor<(usize, usize, U16)> = emb.forward(ids.clone());
/// let logits: Tensor<(usize, U2)> = fc.forward(vectors.mean_axis::<1>());
/// assert_eq!(logits.dims(), [2, 2]);
/// // traced ids: backward reaches the table
/// let g = fc.forward(emb.forward(ids.trace()).mean_axis::<1>()).sum().backward();
/// assert!(g.get(&emb.weight).is_some());
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct Embedding<V: ConstDim, D: ConstDim, E: Element = f32> {
    /// `(num_embeddings, embedding_dim)`.
    #[module(param)]
    pub weight: Tensor<(V, D), E>,
    padding_idx: Option<usize>,
    scale_grad_by_freq: bool,
}

impl<V: ConstDim, D: ConstDim, E: Element> Embedding<V, D, E> {
    /// PyTorch's `extra_repr`: `10, 4`, then the options that differ from the defaults.
    fn repr(&self) -> String {
        let mut s = format!("{}, {}", V::SIZE, D::SIZE);
        if let Some(p) = self.padding_idx {
            s += &format!(", padding_idx={p}");
        }
        if self.scale_grad_by_freq {
            s += &format!(", scale_grad_by_freq={}", py_bool(true));
        }
        s
    }

    /// Initialised like PyTorch: every weight from `N(0, 1)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, ModuleDisplay};
    /// let emb = Embedding::<U1000, U8, f64>::new(&mut Rng::seed(3));
    /// let w = emb.weight.to_vec();
    /// let mean = w.iter().sum::<f64>() / w.len() as f64;
    /// assert!(mean.abs() < 0.1);
    /// assert!(ModuleDisplay(&emb).to_string().starts_with("Embedding(1000, 8)"));
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        let weight = Tensor::<(V, D), E>::from_fn(|_| E::from_f64(rng.normal(0.0, 1.0)));
        Embedding {
            weight: param(weight),
            padding_idx: None,
            scale_grad_by_freq: false,
        }
    }

    /// From a given table (PyTorch's `Embedding.from_pretrained`); `freeze` keeps it out of
    /// training (its gradient is never computed), as PyTorch's default `freeze=True`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, Forward};
    /// let table = Tensor::<(U2, U3)>::from_array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// let emb = Embedding::from_pretrained(table, true);
    /// assert!(!emb.weight.requires_grad());
    /// let ids = Indices::<(U1,)>::from_array([1]);
    /// assert_eq!(emb.forward(ids).to_vec(), vec![4.0, 5.0, 6.0]);
    /// ```
    pub fn from_pretrained(weight: Tensor<(V, D), E>, freeze: bool) -> Self {
        let mut weight = weight;
        weight.set_requires_grad(!freeze);
        Embedding {
            weight,
            padding_idx: None,
            scale_grad_by_freq: false,
        }
    }

    /// Marks id `idx` as padding (PyTorch's `padding_idx`; negative counts from the end): its
    /// row is set to zero and gets no gradient.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, ModuleDisplay};
    /// let emb = Embedding::<U5, U2>::new(&mut Rng::seed(0)).padding_idx(-1);
    /// assert_eq!(emb.weight.to_vec()[8..], [0.0, 0.0]);
    /// assert!(ModuleDisplay(&emb).to_string().starts_with("Embedding(5, 2, padding_idx=4)"));
    /// ```
    ///
    /// # Panics
    /// If `idx` is not in `-V..V` (PyTorch asserts the same).
    pub fn padding_idx(mut self, idx: i64) -> Self {
        let v = V::SIZE as i64;
        assert!(
            (-v..v).contains(&idx),
            "padding_idx must be within num_embeddings ({idx} for a table of {v})"
        );
        let idx = if idx < 0 { idx + v } else { idx } as usize;
        let d = D::SIZE;
        let requires_grad = self.weight.requires_grad();
        let mut w = self.weight.to_vec();
        w[idx * d..(idx + 1) * d].fill(E::zero());
        self.weight = Tensor::from_vec(w).expect("same shape");
        self.weight.set_requires_grad(requires_grad);
        self.padding_idx = Some(idx);
        self
    }

    /// Divides each row's gradient by the number of times the batch looked it up (PyTorch's
    /// `scale_grad_by_freq`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, Forward};
    /// let emb = Embedding::<U3, U1>::new(&mut Rng::seed(0)).scale_grad_by_freq(true);
    /// let ids = Indices::<(U3,)>::from_array([2, 2, 0]);
    /// let g = emb.forward(ids.trace()).sum().backward();
    /// assert_eq!(g.get(&emb.weight).unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
    /// ```
    pub fn scale_grad_by_freq(mut self, on: bool) -> Self {
        self.scale_grad_by_freq = on;
        self
    }

    /// The look-up, or `Err` naming the first id outside `0..V` and `V`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Embedding;
    /// let emb = Embedding::<U4, U2>::new(&mut Rng::seed(0));
    /// let ids = Indices::<(U2,)>::from_array([1, 9]);
    /// let err = emb.try_forward(ids).unwrap_err();
    /// assert_eq!(err.to_string(), "embedding: index 9 is out of range for size 4");
    /// ```
    pub fn try_forward<S, T>(&self, ids: Indices<S, T>) -> crate::Result<Tensor<S::Output, E, T>>
    where
        S: AppendDim<D>,
        T: TapeMode<E>,
    {
        self.weight
            .lookup(&ids, self.padding_idx, self.scale_grad_by_freq)
    }
}

impl<S, V, D, E, T> Forward<Indices<S, T>> for Embedding<V, D, E>
where
    S: AppendDim<D>,
    V: ConstDim,
    D: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<S::Output, E, T>;
    fn forward(&self, ids: Indices<S, T>) -> Self::Output {
        self.try_forward(ids).unwrap_or_else(|e| panic!("{e}"))
    }
}
