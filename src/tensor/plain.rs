//! Tensors of values that are not differentiated: index tensors ([`Indices`], PyTorch's
//! `int64` tensors: token ids, class targets, gather indices) and boolean masks ([`Mask`]).
//!
//! # Design note: one generic type, not `Tensor<S, i64>`
//! [`Tensor`] is generic over a floating [`Element`](crate::tensor::Element) with a tape: every
//! op, kernel and backward rule assumes float arithmetic. Integer and boolean tensors take no
//! gradient and no arithmetic but comparison, combination and indexing, so they are one small
//! type of their own, [`Plain<S, V>`], with typed shapes like a tensor's (runtime dims
//! included) and the two element types PyTorch's indexing ops use: `i64` and `bool`. Ops that
//! take ids, indices or masks take `&Indices<S>` / `&Mask<S>`; ops that produce them (`argmax`,
//! comparisons) return them.

use super::{expected_dims, length_error, ArrayFor, Element, Tensor};
use crate::autograd::{NoTape, Tape, TapeMode};
use crate::error::{Error, Result};
use crate::shape::{ConstShape, Shape};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A tensor of plain values (`i64` or `bool`) with a typed shape: no gradient, no tape. See
/// [`Indices`] and [`Mask`].
///
/// ```
/// use stensor::prelude::*;
/// let ids = Indices::<(U2, U3)>::from_array([[1, 5, 0], [2, 2, 9]]);
/// assert_eq!(ids.dims(), [2, 3]);
/// assert_eq!(ids.as_slice()[4], 2);
/// ```
///
/// The third parameter marks a traced input ([`trace`](Plain::trace)): a network whose input
/// is ids (an [`Embedding`](crate::nn::Embedding) first) records its graph for `backward`
/// when its ids are traced, as a float input does when it is.
pub struct Plain<S: Shape, V, T = NoTape> {
    shape: S,
    data: Arc<Vec<V>>,
    /// A traced input starts its graph with no node of its own: only the mark is kept.
    tape: PhantomData<fn() -> T>,
}

/// Shares the values (as a tensor's clone does).
///
/// ```
/// use stensor::prelude::*;
/// let a = Indices::<(U2,)>::from_array([1, 2]);
/// assert_eq!(a.clone(), a);
/// ```
impl<S: Shape, V, T> Clone for Plain<S, V, T> {
    fn clone(&self) -> Self {
        Plain {
            shape: self.shape,
            data: self.data.clone(),
            tape: PhantomData,
        }
    }
}

/// Equal shapes and values (whether traced or not).
///
/// ```
/// use stensor::prelude::*;
/// assert_eq!(Indices::<(U2,)>::from_array([1, 2]), Indices::<(U2,)>::from_vec(vec![1, 2]).unwrap());
/// ```
impl<S: Shape, V: PartialEq, T> PartialEq for Plain<S, V, T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}

/// Integer indices with a typed shape (PyTorch's `int64` tensors): token ids for
/// [`Embedding`](crate::nn::Embedding), class targets, gather indices, the result of `argmax`.
///
/// ```
/// use stensor::prelude::*;
/// // a batch of token sequences whose batch size and length are decided at run time
/// let ids = Indices::<(usize, usize)>::from_vec_shaped((2, 4), vec![3, 1, 4, 1, 5, 9, 2, 6]).unwrap();
/// assert_eq!(ids.to_string(), "tensor([[3, 1, 4, 1],\n        [5, 9, 2, 6]])");
/// ```
pub type Indices<S, T = NoTape> = Plain<S, i64, T>;

/// A boolean mask with a typed shape (PyTorch's `bool` tensors): from comparisons, combined
/// with `&`, `|`, `^` and `!`, taken by `masked_fill` and `where_`.
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<(U4,)>::from_array([-1.0, 0.5, 2.0, 3.0]);
/// let m = x.gt_scalar(0.0) & x.lt_scalar(2.5);
/// assert_eq!(m.to_vec(), vec![false, true, true, false]);
/// assert_eq!((!&m).to_string(), "tensor([ True, False, False,  True])");
/// ```
pub type Mask<S, T = NoTape> = Plain<S, bool, T>;

impl<S: ConstShape, V: Copy> Plain<S, V> {
    /// From a row-major `Vec` of exactly `NUMEL` values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert!(Indices::<(U2,)>::from_vec(vec![1, 2]).is_ok());
    /// assert!(Mask::<(U2,)>::from_vec(vec![true]).is_err());
    /// ```
    pub fn from_vec(data: Vec<V>) -> Result<Self> {
        Self::from_vec_shaped(S::default(), data)
    }

    /// From a nested array whose dimensions are the shape's (checked at compile time).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let m = Mask::<(U1, U2)>::from_array([[true, false]]);
    /// assert_eq!(m.to_vec(), vec![true, false]);
    /// ```
    pub fn from_array<A: ArrayFor<S, V>>(array: A) -> Self {
        Self::from_parts(S::default(), array.flat().to_vec())
    }

    /// Every value `v`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Indices::<(U3,)>::full(7).to_vec(), vec![7, 7, 7]);
    /// ```
    pub fn full(v: V) -> Self {
        Self::full_shaped(S::default(), v)
    }
}

impl<S: Shape, V: Copy> Plain<S, V> {
    pub(crate) fn from_parts(shape: S, data: Vec<V>) -> Self {
        debug_assert_eq!(shape.numel(), data.len());
        Plain {
            shape,
            data: Arc::new(data),
            tape: PhantomData,
        }
    }

    /// Marks these values as the input of a traced computation: a layer that takes them (an
    /// [`Embedding`](crate::nn::Embedding)) returns a traced tensor, whose `backward` reaches
    /// the layer's parameters. The element type `E` is the network's, usually inferred.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Embedding, Forward};
    /// let emb = Embedding::<U10, U4>::new(&mut Rng::seed(0));
    /// let ids = Indices::<(U3,)>::from_array([1, 1, 7]);
    /// let g = emb.forward(ids.trace()).sum().backward();
    /// // rows 1 (twice) and 7 were looked up
    /// assert_eq!(g.get(&emb.weight).unwrap().to_vec()[4..8], [2.0; 4]);
    /// ```
    pub fn trace<E: Element>(self) -> Plain<S, V, Tape<E>> {
        Plain {
            shape: self.shape,
            data: self.data,
            tape: PhantomData,
        }
    }

    /// From a shape value (runtime dims included) and a row-major `Vec` of its number of
    /// values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ids = Indices::<(usize, U2)>::from_vec_shaped((3, U2::new()), vec![0; 6]).unwrap();
    /// assert_eq!(ids.dims(), [3, 2]);
    /// let err = Indices::<(usize, U2)>::from_vec_shaped((3, U2::new()), vec![0; 5]).unwrap_err();
    /// assert_eq!(err.to_string(), "data of length 5 does not fit a tensor of shape [3, 2] (6 elements)");
    /// ```
    pub fn from_vec_shaped(shape: S, data: Vec<V>) -> Result<Self> {
        if shape.dims().checked_numel() != Some(data.len()) {
            return Err(length_error(&shape, data.len()));
        }
        Ok(Self::from_parts(shape, data))
    }

    /// From run-time dimensions (e.g. read from a file), checked against the shape type, and
    /// a row-major `Vec`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert!(Indices::<(usize, U2)>::from_dims_vec(&[2, 2], vec![0; 4]).is_ok());
    /// assert!(Indices::<(usize, U2)>::from_dims_vec(&[2, 3], vec![0; 6]).is_err());
    /// ```
    pub fn from_dims_vec(dims: &[usize], data: Vec<V>) -> Result<Self> {
        let shape = S::from_dims(dims).ok_or_else(|| Error::Dims {
            expected: expected_dims::<S>(),
            found: dims.to_vec(),
        })?;
        Self::from_vec_shaped(shape, data)
    }

    /// Every value `v`, of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let m = Mask::<(usize,)>::full_shaped((2,), true);
    /// assert_eq!(m.to_vec(), vec![true, true]);
    /// ```
    pub fn full_shaped(shape: S, v: V) -> Self {
        Self::from_parts(shape, vec![v; shape.numel()])
    }

    /// Value `[i, j, ..]` is `f([i, j, ..])` (the index as a slice), of shape `shape`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let causal = Mask::<(U3, U3)>::from_fn_shaped(Default::default(), |ix| ix[1] > ix[0]);
    /// assert_eq!(causal.to_vec(), vec![false, true, true, false, false, true, false, false, false]);
    /// ```
    pub fn from_fn_shaped(shape: S, mut f: impl FnMut(&[usize]) -> V) -> Self {
        let dims = shape.dims();
        let mut ix = vec![0; dims.len()];
        let mut data = Vec::with_capacity(shape.numel());
        for _ in 0..shape.numel() {
            data.push(f(&ix));
            for k in (0..ix.len()).rev() {
                ix[k] += 1;
                if ix[k] < dims[k] {
                    break;
                }
                ix[k] = 0;
            }
        }
        Self::from_parts(shape, data)
    }

    /// `f` of each value, same shape.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ids = Indices::<(U3,)>::from_array([0, 3, 0]);
    /// assert_eq!(ids.map(|i| i != 0).to_vec(), vec![false, true, false]);
    /// ```
    pub fn map<W: Copy>(&self, f: impl FnMut(V) -> W) -> Plain<S, W> {
        Plain::from_parts(self.shape, self.data.iter().copied().map(f).collect())
    }

    /// `f` of the values of `self` and `rhs` pairwise; the shapes must agree.
    fn zip<W: Copy, X: Copy>(
        &self,
        rhs: &Plain<S, W>,
        op: &str,
        f: impl Fn(V, W) -> X,
    ) -> Plain<S, X> {
        assert_eq!(
            self.dims(),
            rhs.dims(),
            "{op}: runtime dimensions differ ({:?} vs {:?})",
            self.dims(),
            rhs.dims()
        );
        let data = self.data.iter().zip(rhs.data.iter());
        Plain::from_parts(self.shape, data.map(|(&a, &b)| f(a, b)).collect())
    }
}

/// What every plain tensor, traced or not, answers.
impl<S: Shape, V: Copy, T> Plain<S, V, T> {
    /// The shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Indices::<(usize, U2)>::full_shaped((4, U2::new()), 0).shape(), (4, U2::new()));
    /// ```
    pub fn shape(&self) -> S {
        self.shape
    }

    /// The dimensions.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Mask::<(U2, U5)>::full(false).dims(), [2, 5]);
    /// ```
    pub fn dims(&self) -> crate::shape::Dims {
        self.shape.dims()
    }

    /// The number of values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Mask::<(U2, U5)>::full(false).numel(), 10);
    /// ```
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The values in row-major order.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Indices::<(U2,)>::from_array([4, 2]).as_slice(), &[4, 2]);
    /// ```
    pub fn as_slice(&self) -> &[V] {
        &self.data
    }

    /// The values in row-major order, copied.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Indices::<(U2,)>::from_array([4, 2]).to_vec(), vec![4, 2]);
    /// ```
    pub fn to_vec(&self) -> Vec<V> {
        self.data.to_vec()
    }
}

/// The indices as a slice, so that a loss's class targets can be an index tensor or a slice.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::CrossEntropyLoss;
/// let targets = Indices::<(U2,)>::from_array([2, 0]);
/// let l = CrossEntropyLoss::default().forward(Tensor::<(U2, U3), f64>::zeros(), &targets);
/// assert!((l.item() - 3f64.ln()).abs() < 1e-15);
/// ```
impl<S: Shape, T> AsRef<[i64]> for Indices<S, T> {
    fn as_ref(&self) -> &[i64] {
        &self.data
    }
}

impl<S: Shape, T> Indices<S, T> {
    /// `Err` naming `op`, the first index outside `0..size` and `size`; `Ok` when all are in.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ids = Indices::<(U3,)>::from_array([0, 4, 2]);
    /// assert!(ids.check_range("embedding", 5).is_ok());
    /// let err = ids.check_range("embedding", 4).unwrap_err();
    /// assert_eq!(err.to_string(), "embedding: index 4 is out of range for size 4");
    /// ```
    pub fn check_range(&self, op: &str, size: usize) -> Result<()> {
        match self
            .data
            .iter()
            .find(|&&i| i < 0 || i as u64 >= size as u64)
        {
            Some(&index) => Err(Error::Index {
                op: op.to_string(),
                index,
                size,
            }),
            None => Ok(()),
        }
    }
}

impl<S: Shape> Indices<S> {
    /// Where the indices equal `v` (e.g. the padding positions of a batch of token ids).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ids = Indices::<(U4,)>::from_array([5, 2, 0, 0]);
    /// assert_eq!(ids.eq_scalar(0).to_vec(), vec![false, false, true, true]);
    /// ```
    pub fn eq_scalar(&self, v: i64) -> Mask<S> {
        self.map(|x| x == v)
    }

    /// The indices as floats of element type `E` (e.g. to weigh by a class id).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t: Tensor<(U2,), f64> = Indices::<(U2,)>::from_array([3, -1]).to_float();
    /// assert_eq!(t.to_vec(), vec![3.0, -1.0]);
    /// ```
    pub fn to_float<E: Element>(&self) -> Tensor<S, E> {
        Tensor::from_parts(
            self.shape,
            self.data.iter().map(|&v| E::from_f64(v as f64)).collect(),
        )
    }
}

impl<D: crate::shape::Dim> Mask<(D, D)> {
    /// The causal mask of a sequence of `len`: `true` above the diagonal, at the positions a
    /// query must not see (a key after it), as PyTorch's boolean `attn_mask` and the `-inf`
    /// entries of `nn.Transformer.generate_square_subsequent_mask`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let m = Mask::causal(3usize);
    /// assert_eq!(m.to_string(), "tensor([[False,  True,  True],\n        [False, False,  True],\n        [False, False, False]])");
    /// let scores = Tensor::<(usize, usize)>::zeros_shaped((3, 3)).masked_fill(&m, f64::NEG_INFINITY);
    /// assert_eq!(scores.softmax::<1>().to_vec()[3..6], [0.5, 0.5, 0.0]);
    /// ```
    pub fn causal(len: D) -> Self {
        Self::from_fn_shaped((len, len), |ix| ix[1] > ix[0])
    }
}

impl<S: Shape> Mask<S> {
    /// The number of `true` values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Mask::<(U3,)>::from_array([true, false, true]).count(), 2);
    /// ```
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&b| b).count()
    }

    /// The mask as `1.0` where `true` and `0.0` elsewhere.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t: Tensor<(U2,)> = Mask::<(U2,)>::from_array([true, false]).to_float();
    /// assert_eq!(t.to_vec(), vec![1.0, 0.0]);
    /// ```
    pub fn to_float<E: Element>(&self) -> Tensor<S, E> {
        let data = self
            .data
            .iter()
            .map(|&b| if b { E::one() } else { E::zero() });
        Tensor::from_parts(self.shape, data.collect())
    }
}

macro_rules! mask_binop {
    ($trait:ident, $method:ident, $op:tt, $name:literal) => {
        impl<S: Shape> std::ops::$trait<&Mask<S>> for &Mask<S> {
            type Output = Mask<S>;
            fn $method(self, rhs: &Mask<S>) -> Mask<S> {
                self.zip(rhs, $name, |a, b| a $op b)
            }
        }
        impl<S: Shape> std::ops::$trait<Mask<S>> for Mask<S> {
            type Output = Mask<S>;
            fn $method(self, rhs: Mask<S>) -> Mask<S> {
                self.zip(&rhs, $name, |a, b| a $op b)
            }
        }
    };
}
mask_binop!(BitAnd, bitand, &, "&");
mask_binop!(BitOr, bitor, |, "|");
mask_binop!(BitXor, bitxor, ^, "^");

impl<S: Shape> std::ops::Not for &Mask<S> {
    type Output = Mask<S>;
    fn not(self) -> Mask<S> {
        self.map(|b| !b)
    }
}

impl<S: Shape> std::ops::Not for Mask<S> {
    type Output = Mask<S>;
    fn not(self) -> Mask<S> {
        self.map(|b| !b)
    }
}

/// A value as PyTorch prints it inside a tensor (`i64`, `bool`).
///
/// ```
/// use stensor::tensor::PrintValue;
/// assert_eq!((true.print(), 3i64.print()), ("True".to_string(), "3".to_string()));
/// ```
pub trait PrintValue {
    /// `True`/`False`, or the integer.
    fn print(&self) -> String;
}
impl PrintValue for i64 {
    fn print(&self) -> String {
        self.to_string()
    }
}
impl PrintValue for bool {
    fn print(&self) -> String {
        if *self { "True" } else { "False" }.to_string()
    }
}

/// The nested rows of `cells` (each padded to the widest), as PyTorch prints them.
fn nest(cells: &[String], dims: &[usize], depth: usize) -> String {
    match dims.split_first() {
        None => cells.first().cloned().unwrap_or_default(),
        Some((&n, rest)) => {
            let per = rest.iter().product::<usize>();
            let parts: Vec<String> = (0..n)
                .map(|i| nest(&cells[i * per..(i + 1) * per], rest, depth + 1))
                .collect();
            let sep = if rest.is_empty() {
                ", ".to_string()
            } else {
                format!(",{}{}", "\n".repeat(rest.len()), " ".repeat(depth + 8))
            };
            format!("[{}]", parts.join(&sep))
        }
    }
}

/// Prints as PyTorch: `tensor([[3, 1], [4, 1]])` for indices, `tensor([ True, False])` for a
/// mask.
///
/// ```
/// use stensor::prelude::*;
/// assert_eq!(Indices::<(U2,)>::from_array([10, -2]).to_string(), "tensor([10, -2])");
/// ```
impl<S: Shape, V: Copy + PrintValue, T> fmt::Display for Plain<S, V, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<String> = self.data.iter().map(|v| v.print()).collect();
        let width = cells.iter().map(String::len).max().unwrap_or(0);
        let cells: Vec<String> = cells.iter().map(|c| format!("{c:>width$}")).collect();
        write!(f, "tensor({})", nest(&cells, &self.dims(), 0))
    }
}

/// The static type, then as `Display`.
///
/// ```
/// use stensor::prelude::*;
/// let m = Mask::<(usize,)>::full_shaped((1,), false);
/// assert_eq!(format!("{m:?}"), "Mask<(usize=1,)> tensor([False])");
/// ```
impl<S: Shape, V: Copy + PrintValue + TypeName, T> fmt::Debug for Plain<S, V, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}<{}> {self}",
            V::TYPE,
            crate::shape::ShapeDisplay(&self.shape)
        )
    }
}

/// The alias a value type's plain tensor is known by, for `Debug`.
///
/// ```
/// use stensor::tensor::TypeName;
/// assert_eq!(<bool as TypeName>::TYPE, "Mask");
/// ```
pub trait TypeName {
    /// `Indices` or `Mask`.
    const TYPE: &'static str;
}
impl TypeName for i64 {
    const TYPE: &'static str = "Indices";
}
impl TypeName for bool {
    const TYPE: &'static str = "Mask";
}

/// Comparisons into masks.
impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    fn compare(
        &self,
        rhs: &Tensor<S, E, impl TapeMode<E>>,
        op: &str,
        f: impl Fn(E, E) -> bool,
    ) -> Mask<S> {
        crate::ops::assert_same_dims(&self.shape(), &rhs.shape(), op);
        let data = self.as_slice().iter().zip(rhs.as_slice());
        Plain::from_parts(self.shape(), data.map(|(&a, &b)| f(a, b)).collect())
    }

    fn compare_scalar(&self, v: f64, f: impl Fn(E, E) -> bool) -> Mask<S> {
        let v = E::from_f64(v);
        Plain::from_parts(
            self.shape(),
            self.as_slice().iter().map(|&a| f(a, v)).collect(),
        )
    }
}

macro_rules! comparisons {
    ($($name:ident, $scalar:ident, $op:tt, $what:literal;)*) => {
        impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
            $(
                #[doc = concat!("Where `self ", stringify!($op), " rhs`, elementwise (PyTorch's `", stringify!($name), "`); NaN compares false except by `ne`.")]
                ///
                /// ```
                /// use stensor::prelude::*;
                /// let a = Tensor::<(U3,)>::from_array([1.0, 2.0, 3.0]);
                /// let b = Tensor::<(U3,)>::from_array([2.0, 2.0, 2.0]);
                #[doc = concat!("let m = a.", stringify!($name), "(&b);")]
                #[doc = concat!("assert_eq!(m.to_vec(), vec![", $what, "]);")]
                /// ```
                ///
                /// # Panics
                /// If runtime (`usize`) dimensions differ; the message names both shapes.
                pub fn $name(&self, rhs: &Tensor<S, E, impl TapeMode<E>>) -> Mask<S> {
                    self.compare(rhs, stringify!($name), |a, b| a $op b)
                }

                #[doc = concat!("Where `self ", stringify!($op), " v`, elementwise.")]
                ///
                /// ```
                /// use stensor::prelude::*;
                /// let a = Tensor::<(U3,)>::from_array([1.0, 2.0, 3.0]);
                #[doc = concat!("assert_eq!(a.", stringify!($scalar), "(2.0).to_vec(), vec![", $what, "]);")]
                /// ```
                pub fn $scalar(&self, v: f64) -> Mask<S> {
                    self.compare_scalar(v, |a, b| a $op b)
                }
            )*
        }
    };
}
comparisons! {
    gt, gt_scalar, >, "false, false, true";
    ge, ge_scalar, >=, "false, true, true";
    lt, lt_scalar, <, "true, false, false";
    le, le_scalar, <=, "true, true, false";
    eq, eq_scalar, ==, "false, true, false";
    ne, ne_scalar, !=, "true, false, true";
}
