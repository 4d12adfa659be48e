//! Residual connections: `branch(x) + shortcut(x)` (ResNet's blocks; the shortcut the input
//! itself, or a projection such as torchvision's `downsample`), written once with their bounds
//! so that a block built from them, or derived with `#[module(residual)]`, names none.
//!
//! The sum is checked at compile time: a branch whose output shape differs from the shortcut's
//! (a stride or a channel change without a projection) is an error whose first line is "the
//! residual branch must return its input's shape".
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{BatchNorm2d, Conv2d, Forward, Module, ReLU, Residual};
//! let mut rng = Rng::seed(0);
//! // x + bn(conv(relu(bn(conv(x))))): the shape is kept, so no shortcut projection
//! let block = Residual::new((
//!     Conv2d::<U8, U8, U3, U1, U1>::without_bias(&mut rng),
//!     BatchNorm2d::<U8>::new(),
//!     ReLU,
//!     Conv2d::<U8, U8, U3, U1, U1>::without_bias(&mut rng),
//!     BatchNorm2d::<U8>::new(),
//! ));
//! let y: Tensor<(U2, U8, U6, U6)> = block.forward(Tensor::<(U2, U8, U6, U6)>::ones());
//! assert_eq!(block.named_parameters()[0].0, "branch.0.weight");
//! // no shortcut, so none printed (PyTorch's `downsample=None`)
//! assert!(!block.to_string().contains("shortcut"));
//! ```

use super::{Forward, Module, Summarize, SummaryRow, TensorMut, TensorRef};
use crate::autograd::{MergeTape, TapeMode};
use crate::shape::rules::ResidualShape;
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::any::Any;

/// The sum that closes a residual block: the branch's output plus the shortcut's, which must
/// have the same shape (checked at compile time, with the rule's sentence first).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::ResidualSum;
/// let y = Tensor::<(U2,)>::ones().residual_sum(Tensor::<(U2,)>::full(2.0));
/// assert_eq!(y.to_vec(), vec![3.0, 3.0]);
/// ```
#[diagnostic::on_unimplemented(
    message = "the residual branch must return its input's shape",
    label = "the branch returns `{Self}`, the shortcut `{Rhs}`"
)]
pub trait ResidualSum<Rhs> {
    /// The sum's type.
    type Output;
    /// `self + shortcut`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::ResidualSum;
    /// let x = Tensor::<(U1,), f64>::ones().trace();
    /// let g = x.clone().square().residual_sum(x.clone()).sum().backward();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![3.0]);
    /// ```
    fn residual_sum(self, shortcut: Rhs) -> Self::Output;
}

// Two shapes and a sameness rule, not one shape twice: a mismatch then reports the rule
// (`ResidualShape`) instead of a type mismatch between the two computed shapes.
impl<S, S2, E, T, T2> ResidualSum<Tensor<S2, E, T2>> for Tensor<S, E, T>
where
    S: Shape,
    S2: Shape + ResidualShape<S>,
    E: Element,
    T: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<S, E, T::Output>;
    fn residual_sum(self, shortcut: Tensor<S2, E, T2>) -> Self::Output {
        // The rule made the two shapes equal dim by dim; runtime dims are checked by the view.
        let shortcut = shortcut.view_as(self.shape());
        self.add(&shortcut)
    }
}

/// No projection on the shortcut: the input itself is added (PyTorch's `downsample=None`). It
/// stands for an absent submodule: no parameters, and the printout leaves it out as PyTorch
/// leaves out `None`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Module, NoShortcut};
/// assert_eq!(NoShortcut.forward(Tensor::<(U2,)>::ones()).to_vec(), vec![1.0; 2]);
/// assert!(NoShortcut.is_absent() && NoShortcut.num_params() == 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoShortcut;

impl<X> Forward<X> for NoShortcut {
    type Output = X;
    fn forward(&self, x: X) -> X {
        x
    }
}

impl Module for NoShortcut {
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, TensorRef<'_>)) {}
    fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, TensorMut<'_>)) {}
    fn kind(&self) -> &'static str {
        "NoShortcut"
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn is_absent(&self) -> bool {
        true
    }
}

impl<X> Summarize<X> for NoShortcut {
    fn summary_rows(&self, _prefix: &str, _rows: &mut Vec<SummaryRow>) {}
}

/// `branch(x) + shortcut(x)`: a residual connection around any layer or chain of layers
/// (`branch`), with the input itself as the shortcut (`S = NoShortcut`, [`Residual::new`]) or a
/// projection ([`Residual::with_shortcut`]). Parameters are named `branch.*` and `shortcut.*`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchNorm2d, Conv2d, Forward, Residual};
/// let mut rng = Rng::seed(0);
/// // 8 -> 16 channels at stride 2: the shortcut projects with a strided 1x1 convolution
/// let block = Residual::with_shortcut(
///     (Conv2d::<U8, U16, U3, U2, U1>::without_bias(&mut rng), BatchNorm2d::<U16>::new()),
///     (Conv2d::<U8, U16, U1, U2>::without_bias(&mut rng), BatchNorm2d::<U16>::new()),
/// );
/// let y: Tensor<(U1, U16, U4, U4)> = block.forward(Tensor::<(U1, U8, U8, U8)>::ones());
/// assert_eq!(y.dims(), [1, 16, 4, 4]);
/// ```
#[derive(Clone, Debug, crate::nn::Module, crate::nn::Build)]
#[module(residual)]
pub struct Residual<F, S = NoShortcut> {
    /// The residual branch.
    pub branch: F,
    /// The shortcut's projection.
    #[module(shortcut)]
    pub shortcut: S,
}

impl<F> Residual<F> {
    /// `x + branch(x)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Residual, ReLU};
    /// let y = Residual::new(ReLU).forward(Tensor::<(U2,)>::from_array([-1.0, 2.0]));
    /// assert_eq!(y.to_vec(), vec![-1.0, 4.0]);
    /// ```
    pub fn new(branch: F) -> Self {
        Residual {
            branch,
            shortcut: NoShortcut,
        }
    }
}

impl<F, S> Residual<F, S> {
    /// `branch(x) + shortcut(x)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Linear, Residual};
    /// let mut rng = Rng::seed(0);
    /// let r = Residual::with_shortcut(Linear::<U3, U2>::new(&mut rng), Linear::<U3, U2>::new(&mut rng));
    /// assert_eq!(r.forward(Tensor::<(U5, U3)>::ones()).dims(), [5, 2]);
    /// ```
    pub fn with_shortcut(branch: F, shortcut: S) -> Self {
        Residual { branch, shortcut }
    }
}
