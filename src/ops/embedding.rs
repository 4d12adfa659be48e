//! Looking rows of a table up by index: the op under [`Embedding`](crate::nn::Embedding).

use crate::autograd::{op_result, MergeTape, TapeMode};
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
        self.lookup(ids, padding_idx, scale_grad_by_freq)
    }

    /// [`try_embedding`](Tensor::try_embedding) into a result traced as `T2` says (the
    /// layer's: its table untraced, its ids' tape).
    pub(crate) fn lookup<S, T, T2>(
        &self,
        ids: &Indices<S, T>,
        padding_idx: Option<usize>,
        scale_grad_by_freq: bool,
    ) -> crate::Result<Tensor<S::Output, E, T2>>
    where
        S: AppendDim<D>,
        T2: TapeMode<E>,
    {
        let (rows, d) = self.shape();
        ids.check_range("embedding", rows.size())?;
        let table = self.as_slice();
        let width = d.size();
        let mut y = Vec::with_capacity(ids.numel() * width);
        for &id in ids.as_slice() {
            y.extend_from_slice(&table[id as usize * width..][..width]);
        }
        let out = ids.shape().append(d);
        let ids: Vec<usize> = ids.as_slice().iter().map(|&i| i as usize).collect();
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
                for (&id, gi) in ids.iter().zip(g.chunks_exact(width)) {
                    if Some(id) == padding_idx {
                        continue;
                    }
                    for (d, &v) in gw[id * width..][..width].iter_mut().zip(gi) {
                        *d = *d + v * scale[id];
                    }
                }
            })
        }))
    }
}
