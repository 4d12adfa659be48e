//! PyTorch's default initialisation of the layers.
//!
//! `nn.Linear` and `nn.ConvNd` call `kaiming_uniform_(weight, a=sqrt(5))`, which for any fan-in
//! reduces to `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, and draw the bias from the same bound. The
//! fan-in is `weight.size(1) * receptive field`: `in_features`, `in_channels / groups * kernel
//! volume`, and for transposed convolutions `out_channels / groups * kernel volume` (PyTorch
//! reads dim 1 of their `(in, out / groups, k..)` weight).

use crate::shape::ConstShape;
use crate::tensor::{Element, Rng, Tensor};

/// The bound `1 / sqrt(fan_in)` of PyTorch's default weight and bias init (0 for an empty
/// fan-in, as PyTorch).
///
/// ```
/// assert_eq!(stensor::nn::init::default_bound(16), 0.25);
/// assert_eq!(stensor::nn::init::default_bound(0), 0.0);
/// ```
pub fn default_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}

/// A tensor drawn from `U(-bound, bound)` with `bound = 1 / sqrt(fan_in)`, as a parameter.
///
/// ```
/// use stensor::prelude::*;
/// let w = stensor::nn::init::default_uniform::<(U4, U16), f64>(16, &mut Rng::seed(0));
/// assert!(w.requires_grad());
/// assert!(w.to_vec().iter().all(|v| v.abs() <= 0.25));
/// ```
pub fn default_uniform<S: ConstShape, E: Element>(fan_in: usize, rng: &mut Rng) -> Tensor<S, E> {
    let b = E::from_f64(default_bound(fan_in));
    super::param(Tensor::uniform_shaped(S::default(), rng, -b, b))
}

/// Which fan [`kaiming_uniform_`] and [`kaiming_normal_`] preserve the variance of.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::{kaiming_uniform_, FanMode, Nonlinearity};
/// let mut w = Tensor::<(U4, U100)>::zeros();
/// kaiming_uniform_(&mut w, 0.0, FanMode::FanOut, Nonlinearity::ReLU, &mut Rng::seed(0));
/// // bound sqrt(2) * sqrt(3 / fan_out) with fan_out 4
/// assert!(w.to_vec().iter().all(|v| v.abs() <= 6f32.sqrt() / 2.0));
/// // fan_in (100) would bound them by sqrt(6) / 10
/// assert!(w.to_vec().iter().any(|v| v.abs() > 6f32.sqrt() / 10.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FanMode {
    /// The forward pass (PyTorch's default `"fan_in"`).
    #[default]
    FanIn,
    /// The backward pass (`"fan_out"`).
    FanOut,
}

/// A nonlinearity, for [`calculate_gain`].
///
/// ```
/// use stensor::nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::SELU, None), 0.75);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nonlinearity {
    /// Identity, linear and convolution layers: gain 1.
    Linear,
    /// Sigmoid: gain 1.
    Sigmoid,
    /// Tanh: gain 5/3.
    Tanh,
    /// ReLU: gain sqrt(2).
    ReLU,
    /// Leaky ReLU with the slope passed alongside: gain sqrt(2 / (1 + slope^2)).
    LeakyReLU,
    /// SELU: gain 3/4.
    SELU,
}

/// PyTorch's `calculate_gain(nonlinearity, param)`: the recommended scale of the weights in
/// front of `nonlinearity`; `param` is leaky ReLU's slope (default 0.01).
///
/// ```
/// use stensor::nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::ReLU, None), 2f64.sqrt());
/// assert_eq!(calculate_gain(Nonlinearity::Tanh, None), 5.0 / 3.0);
/// assert_eq!(calculate_gain(Nonlinearity::LeakyReLU, Some(0.0)), 2f64.sqrt());
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f64>) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::ReLU => 2f64.sqrt(),
        Nonlinearity::LeakyReLU => {
            let s = param.unwrap_or(0.01);
            (2.0 / (1.0 + s * s)).sqrt()
        }
        Nonlinearity::SELU => 0.75,
    }
}

/// A weight shape with a fan-in and a fan-out: rank 2 or more, `(out, in, kernel..)`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::FanShape;
/// assert_eq!((<(U6, U3, U5, U5) as FanShape>::FAN_IN, <(U6, U3, U5, U5) as FanShape>::FAN_OUT), (75, 150));
/// ```
#[diagnostic::on_unimplemented(
    message = "fan in and fan out need a tensor of at least 2 dimensions, not `{Self}`",
    label = "no fan for this shape",
    note = "PyTorch reads (out_features, in_features, kernel...)"
)]
pub trait FanShape: ConstShape {
    /// `in * receptive field`.
    const FAN_IN: usize;
    /// `out * receptive field`.
    const FAN_OUT: usize;
}

macro_rules! fan_shape {
    ($($K:ident),*) => {
        impl<O: crate::shape::ConstDim, I: crate::shape::ConstDim, $($K: crate::shape::ConstDim),*> FanShape for (O, I, $($K,)*) {
            const FAN_IN: usize = I::SIZE $(* $K::SIZE)*;
            const FAN_OUT: usize = O::SIZE $(* $K::SIZE)*;
        }
    };
}
fan_shape!();
fan_shape!(A);
fan_shape!(A, B);
fan_shape!(A, B, C);

fn fill<S: crate::shape::Shape, E: Element>(t: &mut Tensor<S, E>, mut f: impl FnMut() -> f64) {
    for v in t.as_mut_slice() {
        *v = E::from_f64(f());
    }
}

/// Fills `t` from `U(a, b)` (`init.uniform_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::uniform_;
/// let mut t = Tensor::<(U8,)>::zeros();
/// uniform_(&mut t, 2.0, 3.0, &mut Rng::seed(0));
/// assert!(t.to_vec().iter().all(|v| (2.0..3.0).contains(v)));
/// ```
pub fn uniform_<S: crate::shape::Shape, E: Element>(
    t: &mut Tensor<S, E>,
    a: f64,
    b: f64,
    rng: &mut Rng,
) {
    fill(t, || rng.uniform(a, b));
}

/// Fills `t` from `N(mean, std^2)` (`init.normal_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::normal_;
/// let mut t = Tensor::<(U8,), f64>::zeros();
/// normal_(&mut t, 0.0, 0.0, &mut Rng::seed(0));
/// assert_eq!(t.to_vec(), vec![0.0; 8]);
/// ```
pub fn normal_<S: crate::shape::Shape, E: Element>(
    t: &mut Tensor<S, E>,
    mean: f64,
    std: f64,
    rng: &mut Rng,
) {
    fill(t, || rng.normal(mean, std));
}

/// Fills `t` with `value` (`init.constant_`).
///
/// ```
/// use stensor::prelude::*;
/// let mut t = Tensor::<(U2,)>::zeros();
/// stensor::nn::init::constant_(&mut t, 0.5);
/// assert_eq!(t.to_vec(), vec![0.5, 0.5]);
/// ```
pub fn constant_<S: crate::shape::Shape, E: Element>(t: &mut Tensor<S, E>, value: f64) {
    fill(t, || value);
}

/// Fills `t` with zeros (`init.zeros_`).
///
/// ```
/// use stensor::prelude::*;
/// let mut t = Tensor::<(U2,)>::ones();
/// stensor::nn::init::zeros_(&mut t);
/// assert_eq!(t.to_vec(), vec![0.0, 0.0]);
/// ```
pub fn zeros_<S: crate::shape::Shape, E: Element>(t: &mut Tensor<S, E>) {
    constant_(t, 0.0);
}

/// Fills `t` with ones (`init.ones_`).
///
/// ```
/// use stensor::prelude::*;
/// let mut t = Tensor::<(U2,)>::zeros();
/// stensor::nn::init::ones_(&mut t);
/// assert_eq!(t.to_vec(), vec![1.0, 1.0]);
/// ```
pub fn ones_<S: crate::shape::Shape, E: Element>(t: &mut Tensor<S, E>) {
    constant_(t, 1.0);
}

/// Glorot uniform: `U(-b, b)` with `b = gain sqrt(6 / (fan_in + fan_out))`
/// (`init.xavier_uniform_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::xavier_uniform_;
/// let mut w = Tensor::<(U120, U400)>::zeros();
/// xavier_uniform_(&mut w, 1.0, &mut Rng::seed(0));
/// let b = (6.0f32 / 520.0).sqrt();
/// assert!(w.to_vec().iter().all(|v| v.abs() <= b));
/// ```
pub fn xavier_uniform_<S: FanShape, E: Element>(t: &mut Tensor<S, E>, gain: f64, rng: &mut Rng) {
    let b = gain * (6.0 / (S::FAN_IN + S::FAN_OUT) as f64).sqrt();
    uniform_(t, -b, b, rng);
}

/// Glorot normal: `N(0, std^2)` with `std = gain sqrt(2 / (fan_in + fan_out))`
/// (`init.xavier_normal_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::xavier_normal_;
/// let mut w = Tensor::<(U64, U64), f64>::zeros();
/// xavier_normal_(&mut w, 1.0, &mut Rng::seed(0));
/// let var = w.to_vec().iter().map(|v| v * v).sum::<f64>() / 4096.0;
/// assert!((var - 2.0 / 128.0).abs() < 0.002);
/// ```
pub fn xavier_normal_<S: FanShape, E: Element>(t: &mut Tensor<S, E>, gain: f64, rng: &mut Rng) {
    let std = gain * (2.0 / (S::FAN_IN + S::FAN_OUT) as f64).sqrt();
    normal_(t, 0.0, std, rng);
}

fn kaiming_std<S: FanShape>(a: f64, mode: FanMode, nonlinearity: Nonlinearity) -> f64 {
    let fan = match mode {
        FanMode::FanIn => S::FAN_IN,
        FanMode::FanOut => S::FAN_OUT,
    };
    calculate_gain(nonlinearity, Some(a)) / (fan as f64).sqrt()
}

/// He uniform: `U(-b, b)` with `b = sqrt(3) gain / sqrt(fan)`, the gain of `nonlinearity`
/// (with slope `a` for leaky ReLU) (`init.kaiming_uniform_`; PyTorch's defaults are `a = 0`,
/// fan-in, leaky ReLU).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::{kaiming_uniform_, FanMode, Nonlinearity};
/// let mut w = Tensor::<(U8, U6, U3, U3)>::zeros();
/// kaiming_uniform_(&mut w, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyReLU, &mut Rng::seed(0));
/// // a = sqrt(5): PyTorch's layer default, bound 1 / sqrt(fan_in)
/// assert!(w.to_vec().iter().all(|v| v.abs() <= 1.0 / 54f32.sqrt() + 1e-7));
/// ```
pub fn kaiming_uniform_<S: FanShape, E: Element>(
    t: &mut Tensor<S, E>,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) {
    let b = 3f64.sqrt() * kaiming_std::<S>(a, mode, nonlinearity);
    uniform_(t, -b, b, rng);
}

/// He normal: `N(0, std^2)` with `std = gain / sqrt(fan)` (`init.kaiming_normal_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::{kaiming_normal_, FanMode, Nonlinearity};
/// let mut w = Tensor::<(U128, U32), f64>::zeros();
/// kaiming_normal_(&mut w, 0.0, FanMode::FanIn, Nonlinearity::ReLU, &mut Rng::seed(1));
/// let var = w.to_vec().iter().map(|v| v * v).sum::<f64>() / 4096.0;
/// assert!((var - 2.0 / 32.0).abs() < 0.006);
/// ```
pub fn kaiming_normal_<S: FanShape, E: Element>(
    t: &mut Tensor<S, E>,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) {
    let std = kaiming_std::<S>(a, mode, nonlinearity);
    normal_(t, 0.0, std, rng);
}

/// A (semi-)orthogonal matrix scaled by `gain`, from the QR decomposition of a normal matrix,
/// over `(dims[0], rest flattened)` (`init.orthogonal_`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::init::orthogonal_;
/// let mut w = Tensor::<(U3, U5), f64>::zeros();
/// orthogonal_(&mut w, 1.0, &mut Rng::seed(0));
/// // rows are orthonormal: W W^T = I
/// let wwt = w.clone().matmul(&w.transpose::<0, 1>());
/// for i in 0..3 { for j in 0..3 {
///     assert!((wwt[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
/// } }
/// ```
pub fn orthogonal_<S: FanShape, E: Element>(t: &mut Tensor<S, E>, gain: f64, rng: &mut Rng) {
    let rows = S::DIMS[0];
    let cols = S::NUMEL / rows.max(1);
    let flat: Vec<f64> = (0..rows * cols).map(|_| rng.normal(0.0, 1.0)).collect();
    // Work on the tall orientation (m >= n) and take Q of its QR by modified Gram-Schmidt,
    // which yields R with a positive diagonal: PyTorch's sign-corrected Q.
    let transpose = rows < cols;
    let (m, n) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let a = |i: usize, j: usize| {
        if transpose {
            flat[j * cols + i]
        } else {
            flat[i * cols + j]
        }
    };
    let mut q: Vec<Vec<f64>> = (0..n).map(|j| (0..m).map(|i| a(i, j)).collect()).collect();
    for j in 0..n {
        let (done, rest) = q.split_at_mut(j);
        let qj = &mut rest[0];
        for qk in done.iter() {
            let r: f64 = qk.iter().zip(qj.iter()).map(|(a, b)| a * b).sum();
            qj.iter_mut().zip(qk).for_each(|(v, k)| *v -= r * k);
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        q[j].iter_mut().for_each(|v| *v /= norm);
    }
    let out = t.as_mut_slice();
    for r in 0..rows {
        for c in 0..cols {
            let v = if transpose { q[r][c] } else { q[c][r] };
            out[r * cols + c] = E::from_f64(gain * v);
        }
    }
}
