//! Checking backward rules against central finite differences, in `f64`.
//!
//! [`check_gradients`] traces `x`, runs `f`, and backpropagates a fixed random weighting of the
//! output (so every output element matters, not only their sum); it then perturbs every element
//! of `x` by `±eps` and compares `(L(x + eps) - L(x - eps)) / 2 eps` with the analytic
//! gradient. The first element outside `atol + rtol * |numeric|` is reported with its index and
//! both values. [`check_module_gradients`] does the same for every parameter of a module, too.

use crate::autograd::{Gradients, Tape};
use crate::nn::{Module, TensorKind};
use crate::shape::{Dims, Shape};
use crate::tensor::{Rng, Tensor, Values, ValuesMut};
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
/// assert_eq!((err.tensor.as_str(), err.index.clone()), ("input", vec![0]));
/// assert!(err.to_string().starts_with("gradient mismatch of `input` at index [0]: numeric"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// Which tensor: `input`, or a parameter's dotted name (`conv.weight`).
    pub tensor: String,
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
            "gradient mismatch of `{}` at index {:?}: numeric {:.10e}, analytic {:.10e}, difference {:.3e} > tolerance {:.3e}",
            self.tensor,
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
    let x_traced = x.clone().trace();
    let y = f(x_traced.clone());
    let (w, grads) = weighted_backward(y);
    let analytic = grads
        .slice(&x_traced)
        .map(|g| g.to_vec())
        .unwrap_or_else(|| vec![0.0; x.numel()]);
    let loss = |xv: Vec<f64>| -> f64 {
        let xt = Tensor::<S, f64>::from_vec_shaped(x.shape(), xv).expect("same length");
        weighted_sum(&f(xt.trace()), &w)
    };
    let base = x.to_vec();
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += cfg.eps;
        let mut minus = base.clone();
        minus[i] -= cfg.eps;
        let numeric = (loss(plus) - loss(minus)) / (2.0 * cfg.eps);
        compare(&cfg, "input", &x.dims(), i, numeric, analytic[i])?;
    }
    Ok(())
}

/// Backpropagates a fixed random weighting of `y`'s elements (so a wrong gradient of any one
/// output shows); returns the weights and the gradients.
fn weighted_backward<S2: Shape>(y: Tensor<S2, f64, Tape<f64>>) -> (Vec<f64>, Gradients<f64>) {
    let mut rng = Rng::seed(0x5EED);
    let w: Vec<f64> = (0..y.numel()).map(|_| rng.uniform(0.5, 1.5)).collect();
    let wt = Tensor::<S2, f64>::from_vec_shaped(y.shape(), w.clone())
        .expect("weights have the output's length");
    let grads = y.backward_with(&wt);
    (w, grads)
}

fn weighted_sum<S2: Shape>(y: &Tensor<S2, f64, Tape<f64>>, w: &[f64]) -> f64 {
    y.as_slice().iter().zip(w).map(|(a, b)| a * b).sum()
}

/// `Err` naming `tensor` and the multi-index of flat element `i` when the two derivatives
/// disagree (or the analytic one is not finite).
fn compare(
    cfg: &GradCheck,
    tensor: &str,
    dims: &Dims,
    i: usize,
    numeric: f64,
    analytic: f64,
) -> Result<(), GradCheckError> {
    let tolerance = cfg.atol + cfg.rtol * numeric.abs();
    if (numeric - analytic).abs() <= tolerance && analytic.is_finite() {
        return Ok(());
    }
    Err(GradCheckError {
        tensor: tensor.to_string(),
        index: dims.index_of(i),
        numeric,
        analytic,
        tolerance,
    })
}

/// Checks the gradients of `f(net, x)` with respect to `x` and to every `f64` parameter of
/// `net`, with the default [`GradCheck`]. Each parameter element is perturbed in place and
/// restored; a mismatch names the parameter (`0.weight`) and the element.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Linear, Tanh};
/// use stensor::gradcheck::check_module_gradients;
/// let mut net = (Linear::<U3, U2, f64>::new(&mut Rng::seed(0)), Tanh);
/// let x = Tensor::<(U4, U3), f64>::rand_normal(1, 0.0, 1.0);
/// check_module_gradients(&mut net, &x, |net, x| net.forward(x)).unwrap();
/// ```
pub fn check_module_gradients<M, S, S2, F>(
    net: &mut M,
    x: &Tensor<S, f64>,
    f: F,
) -> Result<(), GradCheckError>
where
    M: Module,
    S: Shape,
    S2: Shape,
    F: Fn(&M, Tensor<S, f64, Tape<f64>>) -> Tensor<S2, f64, Tape<f64>>,
{
    check_module_gradients_with(GradCheck::default(), net, x, f)
}

/// [`check_module_gradients`] with the given step and tolerances.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv1d, Forward};
/// use stensor::gradcheck::{check_module_gradients_with, GradCheck};
/// let mut conv = Conv1d::<U2, U3, U3, U1, U1, U1, U1, stensor::nn::Zeros, f64>::new(&mut Rng::seed(0));
/// let x = Tensor::<(U2, U2, U5), f64>::rand_normal(1, 0.0, 1.0);
/// let cfg = GradCheck { eps: 1e-5, rtol: 1e-4, atol: 1e-6 };
/// check_module_gradients_with(cfg, &mut conv, &x, |c, x| c.forward(x)).unwrap();
/// ```
pub fn check_module_gradients_with<M, S, S2, F>(
    cfg: GradCheck,
    net: &mut M,
    x: &Tensor<S, f64>,
    f: F,
) -> Result<(), GradCheckError>
where
    M: Module,
    S: Shape,
    S2: Shape,
    F: Fn(&M, Tensor<S, f64, Tape<f64>>) -> Tensor<S2, f64, Tape<f64>>,
{
    check_gradients_with(cfg, |x| f(net, x), x)?;
    let (w, grads) = weighted_backward(f(net, x.clone().trace()));
    let mut params = vec![];
    net.visit("", &mut |name, t| {
        if let (TensorKind::Parameter, Values::F64(v)) = (t.kind, &t.values) {
            let g = t.id.and_then(|id| grads.by_id(id)).map(|g| g.to_vec());
            let g = g.unwrap_or_else(|| vec![0.0; v.len()]);
            params.push((name.to_string(), t.dims, v.to_vec(), g));
        }
    });
    let set = |net: &mut M, param: &str, i: usize, value: f64| {
        net.visit_mut("", &mut |name, t| {
            if let (true, ValuesMut::F64(v)) = (name == param, t.values) {
                v[i] = value;
            }
        });
    };
    for (name, dims, values, analytic) in params {
        for (i, (&v, &a)) in values.iter().zip(&analytic).enumerate() {
            set(net, &name, i, v + cfg.eps);
            let plus = weighted_sum(&f(net, x.clone().trace()), &w);
            set(net, &name, i, v - cfg.eps);
            let minus = weighted_sum(&f(net, x.clone().trace()), &w);
            set(net, &name, i, v);
            compare(&cfg, &name, &dims, i, (plus - minus) / (2.0 * cfg.eps), a)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Forward, Linear};
    use crate::prelude::*;

    #[test]
    fn a_parameter_gradient_autograd_cannot_see_is_reported_by_name() {
        let mut net = (Linear::<U3, U2, f64>::new(&mut Rng::seed(0)),);
        let x = Tensor::<(U4, U3), f64>::rand_normal(1, 0.0, 1.0);
        check_module_gradients(&mut net, &x, |m, x| m.forward(x)).unwrap();
        // the weight enters through a detached copy: its analytic gradient is missing
        let err = check_module_gradients(&mut net, &x, |m, x| {
            crate::nn::functional::linear(x, &m.0.weight.detach(), m.0.bias.as_ref())
        })
        .unwrap_err();
        assert_eq!((err.tensor.as_str(), err.index.len()), ("0.weight", 2));
        assert_eq!(err.analytic, 0.0);
        assert!(err.numeric.abs() > 1e-3, "{err}");
        // and the bias is checked too: a wrong bias gradient (doubled through the output)
        let err = check_module_gradients(&mut net, &x, |m, x| {
            let b = m.0.bias.as_ref().unwrap();
            m.0.forward(x).broadcast_add(&b.detach())
        });
        assert!(err.is_err() && err.unwrap_err().tensor == "0.bias");
    }
}
