//! `Tensor<S, E, T>`: a value of shape `S` (a tuple of type-level dims), element type `E`
//! (`f32` or `f64`) and tape `T` ([`NoTape`] or [`Tape`]).
//!
//! Storage is one heap buffer of exactly `numel` elements, in row-major (C) order, shared by
//! clones (`Arc`): cloning a tensor is cheap, and an operation on a tensor nobody else holds
//! reuses its buffer.

mod display;
mod plain;

pub use crate::element::{Element, Values, ValuesMut};

pub use crate::rng::Rng;
pub use plain::{Indices, Mask, Plain, PrintValue, TypeName};

use crate::autograd::{NoTape, Tape, TapeMode, UniqueId};
use crate::error::{Error, Result};
use crate::shape::rules::ArrayDim;
use crate::shape::{ConstShape, Dim, Shape};
use std::sync::Arc;
use typenum::{Const, ToUInt, U};

/// A tensor of shape `S` with elements `E`, recording on tape `T`.
///
/// ```
/// use stensor::prelude::*;
/// let x: Tensor<(U2, U3)> = Tensor::from_array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// let w: Tensor<(U3, U1)> = Tensor::ones();
/// let y: Tensor<(U2, U1)> = x.matmul(&w);
/// assert_eq!(y.to_vec(), vec![6.0, 15.0]);
/// ```
pub struct Tensor<S: Shape, E: Element = f32, T: TapeMode<E> = NoTape> {
    id: UniqueId,
    shape: S,
    data: Arc<Vec<E>>,
    pub(crate) requires_grad: bool,
    pub(crate) tape: T,
}

impl<S: Shape, E: Element, T: TapeMode<E>> Clone for Tensor<S, E, T> {
    fn clone(&self) -> Self {
        Tensor {
            id: self.id,
            shape: self.shape,
            data: self.data.clone(),
            requires_grad: self.requires_grad,
            tape: self.tape.clone(),
        }
    }
}

/// A nested array that fits a tensor of shape `S`: `[E; N]` for `(U<N>,)`, `[[E; N]; M]` for
/// `(U<M>, U<N>)`, up to rank 4. The dimensions are checked at compile time.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::tensor::ArrayFor;
/// let a = [[1.0f32, 2.0], [3.0, 4.0]];
/// assert_eq!(ArrayFor::<(U2, U2), f32>::flat(&a), &[1.0, 2.0, 3.0, 4.0]);
/// ```
#[diagnostic::on_unimplemented(
    message = "this array does not fit a tensor of shape `{S}`",
    label = "array dimensions differ from the tensor's",
    note = "a nested array `[[E; N]; M]` fits the shape `(U<M>, U<N>)` exactly"
)]
pub trait ArrayFor<S: Shape, E> {
    /// The elements in row-major order.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::tensor::ArrayFor;
    /// assert_eq!(ArrayFor::<(U3,), f64>::flat(&[1.0, 2.0, 3.0]), &[1.0, 2.0, 3.0]);
    /// ```
    fn flat(&self) -> &[E];
}

impl<E, D0, const N0: usize> ArrayFor<(D0,), E> for [E; N0]
where
    D0: Dim,
    Const<N0>: ToUInt,
    U<N0>: ArrayDim<D0>,
{
    fn flat(&self) -> &[E] {
        self
    }
}
impl<E, D0, D1, const N0: usize, const N1: usize> ArrayFor<(D0, D1), E> for [[E; N1]; N0]
where
    D0: Dim,
    D1: Dim,
    Const<N0>: ToUInt,
    U<N0>: ArrayDim<D0>,
    Const<N1>: ToUInt,
    U<N1>: ArrayDim<D1>,
{
    fn flat(&self) -> &[E] {
        self.as_flattened()
    }
}
impl<E, D0, D1, D2, const N0: usize, const N1: usize, const N2: usize> ArrayFor<(D0, D1, D2), E>
    for [[[E; N2]; N1]; N0]
where
    D0: Dim,
    D1: Dim,
    D2: Dim,
    Const<N0>: ToUInt,
    U<N0>: ArrayDim<D0>,
    Const<N1>: ToUInt,
    U<N1>: ArrayDim<D1>,
    Const<N2>: ToUInt,
    U<N2>: ArrayDim<D2>,
{
    fn flat(&self) -> &[E] {
        self.as_flattened().as_flattened()
    }
}
impl<E, D0, D1, D2, D3, const N0: usize, const N1: usize, const N2: usize, const N3: usize>
    ArrayFor<(D0, D1, D2, D3), E> for [[[[E; N3]; N2]; N1]; N0]
where
    D0: Dim,
    D1: Dim,
    D2: Dim,
    D3: Dim,
    Const<N0>: ToUInt,
    U<N0>: ArrayDim<D0>,
    Const<N1>: ToUInt,
    U<N1>: ArrayDim<D1>,
    Const<N2>: ToUInt,
    U<N2>: ArrayDim<D2>,
    Const<N3>: ToUInt,
    U<N3>: ArrayDim<D3>,
{
    fn flat(&self) -> &[E] {
        self.as_flattened().as_flattened().as_flattened()
    }
}

fn length_error<S: Shape>(shape: &S, found: usize) -> Error {
    Error::Length {
        dims: shape.dims().to_vec(),
        found,
    }
}

/// Constructors for tensors of a static shape.
impl<S: ConstShape, E: Element> Tensor<S, E> {
    /// All zeros.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U2)>::zeros().to_vec(), vec![0.0; 4]);
    /// ```
    pub fn zeros() -> Self {
        Self::zeros_shaped(S::default())
    }

    /// All ones.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,), f64>::ones().to_vec(), vec![1.0; 3]);
    /// ```
    pub fn ones() -> Self {
        Self::ones_shaped(S::default())
    }

    /// Every element `value`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::full(7.5).to_vec(), vec![7.5, 7.5]);
    /// ```
    pub fn full(value: E) -> Self {
        Self::full_shaped(S::default(), value)
    }

    /// From a row-major `Vec` of exactly `NUMEL` elements (moved, not copied).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(t[[1, 0]], 3.0);
    /// assert!(Tensor::<(U2, U2)>::from_vec(vec![1.0]).is_err());
    /// ```
    pub fn from_vec(data: Vec<E>) -> Result<Self> {
        Self::from_vec_shaped(S::default(), data)
    }

    /// From a row-major slice of exactly `NUMEL` elements.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U3,)>::from_slice(&[1.0, 2.0, 3.0]).unwrap();
    /// assert_eq!(t.to_vec(), vec![1.0, 2.0, 3.0]);
    /// ```
    pub fn from_slice(data: &[E]) -> Result<Self> {
        Self::from_vec(data.to_vec())
    }

    /// From a nested array whose dimensions are the shape's (checked at compile time).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2, U3)>::from_array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(t[[1, 2]], 6.0);
    /// ```
    pub fn from_array<A: ArrayFor<S, E>>(array: A) -> Self {
        Self::from_parts(S::default(), array.flat().to_vec())
    }

    /// Element `[i, j, ..]` is `f([i, j, ..])`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2, U3), f64>::from_fn(|[i, j]| (10 * i + j) as f64);
    /// assert_eq!(t.to_vec(), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    /// ```
    pub fn from_fn(f: impl FnMut(S::Index) -> E) -> Self {
        Self::from_fn_shaped(S::default(), f)
    }

    /// `0, 1, 2, ...` in row-major order (PyTorch's `arange(numel).reshape(shape)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U2)>::arange().to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn arange() -> Self {
        Self::arange_shaped(S::default())
    }

    /// Uniform in `[low, high)` from a generator seeded with `seed`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U4, U4)>::rand_uniform(1, -1.0, 1.0);
    /// assert_eq!(a.to_vec(), Tensor::<(U4, U4)>::rand_uniform(1, -1.0, 1.0).to_vec());
    /// assert!(a.to_vec().iter().all(|v| (-1.0..1.0).contains(v)));
    /// ```
    pub fn rand_uniform(seed: u64, low: E, high: E) -> Self {
        Self::uniform_shaped(S::default(), &mut Rng::seed(seed), low, high)
    }

    /// Normal with mean `mean` and standard deviation `std` from a generator seeded with
    /// `seed`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U64, U64), f64>::rand_normal(3, 0.0, 1.0);
    /// let mean = a.to_vec().iter().sum::<f64>() / 4096.0;
    /// assert!(mean.abs() < 0.1);
    /// ```
    pub fn rand_normal(seed: u64, mean: E, std: E) -> Self {
        Self::normal_shaped(S::default(), &mut Rng::seed(seed), mean, std)
    }
}

/// Constructors that take the shape as a value (needed when a dimension is a runtime `usize`).
impl<S: Shape, E: Element> Tensor<S, E> {
    /// All zeros, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U3)>::zeros_shaped((4, U3::new()));
    /// assert_eq!(t.dims(), [4, 3]);
    /// ```
    pub fn zeros_shaped(shape: S) -> Self {
        Self::full_shaped(shape, E::zero())
    }

    /// All ones, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize,), f64>::ones_shaped((2,));
    /// assert_eq!(t.to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn ones_shaped(shape: S) -> Self {
        Self::full_shaped(shape, E::one())
    }

    /// Every element `value`, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize,)>::full_shaped((3,), 2.0);
    /// assert_eq!(t.to_vec(), vec![2.0; 3]);
    /// ```
    pub fn full_shaped(shape: S, value: E) -> Self {
        Self::from_parts(shape, vec![value; shape.numel()])
    }

    /// [`Tensor::full_shaped`] for a shape that comes from run time (a batch count in a
    /// request): an error naming the shape, not a panic or an abort, when its element count
    /// overflows or its memory cannot be allocated.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U3)>::try_full_shaped((2, U3::new()), 1.5).unwrap();
    /// assert_eq!(t.to_vec(), vec![1.5; 6]);
    /// let huge = Tensor::<(usize, U28, U28)>::try_full_shaped((1 << 60, U28::new(), U28::new()), 0.0);
    /// assert_eq!(huge.unwrap_err().to_string(), "a tensor of shape [1152921504606846976, 28, 28] has more elements than memory can address");
    /// let too_much = Tensor::<(usize, U1024)>::try_full_shaped((1 << 50, U1024::new()), 0.0);
    /// assert!(too_much.unwrap_err().to_string().ends_with("bytes, which could not be allocated"));
    /// ```
    pub fn try_full_shaped(shape: S, value: E) -> Result<Self> {
        let dims = shape.dims();
        let too_large = |bytes| Error::TooLarge {
            dims: dims.to_vec(),
            bytes,
        };
        let n = dims.checked_numel().ok_or_else(|| too_large(None))?;
        let bytes = n.checked_mul(std::mem::size_of::<E>());
        let mut data = Vec::new();
        data.try_reserve_exact(n).map_err(|_| too_large(bytes))?;
        data.resize(n, value);
        Ok(Self::from_parts(shape, data))
    }

    /// [`Tensor::zeros_shaped`] for a shape that comes from run time: see
    /// [`Tensor::try_full_shaped`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U3)>::try_zeros_shaped((2, U3::new())).unwrap();
    /// assert_eq!(t.dims(), [2, 3]);
    /// ```
    pub fn try_zeros_shaped(shape: S) -> Result<Self> {
        Self::try_full_shaped(shape, E::zero())
    }

    /// From a row-major `Vec` whose length is `shape`'s number of elements.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U2)>::from_vec_shaped((2, U2::new()), vec![1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(t.unwrap()[[1, 1]], 4.0);
    /// ```
    ///
    /// A shape whose element count overflows `usize` is an error too (a batch size taken from
    /// a request cannot wrap around to a small count):
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let huge = (1usize << 62) + 1;
    /// let err = Tensor::<(usize, U1, U28, U28)>::from_vec_shaped((huge, U1::new(), U28::new(), U28::new()), vec![0.0; 784]);
    /// assert!(err.unwrap_err().to_string().ends_with("(more elements than memory can address)"));
    /// ```
    pub fn from_vec_shaped(shape: S, data: Vec<E>) -> Result<Self> {
        if shape.dims().checked_numel() != Some(data.len()) {
            return Err(length_error(&shape, data.len()));
        }
        Ok(Self::from_parts(shape, data))
    }

    /// From a flat buffer and the run-time dimensions `dims` (e.g. read from a file), checked
    /// against the shape type.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U2)>::from_dims_vec(&[3, 2], vec![0.0; 6]).unwrap();
    /// assert_eq!(t.dims(), [3, 2]);
    /// assert!(Tensor::<(usize, U2)>::from_dims_vec(&[2, 3], vec![0.0; 6]).is_err());
    /// ```
    pub fn from_dims_vec(dims: &[usize], data: Vec<E>) -> Result<Self> {
        let shape = S::from_dims(dims).ok_or_else(|| Error::Dims {
            expected: expected_dims::<S>(),
            found: dims.to_vec(),
        })?;
        Self::from_vec_shaped(shape, data)
    }

    /// Element `[i, j, ..]` is `f([i, j, ..])`, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize,)>::from_fn_shaped((3,), |[i]| i as f32);
    /// assert_eq!(t.to_vec(), vec![0.0, 1.0, 2.0]);
    /// ```
    pub fn from_fn_shaped(shape: S, mut f: impl FnMut(S::Index) -> E) -> Self {
        let dims = shape.dims();
        let n = shape.numel();
        let mut data = Vec::with_capacity(n);
        let mut idx = [0usize; crate::shape::MAX_RANK];
        for _ in 0..n {
            data.push(f(S::index_from_slice(&idx[..S::RANK])));
            for ax in (0..S::RANK).rev() {
                idx[ax] += 1;
                if idx[ax] < dims[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
        Self::from_parts(shape, data)
    }

    /// `0, 1, 2, ...` in row-major order, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(usize,)>::arange_shaped((3,)).to_vec(), vec![0.0, 1.0, 2.0]);
    /// ```
    pub fn arange_shaped(shape: S) -> Self {
        Self::from_parts(shape, (0..shape.numel()).map(E::from_usize).collect())
    }

    /// Uniform in `[low, high)`, drawn from `rng`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut rng = Rng::seed(0);
    /// let t = Tensor::<(usize, U8)>::uniform_shaped((2, U8::new()), &mut rng, 0.0, 1.0);
    /// assert!(t.to_vec().iter().all(|v| (0.0..1.0).contains(v)));
    /// ```
    pub fn uniform_shaped(shape: S, rng: &mut Rng, low: E, high: E) -> Self {
        let (l, h) = (low.as_f64(), high.as_f64());
        let data = (0..shape.numel())
            .map(|_| E::from_f64(rng.uniform(l, h)))
            .collect();
        Self::from_parts(shape, data)
    }

    /// Normal with mean `mean` and standard deviation `std`, drawn from `rng`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize,), f64>::normal_shaped((1000,), &mut Rng::seed(1), 5.0, 0.1);
    /// assert!(t.to_vec().iter().all(|v| (4.0..6.0).contains(v)));
    /// ```
    pub fn normal_shaped(shape: S, rng: &mut Rng, mean: E, std: E) -> Self {
        let (m, s) = (mean.as_f64(), std.as_f64());
        let data = (0..shape.numel())
            .map(|_| E::from_f64(rng.normal(m, s)))
            .collect();
        Self::from_parts(shape, data)
    }

    /// Starts a graph at this tensor: the result records every operation, and its gradient is
    /// computed by `backward` (PyTorch's `requires_grad_()`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// let g = x.clone().mul_scalar(4.0).sum().backward();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![4.0, 4.0]);
    /// ```
    pub fn trace(self) -> Tensor<S, E, Tape<E>> {
        let mut t = self.retape(Tape::from_node(None));
        t.requires_grad = true;
        t
    }

    /// Starts a graph at this tensor without computing its own gradient: for a network's
    /// input, whose gradient nobody reads (the parameters it meets still get theirs).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U2), f64>::ones().trace_no_grad();
    /// let mut w = Tensor::<(U2, U1), f64>::ones();
    /// w.set_requires_grad(true);
    /// let g = x.clone().matmul(&w).sum().backward();
    /// assert!(g.get(&x).is_none());
    /// assert_eq!(g.get(&w).unwrap().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn trace_no_grad(self) -> Tensor<S, E, Tape<E>> {
        let mut t = self.retape(Tape::from_node(None));
        t.requires_grad = false;
        t
    }

    /// This tensor with elements converted to `E2` (`f32` <-> `f64`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,), f32>::from_array([0.5, 1.5]);
    /// let b: Tensor<(U2,), f64> = a.cast();
    /// assert_eq!(b.to_vec(), vec![0.5, 1.5]);
    /// ```
    pub fn cast<E2: Element>(&self) -> Tensor<S, E2> {
        Tensor::from_parts(
            self.shape,
            crate::kernels::map_into(self.as_slice(), |x| E2::from_f64(x.as_f64())),
        )
    }

    /// A mutable view of the elements (copy-on-write if the buffer is shared).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut t = Tensor::<(U2,)>::zeros();
    /// t.as_mut_slice()[1] = 3.0;
    /// assert_eq!(t.to_vec(), vec![0.0, 3.0]);
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [E] {
        let v: &mut Vec<E> = Arc::make_mut(&mut self.data);
        v
    }

    /// Sets element `index` to `value`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut t = Tensor::<(U2, U2)>::zeros();
    /// t.set([1, 0], 5.0);
    /// assert_eq!(t.to_vec(), vec![0.0, 0.0, 5.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If `index` is out of bounds.
    pub fn set(&mut self, index: S::Index, value: E) {
        let off = self.offset_or_panic(index);
        self.as_mut_slice()[off] = value;
    }
}

impl<E: Element> Tensor<(), E> {
    /// A rank-0 tensor holding `value`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<()>::scalar(2.5).item(), 2.5);
    /// ```
    pub fn scalar(value: E) -> Self {
        Self::from_parts((), vec![value])
    }
}

fn expected_dims<S: Shape>() -> Vec<Option<usize>> {
    S::static_dims()[..S::RANK].to_vec()
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    pub(crate) fn from_parts(shape: S, data: Vec<E>) -> Tensor<S, E, T> {
        debug_assert_eq!(data.len(), shape.numel());
        Tensor {
            id: UniqueId::new(),
            shape,
            data: Arc::new(data),
            requires_grad: false,
            tape: T::from_node(None),
        }
    }

    /// A tensor of shape `shape` sharing `data` (no copy), with a new id.
    pub(crate) fn from_arc(shape: S, data: Arc<Vec<E>>) -> Tensor<S, E, T> {
        debug_assert_eq!(data.len(), shape.numel());
        Tensor {
            id: UniqueId::new(),
            shape,
            data,
            requires_grad: false,
            tape: T::from_node(None),
        }
    }

    /// The same value on another tape.
    pub(crate) fn retape<T2: TapeMode<E>>(self, tape: T2) -> Tensor<S, E, T2> {
        Tensor {
            id: self.id,
            shape: self.shape,
            data: self.data,
            requires_grad: self.requires_grad,
            tape,
        }
    }

    /// Takes the buffer out: moved if this is its only holder, copied otherwise.
    pub(crate) fn take_data(self) -> Vec<E> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The buffer's shared handle (for backward closures that need the values).
    pub(crate) fn data_arc(&self) -> Arc<Vec<E>> {
        self.data.clone()
    }

    /// The identity under which this tensor's gradient is stored.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U1,)>::zeros();
    /// assert_eq!(a.id(), a.clone().id());
    /// ```
    pub fn id(&self) -> UniqueId {
        self.id
    }

    /// The shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(usize, U2)>::zeros_shaped((5, U2::new()));
    /// assert_eq!(t.shape(), (5, U2::new()));
    /// ```
    pub fn shape(&self) -> S {
        self.shape
    }

    /// The dimensions at run time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U5)>::zeros().dims(), [2, 5]);
    /// ```
    pub fn dims(&self) -> crate::shape::Dims {
        self.shape.dims()
    }

    /// The number of elements.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2, U5)>::zeros().numel(), 10);
    /// ```
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Whether backward computes this tensor's gradient.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2,)>::zeros();
    /// assert!(!t.requires_grad());
    /// assert!(t.trace().requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// Marks this tensor as a parameter whose gradient backward computes when it meets a
    /// traced tensor (or unmarks it).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut w = Tensor::<(U2,), f64>::ones();
    /// w.set_requires_grad(true);
    /// let x = Tensor::<(U2,), f64>::full(3.0).trace_no_grad();
    /// let g = x.mul(&w).sum().backward();
    /// assert_eq!(g.get(&w).unwrap().to_vec(), vec![3.0, 3.0]);
    /// ```
    pub fn set_requires_grad(&mut self, requires_grad: bool) {
        self.requires_grad = requires_grad;
    }

    /// This tensor with [`set_requires_grad`](Self::set_requires_grad) applied: how a layer of
    /// your own makes a parameter (PyTorch's `nn.Parameter(t)`, `t.requires_grad_()`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U2, U3), f64>::uniform_shaped(Default::default(), &mut Rng::seed(0), -0.5, 0.5)
    ///     .requires_grad_(true);
    /// assert!(w.requires_grad());
    /// ```
    pub fn requires_grad_(mut self, requires_grad: bool) -> Self {
        self.requires_grad = requires_grad;
        self
    }

    /// The elements, row-major.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::ones().as_slice(), &[1.0, 1.0]);
    /// ```
    pub fn as_slice(&self) -> &[E] {
        &self.data
    }

    /// The elements, row-major, copied into a `Vec`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::ones().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn to_vec(&self) -> Vec<E> {
        self.data.to_vec()
    }

    /// Element `index`, or `None` if out of bounds.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2, U2)>::arange();
    /// assert_eq!(t.get([1, 1]), Some(3.0));
    /// assert_eq!(t.get([2, 0]), None);
    /// ```
    pub fn get(&self, index: S::Index) -> Option<E> {
        self.shape.offset(index).map(|o| self.data[o])
    }

    /// The value of a one-element tensor.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1, U1)>::full(4.0).item(), 4.0);
    /// ```
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    pub fn item(&self) -> E {
        assert_eq!(
            self.numel(),
            1,
            "item() of a tensor with {} elements",
            self.numel()
        );
        self.data[0]
    }

    /// `f` applied to every element, as a new untraced tensor of the same shape: the forward
    /// and backward rules of a custom [`Function`](crate::autograd::Function) are often this.
    /// Nothing is recorded (write the rule as a `Function` to give it a gradient).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,), f64>::from_array([1.0, 2.0, 3.0]);
    /// assert_eq!(x.map(|v| v * v + 1.0).to_vec(), vec![2.0, 5.0, 10.0]);
    /// ```
    pub fn map(&self, f: impl FnMut(E) -> E) -> Tensor<S, E> {
        let data: Vec<E> = self.as_slice().iter().copied().map(f).collect();
        Tensor::from_arc(self.shape, Arc::new(data))
    }

    /// The same value, no longer recording and not requiring grad (PyTorch's `detach()`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,)>::ones().trace();
    /// let d: Tensor<(U2,)> = x.detach();
    /// assert!(!d.requires_grad());
    /// ```
    pub fn detach(&self) -> Tensor<S, E> {
        Tensor {
            id: UniqueId::new(),
            shape: self.shape,
            data: self.data.clone(),
            requires_grad: false,
            tape: NoTape,
        }
    }

    fn offset_or_panic(&self, index: S::Index) -> usize {
        self.shape.offset(index).unwrap_or_else(|| {
            panic!(
                "index {:?} out of bounds for a tensor of dims {:?}",
                index.as_ref(),
                self.dims()
            )
        })
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> std::ops::Index<S::Index> for Tensor<S, E, T> {
    type Output = E;
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U2, U3)>::arange();
    /// assert_eq!(t[[1, 2]], 5.0);
    /// ```
    fn index(&self, index: S::Index) -> &E {
        &self.data[self.offset_or_panic(index)]
    }
}
