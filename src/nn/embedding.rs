//! `Embedding`: a table of vectors looked up by id.

use super::repr::{py_bool, py_float};
use super::{param, Forward, Module};
use crate::autograd::TapeMode;
use crate::ops::BagMode;
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
    /// `max_norm` and `norm_type`.
    max_norm: Option<(f64, f64)>,
}

impl<V: ConstDim, D: ConstDim, E: Element> Embedding<V, D, E> {
    /// PyTorch's `extra_repr`: `10, 4`, then the options that differ from the defaults.
    fn repr(&self) -> String {
        let mut s = format!("{}, {}", V::SIZE, D::SIZE);
        if let Some(p) = self.padding_idx {
            s += &format!(", padding_idx={p}");
        }
        if let Some((m, p)) = self.max_norm {
            s += &format!(", max_norm={}", py_float(m));
            if p != 2.0 {
                s += &format!(", norm_type={}", py_float(p));
            }
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
            max_norm: None,
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
            max_norm: None,
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
        // in place: the weight keeps its identity (an optimizer's state is keyed by it)
        self.weight.as_mut_slice()[idx * d..(idx + 1) * d].fill(E::zero());
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

    /// Rows looked up whose `norm_type`-norm exceeds `max_norm` are scaled to norm `max_norm`
    /// (PyTorch's `max_norm`, `norm_type`; by `max_norm / (norm + 1e-7)`, as PyTorch).
    ///
    /// PyTorch renormalises the table's rows in place inside `forward`. Here `forward` takes
    /// `&self` (a layer is shared by reference), so it returns the renormalised rows without
    /// changing the table, and [`renorm_`](Embedding::renorm_) changes the table as PyTorch's
    /// forward does: call it with the batch's ids before the forward pass of a training step,
    /// and the weights after the optimizer's step are PyTorch's. (Output and gradients are
    /// PyTorch's either way: the renormalisation has no gradient.)
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, Forward};
    /// let t = Tensor::<(U2, U2)>::from_array([[3.0, 4.0], [0.3, 0.4]]);
    /// let mut emb = Embedding::from_pretrained(t, false).max_norm(1.0, 2.0);
    /// let ids = Indices::<(U2,)>::from_array([0, 1]);
    /// let y = emb.forward(ids.clone());
    /// assert!((y.to_vec()[0] - 0.6).abs() < 1e-6 && y.to_vec()[2] == 0.3);
    /// emb.renorm_(&ids);
    /// assert!((emb.weight.to_vec()[1] - 0.8).abs() < 1e-6);
    /// ```
    ///
    /// # Panics
    /// If `max_norm` is negative or NaN, or `norm_type` is not positive.
    pub fn max_norm(mut self, max_norm: f64, norm_type: f64) -> Self {
        assert!(
            max_norm >= 0.0,
            "max_norm must be non-negative, got {max_norm}"
        );
        assert!(
            norm_type > 0.0,
            "norm_type must be positive, got {norm_type}"
        );
        self.max_norm = Some((max_norm, norm_type));
        self
    }

    /// The scale of each row of the table for the ids looked up (1 for the others), when
    /// `max_norm` is set.
    fn row_scales<S: crate::shape::Shape, T>(&self, ids: &Indices<S, T>) -> Option<Vec<E>> {
        let (max_norm, p) = self.max_norm?;
        let d = D::SIZE;
        let w = self.weight.as_slice();
        let mut scales = vec![E::one(); V::SIZE];
        let mut seen = vec![false; V::SIZE];
        for &id in ids.as_slice() {
            let Some(slot) = usize::try_from(id).ok().filter(|&i| i < V::SIZE) else {
                continue; // an id out of range is the look-up's error to report
            };
            if std::mem::replace(&mut seen[slot], true) {
                continue;
            }
            let row = &w[slot * d..(slot + 1) * d];
            let norm = if p == 2.0 {
                row.iter().map(|v| v.as_f64().powi(2)).sum::<f64>().sqrt()
            } else if p == 1.0 {
                row.iter().map(|v| v.as_f64().abs()).sum::<f64>()
            } else if p.is_infinite() {
                row.iter().map(|v| v.as_f64().abs()).fold(0.0, f64::max)
            } else {
                row.iter()
                    .map(|v| v.as_f64().abs().powf(p))
                    .sum::<f64>()
                    .powf(p.recip())
            };
            if norm > max_norm {
                scales[slot] = E::from_f64(max_norm / (norm + 1e-7));
            }
        }
        Some(scales)
    }

    /// Renormalises, in place, the rows of the table that `ids` look up and whose norm exceeds
    /// `max_norm` (PyTorch's `embedding_renorm_`, which its forward calls); nothing without
    /// `max_norm`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Embedding;
    /// let t = Tensor::<(U2, U1)>::from_array([[5.0], [0.5]]);
    /// let mut emb = Embedding::from_pretrained(t, false).max_norm(2.0, 1.0);
    /// emb.renorm_(&Indices::<(U1,)>::from_array([0]));
    /// assert!((emb.weight.to_vec()[0] - 2.0).abs() < 1e-6);
    /// ```
    pub fn renorm_<S: crate::shape::Shape, T>(&mut self, ids: &Indices<S, T>) {
        let Some(scales) = self.row_scales(ids) else {
            return;
        };
        let d = D::SIZE;
        for (row, &s) in self.weight.as_mut_slice().chunks_exact_mut(d).zip(&scales) {
            if s != E::one() {
                row.iter_mut().for_each(|v| *v = *v * s);
            }
        }
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
        let scales = self.row_scales(&ids);
        self.weight.lookup(
            &ids,
            self.padding_idx,
            self.scale_grad_by_freq,
            scales.as_deref(),
        )
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

/// Bags of ids reduced to one vector each (PyTorch's `nn.EmbeddingBag(num_embeddings,
/// embedding_dim, mode)`): the sum, mean (the default) or feature-wise max of the bag's rows of
/// a `(V, D)` table, without materialising the rows. The weight is named `weight` and
/// initialised from `N(0, 1)` as PyTorch's.
///
/// Bags come as a `(B, N)` batch of ids (each row a bag: [`Forward`]), or as one flat list of
/// ids with the offset where each bag starts ([`forward_offsets`], PyTorch's `offsets`, with
/// `include_last_offset`); [`try_forward_weighted`] scales each id's row by a per-sample weight
/// (`mode="sum"` only, as PyTorch). An empty bag gives zeros; ids equal to `padding_idx` are
/// left out of their bag (a mean divides by the others).
///
/// [`forward_offsets`]: EmbeddingBag::forward_offsets
/// [`try_forward_weighted`]: EmbeddingBag::try_forward_weighted
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{EmbeddingBag, Forward};
/// use stensor::ops::BagMode;
/// let table = Tensor::<(U4, U2)>::from_array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// let bag = EmbeddingBag::from_pretrained(table, true).mode(BagMode::Sum);
/// // two bags of a flat list: ids [1, 2] and [3]
/// let ids = Indices::<(usize,)>::from_vec_shaped((3,), vec![1, 2, 3]).unwrap();
/// let offsets = Indices::<(usize,)>::from_vec_shaped((2,), vec![0, 2]).unwrap();
/// let y: Tensor<(usize, U2)> = bag.forward_offsets(ids, &offsets);
/// assert_eq!(y.to_vec(), vec![4.0, 6.0, 5.0, 6.0]);
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct EmbeddingBag<V: ConstDim, D: ConstDim, E: Element = f32> {
    /// `(num_embeddings, embedding_dim)`.
    #[module(param)]
    pub weight: Tensor<(V, D), E>,
    mode: BagMode,
    padding_idx: Option<usize>,
    include_last_offset: bool,
}

impl<V: ConstDim, D: ConstDim, E: Element> EmbeddingBag<V, D, E> {
    /// PyTorch's `extra_repr`: `10, 4, mode='mean'`, then the options that are set.
    fn repr(&self) -> String {
        let mut s = format!("{}, {}, mode='{}'", V::SIZE, D::SIZE, self.mode.name());
        if let Some(p) = self.padding_idx {
            s += &format!(", padding_idx={p}");
        }
        s
    }

    /// Mean bags, weights from `N(0, 1)` (PyTorch's defaults).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{EmbeddingBag, ModuleDisplay};
    /// let bag = EmbeddingBag::<U10, U3>::new(&mut Rng::seed(0));
    /// assert!(ModuleDisplay(&bag).to_string().starts_with("EmbeddingBag(10, 3, mode='mean')"));
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        let Embedding { weight, .. } = Embedding::new(rng);
        Self::with_weight(weight)
    }

    fn with_weight(weight: Tensor<(V, D), E>) -> Self {
        EmbeddingBag {
            weight,
            mode: BagMode::Mean,
            padding_idx: None,
            include_last_offset: false,
        }
    }

    /// From a given table (PyTorch's `EmbeddingBag.from_pretrained`); `freeze` keeps it out of
    /// training.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::EmbeddingBag;
    /// let bag = EmbeddingBag::from_pretrained(Tensor::<(U3, U2)>::ones(), false);
    /// assert!(bag.weight.requires_grad());
    /// ```
    pub fn from_pretrained(weight: Tensor<(V, D), E>, freeze: bool) -> Self {
        let Embedding { weight, .. } = Embedding::from_pretrained(weight, freeze);
        Self::with_weight(weight)
    }

    /// How each bag is reduced.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{EmbeddingBag, Forward};
    /// use stensor::ops::BagMode;
    /// let t = Tensor::<(U3, U1)>::from_array([[1.0], [5.0], [3.0]]);
    /// let bag = EmbeddingBag::from_pretrained(t, true).mode(BagMode::Max);
    /// let y = bag.forward(Indices::<(U1, U3)>::from_array([[0, 1, 2]]));
    /// assert_eq!(y.to_vec(), vec![5.0]);
    /// ```
    pub fn mode(mut self, mode: BagMode) -> Self {
        self.mode = mode;
        self
    }

    /// Leaves id `idx` out of every bag (negative counts from the end); its row starts at zero
    /// and gets no gradient.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{EmbeddingBag, Forward};
    /// let t = Tensor::<(U3, U1)>::from_array([[1.0], [5.0], [3.0]]);
    /// let bag = EmbeddingBag::from_pretrained(t, true).padding_idx(0);
    /// // the mean of 5 and 3: the padding id does not count
    /// assert_eq!(bag.forward(Indices::<(U1, U3)>::from_array([[1, 2, 0]])).to_vec(), vec![4.0]);
    /// ```
    ///
    /// # Panics
    /// If `idx` is not in `-V..V`.
    pub fn padding_idx(mut self, idx: i64) -> Self {
        let emb = Embedding {
            weight: self.weight,
            padding_idx: None,
            scale_grad_by_freq: false,
            max_norm: None,
        }
        .padding_idx(idx);
        self.weight = emb.weight;
        self.padding_idx = emb.padding_idx;
        self
    }

    /// Whether `offsets` ends with the end of the last bag (PyTorch's `include_last_offset`:
    /// `B + 1` offsets for `B` bags, the CSR layout).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::EmbeddingBag;
    /// let bag = EmbeddingBag::from_pretrained(Tensor::<(U3, U1)>::ones(), true).include_last_offset(true);
    /// let ids = Indices::<(usize,)>::from_vec_shaped((3,), vec![0, 1, 2]).unwrap();
    /// let offsets = Indices::<(usize,)>::from_vec_shaped((3,), vec![0, 1, 3]).unwrap();
    /// assert_eq!(bag.forward_offsets(ids, &offsets).dims(), [2, 1]);
    /// ```
    pub fn include_last_offset(mut self, on: bool) -> Self {
        self.include_last_offset = on;
        self
    }

    /// Each bag's range of the flat ids, from PyTorch's `offsets`, or `Err` naming a bad offset.
    fn bounds(&self, n: usize, offsets: &[i64]) -> crate::Result<Vec<(usize, usize)>> {
        let bad = |index: i64| crate::Error::Index {
            op: "embedding_bag offsets".into(),
            index,
            size: n + 1,
        };
        let mut starts = Vec::with_capacity(offsets.len() + 1);
        for (k, &o) in offsets.iter().enumerate() {
            // each offset within the ids, non-decreasing, the first 0 (PyTorch's checks)
            let prev = starts.last().copied().unwrap_or(0);
            if o < 0 || o as u64 > n as u64 || (o as usize) < prev || (k == 0 && o != 0) {
                return Err(bad(o));
            }
            starts.push(o as usize);
        }
        if !self.include_last_offset {
            starts.push(n);
        } else if starts.is_empty() {
            return Err(bad(0));
        }
        Ok(starts.windows(2).map(|w| (w[0], w[1])).collect())
    }

    /// The bags of a flat list of `ids` starting at `offsets`: `(bags, D)`, or `Err` naming an
    /// id outside the table or a bad offset.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::EmbeddingBag;
    /// let bag = EmbeddingBag::<U4, U2>::new(&mut Rng::seed(0));
    /// let ids = Indices::<(usize,)>::from_vec_shaped((2,), vec![0, 1]).unwrap();
    /// let offsets = Indices::<(usize,)>::from_vec_shaped((2,), vec![0, 3]).unwrap();
    /// let err = bag.try_forward_offsets(ids, &offsets).unwrap_err();
    /// assert_eq!(err.to_string(), "embedding_bag offsets: index 3 is out of range for size 3");
    /// ```
    pub fn try_forward_offsets<T: TapeMode<E>>(
        &self,
        ids: Indices<(usize,), T>,
        offsets: &Indices<(usize,)>,
    ) -> crate::Result<Tensor<(usize, D), E, T>> {
        ids.check_range("embedding_bag", V::SIZE)?;
        let bounds = self.bounds(ids.numel(), offsets.as_slice())?;
        Ok(self
            .weight
            .bags(bounds.len(), self.bag_op(ids.as_slice(), bounds)))
    }

    /// [`try_forward_offsets`](EmbeddingBag::try_forward_offsets), panicking on its `Err`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::EmbeddingBag;
    /// let bag = EmbeddingBag::<U4, U2>::new(&mut Rng::seed(0));
    /// let ids = Indices::<(usize,)>::from_vec_shaped((3,), vec![0, 1, 3]).unwrap();
    /// let offsets = Indices::<(usize,)>::from_vec_shaped((2,), vec![0, 1]).unwrap();
    /// assert_eq!(bag.forward_offsets(ids, &offsets).dims(), [2, 2]);
    /// ```
    pub fn forward_offsets<T: TapeMode<E>>(
        &self,
        ids: Indices<(usize,), T>,
        offsets: &Indices<(usize,)>,
    ) -> Tensor<(usize, D), E, T> {
        self.try_forward_offsets(ids, offsets)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sum bags of a flat list of `ids` at `offsets` (or of each row of a `(B, N)` batch, with
    /// `offsets` `None`), each id's row scaled by its `per_sample_weights` entry (the ids'
    /// shape); the weights get a gradient too. `Err` unless the mode is `Sum` (PyTorch's rule),
    /// or when an id or offset is bad or the ids' rank does not match the offsets' presence.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::EmbeddingBag;
    /// use stensor::ops::BagMode;
    /// let t = Tensor::<(U2, U1)>::from_array([[1.0], [10.0]]);
    /// let bag = EmbeddingBag::from_pretrained(t, true).mode(BagMode::Sum);
    /// let ids = Indices::<(U1, U3)>::from_array([[0, 1, 1]]);
    /// let w = Tensor::<(U1, U3)>::from_array([[2.0, 0.5, 0.1]]);
    /// assert_eq!(bag.try_forward_weighted(&ids, None, &w).unwrap().to_vec(), vec![8.0]);
    /// ```
    pub fn try_forward_weighted<S, T, T2>(
        &self,
        ids: &Indices<S, T>,
        offsets: Option<&Indices<(usize,)>>,
        per_sample_weights: &Tensor<S, E, T2>,
    ) -> crate::Result<Tensor<(usize, D), E, T::Output>>
    where
        S: crate::shape::Shape,
        T: crate::autograd::MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        let dims = ids.dims();
        let mismatch = |op: &str| crate::Error::Mismatch {
            op: op.into(),
            left: dims.to_vec(),
            right: per_sample_weights.dims().to_vec(),
        };
        if self.mode != BagMode::Sum {
            return Err(mismatch(
                "embedding_bag: per_sample_weights need mode 'sum'",
            ));
        }
        if per_sample_weights.dims() != dims {
            return Err(mismatch("embedding_bag (ids and per_sample_weights)"));
        }
        ids.check_range("embedding_bag", V::SIZE)?;
        let bounds = match (dims.len(), offsets) {
            (1, Some(o)) => self.bounds(ids.numel(), o.as_slice())?,
            (2, None) => (0..dims[0])
                .map(|b| (b * dims[1], (b + 1) * dims[1]))
                .collect(),
            _ => {
                return Err(mismatch(
                    "embedding_bag: 1-D ids take offsets, 2-D ids none",
                ))
            }
        };
        let (target, node) = per_sample_weights.as_input();
        let weights = Some((per_sample_weights.as_slice(), target, node));
        let bags = crate::ops::Bags {
            weights,
            ..self.bag_op(ids.as_slice(), bounds.clone())
        };
        Ok(self.weight.bags(bounds.len(), bags))
    }

    /// The bags `bounds` of `ids`, unweighted, in this layer's mode.
    fn bag_op<'a>(&self, ids: &'a [i64], bounds: Vec<(usize, usize)>) -> crate::ops::Bags<'a, E> {
        crate::ops::Bags {
            ids,
            bounds,
            mode: self.mode,
            padding_idx: self.padding_idx,
            weights: None,
        }
    }
}

/// Each row of a `(B, N)` batch of ids is a bag: `(B, D)`.
impl<B, N, V, D, E, T> Forward<Indices<(B, N), T>> for EmbeddingBag<V, D, E>
where
    B: crate::shape::Dim,
    N: crate::shape::Dim,
    V: ConstDim,
    D: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<(B, D), E, T>;
    fn forward(&self, ids: Indices<(B, N), T>) -> Self::Output {
        if let Err(e) = ids.check_range("embedding_bag", V::SIZE) {
            panic!("{e}");
        }
        let (b, n) = ids.shape();
        let bounds = (0..b.size())
            .map(|i| (i * n.size(), (i + 1) * n.size()))
            .collect();
        self.weight.bags(b, self.bag_op(ids.as_slice(), bounds))
    }
}
