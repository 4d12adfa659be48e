//! The `Module` trait: what every layer and every network built from layers can do besides
//! `forward` (which is [`Forward`](super::Forward), generic over the input). It is object safe,
//! so networks are walked as trees of `&dyn Module`.
//!
//! - Parameters and buffers are visited with their dotted PyTorch names (`conv1.weight`,
//!   `layers.2.bias`, `bn.running_mean`), immutably or mutably, as type-erased views.
//! - `train()` / `eval()` reach every `Dropout`, `RReLU` and normalization layer inside.
//! - `apply(f)` calls `f` on every submodule (children first, then the module, like PyTorch),
//!   and `kind()` / `as_any_mut()` say what each is, so an init function can re-initialise every
//!   convolution.
//! - The printout is PyTorch's `print(model)` ([`ModuleDisplay`]) plus parameter counts.
//!
//! `#[derive(Module)]` implements it for a struct by delegating to its fields; tensors
//! themselves are modules with one entry (a parameter if it requires grad, else a buffer).
//!
//! # Design note: no `zero_grad`
//! Gradients here are the value `backward` returns, not state accumulated on the parameters, so
//! there is nothing to zero: each step's [`Gradients`](crate::autograd::Gradients) is fresh.

use crate::autograd::UniqueId;
use crate::shape::{Dims, Shape};
use crate::tensor::{Element, Tensor, Values, ValuesMut};
use std::any::Any;
use std::fmt;

/// Whether a visited tensor is learned or state.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchNorm1d, Module, TensorKind};
/// let mut kinds = vec![];
/// BatchNorm1d::<U2>::new().visit("", &mut |_, t| kinds.push(t.kind));
/// assert_eq!(kinds, [TensorKind::Parameter, TensorKind::Parameter, TensorKind::Buffer, TensorKind::Buffer, TensorKind::Buffer]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A learnable parameter (requires grad).
    Parameter,
    /// State that is not learned (running statistics).
    Buffer,
}

/// A visited parameter or buffer.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, Module};
/// let mut seen = vec![];
/// Linear::<U3, U2>::new(&mut Rng::seed(0)).visit("fc", &mut |name, t| seen.push((name.to_string(), t.dims.to_vec(), t.values.len())));
/// assert_eq!(seen, [("fc.weight".to_string(), vec![2, 3], 6), ("fc.bias".to_string(), vec![2], 2)]);
/// ```
#[derive(Debug)]
pub struct TensorRef<'a> {
    /// Its id (where its gradient is stored); `None` for buffers that are not tensors.
    pub id: Option<UniqueId>,
    /// Its dimensions.
    pub dims: Dims,
    /// Its values.
    pub values: Values<'a>,
    /// Parameter or buffer.
    pub kind: TensorKind,
}

/// A visited parameter or buffer, mutably.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::tensor::ValuesMut;
/// use stensor::nn::{Linear, Module};
/// let mut fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
/// fc.visit_mut("", &mut |_, t| if let ValuesMut::F32(v) = t.values { v.fill(0.5) });
/// assert_eq!(fc.weight.to_vec(), vec![0.5, 0.5]);
/// ```
#[derive(Debug)]
pub struct TensorMut<'a> {
    /// Its id (where its gradient is stored); `None` for buffers that are not tensors.
    pub id: Option<UniqueId>,
    /// Its dimensions.
    pub dims: Dims,
    /// Its values.
    pub values: ValuesMut<'a>,
    /// Parameter or buffer.
    pub kind: TensorKind,
}

/// `prefix.name`, or `name` at the root.
///
/// ```
/// assert_eq!(stensor::nn::join("net.0", "weight"), "net.0.weight");
/// assert_eq!(stensor::nn::join("", "weight"), "weight");
/// ```
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A layer or a network of layers: named parameters and buffers, submodules, train/eval mode.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv2d, Linear, Module};
/// let mut rng = Rng::seed(0);
/// let net = (Conv2d::<U1, U6, U5>::new(&mut rng), Linear::<U4, U2>::new(&mut rng));
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
/// assert_eq!(net.num_params(), 6 * 25 + 6 + 8 + 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module",
    label = "this field holds no layers or parameters that stensor knows",
    note = "mark a tensor field `#[module(param)]` or `#[module(buffer)]`, a field that holds no parameters `#[module(skip)]`, or implement `stensor::nn::Module` for the type"
)]
pub trait Module: Any {
    /// Calls `f` on each parameter and buffer with its dotted name under `prefix`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module};
    /// let mut names = vec![];
    /// (Linear::<U2, U1>::new(&mut Rng::seed(0)),).visit("net", &mut |n, _| names.push(n.to_string()));
    /// assert_eq!(names, ["net.0.weight", "net.0.bias"]);
    /// ```
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>));
    /// Calls `f` on each parameter and buffer, mutably.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::tensor::ValuesMut;
    /// use stensor::nn::{Linear, Module};
    /// let mut fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// fc.visit_mut("", &mut |_, t| if let ValuesMut::F32(v) = t.values { v.fill(0.0) });
    /// assert_eq!(fc.bias.unwrap().to_vec(), vec![0.0]);
    /// ```
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>));
    /// The direct submodules with their names (none for a layer).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module, ReLU};
    /// let net = (Linear::<U2, U2>::new(&mut Rng::seed(0)), ReLU);
    /// let names: Vec<String> = net.children().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["0", "1"]);
    /// assert!(ReLU.children().is_empty());
    /// ```
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![]
    }
    /// The direct submodules, mutably.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Dropout, Module};
    /// let mut net = (Dropout::new(0.5, 0),);
    /// for (_, c) in net.children_mut() {
    ///     c.set_training(false);
    /// }
    /// assert!(!net.0.is_training());
    /// ```
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![]
    }
    /// Switches this module and everything inside to training (`true`) or evaluation mode.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm1d, Module};
    /// let mut net = (BatchNorm1d::<U2>::new(),);
    /// net.set_training(false);
    /// assert!(!net.0.is_training());
    /// ```
    fn set_training(&mut self, training: bool) {
        for (_, c) in self.children_mut() {
            c.set_training(training);
        }
    }
    /// The module's kind as PyTorch names it: `"Conv2d"`, `"BatchNorm2d"`, `"Sequential"`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm2d, Module};
    /// assert_eq!(BatchNorm2d::<U3>::new().kind(), "BatchNorm2d");
    /// ```
    fn kind(&self) -> &'static str;
    /// PyTorch's `extra_repr`: the settings inside the parentheses of the printout.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module};
    /// assert_eq!(Linear::<U3, U2>::new(&mut Rng::seed(0)).extra_repr(), "in_features=3, out_features=2, bias=True");
    /// ```
    fn extra_repr(&self) -> String {
        String::new()
    }
    /// Whether this module stands for an absent submodule (PyTorch's `None`, as
    /// [`NoShortcut`](super::NoShortcut)): it has no parameters and the printout leaves it out.
    ///
    /// ```
    /// use stensor::nn::{Module, NoShortcut, ReLU};
    /// assert!(NoShortcut.is_absent() && !ReLU.is_absent());
    /// ```
    fn is_absent(&self) -> bool {
        false
    }
    /// `self` as `Any`, to downcast to a concrete layer type.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module};
    /// let mut fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// assert!(fc.as_any_mut().downcast_mut::<Linear<U2, U1>>().is_some());
    /// ```
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// Every parameter's (not buffer's) name and dims.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm1d, Module};
    /// assert_eq!(BatchNorm1d::<U2>::new().named_parameters(), [("weight".to_string(), vec![2]), ("bias".to_string(), vec![2])]);
    /// ```
    fn named_parameters(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![];
        self.visit("", &mut |n, t| {
            if t.kind == TensorKind::Parameter {
                out.push((n.to_string(), t.dims.to_vec()));
            }
        });
        out
    }
    /// Every buffer's name and dims.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm1d, Module};
    /// let names: Vec<String> = BatchNorm1d::<U2>::new().named_buffers().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
    /// ```
    fn named_buffers(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![];
        self.visit("", &mut |n, t| {
            if t.kind == TensorKind::Buffer {
                out.push((n.to_string(), t.dims.to_vec()));
            }
        });
        out
    }
    /// The number of learnable values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module};
    /// assert_eq!(Linear::<U3, U2>::new(&mut Rng::seed(0)).num_params(), 8);
    /// ```
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit("", &mut |_, t| {
            if t.kind == TensorKind::Parameter {
                n += t.values.len();
            }
        });
        n
    }
    /// The ids of the parameters (for gradient clipping).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module};
    /// let fc = Linear::<U3, U2>::new(&mut Rng::seed(0));
    /// assert_eq!(fc.param_ids(), [fc.weight.id(), fc.bias.as_ref().unwrap().id()]);
    /// ```
    fn param_ids(&self) -> Vec<UniqueId> {
        let mut out = vec![];
        self.visit("", &mut |_, t| {
            if let (TensorKind::Parameter, Some(id)) = (t.kind, t.id) {
                out.push(id);
            }
        });
        out
    }
    /// Training mode (PyTorch's `train()`).
    ///
    /// ```
    /// use stensor::nn::{Dropout, Module};
    /// let mut d = Dropout::new(0.5, 0);
    /// Module::eval(&mut d);
    /// Module::train(&mut d);
    /// assert!(d.is_training());
    /// ```
    fn train(&mut self)
    where
        Self: Sized,
    {
        self.set_training(true);
    }
    /// Evaluation mode (PyTorch's `eval()`).
    ///
    /// ```
    /// use stensor::nn::{Dropout, Module};
    /// let mut net = (Dropout::new(0.5, 0),);
    /// net.eval();
    /// assert!(!net.0.is_training());
    /// ```
    fn eval(&mut self)
    where
        Self: Sized,
    {
        self.set_training(false);
    }
    /// The layer / input size / output size table for `f32` input of shape `S`, from the types
    /// alone (for other element types use [`summary`]).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module, ReLU};
    /// let net = (Linear::<U784, U512>::new(&mut Rng::seed(0)), ReLU);
    /// let s = net.summary::<(usize, U784)>();
    /// assert_eq!((s.rows[1].input.as_str(), s.total_params), ("(N, 512)", 784 * 512 + 512));
    /// ```
    fn summary<S: Shape>(&self) -> Summary
    where
        Self: Summarize<Tensor<S, f32>> + Sized,
    {
        summary::<Tensor<S, f32>, Self>(self)
    }
    /// Calls `f` on every submodule, children before parents, this module last (PyTorch's
    /// `apply`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Module, ReLU};
    /// let mut net = (Linear::<U2, U2>::new(&mut Rng::seed(0)), ReLU);
    /// let mut kinds = vec![];
    /// net.apply(&mut |m| kinds.push(m.kind()));
    /// assert_eq!(kinds, ["Linear", "ReLU", "Sequential"]);
    /// ```
    fn apply(&mut self, f: &mut dyn FnMut(&mut dyn Module))
    where
        Self: Sized,
    {
        apply_dyn(self, f);
    }
}

/// [`Module::apply`] on a trait object.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{apply_dyn, Linear, Module, ReLU};
/// let mut net = (Linear::<U2, U2>::new(&mut Rng::seed(0)), ReLU);
/// let mut kinds = vec![];
/// apply_dyn(&mut net, &mut |m| kinds.push(m.kind()));
/// assert_eq!(kinds, ["Linear", "ReLU", "Sequential"]);
/// ```
pub fn apply_dyn(m: &mut dyn Module, f: &mut dyn FnMut(&mut dyn Module)) {
    for (_, c) in m.children_mut() {
        apply_dyn(c, f);
    }
    f(m);
}

/// A field that holds a parameter or buffer: a tensor, or an optional one (a bias that may be
/// absent). A layer declares which it is (`#[module(param)]` or `#[module(buffer)]` with the
/// derive), so a weight counts as a parameter whether or not it happens to require grad: a
/// parameter that does not gets no gradient, and the gradient checks report it instead of
/// skipping it.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Module, TensorKind};
///
/// #[derive(Module)]
/// #[module(leaf)]
/// struct Scale {
///     #[module(param)]
///     weight: Tensor<(U3,)>,
///     #[module(buffer)]
///     shift: Option<Tensor<(U3,)>>,
///     // configuration, not visited
///     eps: f64,
/// }
///
/// let s = Scale { weight: Tensor::ones(), shift: Some(Tensor::zeros()), eps: 0.1 };
/// assert_eq!(s.named_parameters(), [("weight".to_string(), vec![3])]);
/// assert_eq!(s.named_buffers(), [("shift".to_string(), vec![3])]);
/// ```
pub trait ParamField {
    /// Calls `f` on the tensor, if there is one, named `prefix` and reported as `kind`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{ParamField, TensorKind};
    /// let mut seen = vec![];
    /// let mask: Option<Tensor<(U2,)>> = Some(Tensor::ones());
    /// mask.visit_as("mask", TensorKind::Buffer, &mut |n, t| seen.push((n.to_string(), t.kind)));
    /// None::<Tensor<(U2,)>>.visit_as("absent", TensorKind::Buffer, &mut |n, _| seen.push((n.to_string(), TensorKind::Buffer)));
    /// assert_eq!(seen, [("mask".to_string(), TensorKind::Buffer)]);
    /// ```
    fn visit_as(&self, prefix: &str, kind: TensorKind, f: &mut dyn FnMut(&str, TensorRef<'_>));
    /// Calls `f` on the tensor mutably, if there is one.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::tensor::ValuesMut;
    /// use stensor::nn::{ParamField, TensorKind};
    /// let mut w = Tensor::<(U2,)>::zeros();
    /// w.visit_mut_as("w", TensorKind::Parameter, &mut |_, t| if let ValuesMut::F32(v) = t.values { v[1] = 5.0 });
    /// assert_eq!(w.to_vec(), vec![0.0, 5.0]);
    /// ```
    fn visit_mut_as(
        &mut self,
        prefix: &str,
        kind: TensorKind,
        f: &mut dyn FnMut(&str, TensorMut<'_>),
    );
}

impl<S: Shape, E: Element> ParamField for Tensor<S, E> {
    fn visit_as(&self, prefix: &str, kind: TensorKind, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        let (id, dims, values) = (Some(self.id()), self.dims(), E::values(self.as_slice()));
        f(
            prefix,
            TensorRef {
                id,
                dims,
                values,
                kind,
            },
        );
    }
    fn visit_mut_as(
        &mut self,
        prefix: &str,
        kind: TensorKind,
        f: &mut dyn FnMut(&str, TensorMut<'_>),
    ) {
        let (id, dims) = (Some(self.id()), self.dims());
        let values = E::values_mut(self.as_mut_slice());
        f(
            prefix,
            TensorMut {
                id,
                dims,
                values,
                kind,
            },
        );
    }
}

impl<S: Shape, E: Element> ParamField for Option<Tensor<S, E>> {
    fn visit_as(&self, prefix: &str, kind: TensorKind, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        if let Some(t) = self {
            t.visit_as(prefix, kind, f);
        }
    }
    fn visit_mut_as(
        &mut self,
        prefix: &str,
        kind: TensorKind,
        f: &mut dyn FnMut(&str, TensorMut<'_>),
    ) {
        if let Some(t) = self {
            t.visit_mut_as(prefix, kind, f);
        }
    }
}

impl<M: Module> Module for Option<M> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        if let Some(m) = self {
            m.visit(prefix, f);
        }
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        if let Some(m) = self {
            m.visit_mut(prefix, f);
        }
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.as_ref().map(|m| m.children()).unwrap_or_default()
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        self.as_mut().map(|m| m.children_mut()).unwrap_or_default()
    }
    fn set_training(&mut self, training: bool) {
        if let Some(m) = self {
            m.set_training(training);
        }
    }
    fn kind(&self) -> &'static str {
        self.as_ref().map_or("None", |m| m.kind())
    }
    fn extra_repr(&self) -> String {
        self.as_ref().map(|m| m.extra_repr()).unwrap_or_default()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<M: Module> Module for Box<M> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
        (**self).visit(prefix, f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
        (**self).visit_mut(prefix, f);
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        (**self).children()
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        (**self).children_mut()
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training);
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn extra_repr(&self) -> String {
        (**self).extra_repr()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        (**self).as_any_mut()
    }
}

macro_rules! indexed_container {
    ($($ty:ty, [$($g:tt)*], $kind:literal);+) => {$(
        impl<$($g)*> Module for $ty {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
                for (i, m) in self.iter().enumerate() {
                    m.visit(&join(prefix, &i.to_string()), f);
                }
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
                for (i, m) in self.iter_mut().enumerate() {
                    m.visit_mut(&join(prefix, &i.to_string()), f);
                }
            }
            fn children(&self) -> Vec<(String, &dyn Module)> {
                self.iter().enumerate().map(|(i, m)| (i.to_string(), m as &dyn Module)).collect()
            }
            fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
                self.iter_mut().enumerate().map(|(i, m)| (i.to_string(), m as &mut dyn Module)).collect()
            }
            fn kind(&self) -> &'static str {
                $kind
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }
    )+};
}
indexed_container!(Vec<M>, [M: Module], "ModuleList"; [M; N], [M: Module, const N: usize], "ModuleList");

macro_rules! tuple_module {
    ($($M:ident $i:tt),+) => {
        impl<$($M: Module),+> Module for ($($M,)+) {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
                $( self.$i.visit(&join(prefix, stringify!($i)), f); )+
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
                $( self.$i.visit_mut(&join(prefix, stringify!($i)), f); )+
            }
            fn children(&self) -> Vec<(String, &dyn Module)> {
                vec![$( (stringify!($i).to_string(), &self.$i as &dyn Module) ),+]
            }
            fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
                vec![$( (stringify!($i).to_string(), &mut self.$i as &mut dyn Module) ),+]
            }
            fn kind(&self) -> &'static str {
                "Sequential"
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }
    };
}
/// `$m!(A 0)`, `$m!(A 0, B 1)`, ... for every tuple arity the modules support (1 to 16): the
/// tuple impls of [`Module`] and of [`Build`](super::Build) come from the same list.
macro_rules! for_each_tuple {
    ($m:ident) => {
        $m!(A 0);
        $m!(A 0, B 1);
        $m!(A 0, B 1, C 2);
        $m!(A 0, B 1, C 2, D 3);
        $m!(A 0, B 1, C 2, D 3, F 4);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14);
        $m!(A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15);
    };
}
pub(crate) use for_each_tuple;

for_each_tuple!(tuple_module);

/// Prints a module like PyTorch's `print(model)`, followed by its parameter count:
///
/// ```text
/// Sequential(
///   (0): Linear(in_features=4, out_features=2, bias=True)
///   (1): ReLU()
/// )
/// Parameters: 10
/// ```
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, ModuleDisplay, ReLU};
/// let net = (Linear::<U4, U2>::new(&mut Rng::seed(0)), ReLU);
/// let s = ModuleDisplay(&net).to_string();
/// assert!(s.starts_with("Sequential(\n  (0): Linear(in_features=4, out_features=2, bias=True)\n  (1): ReLU()\n)"));
/// assert!(s.ends_with("Parameters: 10"));
/// ```
pub struct ModuleDisplay<'a>(pub &'a dyn Module);

/// Writes the PyTorch-style tree of `m` at `indent` (two spaces per level).
/// The children a printout shows: all but the absent ones (PyTorch prints no `None`).
fn present_children(m: &dyn Module) -> Vec<(String, &dyn Module)> {
    m.children()
        .into_iter()
        .filter(|(_, c)| !c.is_absent())
        .collect()
}

pub(crate) fn write_tree(m: &dyn Module, f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
    let children: Vec<(String, &dyn Module)> = present_children(m);
    if children.is_empty() {
        return write!(f, "{}({})", m.kind(), m.extra_repr());
    }
    writeln!(f, "{}(", m.kind())?;
    for (name, c) in children {
        write!(f, "{}({}): ", "  ".repeat(indent + 1), name)?;
        write_tree(c, f, indent + 1)?;
        writeln!(f)?;
    }
    write!(f, "{})", "  ".repeat(indent))
}

impl fmt::Display for ModuleDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(self.0, f, 0)?;
        let mut n = 0;
        self.0.visit("", &mut |_, t| {
            if t.kind == TensorKind::Parameter {
                n += t.values.len();
            }
        });
        write!(f, "\nParameters: {n}")
    }
}

/// A tensor type whose shape can be printed from the type alone.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::TensorType;
/// assert_eq!(<Tensor<(U8,)> as TensorType>::shape_string(), "(8,)");
/// ```
pub trait TensorType {
    /// The static shape, with a runtime dimension shown as `N`: `(N, 3, 32, 32)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::TensorType;
    /// assert_eq!(<Tensor<(usize, U10)> as TensorType>::shape_string(), "(N, 10)");
    /// ```
    fn shape_string() -> String;
}

impl<S: Shape, E: Element, T: crate::autograd::TapeMode<E>> TensorType for Tensor<S, E, T> {
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::TensorType;
    /// assert_eq!(<Tensor<(usize, U3, U32, U32)> as TensorType>::shape_string(), "(N, 3, 32, 32)");
    /// ```
    fn shape_string() -> String {
        let dims: Vec<String> = S::static_dims()[..S::RANK]
            .iter()
            .map(|d| d.map_or("N".to_string(), |d| d.to_string()))
            .collect();
        if dims.len() == 1 {
            format!("({},)", dims[0])
        } else {
            format!("({})", dims.join(", "))
        }
    }
}

/// One row of a [`Summary`]: a layer, the static shapes it maps, its parameter count.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{summary, Linear};
/// let s = summary::<Tensor<(usize, U4)>, _>(&(Linear::<U4, U2>::new(&mut Rng::seed(0)),));
/// assert_eq!((s.rows[0].name.as_str(), s.rows[0].output.as_str(), s.rows[0].params), ("0", "(N, 2)", 10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// The layer's dotted name.
    pub name: String,
    /// The layer as PyTorch prints it.
    pub layer: String,
    /// Its input shape.
    pub input: String,
    /// Its output shape.
    pub output: String,
    /// Its parameter count.
    pub params: usize,
}

/// Layers and chains of layers that can list their static input and output shapes for input
/// `X`: every layer, tuples, and `#[module(sequential)]` / `#[module(chain)]` / `#[module(residual)]`
/// structs.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, ReLU, Summarize};
/// let mut rows = vec![];
/// let net = (Linear::<U4, U3>::new(&mut Rng::seed(0)), ReLU);
/// Summarize::<Tensor<(U2, U4)>>::summary_rows(&net, "net", &mut rows);
/// assert_eq!((rows[0].name.as_str(), rows[1].layer.as_str()), ("net.0", "ReLU()"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot list its layers' shapes for input `{X}`",
    label = "no shape table for this field",
    note = "a block with a hand-written `forward` lists its shapes once its struct derives `Module` with `#[module(chain)]` (fields run in order), `#[module(sequential)]` or `#[module(residual)]`, or implements `stensor::nn::Summarize`"
)]
pub trait Summarize<X> {
    /// Appends this module's rows, named under `prefix`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Summarize};
    /// let mut rows = vec![];
    /// Summarize::<Tensor<(U3, U4)>>::summary_rows(&Linear::<U4, U2>::new(&mut Rng::seed(0)), "fc", &mut rows);
    /// assert_eq!((rows[0].name.as_str(), rows[0].output.as_str()), ("fc", "(3, 2)"));
    /// ```
    fn summary_rows(&self, prefix: &str, rows: &mut Vec<SummaryRow>);

    /// Adds this module's layers to `graph`, fed by its current tip ([`LayerGraph`]): by
    /// default its rows one after the other; chains pass the call on to their layers, and a
    /// residual block draws its branch and shortcut from the same input and their sum.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{LayerGraph, Linear, ReLU, Summarize};
    /// let mut g = LayerGraph::new("(N, 4)");
    /// let net = (Linear::<U4, U3>::new(&mut Rng::seed(0)), ReLU);
    /// Summarize::<Tensor<(usize, U4)>>::graph(&net, "", &mut g);
    /// assert_eq!(g.nodes()[2].inputs, [1]);
    /// ```
    fn graph(&self, prefix: &str, graph: &mut LayerGraph) {
        let mut rows = vec![];
        self.summary_rows(prefix, &mut rows);
        for row in rows {
            graph.push(row);
        }
    }
}

/// One node of a [`LayerGraph`]: the network's input, a layer, or a residual sum.
///
/// ```
/// use stensor::nn::LayerGraph;
/// let g = LayerGraph::new("(N, 3, 32, 32)");
/// assert_eq!((g.nodes()[0].name.as_str(), g.nodes()[0].output.as_str()), ("input", "(N, 3, 32, 32)"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// The layer's dotted name (`input` for the network's input, `<block>.add` for a sum).
    pub name: String,
    /// The layer as PyTorch prints it (`Add()` for a residual sum, empty for the input).
    pub layer: String,
    /// The nodes whose outputs it takes, by index.
    pub inputs: Vec<usize>,
    /// Its output's static shape.
    pub output: String,
}

/// A network's layers as a graph, from its types alone: what [`Summarize::graph`] builds and
/// TensorBoard's `add_graph` draws. Nodes are in the order they run; the tip is the node whose
/// output the next layer takes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{layer_graph, Linear, ReLU};
/// let net = (Linear::<U4, U8>::new(&mut Rng::seed(0)), ReLU);
/// let g = layer_graph::<Tensor<(usize, U4)>, _>(&net);
/// let names: Vec<&str> = g.nodes().iter().map(|n| n.name.as_str()).collect();
/// assert_eq!(names, ["input", "0", "1"]);
/// assert_eq!(g.nodes()[1].output, "(N, 8)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerGraph {
    nodes: Vec<GraphNode>,
    tip: usize,
}

impl LayerGraph {
    /// A graph of one node, the network's input of shape `input`.
    ///
    /// ```
    /// assert_eq!(stensor::nn::LayerGraph::new("(2, 3)").nodes().len(), 1);
    /// ```
    pub fn new(input: &str) -> Self {
        LayerGraph {
            nodes: vec![GraphNode {
                name: "input".into(),
                layer: String::new(),
                inputs: vec![],
                output: input.into(),
            }],
            tip: 0,
        }
    }

    /// The nodes, the input first.
    ///
    /// ```
    /// assert_eq!(stensor::nn::LayerGraph::new("(2, 3)").nodes()[0].inputs, Vec::<usize>::new());
    /// ```
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The node whose output the next layer takes.
    ///
    /// ```
    /// assert_eq!(stensor::nn::LayerGraph::new("(2, 3)").tip(), 0);
    /// ```
    pub fn tip(&self) -> usize {
        self.tip
    }

    /// Makes node `node` the tip (a residual block goes back to its input for the shortcut).
    ///
    /// ```
    /// use stensor::nn::{LayerGraph, SummaryRow};
    /// let mut g = LayerGraph::new("(2,)");
    /// g.push(SummaryRow { name: "a".into(), layer: "ReLU()".into(), input: "(2,)".into(), output: "(2,)".into(), params: 0 });
    /// g.set_tip(0);
    /// assert_eq!(g.tip(), 0);
    /// ```
    pub fn set_tip(&mut self, node: usize) {
        assert!(node < self.nodes.len(), "set_tip: no node {node}");
        self.tip = node;
    }

    /// Adds a layer fed by the tip; it becomes the tip. Returns its index.
    ///
    /// ```
    /// use stensor::nn::{LayerGraph, SummaryRow};
    /// let mut g = LayerGraph::new("(2,)");
    /// let i = g.push(SummaryRow { name: "act".into(), layer: "ReLU()".into(), input: "(2,)".into(), output: "(2,)".into(), params: 0 });
    /// assert_eq!((i, g.tip(), g.nodes()[i].inputs.clone()), (1, 1, vec![0]));
    /// ```
    pub fn push(&mut self, row: SummaryRow) -> usize {
        self.nodes.push(GraphNode {
            name: row.name,
            layer: row.layer,
            inputs: vec![self.tip],
            output: row.output,
        });
        self.tip = self.nodes.len() - 1;
        self.tip
    }

    /// Adds the sum of nodes `a` and `b` (a residual connection) named `name`, with `a`'s
    /// shape; it becomes the tip. Returns its index.
    ///
    /// ```
    /// use stensor::nn::LayerGraph;
    /// let mut g = LayerGraph::new("(2,)");
    /// let s = g.add("block.add", 0, 0);
    /// assert_eq!((g.nodes()[s].layer.as_str(), g.nodes()[s].inputs.clone()), ("Add()", vec![0, 0]));
    /// ```
    pub fn add(&mut self, name: &str, a: usize, b: usize) -> usize {
        let output = self.nodes[a].output.clone();
        self.nodes.push(GraphNode {
            name: name.into(),
            layer: "Add()".into(),
            inputs: vec![a, b],
            output,
        });
        self.tip = self.nodes.len() - 1;
        self.tip
    }
}

/// The [`LayerGraph`] of `net` for input type `X`, computed from the types alone (nothing runs).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{layer_graph, Linear};
/// let g = layer_graph::<Tensor<(U5, U4)>, _>(&(Linear::<U4, U2>::new(&mut Rng::seed(0)),));
/// assert_eq!(g.nodes()[0].output, "(5, 4)");
/// ```
pub fn layer_graph<X: TensorType, M: Summarize<X>>(net: &M) -> LayerGraph {
    let mut g = LayerGraph::new(&X::shape_string());
    net.graph("", &mut g);
    g
}

/// The layer / input size / output size table of a network for input type `X`, computed from
/// the types alone (nothing runs).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{summary, Conv2d, Flatten, Linear, MaxPool2d};
/// let net = (Conv2d::<U3, U8, U3, U1, U1>::new(&mut Rng::seed(0)), MaxPool2d::<U2>::new(), Flatten::<1, -1>::new(), Linear::<U512, U10>::new(&mut Rng::seed(1)));
/// let s = summary::<Tensor<(usize, U3, U16, U16)>, _>(&net);
/// assert_eq!(s.rows[1].output, "(N, 8, 8, 8)");
/// assert_eq!(s.rows[3].input, "(N, 512)");
/// assert_eq!(s.total_params, 8 * 27 + 8 + 5120 + 10);
/// println!("{s}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
    /// All parameters.
    pub total_params: usize,
}

/// The [`Summary`] of `net` for input type `X`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{summary, Flatten};
/// let s = summary::<Tensor<(U2, U3, U4)>, _>(&(Flatten::<1, -1>::new(),));
/// assert_eq!((s.rows[0].output.as_str(), s.total_params), ("(2, 12)", 0));
/// ```
pub fn summary<X, M: Summarize<X> + Module>(net: &M) -> Summary {
    let mut rows = vec![];
    net.summary_rows("", &mut rows);
    Summary {
        rows,
        total_params: net.num_params(),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = ["Layer", "Input size", "Output size", "Params"];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                let layer = if r.name.is_empty() {
                    r.layer.clone()
                } else {
                    format!("({}) {}", r.name, r.layer)
                };
                [
                    layer,
                    r.input.clone(),
                    r.output.clone(),
                    r.params.to_string(),
                ]
            })
            .collect();
        let w: Vec<usize> = (0..4)
            .map(|i| {
                cells
                    .iter()
                    .map(|c| c[i].len())
                    .chain([head[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        writeln!(
            f,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
            head[0],
            head[1],
            head[2],
            head[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )?;
        for c in &cells {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
                c[0],
                c[1],
                c[2],
                c[3],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            )?;
        }
        write!(f, "Total params: {}", self.total_params)
    }
}

/// The row of one layer for input `X`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{layer_row, Linear};
/// let row = layer_row::<Tensor<(U5, U4)>, _>(&Linear::<U4, U2>::new(&mut Rng::seed(0)), "fc");
/// assert_eq!((row.layer.as_str(), row.input.as_str()), ("Linear(in_features=4, out_features=2, bias=True)", "(5, 4)"));
/// ```
pub fn layer_row<X: TensorType, M: Module + super::Forward<X>>(m: &M, prefix: &str) -> SummaryRow
where
    M::Output: TensorType,
{
    SummaryRow {
        name: prefix.to_string(),
        layer: format!("{}({})", m.kind(), m.extra_repr()),
        input: X::shape_string(),
        output: <M::Output as TensorType>::shape_string(),
        params: m.num_params(),
    }
}

/// Prints a module tree like [`ModuleDisplay`], each chained layer followed by its static input
/// and output shapes for input `X` (what `#[module(input = ..)]` makes `Display` do).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{fmt_with_shapes, Linear};
/// struct Shown((Linear<U4, U2>,));
/// impl std::fmt::Display for Shown {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         fmt_with_shapes::<Tensor<(usize, U4)>, _>(&self.0, f)
///     }
/// }
/// let text = Shown((Linear::new(&mut Rng::seed(0)),)).to_string();
/// assert!(text.contains("(N, 4) -> (N, 2)"), "{text}");
/// ```
pub fn fmt_with_shapes<X, M: Summarize<X> + Module>(
    m: &M,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let mut rows = vec![];
    m.summary_rows("", &mut rows);
    let shapes: std::collections::HashMap<String, (String, String)> = rows
        .into_iter()
        .map(|r| (r.name, (r.input, r.output)))
        .collect();
    write_tree_shapes(m, "", f, 0, &shapes)?;
    write!(f, "\nParameters: {}", m.num_params())
}

fn write_tree_shapes(
    m: &dyn Module,
    path: &str,
    f: &mut fmt::Formatter<'_>,
    indent: usize,
    shapes: &std::collections::HashMap<String, (String, String)>,
) -> fmt::Result {
    let children: Vec<(String, &dyn Module)> = present_children(m);
    if children.is_empty() {
        write!(f, "{}({})", m.kind(), m.extra_repr())?;
        if let Some((i, o)) = shapes.get(path) {
            write!(f, "  {i} -> {o}")?;
        }
        return Ok(());
    }
    writeln!(f, "{}(", m.kind())?;
    for (name, c) in children {
        write!(f, "{}({}): ", "  ".repeat(indent + 1), name)?;
        write_tree_shapes(c, &join(path, &name), f, indent + 1, shapes)?;
        writeln!(f)?;
    }
    write!(f, "{})", "  ".repeat(indent))
}
