//! Networks built straight from a state dict: [`Build`] makes a module from its type and the
//! names a file holds, with no random initialisation and no `Rng`, for a strict load to fill
//! ([`crate::io::load_new`]).
//!
//! A state dict holds tensors, not hyper-parameters. What the type says (sizes, kernel,
//! stride, padding, groups) is exact; what a file says by the names it holds (whether a layer
//! has a bias, whether a norm has an affine transform or running statistics) is read from the
//! names; every other setting is PyTorch's constructor default (`eps=1e-5`, `momentum=0.1`,
//! `LeakyReLU`'s slope 0.01, `Dropout`'s `p=0.5`), as `nn.BatchNorm2d(16)` gives in PyTorch
//! before its `load_state_dict`. Change those on the built network where the model used others.

use super::module::{join, Module};
use super::*;
use crate::shape::spatial::Groups;
use crate::shape::ConstDim;
use crate::tensor::{Element, Tensor};

/// The tensor names a state dict holds, as [`Build`] asks about them.
///
/// ```
/// use stensor::nn::Names;
/// let names = ["fc.weight", "fc.bias"];
/// assert!(names.contains_name("fc.bias") && !names.contains_name("fc"));
/// ```
pub trait Names {
    /// Whether the state dict holds a tensor called `name`.
    ///
    /// ```
    /// use stensor::nn::Names;
    /// assert!(["weight"].contains_name("weight"));
    /// ```
    fn contains_name(&self, name: &str) -> bool;
}

impl<S: AsRef<str>, const N: usize> Names for [S; N] {
    fn contains_name(&self, name: &str) -> bool {
        self.iter().any(|n| n.as_ref() == name)
    }
}

impl<S: AsRef<str>> Names for Vec<S> {
    fn contains_name(&self, name: &str) -> bool {
        self.iter().any(|n| n.as_ref() == name)
    }
}

impl Names for std::collections::BTreeSet<String> {
    fn contains_name(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// A module made from its type and the names of a state dict: the structure its type gives,
/// each optional tensor (a bias, a norm's affine weight and bias, its running statistics)
/// present when the state dict holds its name, every tensor a placeholder for the strict load
/// that follows ([`crate::io::load_new`] does both). Layers implement it; a struct of layers
/// derives it (`#[derive(Module, Build)]`), and so do tuples of layers.
///
/// Settings a state dict does not hold take PyTorch's constructor defaults (see the module
/// docs), since no file can say otherwise.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Build, Conv2d, Linear, Module};
/// let names = ["0.weight", "1.weight", "1.bias"];
/// let net = <(Conv2d<U1, U4, U3>, Linear<U4, U2>)>::build(&names, "");
/// assert!(net.0.bias.is_none() && net.1.bias.is_some());
/// assert_eq!(net.num_params(), 4 * 9 + 2 * 4 + 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built from a state dict alone",
    label = "this module does not implement `Build`",
    note = "a struct of layers gets it with `#[derive(Module, Build)]`; or build the network with its constructors and load the file with `stensor::io::load`"
)]
pub trait Build: Module + Sized {
    /// The module whose tensors are named under `prefix` in `names`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm2d, Build};
    /// let names = ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"];
    /// let bn = BatchNorm2d::<U8>::build(&names, "bn"); // affine=False in the file
    /// assert!(bn.weight.is_none() && bn.track_running_stats);
    /// ```
    fn build(names: &dyn Names, prefix: &str) -> Self;
}

/// Whether `names` holds `name` under `prefix`.
fn has(names: &dyn Names, prefix: &str, name: &str) -> bool {
    names.contains_name(&join(prefix, name))
}

impl<I: ConstDim, O: ConstDim, E: Element> Build for Linear<I, O, E> {
    fn build(names: &dyn Names, prefix: &str) -> Self {
        let bias = has(names, prefix, "bias").then(Tensor::zeros);
        Linear::from_params(Tensor::zeros(), bias)
    }
}

/// The convolutions: weight from the type, bias from the names.
macro_rules! build_conv {
    ($($name:ident [$spec:ident: $($A:ident),+]),+) => {$(
        impl<CI, CO, K, S, P, D, G, M, E> Build for $name<CI, CO, K, S, P, D, G, M, E>
        where
            CI: ConstDim,
            CO: ConstDim,
            K: crate::shape::spatial::$spec<$($A: ConstDim),+>,
            G: Groups<CI, CO>,
            E: Element,
            Self: Module,
        {
            fn build(names: &dyn Names, prefix: &str) -> Self {
                let bias = has(names, prefix, "bias").then(Tensor::zeros);
                Self::from_params(Tensor::zeros(), bias)
            }
        }
    )+};
}
build_conv!(
    Conv1d [Spec1: A],
    Conv2d [Spec2: A, B],
    Conv3d [Spec3: A, B, C],
    ConvTranspose1d [Spec1: A],
    ConvTranspose2d [Spec2: A, B]
);

/// Batch and instance norms: the affine pair and the running statistics from the names.
macro_rules! build_running_norm {
    ($($name:ident),+) => {$(
        impl<C: ConstDim, E: Element> Build for $name<C, E> {
            fn build(names: &dyn Names, prefix: &str) -> Self {
                $name::new()
                    .affine(has(names, prefix, "weight"))
                    .track_running_stats(has(names, prefix, "running_mean"))
            }
        }
    )+};
}
build_running_norm!(
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d
);

impl<G: crate::shape::spatial::NormGroups<C>, C: ConstDim, E: Element> Build
    for GroupNorm<G, C, E>
{
    fn build(names: &dyn Names, prefix: &str) -> Self {
        GroupNorm::new().affine(has(names, prefix, "weight"))
    }
}

impl<NS: crate::shape::ConstShape, E: Element> Build for LayerNorm<NS, E> {
    fn build(names: &dyn Names, prefix: &str) -> Self {
        let mut ln = LayerNorm::new().elementwise_affine(has(names, prefix, "weight"));
        if !has(names, prefix, "bias") {
            ln.bias = None;
        }
        ln
    }
}

/// Layers whose every tensor (if any) is always present: PyTorch's defaults.
macro_rules! build_by_default {
    ($([$($g:tt)*] $ty:ty),+ $(,)?) => {$(
        impl<$($g)*> Build for $ty
        where
            Self: Module + Default,
        {
            fn build(_: &dyn Names, _: &str) -> Self {
                Self::default()
            }
        }
    )+};
}
build_by_default!(
    [] Sigmoid,
    [] Tanh,
    [] ReLU,
    [] ReLU6,
    [] SELU,
    [] Tanhshrink,
    [] LogSigmoid,
    [] SiLU,
    [] Mish,
    [] Hardswish,
    [] Hardsigmoid,
    [] LeakyReLU,
    [] ELU,
    [] CELU,
    [] Softplus,
    [] Softshrink,
    [] Hardshrink,
    [] Hardtanh,
    [] GELU,
    [] RReLU,
    [W: ConstDim, E: Element] PReLU<W, E>,
    [const DIM: usize] Softmax<DIM>,
    [const DIM: usize] LogSoftmax<DIM>,
    [const DIM: usize] Softmin<DIM>,
    [] Identity,
    [const START: isize, const END: isize] Flatten<START, END>,
    [const DIM: isize, Sizes] Unflatten<DIM, Sizes>,
    [] Dropout,
    [] Dropout2d,
    [R: ConstDim] PixelShuffle<R>,
    [R: ConstDim] PixelUnshuffle<R>,
    [K, S, P, D, C] MaxPool1d<K, S, P, D, C>,
    [K, S, P, D, C] MaxPool2d<K, S, P, D, C>,
    [K, S, P, D, C] MaxPool3d<K, S, P, D, C>,
    [K, S, P, C] AvgPool1d<K, S, P, C>,
    [K, S, P, C] AvgPool2d<K, S, P, C>,
    [K, S, P, C] AvgPool3d<K, S, P, C>,
    [K, S, P] MaxUnpool2d<K, S, P>,
    [O] AdaptiveAvgPool1d<O>,
    [O] AdaptiveMaxPool1d<O>,
    [OH, OW] AdaptiveAvgPool2d<OH, OW>,
    [OH, OW] AdaptiveMaxPool2d<OH, OW>,
    [M, L, R] Pad1d<M, L, R>,
    [M, L, R, T, B] Pad2d<M, L, R, T, B>,
    [] NoShortcut,
);

impl<M: Build> Build for Box<M> {
    fn build(names: &dyn Names, prefix: &str) -> Self {
        Box::new(M::build(names, prefix))
    }
}

macro_rules! build_tuple {
    ($($M:ident $i:tt),+) => {
        impl<$($M: Build),+> Build for ($($M,)+) {
            fn build(names: &dyn Names, prefix: &str) -> Self {
                ($($M::build(names, &join(prefix, stringify!($i))),)+)
            }
        }
    };
}
super::module::for_each_tuple!(build_tuple);
