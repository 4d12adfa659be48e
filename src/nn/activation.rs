//! Activation layers (PyTorch's `nn.ReLU`, `nn.GELU`, `nn.Softmax` ...): each applies the
//! function of the same name on [`Tensor`] to any shape. Layers with settings keep them as
//! public fields with PyTorch's defaults (`LeakyReLU::default()` has `negative_slope = 0.01`).

use super::repr::py_float;
use super::{param, Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::{ConstDim, HasAxis, Shape};
use crate::tensor::{Element, Rng, Tensor};
use std::sync::Mutex;

macro_rules! simple_activation {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
        #[module(leaf)]
        pub struct $name;

        impl<S: Shape, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for $name {
            type Output = Tensor<S, E, T>;
            fn forward(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
                x.$method()
            }
        }
    };
}

simple_activation!(
    /// `1 / (1 + e^-x)` (`nn.Sigmoid`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Sigmoid};
    /// assert_eq!(Sigmoid.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.5]);
    /// ```
    Sigmoid, sigmoid
);
simple_activation!(
    /// Hyperbolic tangent (`nn.Tanh`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Tanh};
    /// assert_eq!(Tanh.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.0]);
    /// ```
    Tanh, tanh
);
simple_activation!(
    /// `max(x, 0)` (`nn.ReLU`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ReLU};
    /// assert_eq!(ReLU.forward(Tensor::<(U2,)>::from_array([-1.0, 1.0])).to_vec(), vec![0.0, 1.0]);
    /// ```
    ReLU, relu
);
simple_activation!(
    /// `min(max(x, 0), 6)` (`nn.ReLU6`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ReLU6};
    /// assert_eq!(ReLU6.forward(Tensor::<(U1,)>::full(7.0)).to_vec(), vec![6.0]);
    /// ```
    ReLU6, relu6
);
simple_activation!(
    /// Scaled ELU with PyTorch's constants (`nn.SELU`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, SELU};
    /// assert_eq!(SELU.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.0]);
    /// ```
    SELU, selu
);
simple_activation!(
    /// `x - tanh(x)` (`nn.Tanhshrink`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Tanhshrink};
    /// assert_eq!(Tanhshrink.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.0]);
    /// ```
    Tanhshrink, tanhshrink
);
simple_activation!(
    /// `ln(sigmoid(x))` (`nn.LogSigmoid`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{LogSigmoid, Forward};
    /// assert_eq!(LogSigmoid.forward(Tensor::<(U1,), f64>::full(1000.0)).to_vec(), vec![0.0]);
    /// ```
    LogSigmoid, log_sigmoid
);
simple_activation!(
    /// `x sigmoid(x)` (`nn.SiLU`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, SiLU};
    /// assert_eq!(SiLU.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.0]);
    /// ```
    SiLU, silu
);
simple_activation!(
    /// `x tanh(softplus(x))` (`nn.Mish`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Mish, Forward};
    /// assert_eq!(Mish.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.0]);
    /// ```
    Mish, mish
);
simple_activation!(
    /// `x relu6(x + 3) / 6` (`nn.Hardswish`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Hardswish, Forward};
    /// assert_eq!(Hardswish.forward(Tensor::<(U1,)>::full(3.0)).to_vec(), vec![3.0]);
    /// ```
    Hardswish, hardswish
);
simple_activation!(
    /// `relu6(x + 3) / 6` (`nn.Hardsigmoid`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Hardsigmoid, Forward};
    /// assert_eq!(Hardsigmoid.forward(Tensor::<(U1,)>::zeros()).to_vec(), vec![0.5]);
    /// ```
    Hardsigmoid, hardsigmoid
);

macro_rules! configured_activation {
    (
        $(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $default:expr),+ },
        |$s:ident, $x:ident| $body:expr,
        repr = |$r:ident| $repr:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Module)]
        #[module(leaf, extra_repr = repr)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: f64,)+
        }

        impl $name {
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String {
                let $r = self;
                $repr
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default),+ }
            }
        }

        impl<S: Shape, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for $name {
            type Output = Tensor<S, E, T>;
            fn forward(&self, $x: Tensor<S, E, T>) -> Tensor<S, E, T> {
                let $s = self;
                $body
            }
        }
    };
}

configured_activation!(
    /// `x` if positive, else `negative_slope * x` (`nn.LeakyReLU`, default slope 0.01).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{LeakyReLU, Forward};
    /// let y = LeakyReLU::default().forward(Tensor::<(U1,)>::full(-100.0));
    /// assert_eq!(y.to_vec(), vec![-1.0]);
    /// ```
    LeakyReLU { /// The slope for negative inputs.
        negative_slope: 0.01 },
    |s, x| x.leaky_relu(E::from_f64(s.negative_slope)),
    repr = |s| format!("negative_slope={}", py_float(s.negative_slope))
);
configured_activation!(
    /// `x` if positive, else `alpha (e^x - 1)` (`nn.ELU`, default alpha 1).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ELU};
    /// assert_eq!(ELU { alpha: 2.0 }.forward(Tensor::<(U1,)>::full(-1000.0)).to_vec(), vec![-2.0]);
    /// ```
    ELU { /// The saturation value for negative inputs.
        alpha: 1.0 },
    |s, x| x.elu(E::from_f64(s.alpha)),
    repr = |s| format!("alpha={}", py_float(s.alpha))
);
configured_activation!(
    /// `max(0, x) + min(0, alpha (e^(x/alpha) - 1))` (`nn.CELU`, default alpha 1).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, CELU};
    /// assert_eq!(CELU::default().forward(Tensor::<(U1,)>::full(2.0)).to_vec(), vec![2.0]);
    /// ```
    CELU { /// The scale of the negative part.
        alpha: 1.0 },
    |s, x| x.celu(E::from_f64(s.alpha)),
    repr = |s| format!("alpha={}", py_float(s.alpha))
);
configured_activation!(
    /// `ln(1 + e^(beta x)) / beta`, linear above `threshold` (`nn.Softplus`, defaults 1 and 20).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Softplus};
    /// assert_eq!(Softplus::default().forward(Tensor::<(U1,), f64>::full(-1000.0)).to_vec(), vec![0.0]);
    /// ```
    Softplus { /// The sharpness.
        beta: 1.0, /// Above `beta * x > threshold` the output is `x`.
        threshold: 20.0 },
    |s, x| x.softplus(E::from_f64(s.beta), E::from_f64(s.threshold)),
    repr = |s| format!("beta={}, threshold={}", py_float(s.beta), py_float(s.threshold))
);
configured_activation!(
    /// Shrinks toward zero by `lambd` (`nn.Softshrink`, default 0.5).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Softshrink};
    /// assert_eq!(Softshrink::default().forward(Tensor::<(U1,)>::full(1.0)).to_vec(), vec![0.5]);
    /// ```
    Softshrink { /// The shrinkage.
        lambd: 0.5 },
    |s, x| x.softshrink(E::from_f64(s.lambd)),
    repr = |s| py_float(s.lambd)
);
configured_activation!(
    /// Zeroes values within `lambd` of zero (`nn.Hardshrink`, default 0.5).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Hardshrink, Forward};
    /// assert_eq!(Hardshrink::default().forward(Tensor::<(U1,)>::full(0.3)).to_vec(), vec![0.0]);
    /// ```
    Hardshrink { /// The threshold.
        lambd: 0.5 },
    |s, x| x.hardshrink(E::from_f64(s.lambd)),
    repr = |s| py_float(s.lambd)
);
configured_activation!(
    /// `x` clamped to `[min_val, max_val]` (`nn.Hardtanh`, defaults -1 and 1).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Hardtanh, Forward};
    /// assert_eq!(Hardtanh::default().forward(Tensor::<(U1,)>::full(5.0)).to_vec(), vec![1.0]);
    /// ```
    Hardtanh { /// The lower bound.
        min_val: -1.0, /// The upper bound.
        max_val: 1.0 },
    |s, x| x.hardtanh(E::from_f64(s.min_val), E::from_f64(s.max_val)),
    repr = |s| format!("min_val={}, max_val={}", py_float(s.min_val), py_float(s.max_val))
);

/// GELU (`nn.GELU`): exact (`approximate = false`, PyTorch's `"none"`, the default) or with the
/// tanh approximation.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, GELU};
/// let x = Tensor::<(U1,), f64>::full(1.0);
/// let exact = GELU::default().forward(x.clone()).item();
/// let approx = GELU { approximate: true }.forward(x).item();
/// assert!((exact - approx).abs() < 1e-3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
#[module(leaf, extra_repr = repr)]
pub struct GELU {
    /// Use the tanh approximation (PyTorch's `approximate="tanh"`).
    pub approximate: bool,
}

impl GELU {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        let mode = if self.approximate { "tanh" } else { "none" };
        format!("approximate='{mode}'")
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for GELU {
    type Output = Tensor<S, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
        if self.approximate {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }
}

/// Randomized leaky ReLU (`nn.RReLU`, defaults `lower = 1/8`, `upper = 1/3`): in training each
/// negative element gets a slope drawn from `U(lower, upper)`; in evaluation the slope is
/// `(lower + upper) / 2`. Draws come from the layer's seeded generator.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, RReLU};
/// let mut r = RReLU::new(0.1, 0.3, 7);
/// let y = r.forward(Tensor::<(U4,), f64>::full(-1.0));
/// assert!(y.to_vec().iter().all(|v| (-0.3..=-0.1).contains(v)));
/// r.eval();
/// assert!((r.forward(Tensor::<(U1,), f64>::full(-1.0)).item() + 0.2).abs() < 1e-12);
/// ```
#[derive(Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct RReLU {
    /// The smallest slope.
    pub lower: f64,
    /// The largest slope.
    pub upper: f64,
    #[module(training)]
    training: bool,
    rng: Mutex<Rng>,
}

impl RReLU {
    /// In training mode, drawing slopes from a generator seeded with `seed`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, RReLU};
    /// let r = RReLU::new(0.1, 0.3, 0);
    /// let y = r.forward(Tensor::<(U3,), f64>::full(-1.0));
    /// assert!(y.to_vec().iter().all(|&v| (-0.3..=-0.1).contains(&v)));
    /// ```
    pub fn new(lower: f64, upper: f64, seed: u64) -> Self {
        RReLU {
            lower,
            upper,
            training: true,
            rng: Mutex::new(Rng::seed(seed)),
        }
    }
    /// Switches to training mode (random slopes).
    ///
    /// ```
    /// let mut r = stensor::nn::RReLU::new(0.1, 0.3, 0);
    /// r.eval();
    /// r.train();
    /// assert!(r.is_training());
    /// ```
    pub fn train(&mut self) {
        self.training = true;
    }
    /// Switches to evaluation mode (the mean slope).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, RReLU};
    /// let mut r = RReLU::new(0.1, 0.3, 0);
    /// r.eval();
    /// assert!((r.forward(Tensor::<(U1,), f64>::full(-1.0)).item() + 0.2).abs() < 1e-15);
    /// ```
    pub fn eval(&mut self) {
        self.training = false;
    }
    /// Whether the layer is in training mode (it starts in it).
    ///
    /// ```
    /// assert!(stensor::nn::RReLU::new(0.1, 0.3, 0).is_training());
    /// ```
    pub fn is_training(&self) -> bool {
        self.training
    }
}

impl RReLU {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        format!(
            "lower={}, upper={}",
            py_float(self.lower),
            py_float(self.upper)
        )
    }
}

impl Default for RReLU {
    fn default() -> Self {
        RReLU::new(1.0 / 8.0, 1.0 / 3.0, 0)
    }
}

impl Clone for RReLU {
    fn clone(&self) -> Self {
        RReLU {
            lower: self.lower,
            upper: self.upper,
            training: self.training,
            rng: Mutex::new(self.rng.lock().expect("rrelu generator").clone()),
        }
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for RReLU {
    type Output = Tensor<S, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
        if !self.training {
            return x.leaky_relu(E::from_f64((self.lower + self.upper) / 2.0));
        }
        let mut rng = self.rng.lock().expect("rrelu generator");
        let slopes = (0..x.numel())
            .map(|_| E::from_f64(rng.uniform(self.lower, self.upper)))
            .collect();
        x.leaky_by(slopes)
    }
}

/// Parametric ReLU (`nn.PReLU`): `x` if positive, else `a * x`, with `W` learnable slopes (`U1`:
/// one shared, or one per channel of dim 1), initialised to 0.25.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, PReLU};
/// let p = PReLU::<U3>::new();
/// let y = p.forward(Tensor::<(U1, U3, U2)>::full(-4.0));
/// assert_eq!(y.to_vec(), vec![-1.0; 6]);
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct PReLU<W: ConstDim = typenum::U1, E: Element = f32> {
    /// The slopes, `(W,)`.
    #[module(param)]
    pub weight: Tensor<(W,), E>,
}

impl<W: ConstDim, E: Element> PReLU<W, E> {
    /// Slopes initialised to PyTorch's 0.25.
    ///
    /// ```
    /// let p = stensor::nn::PReLU::<stensor::dims::U2>::new();
    /// assert_eq!(p.weight.to_vec(), vec![0.25; 2]);
    /// ```
    pub fn new() -> Self {
        Self::with_init(0.25)
    }
    /// Slopes initialised to `init`.
    ///
    /// ```
    /// let p = stensor::nn::PReLU::<stensor::dims::U1>::with_init(0.1);
    /// assert_eq!(p.weight.to_vec(), vec![0.1]);
    /// assert!(p.weight.requires_grad());
    /// ```
    pub fn with_init(init: f64) -> Self {
        PReLU {
            weight: param(Tensor::full(E::from_f64(init))),
        }
    }
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        format!("num_parameters={}", W::SIZE)
    }
}

impl<W: ConstDim, E: Element> Default for PReLU<W, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Shape, W: ConstDim, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for PReLU<W, E> {
    type Output = Tensor<S, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
        x.prelu(&self.weight)
    }
}

macro_rules! axis_activation {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Module)]
        #[module(leaf, extra_repr = repr)]
        pub struct $name<const DIM: usize>;

        impl<const DIM: usize> $name<DIM> {
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String {
                format!("dim={DIM}")
            }
        }

        impl<const DIM: usize, S: HasAxis<DIM>, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for $name<DIM> {
            type Output = Tensor<S, E, T>;
            fn forward(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
                x.$method::<DIM>()
            }
        }
    };
}
axis_activation!(
    /// Softmax along axis `DIM` (`nn.Softmax(dim)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Softmax};
    /// let y = Softmax::<1>.forward(Tensor::<(U1, U2)>::zeros());
    /// assert_eq!(y.to_vec(), vec![0.5, 0.5]);
    /// ```
    Softmax, softmax
);
axis_activation!(
    /// Log-softmax along axis `DIM` (`nn.LogSoftmax(dim)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{LogSoftmax, Forward};
    /// let y = LogSoftmax::<0>.forward(Tensor::<(U2,), f64>::zeros());
    /// assert_eq!(y.to_vec(), vec![-std::f64::consts::LN_2; 2]);
    /// ```
    LogSoftmax, log_softmax
);
axis_activation!(
    /// Softmin along axis `DIM` (`nn.Softmin(dim)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Softmin};
    /// let y = Softmin::<0>.forward(Tensor::<(U2,)>::from_array([0.0, 1000.0]));
    /// assert_eq!(y.to_vec(), vec![1.0, 0.0]);
    /// ```
    Softmin, softmin
);
