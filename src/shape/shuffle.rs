//! The shapes of PyTorch's `pixel_shuffle` and `pixel_unshuffle`: `(*, C * r^2, H, W)` and
//! `(*, C, H * r, W * r)` map to each other, for `(C, H, W)` images and `(N, C, H, W)` batches.
//! The batch may be a runtime dimension; channels, height and width are static, so the
//! divisibility rules are checked at compile time with the rule's sentence
//! ([`ShuffleChannelsDivide`], [`UnshuffleSizeDivides`], [`ShuffleFactorNonZero`]).

use super::rules::{ShuffleChannelsDivide, ShuffleFactorNonZero, UnshuffleSizeDivides};
use super::{ConstDim, Dim, Shape};
use core::ops::{BitAnd, Div, Mul, Rem};
use typenum::{And, Eq, Gr, IsEqual, IsGreater, Max, Maximum, Mod, Prod, Quot, U0, U1};

/// The factor as a divisor: `R`, or 1 when `R` is 0 (which [`ShuffleFactorNonZero`] rejects),
/// so that a zero factor reports the rule instead of a division by zero inside `typenum`.
type Safe<R> = Maximum<R, U1>;
/// `R * R` of the safe factor.
type Square<R> = Prod<Safe<R>, Safe<R>>;

/// The shape `pixel_shuffle` with upscale factor `R` makes of this one.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::PixelShuffleShape;
/// type Y = <(usize, U12, U2, U3) as PixelShuffleShape<U2>>::Output;
/// assert_eq!(Y::static_dims()[..4], [None, Some(3), Some(4), Some(6)]);
/// ```
pub trait PixelShuffleShape<R>: Shape {
    /// `(*, C / R^2, H * R, W * R)`.
    type Output: Shape;
    /// The output shape value (the batch, if any, kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::PixelShuffleShape;
    /// let s = <(usize, U8, U2, U2) as PixelShuffleShape<U2>>::shuffled(&(3, U8::new(), U2::new(), U2::new()));
    /// assert_eq!(s.dims(), [3, 2, 4, 4]);
    /// ```
    fn shuffled(&self) -> Self::Output;
}

/// The shape `pixel_unshuffle` with downscale factor `R` makes of this one.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::PixelUnshuffleShape;
/// type Y = <(U3, U4, U6) as PixelUnshuffleShape<U2>>::Output;
/// assert_eq!(Y::DIMS, &[12, 2, 3]);
/// ```
pub trait PixelUnshuffleShape<R>: Shape {
    /// `(*, C * R^2, H / R, W / R)`.
    type Output: Shape;
    /// The output shape value (the batch, if any, kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::PixelUnshuffleShape;
    /// let s = <(usize, U2, U4, U4) as PixelUnshuffleShape<U2>>::unshuffled(&(3, U2::new(), U4::new(), U4::new()));
    /// assert_eq!(s.dims(), [3, 8, 2, 2]);
    /// ```
    fn unshuffled(&self) -> Self::Output;
}

/// What the factor `R` must satisfy for channels `C` to shuffle: `R >= 1`, `R^2` divides `C`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ShuffleRule;
/// assert_eq!(<<U3 as ShuffleRule<U18>>::Channels as ConstDim>::SIZE, 2);
/// ```
pub trait ShuffleRule<C>: ConstDim {
    /// `C / R^2`.
    type Channels: ConstDim;
}
impl<R, C> ShuffleRule<C> for R
where
    R: ConstDim + IsGreater<U0> + Max<U1>,
    Gr<R, U0>: ShuffleFactorNonZero,
    Safe<R>: Mul<Safe<R>>,
    C: Rem<Square<R>> + Div<Square<R>>,
    Mod<C, Square<R>>: IsEqual<U0>,
    Eq<Mod<C, Square<R>>, U0>: ShuffleChannelsDivide,
    Quot<C, Square<R>>: ConstDim,
{
    type Channels = Quot<C, Square<R>>;
}

/// What the factor `R` must satisfy for an `H x W` image to unshuffle: `R >= 1` divides both.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::UnshuffleRule;
/// type R = U2;
/// assert_eq!(<<R as UnshuffleRule<U4, U6>>::Width as ConstDim>::SIZE, 3);
/// ```
pub trait UnshuffleRule<H, W>: ConstDim {
    /// `H / R`.
    type Height: ConstDim;
    /// `W / R`.
    type Width: ConstDim;
}
impl<R, H, W> UnshuffleRule<H, W> for R
where
    R: ConstDim + IsGreater<U0> + Max<U1>,
    Gr<R, U0>: ShuffleFactorNonZero,
    H: Rem<Safe<R>> + Div<Safe<R>>,
    W: Rem<Safe<R>> + Div<Safe<R>>,
    Mod<H, Safe<R>>: IsEqual<U0>,
    Mod<W, Safe<R>>: IsEqual<U0>,
    Eq<Mod<H, Safe<R>>, U0>: BitAnd<Eq<Mod<W, Safe<R>>, U0>>,
    And<Eq<Mod<H, Safe<R>>, U0>, Eq<Mod<W, Safe<R>>, U0>>: UnshuffleSizeDivides,
    Quot<H, Safe<R>>: ConstDim,
    Quot<W, Safe<R>>: ConstDim,
{
    type Height = Quot<H, Safe<R>>;
    type Width = Quot<W, Safe<R>>;
}

impl<R, C, H, W> PixelShuffleShape<R> for (C, H, W)
where
    R: ShuffleRule<C>,
    C: ConstDim,
    H: ConstDim + Mul<R>,
    W: ConstDim + Mul<R>,
    Prod<H, R>: ConstDim,
    Prod<W, R>: ConstDim,
{
    type Output = (R::Channels, Prod<H, R>, Prod<W, R>);
    fn shuffled(&self) -> Self::Output {
        Default::default()
    }
}

impl<R, C, H, W> PixelUnshuffleShape<R> for (C, H, W)
where
    R: UnshuffleRule<H, W> + Mul<R>,
    C: ConstDim + Mul<Prod<R, R>>,
    H: ConstDim,
    W: ConstDim,
    Prod<C, Prod<R, R>>: ConstDim,
{
    type Output = (Prod<C, Prod<R, R>>, R::Height, R::Width);
    fn unshuffled(&self) -> Self::Output {
        Default::default()
    }
}

/// A batch in front: `(N, C, H, W)` maps as each `(C, H, W)` image does.
macro_rules! batched {
    ($($trait:ident :: $method:ident),+) => {$(
        impl<R, N, C, H, W> $trait<R> for (N, C, H, W)
        where
            N: Dim,
            (C, H, W): $trait<R, Output: ConstDims3>,
            C: ConstDim,
            H: ConstDim,
            W: ConstDim,
        {
            type Output = Batched<N, <(C, H, W) as $trait<R>>::Output>;
            fn $method(&self) -> Self::Output {
                <(C, H, W) as $trait<R>>::Output::batched(self.0)
            }
        }
    )+};
}
batched!(PixelShuffleShape::shuffled, PixelUnshuffleShape::unshuffled);

/// A `(C, H, W)` shape of static dims, which a batch dimension can be put in front of.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ConstDims3;
/// let s: (usize, U3, U4, U5) = <(U3, U4, U5)>::batched(7usize);
/// assert_eq!(s.0, 7);
/// ```
pub trait ConstDims3: Shape {
    /// `(N, C, H, W)`.
    type Batched<N: Dim>: Shape;
    /// The batched shape value: `(n, C, H, W)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::ConstDims3;
    /// let s = <(U1, U2, U2)>::batched(U8::new());
    /// assert_eq!(s.numel(), 32);
    /// ```
    fn batched<N: Dim>(n: N) -> Self::Batched<N>;
}
impl<C: ConstDim, H: ConstDim, W: ConstDim> ConstDims3 for (C, H, W) {
    type Batched<N: Dim> = (N, C, H, W);
    fn batched<N: Dim>(n: N) -> (N, C, H, W) {
        (n, C::default(), H::default(), W::default())
    }
}
/// `(N, C, H, W)` from a batch `N` and a static `(C, H, W)`.
type Batched<N, S> = <S as ConstDims3>::Batched<N>;
