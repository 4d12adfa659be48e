//! `Linear`, `Identity`, `Flatten` and `Unflatten`.

use super::repr::{py_bool, HyperRepr};
use super::{init, param, Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::{ConstDim, FlattenDims, LinearShape, UnflattenDim};
use crate::tensor::{Element, Rng, Tensor};

/// `y = x W^T + b` over the last dimension (PyTorch's `nn.Linear(I, O, bias)`), for inputs of
/// rank 1 to 5 whose last dim is `I`. The weight is `(O, I)` as in PyTorch.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, Forward};
/// let fc = Linear::<U3, U4>::new(&mut Rng::seed(0));
/// let x: Tensor<(U2, U3)> = Tensor::ones();
/// let y: Tensor<(U2, U4)> = fc.forward(x);
/// // any leading dims, including a runtime batch
/// let z: Tensor<(usize, U5, U4)> = fc.forward(Tensor::<(usize, U5, U3)>::zeros_shaped((7, U5::new(), U3::new())));
/// assert_eq!((y.dims(), z.dims()), ([2, 4].into(), [7, 5, 4].into()));
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct Linear<I: ConstDim, O: ConstDim, E: Element = f32> {
    /// `(out_features, in_features)`.
    #[module(param)]
    pub weight: Tensor<(O, I), E>,
    /// `(out_features,)`, if the layer has a bias.
    #[module(param)]
    pub bias: Option<Tensor<(O,), E>>,
}

impl<I: ConstDim, O: ConstDim, E: Element> Linear<I, O, E> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        let bias = py_bool(self.bias.is_some());
        format!(
            "in_features={}, out_features={}, bias={bias}",
            I::SIZE,
            O::SIZE
        )
    }

    /// With a bias, initialised like PyTorch: weight and bias from `U(-1/sqrt(I), 1/sqrt(I))`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// let fc = Linear::<U16, U2>::new(&mut Rng::seed(1));
    /// assert!(fc.weight.to_vec().iter().all(|w| w.abs() <= 0.25));
    /// assert!(fc.bias.is_some());
    /// ```
    pub fn new(rng: &mut Rng) -> Self {
        let weight = init::default_uniform(I::SIZE, rng);
        let bias = Some(init::default_uniform(I::SIZE, rng));
        Linear { weight, bias }
    }

    /// Without a bias (`bias=False`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// assert!(Linear::<U4, U3>::without_bias(&mut Rng::seed(1)).bias.is_none());
    /// ```
    pub fn without_bias(rng: &mut Rng) -> Self {
        Linear {
            weight: init::default_uniform(I::SIZE, rng),
            bias: None,
        }
    }

    /// From given parameters (marked as requiring grad).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Forward};
    /// let fc = Linear::from_params(Tensor::<(U1, U2)>::from_array([[1.0, 2.0]]), None);
    /// assert_eq!(fc.forward(Tensor::<(U2,)>::from_array([3.0, 4.0])).to_vec(), vec![11.0]);
    /// ```
    pub fn from_params(weight: Tensor<(O, I), E>, bias: Option<Tensor<(O,), E>>) -> Self {
        Linear {
            weight: param(weight),
            bias: bias.map(param),
        }
    }
}

impl<X, I, O, E, T> Forward<Tensor<X, E, T>> for Linear<I, O, E>
where
    X: LinearShape<I, O>,
    I: ConstDim,
    O: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<X::Output, E, T>;
    fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
        x.linear(&self.weight, self.bias.as_ref())
    }
}

/// Returns its input (PyTorch's `nn.Identity`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Identity, Forward};
/// let x = Tensor::<(U2, U2)>::arange();
/// assert_eq!(Identity.forward(x.clone()).to_vec(), x.to_vec());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
#[module(leaf)]
pub struct Identity;

impl<X> Forward<X> for Identity {
    type Output = X;
    fn forward(&self, x: X) -> X {
        x
    }
}

/// Merges dims `START..=END` (PyTorch's `nn.Flatten(start_dim=1, end_dim=-1)`; negative
/// counts from the end).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Flatten, Forward};
/// let y: Tensor<(U8, U400)> = Flatten::<1, -1>::new().forward(Tensor::<(U8, U16, U5, U5)>::zeros());
/// let z: Tensor<(U8, U16, U25)> = Flatten::<2, 3>::new().forward(Tensor::<(U8, U16, U5, U5)>::zeros());
/// assert_eq!((y.dims(), z.dims()), ([8, 400].into(), [8, 16, 25].into()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
#[module(leaf, extra_repr = repr)]
pub struct Flatten<const START: isize = 1, const END: isize = -1>;

impl<const START: isize, const END: isize> Flatten<START, END> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        format!("start_dim={START}, end_dim={END}")
    }

    /// The layer.
    ///
    /// ```
    /// let _f = stensor::nn::Flatten::<1, -1>::new();
    /// ```
    pub fn new() -> Self {
        Flatten
    }
}

impl<const START: isize, const END: isize, S, E, T> Forward<Tensor<S, E, T>> for Flatten<START, END>
where
    S: FlattenDims<START, END>,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<S::Output, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Self::Output {
        x.flatten::<START, END>()
    }
}

/// Splits dim `DIM` into the dims of `Sizes` (PyTorch's `nn.Unflatten(dim, sizes)`); the sizes
/// must multiply to the dim (checked at compile time).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Unflatten};
/// let y: Tensor<(U2, U16, U5, U5)> = Unflatten::<1, (U16, U5, U5)>::new().forward(Tensor::<(U2, U400)>::zeros());
/// assert_eq!(y.dims(), [2, 16, 5, 5]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
#[module(leaf, extra_repr = repr, bounds(Sizes: HyperRepr))]
pub struct Unflatten<const DIM: isize, Sizes>(core::marker::PhantomData<Sizes>);

impl<const DIM: isize, Sizes: HyperRepr> Unflatten<DIM, Sizes> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        format!("dim={DIM}, unflattened_size={}", Sizes::repr())
    }
}

impl<const DIM: isize, Sizes> Unflatten<DIM, Sizes> {
    /// The layer.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _u = stensor::nn::Unflatten::<-1, (U2, U2)>::new();
    /// ```
    pub fn new() -> Self {
        Unflatten(core::marker::PhantomData)
    }
}

impl<const DIM: isize, Sizes, S, E, T> Forward<Tensor<S, E, T>> for Unflatten<DIM, Sizes>
where
    S: UnflattenDim<DIM, Sizes>,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<S::Output, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Self::Output {
        let shape = x.shape().unflatten();
        x.view_as(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn unflatten_inverts_flatten() {
        let x = Tensor::<(U2, U3, U4)>::arange();
        let y = Flatten::<1, 2>::new().forward(x.clone());
        let z: Tensor<(U2, U3, U4)> = Unflatten::<1, (U3, U4)>::new().forward(y);
        assert_eq!(z.to_vec(), x.to_vec());
        let w: Tensor<(U2, U3, U2, U2)> = Unflatten::<-1, (U2, U2)>::new().forward(x.clone());
        assert_eq!(w.to_vec(), x.to_vec());
    }
}
