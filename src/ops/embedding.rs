//! Looking rows of a table up by index: the op under [`Embedding`](crate::nn::Embedding).

use crate::autograd::{op_result, MergeTape, TapeMode};
use crate::kernels;
use crate::shape::{AppendDim, Dim};
use crate::tensor::{Element, Indices, Tensor};

impl<V: Dim, D: Dim, E: Element, T0: TapeMode<E>> Tensor<(V, D), E, T0> {
    /// Row `ids[..]` of this `(num_embeddings, embedding_dim)` table for every id: the result
    /// has the ids' shape with `D` appended (PyTorch's `F.embedding`). The gradient of a row is
    /// the sum of the gradients of its look-ups, divided by how often it was looked up when
    /// `scale_grad_by_freq`, and zero for `padding_idx`. The result is traced when the ids
    /// (see [`Indices::trace`]) or the table are, and reaches the table when it requires grad.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let table = Tensor::<(U3, U2)>::from_array([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]]);
    /// let ids = Indices::<(usize,)>::from_vec_shaped((3,), vec![2, 0, 2]).unwrap();
    /// let rows = table.try_embedding(&ids, None, false).unwrap();
    /// assert_eq!(rows.to_vec(), vec![2.0, 2.5, 0.0, 0.5, 2.0, 2.5]);
    /// // an id past the table is an `Err`, never a read out of bounds
    /// let bad = Indices::<(U1,)>::from_array([3]);
    /// let err = table.try_embedding(&bad, None, false).unwrap_err();
    /// assert_eq!(err.to_string(), "embedding: index 3 is out of range for size 3");
    /// ```
    pub fn try_embedding<S, T>(
        &self,
        ids: &Indices<S, T>,
        padding_idx: Option<usize>,
        scale_grad_by_freq: bool,
    ) -> crate::Result<Tensor<S::Output, E, T0::Output>>
    where
        S: AppendDim<D>,
        T: TapeMode<E>,
        T0: MergeTape<E, T>,
    {
        self.lookup(ids, padding_idx, scale_grad_by_freq, None)
    }

    /// [`try_embedding`](Tensor::try_embedding) into a result traced as `T2` says (the
    /// layer's: its table untraced, its ids' tape); with `row_scales`, each row's values
    /// scaled in the result only (`max_norm`'s renormalisation, which PyTorch applies without
    /// a gradient: the table's gradient stays the plain scatter).
    pub(crate) fn lookup<S, T, T2>(
        &self,
        ids: &Indices<S, T>,
        padding_idx: Option<usize>,
        scale_grad_by_freq: bool,
        row_scales: Option<&[E]>,
    ) -> crate::Result<Tensor<S::Output, E, T2>>
    where
        S: AppendDim<D>,
        T2: TapeMode<E>,
    {
        let (rows, d) = self.shape();
        ids.check_range("embedding", rows.size())?;
        let width = d.size();
        let out = ids.shape().append(d);
        let ids: Vec<usize> = ids.as_slice().iter().map(|&i| i as usize).collect();
        let y = kernels::lookup_rows(self.as_slice(), width, &ids, row_scales);
        let (target, node) = self.as_input();
        let n_rows = rows.size();
        Ok(op_result(out, y, &[(target, node)], |_| {
            Box::new(move |g, grads| {
                let Some(gw) = grads.accum(&target) else {
                    return;
                };
                let mut scale = vec![E::one(); n_rows];
                if scale_grad_by_freq {
                    let mut count = vec![0usize; n_rows];
                    for &id in &ids {
                        count[id] += 1;
                    }
                    for (s, &c) in scale.iter_mut().zip(&count) {
                        *s = E::from_usize(c.max(1)).recip();
                    }
                }
                kernels::scatter_rows(gw, width, &ids, g, &scale, padding_idx);
            })
        }))
    }
}

/// How [`EmbeddingBag`](crate::nn::EmbeddingBag) reduces each bag's rows (PyTorch's `mode`).
///
/// ```
/// use stensor::ops::BagMode;
/// assert_eq!(BagMode::default(), BagMode::Mean);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BagMode {
    /// The sum of the rows (times the per-sample weights, when given).
    Sum,
    /// The mean of the rows (PyTorch's default).
    #[default]
    Mean,
    /// The largest value of each feature over the rows.
    Max,
}

impl BagMode {
    /// PyTorch's name: `sum`, `mean` or `max`.
    ///
    /// ```
    /// assert_eq!(stensor::ops::BagMode::Max.name(), "max");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            BagMode::Sum => "sum",
            BagMode::Mean => "mean",
            BagMode::Max => "max",
        }
    }
}

/// Per-sample weights: their values, gradient target and node.
pub(crate) type SampleWeights<'a, E> = (
    &'a [E],
    crate::autograd::GradTarget,
    Option<&'a std::sync::Arc<crate::autograd::Node<E>>>,
);

/// The rows of one table looked up and reduced per bag: the op under `EmbeddingBag`.
pub(crate) struct Bags<'a, E> {
    /// Every id, already checked against the table.
    pub ids: &'a [i64],
    /// Each bag's range of `ids`.
    pub bounds: Vec<(usize, usize)>,
    pub mode: BagMode,
    pub padding_idx: Option<usize>,
    /// One weight per id (`Sum` only), with its gradient target and node.
    pub weights: Option<SampleWeights<'a, E>>,
}

impl<V: Dim, D: Dim, E: Element, T0: TapeMode<E>> Tensor<(V, D), E, T0> {
    /// One row per bag, `(bags, D)` under the batch dim `b`, traced as `T2` says.
    pub(crate) fn bags<B: Dim, T2: TapeMode<E>>(
        &self,
        b: B,
        bags: Bags<'_, E>,
    ) -> Tensor<(B, D), E, T2> {
        let (_, d) = self.shape();
        let width = d.size();
        let table = self.as_slice();
        let Bags {
            ids,
            bounds,
            mode,
            padding_idx,
            weights,
        } = bags;
        let keep = move |id: i64| Some(id as usize) != padding_idx;
        let mut y = vec![E::zero(); bounds.len() * width];
        // for `Max`, the id each output value came from
        let mut from = vec![usize::MAX; if mode == BagMode::Max { y.len() } else { 0 }];
        let mut counts = vec![0usize; bounds.len()];
        for (bag, &(lo, hi)) in bounds.iter().enumerate() {
            let out = &mut y[bag * width..][..width];
            for (k, &id) in ids[lo..hi].iter().enumerate().filter(|(_, &id)| keep(id)) {
                let row = &table[id as usize * width..][..width];
                counts[bag] += 1;
                match mode {
                    BagMode::Sum => {
                        let w = weights.as_ref().map_or(E::one(), |(w, _, _)| w[lo + k]);
                        for (o, &v) in out.iter_mut().zip(row) {
                            *o = *o + v * w;
                        }
                    }
                    BagMode::Mean => {
                        for (o, &v) in out.iter_mut().zip(row) {
                            *o = *o + v;
                        }
                    }
                    BagMode::Max => {
                        let src = &mut from[bag * width..][..width];
                        for ((o, s), &v) in out.iter_mut().zip(src.iter_mut()).zip(row) {
                            if *s == usize::MAX || v > *o {
                                *o = v;
                                *s = id as usize;
                            }
                        }
                    }
                }
            }
            if mode == BagMode::Mean && counts[bag] > 0 {
                let inv = E::from_usize(counts[bag]).recip();
                out.iter_mut().for_each(|o| *o = *o * inv);
            }
        }
        let (target, node) = self.as_input();
        let mut inputs = vec![(target, node)];
        let wv = weights.as_ref().map(|(w, t, n)| {
            inputs.push((*t, *n));
            (w.to_vec(), *t)
        });
        let ids = ids.to_vec();
        let rows = self.dims()[0];
        let table = if wv.is_some() {
            Some(self.data_arc())
        } else {
            None
        };
        op_result((b, d), y, &inputs, |_| {
            Box::new(move |g, grads| {
                if let Some(gw) = grads.accum(&target) {
                    debug_assert_eq!(gw.len(), rows * width);
                    for (bag, &(lo, hi)) in bounds.iter().enumerate() {
                        let gb = &g[bag * width..][..width];
                        if mode == BagMode::Max {
                            for (k, &s) in from[bag * width..][..width].iter().enumerate() {
                                if s != usize::MAX {
                                    gw[s * width + k] = gw[s * width + k] + gb[k];
                                }
                            }
                            continue;
                        }
                        for (k, &id) in ids[lo..hi].iter().enumerate().filter(|(_, &id)| keep(id)) {
                            let scale = match (&wv, mode) {
                                (Some((w, _)), _) => w[lo + k],
                                (None, BagMode::Mean) => E::from_usize(counts[bag]).recip(),
                                _ => E::one(),
                            };
                            for (o, &v) in gw[id as usize * width..][..width].iter_mut().zip(gb) {
                                *o = *o + v * scale;
                            }
                        }
                    }
                }
                if let (Some((_, wt)), Some(table)) = (&wv, &table) {
                    if let Some(gpw) = grads.accum(wt) {
                        for (bag, &(lo, hi)) in bounds.iter().enumerate() {
                            let gb = &g[bag * width..][..width];
                            for (k, &id) in
                                ids[lo..hi].iter().enumerate().filter(|(_, &id)| keep(id))
                            {
                                let row = &table[id as usize * width..][..width];
                                let dot =
                                    row.iter().zip(gb).fold(E::zero(), |a, (&r, &v)| a + r * v);
                                gpw[lo + k] = gpw[lo + k] + dot;
                            }
                        }
                    }
                }
            })
        })
    }
}
