//! The error type for run-time failures: data whose length or dimensions do not fit a shape, or
//! a run-time shape too large to allocate.
//!
//! Shape errors between tensors are compile errors; what is left for run time is data that
//! arrives at run time (a `Vec` of the wrong length, dimensions read from a file).

use std::fmt;

/// A run-time failure. It names what was expected and what was found.
///
/// ```
/// use stensor::prelude::*;
/// let err = Tensor::<(U2, U3)>::from_vec(vec![1.0; 5]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "data of length 5 does not fit a tensor of shape [2, 3] (6 elements)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A flat buffer whose length is not the shape's number of elements.
    Length {
        /// The shape's dimensions.
        dims: Vec<usize>,
        /// The buffer's length.
        found: usize,
    },
    /// A shape too large to allocate (its element count overflows, or the memory is not
    /// there), from a `try_` constructor.
    TooLarge {
        /// The shape's dimensions.
        dims: Vec<usize>,
        /// The bytes it needs (`None` when that count overflows).
        bytes: Option<usize>,
    },
    /// Dimensions that do not match a shape (rank, or a static dimension).
    Dims {
        /// The dimensions the shape type can take (`None` for a runtime dimension).
        expected: Vec<Option<usize>>,
        /// The dimensions found.
        found: Vec<usize>,
    },
    /// Two tensors whose runtime dimensions must agree but do not, from a `try_` op (e.g.
    /// joining sequences whose lengths the data decides).
    Mismatch {
        /// The op.
        op: String,
        /// The left operand's dimensions.
        left: Vec<usize>,
        /// The right operand's dimensions.
        right: Vec<usize>,
    },
    /// An index (a token id, a gather index) outside the axis or table it indexes.
    Index {
        /// The op.
        op: String,
        /// The index found.
        index: i64,
        /// The size it must be below.
        size: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Length { dims, found } => match crate::shape::Dims::new(dims).checked_numel() {
                Some(n) => write!(
                    f,
                    "data of length {found} does not fit a tensor of shape {dims:?} ({n} elements)"
                ),
                None => write!(
                    f,
                    "data of length {found} does not fit a tensor of shape {dims:?} (more elements than memory can address)"
                ),
            },
            Error::TooLarge { dims, bytes } => match bytes {
                Some(b) => write!(
                    f,
                    "a tensor of shape {dims:?} needs {b} bytes, which could not be allocated"
                ),
                None => write!(
                    f,
                    "a tensor of shape {dims:?} has more elements than memory can address"
                ),
            },
            Error::Dims { expected, found } => {
                let exp: Vec<String> = expected
                    .iter()
                    .map(|d| d.map_or("usize".to_string(), |d| d.to_string()))
                    .collect();
                write!(
                    f,
                    "dimensions {found:?} do not fit a tensor of shape [{}]",
                    exp.join(", ")
                )
            }
            Error::Mismatch { op, left, right } => {
                write!(f, "{op}: runtime dimensions differ ({left:?} vs {right:?})")
            }
            Error::Index { op, index, size } => {
                write!(f, "{op}: index {index} is out of range for size {size}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
///
/// ```
/// fn parse(v: Vec<f32>) -> stensor::Result<stensor::Tensor<(stensor::dims::U2,)>> {
///     stensor::Tensor::from_vec(v)
/// }
/// assert!(parse(vec![1.0, 2.0]).is_ok());
/// assert!(parse(vec![1.0]).is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
