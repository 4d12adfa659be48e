//! Type-level dimensions and shapes.
//!
//! A dimension is a type. Static dimensions are `typenum` unsigned integers (`U28`, `U784`,
//! `U<4096>`, [`dim!`](crate::dim)`(150528)`): zero-sized, so a shape of static dimensions costs
//! nothing at run time and every size is known to the compiler. One dimension may instead be a
//! plain `usize`, decided at run time: the *batch* dimension, so a last partial batch or a
//! server's variable batch works with the same network (`Tensor<(usize, U1, U28, U28)>`).
//!
//! A shape is a tuple of dimensions, rank 0 to 5, described by [`Shape`]; shapes whose every
//! dimension is static also implement [`ConstShape`], which knows `NUMEL`, `DIMS` and `STRIDES`
//! as constants.
//!
//! Shape rules (equal inner dimensions of a matrix product, the kernel fitting inside the padded
//! input ...) are trait bounds, checked by `cargo check`. Each rule is a trait in [`rules`]
//! carrying `#[diagnostic::on_unimplemented]`, so the first line of the compiler's error names
//! the rule in words. The output-size arithmetic of the layers lives in [`out`].
//!
//! # Design note: runtime dimensions
//! `usize` implements [`Dim`] next to the typenum integers, rather than a wrapper type: a runtime
//! batch is spelled the way Rust spells sizes, and shape values carry it (`(n, U3::new())`).
//! Operations between two runtime dimensions are checked at run time (and panic on a mismatch,
//! like slice indexing); everything static is checked at compile time.
//!
//! # Design note: sizes in error messages print in binary
//! rustc prints a `typenum` size as its binary type (`UInt<UInt<UTerm, B1>, B0>` for 2); the
//! rule's sentence on the first line says what is wrong, the sizes in the notes are the hard
//! part to read. A dimension type of its own with a const parameter (`C<3>`), `typenum` only
//! underneath for the arithmetic, would make rustc print "`C<4>` channels but the layer
//! expects `C<3>`" and "expected `8`, found `3`" (a probe beside this repository,
//! `shared/research/decimal-dims`). Not adopted: computed sizes need a map back from `typenum` to `C<N>`, one impl per value, and
//! its cost grows faster than its range (its crate alone rebuilt in 0.5 s with 0..=1024 and
//! 5.4 s with 0..=4096 on a 2-vCPU Xeon; 119 s with 0..=16384 on the probe's machine), so the
//! sizes past a few thousand that networks use (flattened features, vocabularies, `4 * d_model`)
//! would still print in binary; and every dimension users write and every bound of every layer
//! and of the derive would change type, a break of the whole API for the notes of an error.

mod attention;
mod axes;
mod axes_gen;
mod features;
pub mod out;
mod recurrent;
pub mod rules;
mod shuffle;
pub mod spatial;

pub use attention::*;
pub use axes::*;
pub use features::*;
pub use recurrent::*;
pub use shuffle::*;

use core::fmt::{self, Debug};
use typenum::{Bit, UInt, UTerm, Unsigned};

/// The largest rank a [`Shape`] may have.
///
/// ```
/// assert_eq!(stensor::shape::MAX_RANK, 5);
/// ```
pub const MAX_RANK: usize = 5;

/// One dimension of a shape: a static `typenum` unsigned integer, or a runtime `usize`.
///
/// ```
/// use stensor::prelude::*;
/// assert_eq!(U7::new().size(), 7);
/// assert_eq!(5usize.size(), 5);
/// assert_eq!(<U<300> as Dim>::from_size(300), Some(U::<300>::new()));
/// assert_eq!(<U3 as Dim>::from_size(4), None);
/// ```
pub trait Dim: Copy + Debug + PartialEq + Send + Sync + 'static {
    /// The size of this dimension.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((U4::new().size(), 9usize.size()), (4, 9));
    /// ```
    fn size(&self) -> usize;
    /// The dimension of size `n`, or `None` if this dimension type cannot be `n` (a static
    /// dimension of another size).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((<usize as Dim>::from_size(3), <U2 as Dim>::from_size(3)), (Some(3), None));
    /// ```
    fn from_size(n: usize) -> Option<Self>;
    /// Writes the dimension for humans: `U3` for a static dimension, `usize=5` at run time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// struct Show<D: Dim>(D);
    /// impl<D: Dim> std::fmt::Display for Show<D> {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.describe(f) }
    /// }
    /// assert_eq!((Show(U3::new()).to_string(), Show(5usize).to_string()), ("U3".to_string(), "usize=5".to_string()));
    /// ```
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// The size of a static dimension, `None` for a runtime one.
    const STATIC: Option<usize>;
}

/// A dimension known at compile time.
///
/// ```
/// use stensor::prelude::*;
/// assert_eq!(<U784 as ConstDim>::SIZE, 784);
/// ```
pub trait ConstDim: Dim + Default + Unsigned {
    /// The size.
    const SIZE: usize;
}

impl Dim for usize {
    fn size(&self) -> usize {
        *self
    }
    fn from_size(n: usize) -> Option<Self> {
        Some(n)
    }
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usize={self}")
    }
    const STATIC: Option<usize> = None;
}

impl Dim for UTerm {
    fn size(&self) -> usize {
        0
    }
    fn from_size(n: usize) -> Option<Self> {
        (n == 0).then_some(UTerm)
    }
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("U0")
    }
    const STATIC: Option<usize> = Some(0);
}
impl ConstDim for UTerm {
    const SIZE: usize = 0;
}

impl<U, B> Dim for UInt<U, B>
where
    U: Unsigned + Dim,
    B: Bit + Debug + PartialEq + Send + Sync,
{
    fn size(&self) -> usize {
        <Self as Unsigned>::USIZE
    }
    fn from_size(n: usize) -> Option<Self> {
        (n == <Self as Unsigned>::USIZE).then(UInt::default)
    }
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U{}", <Self as Unsigned>::USIZE)
    }
    const STATIC: Option<usize> = Some(<Self as Unsigned>::USIZE);
}
impl<U, B> ConstDim for UInt<U, B>
where
    U: Unsigned + Dim,
    B: Bit + Debug + PartialEq + Send + Sync,
{
    const SIZE: usize = <Self as Unsigned>::USIZE;
}

/// The dimensions of a shape at run time: a small fixed array, used as a slice.
///
/// ```
/// use stensor::prelude::*;
/// let d = (U2::new(), U3::new()).dims();
/// assert_eq!(&d[..], &[2, 3]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    len: usize,
    dims: [usize; MAX_RANK],
}

impl Dims {
    /// Dimensions from a slice of at most [`MAX_RANK`] sizes.
    ///
    /// ```
    /// let d = stensor::shape::Dims::new(&[4, 5]);
    /// assert_eq!(d.len(), 2);
    /// ```
    ///
    /// # Panics
    /// If `dims` has more than [`MAX_RANK`] entries.
    pub fn new(dims: &[usize]) -> Self {
        assert!(
            dims.len() <= MAX_RANK,
            "rank {} exceeds {MAX_RANK}",
            dims.len()
        );
        let mut out = [0; MAX_RANK];
        out[..dims.len()].copy_from_slice(dims);
        Dims {
            len: dims.len(),
            dims: out,
        }
    }

    /// The multi-index of the element at row-major position `flat`.
    ///
    /// ```
    /// let d = stensor::shape::Dims::new(&[2, 3, 4]);
    /// assert_eq!(d.index_of(17), vec![1, 1, 1]);
    /// assert_eq!(d.index_of(0), vec![0, 0, 0]);
    /// ```
    pub fn index_of(&self, flat: usize) -> Vec<usize> {
        let mut index = vec![0; self.len];
        let mut rem = flat;
        for (i, &d) in index.iter_mut().zip(&self.dims[..self.len]).rev() {
            *i = rem % d.max(1);
            rem /= d.max(1);
        }
        index
    }

    /// The row-major (C order) strides of these dimensions.
    ///
    /// ```
    /// let d = stensor::shape::Dims::new(&[2, 3, 4]);
    /// assert_eq!(&d.strides()[..], &[12, 4, 1]);
    /// ```
    pub fn strides(&self) -> Dims {
        let mut s = [0; MAX_RANK];
        let mut acc = 1;
        for i in (0..self.len).rev() {
            s[i] = acc;
            acc *= self.dims[i];
        }
        Dims {
            len: self.len,
            dims: s,
        }
    }

    /// The product of the dimensions (1 for rank 0).
    ///
    /// ```
    /// assert_eq!(stensor::shape::Dims::new(&[2, 3, 4]).numel(), 24);
    /// assert_eq!(stensor::shape::Dims::new(&[]).numel(), 1);
    /// ```
    ///
    /// # Panics
    /// If the product overflows `usize` (no buffer can hold such a tensor; constructors that
    /// take runtime dimensions check with [`checked_numel`](Self::checked_numel) first and
    /// return an error).
    pub fn numel(&self) -> usize {
        self.checked_numel()
            .unwrap_or_else(|| panic!("the shape {:?} has more elements than usize holds", &**self))
    }

    /// The product of the dimensions, or `None` if it overflows `usize`.
    ///
    /// ```
    /// use stensor::shape::Dims;
    /// assert_eq!(Dims::new(&[2, 3]).checked_numel(), Some(6));
    /// assert_eq!(Dims::new(&[1 << 62, 5]).checked_numel(), None);
    /// ```
    pub fn checked_numel(&self) -> Option<usize> {
        self.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }
}

impl core::ops::Deref for Dims {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.dims[..self.len]
    }
}

impl<const N: usize> From<[usize; N]> for Dims {
    fn from(d: [usize; N]) -> Self {
        Dims::new(&d)
    }
}

impl<const N: usize> PartialEq<[usize; N]> for Dims {
    fn eq(&self, other: &[usize; N]) -> bool {
        **self == other[..]
    }
}

impl Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(&**self, f)
    }
}

/// A tensor shape: a tuple of [`Dim`]s, rank 0 (`()`) to 5.
///
/// ```
/// use stensor::prelude::*;
/// let s = (3usize, U4::new(), U5::new());
/// assert_eq!(<(usize, U4, U5) as Shape>::RANK, 3);
/// assert_eq!(s.numel(), 60);
/// assert_eq!(&s.dims()[..], &[3, 4, 5]);
/// assert_eq!(&s.strides()[..], &[20, 5, 1]);
/// assert_eq!(<(usize, U4, U5)>::from_dims(&[7, 4, 5]), Some((7, U4::new(), U5::new())));
/// ```
pub trait Shape: Copy + Debug + PartialEq + Send + Sync + 'static {
    /// The number of dimensions.
    const RANK: usize;
    /// A typed multi-index into a tensor of this shape: `[usize; RANK]`.
    type Index: Copy + Debug + AsRef<[usize]> + Send + Sync;
    /// The dimensions at run time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((7usize, U3::new()).dims(), [7, 3]);
    /// ```
    fn dims(&self) -> Dims;
    /// The row-major strides at run time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((U2::new(), U3::new(), U4::new()).strides(), [12, 4, 1]);
    /// ```
    fn strides(&self) -> Dims {
        self.dims().strides()
    }
    /// The number of elements.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((5usize, U3::new()).numel(), 15);
    /// ```
    fn numel(&self) -> usize {
        self.dims().numel()
    }
    /// The shape with these dimensions, or `None` if the rank differs or a static dimension
    /// does not match.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(<(usize, U3)>::from_dims(&[4, 3]), Some((4, U3::new())));
    /// assert_eq!(<(usize, U3)>::from_dims(&[4, 2]), None);
    /// ```
    fn from_dims(dims: &[usize]) -> Option<Self>;
    /// The flat row-major offset of `index`, or `None` if it is out of bounds.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let s = (U2::new(), U3::new());
    /// assert_eq!((s.offset([1, 2]), s.offset([2, 0])), (Some(5), None));
    /// ```
    fn offset(&self, index: Self::Index) -> Option<usize> {
        let dims = self.dims();
        let mut off = 0;
        for (i, &ix) in index.as_ref().iter().enumerate() {
            if ix >= dims[i] {
                return None;
            }
            off = off * dims[i] + ix;
        }
        Some(off)
    }
    /// Writes the shape for humans: `(U2, U3)`, `(usize=5, U784)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// struct Show<S: Shape>(S);
    /// impl<S: Shape> std::fmt::Display for Show<S> {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.describe(f) }
    /// }
    /// assert_eq!(Show((5usize, U784::new())).to_string(), "(usize=5, U784)");
    /// ```
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Each dimension's static size, `None` for a runtime dimension (entries past `RANK` are
    /// `None`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(<(usize, U3)>::static_dims()[..3], [None, Some(3), None]);
    /// ```
    fn static_dims() -> [Option<usize>; MAX_RANK];
    /// The typed index whose entries are `idx` (`idx.len() == RANK`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(<(U2, U3)>::index_from_slice(&[1, 2]), [1, 2]);
    /// ```
    fn index_from_slice(idx: &[usize]) -> Self::Index;
}

/// A shape whose every dimension is static: its element count, dimensions and strides are
/// constants.
///
/// ```
/// use stensor::prelude::*;
/// type S = (U2, U3, U4);
/// assert_eq!(S::NUMEL, 24);
/// assert_eq!(S::DIMS, &[2, 3, 4]);
/// assert_eq!(S::STRIDES, &[12, 4, 1]);
/// const N: usize = <(U8, U8) as ConstShape>::NUMEL; // usable in const context
/// assert_eq!(N, 64);
/// ```
pub trait ConstShape: Shape + Default {
    /// The number of elements.
    const NUMEL: usize;
    /// The dimensions.
    const DIMS: &'static [usize];
    /// The row-major strides.
    const STRIDES: &'static [usize];
}

/// A helper that formats any [`Shape`] with [`Shape::describe`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ShapeDisplay;
/// assert_eq!(ShapeDisplay(&(4usize, U3::new())).to_string(), "(usize=4, U3)");
/// ```
pub struct ShapeDisplay<'a, S: Shape>(pub &'a S);

impl<S: Shape> fmt::Display for ShapeDisplay<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f)
    }
}

impl Shape for () {
    const RANK: usize = 0;
    type Index = [usize; 0];
    fn dims(&self) -> Dims {
        Dims::new(&[])
    }
    fn from_dims(dims: &[usize]) -> Option<Self> {
        dims.is_empty().then_some(())
    }
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("()")
    }
    fn static_dims() -> [Option<usize>; MAX_RANK] {
        [None; MAX_RANK]
    }
    fn index_from_slice(_: &[usize]) -> [usize; 0] {
        []
    }
}
impl ConstShape for () {
    const NUMEL: usize = 1;
    const DIMS: &'static [usize] = &[];
    const STRIDES: &'static [usize] = &[];
}

macro_rules! tuple_shape {
    ($rank:literal; $($D:ident $i:tt),+) => {
        impl<$($D: Dim),+> Shape for ($($D,)+) {
            const RANK: usize = $rank;
            type Index = [usize; $rank];
            fn dims(&self) -> Dims {
                Dims::new(&[$(self.$i.size()),+])
            }
            fn from_dims(dims: &[usize]) -> Option<Self> {
                if dims.len() != $rank {
                    return None;
                }
                Some(($($D::from_size(dims[$i])?,)+))
            }
            fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("(")?;
                $(
                    if $i > 0 { f.write_str(", ")?; }
                    self.$i.describe(f)?;
                )+
                if $rank == 1 { f.write_str(",")?; }
                f.write_str(")")
            }
            fn static_dims() -> [Option<usize>; MAX_RANK] {
                let mut out = [None; MAX_RANK];
                $( out[$i] = $D::STATIC; )+
                out
            }
            fn index_from_slice(idx: &[usize]) -> [usize; $rank] {
                let mut out = [0; $rank];
                out.copy_from_slice(idx);
                out
            }
        }
        impl<$($D: ConstDim),+> ConstShape for ($($D,)+) {
            const NUMEL: usize = 1 $(* $D::SIZE)+;
            const DIMS: &'static [usize] = &[$($D::SIZE),+];
            const STRIDES: &'static [usize] = &const_strides([$($D::SIZE),+]);
        }
    };
}

const fn const_strides<const N: usize>(dims: [usize; N]) -> [usize; N] {
    let mut s = [0; N];
    let mut acc = 1;
    let mut i = N;
    while i > 0 {
        i -= 1;
        s[i] = acc;
        acc *= dims[i];
    }
    s
}

tuple_shape!(1; A 0);
tuple_shape!(2; A 0, B 1);
tuple_shape!(3; A 0, B 1, C 2);
tuple_shape!(4; A 0, B 1, C 2, D 3);
tuple_shape!(5; A 0, B 1, C 2, D 3, E 4);
