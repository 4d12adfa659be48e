//! Checking backward rules against central finite differences, in `f64`.
//!
//! [`check_gradients`] traces `x`, runs `f`, and backpropagates a fixed random weighting of the
//! output (so every output element matters, not only their sum); it then perturbs every element
//! of `x` by `±eps` and compares `(L(x + eps) - L(x - eps)) / 2 eps` with the analytic
//! gradient. [`check_module_gradients`] does the same for every parameter of a module, too
//! (or, with [`GradCheck::parameters_only`], for the parameters alone). Every tensor is checked
//! to the end: the error lists each tensor that disagrees, with its first mismatching element,
//! both derivatives and the tolerance, and says so when no gradient reached a tensor at all.
//! A module without an `f64` parameter is an error, not a check that passes having checked
//! nothing.

use crate::autograd::{Gradients, Tape};
use crate::nn::{Module, TensorKind};
use crate::shape::{Dims, Shape};
use crate::tensor::{Rng, Tensor, Values, ValuesMut};
use std::fmt;

/// Step, tolerances and scope of a gradient check.
///
/// ```
/// let c = stensor::gradcheck::GradCheck::default();
/// assert_eq!((c.eps, c.rtol, c.atol), (1e-6, 1e-5, 1e-7));
/// assert!(c.input && c.parameters);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// Finite-difference step.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Whether the input's gradient is checked.
    pub input: bool,
    /// Whether the parameters' gradients are checked ([`check_module_gradients`]).
    pub parameters: bool,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-6,
            rtol: 1e-5,
            atol: 1e-7,
            input: true,
            parameters: true,
        }
    }
}

impl GradCheck {
    /// The given step and tolerances, checking the input and the parameters.
    ///
    /// ```
    /// let c = stensor::gradcheck::GradCheck::new(1e-4, 1e-4, 1e-6);
    /// assert_eq!(c.eps, 1e-4);
    /// ```
    pub fn new(eps: f64, rtol: f64, atol: f64) -> Self {
        GradCheck {
            eps,
            rtol,
            atol,
            ..GradCheck::default()
        }
    }

    /// Checks the parameters' gradients only (an input that is not differentiable, or whose
    /// gradient another check covers).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Linear};
    /// use stensor::gradcheck::{check_module_gradients_with, GradCheck};
    /// let mut fc = Linear::<U3, U2, f64>::new(&mut Rng::seed(0));
    /// let x = Tensor::<(U4, U3), f64>::rand_normal(1, 0.0, 1.0);
    /// let cfg = GradCheck::default().parameters_only();
    /// check_module_gradients_with(cfg, &mut fc, &x, |m, x| m.forward(x).tanh()).unwrap();
    /// ```
    pub fn parameters_only(self) -> Self {
        GradCheck {
            input: false,
            parameters: true,
            ..self
        }
    }
}

/// One tensor whose gradient disagrees with finite differences: its first mismatching element.
///
/// ```
/// let m = stensor::gradcheck::GradMismatch {
///     tensor: "b2".into(), index: vec![0], numeric: -6.06, analytic: None, tolerance: 6.06e-5,
/// };
/// assert!(m.to_string().starts_with("no gradient reached `b2`"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradMismatch {
    /// Which tensor: `input`, or a parameter's dotted name (`conv.weight`).
    pub tensor: String,
    /// The multi-index of the first element that disagrees.
    pub index: Vec<usize>,
    /// The finite-difference derivative.
    pub numeric: f64,
    /// The derivative backward computed; `None` when no gradient reached the tensor at all
    /// (it took no part in the recorded graph, or does not require grad).
    pub analytic: Option<f64>,
    /// The tolerance it was held to: `atol + rtol * |numeric|`.
    pub tolerance: f64,
}

impl fmt::Display for GradMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, i, n, tol) = (&self.tensor, &self.index, self.numeric, self.tolerance);
        match self.analytic {
            None => write!(
                f,
                "no gradient reached `{t}`: the numeric derivative at index {i:?} is {n:e} \
                 (tolerance {tol:.3e}); the tensor took no part in the recorded graph (an \
                 untraced or detached use, or a parameter that does not require grad)"
            ),
            Some(a) => write!(
                f,
                "gradient mismatch of `{t}` at index {i:?}: numeric {n:e}, analytic {a:e}, \
                 difference {:.3e} > tolerance {tol:.3e}",
                (n - a).abs()
            ),
        }
    }
}

/// Why a gradient check failed.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::gradcheck::{check_gradients, GradCheckError};
/// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]);
/// // detach() hides the dependence from autograd: the analytic gradient is missing.
/// let err = check_gradients(|x| x.clone().add(&x.detach().square()), &x).unwrap_err();
/// let GradCheckError::Mismatch(m) = &err else { panic!() };
/// assert_eq!((m[0].tensor.as_str(), m[0].index.clone()), ("input", vec![0]));
/// assert!(err.to_string().starts_with("gradient mismatch of `input` at index [0]: numeric"));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum GradCheckError {
    /// Gradients that disagree with finite differences: every tensor that has a mismatch, in
    /// the order checked (the input first), each with its first mismatching element.
    Mismatch(Vec<GradMismatch>),
    /// [`check_module_gradients`] found no `f64` parameter to check.
    NoParameters {
        /// The module's kind (`SwiGlu`).
        module: String,
        /// The names of its `f64` buffers (tensors declared `#[module(buffer)]`).
        buffers: Vec<String>,
        /// The names of its parameters of another element type (checks run in `f64`).
        other_parameters: Vec<String>,
    },
}

impl GradCheckError {
    /// The mismatches (empty for [`GradCheckError::NoParameters`]).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones();
    /// let err = stensor::gradcheck::check_gradients(|x| x.detach().trace(), &x).unwrap_err();
    /// assert_eq!(err.mismatches()[0].analytic, None);
    /// ```
    pub fn mismatches(&self) -> &[GradMismatch] {
        match self {
            GradCheckError::Mismatch(m) => m,
            GradCheckError::NoParameters { .. } => &[],
        }
    }
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradCheckError::Mismatch(all) => {
                for (k, m) in all.iter().enumerate() {
                    if k > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{m}")?;
                }
                Ok(())
            }
            GradCheckError::NoParameters {
                module,
                buffers,
                other_parameters,
            } => {
                write!(f, "`{module}` has no f64 parameter to check")?;
                let list = |v: &[String]| {
                    v.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if !buffers.is_empty() {
                    write!(f, "; its buffers: {}", list(buffers))?;
                }
                if !other_parameters.is_empty() {
                    write!(
                        f,
                        "; parameters of another element type (checks run in f64): {}",
                        list(other_parameters)
                    )?;
                }
                f.write_str(
                    ". A layer declares a parameter with `#[module(param)]` on the field (the \
                     derive) or by visiting it as `TensorKind::Parameter` (a hand-written \
                     `Module`); build it with `set_requires_grad(true)` so it gets a gradient",
                )
            }
        }
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
/// let loose = GradCheck::new(1e-4, 1e-4, 1e-6);
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
    let (w, grads) = weighted_backward(f(x_traced.clone()));
    let analytic = grads.slice(&x_traced);
    finish(
        input_mismatch(&cfg, &f, x, analytic, &w)
            .into_iter()
            .collect(),
    )
}

/// The input's first mismatch, if any, given its analytic gradient and the output weights.
fn input_mismatch<S, S2, F>(
    cfg: &GradCheck,
    f: &F,
    x: &Tensor<S, f64>,
    analytic: Option<&[f64]>,
    w: &[f64],
) -> Option<GradMismatch>
where
    S: Shape,
    S2: Shape,
    F: Fn(Tensor<S, f64, Tape<f64>>) -> Tensor<S2, f64, Tape<f64>>,
{
    let loss = |xv: Vec<f64>| -> f64 {
        let xt = Tensor::<S, f64>::from_vec_shaped(x.shape(), xv).expect("same length");
        weighted_sum(&f(xt.trace()), w)
    };
    let base = x.to_vec();
    let numeric = |i: usize| {
        let mut plus = base.clone();
        plus[i] += cfg.eps;
        let mut minus = base.clone();
        minus[i] -= cfg.eps;
        (loss(plus) - loss(minus)) / (2.0 * cfg.eps)
    };
    first_mismatch(cfg, "input", &x.dims(), analytic, numeric)
}

fn finish(found: Vec<GradMismatch>) -> Result<(), GradCheckError> {
    if found.is_empty() {
        Ok(())
    } else {
        Err(GradCheckError::Mismatch(found))
    }
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

/// The first element of `tensor` whose analytic derivative (none: no gradient reached it,
/// which is right only where the numeric one is within the tolerance of zero) disagrees with
/// `numeric(i)` or is not finite.
fn first_mismatch(
    cfg: &GradCheck,
    tensor: &str,
    dims: &Dims,
    analytic: Option<&[f64]>,
    mut numeric: impl FnMut(usize) -> f64,
) -> Option<GradMismatch> {
    (0..dims.iter().product()).find_map(|i| {
        let n = numeric(i);
        let a = analytic.map(|a| a[i]);
        let tolerance = cfg.atol + cfg.rtol * n.abs();
        let got = a.unwrap_or(0.0);
        if (n - got).abs() <= tolerance && got.is_finite() {
            return None;
        }
        Some(GradMismatch {
            tensor: tensor.to_string(),
            index: dims.index_of(i),
            numeric: n,
            analytic: a,
            tolerance,
        })
    })
}

/// Checks the gradients of `f(net, x)` with respect to `x` and to every `f64` parameter of
/// `net`, with the default [`GradCheck`]. Each parameter element is perturbed in place and
/// restored; every tensor is checked and each mismatch names it (`0.weight`) and the element.
/// A module without an `f64` parameter is [`GradCheckError::NoParameters`].
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

/// [`check_module_gradients`] with the given step, tolerances and scope.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv1d, Forward};
/// use stensor::gradcheck::{check_module_gradients_with, GradCheck};
/// let mut conv = Conv1d::<U2, U3, U3, U1, U1, U1, U1, stensor::nn::Zeros, f64>::new(&mut Rng::seed(0));
/// let x = Tensor::<(U2, U2, U5), f64>::rand_normal(1, 0.0, 1.0);
/// let cfg = GradCheck::new(1e-5, 1e-4, 1e-6);
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
    // one traced run gives the input's and every parameter's analytic gradient
    let x_traced = x.clone().trace();
    let (w, grads) = weighted_backward(f(net, x_traced.clone()));
    let (mut params, mut buffers, mut others) = (vec![], vec![], vec![]);
    net.visit("", &mut |name, t| match (t.kind, &t.values) {
        (TensorKind::Parameter, Values::F64(v)) => {
            let g = t.id.and_then(|id| grads.by_id(id)).map(|g| g.to_vec());
            params.push((name.to_string(), t.dims, v.to_vec(), g));
        }
        (TensorKind::Parameter, _) => others.push(name.to_string()),
        (TensorKind::Buffer, Values::F64(_)) => buffers.push(name.to_string()),
        _ => {}
    });
    if params.is_empty() {
        return Err(GradCheckError::NoParameters {
            module: net.kind().to_string(),
            buffers,
            other_parameters: others,
        });
    }
    let mut found = vec![];
    if cfg.input {
        let analytic = grads.slice(&x_traced);
        found.extend(input_mismatch(&cfg, &|x| f(net, x), x, analytic, &w));
    }
    if !cfg.parameters {
        return finish(found);
    }
    let set = |net: &mut M, param: &str, i: usize, value: f64| {
        net.visit_mut("", &mut |name, t| {
            if let (true, ValuesMut::F64(v)) = (name == param, t.values) {
                v[i] = value;
            }
        });
    };
    for (name, dims, values, analytic) in params {
        let numeric = |i: usize| {
            let v = values[i];
            set(net, &name, i, v + cfg.eps);
            let plus = weighted_sum(&f(net, x.clone().trace()), &w);
            set(net, &name, i, v - cfg.eps);
            let minus = weighted_sum(&f(net, x.clone().trace()), &w);
            set(net, &name, i, v);
            (plus - minus) / (2.0 * cfg.eps)
        };
        found.extend(first_mismatch(
            &cfg,
            &name,
            &dims,
            analytic.as_deref(),
            numeric,
        ));
    }
    finish(found)
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
        let m = &err.mismatches()[0];
        assert_eq!((m.tensor.as_str(), m.index.len()), ("0.weight", 2));
        assert_eq!(m.analytic, None, "{err}");
        assert!(m.numeric.abs() > 1e-3, "{err}");
        // and the bias is checked too: a wrong bias gradient (doubled through the output)
        let err = check_module_gradients(&mut net, &x, |m, x| {
            let b = m.0.bias.as_ref().unwrap();
            m.0.forward(x).broadcast_add(&b.detach())
        });
        assert!(err.is_err() && err.unwrap_err().mismatches()[0].tensor == "0.bias");
    }
}
