//! The element types a tensor can hold: `f32` and `f64`.

use num_traits::{Float, FloatConst};
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// A tensor element: `f32` (the fast path: SIMD kernels) or `f64` (a correct generic path, used
/// by gradient checks).
///
/// ```
/// use stensor::tensor::Element;
/// assert_eq!(<f32 as Element>::NAME, "f32");
/// assert!(!<f32 as Element>::PRINTS_DTYPE && <f64 as Element>::PRINTS_DTYPE);
/// assert_eq!(<f64 as Element>::from_f64(0.5), 0.5);
/// assert!((0.5f64.erf() - 0.5204998778130465).abs() < 1e-15);
/// ```
pub trait Element:
    Float + FloatConst + Default + Debug + Display + Sum + Send + Sync + 'static
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Whether a printed tensor names its dtype: not for `f32`, PyTorch's default dtype.
    const PRINTS_DTYPE: bool;
    /// Converts from `f64` (rounding for `f32`).
    ///
    /// ```
    /// use stensor::tensor::Element;
    /// assert_eq!(<f32 as Element>::from_f64(0.1), 0.1f32);
    /// ```
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exactly).
    ///
    /// ```
    /// use stensor::tensor::Element;
    /// assert_eq!(Element::as_f64(0.5f32), 0.5f64);
    /// ```
    fn as_f64(self) -> f64;
    /// Converts from `usize`.
    ///
    /// ```
    /// use stensor::tensor::Element;
    /// assert_eq!(<f64 as Element>::from_usize(7), 7.0);
    /// ```
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
    /// The error function (for the exact GELU).
    ///
    /// ```
    /// use stensor::tensor::Element;
    /// assert_eq!(Element::erf(0.0f64), 0.0);
    /// assert!((Element::erf(1.0f64) - 0.8427007929497149).abs() < 1e-15);
    /// ```
    fn erf(self) -> Self;
    /// The values as a type-erased view (for state dicts and printing).
    ///
    /// ```
    /// use stensor::tensor::{Element, Values};
    /// assert!(matches!(<f64 as Element>::values(&[1.0, 2.0]), Values::F64(v) if v.len() == 2));
    /// ```
    fn values(s: &[Self]) -> Values<'_>;
    /// The values as a type-erased mutable view.
    ///
    /// ```
    /// use stensor::tensor::{Element, ValuesMut};
    /// let mut v = [1.0f32];
    /// if let ValuesMut::F32(s) = <f32 as Element>::values_mut(&mut v) { s[0] = 2.0 }
    /// assert_eq!(v, [2.0]);
    /// ```
    fn values_mut(s: &mut [Self]) -> ValuesMut<'_>;
    /// The slice inside a type-erased view, if it holds this element type.
    ///
    /// ```
    /// use stensor::tensor::{Element, ValuesMut};
    /// let mut v = [1.0f32];
    /// assert!(<f64 as Element>::from_values_mut(ValuesMut::F32(&mut v)).is_none());
    /// assert_eq!(<f32 as Element>::from_values_mut(ValuesMut::F32(&mut v)).map(|s| s.len()), Some(1));
    /// ```
    fn from_values_mut(v: ValuesMut<'_>) -> Option<&mut [Self]>;
    /// Whether the `f32` vector kernels serve this type (`f32`), or the generic path (`f64`).
    #[doc(hidden)]
    const VECTOR_KERNELS: bool = false;
    /// `s` as the `f32` values the vector kernels take, where this type is `f32`.
    #[doc(hidden)]
    fn as_vector(_s: &[Self]) -> Option<&[f32]> {
        None
    }
    /// `s` as `f32` values, mutably, where this type is `f32`.
    #[doc(hidden)]
    fn as_vector_mut(_s: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    /// A vector kernel's new `f32` buffer as this type's, where this type is `f32`.
    #[doc(hidden)]
    fn from_vector(_v: Vec<f32>) -> Option<Vec<Self>> {
        None
    }
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    const PRINTS_DTYPE: bool = false;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn erf(self) -> Self {
        libm::erff(self)
    }
    fn values(s: &[Self]) -> Values<'_> {
        Values::F32(s)
    }
    fn values_mut(s: &mut [Self]) -> ValuesMut<'_> {
        ValuesMut::F32(s)
    }
    fn from_values_mut(v: ValuesMut<'_>) -> Option<&mut [Self]> {
        match v {
            ValuesMut::F32(s) => Some(s),
            _ => None,
        }
    }
    const VECTOR_KERNELS: bool = true;
    fn as_vector(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_vector_mut(s: &mut [f32]) -> Option<&mut [f32]> {
        Some(s)
    }
    fn from_vector(v: Vec<f32>) -> Option<Vec<f32>> {
        Some(v)
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";
    const PRINTS_DTYPE: bool = true;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn values(s: &[Self]) -> Values<'_> {
        Values::F64(s)
    }
    fn values_mut(s: &mut [Self]) -> ValuesMut<'_> {
        ValuesMut::F64(s)
    }
    fn from_values_mut(v: ValuesMut<'_>) -> Option<&mut [Self]> {
        match v {
            ValuesMut::F64(s) => Some(s),
            _ => None,
        }
    }
}

/// Borrowed tensor values of any element type (what state dicts and printing see).
///
/// ```
/// use stensor::tensor::{Element, Values};
/// assert!(matches!(f32::values(&[1.0]), Values::F32(_)));
/// assert_eq!(Values::I64(&[3]).len(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Values<'a> {
    /// `f32` values.
    F32(&'a [f32]),
    /// `f64` values.
    F64(&'a [f64]),
    /// `i64` values (counters such as batch norm's `num_batches_tracked`).
    I64(&'a [i64]),
}

impl Values<'_> {
    /// The number of values.
    ///
    /// ```
    /// use stensor::tensor::Values;
    /// assert_eq!(Values::F32(&[1.0, 2.0]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
        }
    }
    /// Whether there are none.
    ///
    /// ```
    /// use stensor::tensor::Values;
    /// assert!(Values::F64(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The element type's name: `"f32"`, `"f64"` or `"i64"`.
    ///
    /// ```
    /// use stensor::tensor::Values;
    /// assert_eq!(Values::I64(&[3]).dtype(), "i64");
    /// ```
    pub fn dtype(&self) -> &'static str {
        match self {
            Values::F32(_) => "f32",
            Values::F64(_) => "f64",
            Values::I64(_) => "i64",
        }
    }
}

/// Mutable tensor values of any element type.
///
/// ```
/// use stensor::tensor::{Element, ValuesMut};
/// let mut v = [1.0f64];
/// if let ValuesMut::F64(s) = f64::values_mut(&mut v) { s[0] = 2.0; }
/// assert_eq!(v, [2.0]);
/// ```
#[derive(Debug, PartialEq)]
pub enum ValuesMut<'a> {
    /// `f32` values.
    F32(&'a mut [f32]),
    /// `f64` values.
    F64(&'a mut [f64]),
    /// `i64` values.
    I64(&'a mut [i64]),
}
