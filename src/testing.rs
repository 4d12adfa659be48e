//! Property testing of layer algebra, for your own layers as for this crate's (the `proptest`
//! cargo feature: `stensor = { version = "0.1", features = ["proptest"] }`).
//!
//! - [`any_tensor`] / [`any_tensor_f64`]: proptest strategies for tensors of any shape (each
//!   runtime dim's size in a range), with a value range and, when asked, special values: exact
//!   zeros and `-0.0`, large magnitudes, NaN and infinities. [`any_indices`] and [`any_mask`]:
//!   index tensors below a bound (class targets, token ids) and boolean masks.
//! - [`any_module`]: a layer (or a whole network) built with random weights from a seed proptest
//!   picks, optionally with every parameter redrawn in a range.
//! - [`check_gradients`] and [`check_module_gradients`]: central finite differences in `f64`
//!   against autograd, for any function of a tensor and for every parameter of a module; a
//!   failure names the tensor, the element, both derivatives and the tolerance.
//! - [`close`] / [`assert_close`] (relative + absolute tolerance; the report names the worst
//!   element and its index) and [`assert_shapes_eq`].
//!
//! Failures are `std::error::Error`s, which proptest turns into a failed case: `?` works inside
//! `proptest!`.
//!
//! # Guide: property-testing your own layer
//!
//! Say your network has a residual block, written as a struct with a hand-written `forward`.
//! State what must hold for every input and every weight, and let proptest look for a
//! counter-example: here, that the block is the identity plus its branch, and (always worth
//! having) that its gradients, for the input and every parameter, agree with finite
//! differences.
//!
//! ```
//! use proptest::prelude::*;
//! use stensor::autograd::MergeTape;
//! use stensor::nn::{Conv2d, Forward, Module, Zeros};
//! use stensor::prelude::*;
//! use stensor::testing::*;
//!
//! /// conv -> tanh, plus the input (f64 so gradients can be checked tightly).
//! #[derive(Module)]
//! struct Residual {
//!     conv: Conv2d<U2, U2, U3, U1, U1, U1, U1, Zeros, f64>,
//! }
//!
//! impl Residual {
//!     // `MergeTape`: adding two tensors of the same (generic) tape gives that tape
//!     fn forward<B: Dim, T: MergeTape<f64, T, Output = T>>(
//!         &self,
//!         x: Tensor<(B, U2, U5, U5), f64, T>,
//!     ) -> Tensor<(B, U2, U5, U5), f64, T> {
//!         self.conv.forward(x.clone()).tanh().add(&x)
//!     }
//! }
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(8))]
//!     // (in a test file, put #[test] on this function)
//!     fn residual_laws(
//!         x in any_tensor_f64::<(U2, U2, U5, U5)>().range(-2.0, 2.0),
//!         block in any_module(|rng| Residual { conv: Conv2d::new(rng) }),
//!     ) {
//!         let mut block = block.module;
//!         // identity plus the branch
//!         let branch = block.conv.forward(x.clone()).tanh();
//!         close(&block.forward(x.clone()), &branch.add(&x), Tolerance::F64)?;
//!         // autograd agrees with finite differences, for the input and every parameter
//!         check_module_gradients(&mut block, &x, |b, x| b.forward(x))?;
//!     }
//! }
//! residual_laws(); // a test harness would call it
//! ```
//!
//! Run a suite long with `PROPTEST_CASES=10000 cargo test --release` (proptest reads the
//! variable when a test sets no count of its own; this crate's law suite honours it too).
//! Special values: `.with_zeros()` for exact `0.0`/`-0.0` (the kinks of ReLU, the ties of max
//! pooling), `.with_large()` for overflow-prone magnitudes, `.with_nonfinite()` for NaN and
//! infinities (then compare with `Tolerance { equal_nan: true, .. }`).

pub use crate::gradcheck::{
    check_gradients, check_gradients_with, check_module_gradients, check_module_gradients_with,
    GradCheck, GradCheckError,
};

use crate::autograd::TapeMode;
use crate::nn::Module;
use crate::shape::Shape;
use crate::tensor::{Element, Plain, Rng, Tensor, ValuesMut};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, NewTree, ValueTree};
use proptest::test_runner::TestRunner;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A strategy for tensors of shape `S`: uniform values in a range (default `[-1, 1)`), with
/// some elements replaced by special values when asked; each runtime (`usize`) dim of `S` a
/// size in a range (default `1..=4`, [`sizes`](TensorStrategy::sizes)). Shrinks towards
/// smaller sizes and magnitudes.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use stensor::prelude::*;
/// let strategy = stensor::testing::any_tensor::<(U2, U3)>().range(0.0, 5.0);
/// let t = strategy.new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!(t.as_slice().iter().all(|v| (0.0..5.0).contains(v)));
/// ```
#[derive(Clone, Debug)]
pub struct TensorStrategy<S, E> {
    low: f64,
    high: f64,
    zeros: bool,
    large: bool,
    nonfinite: bool,
    sizes: (usize, usize),
    shape: PhantomData<fn() -> (S, E)>,
}

/// Tensors of shape `S` in `f32` (see [`TensorStrategy`] for the options), runtime dims
/// included.
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// proptest!(|(x in stensor::testing::any_tensor::<(U2, U3, U8, U8)>())| {
///     prop_assert!(x.as_slice().iter().all(|v| v.abs() <= 1.0));
/// });
/// // a batch of sequences: batch size and length drawn from 1..=6
/// proptest!(|(x in stensor::testing::any_tensor::<(usize, usize, U4)>().sizes(1, 6))| {
///     prop_assert!((1..=6).contains(&x.dims()[0]) && (1..=6).contains(&x.dims()[1]));
/// });
/// ```
pub fn any_tensor<S: Shape>() -> TensorStrategy<S, f32> {
    TensorStrategy::new()
}

/// Tensors of the static shape `S` in `f64`, the element type of gradient checks.
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// proptest!(|(x in stensor::testing::any_tensor_f64::<(U4,)>().range(1.0, 2.0))| {
///     prop_assert!(x.ln().as_slice().iter().all(|v| *v >= 0.0));
/// });
/// ```
pub fn any_tensor_f64<S: Shape>() -> TensorStrategy<S, f64> {
    TensorStrategy::new()
}

impl<S: Shape, E: Element> TensorStrategy<S, E> {
    /// Uniform values in `[-1, 1)`, no special values.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _ = stensor::testing::TensorStrategy::<(U2,), f64>::new();
    /// ```
    pub fn new() -> Self {
        TensorStrategy {
            low: -1.0,
            high: 1.0,
            zeros: false,
            large: false,
            nonfinite: false,
            sizes: (1, 4),
            shape: PhantomData,
        }
    }

    /// Each runtime dim's size drawn from `low..=high`.
    ///
    /// # Panics
    /// If `low > high`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _ = stensor::testing::any_tensor::<(usize, U3)>().sizes(1, 64);
    /// ```
    pub fn sizes(mut self, low: usize, high: usize) -> Self {
        assert!(low <= high, "sizes({low}, {high}): need low <= high");
        self.sizes = (low, high);
        self
    }

    /// Uniform values in `[low, high)`.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _ = stensor::testing::any_tensor::<(U2,)>().range(-10.0, 10.0);
    /// ```
    pub fn range(mut self, low: f64, high: f64) -> Self {
        assert!(
            low < high && low.is_finite() && high.is_finite(),
            "range({low}, {high}): need finite low < high"
        );
        (self.low, self.high) = (low, high);
        self
    }

    /// About one element in eight is `0.0` or `-0.0`.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// let s = stensor::testing::any_tensor::<(U64,)>().with_zeros();
    /// let t = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert!(t.as_slice().iter().any(|v| *v == 0.0));
    /// ```
    pub fn with_zeros(mut self) -> Self {
        self.zeros = true;
        self
    }

    /// About one element in eight is a large magnitude (`+-1e30` in `f32`, `+-1e300` in
    /// `f64`).
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// let s = stensor::testing::any_tensor::<(U64,)>().with_large();
    /// let t = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert!(t.as_slice().iter().any(|v| v.abs() >= 1e30));
    /// ```
    pub fn with_large(mut self) -> Self {
        self.large = true;
        self
    }

    /// About one element in eight is NaN, `+inf` or `-inf`.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// let s = stensor::testing::any_tensor::<(U64,)>().with_nonfinite();
    /// let t = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert!(t.as_slice().iter().any(|v| !v.is_finite()));
    /// ```
    pub fn with_nonfinite(mut self) -> Self {
        self.nonfinite = true;
        self
    }

    fn build(&self) -> BoxedStrategy<Tensor<S, E>> {
        // large but finite in `E`, eight orders of magnitude below its largest value
        let big = (E::max_value().as_f64() * 1e-8).trunc().min(1e300);
        let mut specials: Vec<f64> = vec![];
        if self.zeros {
            specials.extend([0.0, -0.0]);
        }
        if self.large {
            specials.extend([big, -big]);
        }
        if self.nonfinite {
            specials.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
        }
        let uniform = (self.low..self.high).boxed();
        let element = if specials.is_empty() {
            uniform
        } else {
            prop_oneof![7 => uniform, 1 => prop::sample::select(specials)].boxed()
        };
        shaped::<S, _>(self.sizes, element)
            .prop_map(|(shape, v)| {
                let v = v.into_iter().map(E::from_f64).collect();
                Tensor::from_vec_shaped(shape, v).expect("one value per element")
            })
            .boxed()
    }
}

/// A shape value of `S` (each runtime dim's size in `sizes`) and one value per element from
/// `element`.
fn shaped<S: Shape, V: fmt::Debug + 'static>(
    sizes: (usize, usize),
    element: BoxedStrategy<V>,
) -> BoxedStrategy<(S, Vec<V>)> {
    let statics = S::static_dims();
    let runtime = statics[..S::RANK].iter().filter(|d| d.is_none()).count();
    prop::collection::vec(sizes.0..=sizes.1, runtime)
        .prop_flat_map(move |drawn| {
            let mut drawn = drawn.into_iter();
            let dims: Vec<usize> = statics[..S::RANK]
                .iter()
                .map(|d| d.unwrap_or_else(|| drawn.next().expect("one size per runtime dim")))
                .collect();
            let shape = S::from_dims(&dims).expect("static dims kept, runtime ones drawn");
            let n = shape.numel();
            (Just(shape), prop::collection::vec(element.clone(), n))
        })
        .boxed()
}

/// A strategy for index tensors ([`any_indices`]) and masks ([`any_mask`]) of shape `S`, each
/// runtime dim a size in a range (default `1..=4`).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use stensor::prelude::*;
/// let s = stensor::testing::any_indices::<(usize, U3)>(10).sizes(2, 2);
/// let ids = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
/// assert_eq!(ids.dims(), [2, 3]);
/// assert!(ids.as_slice().iter().all(|&i| (0..10).contains(&i)));
/// ```
pub struct PlainStrategy<S: Shape, V> {
    element: BoxedStrategy<V>,
    sizes: (usize, usize),
    shape: PhantomData<fn() -> S>,
}

impl<S: Shape, V> Clone for PlainStrategy<S, V> {
    fn clone(&self) -> Self {
        PlainStrategy {
            element: self.element.clone(),
            sizes: self.sizes,
            shape: PhantomData,
        }
    }
}

impl<S: Shape, V> fmt::Debug for PlainStrategy<S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainStrategy(sizes {:?})", self.sizes)
    }
}

/// Index tensors of shape `S` with values in `0..below` (class targets, token ids below a
/// vocabulary's size, gather indices below an axis's length).
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// proptest!(|(ids in stensor::testing::any_indices::<(usize, usize)>(50).sizes(1, 8))| {
///     prop_assert!(ids.as_slice().iter().all(|&i| (0..50).contains(&i)));
/// });
/// ```
///
/// # Panics
/// If `below` is not positive.
pub fn any_indices<S: Shape>(below: i64) -> PlainStrategy<S, i64> {
    assert!(below > 0, "any_indices({below}): need a positive bound");
    PlainStrategy {
        element: (0..below).boxed(),
        sizes: (1, 4),
        shape: PhantomData,
    }
}

/// Masks of shape `S`, each value `true` or `false` with equal odds.
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// proptest!(|(m in stensor::testing::any_mask::<(U3, U3)>())| {
///     prop_assert!(m.count() <= 9);
/// });
/// ```
pub fn any_mask<S: Shape>() -> PlainStrategy<S, bool> {
    PlainStrategy {
        element: any::<bool>().boxed(),
        sizes: (1, 4),
        shape: PhantomData,
    }
}

impl<S: Shape, V> PlainStrategy<S, V> {
    /// Each runtime dim's size drawn from `low..=high`.
    ///
    /// # Panics
    /// If `low > high`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _ = stensor::testing::any_mask::<(usize,)>().sizes(0, 10);
    /// ```
    pub fn sizes(mut self, low: usize, high: usize) -> Self {
        assert!(low <= high, "sizes({low}, {high}): need low <= high");
        self.sizes = (low, high);
        self
    }
}

impl<S: Shape, V> Strategy for PlainStrategy<S, V>
where
    V: Copy + fmt::Debug + crate::tensor::PrintValue + crate::tensor::TypeName + 'static,
{
    type Tree = Box<dyn ValueTree<Value = Plain<S, V>>>;
    type Value = Plain<S, V>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        shaped::<S, V>(self.sizes, self.element.clone())
            .prop_map(|(shape, v)| Plain::from_vec_shaped(shape, v).expect("one value per element"))
            .boxed()
            .new_tree(runner)
    }
}

impl<S: Shape, E: Element> Default for TensorStrategy<S, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Shape, E: Element> Strategy for TensorStrategy<S, E> {
    type Tree = Box<dyn ValueTree<Value = Tensor<S, E>>>;
    type Value = Tensor<S, E>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        self.build().new_tree(runner)
    }
}

/// A module made by a proptest strategy: the seed its weights came from, and the module.
/// Printed (on a failure) as the seed and the module's PyTorch-style line.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let s = stensor::testing::any_module(|rng| Linear::<U2, U3>::new(rng));
/// let m = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
/// assert!(format!("{m:?}").contains("Linear(in_features=2, out_features=3, bias=True)"));
/// ```
#[derive(Clone)]
pub struct Seeded<M> {
    /// The seed the module was built from.
    pub seed: u64,
    /// The module.
    pub module: M,
}

impl<M: Module> fmt::Debug for Seeded<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {}({})",
            self.seed,
            self.module.kind(),
            self.module.extra_repr()
        )
    }
}

/// A strategy for modules: `build` makes one from a seeded [`Rng`] (usually PyTorch's default
/// initialisation, `Layer::new(rng)`); [`ModuleStrategy::params_in`] redraws every parameter.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Conv2d;
/// let _ = stensor::testing::any_module(|rng| Conv2d::<U3, U4, U3>::new(rng)).params_in(-2.0, 2.0);
/// ```
pub struct ModuleStrategy<M> {
    build: Arc<dyn Fn(&mut Rng) -> M + Send + Sync>,
    params: Option<(f64, f64)>,
}

impl<M> Clone for ModuleStrategy<M> {
    fn clone(&self) -> Self {
        ModuleStrategy {
            build: self.build.clone(),
            params: self.params,
        }
    }
}

impl<M> fmt::Debug for ModuleStrategy<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModuleStrategy {{ params: {:?} }}", self.params)
    }
}

/// Modules made by `build` from a random seed.
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Linear};
/// proptest!(|(fc in stensor::testing::any_module(|rng| Linear::<U4, U2>::new(rng)))| {
///     // PyTorch's default init: |w| <= 1 / sqrt(in_features)
///     prop_assert!(fc.module.weight.as_slice().iter().all(|w| w.abs() <= 0.5));
/// });
/// ```
pub fn any_module<M: Module>(
    build: impl Fn(&mut Rng) -> M + Send + Sync + 'static,
) -> ModuleStrategy<M> {
    ModuleStrategy {
        build: Arc::new(build),
        params: None,
    }
}

impl<M: Module> ModuleStrategy<M> {
    /// Redraws every parameter (not buffers) uniformly in `[low, high)`, from the same seed.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// let s = stensor::testing::any_module(|rng| Linear::<U8, U8>::new(rng)).params_in(2.0, 3.0);
    /// let m = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert!(m.module.weight.as_slice().iter().all(|w| (2.0..3.0).contains(w)));
    /// ```
    pub fn params_in(mut self, low: f64, high: f64) -> Self {
        self.params = Some((low, high));
        self
    }
}

impl<M: Module> Strategy for ModuleStrategy<M> {
    type Tree = Box<dyn ValueTree<Value = Seeded<M>>>;
    type Value = Seeded<M>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let (build, params) = (self.build.clone(), self.params);
        any::<u64>()
            .prop_map(move |seed| {
                let mut rng = Rng::seed(seed);
                let mut module = build(&mut rng);
                if let Some((low, high)) = params {
                    module.visit_mut("", &mut |_, t| {
                        if t.kind != crate::nn::TensorKind::Parameter {
                            return;
                        }
                        match t.values {
                            ValuesMut::F32(v) => v
                                .iter_mut()
                                .for_each(|x| *x = rng.uniform(low, high) as f32),
                            ValuesMut::F64(v) => {
                                v.iter_mut().for_each(|x| *x = rng.uniform(low, high))
                            }
                            ValuesMut::I64(_) => {}
                        }
                    });
                }
                Seeded { seed, module }
            })
            .boxed()
            .new_tree(runner)
    }
}

/// How close two tensors must be: element `a` is close to `b` when
/// `|a - b| <= atol + rtol * |b|` (`torch.testing.assert_close`'s rule); equal infinities are
/// close; NaNs are close to each other only with `equal_nan`.
///
/// ```
/// use stensor::testing::Tolerance;
/// let t = Tolerance { rtol: 1e-3, ..Tolerance::F32 };
/// assert_eq!(t.atol, 1e-5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Whether NaN is close to NaN.
    pub equal_nan: bool,
}

impl Tolerance {
    /// `torch.testing`'s defaults for `float32`: rtol 1.3e-6, atol 1e-5.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::testing::{close, Tolerance};
    /// let x = Tensor::<(U2,)>::from_array([1.0, 100.0]);
    /// close(&x.clone().add_scalar(1e-6), &x, Tolerance::F32).unwrap();
    /// ```
    pub const F32: Tolerance = Tolerance {
        rtol: 1.3e-6,
        atol: 1e-5,
        equal_nan: false,
    };
    /// `torch.testing`'s defaults for `float64`: rtol 1e-7, atol 1e-7.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::testing::{close, Tolerance};
    /// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]);
    /// assert!(close(&x.clone().add_scalar(1e-6), &x, Tolerance::F64).is_err());
    /// ```
    pub const F64: Tolerance = Tolerance {
        rtol: 1e-7,
        atol: 1e-7,
        equal_nan: false,
    };

    /// The given tolerances, NaN never close.
    ///
    /// ```
    /// let t = stensor::testing::Tolerance::new(1e-4, 1e-6);
    /// assert!(!t.equal_nan);
    /// ```
    pub fn new(rtol: f64, atol: f64) -> Self {
        Tolerance {
            rtol,
            atol,
            equal_nan: false,
        }
    }
}

/// Why two tensors are not close.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::{close, Tolerance};
/// let a = Tensor::<(U2, U2)>::from_array([[1.0, 2.0], [3.0, 4.0]]);
/// let b = Tensor::<(U2, U2)>::from_array([[1.0, 2.5], [3.0, 4.1]]);
/// let err = close(&a, &b, Tolerance::new(0.0, 0.01)).unwrap_err();
/// assert_eq!(err.to_string(), "tensors are not close: 2 of 4 elements differ; the worst at index [0, 1]: 2 vs 2.5 (difference 0.5 > allowed 0.01)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Mismatch {
    /// Different dimensions (possible with a run-time dimension).
    Shape {
        /// The first tensor's dimensions.
        left: Vec<usize>,
        /// The second's.
        right: Vec<usize>,
    },
    /// Elements outside the tolerance.
    Values {
        /// How many.
        count: usize,
        /// Of how many.
        numel: usize,
        /// The multi-index of the worst (largest difference relative to its allowance; NaN
        /// counts as worst).
        index: Vec<usize>,
        /// Its value in the first tensor.
        left: f64,
        /// Its value in the second.
        right: f64,
        /// The allowance there: `atol + rtol * |right|`.
        allowed: f64,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Shape { left, right } => {
                write!(f, "shapes differ: {left:?} vs {right:?}")
            }
            Mismatch::Values {
                count,
                numel,
                index,
                left,
                right,
                allowed,
            } => write!(
                f,
                "tensors are not close: {count} of {numel} elements differ; the worst at index \
                 {index:?}: {left} vs {right} (difference {} > allowed {allowed})",
                (left - right).abs()
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// `Ok` when the tensors have the same dimensions and every pair of elements is close under
/// `tol`; otherwise the [`Mismatch`] with the worst element. Works across tape modes (a traced
/// result against a plain one).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::{close, Tolerance};
/// let x = Tensor::<(U3,), f64>::from_array([0.5, -1.0, 2.0]);
/// close(&x.clone().sigmoid().add(&x.neg().sigmoid()), &Tensor::ones(), Tolerance::F64).unwrap();
/// ```
pub fn close<S, E, T1, T2>(
    a: &Tensor<S, E, T1>,
    b: &Tensor<S, E, T2>,
    tol: Tolerance,
) -> Result<(), Mismatch>
where
    S: Shape,
    E: Element,
    T1: TapeMode<E>,
    T2: TapeMode<E>,
{
    let (da, db) = (a.dims(), b.dims());
    if da != db {
        return Err(Mismatch::Shape {
            left: da.to_vec(),
            right: db.to_vec(),
        });
    }
    let mut count = 0;
    let mut worst: Option<(usize, f64)> = None;
    for (i, (x, y)) in a.as_slice().iter().zip(b.as_slice()).enumerate() {
        let (x, y) = (x.as_f64(), y.as_f64());
        let allowed = tol.atol + tol.rtol * y.abs();
        let ok = if x.is_nan() || y.is_nan() {
            tol.equal_nan && x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= allowed
        };
        if !ok {
            count += 1;
            let badness = if (x - y).is_nan() {
                f64::INFINITY
            } else {
                (x - y).abs() / allowed.max(f64::MIN_POSITIVE)
            };
            if worst.is_none_or(|(_, w)| badness > w) {
                worst = Some((i, badness));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => {
            let (left, right) = (a.as_slice()[i].as_f64(), b.as_slice()[i].as_f64());
            Err(Mismatch::Values {
                count,
                numel: a.numel(),
                index: da.index_of(i),
                left,
                right,
                allowed: tol.atol + tol.rtol * right.abs(),
            })
        }
    }
}

/// Panics with the [`Mismatch`] report unless `a` and `b` are close under `tol`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::{assert_close, Tolerance};
/// let x = Tensor::<(U2,)>::from_array([1.0, 2.0]);
/// assert_close(&x.clone().mul_scalar(3.0).div_scalar(3.0), &x, Tolerance::F32);
/// ```
///
/// ```should_panic
/// use stensor::prelude::*;
/// use stensor::testing::{assert_close, Tolerance};
/// assert_close(&Tensor::<(U1,)>::ones(), &Tensor::<(U1,)>::zeros(), Tolerance::F32);
/// ```
#[track_caller]
pub fn assert_close<S, E, T1, T2>(a: &Tensor<S, E, T1>, b: &Tensor<S, E, T2>, tol: Tolerance)
where
    S: Shape,
    E: Element,
    T1: TapeMode<E>,
    T2: TapeMode<E>,
{
    if let Err(m) = close(a, b, tol) {
        panic!("{m}");
    }
}

/// Panics unless the two tensors (of any shape types) have the same run-time dimensions.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::assert_shapes_eq;
/// let a = Tensor::<(usize, U3)>::zeros_shaped((2, U3::new()));
/// assert_shapes_eq(&a, &Tensor::<(U2, U3)>::zeros());
/// ```
#[track_caller]
pub fn assert_shapes_eq<S1, S2, E, T1, T2>(a: &Tensor<S1, E, T1>, b: &Tensor<S2, E, T2>)
where
    S1: Shape,
    S2: Shape,
    E: Element,
    T1: TapeMode<E>,
    T2: TapeMode<E>,
{
    let (da, db) = (a.dims(), b.dims());
    assert!(
        da == db,
        "{}",
        Mismatch::Shape {
            left: da.to_vec(),
            right: db.to_vec()
        }
    );
}
