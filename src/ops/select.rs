//! Indexing and assembly along a typed axis: `narrow`, `select`, `index_select`, `gather`,
//! `scatter_add`, `chunk`, `stack`, `cat`, `unsqueeze`/`squeeze`, `flip`, `cumsum`,
//! `triu`/`tril`, `topk` and `sort`.
//!
//! The axis is a const parameter checked against the shape at compile time; what the data
//! decides (a start, a length, the indices) is checked at run time. Each op with indices from
//! data has a `try_` form returning the `Err` that the plain form panics with.

use super::axis_split;
use crate::autograd::{op_result, unary_result, MergeTape, TapeMode};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{
    AxisDim, ChunkDim, ConstDim, Dim, InsertAxis, RemoveAxis, ReplaceAxis, SameRank, Shape, UnitDim,
};
use crate::tensor::{Element, Indices, Tensor};
use typenum::{Const, ToUInt, U, U1};

/// The dim of each of `K` chunks of axis `I` of `S`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::Part;
/// assert_eq!(<Part<(U2, U12), 1, 4> as ConstDim>::SIZE, 3);
/// ```
pub type Part<S, const I: usize, const K: usize> =
    <<S as AxisDim<I>>::Axis as ChunkDim<U<K>>>::Output;

/// What [`Tensor::topk`] returns: the values and their indices, axis `I` of runtime length
/// `k`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::TopK;
/// let best: TopK<(U2, U4), f32, NoTape, 1> = Tensor::<(U2, U4)>::arange().topk::<1>(1, true);
/// assert_eq!(best.1.to_vec(), vec![3, 3]);
/// ```
pub type TopK<S, E, T, const I: usize> = (
    Tensor<<S as ReplaceAxis<I, usize>>::Output, E, T>,
    Indices<<S as ReplaceAxis<I, usize>>::Output>,
);

/// Panics with `e`'s message: the plain forms of the `try_` ops.
fn or_panic<X>(r: Result<X>) -> X {
    r.unwrap_or_else(|e| panic!("{e}"))
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Positions `picks` along `axis` into shape `out` (`picks.len()` is the new axis
    /// length); the gradient adds back to the positions picked.
    fn take_along<S2: Shape>(self, out: S2, axis: usize, picks: Vec<usize>) -> Tensor<S2, E, T> {
        let (outer, n, inner) = axis_split(&self.dims(), axis);
        let y = kernels::take_along(self.as_slice(), outer, n, inner, &picks);
        unary_result(out, y, &self, move |g, gx| {
            kernels::take_along_backward(g, gx, outer, n, inner, &picks)
        })
    }

    /// `len` positions of axis `I` from `start` (PyTorch's `narrow(dim, start, length)`);
    /// `len` is a `usize` (the axis becomes a runtime dim) or a static dim such as `U3::new()`
    /// (the axis stays static). The gradient flows back to the positions taken.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U5)>::arange();
    /// let a: Tensor<(U2, usize)> = x.clone().narrow::<1, _>(1, 3);
    /// let b: Tensor<(U2, U3)> = x.narrow::<1, _>(1, U3::new());
    /// assert_eq!(a.to_vec(), vec![1.0, 2.0, 3.0, 6.0, 7.0, 8.0]);
    /// assert_eq!(a.to_vec(), b.to_vec());
    /// ```
    ///
    /// # Panics
    /// If `start + len` passes the end of the axis; [`try_narrow`](Tensor::try_narrow) returns
    /// the `Err`.
    pub fn narrow<const I: usize, D: Dim>(self, start: usize, len: D) -> Tensor<S::Output, E, T>
    where
        S: ReplaceAxis<I, D>,
    {
        or_panic(self.try_narrow::<I, D>(start, len))
    }

    /// [`narrow`](Tensor::narrow), or `Err` when `start + len` passes the end of the axis.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(usize, U2)>::zeros_shaped((4, U2::new()));
    /// assert!(x.clone().try_narrow::<0, _>(2, 2).is_ok());
    /// let err = x.try_narrow::<0, _>(3, 2).unwrap_err();
    /// assert_eq!(err.to_string(), "narrow: index 5 is out of range for size 4");
    /// ```
    pub fn try_narrow<const I: usize, D: Dim>(
        self,
        start: usize,
        len: D,
    ) -> Result<Tensor<S::Output, E, T>>
    where
        S: ReplaceAxis<I, D>,
    {
        let n = self.dims()[I];
        let end = start.checked_add(len.size()).filter(|&e| e <= n);
        let Some(end) = end else {
            return Err(Error::Index {
                op: "narrow".into(),
                index: start.saturating_add(len.size()) as i64,
                size: n,
            });
        };
        let out = self.shape().replace(len);
        Ok(self.take_along(out, I, (start..end).collect()))
    }

    /// Position `index` of axis `I`, the axis removed (PyTorch's `select(dim, index)`, `x[:, i]`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::arange();
    /// assert_eq!(x.select::<1>(2).to_vec(), vec![2.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If `index` is past the end of the axis.
    pub fn select<const I: usize>(self, index: usize) -> Tensor<<S as RemoveAxis<I>>::Output, E, T>
    where
        S: RemoveAxis<I>,
    {
        let n = self.dims()[I];
        assert!(
            index < n,
            "select: index {index} is out of range for size {n}"
        );
        let out = self.shape().remove();
        self.take_along(out, I, vec![index])
    }

    /// The positions `index` of axis `I`, in order, repeats allowed (PyTorch's
    /// `index_select(dim, index)`); the axis takes the index's length.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3, U2)>::arange();
    /// let idx = Indices::<(U4,)>::from_array([2, 0, 2, 1]);
    /// let y: Tensor<(U4, U2)> = x.index_select::<0, _>(&idx);
    /// assert_eq!(y.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0, 2.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If an index is outside the axis, naming it; [`try_index_select`](Tensor::try_index_select)
    /// returns the `Err`.
    pub fn index_select<const I: usize, N: Dim>(
        self,
        index: &Indices<(N,)>,
    ) -> Tensor<<S as ReplaceAxis<I, N>>::Output, E, T>
    where
        S: ReplaceAxis<I, N>,
    {
        or_panic(self.try_index_select::<I, N>(index))
    }

    /// [`index_select`](Tensor::index_select), or `Err` naming an index outside the axis.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3, U2)>::arange();
    /// let err = x.try_index_select::<0, _>(&Indices::<(U1,)>::from_array([3])).unwrap_err();
    /// assert_eq!(err.to_string(), "index_select: index 3 is out of range for size 3");
    /// ```
    pub fn try_index_select<const I: usize, N: Dim>(
        self,
        index: &Indices<(N,)>,
    ) -> Result<Tensor<<S as ReplaceAxis<I, N>>::Output, E, T>>
    where
        S: ReplaceAxis<I, N>,
    {
        index.check_range("index_select", self.dims()[I])?;
        let out = self.shape().replace(index.shape().0);
        let picks = index.as_slice().iter().map(|&i| i as usize).collect();
        Ok(self.take_along(out, I, picks))
    }

    /// The axis `I` reversed (PyTorch's `flip(dims=[I])`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::arange();
    /// assert_eq!(x.flip::<1>().to_vec(), vec![2.0, 1.0, 0.0, 5.0, 4.0, 3.0]);
    /// ```
    pub fn flip<const I: usize>(self) -> Tensor<S, E, T>
    where
        S: RemoveAxis<I>,
    {
        let n = self.dims()[I];
        let shape = self.shape();
        self.take_along(shape, I, (0..n).rev().collect())
    }

    /// A new axis of length 1 at position `I` (PyTorch's `unsqueeze(I)`); a view.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::zeros();
    /// let y: Tensor<(U2, U1, U3)> = x.unsqueeze::<1>();
    /// assert_eq!(y.dims(), [2, 1, 3]);
    /// ```
    pub fn unsqueeze<const I: usize>(self) -> Tensor<<S as InsertAxis<I, U1>>::Output, E, T>
    where
        S: InsertAxis<I, U1>,
    {
        let shape = self.shape().insert(U1::new());
        self.view_as(shape)
    }

    /// Axis `I`, of length 1, removed (PyTorch's `squeeze(I)`); a view. The axis must be a
    /// static 1 (checked at compile time).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U1, U3)>::zeros();
    /// let y: Tensor<(U2, U3)> = x.squeeze::<1>();
    /// assert_eq!(y.dims(), [2, 3]);
    /// ```
    pub fn squeeze<const I: usize>(self) -> Tensor<<S as RemoveAxis<I>>::Output, E, T>
    where
        S: RemoveAxis<I> + AxisDim<I>,
        S::Axis: UnitDim,
    {
        let shape = self.shape().remove();
        self.view_as(shape)
    }

    /// `K` equal parts of axis `I` (PyTorch's `chunk(K, dim=I)` when `K` divides the axis: an
    /// LSTM's four gates from one product). A static axis must be divisible by `K` (checked at
    /// compile time); a runtime one is checked at run time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let gates = Tensor::<(U1, U8)>::arange();
    /// let [i, f, g, o] = gates.chunk::<1, 4>();
    /// let o: Tensor<(U1, U2)> = o;
    /// assert_eq!((i.to_vec(), o.to_vec()), (vec![0.0, 1.0], vec![6.0, 7.0]));
    /// # let _ = (f, g);
    /// ```
    ///
    /// # Panics
    /// If a runtime axis is not divisible by `K`.
    pub fn chunk<const I: usize, const K: usize>(
        self,
    ) -> [Tensor<<S as ReplaceAxis<I, Part<S, I, K>>>::Output, E, T>; K]
    where
        Const<K>: ToUInt,
        U<K>: ConstDim,
        S: AxisDim<I> + ReplaceAxis<I, Part<S, I, K>>,
        S::Axis: ChunkDim<U<K>>,
    {
        let n = self.dims()[I];
        assert!(
            K > 0 && n.is_multiple_of(K),
            "chunk: {K} parts do not divide an axis of {n}"
        );
        let part = <S::Axis as ChunkDim<U<K>>>::part(n);
        std::array::from_fn(|c| {
            let start = c * (n / K);
            self.clone().narrow::<I, _>(start, part)
        })
    }
}

/// The multi-index of flat position `flat` in `dims`.
fn unravel(mut flat: usize, dims: &[usize], out: &mut [usize]) {
    for k in (0..dims.len()).rev() {
        out[k] = flat % dims[k];
        flat /= dims[k];
    }
}

/// The flat position of multi-index `ix` in `dims`.
fn ravel(ix: &[usize], dims: &[usize]) -> usize {
    ix.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// For each position of `index` (dims `idims`), the flat position in a tensor of dims `dims`
/// that it addresses along `axis` (PyTorch's `gather`/`scatter_add` addressing), or `Err`
/// naming an index outside the axis or an index dim larger than the tensor's.
fn scatter_positions(
    op: &str,
    index: &[i64],
    idims: &[usize],
    dims: &[usize],
    axis: usize,
) -> Result<Vec<usize>> {
    for (k, (&i, &d)) in idims.iter().zip(dims).enumerate() {
        if k != axis && i > d {
            return Err(Error::Mismatch {
                op: op.into(),
                left: dims.to_vec(),
                right: idims.to_vec(),
            });
        }
    }
    let mut ix = vec![0; idims.len()];
    index
        .iter()
        .enumerate()
        .map(|(p, &v)| {
            if v < 0 || v as u64 >= dims[axis] as u64 {
                return Err(Error::Index {
                    op: op.into(),
                    index: v,
                    size: dims[axis],
                });
            }
            unravel(p, idims, &mut ix);
            ix[axis] = v as usize;
            Ok(ravel(&ix, dims))
        })
        .collect()
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `out[p] = self[p with axis I replaced by index[p]]` for every position `p` of `index`
    /// (PyTorch's `gather(dim=I, index)`): the result has the index's shape, of the same rank;
    /// off axis `I` the index's dims may be smaller than `self`'s. The gradient adds back to
    /// the positions gathered.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let logp = Tensor::<(U2, U3)>::from_array([[0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]);
    /// let target = Indices::<(U2, U1)>::from_array([[2], [0]]);
    /// assert_eq!(logp.gather::<1, _>(&target).to_vec(), vec![0.7, 0.5]);
    /// ```
    ///
    /// # Panics
    /// If an index is outside axis `I` or an index dim exceeds `self`'s, naming it;
    /// [`try_gather`](Tensor::try_gather) returns the `Err`.
    pub fn gather<const I: usize, S2: Shape>(self, index: &Indices<S2>) -> Tensor<S2, E, T>
    where
        S: SameRank<S2>,
    {
        or_panic(self.try_gather::<I, S2>(index))
    }

    /// [`gather`](Tensor::gather), or the `Err` it would panic with.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::zeros();
    /// let err = x.try_gather::<1, _>(&Indices::<(U1, U1)>::from_array([[3]])).unwrap_err();
    /// assert_eq!(err.to_string(), "gather: index 3 is out of range for size 3");
    /// ```
    pub fn try_gather<const I: usize, S2: Shape>(
        self,
        index: &Indices<S2>,
    ) -> Result<Tensor<S2, E, T>>
    where
        S: SameRank<S2>,
    {
        let dims = self.dims();
        let at = scatter_positions("gather", index.as_slice(), &index.dims(), &dims, I)?;
        Ok(self.gather_flat(index.shape(), at))
    }

    /// The values at flat positions `at`, into shape `out`; the gradient adds back to them.
    fn gather_flat<S2: Shape>(self, out: S2, at: Vec<usize>) -> Tensor<S2, E, T> {
        let y = kernels::gather_flat(self.as_slice(), &at);
        unary_result(out, y, &self, move |g, gx| {
            kernels::scatter_add_flat(gx, &at, g)
        })
    }

    /// `self` with `src[p]` added at `p` with axis `I` replaced by `index[p]`, for every
    /// position `p` of `index` (PyTorch's `scatter_add(dim=I, index, src)`); the adjoint of
    /// [`gather`](Tensor::gather). `src` has the index's shape.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let counts = Tensor::<(U1, U3)>::zeros();
    /// let ids = Indices::<(U1, U4)>::from_array([[2, 0, 2, 2]]);
    /// let ones = Tensor::<(U1, U4)>::ones();
    /// assert_eq!(counts.scatter_add::<1, _, _>(&ids, &ones).to_vec(), vec![1.0, 0.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If an index is outside axis `I` or an index dim exceeds `self`'s, naming it;
    /// [`try_scatter_add`](Tensor::try_scatter_add) returns the `Err`.
    pub fn scatter_add<const I: usize, S2: Shape, T2: TapeMode<E>>(
        self,
        index: &Indices<S2>,
        src: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: SameRank<S2>,
        T: MergeTape<E, T2>,
    {
        or_panic(self.try_scatter_add::<I, S2, T2>(index, src))
    }

    /// [`scatter_add`](Tensor::scatter_add), or the `Err` it would panic with.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,)>::zeros();
    /// let r = x.try_scatter_add::<0, _, _>(&Indices::<(U1,)>::from_array([-1]), &Tensor::<(U1,)>::ones());
    /// assert_eq!(r.unwrap_err().to_string(), "scatter_add: index -1 is out of range for size 2");
    /// ```
    pub fn try_scatter_add<const I: usize, S2: Shape, T2: TapeMode<E>>(
        self,
        index: &Indices<S2>,
        src: &Tensor<S2, E, T2>,
    ) -> Result<Tensor<S, E, T::Output>>
    where
        S: SameRank<S2>,
        T: MergeTape<E, T2>,
    {
        if index.dims() != src.dims() {
            return Err(Error::Mismatch {
                op: "scatter_add (index and src)".into(),
                left: index.dims().to_vec(),
                right: src.dims().to_vec(),
            });
        }
        let dims = self.dims();
        let at = scatter_positions("scatter_add", index.as_slice(), &index.dims(), &dims, I)?;
        let mut y = self.as_slice().to_vec();
        kernels::scatter_add_flat(&mut y, &at, src.as_slice());
        let (ta, na) = self.as_input();
        let (tb, nb) = src.as_input();
        Ok(op_result(self.shape(), y, &[(ta, na), (tb, nb)], |_| {
            Box::new(move |g, grads| {
                if let Some(gx) = grads.accum(&ta) {
                    kernels::add_assign(gx, g);
                }
                if let Some(gs) = grads.accum(&tb) {
                    kernels::add_assign(gs, &kernels::gather_flat(g, &at));
                }
            })
        }))
    }

    /// The running sum along axis `I` (PyTorch's `cumsum(dim=I)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::from_array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]);
    /// assert_eq!(x.cumsum::<1>().to_vec(), vec![1.0, 3.0, 6.0, 0.5, 1.0, 0.0]);
    /// ```
    pub fn cumsum<const I: usize>(self) -> Tensor<S, E, T>
    where
        S: RemoveAxis<I>,
    {
        let (outer, n, inner) = axis_split(&self.dims(), I);
        let mut y = self.as_slice().to_vec();
        kernels::cumsum_axis(&mut y, outer, n, inner, false);
        unary_result(self.shape(), y, &self, move |g, gx| {
            // the gradient of a running sum is the running sum from the end
            let mut back = g.to_vec();
            kernels::cumsum_axis(&mut back, outer, n, inner, true);
            kernels::add_assign(gx, &back);
        })
    }

    /// The values on and above diagonal `diagonal` of the last two axes, zero below (PyTorch's
    /// `triu(diagonal)`: `0` the main diagonal, positive above it, negative below).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::ones();
    /// assert_eq!(x.clone().triu(0).to_vec(), vec![1.0, 1.0, 0.0, 1.0]);
    /// assert_eq!(x.tril(-1).to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    /// ```
    pub fn triu(self, diagonal: i64) -> Tensor<S, E, T>
    where
        S: RemoveAxis<1>,
    {
        self.keep_band(move |i, j| j as i64 - i as i64 >= diagonal)
    }

    /// The values on and below diagonal `diagonal` of the last two axes, zero above (PyTorch's
    /// `tril(diagonal)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U2, U3)>::ones();
    /// assert_eq!(x.tril(0).to_vec(), vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    /// ```
    pub fn tril(self, diagonal: i64) -> Tensor<S, E, T>
    where
        S: RemoveAxis<1>,
    {
        self.keep_band(move |i, j| j as i64 - i as i64 <= diagonal)
    }

    /// The values at (row `i`, column `j`) of the last two axes where `keep(i, j)`, zero
    /// elsewhere; the gradient passes where kept.
    fn keep_band(self, keep: impl Fn(usize, usize) -> bool) -> Tensor<S, E, T> {
        let dims = self.dims();
        let (rows, cols) = (dims[dims.len() - 2], dims[dims.len() - 1]);
        let kept: Vec<bool> = (0..rows * cols).map(|p| keep(p / cols, p % cols)).collect();
        let per = kept.len();
        let y = self
            .as_slice()
            .iter()
            .enumerate()
            .map(|(p, &v)| if kept[p % per] { v } else { E::zero() })
            .collect();
        unary_result(self.shape(), y, &self, move |g, gx| {
            for (p, (d, &v)) in gx.iter_mut().zip(g).enumerate() {
                if kept[p % per] {
                    *d = *d + v;
                }
            }
        })
    }

    /// The `k` largest (or smallest, `largest = false`) values along axis `I`, in order, and
    /// their indices (PyTorch's `topk(k, dim=I, largest, sorted=True)`); ties keep the lower
    /// index first. The gradient goes to the positions taken.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let scores = Tensor::<(U1, U5)>::from_array([[0.1, 0.9, 0.3, 0.9, 0.0]]);
    /// let (v, i) = scores.topk::<1>(2, true);
    /// assert_eq!((v.to_vec(), i.to_vec()), (vec![0.9, 0.9], vec![1, 3]));
    /// ```
    ///
    /// # Panics
    /// If `k` exceeds the axis; [`try_topk`](Tensor::try_topk) returns the `Err`.
    pub fn topk<const I: usize>(self, k: usize, largest: bool) -> TopK<S, E, T, I>
    where
        S: ReplaceAxis<I, usize>,
    {
        or_panic(self.try_topk::<I>(k, largest))
    }

    /// [`topk`](Tensor::topk), or `Err` when `k` exceeds the axis.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,)>::zeros();
    /// assert_eq!(x.try_topk::<0>(4, true).unwrap_err().to_string(), "topk: index 4 is out of range for size 3");
    /// ```
    pub fn try_topk<const I: usize>(self, k: usize, largest: bool) -> Result<TopK<S, E, T, I>>
    where
        S: ReplaceAxis<I, usize>,
    {
        let n = self.dims()[I];
        if k > n {
            return Err(Error::Index {
                op: "topk".into(),
                index: k as i64,
                size: n,
            });
        }
        let (order, at) = self.order_along(I, !largest, k);
        let out = self.shape().replace(k);
        let idx = Indices::from_vec_shaped(out, order).expect("k per line");
        Ok((self.gather_flat(out, at), idx))
    }

    /// The values along axis `I` sorted (ascending, or descending with `descending`) and the
    /// index each came from (PyTorch's `sort(dim=I, descending, stable=True)`); NaN sorts as
    /// largest. The gradient goes back to where each value came from.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U4,)>::from_array([3.0, 1.0, 2.0, 1.0]);
    /// let (v, i) = x.sort::<0>(false);
    /// assert_eq!((v.to_vec(), i.to_vec()), (vec![1.0, 1.0, 2.0, 3.0], vec![1, 3, 2, 0]));
    /// ```
    pub fn sort<const I: usize>(self, descending: bool) -> (Tensor<S, E, T>, Indices<S>)
    where
        S: RemoveAxis<I>,
    {
        let n = self.dims()[I];
        let (order, at) = self.order_along(I, !descending, n);
        let idx = Indices::from_vec_shaped(self.shape(), order).expect("one index per value");
        let shape = self.shape();
        (self.gather_flat(shape, at), idx)
    }

    /// For each line along `axis`, the indices of its first `k` values in ascending (or
    /// descending) order, stable, NaN largest, laid out with `k` in place of the axis; and
    /// the flat position of each.
    fn order_along(&self, axis: usize, ascending: bool, k: usize) -> (Vec<i64>, Vec<usize>) {
        let (outer, n, inner) = axis_split(&self.dims(), axis);
        let x = self.as_slice();
        let mut out = vec![0i64; outer * k * inner];
        let mut at = vec![0usize; outer * k * inner];
        let mut line: Vec<usize> = Vec::with_capacity(n);
        for o in 0..outer {
            for i in 0..inner {
                let val = |j: usize| x[(o * n + j) * inner + i];
                line.clear();
                line.extend(0..n);
                line.sort_by(|&a, &b| {
                    let (va, vb) = (val(a), val(b));
                    let ord = match (va.is_nan(), vb.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => va.partial_cmp(&vb).expect("not NaN"),
                    };
                    if ascending {
                        ord
                    } else {
                        ord.reverse()
                    }
                });
                for (j, &src) in line[..k].iter().enumerate() {
                    out[(o * k + j) * inner + i] = src as i64;
                    at[(o * k + j) * inner + i] = (o * n + src) * inner + i;
                }
            }
        }
        (out, at)
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The tensors of `parts` joined along a new axis `I` of runtime length `parts.len()`
    /// (PyTorch's `torch.stack(parts, dim=I)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// let b = Tensor::<(U2,)>::from_array([3.0, 4.0]);
    /// let s: Tensor<(U2, usize)> = Tensor::stack::<1>(&[a, b]);
    /// assert_eq!(s.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty or their runtime dims differ; [`try_stack`](Tensor::try_stack)
    /// returns the `Err`.
    pub fn stack<const I: usize>(
        parts: &[Self],
    ) -> Tensor<<S as InsertAxis<I, usize>>::Output, E, T>
    where
        S: InsertAxis<I, usize>,
    {
        or_panic(Self::try_stack::<I>(parts))
    }

    /// [`stack`](Tensor::stack), or `Err` when `parts` is empty or their runtime dims differ.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(usize,)>::zeros_shaped((2,));
    /// let b = Tensor::<(usize,)>::zeros_shaped((3,));
    /// let err = Tensor::try_stack::<0>(&[a, b]).unwrap_err();
    /// assert_eq!(err.to_string(), "stack: runtime dimensions differ ([2] vs [3])");
    /// ```
    pub fn try_stack<const I: usize>(
        parts: &[Self],
    ) -> Result<Tensor<<S as InsertAxis<I, usize>>::Output, E, T>>
    where
        S: InsertAxis<I, usize>,
    {
        let shape = Self::same_parts("stack", parts, None)?;
        let out = shape.insert(parts.len());
        // stacking along I is joining the parts' "axis I of length 1" views
        let outer = out.dims()[..I].iter().product();
        Ok(Self::join(parts, out, outer))
    }

    /// The tensors of `parts` joined along their axis `I`, which becomes a runtime dim of the
    /// summed length (PyTorch's `torch.cat(parts, dim=I)` for any number of parts of one type;
    /// [`concat`](Tensor::concat) joins two and adds static lengths at compile time).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U1, usize)>::from_vec_shaped((U1::new(), 2), vec![1.0, 2.0]).unwrap();
    /// let b = Tensor::<(U1, usize)>::from_vec_shaped((U1::new(), 1), vec![3.0]).unwrap();
    /// let c = Tensor::cat::<1>(&[a, b]);
    /// assert_eq!((c.dims(), c.to_vec()), ([1, 3].into(), vec![1.0, 2.0, 3.0]));
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty or their dims off axis `I` differ; [`try_cat`](Tensor::try_cat)
    /// returns the `Err`.
    pub fn cat<const I: usize>(parts: &[Self]) -> Tensor<<S as ReplaceAxis<I, usize>>::Output, E, T>
    where
        S: ReplaceAxis<I, usize>,
    {
        or_panic(Self::try_cat::<I>(parts))
    }

    /// [`cat`](Tensor::cat), or `Err` when `parts` is empty or their dims off axis `I` differ.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(usize, U2)>::zeros_shaped((2, U2::new()));
    /// let b = Tensor::<(usize, U2)>::zeros_shaped((3, U2::new()));
    /// assert_eq!(Tensor::try_cat::<0>(&[a.clone(), b.clone()]).unwrap().dims(), [5, 2]);
    /// assert!(Tensor::try_cat::<1>(&[a, b]).is_err());
    /// ```
    pub fn try_cat<const I: usize>(
        parts: &[Self],
    ) -> Result<Tensor<<S as ReplaceAxis<I, usize>>::Output, E, T>>
    where
        S: ReplaceAxis<I, usize>,
    {
        let first = Self::same_parts("cat", parts, Some(I))?;
        let len = parts.iter().map(|p| p.dims()[I]).sum();
        let out = first.replace(len);
        let outer = out.dims()[..I].iter().product();
        Ok(Self::join(parts, out, outer))
    }

    /// The shape of the first of `parts`, or `Err` when there are none or when their dims
    /// differ (off axis `except`, when given).
    fn same_parts(op: &str, parts: &[Self], except: Option<usize>) -> Result<S> {
        let Some(first) = parts.first() else {
            return Err(Error::Mismatch {
                op: format!("{op} of no tensors"),
                left: vec![],
                right: vec![],
            });
        };
        let d0 = first.dims();
        for p in parts {
            let d = p.dims();
            if (0..S::RANK).any(|ax| Some(ax) != except && d[ax] != d0[ax]) {
                return Err(Error::Mismatch {
                    op: op.into(),
                    left: d0.to_vec(),
                    right: d.to_vec(),
                });
            }
        }
        Ok(first.shape())
    }

    /// `parts` laid side by side: for each of `outer` blocks (the product of the dims before
    /// the joined axis), each part's block of `numel / outer` values in turn; the gradient
    /// splits back the same way.
    fn join<S2: Shape>(parts: &[Self], out: S2, outer: usize) -> Tensor<S2, E, T> {
        let widths: Vec<usize> = parts.iter().map(|p| p.numel() / outer.max(1)).collect();
        let total: usize = widths.iter().sum();
        let mut y = Vec::with_capacity(outer * total);
        for o in 0..outer {
            for (p, &w) in parts.iter().zip(&widths) {
                y.extend_from_slice(&p.as_slice()[o * w..][..w]);
            }
        }
        let inputs: Vec<_> = parts.iter().map(|p| p.as_input()).collect();
        let targets: Vec<_> = inputs.iter().map(|(t, _)| *t).collect();
        op_result(out, y, &inputs, |_| {
            Box::new(move |g, grads| {
                let mut off = 0;
                for (t, &w) in targets.iter().zip(&widths) {
                    if let Some(gx) = grads.accum(t) {
                        for o in 0..outer {
                            let src = &g[o * total + off..][..w];
                            for (d, &v) in gx[o * w..][..w].iter_mut().zip(src) {
                                *d = *d + v;
                            }
                        }
                    }
                    off += w;
                }
            })
        })
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// This tensor repeated to the shape `shape` by PyTorch's broadcasting (its dims of 1
    /// repeated, and new leading dims; PyTorch's `expand`, materialised); the gradient sums
    /// over the repeats.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let col = Tensor::<(U2, U1)>::from_array([[1.0], [2.0]]);
    /// let m: Tensor<(U2, U3)> = col.expand(Default::default());
    /// assert_eq!(m.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime dim is neither `shape`'s nor 1; the message names both shapes.
    pub fn expand<S2: Shape>(self, shape: S2) -> Tensor<S2, E, T>
    where
        S: crate::shape::BroadcastsTo<S2>,
    {
        let at = super::index::broadcast_positions("expand", &self.dims(), &shape.dims());
        self.gather_flat(shape, at)
    }

    /// Axis `I` tiled `times` times (PyTorch's `repeat` along one dim: `[a, b]` twice is
    /// `[a, b, a, b]`); the axis becomes a runtime dim.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::arange();
    /// let y: Tensor<(U2, usize)> = x.repeat::<1>(3);
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 2.0, 3.0]);
    /// ```
    pub fn repeat<const I: usize>(
        self,
        times: usize,
    ) -> Tensor<<S as ReplaceAxis<I, usize>>::Output, E, T>
    where
        S: ReplaceAxis<I, usize>,
    {
        let n = self.dims()[I];
        let out = self.shape().replace(n * times);
        let picks = (0..times).flat_map(|_| 0..n).collect();
        self.take_along(out, I, picks)
    }
}
