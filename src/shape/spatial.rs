//! Type-level hyper-parameters shared by the convolution, pooling and padding layers and ops
//! (re-exported from [`crate::nn`], where users meet them).
//!
//! A kernel, stride, padding or dilation is one `typenum` number for every spatial dim
//! (PyTorch's `3`) or a tuple with one per dim (PyTorch's `(2, 3)`): [`Spec1`], [`Spec2`],
//! [`Spec3`] read either. Convolution padding may also be [`Same`] or [`Valid`] (PyTorch's
//! `padding="same"` / `"valid"`). The padding mode is a type ([`Zeros`], [`Reflect`],
//! [`Replicate`], [`Circular`]) so its size rules are checked at compile time.

use super::out::{AdaptiveOutput, ConvTransposeOutput, PoolOutput, SatSub, SatSubOp, WindowArith};
use super::rules::*;
use super::{ConstDim, Dim, Shape};
use core::ops::{Add, BitOr, Div, Mul, Not, Rem, Sub};
use typenum::{
    Bit, Diff, Eq, Gr, IsEqual, IsGreater, IsLess, IsLessOrEqual, Le, LeEq, Max, Maximum, Mod, Or,
    Prod, Quot, Sum, B0, B1, U0, U1, U2,
};

/// PyTorch's `padding="same"`: the output has the input's length (stride 1), the total padding
/// `dilation * (kernel - 1)` split with the smaller half in front.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv2d, Forward, Same};
/// let c = Conv2d::<U1, U1, U4, U1, Same>::new(&mut Rng::seed(0));
/// assert_eq!(c.forward(Tensor::<(U1, U1, U7, U7)>::zeros()).dims(), [1, 1, 7, 7]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Same;

/// PyTorch's `padding="valid"`: no padding.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv1d, Forward, Valid};
/// let c = Conv1d::<U1, U1, U3, U1, Valid>::new(&mut Rng::seed(0));
/// assert_eq!(c.forward(Tensor::<(U1, U1, U7)>::zeros()).dims(), [1, 1, 5]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Valid;

macro_rules! spec_marker_impls {
    ($($t:ty),*) => {$(
        impl Spec1 for $t { type A = $t; }
        impl Spec2 for $t { type A = $t; type B = $t; }
        impl Spec3 for $t { type A = $t; type B = $t; type C = $t; }
    )*};
}

/// A hyper-parameter of a 1-d layer: a number, or a 1-tuple.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Spec1;
/// assert_eq!(<<U3 as Spec1>::A as ConstDim>::SIZE, 3);
/// ```
pub trait Spec1 {
    /// The value for the length dim.
    type A;
}
/// A hyper-parameter of a 2-d layer: one number for both dims, or `(height, width)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Spec2;
/// assert_eq!(<<(U2, U3) as Spec2>::B as ConstDim>::SIZE, 3);
/// assert_eq!(<<U5 as Spec2>::A as ConstDim>::SIZE, 5);
/// ```
pub trait Spec2 {
    /// The value for the height dim.
    type A;
    /// The value for the width dim.
    type B;
}
/// A hyper-parameter of a 3-d layer: one number for all dims, or `(depth, height, width)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Spec3;
/// assert_eq!(<<(U1, U2, U3) as Spec3>::C as ConstDim>::SIZE, 3);
/// ```
pub trait Spec3 {
    /// The value for the depth dim.
    type A;
    /// The value for the height dim.
    type B;
    /// The value for the width dim.
    type C;
}
impl<N: ConstDim> Spec1 for N {
    type A = N;
}
impl<X> Spec1 for (X,) {
    type A = X;
}
impl<N: ConstDim> Spec2 for N {
    type A = N;
    type B = N;
}
impl<X, Y> Spec2 for (X, Y) {
    type A = X;
    type B = Y;
}
impl<N: ConstDim> Spec3 for N {
    type A = N;
    type B = N;
    type C = N;
}
impl<X, Y, Z> Spec3 for (X, Y, Z) {
    type A = X;
    type B = Y;
    type C = Z;
}
spec_marker_impls!(Same, Valid);

/// How a padding spec pads one dim of a convolution with kernel `K` and dilation `D`: `Lo`
/// in front, `Hi` behind, and whether it needs stride 1.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{PadSpec, Same};
/// // padding="same" with kernel 4: 1 in front, 2 behind
/// assert_eq!(<<Same as PadSpec<U4, U1>>::Lo as ConstDim>::SIZE, 1);
/// assert_eq!(<<Same as PadSpec<U4, U1>>::Hi as ConstDim>::SIZE, 2);
/// ```
pub trait PadSpec<K, D> {
    /// Padding in front.
    type Lo: ConstDim;
    /// Padding behind.
    type Hi: ConstDim;
    /// `B1` for [`Same`], which PyTorch allows only with stride 1.
    type NeedsStrideOne: Bit;
}
impl<N: ConstDim, K, D> PadSpec<K, D> for N {
    type Lo = N;
    type Hi = N;
    type NeedsStrideOne = B0;
}
impl<K, D> PadSpec<K, D> for Valid {
    type Lo = U0;
    type Hi = U0;
    type NeedsStrideOne = B0;
}
type SameTotal<K, D> = Prod<D, SatSub<K, U1>>;
impl<K, D> PadSpec<K, D> for Same
where
    K: SatSubOp<U1>,
    D: Mul<SatSub<K, U1>>,
    SameTotal<K, D>: Div<U2> + Sub<Quot<SameTotal<K, D>, U2>>,
    Quot<SameTotal<K, D>, U2>: ConstDim,
    Diff<SameTotal<K, D>, Quot<SameTotal<K, D>, U2>>: ConstDim,
{
    type Lo = Quot<SameTotal<K, D>, U2>;
    type Hi = Diff<SameTotal<K, D>, Quot<SameTotal<K, D>, U2>>;
    type NeedsStrideOne = B1;
}

/// A padding mode of a convolution or padding layer.
///
/// ```
/// use stensor::nn::{PaddingMode, Reflect, Zeros};
/// assert_eq!((Reflect::NAME, Reflect::IS_ZEROS, Zeros::IS_ZEROS), ("reflect", false, true));
/// ```
pub trait PaddingMode: Copy + Default + Send + Sync + 'static {
    /// PyTorch's name: `"zeros"`, `"reflect"`, `"replicate"`, `"circular"` (`"constant"` for
    /// [`Constant`]).
    const NAME: &'static str;
    /// Zero padding: a convolution pads so inside its kernel (no padding op first), and its
    /// printed form leaves the mode out, as PyTorch's default.
    const IS_ZEROS: bool;
    /// Whether the padding layer has a fill value to print (`ConstantPad`).
    const HAS_VALUE: bool;
    /// PyTorch's names of the padding layers of this mode for 1-d and 2-d data.
    const LAYER_NAMES: [&'static str; 2];
    /// What the padding writes.
    const KIND: PadKind;
}

/// What a padding mode writes into the padding, as a value (the kernels take it).
///
/// ```
/// use stensor::nn::{PadKind, PaddingMode, Reflect, Zeros};
/// assert_eq!((Zeros::KIND, Reflect::KIND), (PadKind::Zeros, PadKind::Reflect));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadKind {
    /// Zeros.
    Zeros,
    /// The layer's fill value.
    Constant,
    /// The input mirrored at its edge, the edge not repeated.
    Reflect,
    /// The edge value repeated.
    Replicate,
    /// The input wrapped around.
    Circular,
}

macro_rules! padding_mode {
    ($(#[$doc:meta])* $name:ident, $s:literal, $layer:literal, zeros = $z:literal, value = $val:literal, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;
        impl PaddingMode for $name {
            const NAME: &'static str = $s;
            const IS_ZEROS: bool = $z;
            const HAS_VALUE: bool = $val;
            const LAYER_NAMES: [&'static str; 2] = [concat!($layer, "1d"), concat!($layer, "2d")];
            const KIND: PadKind = PadKind::$kind;
        }
    };
}
padding_mode!(
    /// Zero padding (`padding_mode="zeros"`, `ZeroPad`).
    ///
    /// ```
    /// use stensor::nn::{PaddingMode, Zeros};
    /// assert_eq!(Zeros::NAME, "zeros");
    /// assert!(Zeros::IS_ZEROS && !Zeros::HAS_VALUE);
    /// assert_eq!(Zeros::LAYER_NAMES, ["ZeroPad1d", "ZeroPad2d"]);
    /// ```
    Zeros, "zeros", "ZeroPad", zeros = true, value = false, Zeros
);
padding_mode!(
    /// Constant padding with the layer's value (`ConstantPad`).
    ///
    /// ```
    /// use stensor::nn::{Constant, PaddingMode};
    /// assert_eq!(Constant::NAME, "constant");
    /// assert!(Constant::HAS_VALUE && !Constant::IS_ZEROS);
    /// ```
    Constant, "constant", "ConstantPad", zeros = false, value = true, Constant
);
padding_mode!(
    /// Reflection padding (`padding_mode="reflect"`, `ReflectionPad`).
    ///
    /// ```
    /// use stensor::nn::{PaddingMode, Reflect};
    /// assert_eq!(Reflect::NAME, "reflect");
    /// ```
    Reflect, "reflect", "ReflectionPad", zeros = false, value = false, Reflect
);
padding_mode!(
    /// Replication padding (`padding_mode="replicate"`, `ReplicationPad`).
    ///
    /// ```
    /// use stensor::nn::{PaddingMode, Replicate};
    /// assert_eq!(Replicate::NAME, "replicate");
    /// ```
    Replicate, "replicate", "ReplicationPad", zeros = false, value = false, Replicate
);
padding_mode!(
    /// Circular padding (`padding_mode="circular"`, `CircularPad`).
    ///
    /// ```
    /// use stensor::nn::{Circular, PaddingMode};
    /// assert_eq!(Circular::NAME, "circular");
    /// ```
    Circular, "circular", "CircularPad", zeros = false, value = false, Circular
);

/// The size rule a padding mode puts on padding `Lo`/`Hi` of a dim of length `In`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{PadFits, Reflect};
/// // reflect padding must be smaller than the dim: 2 < 3
/// fn fits<M: PadFits<In, Lo, Hi>, In, Lo, Hi>() {}
/// fits::<Reflect, U3, U2, U2>();
/// ```
pub trait PadFits<In, Lo, Hi> {}
impl<In, Lo, Hi> PadFits<In, Lo, Hi> for Zeros {}
impl<In, Lo, Hi> PadFits<In, Lo, Hi> for Constant {}
impl<In, Lo, Hi> PadFits<In, Lo, Hi> for Replicate {}
impl<In, Lo, Hi> PadFits<In, Lo, Hi> for Reflect
where
    Lo: IsLess<In>,
    Le<Lo, In>: ReflectPadSmaller,
    Hi: IsLess<In>,
    Le<Hi, In>: ReflectPadSmaller,
{
}
impl<In, Lo, Hi> PadFits<In, Lo, Hi> for Circular
where
    Lo: IsLessOrEqual<In>,
    LeEq<Lo, In>: CircularPadFits,
    Hi: IsLessOrEqual<In>,
    LeEq<Hi, In>: CircularPadFits,
{
}

type Win<In, K, S, P, D> = (
    In,
    K,
    S,
    Sum<<P as PadSpec<K, D>>::Lo, <P as PadSpec<K, D>>::Hi>,
    D,
);

/// One spatial dim of a convolution, for `(In, K, S, P, D, M)`: input length, kernel, stride,
/// padding spec, dilation and padding mode. Checks every rule and gives the output length.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{ConvAxis, Zeros};
/// // length 32, kernel 5, stride 1, padding 2, dilation 1: 32 out
/// type A = (U32, U5, U1, U2, U1, Zeros);
/// assert_eq!((<<A as ConvAxis>::Out as ConstDim>::SIZE, A::LO, A::HI), (32, 2, 2));
/// ```
pub trait ConvAxis {
    /// The output length.
    type Out: ConstDim;
    /// Padding in front.
    const LO: usize;
    /// Padding behind.
    const HI: usize;
}
impl<In, K, S, P, D, M> ConvAxis for (In, K, S, P, D, M)
where
    P: PadSpec<K, D>,
    P::Lo: Add<P::Hi>,
    Win<In, K, S, P, D>: WindowArith,
    <Win<In, K, S, P, D> as WindowArith>::Fits: KernelFits,
    <Win<In, K, S, P, D> as WindowArith>::FloorOut: ConstDim,
    K: IsGreater<U0>,
    Gr<K, U0>: KernelNonZero,
    S: IsGreater<U0>,
    Gr<S, U0>: StrideNonZero,
    D: IsGreater<U0>,
    Gr<D, U0>: DilationNonZero,
    P::NeedsStrideOne: Not,
    // `S + In == 1 + In` is `S == 1`, written to depend on the input length so rustc checks it
    // with the concrete input (error E0277 with the rule's sentence) instead of rejecting the
    // method while probing it (a bare E0599 that names no rule).
    S: Add<In>,
    U1: Add<In>,
    Sum<S, In>: IsEqual<Sum<U1, In>>,
    <P::NeedsStrideOne as Not>::Output: BitOr<Eq<Sum<S, In>, Sum<U1, In>>>,
    Or<<P::NeedsStrideOne as Not>::Output, Eq<Sum<S, In>, Sum<U1, In>>>: SameNeedsStrideOne,
    M: PadFits<In, P::Lo, P::Hi>,
{
    type Out = <Win<In, K, S, P, D> as WindowArith>::FloorOut;
    const LO: usize = <P::Lo as ConstDim>::SIZE;
    const HI: usize = <P::Hi as ConstDim>::SIZE;
}

/// `G` groups of `CI` input and `CO` output channels: `G >= 1` divides both.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Groups;
/// assert_eq!(<<U2 as Groups<U4, U6>>::InPerGroup as ConstDim>::SIZE, 2);
/// assert_eq!(<<U2 as Groups<U4, U6>>::OutPerGroup as ConstDim>::SIZE, 3);
/// ```
pub trait Groups<CI, CO>: ConstDim {
    /// `CI / G`.
    type InPerGroup: ConstDim;
    /// `CO / G`.
    type OutPerGroup: ConstDim;
}
type SafeG<G> = Maximum<G, U1>;
impl<G, CI, CO> Groups<CI, CO> for G
where
    G: ConstDim + IsEqual<U1> + GroupsOf<CI, CO, Eq<G, U1>>,
{
    type InPerGroup = <G as GroupsOf<CI, CO, Eq<G, U1>>>::InPerGroup;
    type OutPerGroup = <G as GroupsOf<CI, CO, Eq<G, U1>>>::OutPerGroup;
}

/// How `G` groups split `CI` and `CO` channels, by whether `G` is 1 (`One`): one group takes
/// every channel with no arithmetic, so code generic over the channels needs no bound for
/// PyTorch's default `groups=1`; other counts check that they divide both.
#[doc(hidden)]
pub trait GroupsOf<CI, CO, One> {
    /// `CI / G`.
    type InPerGroup: ConstDim;
    /// `CO / G`.
    type OutPerGroup: ConstDim;
}
impl<G, CI: ConstDim, CO: ConstDim> GroupsOf<CI, CO, B1> for G {
    type InPerGroup = CI;
    type OutPerGroup = CO;
}
impl<G, CI, CO> GroupsOf<CI, CO, B0> for G
where
    G: ConstDim + IsGreater<U0> + Max<U1>,
    Gr<G, U0>: GroupsNonZero,
    CI: Rem<SafeG<G>> + Div<SafeG<G>>,
    Mod<CI, SafeG<G>>: IsEqual<U0>,
    Eq<Mod<CI, SafeG<G>>, U0>: GroupsDivideIn,
    CO: Rem<SafeG<G>> + Div<SafeG<G>>,
    Mod<CO, SafeG<G>>: IsEqual<U0>,
    Eq<Mod<CO, SafeG<G>>, U0>: GroupsDivideOut,
    Quot<CI, SafeG<G>>: ConstDim,
    Quot<CO, SafeG<G>>: ConstDim,
{
    type InPerGroup = Quot<CI, SafeG<G>>;
    type OutPerGroup = Quot<CO, SafeG<G>>;
}

/// A pooling window over 1 to 3 spatial dims as the kernels take it: each value right-aligned in
/// three (missing leading dims of size 1, unpadded).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::spatial::Pool2dShape;
/// let w = <(U1, U3, U8, U6) as Pool2dShape<U2, U2, U1, U1, False>>::window();
/// assert_eq!((w.input, w.kernel, w.padding, w.output), ([1, 8, 6], [1, 2, 2], [0, 1, 1], [1, 5, 4]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window3 {
    /// The input's spatial size.
    pub input: [usize; 3],
    /// The kernel.
    pub kernel: [usize; 3],
    /// The stride.
    pub stride: [usize; 3],
    /// The padding on each side.
    pub padding: [usize; 3],
    /// The dilation.
    pub dilation: [usize; 3],
    /// The output's spatial size.
    pub output: [usize; 3],
}

/// `v` right-aligned in `[fill; 3]`.
fn right3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

macro_rules! pool_shape {
    ($(#[$doc:meta])* $trait:ident, $spec:ident, [$(($In:ident, $A:ident)),+]) => {
        $(#[$doc])*
        pub trait $trait<K, S, P, D, C>: Shape {
            /// The pooled shape.
            type Output: Shape;
            /// The pooled shape value (the batch and channels kept).
            fn pooled(&self) -> Self::Output;
            /// The window the kernels take.
            fn window() -> Window3;
        }

        impl<Bt, Ch, $($In,)+ K, S, P, D, C> $trait<K, S, P, D, C> for (Bt, Ch, $($In,)+)
        where
            Bt: Dim,
            Ch: Dim,
            $($In: ConstDim,)+
            K: $spec<$($A: ConstDim),+>,
            S: $spec<$($A: ConstDim),+>,
            P: $spec<$($A: ConstDim),+>,
            D: $spec<$($A: ConstDim),+>,
            C: Bit,
            $(($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, C): PoolOutput,)+
        {
            type Output = (Bt, Ch, $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, C) as PoolOutput>::Output,)+);
            fn pooled(&self) -> Self::Output {
                (self.0, self.1, $(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, C) as PoolOutput>::Output>::default(),)+)
            }
            fn window() -> Window3 {
                Window3 {
                    input: right3(&[$($In::SIZE),+], 1),
                    kernel: right3(&[$(<K as $spec>::$A::SIZE),+], 1),
                    stride: right3(&[$(<S as $spec>::$A::SIZE),+], 1),
                    padding: right3(&[$(<P as $spec>::$A::SIZE),+], 0),
                    dilation: right3(&[$(<D as $spec>::$A::SIZE),+], 1),
                    output: right3(&[$(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, C) as PoolOutput>::Output as ConstDim>::SIZE),+], 1),
                }
            }
        }
    };
}
pool_shape!(
    /// The shape pooling an `(N, C, L)` tensor makes, with kernel `K`, stride `S`, padding `P`,
    /// dilation `D` and ceil mode `C` (each a number or a 1-tuple): PyTorch's rules checked and
    /// the output computed at compile time, written once for the op, the layer and the
    /// functional form.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Pool1dShape;
    /// type Y = <(usize, U3, U9) as Pool1dShape<U2, U2, U0, U1, True>>::Output;
    /// assert_eq!(Y::static_dims()[..3], [None, Some(3), Some(5)]);
    /// ```
    Pool1dShape, Spec1, [(L, A)]
);
pool_shape!(
    /// The shape pooling an `(N, C, H, W)` tensor makes (each hyper-parameter a number or an
    /// `(h, w)` pair); see [`Pool1dShape`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Pool2dShape;
    /// type Y = <(U8, U3, U32, U32) as Pool2dShape<U2, U2, U0, U1, False>>::Output;
    /// assert_eq!(Y::DIMS, &[8, 3, 16, 16]);
    /// ```
    Pool2dShape, Spec2, [(H, A), (W, B)]
);
pool_shape!(
    /// The shape pooling an `(N, C, D, H, W)` tensor makes; see [`Pool1dShape`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Pool3dShape;
    /// type Y = <(U1, U1, U2, U4, U4) as Pool3dShape<U2, U2, U0, U1, False>>::Output;
    /// assert_eq!(Y::DIMS, &[1, 1, 1, 2, 2]);
    /// ```
    Pool3dShape, Spec3, [(Dp, A), (H, B), (W, C)]
);

/// The shape padding an `(N, C, W)` tensor by `L` in front and `R` behind in mode `M` makes,
/// the mode's size rule ([`PadFits`]) checked at compile time; written once for the op, the
/// layer and the functional form.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Reflect;
/// use stensor::shape::spatial::Pad1dShape;
/// type Y = <(usize, U2, U5) as Pad1dShape<Reflect, U2, U1>>::Output;
/// assert_eq!(Y::static_dims()[..3], [None, Some(2), Some(8)]);
/// assert_eq!(<(usize, U2, U5) as Pad1dShape<Reflect, U2, U1>>::PADS[2], (2, 1));
/// ```
pub trait Pad1dShape<M, L, R>: Shape {
    /// The padded shape.
    type Output: Shape;
    /// The padding (front, back) of each of the three spatial dims the kernels take.
    const PADS: [(usize, usize); 3];
    /// The padded shape value (the batch and channels kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Zeros;
    /// use stensor::shape::spatial::Pad1dShape;
    /// let s = <(usize, U2, U5) as Pad1dShape<Zeros, U1, U2>>::padded(&(4, U2::new(), U5::new()));
    /// assert_eq!(s.dims(), [4, 2, 8]);
    /// ```
    fn padded(&self) -> Self::Output;
}
impl<Bt, Ch, W, M, L, R> Pad1dShape<M, L, R> for (Bt, Ch, W)
where
    Bt: Dim,
    Ch: Dim,
    W: ConstDim + Add<L>,
    Sum<W, L>: Add<R>,
    Sum<Sum<W, L>, R>: ConstDim,
    L: ConstDim,
    R: ConstDim,
    M: PaddingMode + PadFits<W, L, R>,
{
    type Output = (Bt, Ch, Sum<Sum<W, L>, R>);
    const PADS: [(usize, usize); 3] = [(0, 0), (0, 0), (L::SIZE, R::SIZE)];
    fn padded(&self) -> Self::Output {
        (self.0, self.1, Default::default())
    }
}

/// The shape padding an `(N, C, H, W)` tensor by `(L, R, T, B)` = (left, right, top, bottom)
/// in mode `M` makes; see [`Pad1dShape`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Zeros;
/// use stensor::shape::spatial::Pad2dShape;
/// type Y = <(U1, U1, U3, U2) as Pad2dShape<Zeros, U1, U2, U0, U1>>::Output;
/// assert_eq!(Y::DIMS, &[1, 1, 4, 5]);
/// ```
pub trait Pad2dShape<M, L, R, T, B>: Shape {
    /// The padded shape.
    type Output: Shape;
    /// The padding (front, back) of each of the three spatial dims the kernels take.
    const PADS: [(usize, usize); 3];
    /// The padded shape value (the batch and channels kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Zeros;
    /// use stensor::shape::spatial::Pad2dShape;
    /// let s = <(usize, U1, U3, U3) as Pad2dShape<Zeros, U1, U1, U2, U2>>::padded(&(4, U1::new(), U3::new(), U3::new()));
    /// assert_eq!(s.dims(), [4, 1, 7, 5]);
    /// ```
    fn padded(&self) -> Self::Output;
}
impl<Bt, Ch, H, W, M, L, R, T, B> Pad2dShape<M, L, R, T, B> for (Bt, Ch, H, W)
where
    Bt: Dim,
    Ch: Dim,
    H: ConstDim + Add<T>,
    Sum<H, T>: Add<B>,
    Sum<Sum<H, T>, B>: ConstDim,
    W: ConstDim + Add<L>,
    Sum<W, L>: Add<R>,
    Sum<Sum<W, L>, R>: ConstDim,
    L: ConstDim,
    R: ConstDim,
    T: ConstDim,
    B: ConstDim,
    M: PaddingMode + PadFits<H, T, B> + PadFits<W, L, R>,
{
    type Output = (Bt, Ch, Sum<Sum<H, T>, B>, Sum<Sum<W, L>, R>);
    const PADS: [(usize, usize); 3] = [(0, 0), (T::SIZE, B::SIZE), (L::SIZE, R::SIZE)];
    fn padded(&self) -> Self::Output {
        (self.0, self.1, Default::default(), Default::default())
    }
}

macro_rules! adaptive_shape {
    ($(#[$doc:meta])* $trait:ident, [$(($In:ident, $O:ident)),+]) => {
        $(#[$doc])*
        pub trait $trait<$($O),+>: Shape {
            /// The pooled shape.
            type Output: Shape;
            /// The pooled shape value (the batch and channels kept).
            fn pooled(&self) -> Self::Output;
            /// The output's spatial size, right-aligned in three as the kernels take it.
            fn out3() -> [usize; 3];
        }

        impl<Bt: Dim, Ch: Dim, $($In: ConstDim,)+ $($O,)+> $trait<$($O),+> for (Bt, Ch, $($In,)+)
        where
            $(($In, $O): AdaptiveOutput,)+
        {
            type Output = (Bt, Ch, $(<($In, $O) as AdaptiveOutput>::Output,)+);
            fn pooled(&self) -> Self::Output {
                (self.0, self.1, $(<($In, $O) as AdaptiveOutput>::Output::default(),)+)
            }
            fn out3() -> [usize; 3] {
                right3(&[$(<<($In, $O) as AdaptiveOutput>::Output as ConstDim>::SIZE),+], 1)
            }
        }
    };
}
adaptive_shape!(
    /// The shape adaptive pooling of an `(N, C, L)` tensor to length `O` makes; written once for
    /// the ops, the layers and the functional forms.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Adaptive1dShape;
    /// type Y = <(usize, U3, U7) as Adaptive1dShape<U2>>::Output;
    /// assert_eq!(Y::static_dims()[..3], [None, Some(3), Some(2)]);
    /// ```
    Adaptive1dShape, [(L, O)]
);
adaptive_shape!(
    /// The shape adaptive pooling of an `(N, C, H, W)` tensor to `(OH, OW)` makes.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Adaptive2dShape;
    /// type Y = <(U1, U3, U7, U5) as Adaptive2dShape<U3, U2>>::Output;
    /// assert_eq!(Y::DIMS, &[1, 3, 3, 2]);
    /// ```
    Adaptive2dShape, [(H, OH), (W, OW)]
);

macro_rules! conv_shape {
    ($(#[$doc:meta])* $trait:ident, $spec:ident, [$(($In:ident, $A:ident)),+]) => {
        $(#[$doc])*
        pub trait $trait<CI, CO, K, S, P, D, G, M>: Shape {
            /// The convolved shape.
            type Output: Shape;
            /// The convolved shape value (the batch kept).
            fn convolved(&self) -> Self::Output;
            /// The window as the kernels take it, `padding` the padding in front.
            fn window() -> Window3;
            /// The padding behind, right-aligned in three.
            fn padding_behind() -> [usize; 3];
        }

        impl<Bt, C2, $($In,)+ CI, CO, K, S, P, D, G, M> $trait<CI, CO, K, S, P, D, G, M>
            for (Bt, C2, $($In,)+)
        where
            Bt: Dim,
            C2: Dim + InChannels<CI>,
            $($In: ConstDim,)+
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            S: $spec<$($A: ConstDim),+>,
            P: $spec,
            D: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            M: PaddingMode,
            $(($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M): ConvAxis,)+
        {
            type Output = (Bt, CO, $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out,)+);
            fn convolved(&self) -> Self::Output {
                (self.0, CO::default(), $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out::default(),)+)
            }
            fn window() -> Window3 {
                Window3 {
                    input: right3(&[$($In::SIZE),+], 1),
                    kernel: right3(&[$(<K as $spec>::$A::SIZE),+], 1),
                    stride: right3(&[$(<S as $spec>::$A::SIZE),+], 1),
                    padding: right3(&[$(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::LO),+], 0),
                    dilation: right3(&[$(<D as $spec>::$A::SIZE),+], 1),
                    output: right3(&[$(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::Out as ConstDim>::SIZE),+], 1),
                }
            }
            fn padding_behind() -> [usize; 3] {
                right3(&[$(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, M) as ConvAxis>::HI),+], 0)
            }
        }
    };
}
conv_shape!(
    /// The shape convolving an `(N, C, L)` tensor makes, for `<in, out, kernel, stride,
    /// padding, dilation, groups, padding_mode>` (PyTorch's order): the channel, group and
    /// window rules checked and the output computed at compile time, written once for the op,
    /// the layer and the functional form.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Zeros;
    /// use stensor::shape::spatial::Conv1dShape;
    /// type X = (usize, U2, U9);
    /// type Y = <X as Conv1dShape<U2, U4, U3, U2, U1, U1, U1, Zeros>>::Output;
    /// assert_eq!(Y::static_dims()[..3], [None, Some(4), Some(5)]);
    /// ```
    Conv1dShape, Spec1, [(L, A)]
);
conv_shape!(
    /// The shape convolving an `(N, C, H, W)` tensor makes; see [`Conv1dShape`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Reflect, Same};
    /// use stensor::shape::spatial::Conv2dShape;
    /// type X = (U8, U3, U32, U32);
    /// type Y = <X as Conv2dShape<U3, U6, U5, U1, Same, U1, U1, Reflect>>::Output;
    /// assert_eq!(Y::DIMS, &[8, 6, 32, 32]);
    /// let w = <X as Conv2dShape<U3, U6, U5, U1, Same, U1, U1, Reflect>>::window();
    /// assert_eq!((w.padding, w.output), ([0, 2, 2], [1, 32, 32]));
    /// ```
    Conv2dShape, Spec2, [(H, A), (W, B)]
);
conv_shape!(
    /// The shape convolving an `(N, C, D, H, W)` tensor makes; see [`Conv1dShape`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Zeros;
    /// use stensor::shape::spatial::Conv3dShape;
    /// type Y = <(U1, U2, U3, U4, U3) as Conv3dShape<U2, U2, U2, U1, U1, U1, U1, Zeros>>::Output;
    /// assert_eq!(Y::DIMS, &[1, 2, 4, 5, 4]);
    /// ```
    Conv3dShape, Spec3, [(Dp, A), (H, B), (W, C)]
);

macro_rules! conv_transpose_shape {
    ($(#[$doc:meta])* $trait:ident, $spec:ident, [$(($In:ident, $A:ident)),+]) => {
        $(#[$doc])*
        pub trait $trait<CI, CO, K, S, P, OP, G, D>: Shape {
            /// The output shape.
            type Output: Shape;
            /// The output shape value (the batch kept).
            fn transposed(&self) -> Self::Output;
            /// The window of the convolution that maps the output back to this input: its
            /// `input` is the output's size, its `output` this input's size.
            fn window() -> Window3;
        }

        impl<Bt, C2, $($In,)+ CI, CO, K, S, P, OP, G, D> $trait<CI, CO, K, S, P, OP, G, D>
            for (Bt, C2, $($In,)+)
        where
            Bt: Dim,
            C2: Dim + InChannels<CI>,
            $($In: ConstDim,)+
            CI: ConstDim,
            CO: ConstDim,
            K: $spec<$($A: ConstDim),+>,
            S: $spec<$($A: ConstDim),+>,
            P: $spec<$($A: ConstDim),+>,
            OP: $spec,
            D: $spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            $(($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A): ConvTransposeOutput,)+
        {
            type Output = (Bt, CO, $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output,)+);
            fn transposed(&self) -> Self::Output {
                (self.0, CO::default(), $(<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output::default(),)+)
            }
            fn window() -> Window3 {
                Window3 {
                    input: right3(&[$(<<($In, <K as $spec>::$A, <S as $spec>::$A, <P as $spec>::$A, <D as $spec>::$A, <OP as $spec>::$A) as ConvTransposeOutput>::Output as ConstDim>::SIZE),+], 1),
                    kernel: right3(&[$(<K as $spec>::$A::SIZE),+], 1),
                    stride: right3(&[$(<S as $spec>::$A::SIZE),+], 1),
                    padding: right3(&[$(<P as $spec>::$A::SIZE),+], 0),
                    dilation: right3(&[$(<D as $spec>::$A::SIZE),+], 1),
                    output: right3(&[$($In::SIZE),+], 1),
                }
            }
        }
    };
}
conv_transpose_shape!(
    /// The shape a transposed convolution of an `(N, C, L)` tensor makes, for `<in, out,
    /// kernel, stride, padding, output_padding, groups, dilation>` (PyTorch's order); written
    /// once for the op, the layer and the functional form.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::ConvTranspose1dShape;
    /// type Y = <(U1, U4, U8) as ConvTranspose1dShape<U4, U2, U3, U2, U1, U1, U1, U1>>::Output;
    /// assert_eq!(Y::DIMS, &[1, 2, 16]);
    /// ```
    ConvTranspose1dShape, Spec1, [(L, A)]
);
conv_transpose_shape!(
    /// The shape a transposed convolution of an `(N, C, H, W)` tensor makes; see
    /// [`ConvTranspose1dShape`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::ConvTranspose2dShape;
    /// type Y = <(U1, U32, U126, U126) as ConvTranspose2dShape<U32, U64, U3, U1, U0, U0, U1, U1>>::Output;
    /// assert_eq!(Y::DIMS, &[1, 64, 128, 128]);
    /// ```
    ConvTranspose2dShape, Spec2, [(H, A), (W, B)]
);

/// The shape max unpooling an `(N, C, H, W)` tensor makes, with kernel `K`, stride `S` and
/// padding `P` (PyTorch's `(In - 1) * stride - 2 * padding + kernel` per dim); written once for
/// the op and the layer.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::spatial::Unpool2dShape;
/// type Y = <(U1, U3, U2, U3) as Unpool2dShape<U2, U2, U0>>::Output;
/// assert_eq!(Y::DIMS, &[1, 3, 4, 6]);
/// ```
pub trait Unpool2dShape<K, S, P>: Shape {
    /// The unpooled shape.
    type Output: Shape;
    /// The unpooled shape value (the batch and channels kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::spatial::Unpool2dShape;
    /// let s = <(usize, U3, U2, U2) as Unpool2dShape<U2, U2, U0>>::unpooled(&(5, U3::new(), U2::new(), U2::new()));
    /// assert_eq!(s.dims(), [5, 3, 4, 4]);
    /// ```
    fn unpooled(&self) -> Self::Output;
}
impl<Bt, Ch, H, W, K, S, P> Unpool2dShape<K, S, P> for (Bt, Ch, H, W)
where
    Bt: Dim,
    Ch: Dim,
    H: ConstDim,
    W: ConstDim,
    K: Spec2,
    S: Spec2,
    P: Spec2,
    (H, K::A, S::A, P::A, U1, U0): ConvTransposeOutput,
    (W, K::B, S::B, P::B, U1, U0): ConvTransposeOutput,
{
    type Output = (
        Bt,
        Ch,
        <(H, K::A, S::A, P::A, U1, U0) as ConvTransposeOutput>::Output,
        <(W, K::B, S::B, P::B, U1, U0) as ConvTransposeOutput>::Output,
    );
    fn unpooled(&self) -> Self::Output {
        (self.0, self.1, Default::default(), Default::default())
    }
}

/// `(N, C, ..)` with `C` channels and 0 to 3 spatial dims: the shapes batch and group norm
/// take (`C2` may be a runtime dim, checked against `C` when the op runs).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::spatial::Channels;
/// fn channels<X: Channels<C>, C: ConstDim>() -> usize { C::SIZE }
/// assert_eq!(channels::<(usize, U3, U8, U8), U3>(), 3);
/// ```
pub trait Channels<C>: Shape {}
/// `(N, C, ..)` with 1 to 3 spatial dims: the shapes instance norm takes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::spatial::SpatialChannels;
/// fn channels<X: SpatialChannels<C>, C: ConstDim>() -> usize { C::SIZE }
/// assert_eq!(channels::<(U2, U3, U8), U3>(), 3);
/// ```
pub trait SpatialChannels<C>: Channels<C> {}
impl<B: Dim, C2: Dim + InChannels<C>, C> Channels<C> for (B, C2) {}
macro_rules! spatial_channels {
    ($($Sp:ident),+) => {
        impl<B: Dim, C2: Dim + InChannels<C>, $($Sp: Dim,)+ C> Channels<C> for (B, C2, $($Sp,)+) {}
        impl<B: Dim, C2: Dim + InChannels<C>, $($Sp: Dim,)+ C> SpatialChannels<C> for (B, C2, $($Sp,)+) {}
    };
}
spatial_channels!(L);
spatial_channels!(H, W);
spatial_channels!(D, H, W);

/// `Self` groups of `C` channels for group norm: `C % Self == 0` (PyTorch's rule), checked at
/// compile time with the rule's sentence ([`NormGroupsDivide`]).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::spatial::NormGroups;
/// fn per_group<G: NormGroups<C>, C: ConstDim>() -> usize { C::SIZE / G::SIZE }
/// assert_eq!(per_group::<U2, U6>(), 3);
/// ```
pub trait NormGroups<C>: ConstDim {}
impl<G: ConstDim, C> NormGroups<C> for G
where
    C: Rem<G>,
    Mod<C, G>: IsEqual<U0>,
    Eq<Mod<C, G>, U0>: NormGroupsDivide,
{
}
