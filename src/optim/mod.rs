//! Optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`), learning-rate schedules and gradient
//! clipping, following PyTorch's `torch.optim` step for step.
//!
//! An optimizer keeps its state per parameter, keyed by the parameter's id, and updates a
//! parameter in place from its gradient in one fused pass ([`crate::kernels`]). `step_params`
//! updates a list of parameters from a backward pass's [`Gradients`]:
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::optim::{Optimizer, SGD};
//! let mut w = Tensor::<(U2,), f64>::from_array([1.0, -1.0]);
//! w.set_requires_grad(true);
//! let mut opt = SGD::new(0.1);
//! for _ in 0..3 {
//!     let grads = w.clone().trace().square().sum().backward(); // d/dw w^2 = 2w
//!     opt.step_params(&mut [&mut w], &grads);
//! }
//! assert!((w[[0]] - 0.8f64.powi(3)).abs() < 1e-12);
//! ```

mod clip;
mod schedule;

pub use clip::*;
pub use schedule::*;

use crate::autograd::{Gradients, UniqueId};
use crate::kernels::{self, AdamArgs, RmsPropArgs, SgdArgs};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::collections::HashMap;

/// A parameter an optimizer can update: its id (where its gradient is stored) and its values.
pub trait Param<E> {
    /// The id its gradient is stored under.
    fn param_id(&self) -> UniqueId;
    /// Its values, to update in place.
    fn param_values(&mut self) -> &mut [E];
}

impl<S: Shape, E: Element> Param<E> for Tensor<S, E> {
    fn param_id(&self) -> UniqueId {
        self.id()
    }
    fn param_values(&mut self) -> &mut [E] {
        self.as_mut_slice()
    }
}

/// An optimizer: updates parameters in place from their gradients.
pub trait Optimizer<E: Element> {
    /// Updates the parameter `id` (values `param`) with its gradient.
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]);
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (what schedules do).
    fn set_lr(&mut self, lr: f64);
    /// The momentum a schedule may cycle (SGD's momentum, Adam's `beta1`), if any.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets the momentum a schedule cycles (no-op for optimizers without one).
    fn set_momentum(&mut self, _momentum: f64) {}
    /// Updates every parameter of `net` (of this element type) that has a gradient in `grads`:
    /// one call updates any network.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Linear};
    /// use stensor::optim::{Optimizer, SGD};
    /// let mut net = (Linear::<U2, U1, f64>::new(&mut Rng::seed(0)),);
    /// let x = Tensor::<(U4, U2), f64>::ones().trace_no_grad();
    /// let before = net.0.weight.to_vec();
    /// let grads = net.forward(x).sum().backward();
    /// SGD::new(0.5).step(&mut net, &grads);
    /// assert_eq!(net.0.weight.to_vec(), vec![before[0] - 2.0, before[1] - 2.0]);
    /// ```
    fn step<M: crate::nn::Module>(&mut self, net: &mut M, grads: &Gradients<E>)
    where
        Self: Sized,
    {
        net.visit_mut("", &mut |_, t| {
            if let (crate::nn::TensorKind::Parameter, Some(id)) = (t.kind, t.id) {
                if let (Some(g), Some(p)) = (grads.by_id(id), E::from_values_mut(t.values)) {
                    self.update(id, p, g);
                }
            }
        });
    }

    /// Updates each parameter that has a gradient in `grads`.
    fn step_params(&mut self, params: &mut [&mut dyn Param<E>], grads: &Gradients<E>) {
        for p in params.iter_mut() {
            let id = p.param_id();
            if let Some(g) = grads.by_id(id) {
                self.update(id, p.param_values(), g);
            }
        }
    }
}

macro_rules! builders {
    ($ty:ident { $($(#[$doc:meta])* $method:ident => $field:ident : $t:ty),+ $(,)? }) => {
        impl<E> $ty<E> {
            $(
                $(#[$doc])*
                pub fn $method(mut self, $field: $t) -> Self {
                    self.$field = $field;
                    self
                }
            )+
        }
    };
}

/// Stochastic gradient descent (`torch.optim.SGD`): momentum, dampening, Nesterov, weight decay,
/// maximize.
///
/// ```
/// use stensor::optim::{Optimizer, SGD};
/// let mut opt = SGD::new(0.1).with_momentum(0.9).with_nesterov(true);
/// let mut p = vec![1.0f32];
/// let id = stensor::Tensor::<(stensor::dims::U1,)>::zeros().id();
/// opt.update(id, &mut p, &[1.0]);
/// assert!((p[0] - (1.0 - 0.1 * 1.9)).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct SGD<E = f32> {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0: none).
    pub momentum: f64,
    /// Dampening of the momentum.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 penalty.
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
    buffers: HashMap<UniqueId, Vec<E>>,
}

impl<E> SGD<E> {
    /// Plain SGD with learning rate `lr` (PyTorch's other defaults: no momentum or decay).
    pub fn new(lr: f64) -> Self {
        SGD {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
            buffers: HashMap::new(),
        }
    }
}

builders!(SGD {
    /// Sets the momentum factor.
    with_momentum => momentum: f64,
    /// Sets the dampening.
    with_dampening => dampening: f64,
    /// Sets Nesterov momentum.
    with_nesterov => nesterov: bool,
    /// Sets the L2 penalty.
    with_weight_decay => weight_decay: f64,
    /// Sets maximize.
    with_maximize => maximize: bool,
});

impl<E: Element> Optimizer<E> for SGD<E> {
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]) {
        let args = SgdArgs {
            lr: self.lr,
            momentum: self.momentum,
            dampening: self.dampening,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        };
        if self.momentum == 0.0 {
            kernels::sgd_update(param, grad, None, false, args);
            return;
        }
        let first = !self.buffers.contains_key(&id);
        let buf = self
            .buffers
            .entry(id)
            .or_insert_with(|| vec![E::zero(); param.len()]);
        kernels::sgd_update(param, grad, Some(buf), first, args);
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }
}

#[derive(Clone, Debug)]
struct AdamState<E> {
    step: u64,
    m: Vec<E>,
    v: Vec<E>,
    vmax: Option<Vec<E>>,
}

/// Adam (`torch.optim.Adam`; betas 0.9 / 0.999, eps 1e-8, L2 weight decay, AMSGrad, maximize).
///
/// ```
/// use stensor::optim::{Adam, Optimizer};
/// let opt = Adam::<f32>::new(1e-3);
/// assert_eq!((opt.beta1, opt.beta2, opt.eps), (0.9, 0.999, 1e-8));
/// assert_eq!(Optimizer::<f32>::lr(&opt), 1e-3);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<E = f32> {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay (an L2 penalty here; decoupled in [`AdamW`]).
    pub weight_decay: f64,
    /// AMSGrad.
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    decoupled: bool,
    state: HashMap<UniqueId, AdamState<E>>,
}

impl<E> Adam<E> {
    /// Adam with learning rate `lr` and PyTorch's defaults.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled: false,
            state: HashMap::new(),
        }
    }
}

/// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay, default 0.01.
///
/// ```
/// use stensor::optim::AdamW;
/// let opt = AdamW::new::<f32>(1e-3);
/// assert_eq!(opt.weight_decay, 0.01);
/// ```
pub struct AdamW;

impl AdamW {
    /// AdamW with learning rate `lr` and PyTorch's defaults (an [`Adam`] whose weight decay is
    /// decoupled).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<E>(lr: f64) -> Adam<E> {
        let mut a = Adam::new(lr);
        a.weight_decay = 0.01;
        a.decoupled = true;
        a
    }
}

builders!(Adam {
    /// Sets the first-moment decay.
    with_beta1 => beta1: f64,
    /// Sets the second-moment decay.
    with_beta2 => beta2: f64,
    /// Sets eps.
    with_eps => eps: f64,
    /// Sets the weight decay.
    with_weight_decay => weight_decay: f64,
    /// Sets AMSGrad.
    with_amsgrad => amsgrad: bool,
    /// Sets maximize.
    with_maximize => maximize: bool,
});

impl<E: Element> Optimizer<E> for Adam<E> {
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]) {
        let amsgrad = self.amsgrad;
        let st = self.state.entry(id).or_insert_with(|| AdamState {
            step: 0,
            m: vec![E::zero(); param.len()],
            v: vec![E::zero(); param.len()],
            vmax: amsgrad.then(|| vec![E::zero(); param.len()]),
        });
        st.step += 1;
        let args = AdamArgs {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled: self.decoupled,
            amsgrad,
            maximize: self.maximize,
        };
        kernels::adam_update(
            param,
            grad,
            &mut st.m,
            &mut st.v,
            st.vmax.as_deref_mut(),
            st.step,
            args,
        );
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.beta1)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.beta1 = momentum;
    }
}

#[derive(Clone, Debug)]
struct RmsState<E> {
    sq: Vec<E>,
    ga: Option<Vec<E>>,
    buf: Option<Vec<E>>,
}

/// RMSprop (`torch.optim.RMSprop`; lr 0.01, alpha 0.99, eps 1e-8, weight decay, momentum,
/// centered, maximize).
///
/// ```
/// use stensor::optim::RMSprop;
/// let opt = RMSprop::<f32>::new(0.01);
/// assert_eq!((opt.alpha, opt.eps, opt.centered), (0.99, 1e-8, false));
/// ```
#[derive(Clone, Debug)]
pub struct RMSprop<E = f32> {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing of the squared gradients.
    pub alpha: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty.
    pub weight_decay: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Normalize by an estimate of the variance.
    pub centered: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    state: HashMap<UniqueId, RmsState<E>>,
}

impl<E> RMSprop<E> {
    /// RMSprop with learning rate `lr` and PyTorch's defaults.
    pub fn new(lr: f64) -> Self {
        RMSprop {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
            state: HashMap::new(),
        }
    }
}

builders!(RMSprop {
    /// Sets the smoothing of the squared gradients.
    with_alpha => alpha: f64,
    /// Sets eps.
    with_eps => eps: f64,
    /// Sets the L2 penalty.
    with_weight_decay => weight_decay: f64,
    /// Sets the momentum factor.
    with_momentum => momentum: f64,
    /// Sets centered.
    with_centered => centered: bool,
    /// Sets maximize.
    with_maximize => maximize: bool,
});

impl<E: Element> Optimizer<E> for RMSprop<E> {
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]) {
        let (centered, momentum) = (self.centered, self.momentum > 0.0);
        let st = self.state.entry(id).or_insert_with(|| RmsState {
            sq: vec![E::zero(); param.len()],
            ga: centered.then(|| vec![E::zero(); param.len()]),
            buf: momentum.then(|| vec![E::zero(); param.len()]),
        });
        let args = RmsPropArgs {
            lr: self.lr,
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered,
            maximize: self.maximize,
        };
        kernels::rmsprop_update(
            param,
            grad,
            &mut st.sq,
            st.ga.as_deref_mut(),
            st.buf.as_deref_mut(),
            args,
        );
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }
}
