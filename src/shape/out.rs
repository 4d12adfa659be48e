//! Output sizes of the layers, computed at compile time, each next to PyTorch's formula.
//!
//! Every alias takes `typenum` integers and names a `typenum` integer, so a layer's output type
//! is written in terms of its input type, e.g. a `Conv2d` maps height `H` to
//! `ConvOut<H, K, S, P, D>`. Breaking a rule (a kernel larger than the padded input, a zero
//! stride ...) is a compile error whose first line is the rule in words (see
//! [`rules`](super::rules)).
//!
//! Each alias has a run-time twin (`conv_out_size` ...) that evaluates the same PyTorch
//! formula on `usize`s; the kernels use the twins, and the test suite checks the aliases
//! against the twins over a grid of sizes and the twins against a brute-force count of
//! window positions.
//!
//! The arithmetic only uses total operations (saturating subtraction, comparisons that yield a
//! bit) and asserts the bits with the rule traits, so a failure never surfaces as an error
//! inside `typenum`.

use super::rules::*;
use core::ops::{Add, Div, Mul, Sub};
use typenum::{
    Add1, Bit, Diff, GrEq, IsGreater, IsGreaterOrEqual, IsLess, Max, Maximum, Prod, Quot, Sum,
    Unsigned, B0, B1, U1, U2,
};

/// Type-level `if`: `Select<B1, A, B> = A`, `Select<B0, A, B> = B`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::Select;
/// assert_eq!(<Select<True, U3, U5> as ConstDim>::SIZE, 3);
/// ```
pub trait SelectBit<A, B> {
    /// The selected type.
    type Output;
}
impl<A, B> SelectBit<A, B> for B1 {
    type Output = A;
}
impl<A, B> SelectBit<A, B> for B0 {
    type Output = B;
}
/// `A` if `C` is `B1`, else `B`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::Select;
/// assert_eq!(<Select<False, U3, U5> as ConstDim>::SIZE, 5);
/// ```
pub type Select<C, A, B> = <C as SelectBit<A, B>>::Output;

/// Saturating subtraction `max(A - B, 0)` as a total type operation.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::SatSub;
/// use stensor::typenum::Unsigned;
/// assert_eq!(<SatSub<U7, U3> as Unsigned>::USIZE, 4);
/// ```
pub trait SatSubOp<B> {
    /// `max(Self - B, 0)`.
    type Output: Unsigned;
}
impl<A, B> SatSubOp<B> for A
where
    A: Max<B>,
    Maximum<A, B>: Sub<B>,
    Diff<Maximum<A, B>, B>: Unsigned,
{
    type Output = Diff<Maximum<A, B>, B>;
}
/// `max(A - B, 0)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::SatSub;
/// use stensor::typenum::Unsigned;
/// assert_eq!(<SatSub<U3, U7> as Unsigned>::USIZE, 0);
/// ```
pub type SatSub<A, B> = <A as SatSubOp<B>>::Output;

/// The raw arithmetic of a sliding window (convolution and pooling), with no rule asserted:
/// `Padded = In + PadTotal`, `Eff = D (K - 1) + 1`, `Span = max(Padded - Eff, 0)`.
///
/// Implemented for `(In, K, S, PadTotal, D)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::WindowArith;
/// use stensor::typenum::{Bit, Unsigned};
/// // input 5, kernel 3, stride 2, total padding 2, dilation 1
/// type W = <(U5, U3, U2, U2, U1) as WindowArith>::FloorOut;
/// assert_eq!(W::USIZE, 3);
/// assert!(!<<(U2, U5, U1, U0, U1) as WindowArith>::Fits as Bit>::BOOL);
/// ```
pub trait WindowArith {
    /// `In + PadTotal`.
    type Padded: Unsigned;
    /// `D (K - 1) + 1`.
    type Eff: Unsigned;
    /// `max(Padded - Eff, 0)`.
    type Span: Unsigned;
    /// `Padded >= Eff`.
    type Fits: Bit;
    /// `floor(Span / S) + 1` (stride 0 is treated as 1 here and rejected by the rules).
    type FloorOut: Unsigned;
    /// `ceil(Span / S) + 1`.
    type CeilOut: Unsigned;
}

type Km1<K> = SatSub<K, U1>;
type EffOf<K, D> = Add1<Prod<D, Km1<K>>>;
type SafeStride<S> = Maximum<S, U1>;

impl<In, K, S, PT, D> WindowArith for (In, K, S, PT, D)
where
    In: Unsigned + Add<PT>,
    K: SatSubOp<U1>,
    D: Mul<Km1<K>>,
    Prod<D, Km1<K>>: Add<B1>,
    EffOf<K, D>: Unsigned,
    Sum<In, PT>: Unsigned + SatSubOp<EffOf<K, D>> + IsGreaterOrEqual<EffOf<K, D>>,
    S: Max<U1>,
    SafeStride<S>: Unsigned + Sub<U1>,
    SatSub<Sum<In, PT>, EffOf<K, D>>: Div<SafeStride<S>> + Add<Diff<SafeStride<S>, U1>>,
    Quot<SatSub<Sum<In, PT>, EffOf<K, D>>, SafeStride<S>>: Add<B1>,
    Add1<Quot<SatSub<Sum<In, PT>, EffOf<K, D>>, SafeStride<S>>>: Unsigned,
    Sum<SatSub<Sum<In, PT>, EffOf<K, D>>, Diff<SafeStride<S>, U1>>: Div<SafeStride<S>>,
    Quot<Sum<SatSub<Sum<In, PT>, EffOf<K, D>>, Diff<SafeStride<S>, U1>>, SafeStride<S>>: Add<B1>,
    Add1<Quot<Sum<SatSub<Sum<In, PT>, EffOf<K, D>>, Diff<SafeStride<S>, U1>>, SafeStride<S>>>:
        Unsigned,
{
    type Padded = Sum<In, PT>;
    type Eff = EffOf<K, D>;
    type Span = SatSub<Sum<In, PT>, EffOf<K, D>>;
    type Fits = GrEq<Sum<In, PT>, EffOf<K, D>>;
    type FloorOut = Add1<Quot<Self::Span, SafeStride<S>>>;
    type CeilOut = Add1<Quot<Sum<Self::Span, Diff<SafeStride<S>, U1>>, SafeStride<S>>>;
}

/// The checked output length of a convolution along one dimension, for
/// `(In, K, S, P, D)`; see [`ConvOut`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::ConvOutput;
/// fn out_len<X: ConvOutput>() -> usize { <X::Output as ConstDim>::SIZE }
/// assert_eq!(out_len::<(U10, U3, U1, U0, U1)>(), 8);
/// ```
pub trait ConvOutput {
    /// The output length.
    type Output: crate::shape::ConstDim;
}
impl<In, K, S, P, D> ConvOutput for (In, K, S, P, D)
where
    P: Mul<U2>,
    (In, K, S, Prod<P, U2>, D): WindowArith,
    <(In, K, S, Prod<P, U2>, D) as WindowArith>::Fits: KernelFits,
    <(In, K, S, Prod<P, U2>, D) as WindowArith>::FloorOut: crate::shape::ConstDim,
    K: IsGreater<typenum::U0>,
    typenum::Gr<K, typenum::U0>: KernelNonZero,
    S: IsGreater<typenum::U0>,
    typenum::Gr<S, typenum::U0>: StrideNonZero,
    D: IsGreater<typenum::U0>,
    typenum::Gr<D, typenum::U0>: DilationNonZero,
{
    type Output = <(In, K, S, Prod<P, U2>, D) as WindowArith>::FloorOut;
}

/// Output length of a convolution (`Conv1d/2d/3d`) along one dimension.
///
/// PyTorch: `Out = floor((In + 2P - D (K - 1) - 1) / S) + 1`, for input length `In`, kernel
/// `K`, stride `S`, padding `P` (each side) and dilation `D`. A dilated kernel larger than the
/// padded input does not compile.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::ConvOut;
/// // LeNet: Conv2d(1, 6, 5, padding=2) keeps 28x28; Conv2d(6, 16, 5) maps 14 to 10.
/// assert_eq!(<ConvOut<U28, U5, U1, U2, U1> as ConstDim>::SIZE, 28);
/// assert_eq!(<ConvOut<U14, U5, U1, U0, U1> as ConstDim>::SIZE, 10);
/// // stride 2, dilation 2
/// assert_eq!(<ConvOut<U32, U3, U2, U1, U2> as ConstDim>::SIZE, 15);
/// ```
pub type ConvOut<In, K, S, P, D> = <(In, K, S, P, D) as ConvOutput>::Output;

/// The checked output length of a pooling window along one dimension, for
/// `(In, K, S, P, D, CeilMode)`; see [`PoolOut`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::PoolOutput;
/// fn out_len<X: PoolOutput>() -> usize { <X::Output as ConstDim>::SIZE }
/// assert_eq!(out_len::<(U10, U2, U2, U0, U1, False)>(), 5);
/// ```
pub trait PoolOutput {
    /// The output length.
    type Output: crate::shape::ConstDim;
}

type PoolW<In, K, S, P, D> = (In, K, S, Prod<P, U2>, D);
type CeilRaw<In, K, S, P, D> = <PoolW<In, K, S, P, D> as WindowArith>::CeilOut;
/// PyTorch drops the last window in ceil mode when it would start in the right padding:
/// `(Out - 1) S >= In + P`.
type CeilDrop<In, K, S, P, D> = GrEq<Prod<typenum::Sub1<CeilRaw<In, K, S, P, D>>, S>, Sum<In, P>>;

impl<In, K, S, P, D, C> PoolOutput for (In, K, S, P, D, C)
where
    In: Add<P>,
    P: Mul<U2> + typenum::IsLessOrEqual<Quot<<PoolW<In, K, S, P, D> as WindowArith>::Eff, U2>>,
    typenum::LeEq<P, Quot<<PoolW<In, K, S, P, D> as WindowArith>::Eff, U2>>: PoolPadding,
    <PoolW<In, K, S, P, D> as WindowArith>::Eff: Div<U2>,
    PoolW<In, K, S, P, D>: WindowArith,
    <PoolW<In, K, S, P, D> as WindowArith>::Fits: PoolWindowFits,
    CeilRaw<In, K, S, P, D>: Sub<B1>,
    typenum::Sub1<CeilRaw<In, K, S, P, D>>: Mul<S> + Unsigned,
    Prod<typenum::Sub1<CeilRaw<In, K, S, P, D>>, S>: IsGreaterOrEqual<Sum<In, P>>,
    CeilDrop<In, K, S, P, D>:
        SelectBit<typenum::Sub1<CeilRaw<In, K, S, P, D>>, CeilRaw<In, K, S, P, D>>,
    C: SelectBit<
        Select<
            CeilDrop<In, K, S, P, D>,
            typenum::Sub1<CeilRaw<In, K, S, P, D>>,
            CeilRaw<In, K, S, P, D>,
        >,
        <PoolW<In, K, S, P, D> as WindowArith>::FloorOut,
    >,
    Select<
        C,
        Select<
            CeilDrop<In, K, S, P, D>,
            typenum::Sub1<CeilRaw<In, K, S, P, D>>,
            CeilRaw<In, K, S, P, D>,
        >,
        <PoolW<In, K, S, P, D> as WindowArith>::FloorOut,
    >: crate::shape::ConstDim,
    K: IsGreater<typenum::U0>,
    typenum::Gr<K, typenum::U0>: KernelNonZero,
    S: IsGreater<typenum::U0>,
    typenum::Gr<S, typenum::U0>: StrideNonZero,
    D: IsGreater<typenum::U0>,
    typenum::Gr<D, typenum::U0>: DilationNonZero,
{
    type Output = Select<
        C,
        Select<
            CeilDrop<In, K, S, P, D>,
            typenum::Sub1<CeilRaw<In, K, S, P, D>>,
            CeilRaw<In, K, S, P, D>,
        >,
        <PoolW<In, K, S, P, D> as WindowArith>::FloorOut,
    >;
}

/// Output length of a pooling layer (`MaxPool`, `AvgPool`) along one dimension; `CeilMode` is
/// `False` or `True` (typenum's `B0`/`B1`).
///
/// PyTorch: `Out = floor((In + 2P - D (K - 1) - 1) / S) + 1`, or with `ceil_mode`
/// `Out = ceil((In + 2P - D (K - 1) - 1) / S) + 1`, minus one when the last window would start
/// in the right padding (`(Out - 1) S >= In + P`). The padding must be at most half the
/// effective window (`P <= (D (K - 1) + 1) / 2`). `AvgPool` has no dilation: pass `U1`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::PoolOut;
/// assert_eq!(<PoolOut<U28, U2, U2, U0, U1, False> as ConstDim>::SIZE, 14);
/// assert_eq!(<PoolOut<U5, U2, U2, U0, U1, False> as ConstDim>::SIZE, 2);
/// assert_eq!(<PoolOut<U5, U2, U2, U0, U1, True> as ConstDim>::SIZE, 3);
/// // ceil mode, but the last window would start in the padding: dropped.
/// assert_eq!(<PoolOut<U6, U3, U3, U1, U1, True> as ConstDim>::SIZE, 3);
/// ```
pub type PoolOut<In, K, S, P, D, CeilMode> = <(In, K, S, P, D, CeilMode) as PoolOutput>::Output;

/// The checked output length of a transposed convolution, for `(In, K, S, P, D, OP)`; see
/// [`ConvTransposeOut`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::ConvTransposeOutput;
/// fn out_len<X: ConvTransposeOutput>() -> usize { <X::Output as ConstDim>::SIZE }
/// assert_eq!(out_len::<(U8, U3, U1, U0, U1, U0)>(), 10);
/// ```
pub trait ConvTransposeOutput {
    /// The output length.
    type Output: crate::shape::ConstDim;
}

type TPos<In, K, S, D, OP> = Sum<Sum<Prod<SatSub<In, U1>, S>, Prod<D, Km1<K>>>, Add1<OP>>;

impl<In, K, S, P, D, OP> ConvTransposeOutput for (In, K, S, P, D, OP)
where
    In: SatSubOp<U1>,
    SatSub<In, U1>: Mul<S>,
    K: SatSubOp<U1>,
    D: Mul<Km1<K>>,
    Prod<SatSub<In, U1>, S>: Add<Prod<D, Km1<K>>>,
    OP: Add<B1>,
    Sum<Prod<SatSub<In, U1>, S>, Prod<D, Km1<K>>>: Add<Add1<OP>>,
    P: Mul<U2>,
    TPos<In, K, S, D, OP>: SatSubOp<Prod<P, U2>> + IsGreater<Prod<P, U2>>,
    typenum::Gr<TPos<In, K, S, D, OP>, Prod<P, U2>>: TransposeOutputNonEmpty,
    S: Max<D>,
    OP: IsLess<Maximum<S, D>>,
    typenum::Le<OP, Maximum<S, D>>: OutputPaddingSmall,
    SatSub<TPos<In, K, S, D, OP>, Prod<P, U2>>: crate::shape::ConstDim,
    K: IsGreater<typenum::U0>,
    typenum::Gr<K, typenum::U0>: KernelNonZero,
    S: IsGreater<typenum::U0>,
    typenum::Gr<S, typenum::U0>: StrideNonZero,
    D: IsGreater<typenum::U0>,
    typenum::Gr<D, typenum::U0>: DilationNonZero,
{
    type Output = SatSub<TPos<In, K, S, D, OP>, Prod<P, U2>>;
}

/// Output length of a transposed convolution (`ConvTranspose1d/2d`) along one dimension.
///
/// PyTorch: `Out = (In - 1) S - 2P + D (K - 1) + OP + 1` for input length `In`, kernel `K`,
/// stride `S`, padding `P`, dilation `D` and output padding `OP`, where `OP < max(S, D)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::ConvTransposeOut;
/// // W4d: ConvTranspose2d(32, 64, 3) maps 126 back to 128.
/// assert_eq!(<ConvTransposeOut<U126, U3, U1, U0, U1, U0> as ConstDim>::SIZE, 128);
/// // stride 2, padding 1, output_padding 1 doubles the length.
/// assert_eq!(<ConvTransposeOut<U16, U3, U2, U1, U1, U1> as ConstDim>::SIZE, 32);
/// ```
pub type ConvTransposeOut<In, K, S, P, D, OP> =
    <(In, K, S, P, D, OP) as ConvTransposeOutput>::Output;

/// The checked output length of an adaptive pooling, for `(In, Out)`; see [`AdaptiveOut`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::AdaptiveOutput;
/// fn out_len<X: AdaptiveOutput>() -> usize { <X::Output as ConstDim>::SIZE }
/// assert_eq!(out_len::<(U9, U4)>(), 4);
/// ```
pub trait AdaptiveOutput {
    /// The output length.
    type Output: crate::shape::ConstDim;
}
impl<In, Out> AdaptiveOutput for (In, Out)
where
    Out: crate::shape::ConstDim + IsGreater<typenum::U0>,
    typenum::Gr<Out, typenum::U0>: AdaptiveOutputNonZero,
{
    type Output = Out;
}

/// Output length of an adaptive pooling (`AdaptiveAvgPool`, `AdaptiveMaxPool`): the requested
/// `Out`, which need not divide `In` (and may exceed it).
///
/// PyTorch: output element `i` pools the input window `[floor(i In / Out),
/// ceil((i + 1) In / Out))`; see [`adaptive_window`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::AdaptiveOut;
/// assert_eq!(<AdaptiveOut<U7, U3> as ConstDim>::SIZE, 3);
/// ```
pub type AdaptiveOut<In, Out> = <(In, Out) as AdaptiveOutput>::Output;

/// Output length of a convolution, `None` where PyTorch raises (the dilated kernel does not
/// fit the padded input, or a zero kernel, stride or dilation).
///
/// ```
/// use stensor::shape::out::conv_out_size;
/// assert_eq!(conv_out_size(28, 5, 1, 2, 1), Some(28));
/// assert_eq!(conv_out_size(3, 5, 1, 0, 1), None);
/// ```
pub fn conv_out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let padded = input + 2 * padding;
    let eff = dilation * (kernel - 1) + 1;
    (padded >= eff).then(|| (padded - eff) / stride + 1)
}

/// Output length of a pooling window, `None` where PyTorch raises (the window does not fit,
/// padding above half the effective window, or a zero kernel, stride or dilation).
///
/// ```
/// use stensor::shape::out::pool_out_size;
/// assert_eq!(pool_out_size(5, 2, 2, 0, 1, false), Some(2));
/// assert_eq!(pool_out_size(5, 2, 2, 0, 1, true), Some(3));
/// assert_eq!(pool_out_size(6, 3, 3, 1, 1, true), Some(3));
/// assert_eq!(pool_out_size(6, 2, 2, 2, 1, false), None); // padding > kernel / 2
/// ```
pub fn pool_out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let floor = conv_out_size(input, kernel, stride, padding, dilation)?;
    let eff = dilation * (kernel - 1) + 1;
    if padding > eff / 2 {
        return None;
    }
    if !ceil_mode {
        return Some(floor);
    }
    let span = input + 2 * padding - eff;
    let mut out = span.div_ceil(stride) + 1;
    if (out - 1) * stride >= input + padding {
        out -= 1;
    }
    Some(out)
}

/// Output length of a transposed convolution, `None` where PyTorch raises (an empty output,
/// `output_padding >= max(stride, dilation)`, or a zero kernel, stride or dilation).
///
/// ```
/// use stensor::shape::out::conv_transpose_out_size;
/// assert_eq!(conv_transpose_out_size(16, 3, 2, 1, 1, 1), Some(32));
/// assert_eq!(conv_transpose_out_size(4, 3, 2, 0, 1, 2), None);
/// ```
pub fn conv_transpose_out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    output_padding: usize,
) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 || output_padding >= stride.max(dilation) {
        return None;
    }
    let pos = input.saturating_sub(1) * stride + dilation * (kernel - 1) + output_padding + 1;
    (pos > 2 * padding).then(|| pos - 2 * padding)
}

/// The input window `[start, end)` that adaptive pooling reduces into output element `i` of
/// `output` elements over `input` elements (PyTorch's `start_index` / `end_index`).
///
/// ```
/// use stensor::shape::out::adaptive_window;
/// // 7 inputs into 3 outputs: windows [0, 3), [2, 5), [4, 7)
/// assert_eq!(adaptive_window(0, 7, 3), (0, 3));
/// assert_eq!(adaptive_window(1, 7, 3), (2, 5));
/// assert_eq!(adaptive_window(2, 7, 3), (4, 7));
/// ```
pub fn adaptive_window(i: usize, input: usize, output: usize) -> (usize, usize) {
    let start = (i * input) / output;
    let end = ((i + 1) * input).div_ceil(output);
    (start, end)
}

/// The shape after merging dims `START..=END` into their product, like PyTorch's
/// `flatten(start_dim, end_dim)` and `nn.Flatten` (whose defaults are `1, -1`).
///
/// PyTorch: `out.shape = in.shape[:start] + (prod(in.shape[start:end + 1]),) + in.shape[end + 1:]`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::out::FlattenOut;
/// // LeNet's Flatten: (N, 16, 5, 5) -> (N, 400)
/// type F = FlattenOut<(usize, U16, U5, U5), 1, -1>;
/// assert_eq!(F::from_dims(&[8, 400]).map(|s| s.numel()), Some(3200));
/// assert_eq!(<FlattenOut<(U2, U3, U4), 0, 1> as ConstShape>::DIMS, &[6, 4]);
/// ```
pub type FlattenOut<S, const START: isize, const END: isize> =
    <S as crate::shape::FlattenDims<START, END>>::Output;
