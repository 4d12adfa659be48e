//! The shapes a linear map over the last dimension takes and makes.

use super::rules::InFeatures;
use super::{ConstDim, Dim, Shape};

/// A shape whose last dimension holds `I` features, and the shape with `O` there instead: what
/// `F.linear` and `nn.Linear` take and make, at any rank from 1 to 5 (the leading dims kept,
/// static or runtime). The last dim may be a runtime one, checked against `I` when the op
/// runs; a static one must equal `I` (a compile error with the rule's sentence otherwise).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::LinearShape;
/// type Y = <(usize, U7, U4) as LinearShape<U4, U2>>::Output;
/// assert_eq!(Y::static_dims()[..3], [None, Some(7), Some(2)]);
/// ```
pub trait LinearShape<I, O>: Shape {
    /// The shape with `O` features.
    type Output: Shape;
    /// The output shape value (the leading dims kept).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::LinearShape;
    /// assert_eq!(<(usize, U4) as LinearShape<U4, U2>>::mapped(&(6, U4::new())), (6, U2::new()));
    /// ```
    fn mapped(&self) -> Self::Output;
}

macro_rules! linear_shape {
    ($($L:ident),*) => {
        impl<$($L: Dim,)* I2: Dim + InFeatures<I>, I, O: ConstDim> LinearShape<I, O> for ($($L,)* I2,) {
            type Output = ($($L,)* O,);
            #[allow(non_snake_case)]
            fn mapped(&self) -> Self::Output {
                let ($($L,)* _,) = *self;
                ($($L,)* O::default(),)
            }
        }
    };
}
linear_shape!();
linear_shape!(A);
linear_shape!(A, B);
linear_shape!(A, B, C);
linear_shape!(A, B, C, D);
