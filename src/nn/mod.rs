//! Layers with typed output shapes: the output type of every layer is computed at compile time
//! from its type parameters and its input's type, so feeding a layer the wrong input does not
//! compile. Semantics, defaults and initialisation follow PyTorch's `torch.nn`.
//!
//! Every layer implements [`Forward`] for the inputs it accepts (any batch dim, static or
//! runtime; `f32` or `f64`; traced or not). Parameters are ordinary tensors that require grad,
//! so after `loss.backward()` the gradient of `layer.weight` is `grads.get(&layer.weight)`.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{AvgPool2d, Conv2d, Flatten, Linear, Forward};
//! let mut rng = Rng::seed(0);
//! // The seed LeNet's first stages: Conv2d(1, 6, 5, padding=2), AvgPool2d(2), ...
//! let c1 = Conv2d::<U1, U6, U5, U1, U2>::new(&mut rng);
//! let p1 = AvgPool2d::<U2>::new();
//! let c2 = Conv2d::<U6, U16, U5>::new(&mut rng);
//! let fc = Linear::<U400, U120>::new(&mut rng);
//! let x = Tensor::<(U8, U1, U28, U28)>::zeros();
//! let y: Tensor<(U8, U6, U28, U28)> = c1.forward(x);
//! let y: Tensor<(U8, U16, U5, U5)> = p1.forward(c2.forward(p1.forward(y)));
//! let y: Tensor<(U8, U120)> = fc.forward(Flatten::<1, -1>::new().forward(y));
//! assert_eq!(y.dims(), [8, 120]);
//! ```

mod activation;
mod attention;
mod build;
pub mod ceil_mode;
mod conv;
mod distance;
mod dropout;
mod embedding;
pub mod functional;
pub mod in_f64;
pub mod init;
mod linear;
mod module;
mod norm;
mod pad;
mod pool;
mod recurrent;
mod repr;
mod residual;
mod sequential;
mod shuffle;
mod transformer;

pub use crate::ops::PoolIndices;
pub use crate::shape::spatial::*;
pub use activation::*;
pub use attention::*;
pub use build::*;
pub use conv::*;
pub use distance::*;
pub use dropout::*;
pub use embedding::*;
pub use linear::*;
pub use module::*;
pub use norm::*;
pub use pad::*;
pub use pool::*;
pub use recurrent::*;
pub use repr::HyperRepr;
pub use residual::*;
pub use shuffle::*;
pub use stensor_macros::{Build, Module};
pub use transformer::*;

/// A layer (or network) that maps an input of type `X` to [`Forward::Output`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Identity, Forward};
/// let y = Identity.forward(Tensor::<(U2,)>::ones());
/// assert_eq!(y.to_vec(), vec![1.0, 1.0]);
/// ```
pub trait Forward<X> {
    /// The output type, computed from the input type.
    type Output;
    /// Runs the layer.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ReLU};
    /// assert_eq!(ReLU.forward(Tensor::<(U2,)>::from_array([-1.0, 2.0])).to_vec(), vec![0.0, 2.0]);
    /// ```
    fn forward(&self, x: X) -> Self::Output;
}

/// A parameter tensor: it requires grad.
pub(crate) fn param<S: crate::shape::Shape, E: crate::tensor::Element>(
    mut t: crate::Tensor<S, E>,
) -> crate::Tensor<S, E> {
    t.set_requires_grad(true);
    t
}
