//! Shape relations indexed by axes: reduce one axis, swap two, permute all, concatenate along
//! one, broadcast over leading dims, flatten a range, reshape.
//!
//! The impls live in `axes_gen.rs`, written by `scripts/gen_axes.py` (one impl per rank and
//! axis choice: a table is cheaper to compile than type-level recursion, and its errors are
//! plain "not implemented" errors that carry the rule's message).

use super::rules::{BroadcastDims, ChunksDivide, RanksEqual};
use super::{ConstDim, Dim, Shape};
use core::ops::{Div, Mul, Rem, Sub};
use typenum::{Bit, Mod, Prod, Quot, Sub1, UInt, B1, U2};
use typenum::{Eq, IsEqual, Unsigned, U0, U1};

use super::rules::SameNumel;

/// The shape has an axis `I` (`I < RANK`).
///
/// ```
/// use stensor::prelude::*;
/// fn last_axis_len<S: HasAxis<1>>(s: S) -> usize { s.dims()[1] }
/// assert_eq!(last_axis_len((U2::new(), U7::new())), 7);
/// ```
#[diagnostic::on_unimplemented(
    message = "axis {I} is out of range for a tensor of shape `{Self}`",
    label = "no such axis",
    note = "axes count from 0 and must be smaller than the rank"
)]
pub trait HasAxis<const I: usize>: Shape {}

/// The shape with axis `I` removed (the result of a reduction along `I`).
///
/// ```
/// use stensor::prelude::*;
/// let s: (U2, U4) = <(U2, U3, U4) as RemoveAxis<1>>::remove(&Default::default());
/// assert_eq!(s, (U2::new(), U4::new()));
/// ```
#[diagnostic::on_unimplemented(
    message = "axis {I} is out of range for a tensor of shape `{Self}`",
    label = "no such axis",
    note = "axes count from 0 and must be smaller than the rank"
)]
pub trait RemoveAxis<const I: usize>: HasAxis<I> {
    /// The reduced shape.
    type Output: Shape;
    /// The reduced shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(<(usize, U3) as RemoveAxis<1>>::remove(&(5, U3::new())), (5,));
    /// ```
    fn remove(&self) -> Self::Output;
}

/// The shape with axes `I` and `J` swapped.
///
/// ```
/// use stensor::prelude::*;
/// type T = <(U2, U3, U4) as SwapAxes<0, 2>>::Output;
/// assert_eq!(T::DIMS, &[4, 3, 2]);
/// ```
#[diagnostic::on_unimplemented(
    message = "cannot swap axes {I} and {J} of a tensor of shape `{Self}`",
    label = "axis out of range",
    note = "axes count from 0 and must be smaller than the rank"
)]
pub trait SwapAxes<const I: usize, const J: usize>: Shape {
    /// The transposed shape.
    type Output: Shape;
    /// The transposed shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(<(usize, U3) as SwapAxes<0, 1>>::swap(&(5, U3::new())), (U3::new(), 5));
    /// ```
    fn swap(&self) -> Self::Output;
}

/// A permutation of the axes of a rank-2 tensor, as in `permute::<Axes2<1, 0>>()`.
///
/// ```
/// use stensor::prelude::*;
/// let t = Tensor::<(U2, U3)>::arange().permute::<Axes2<1, 0>>();
/// assert_eq!(t.dims(), [3, 2]);
/// ```
pub struct Axes2<const A: usize, const B: usize>;
/// A permutation of the axes of a rank-3 tensor, as in `permute::<Axes3<0, 2, 1>>()`.
///
/// ```
/// use stensor::prelude::*;
/// let t = Tensor::<(U2, U3, U4)>::zeros().permute::<Axes3<0, 2, 1>>();
/// assert_eq!(t.dims(), [2, 4, 3]);
/// ```
pub struct Axes3<const A: usize, const B: usize, const C: usize>;
/// A permutation of the axes of a rank-4 tensor, as in `permute::<Axes4<0, 2, 3, 1>>()`.
///
/// ```
/// use stensor::prelude::*;
/// // NCHW -> NHWC
/// let t = Tensor::<(U1, U3, U4, U5)>::zeros().permute::<Axes4<0, 2, 3, 1>>();
/// assert_eq!(t.dims(), [1, 4, 5, 3]);
/// ```
pub struct Axes4<const A: usize, const B: usize, const C: usize, const D: usize>;
/// A permutation of the axes of a rank-5 tensor.
///
/// ```
/// use stensor::prelude::*;
/// let t = Tensor::<(U1, U2, U3, U4, U5)>::zeros().permute::<Axes5<4, 3, 2, 1, 0>>();
/// assert_eq!(t.dims(), [5, 4, 3, 2, 1]);
/// ```
pub struct Axes5<const A: usize, const B: usize, const C: usize, const D: usize, const E: usize>;

/// The shape with its axes permuted by `P` (one of [`Axes2`] .. [`Axes5`]); output axis `k`
/// is input axis `P[k]`, as in PyTorch's `permute`.
///
/// ```
/// use stensor::prelude::*;
/// type T = <(U2, U3, U4) as PermuteTo<Axes3<2, 0, 1>>>::Output;
/// assert_eq!(T::DIMS, &[4, 2, 3]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{P}` is not a permutation of the axes of a tensor of shape `{Self}`",
    label = "not a permutation of this tensor's axes",
    note = "name every axis exactly once, e.g. `Axes3<0, 2, 1>` for a rank-3 tensor"
)]
pub trait PermuteTo<P>: Shape {
    /// The permuted shape.
    type Output: Shape;
    /// `AXES[k]` is the input axis that becomes output axis `k`.
    const AXES: &'static [usize];
    /// The permuted shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let s = <(usize, U3, U4) as PermuteTo<Axes3<2, 0, 1>>>::permute(&(5, U3::new(), U4::new()));
    /// assert_eq!(s, (U4::new(), 5, U3::new()));
    /// ```
    fn permute(&self) -> Self::Output;
}

/// `Small` broadcasts over the leading dimensions of `Self`: its dims equal the trailing dims
/// of `Self` (a bias `(C,)` over `(N, C)`, a `(H, W)` mask over `(N, C, H, W)`).
///
/// ```
/// use stensor::prelude::*;
/// fn outer_copies<B: BroadcastSuffix<S>, S: Shape>(big: B, small: S) -> usize {
///     big.numel() / small.numel()
/// }
/// assert_eq!(outer_copies((U4::new(), U3::new()), (U3::new(),)), 4);
/// ```
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Small}` cannot broadcast over a tensor of shape `{Self}`",
    label = "not a trailing part of this shape",
    note = "broadcasting repeats the smaller tensor over leading dimensions: its dimensions must equal the trailing dimensions of the larger one"
)]
pub trait BroadcastSuffix<Small: Shape>: Shape {}

/// Concatenation of `Self` and `Rhs` along axis `I`: every other dimension equal, the axis
/// lengths added.
///
/// ```
/// use stensor::prelude::*;
/// type T = <(U2, U3) as ConcatAlong<(U2, U5), 1>>::Output;
/// assert_eq!(T::DIMS, &[2, 8]);
/// ```
#[diagnostic::on_unimplemented(
    message = "tensors of shapes `{Self}` and `{Rhs}` cannot be concatenated along axis {I}",
    label = "shapes differ outside the concatenation axis",
    note = "every dimension except the concatenation axis must be equal, and the axis must exist"
)]
pub trait ConcatAlong<Rhs: Shape, const I: usize>: Shape {
    /// The concatenated shape.
    type Output: Shape;
    /// The concatenated shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let s = <(usize, U3) as ConcatAlong<(usize, U3), 0>>::concat(&(2, U3::new()), &(5, U3::new()));
    /// assert_eq!(s, (7, U3::new()));
    /// ```
    fn concat(&self, rhs: &Rhs) -> Self::Output;
}

/// The shape with dims `START..=END` merged into their product, like PyTorch's
/// `flatten(start_dim, end_dim)`; negative indices count from the end (`-1` is the last).
///
/// ```
/// use stensor::prelude::*;
/// type T = <(U8, U16, U5, U5) as FlattenDims<1, -1>>::Output;
/// assert_eq!(T::DIMS, &[8, 400]);
/// type V = <(usize, U3, U4) as FlattenDims<1, 2>>::Output;
/// assert_eq!(V::from_dims(&[9, 12]).map(|s| s.numel()), Some(108));
/// ```
#[diagnostic::on_unimplemented(
    message = "cannot flatten dims {START}..={END} of a tensor of shape `{Self}`",
    label = "dims out of range or start after end",
    note = "start and end must name axes of this tensor, start <= end (negative counts from the end), and a runtime dimension can only be flattened with other runtime dimensions"
)]
pub trait FlattenDims<const START: isize, const END: isize>: Shape {
    /// The flattened shape.
    type Output: Shape;
    /// The flattened shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let s = <(usize, U3, U4) as FlattenDims<1, -1>>::flatten(&(9, U3::new(), U4::new()));
    /// assert_eq!(s.dims(), [9, 12]);
    /// ```
    fn flatten(&self) -> Self::Output;
}

/// The shape with dim `DIM` split into the dims of the tuple `Sizes` (PyTorch's
/// `unflatten(dim, sizes)`); negative `DIM` counts from the end. The sizes must multiply to the
/// dim, checked at compile time.
///
/// ```
/// use stensor::prelude::*;
/// type T = <(U2, U12) as UnflattenDim<1, (U3, U4)>>::Output;
/// assert_eq!(T::DIMS, &[2, 3, 4]);
/// ```
#[diagnostic::on_unimplemented(
    message = "cannot unflatten dim {DIM} of a tensor of shape `{Self}` into `{Sizes}`",
    label = "no such dim, or the result would exceed rank 5",
    note = "`Sizes` is a tuple of static dims whose product is the dim"
)]
pub trait UnflattenDim<const DIM: isize, Sizes>: Shape {
    /// The unflattened shape.
    type Output: Shape;
    /// The unflattened shape value.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let s = <(usize, U12) as UnflattenDim<1, (U3, U4)>>::unflatten(&(2, U12::new()));
    /// assert_eq!(s.dims(), [2, 3, 4]);
    /// ```
    fn unflatten(&self) -> Self::Output;
}

/// The static part of a dimension as a `typenum` number: itself for a static dimension, `U1`
/// (and one runtime dimension counted) for `usize`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::DimNum;
/// use stensor::typenum::Unsigned;
/// assert_eq!(<<U7 as DimNum>::Num as Unsigned>::USIZE, 7);
/// assert_eq!(<<usize as DimNum>::Dyn as Unsigned>::USIZE, 1);
/// ```
pub trait DimNum: Dim {
    /// The static size, `U1` for a runtime dimension.
    type Num: Unsigned;
    /// `U1` for a runtime dimension, `U0` for a static one.
    type Dyn: Unsigned;
}
impl DimNum for usize {
    type Num = U1;
    type Dyn = U1;
}
impl<D: super::ConstDim> DimNum for D {
    type Num = D;
    type Dyn = U0;
}

/// The product of a shape's static dims, and its count of runtime dims, as `typenum` numbers.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::StaticNumel;
/// use stensor::typenum::Unsigned;
/// assert_eq!(<<(usize, U4, U7) as StaticNumel>::Numel as Unsigned>::USIZE, 28);
/// assert_eq!(<<(usize, U4, U7) as StaticNumel>::DynCount as Unsigned>::USIZE, 1);
/// ```
pub trait StaticNumel: Shape {
    /// Product of the static dimensions.
    type Numel: Unsigned;
    /// Number of runtime (`usize`) dimensions.
    type DynCount: Unsigned;
}

/// `Self` can be reshaped to `S2`: the same number of elements, decided at compile time (and
/// the same number of runtime dimensions, whose size carries over).
///
/// ```
/// use stensor::prelude::*;
/// fn can<A: ReshapeTo<B>, B: Shape>() {}
/// can::<(U2, U6), (U3, U4)>();
/// can::<(usize, U4, U7), (usize, U28)>();
/// ```
#[diagnostic::on_unimplemented(
    message = "a reshape from `{Self}` to `{S2}` must keep the number of elements",
    label = "different number of elements"
)]
pub trait ReshapeTo<S2: Shape>: Shape {}

impl<S1, S2> ReshapeTo<S2> for S1
where
    S1: StaticNumel,
    S2: StaticNumel,
    S1::Numel: IsEqual<S2::Numel>,
    Eq<S1::Numel, S2::Numel>: SameNumel,
    S1::DynCount: IsEqual<S2::DynCount>,
    Eq<S1::DynCount, S2::DynCount>: SameNumel,
{
}

/// `Self` with the dimension `D` appended: the shape of an [`Embedding`](crate::nn::Embedding)'s
/// output, one vector of `D` values per id.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::AppendDim;
/// assert_eq!((4usize, U3::new()).append(U8::new()), (4usize, U3::new(), U8::new()));
/// ```
#[diagnostic::on_unimplemented(
    message = "a dimension cannot be appended to a shape of `{Self}`",
    label = "already at the largest rank",
    note = "a tensor has at most 5 dimensions, so ids looked up into vectors have at most 4"
)]
pub trait AppendDim<D: Dim>: Shape {
    /// The shape with `D` last.
    type Output: Shape;
    /// The shape value with `d` last.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::AppendDim;
    /// assert_eq!(().append(U2::new()), (U2::new(),));
    /// ```
    fn append(&self, d: D) -> Self::Output;
}

macro_rules! append_dim {
    ($($A:ident),*) => {
        impl<$($A: Dim,)* D: Dim> AppendDim<D> for ($($A,)*) {
            type Output = ($($A,)* D,);
            #[allow(non_snake_case)]
            fn append(&self, d: D) -> Self::Output {
                let ($($A,)*) = *self;
                ($($A,)* d,)
            }
        }
    };
}
append_dim!();
append_dim!(A);
append_dim!(A, B);
append_dim!(A, B, C);
append_dim!(A, B, C, F);

/// The dimension type of axis `I`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::AxisDim;
/// fn axis_size<S: AxisDim<1>>() -> Option<usize> where S::Axis: Default { None }
/// assert_eq!(<<(usize, U7) as AxisDim<1>>::Axis as ConstDim>::SIZE, 7);
/// # let _ = axis_size::<(U1, U2)>;
/// ```
#[diagnostic::on_unimplemented(
    message = "axis {I} is out of range for a tensor of shape `{Self}`",
    label = "this tensor has fewer axes",
    note = "axes count from 0; the last axis of a rank-r tensor is r - 1"
)]
pub trait AxisDim<const I: usize>: Shape {
    /// The dimension of axis `I`.
    type Axis: Dim;
}

/// `Self` with axis `I` replaced by a dimension `D` (the result of `narrow`, `index_select`,
/// `cat`, `topk` along `I`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ReplaceAxis;
/// assert_eq!(ReplaceAxis::<1, _>::replace(&(U2::new(), U5::new()), 3usize), (U2::new(), 3usize));
/// ```
#[diagnostic::on_unimplemented(
    message = "axis {I} is out of range for a tensor of shape `{Self}`",
    label = "this tensor has fewer axes",
    note = "axes count from 0; the last axis of a rank-r tensor is r - 1"
)]
pub trait ReplaceAxis<const I: usize, D: Dim>: Shape {
    /// The shape with `D` at axis `I`.
    type Output: Shape;
    /// The shape value with `d` at axis `I`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::ReplaceAxis;
    /// assert_eq!(ReplaceAxis::<0, _>::replace(&(4usize,), U2::new()), (U2::new(),));
    /// ```
    fn replace(&self, d: D) -> Self::Output;
}

/// `Self` with a new axis `D` at position `I` (0 to the rank: the result of `unsqueeze` and
/// `stack`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::InsertAxis;
/// assert_eq!(InsertAxis::<1, _>::insert(&(U2::new(), U5::new()), U1::new()), (U2::new(), U1::new(), U5::new()));
/// ```
#[diagnostic::on_unimplemented(
    message = "a new axis {I} cannot be inserted into a tensor of shape `{Self}`",
    label = "the position is past the last axis, or the tensor already has 5 dims",
    note = "a new axis goes at a position from 0 to the rank, and a tensor has at most 5 dims"
)]
pub trait InsertAxis<const I: usize, D: Dim>: Shape {
    /// The shape with `D` inserted at `I`.
    type Output: Shape;
    /// The shape value with `d` inserted at `I`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::InsertAxis;
    /// assert_eq!(InsertAxis::<0, _>::insert(&(), 3usize), (3usize,));
    /// ```
    fn insert(&self, d: D) -> Self::Output;
}

/// `Self` and `Other` have the same rank (the index of `gather` and `scatter_add` has the
/// tensor's rank), compared as numbers so that the rule, not a type mismatch, is what the
/// compiler reports.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::SameRank;
/// fn same<A: SameRank<B>, B: Shape>() {}
/// same::<(U2, U3), (usize, U1)>();
/// ```
pub trait SameRank<Other: Shape>: Shape {}

impl<A: RankNum, B: RankNum> SameRank<B> for A
where
    A::Rank: IsEqual<B::Rank>,
    Eq<A::Rank, B::Rank>: RanksEqual,
{
}

/// A shape's rank as a `typenum` number.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::RankNum;
/// use stensor::typenum::Unsigned;
/// assert_eq!(<<(usize, U3, U3) as RankNum>::Rank as Unsigned>::USIZE, 3);
/// ```
pub trait RankNum: Shape {
    /// The rank.
    type Rank: Unsigned;
}

/// An axis of static size 1, the only kind `squeeze` removes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::UnitDim;
/// fn unit<D: UnitDim>() {}
/// unit::<U1>();
/// ```
#[diagnostic::on_unimplemented(
    message = "only an axis of size 1 can be squeezed, not one of `{Self}`",
    label = "this axis is not a static 1",
    note = "squeeze removes an axis whose size is the static `U1` (a runtime axis could hold any size)"
)]
pub trait UnitDim: Dim {}
impl UnitDim for U1 {}

/// Axis dims that `K` chunks divide: a static dim by compile-time division (its rule
/// [`ChunksDivide`](super::rules::ChunksDivide)), a runtime one at run time.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ChunkDim;
/// assert_eq!(<U12 as ChunkDim<U4>>::part(12), U3::new());
/// assert_eq!(<usize as ChunkDim<U4>>::part(12), 3);
/// ```
pub trait ChunkDim<K: ConstDim>: Dim {
    /// The dim of one chunk.
    type Output: Dim;
    /// The dim of one chunk of an axis of `n`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::ChunkDim;
    /// assert_eq!(<usize as ChunkDim<U2>>::part(10), 5);
    /// ```
    fn part(n: usize) -> Self::Output;
}

impl<K: ConstDim> ChunkDim<K> for usize {
    type Output = usize;
    fn part(n: usize) -> usize {
        n / K::SIZE
    }
}

impl<U: Unsigned, B: Bit, K: ConstDim> ChunkDim<K> for UInt<U, B>
where
    UInt<U, B>: ConstDim + Div<K> + Rem<K>,
    Quot<UInt<U, B>, K>: ConstDim,
    Mod<UInt<U, B>, K>: IsEqual<U0>,
    Eq<Mod<UInt<U, B>, K>, U0>: ChunksDivide,
{
    type Output = Quot<UInt<U, B>, K>;
    fn part(_: usize) -> Self::Output {
        Default::default()
    }
}

/// The number of pairs `n (n - 1) / 2` among a dim's `n` rows ([`pdist`]'s output length):
/// computed at compile time for a static dim, at run time for a runtime one.
///
/// [`pdist`]: crate::Tensor::pdist
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::PairsDim;
/// assert_eq!(<U5 as PairsDim>::pairs(5), U10::new());
/// assert_eq!(<U1 as PairsDim>::pairs(1).size(), 0);
/// assert_eq!(<usize as PairsDim>::pairs(4), 6);
/// ```
pub trait PairsDim: Dim {
    /// The dim of the pairs.
    type Output: Dim;
    /// The pairs among `n` rows.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::PairsDim;
    /// assert_eq!(<usize as PairsDim>::pairs(0), 0);
    /// ```
    fn pairs(n: usize) -> Self::Output;
}

impl PairsDim for usize {
    type Output = usize;
    fn pairs(n: usize) -> usize {
        n * n.saturating_sub(1) / 2
    }
}

impl<U: Unsigned, B: Bit> PairsDim for UInt<U, B>
where
    UInt<U, B>: ConstDim + Sub<B1>,
    UInt<U, B>: Mul<Sub1<UInt<U, B>>>,
    Prod<UInt<U, B>, Sub1<UInt<U, B>>>: Div<U2>,
    Quot<Prod<UInt<U, B>, Sub1<UInt<U, B>>>, U2>: ConstDim,
{
    type Output = Quot<Prod<UInt<U, B>, Sub1<UInt<U, B>>>, U2>;
    fn pairs(_: usize) -> Self::Output {
        Default::default()
    }
}

/// One dim of a tensor that broadcasts against the dim `Big` of a larger one: equal, or a
/// static 1 (PyTorch's rule). Two static dims are checked at compile time
/// ([`BroadcastDims`](super::rules::BroadcastDims)); a runtime one at run time.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::DimBroadcast;
/// fn ok<A: DimBroadcast<B>, B: Dim>() {}
/// ok::<U1, U7>();
/// ok::<U7, U7>();
/// ok::<usize, U7>();
/// ```
pub trait DimBroadcast<Big: Dim>: Dim {}

impl<U: Unsigned, B: Bit, U2: Unsigned, B2: Bit> DimBroadcast<UInt<U2, B2>> for UInt<U, B>
where
    UInt<U, B>: ConstDim + IsEqual<UInt<U2, B2>> + IsEqual<U1>,
    UInt<U2, B2>: ConstDim,
    Eq<UInt<U, B>, UInt<U2, B2>>: core::ops::BitOr<Eq<UInt<U, B>, U1>>,
    typenum::Or<Eq<UInt<U, B>, UInt<U2, B2>>, Eq<UInt<U, B>, U1>>: BroadcastDims,
{
}
impl DimBroadcast<usize> for usize {}
impl<U: Unsigned, B: Bit> DimBroadcast<usize> for UInt<U, B> where UInt<U, B>: ConstDim {}
impl<U: Unsigned, B: Bit> DimBroadcast<UInt<U, B>> for usize where UInt<U, B>: ConstDim {}

/// `Self` broadcasts to the shape `Big` (PyTorch's broadcasting, into the larger operand's
/// shape): aligned from the last dim, each dim of `Self` equals `Big`'s or is 1, and missing
/// leading dims repeat. A mask `(N, 1, L)` over scores `(N, H, L)`, a `(L, L)` causal mask
/// over `(N, H, L, L)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::BroadcastsTo;
/// fn ok<A: BroadcastsTo<B>, B: Shape>() {}
/// ok::<(U2, U1, U4), (U2, U3, U4)>();
/// ok::<(U3, U3), (usize, U2, U3, U3)>();
/// ok::<(usize, U1), (usize, usize)>();
/// ```
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Self}` cannot broadcast to a tensor of shape `{Big}`",
    label = "not broadcastable to that shape",
    note = "aligned from the last dim, each dim must equal the other tensor's or be 1, and it cannot have more dims (PyTorch's broadcasting rule)"
)]
pub trait BroadcastsTo<Big: Shape>: Shape {}
