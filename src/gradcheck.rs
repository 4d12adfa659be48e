//! Checking backward rules against central finite differences, in `f64`.
//!
//! [`check_gradients`] traces `x`, runs `f`, and backpropagates a fixed random weighting of the
//! output (so every output element matters, not only their sum); it then perturbs every element
//! of `x` by `±eps` and compares `(L(x + eps) - L(x - eps)) / 2 eps` with the analytic
//! gradient. The first element outside `atol + rtol * |numeric|` is reported with its index and
//! both values.

use crate::autograd::Tape;
use crate::shape::Shape;
use crate::tensor::{Rng, Tensor};
use std::fmt;

/// Step and tolerances of a gradient check.
///
/// ```
/// let c = stensor::gradcheck::GradCheck::default();
/// assert_eq!((c.eps, c.rtol, c.atol), (1e-6, 1e-5, 1e-7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// Finite-difference step.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-6,
            rtol: 1e-5,
            atol: 1e-7,
        }
    }
}

/// A gradient that disagrees with finite differences.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::gradcheck::check_gradients;
/// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]);
/// // detach() hides the dependence from autograd: the analytic gradient is missing.
/// let err = check_gradients(|x| x.clone().add(&x.detach().square()), &x).unwrap_err();
/// assert_eq!(err.index, vec![0]);
/// assert!(err.to_string().starts_with("gradient mismatch at index [0]"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// The multi-index of the first element that disagrees.
    pub index: Vec<usize>,
    /// The finite-difference derivative.
    pub numeric: f64,
    /// The derivative backward computed.
    pub analytic: f64,
    /// The tolerance it was held to: `atol + rtol * |numeric|`.
    pub tolerance: f64,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradient mismatch at index {:?}: numeric {:.10e}, analytic {:.10e}, difference {:.3e} > tolerance {:.3e}",
            self.index,
            self.numeric,
            self.analytic,
            (self.numeric - self.analytic).abs(),
            self.tolerance
        )
    }
}

impl std::error::Error for GradCheckError {}

/// Checks the gradient of `f` at `x` with the default [`GradCheck`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::gradcheck::check_gradients;
/// let x = Tensor::<(U2, U3), f64>::rand_uniform(0, 0.5, 2.0);
/// check_gradients(|x| x.ln().sigmoid(), &x).unwrap();
/// ```
pub fn check_gradients<S, S2, F>(f: F, x: &Tensor<S, f64>) -> Result<(), GradCheckError>
where
    S: Shape,
    S2: Shape,
    F: Fn(Tensor<S, f64, Tape<f64>>) -> Tensor<S2, f64, Tape<f64>>,
{
    check_gradients_with(GradCheck::default(), f, x)
}

/// Checks the gradient of `f` at `x` with the given step and tolerances.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::gradcheck::{check_gradients_with, GradCheck};
/// let x = Tensor::<(U3,), f64>::from_array([0.3, -1.2, 2.0]);
/// let loose = GradCheck { eps: 1e-4, rtol: 1e-4, atol: 1e-6 };
/// check_gradients_with(loose, |x| x.tanh().mul_scalar(3.0), &x).unwrap();
/// ```
pub fn check_gradients_with<S, S2, F>(
    cfg: GradCheck,
    f: F,
    x: &Tensor<S, f64>,
) -> Result<(), GradCheckError>
where
    S: Shape,
    S2: Shape,
    F: Fn(Tensor<S, f64, Tape<f64>>) -> Tensor<S2, f64, Tape<f64>>,
{
    let y = f(x.clone().trace());
    // A fixed weighting of the outputs, so a wrong gradient of any one output shows.
    let mut rng = Rng::seed(0x5EED);
    let w: Vec<f64> = (0..y.numel()).map(|_| rng.uniform(0.5, 1.5)).collect();
    let wt = Tensor::<S2, f64>::from_vec_shaped(y.shape(), w.clone())
        .expect("weights have the output's length");
    let x_traced = x.clone().trace();
    let y = f(x_traced.clone());
    let grads = y.backward_with(&wt);
    let analytic = grads
        .slice(&x_traced)
        .map(|g| g.to_vec())
        .unwrap_or_else(|| vec![0.0; x.numel()]);

    let loss = |xv: Vec<f64>| -> f64 {
        let xt = Tensor::<S, f64>::from_vec_shaped(x.shape(), xv).expect("same length");
        let y = f(xt.trace());
        y.as_slice().iter().zip(&w).map(|(a, b)| a * b).sum()
    };
    let dims = x.dims();
    let base = x.to_vec();
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += cfg.eps;
        let mut minus = base.clone();
        minus[i] -= cfg.eps;
        let numeric = (loss(plus) - loss(minus)) / (2.0 * cfg.eps);
        let tolerance = cfg.atol + cfg.rtol * numeric.abs();
        let ok = (numeric - analytic[i]).abs() <= tolerance;
        if !ok || !analytic[i].is_finite() {
            let mut index = vec![0; dims.len()];
            let mut rem = i;
            for ax in (0..dims.len()).rev() {
                index[ax] = rem % dims[ax];
                rem /= dims[ax];
            }
            return Err(GradCheckError {
                index,
                numeric,
                analytic: analytic[i],
                tolerance,
            });
        }
    }
    Ok(())
}
