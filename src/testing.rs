//! Property testing of layer algebra, for your own layers as for this crate's (the `proptest`
//! cargo feature: `stensor = { version = "0.1", features = ["proptest"] }`).
//!
//! - [`any_tensor`] / [`any_tensor_f64`]: proptest strategies for tensors of any shape (each
//!   runtime dim's size in a range), with values from a range or a union of ranges, kept
//!   [`away_from`](TensorStrategy::away_from) kinks, and, when asked, special values: exact
//!   zeros and `-0.0`, large magnitudes, NaN and infinities. [`any_indices`] and [`any_mask`]:
//!   index tensors below a bound (class targets, token ids) and boolean masks.
//! - [`any_module`]: a layer (or a whole network) built with random weights from a seed proptest
//!   picks, optionally with every parameter redrawn in a range; the seed rebuilds it
//!   ([`ModuleStrategy::rebuild`]).
//! - [`check_gradients`] and [`check_module_gradients`]: central finite differences in `f64`
//!   against autograd, for any function of a tensor and for every parameter of a module (or
//!   the parameters only); every tensor that disagrees is reported with its first element,
//!   both derivatives and the tolerance. Backward rules of your own:
//!   [`Function`](crate::autograd::Function).
//! - [`close`] / [`assert_close`] (relative + absolute tolerance; the report names the worst
//!   element, its index and the calling line) and [`assert_shapes_eq`]; [`Tolerance::EXACT`],
//!   [`Tolerance::ROUNDING`], the `torch.testing` defaults; [`cases`] and [`config`] for case
//!   counts that `PROPTEST_CASES` overrides; [`prelude`] for one glob import.
//!
//! Failures are `std::error::Error`s, which proptest turns into a failed case: `?` works inside
//! `proptest!`.
//!
//! # Guide: property-testing your own layer
//!
//! A SwiGLU block, `(x W1 + b1) * silu(x W2 + b2)`: a layer of your own is a struct that derives
//! `Module` with `#[module(leaf)]`, each learned tensor declared `#[module(param)]` and made
//! with `requires_grad_(true)` (a parameter that does not require grad gets no gradient, and the
//! checks below say so), and a hand-written `Forward`. Write `forward` for any batch size `B`
//! and any tape `T` with the one bound [`AnyTape<f64>`](crate::autograd::AnyTape): it says that
//! `T` combined with `T` (the two branches) or with an untraced tensor (the parameters) gives
//! `T`, so the same code runs traced in gradient checks and untraced in inference.
//!
//! Then state what must hold for every input and every weight, and let proptest look for a
//! counter-example. `stensor::testing::prelude` brings proptest's macros and this module (and
//! not proptest's `Rng`, which would clash with stensor's); [`config`] runs a number of cases
//! that `PROPTEST_CASES` overrides for a long run.
//!
//! ```
//! use stensor::autograd::AnyTape;
//! use stensor::nn::{Forward, Module};
//! use stensor::prelude::*;
//! use stensor::testing::prelude::*;
//!
//! /// `(x W1 + b1) * silu(x W2 + b2)`, in f64 so gradients can be checked tightly.
//! #[derive(Module)]
//! #[module(leaf)]
//! struct SwiGlu<I: ConstDim, O: ConstDim> {
//!     #[module(param)]
//!     w1: Tensor<(I, O), f64>,
//!     #[module(param)]
//!     b1: Tensor<(O,), f64>,
//!     #[module(param)]
//!     w2: Tensor<(I, O), f64>,
//!     #[module(param)]
//!     b2: Tensor<(O,), f64>,
//! }
//!
//! /// A parameter: uniform in `[-bound, bound)`, requiring grad.
//! fn param<S: ConstShape>(rng: &mut Rng, bound: f64) -> Tensor<S, f64> {
//!     Tensor::uniform_shaped(S::default(), rng, -bound, bound).requires_grad_(true)
//! }
//!
//! impl<I: ConstDim, O: ConstDim> SwiGlu<I, O> {
//!     fn new(rng: &mut Rng) -> Self {
//!         let k = 1.0 / (I::SIZE as f64).sqrt(); // PyTorch's Linear init
//!         SwiGlu { w1: param(rng, k), b1: param(rng, k), w2: param(rng, k), b2: param(rng, k) }
//!     }
//! }
//!
//! impl<B: Dim, I: ConstDim, O: ConstDim, T: AnyTape<f64>> Forward<Tensor<(B, I), f64, T>> for SwiGlu<I, O> {
//!     type Output = Tensor<(B, O), f64, T>;
//!     fn forward(&self, x: Tensor<(B, I), f64, T>) -> Self::Output {
//!         let a = x.clone().matmul(&self.w1).broadcast_add(&self.b1);
//!         let g = x.matmul(&self.w2).broadcast_add(&self.b2);
//!         a.mul(&g.silu())
//!     }
//! }
//!
//! proptest! {
//!     #![proptest_config(config(8))]
//!     // (in a test file, put #[test] on this function)
//!     fn swiglu_laws(
//!         // a batch of 1 to 5 rows: the batch size is a runtime dim
//!         x in any_tensor_f64::<(usize, U4)>().sizes(1, 5).range(-2.0, 2.0),
//!         block in any_module(SwiGlu::<U4, U3>::new).params_in(-1.0, 1.0),
//!     ) {
//!         let mut block = block.module;
//!         // the gate at zero closes the block: silu(0) = 0
//!         let closed = SwiGlu { w2: Tensor::zeros(), b2: Tensor::zeros(), ..SwiGlu::new(&mut Rng::seed(0)) };
//!         close(&closed.forward(x.clone()), &Tensor::zeros_shaped((x.dims()[0], U3::new())), Tolerance::EXACT)?;
//!         // rows are independent: the block of a batch is the block of each row
//!         let first = x.clone().narrow::<0, _>(0, 1);
//!         close(&block.forward(first), &block.forward(x.clone()).narrow::<0, _>(0, 1), Tolerance::ROUNDING)?;
//!         // autograd agrees with finite differences, for the input and every parameter
//!         check_module_gradients(&mut block, &x, |b, x| b.forward(x))?;
//!     }
//! }
//! swiglu_laws(); // a test harness would call it
//! ```
//!
//! # A backward rule of your own
//! A fused kernel, or an operation autograd cannot see into, gets its gradient from a
//! [`Function`](crate::autograd::Function) (PyTorch's `autograd.Function`): `forward` on plain
//! tensors, `backward` from the output's gradient to each input's. Here the block again, its
//! elementwise part fused into one pass each way; the gradient check tests the hand-written
//! rule like any other, and a property ties it to the composed version.
//!
//! ```
//! use std::marker::PhantomData;
//! use stensor::autograd::{AnyTape, Function};
//! use stensor::nn::{Forward, Module};
//! use stensor::prelude::*;
//! use stensor::testing::prelude::*;
//!
//! /// `y = a * silu(g)` with `a = x W1 + b1`, `g = x W2 + b2`, for a batch of `B` rows.
//! struct FusedSwiGlu<B, I, O>(PhantomData<fn() -> (B, I, O)>);
//!
//! /// `silu(g)` and its derivative `s (1 + g (1 - s))`, `s = sigmoid(g)`.
//! fn silu_and_slope(g: f64) -> (f64, f64) {
//!     let s = 1.0 / (1.0 + (-g).exp());
//!     (g * s, s * (1.0 + g * (1.0 - s)))
//! }
//!
//! impl<B: Dim, I: ConstDim, O: ConstDim> Function<f64> for FusedSwiGlu<B, I, O> {
//!     type Inputs = (Tensor<(B, I), f64>, Tensor<(I, O), f64>, Tensor<(O,), f64>, Tensor<(I, O), f64>, Tensor<(O,), f64>);
//!     type Output = (B, O);
//!     fn forward(&self, (x, w1, b1, w2, b2): &Self::Inputs) -> Tensor<(B, O), f64> {
//!         let a = x.clone().matmul(w1).broadcast_add(b1);
//!         let g = x.clone().matmul(w2).broadcast_add(b2);
//!         let y = a.as_slice().iter().zip(g.as_slice()).map(|(a, &g)| a * silu_and_slope(g).0);
//!         Tensor::from_vec_shaped(a.shape(), y.collect()).unwrap()
//!     }
//!     fn backward(
//!         &self,
//!         (x, w1, b1, w2, b2): &Self::Inputs,
//!         _y: &Tensor<(B, O), f64>,
//!         dy: &Tensor<(B, O), f64>,
//!         _needs_grad: &[bool],
//!     ) -> <Self::Inputs as stensor::autograd::FunctionInputs<f64>>::Grads {
//!         let a = x.clone().matmul(w1).broadcast_add(b1);
//!         let g = x.clone().matmul(w2).broadcast_add(b2);
//!         // one pass: dy/da = silu(g), dy/dg = a silu'(g)
//!         let (mut da, mut dg) = (Vec::new(), Vec::new());
//!         for ((&a, &g), &d) in a.as_slice().iter().zip(g.as_slice()).zip(dy.as_slice()) {
//!             let (silu, slope) = silu_and_slope(g);
//!             da.push(d * silu);
//!             dg.push(d * a * slope);
//!         }
//!         let da = Tensor::<(B, O), f64>::from_vec_shaped(a.shape(), da).unwrap();
//!         let dg = Tensor::<(B, O), f64>::from_vec_shaped(a.shape(), dg).unwrap();
//!         let xt = x.clone().transpose::<0, 1>();
//!         let dx = da.clone().matmul(&w1.clone().transpose::<0, 1>())
//!             .add(&dg.clone().matmul(&w2.clone().transpose::<0, 1>()));
//!         (
//!             Some(dx),
//!             Some(xt.clone().matmul(&da)),
//!             Some(da.sum_axis::<0>()),
//!             Some(xt.matmul(&dg)),
//!             Some(dg.sum_axis::<0>()),
//!         )
//!     }
//! }
//!
//! /// The block with the fused op: the same parameters as the composed one.
//! #[derive(Module)]
//! #[module(leaf)]
//! struct SwiGluFused<I: ConstDim, O: ConstDim> {
//!     #[module(param)]
//!     w1: Tensor<(I, O), f64>,
//!     #[module(param)]
//!     b1: Tensor<(O,), f64>,
//!     #[module(param)]
//!     w2: Tensor<(I, O), f64>,
//!     #[module(param)]
//!     b2: Tensor<(O,), f64>,
//! }
//!
//! impl<B: Dim, I: ConstDim, O: ConstDim, T: AnyTape<f64>> Forward<Tensor<(B, I), f64, T>> for SwiGluFused<I, O> {
//!     type Output = Tensor<(B, O), f64, T>;
//!     fn forward(&self, x: Tensor<(B, I), f64, T>) -> Self::Output {
//!         FusedSwiGlu(PhantomData).apply((&x, &self.w1, &self.b1, &self.w2, &self.b2))
//!     }
//! }
//!
//! fn param<S: ConstShape>(rng: &mut Rng) -> Tensor<S, f64> {
//!     Tensor::uniform_shaped(S::default(), rng, -0.5, 0.5).requires_grad_(true)
//! }
//!
//! fn fused(rng: &mut Rng) -> SwiGluFused<U4, U3> {
//!     SwiGluFused { w1: param(rng), b1: param(rng), w2: param(rng), b2: param(rng) }
//! }
//!
//! proptest! {
//!     #![proptest_config(config(8))]
//!     fn fused_swiglu_laws(
//!         x in any_tensor_f64::<(usize, U4)>().sizes(1, 5),
//!         block in any_module(fused),
//!     ) {
//!         let mut block = block.module;
//!         // the hand-written backward against finite differences
//!         check_module_gradients(&mut block, &x, |b, x| b.forward(x))?;
//!         // the fused forward against the composition of the library's ops
//!         let (a, g) = (x.clone().matmul(&block.w1).broadcast_add(&block.b1), x.clone().matmul(&block.w2).broadcast_add(&block.b2));
//!         close(&block.forward(x.clone()), &a.mul(&g.silu()), Tolerance::ROUNDING)?;
//!     }
//! }
//! fused_swiglu_laws();
//! ```
//!
//! # When a property fails
//! The report replays. proptest prints the shrunk inputs: a tensor's `Debug` is Rust code that
//! rebuilds it at full precision (`Tensor::<(usize, U4), f64>::from_vec_shaped((1, U4::new()),
//! vec![0.5, -1.0000000000000002, ..]).unwrap()`), paste it into a test; a module prints its
//! seed and every weight, and `strategy.rebuild(seed)` makes it again, `params_in` included.
//! A [`close`] failure names the element, both values at full precision, the tolerance in
//! scientific notation and the line that called `close`. A gradient check reports every tensor
//! that disagrees (its first element), says "no gradient reached `b2`" when none did, and
//! refuses a module with no parameter instead of passing having checked nothing;
//! [`GradCheck::parameters_only`] skips the input.
//!
//! Keep inputs off kinks, where finite differences straddle two slopes and a check fails for
//! no bug: `.away_from(0.0, 1e-3)` keeps every value of a tensor at least `1e-3` from 0 (ReLU,
//! `abs`), and shrinking stays outside that neighbourhood; `.range(a, b).or_range(c, d)` draws
//! from a union of ranges. Special values on request: `.with_zeros()` for exact `0.0`/`-0.0`
//! (the kinks of ReLU, the ties of max pooling), `.with_large()` for overflow-prone magnitudes,
//! `.with_nonfinite()` for NaN and infinities (then compare with
//! `Tolerance { equal_nan: true, .. }`).

pub use crate::gradcheck::{
    check_gradients, check_gradients_with, check_module_gradients, check_module_gradients_with,
    GradCheck, GradCheckError, GradMismatch,
};

/// What a property test file needs, in one glob: proptest's macros and strategy tools (its
/// prelude without `Rng`, which would clash with [`crate::tensor::Rng`] under
/// `stensor::prelude::*`) and everything in this module.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::prelude::*;
/// proptest! {
///     #![proptest_config(config(4))]
///     fn doubling_is_adding(x in any_tensor::<(U3,)>()) {
///         close(&x.clone().mul_scalar(2.0), &x.clone().add(&x), Tolerance::F32)?;
///         let _rng = Rng::seed(0); // stensor's
///     }
/// }
/// doubling_is_adding();
/// ```
pub mod prelude {
    pub use super::*;
    pub use proptest::prelude::{
        any, any_with, prop, prop_assert, prop_assert_eq, prop_assert_ne, prop_assume,
        prop_compose, prop_oneof, proptest, Arbitrary, BoxedStrategy, Just, ProptestConfig,
        Strategy, TestCaseError,
    };
}

/// The number of cases a property runs: `PROPTEST_CASES` when it is set (a long run), else
/// `default` (what the suite runs in CI). `ProptestConfig::with_cases(n)` would override the
/// variable.
///
/// ```
/// // with PROPTEST_CASES unset
/// # std::env::remove_var("PROPTEST_CASES");
/// assert_eq!(stensor::testing::cases(16), 16);
/// ```
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// proptest's default configuration with [`cases`]`(default)` cases: the
/// `#![proptest_config(..)]` of a suite that runs `default` cases in CI and honours
/// `PROPTEST_CASES`.
///
/// ```
/// use proptest::prelude::*;
/// use stensor::prelude::*;
/// proptest! {
///     #![proptest_config(stensor::testing::config(8))]
///     fn abs_is_even(x in stensor::testing::any_tensor::<(U4,)>()) {
///         prop_assert_eq!(x.clone().abs().to_vec(), x.neg().abs().to_vec());
///     }
/// }
/// abs_is_even();
/// ```
pub fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        ..ProptestConfig::default()
    }
}

use crate::autograd::TapeMode;
use crate::nn::Module;
use crate::shape::Shape;
use crate::tensor::{Element, Plain, Rng, Tensor, Values, ValuesMut};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, NewTree, ValueTree};
use proptest::test_runner::TestRunner;
use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;
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
    /// The value ranges `[low, high)`, their union.
    ranges: Vec<(f64, f64)>,
    /// Neighbourhoods `(center, delta)` no value falls in.
    excluded: Vec<(f64, f64)>,
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
            ranges: vec![(-1.0, 1.0)],
            excluded: vec![],
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

    /// Uniform values in `[low, high)` (replacing the ranges so far). Shrinking moves a value
    /// toward the simplest value of its range (0 when the range holds it, else the end nearest
    /// 0), never out of it.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let _ = stensor::testing::any_tensor::<(U2,)>().range(-10.0, 10.0);
    /// ```
    pub fn range(mut self, low: f64, high: f64) -> Self {
        check_range(low, high);
        self.ranges = vec![(low, high)];
        self
    }

    /// Adds `[low, high)` to the ranges: values come from their union, each range weighted by
    /// its length.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// // the domain of a log-barrier: far from the pole at 0 on both sides
    /// let s = stensor::testing::any_tensor_f64::<(U64,)>().range(-10.0, -1.0).or_range(1.0, 10.0);
    /// let t = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert!(t.as_slice().iter().all(|v| (1.0..10.0).contains(&v.abs())));
    /// ```
    pub fn or_range(mut self, low: f64, high: f64) -> Self {
        check_range(low, high);
        self.ranges.push((low, high));
        self
    }

    /// No value closer than `delta` to `center`: keeps inputs off a kink (ReLU's and `abs`'s at
    /// 0, a clamp's bounds), where finite differences straddle two slopes and a gradient check
    /// fails for a reason that is no bug. Shrinking stays outside the neighbourhood (toward
    /// `center + delta` or `center - delta` when the range holds 0 nearby). Values are at least
    /// `delta` away before rounding to `E`.
    ///
    /// # Panics
    /// If `delta` is not positive or `center` not finite.
    ///
    /// ```
    /// use proptest::prelude::*;
    /// use stensor::prelude::*;
    /// use stensor::testing::{any_tensor_f64, check_gradients};
    /// proptest!(|(x in any_tensor_f64::<(U8,)>().away_from(0.0, 1e-3))| {
    ///     prop_assert!(x.as_slice().iter().all(|v| v.abs() >= 1e-3));
    ///     check_gradients(|x| x.relu(), &x)?;
    /// });
    /// ```
    pub fn away_from(mut self, center: f64, delta: f64) -> Self {
        assert!(
            delta > 0.0 && center.is_finite(),
            "away_from({center}, {delta}): need a finite center and a positive delta"
        );
        self.excluded.push((center, delta));
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
        // special values that `away_from` rules out stay out
        specials.retain(|v| self.excluded.iter().all(|&(c, d)| (v - c).abs() >= d));
        if self.nonfinite {
            specials.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
        }
        let uniform = ValuesIn::new(&self.ranges, &self.excluded).boxed();
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

/// Panics unless `[low, high)` is a finite, non-empty range.
fn check_range(low: f64, high: f64) {
    assert!(
        low < high && low.is_finite() && high.is_finite(),
        "range({low}, {high}): need finite low < high"
    );
}

/// A piece of the allowed values: `[lo, hi)`, or `[lo, hi]` when `closed` (an end made by an
/// excluded neighbourhood, whose edge is allowed).
#[derive(Clone, Copy, Debug)]
struct Piece {
    lo: f64,
    hi: f64,
    closed: bool,
}

impl Piece {
    /// The simplest value of the piece: 0 if it holds 0, else its end nearest 0.
    fn simplest(&self) -> f64 {
        if self.lo <= 0.0 && (0.0 < self.hi || (self.closed && self.hi == 0.0)) {
            0.0
        } else if self.lo > 0.0 {
            self.lo
        } else if self.closed {
            self.hi
        } else {
            self.hi.next_down()
        }
    }
}

/// Uniform values from a union of ranges less some open neighbourhoods; each value shrinks
/// toward its piece's simplest value along the segment between them, inside the piece.
#[derive(Clone, Debug)]
struct ValuesIn {
    pieces: Vec<Piece>,
    total: f64,
}

impl ValuesIn {
    /// # Panics
    /// If the neighbourhoods leave nothing of the ranges.
    fn new(ranges: &[(f64, f64)], excluded: &[(f64, f64)]) -> Self {
        let mut pieces: Vec<Piece> = ranges
            .iter()
            .map(|&(lo, hi)| Piece {
                lo,
                hi,
                closed: false,
            })
            .collect();
        for &(c, d) in excluded {
            let (p, q) = (c - d, c + d);
            pieces = pieces
                .into_iter()
                .flat_map(|pc| {
                    let mut out = vec![];
                    if q <= pc.lo || p >= pc.hi {
                        out.push(pc);
                        return out;
                    }
                    if pc.lo < p {
                        out.push(Piece {
                            lo: pc.lo,
                            hi: p,
                            closed: true,
                        });
                    }
                    if q < pc.hi {
                        out.push(Piece {
                            lo: q,
                            hi: pc.hi,
                            closed: pc.closed,
                        });
                    }
                    out
                })
                .collect();
        }
        pieces.retain(|p| p.hi > p.lo);
        let total = pieces.iter().map(|p| p.hi - p.lo).sum::<f64>();
        assert!(
            total > 0.0,
            "away_from leaves no value of the ranges {ranges:?} (excluded: {excluded:?})"
        );
        ValuesIn { pieces, total }
    }
}

impl Strategy for ValuesIn {
    type Tree = Shrinking;
    type Value = f64;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut at = runner.rng().random_range(0.0..self.total);
        let mut piece = self.pieces[self.pieces.len() - 1];
        for p in &self.pieces {
            if at < p.hi - p.lo {
                piece = *p;
                break;
            }
            at -= p.hi - p.lo;
        }
        let value = (piece.lo + at).clamp(piece.lo, piece.hi);
        let value = if !piece.closed && value >= piece.hi {
            piece.hi.next_down()
        } else {
            value
        };
        Ok(Shrinking {
            target: piece.simplest(),
            start: value,
            lo: 0.0,
            curr: 1.0,
            hi: 1.0,
            tried_target: false,
        })
    }
}

/// A value shrinking toward `target` along the segment from `start` (both in one piece, so
/// every point between is allowed): the value at `t` is `target + t (start - target)`, and a
/// binary search on `t` (the target itself tried first) finds the smallest `t` that still
/// fails.
#[derive(Clone, Debug)]
struct Shrinking {
    target: f64,
    start: f64,
    /// Known to pass below (or the target).
    lo: f64,
    curr: f64,
    /// Known to fail.
    hi: f64,
    tried_target: bool,
}

impl ValueTree for Shrinking {
    type Value = f64;

    fn current(&self) -> f64 {
        if self.curr == 0.0 {
            self.target
        } else if self.curr == 1.0 {
            self.start
        } else {
            self.target + self.curr * (self.start - self.target)
        }
    }

    fn simplify(&mut self) -> bool {
        self.hi = self.curr;
        if !self.tried_target && self.curr > 0.0 {
            self.tried_target = true;
            self.curr = 0.0;
            return true;
        }
        self.next()
    }

    fn complicate(&mut self) -> bool {
        if self.curr >= self.hi {
            return false;
        }
        self.lo = self.curr;
        if self.next() {
            return true;
        }
        // done: back to the last value known to fail, the one proptest reports
        self.curr = self.hi;
        false
    }
}

impl Shrinking {
    /// The midpoint of what is left to search, unless the search is done (the remaining
    /// interval under a thousandth of the segment, or no value between).
    fn next(&mut self) -> bool {
        if self.hi - self.lo < 1e-3 {
            return false;
        }
        let mid = (self.lo + self.hi) / 2.0;
        let changed = mid != self.curr;
        self.curr = mid;
        changed
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
/// Printed (in a failure report) as the seed, the module's PyTorch-style line, and every
/// parameter and buffer at full precision (those of more than 4096 values as their count);
/// [`ModuleStrategy::rebuild`] with the seed makes exactly this module again.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let s = stensor::testing::any_module(|rng| Linear::<U2, U3>::new(rng));
/// let m = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
/// let shown = format!("{m:?}");
/// assert!(shown.contains("Linear(in_features=2, out_features=3, bias=True)"));
/// assert!(shown.contains(&format!("weight: {:?}", m.module.weight.as_slice())));
/// ```
#[derive(Clone)]
pub struct Seeded<M> {
    /// The seed the module was built from.
    pub seed: u64,
    /// The module.
    pub module: M,
}

/// A tensor of more values than this prints as its count: the seed rebuilds it.
const MAX_PRINTED: usize = 4096;

impl<M: Module> fmt::Debug for Seeded<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} (`strategy.rebuild({})` makes it again): {}({})",
            self.seed,
            self.seed,
            self.module.kind(),
            self.module.extra_repr()
        )?;
        let mut tensors = vec![];
        self.module.visit("", &mut |name, t| {
            let values = match &t.values {
                v if v.len() > MAX_PRINTED => format!("<{} values>", v.len()),
                Values::F32(v) => format!("{v:?}"),
                Values::F64(v) => format!("{v:?}"),
                Values::I64(v) => format!("{v:?}"),
            };
            tensors.push(format!("{name}: {values}"));
        });
        if !tensors.is_empty() {
            write!(f, " {{ {} }}", tensors.join(", "))?;
        }
        Ok(())
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
    /// A module without a parameter makes the strategy panic, naming the module and its
    /// buffers: a redraw that changes nothing would let every property pass untested.
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

impl<M: Module> ModuleStrategy<M> {
    /// The module this strategy makes from `seed` (a failure report's seed), parameters redrawn
    /// as [`Self::params_in`] says: the failing case's module, to debug outside proptest.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// let s = stensor::testing::any_module(|rng| Linear::<U2, U2>::new(rng)).params_in(-3.0, 3.0);
    /// let m = s.new_tree(&mut proptest::test_runner::TestRunner::deterministic()).unwrap().current();
    /// assert_eq!(s.rebuild(m.seed).weight.to_vec(), m.module.weight.to_vec());
    /// ```
    ///
    /// # Panics
    /// With `params_in`, if the module has no parameter (see [`Self::params_in`]).
    pub fn rebuild(&self, seed: u64) -> M {
        let mut rng = Rng::seed(seed);
        let mut module = (self.build)(&mut rng);
        let Some((low, high)) = self.params else {
            return module;
        };
        let (mut redrawn, mut buffers) = (0, vec![]);
        module.visit_mut("", &mut |name, t| {
            if t.kind != crate::nn::TensorKind::Parameter {
                buffers.push(format!("`{name}`"));
                return;
            }
            redrawn += 1;
            match t.values {
                ValuesMut::F32(v) => v
                    .iter_mut()
                    .for_each(|x| *x = rng.uniform(low, high) as f32),
                ValuesMut::F64(v) => v.iter_mut().for_each(|x| *x = rng.uniform(low, high)),
                ValuesMut::I64(_) => {}
            }
        });
        assert!(
            redrawn > 0,
            "params_in({low}, {high}): `{}` has no parameter to redraw{}; a layer declares its \
             parameters with `#[module(param)]` on the field (or visits them as \
             `TensorKind::Parameter` in a hand-written `Module`)",
            module.kind(),
            if buffers.is_empty() {
                String::new()
            } else {
                format!(" (its buffers: {})", buffers.join(", "))
            }
        );
        module
    }
}

impl<M: Module> Strategy for ModuleStrategy<M> {
    type Tree = Box<dyn ValueTree<Value = Seeded<M>>>;
    type Value = Seeded<M>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let this = self.clone();
        any::<u64>()
            .prop_map(move |seed| Seeded {
                seed,
                module: this.rebuild(seed),
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

    /// Bit for bit (except that `-0.0` equals `0.0`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::testing::{close, Tolerance};
    /// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]);
    /// close(&x.clone().mul_scalar(1.0), &x, Tolerance::EXACT).unwrap();
    /// ```
    pub const EXACT: Tolerance = Tolerance {
        rtol: 0.0,
        atol: 0.0,
        equal_nan: false,
    };
    /// `f64` results equal up to rounding in another order (a sum split differently, an
    /// identity between two formulas): rtol and atol 1e-10.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::testing::{close, Tolerance};
    /// let x = Tensor::<(U3,), f64>::from_array([0.1, 0.2, 0.3]);
    /// close(&x.clone().add_scalar(0.7).add_scalar(-0.7), &x, Tolerance::ROUNDING).unwrap();
    /// ```
    pub const ROUNDING: Tolerance = Tolerance {
        rtol: 1e-10,
        atol: 1e-10,
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

/// In scientific notation: `rtol 1.3e-6, atol 1e-5`.
///
/// ```
/// assert_eq!(stensor::testing::Tolerance::F32.to_string(), "rtol 1.3e-6, atol 1e-5");
/// ```
impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rtol {:e}, atol {:e}", self.rtol, self.atol)?;
        if self.equal_nan {
            f.write_str(", NaN equal to NaN")?;
        }
        Ok(())
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
/// assert!(err.to_string().starts_with("tensors are not close: 2 of 4 elements differ; the worst at index [0, 1]: 2.0 vs 2.5 (difference 5.000e-1 > allowed 1.000e-2) in `close` at src/"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Mismatch {
    /// Different dimensions (possible with a run-time dimension).
    Shape {
        /// The first tensor's dimensions.
        left: Vec<usize>,
        /// The second's.
        right: Vec<usize>,
        /// Where `close` was called.
        at: &'static Location<'static>,
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
        /// Where `close` was called.
        at: &'static Location<'static>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Shape { left, right, at } => {
                write!(f, "shapes differ: {left:?} vs {right:?} in `close` at {at}")
            }
            Mismatch::Values {
                count,
                numel,
                index,
                left,
                right,
                allowed,
                at,
            } => write!(
                f,
                "tensors are not close: {count} of {numel} elements differ; the worst at index \
                 {index:?}: {left:?} vs {right:?} (difference {:.3e} > allowed {allowed:.3e}) \
                 in `close` at {at}",
                (left - right).abs()
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// `Ok` when the tensors have the same dimensions and every pair of elements is close under
/// `tol`; otherwise the [`Mismatch`] with the worst element (its values at full precision) and
/// the place `close` was called, so a `close(..)?` inside `proptest!` reports its own line.
/// Works across tape modes (a traced result against a plain one).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::testing::{close, Tolerance};
/// let x = Tensor::<(U3,), f64>::from_array([0.5, -1.0, 2.0]);
/// close(&x.clone().sigmoid().add(&x.neg().sigmoid()), &Tensor::ones(), Tolerance::F64).unwrap();
/// ```
#[track_caller]
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
    let at = Location::caller();
    let (da, db) = (a.dims(), b.dims());
    if da != db {
        return Err(Mismatch::Shape {
            left: da.to_vec(),
            right: db.to_vec(),
            at,
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
                at,
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
            right: db.to_vec(),
            at: Location::caller(),
        }
    );
}
