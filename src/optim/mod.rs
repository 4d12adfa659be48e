//! Optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`), learning-rate schedules and gradient
//! clipping, following PyTorch's `torch.optim` step for step.
//!
//! An optimizer keeps its state per parameter, keyed by the parameter's id, and updates a
//! parameter in place from its gradient in one fused pass (the crate-private `kernels` module). `step_params`
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
mod state;

pub use clip::*;
pub use schedule::*;
pub(crate) use state::numbered_params;
pub use state::{Hyper, OptimStateError, OptimizerState, ParamGroup, ParamState, StateFor};

use crate::autograd::{Gradients, UniqueId};
use crate::kernels;
pub use crate::kernels::{AdamOptions, RmsPropOptions, SgdOptions};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::collections::HashMap;

/// A parameter an optimizer can update: its id (where its gradient is stored) and its values.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::optim::Param;
/// let mut w = Tensor::<(U2,)>::ones();
/// let id = w.id();
/// w.param_values()[0] = 3.0;
/// assert_eq!((w.param_id(), w.to_vec()), (id, vec![3.0, 1.0]));
/// ```
pub trait Param<E> {
    /// The id its gradient is stored under.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::optim::Param;
    /// let w = Tensor::<(U2,)>::ones();
    /// assert_eq!(w.param_id(), w.id());
    /// ```
    fn param_id(&self) -> UniqueId;
    /// Its values, to update in place.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::optim::Param;
    /// let mut w = Tensor::<(U2,), f64>::ones();
    /// w.param_values()[1] = 0.0;
    /// assert_eq!(w.to_vec(), vec![1.0, 0.0]);
    /// ```
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
///
/// ```
/// use stensor::prelude::*;
/// use stensor::optim::{Optimizer, SGD};
/// let mut opt = SGD::new(0.5);
/// let mut p = vec![1.0f32, 2.0];
/// opt.update(Tensor::<(U2,)>::zeros().id(), &mut p, &[1.0, -2.0]);
/// assert_eq!(p, vec![0.5, 3.0]);
/// opt.set_lr(0.1);
/// assert_eq!(Optimizer::<f32>::lr(&opt), 0.1);
/// ```
pub trait Optimizer<E: Element> {
    /// Updates the parameter `id` (values `param`) with its gradient.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::optim::{Adam, Optimizer};
    /// let mut opt = Adam::new(0.1);
    /// let mut p = vec![1.0f64];
    /// opt.update(Tensor::<(U1,), f64>::zeros().id(), &mut p, &[2.0]);
    /// // Adam's first step moves by the learning rate
    /// assert!((p[0] - 0.9).abs() < 1e-9);
    /// ```
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]);
    /// The learning rate.
    ///
    /// ```
    /// use stensor::optim::{Optimizer, RMSprop};
    /// assert_eq!(Optimizer::<f32>::lr(&RMSprop::<f32>::new(0.01)), 0.01);
    /// ```
    fn lr(&self) -> f64;
    /// Sets the learning rate (what schedules do).
    ///
    /// ```
    /// use stensor::optim::{Optimizer, SGD};
    /// let mut opt = SGD::<f32>::new(0.1);
    /// opt.set_lr(0.05);
    /// assert_eq!(opt.options.lr, 0.05);
    /// ```
    fn set_lr(&mut self, lr: f64);
    /// The momentum a schedule may cycle (SGD's momentum, Adam's `beta1`), if any.
    ///
    /// ```
    /// use stensor::optim::{Adam, Optimizer};
    /// assert_eq!(Optimizer::<f32>::momentum(&Adam::<f32>::new(1e-3)), Some(0.9));
    /// ```
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets the momentum a schedule cycles (no-op for optimizers without one).
    ///
    /// ```
    /// use stensor::optim::{Optimizer, SGD};
    /// let mut opt = SGD::<f32>::new(0.1);
    /// opt.set_momentum(0.8);
    /// assert_eq!(opt.options.momentum, 0.8);
    /// ```
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

    /// The hyper-parameters of this optimizer's one param group, by PyTorch's names (what
    /// `optimizer.state_dict()["param_groups"][0]` holds besides `params`).
    ///
    /// ```
    /// use stensor::optim::{Hyper, Optimizer, Adam};
    /// let h = Optimizer::<f32>::hyper_params(&Adam::<f32>::new(1e-3));
    /// assert!(h.contains(&("betas".to_string(), Hyper::Pair(0.9, 0.999))));
    /// ```
    fn hyper_params(&self) -> Vec<(String, Hyper)> {
        vec![("lr".into(), Hyper::Number(self.lr()))]
    }

    /// The state this optimizer keeps for parameter `id`, if any (none before its first step).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::optim::{Optimizer, SGD};
    /// let w = Tensor::<(U2,)>::zeros();
    /// assert!(Optimizer::<f32>::param_state(&SGD::<f32>::new(0.1), w.id()).is_none());
    /// ```
    fn param_state(&self, _id: UniqueId) -> Option<ParamState<E>> {
        None
    }

    /// Replaces the hyper-parameters with `group`'s and the whole per-parameter state with
    /// `states` (id, the parameter's length, its state), after checking all of it: on an error
    /// nothing changed. [`Optimizer::load_state_dict`] calls it; an optimizer without state
    /// per parameter keeps this default, which refuses any.
    ///
    /// ```
    /// use stensor::optim::{Hyper, Optimizer, ParamGroup, SGD};
    /// let mut opt = SGD::<f32>::new(0.1);
    /// let group = ParamGroup { hyper: [("lr".to_string(), Hyper::Number(0.5))].into(), params: vec![] };
    /// opt.restore(&group, &[]).unwrap();
    /// assert_eq!(opt.options.lr, 0.5);
    /// ```
    fn restore(
        &mut self,
        group: &ParamGroup,
        states: &[StateFor<'_, E>],
    ) -> Result<(), OptimStateError> {
        if let Some(s) = states.first() {
            return Err(OptimStateError::optimizer(format!(
                "parameter {}: this optimizer keeps no state per parameter, the checkpoint has {:?}",
                s.number,
                s.state.buffers.keys().collect::<Vec<_>>()
            )));
        }
        let mut lr = None;
        state::set_hypers(group, &self.hyper_params(), |_, v| {
            if let Hyper::Number(x) = v {
                lr = Some(x);
            }
        })?;
        if let Some(lr) = lr {
            self.set_lr(lr);
        }
        Ok(())
    }

    /// This optimizer's state for the parameters of `net`, numbered as PyTorch numbers them
    /// (`net`'s parameters in order; buffers are not numbered): see [`OptimizerState`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// use stensor::optim::{Optimizer, SGD};
    /// let net = (Linear::<U2, U1>::new(&mut Rng::seed(0)),);
    /// let sd = SGD::<f32>::new(0.1).state_dict(&net);
    /// assert_eq!(sd.param_groups[0].params, vec![0, 1]);
    /// ```
    fn state_dict<M: crate::nn::Module>(&self, net: &M) -> OptimizerState<E>
    where
        Self: Sized,
    {
        let params = state::numbered_params(net);
        let state = params
            .iter()
            .enumerate()
            .filter_map(|(i, (id, _))| Some((i, self.param_state((*id)?)?)))
            .collect();
        OptimizerState {
            state,
            param_groups: state::group_of(self, params.len()),
        }
    }

    /// Loads a state saved by [`Optimizer::state_dict`] for the parameters of `net` (the same
    /// network's, in another process or after a restart): PyTorch's `load_state_dict`, which
    /// replaces the hyper-parameters and the whole state. Every number, buffer name and length
    /// is checked first; on an error nothing changed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Linear};
    /// use stensor::optim::{Adam, Optimizer};
    /// let mut net = Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let mut opt = Adam::new(0.01);
    /// let grads = net.forward(Tensor::<(U3, U2)>::ones().trace()).sum().backward();
    /// opt.step(&mut net, &grads);
    /// let saved = opt.state_dict(&net);
    /// let mut fresh = Adam::new(0.5);
    /// fresh.load_state_dict(&net, &saved).unwrap();
    /// assert_eq!((fresh.options.lr, fresh.state_dict(&net)), (0.01, saved));
    /// // another network's parameters do not fit
    /// let other = Linear::<U3, U1>::new(&mut Rng::seed(0));
    /// let err = fresh.load_state_dict(&other, &opt.state_dict(&net)).unwrap_err();
    /// assert_eq!(err.to_string(), "optimizer state: parameter 0: buffer `exp_avg` has 2 values, the parameter has 3");
    /// ```
    fn load_state_dict<M: crate::nn::Module>(
        &mut self,
        net: &M,
        state: &OptimizerState<E>,
    ) -> Result<(), OptimStateError>
    where
        Self: Sized,
    {
        let params = state::numbered_params(net);
        let states = state::resolve(&params, state)?;
        self.restore(&state.param_groups[0], &states)
    }

    /// Updates each parameter that has a gradient in `grads`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::optim::{Optimizer, SGD};
    /// let mut w = Tensor::<(U1,), f64>::from_array([2.0]);
    /// w.set_requires_grad(true);
    /// let grads = w.clone().trace().square().sum().backward(); // 2w = 4
    /// SGD::new(0.25).step_params(&mut [&mut w], &grads);
    /// assert_eq!(w.to_vec(), vec![1.0]);
    /// ```
    fn step_params(&mut self, params: &mut [&mut dyn Param<E>], grads: &Gradients<E>) {
        for p in params.iter_mut() {
            let id = p.param_id();
            if let Some(g) = grads.by_id(id) {
                self.update(id, p.param_values(), g);
            }
        }
    }
}

/// An optimizer's hyper-parameters by PyTorch's names, each with the field(s) that hold it:
/// `hyper_list` for [`Optimizer::hyper_params`], and `with_hypers` for [`Optimizer::restore`].
macro_rules! hyper_fields {
    ($ty:ident { $($name:literal => $kind:ident($($field:ident),+)),+ $(,)? }) => {
        impl<E> $ty<E> {
            fn hyper_list(&self) -> Vec<(String, Hyper)> {
                vec![$(($name.to_string(), Hyper::$kind($(self.options.$field),+))),+]
            }
            /// A copy with `group`'s hyper-parameters, all checked first.
            fn with_hypers(&self, group: &ParamGroup) -> Result<Self, OptimStateError>
            where
                Self: Clone,
            {
                let mut next = self.clone();
                state::set_hypers(group, &self.hyper_list(), |name, value| match (name, value) {
                    $(($name, Hyper::$kind($($field),+)) => { $(next.options.$field = $field;)+ })+
                    _ => unreachable!("set_hypers checked the names and kinds"),
                })?;
                Ok(next)
            }
        }
    };
}

hyper_fields!(SGD {
    "lr" => Number(lr),
    "momentum" => Number(momentum),
    "dampening" => Number(dampening),
    "weight_decay" => Number(weight_decay),
    "nesterov" => Flag(nesterov),
    "maximize" => Flag(maximize),
});

hyper_fields!(Adam {
    "lr" => Number(lr),
    "betas" => Pair(beta1, beta2),
    "eps" => Number(eps),
    "weight_decay" => Number(weight_decay),
    "amsgrad" => Flag(amsgrad),
    "maximize" => Flag(maximize),
    "decoupled_weight_decay" => Flag(decoupled_weight_decay),
});

hyper_fields!(RMSprop {
    "lr" => Number(lr),
    "momentum" => Number(momentum),
    "alpha" => Number(alpha),
    "eps" => Number(eps),
    "centered" => Flag(centered),
    "weight_decay" => Number(weight_decay),
    "maximize" => Flag(maximize),
});

macro_rules! builders {
    ($ty:ident { $($(#[$doc:meta])* $method:ident => $field:ident : $t:ty),+ $(,)? }) => {
        impl<E> $ty<E> {
            $(
                $(#[$doc])*
                pub fn $method(mut self, $field: $t) -> Self {
                    self.options.$field = $field;
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
    /// The hyper-parameters.
    pub options: SgdOptions,
    buffers: HashMap<UniqueId, Vec<E>>,
}

impl<E> SGD<E> {
    /// Plain SGD with learning rate `lr` (PyTorch's other defaults: no momentum or decay).
    ///
    /// ```
    /// let opt = stensor::optim::SGD::<f32>::new(0.1);
    /// assert_eq!((opt.options.lr, opt.options.momentum), (0.1, 0.0));
    /// ```
    pub fn new(lr: f64) -> Self {
        SGD {
            options: SgdOptions {
                lr,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                maximize: false,
            },
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
        let args = self.options;
        if args.momentum == 0.0 {
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
    fn hyper_params(&self) -> Vec<(String, Hyper)> {
        self.hyper_list()
    }
    fn param_state(&self, id: UniqueId) -> Option<ParamState<E>> {
        let b = self.buffers.get(&id)?;
        Some(ParamState::of(None, &[("momentum_buffer", Some(b))]))
    }
    fn restore(
        &mut self,
        group: &ParamGroup,
        states: &[StateFor<'_, E>],
    ) -> Result<(), OptimStateError> {
        let mut next = self.with_hypers(group)?;
        const KNOWN: &[&str] = &["momentum_buffer"];
        next.buffers = state::build_states(states, KNOWN, false, |s| s.required(KNOWN[0]))?;
        *self = next;
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.options.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.options.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.options.momentum)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.options.momentum = momentum;
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
/// assert_eq!((opt.options.beta1, opt.options.beta2, opt.options.eps), (0.9, 0.999, 1e-8));
/// assert_eq!(Optimizer::<f32>::lr(&opt), 1e-3);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<E = f32> {
    /// The hyper-parameters.
    pub options: AdamOptions,
    state: HashMap<UniqueId, AdamState<E>>,
}

impl<E> Adam<E> {
    /// Adam with learning rate `lr` and PyTorch's defaults.
    ///
    /// ```
    /// let opt = stensor::optim::Adam::<f32>::new(1e-3);
    /// assert_eq!((opt.options.lr, opt.options.amsgrad), (1e-3, false));
    /// ```
    pub fn new(lr: f64) -> Self {
        Adam {
            options: AdamOptions {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled_weight_decay: false,
                amsgrad: false,
                maximize: false,
            },
            state: HashMap::new(),
        }
    }
}

/// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay, default 0.01. As in PyTorch,
/// where `AdamW` is `Adam` with `decoupled_weight_decay=True` (a subclass adding nothing else),
/// `AdamW::new` gives an [`Adam`] with [`AdamOptions::decoupled_weight_decay`] set; its state
/// dict names the flag as PyTorch's does.
///
/// ```
/// use stensor::optim::AdamW;
/// let opt = AdamW::new::<f32>(1e-3);
/// assert_eq!(opt.options.weight_decay, 0.01);
/// assert!(opt.options.decoupled_weight_decay);
/// ```
pub struct AdamW;

impl AdamW {
    /// AdamW with learning rate `lr` and PyTorch's defaults (an [`Adam`] whose weight decay is
    /// decoupled).
    ///
    /// ```
    /// let opt = stensor::optim::AdamW::new::<f64>(1e-3);
    /// assert_eq!((opt.options.lr, opt.options.weight_decay), (1e-3, 0.01));
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn new<E>(lr: f64) -> Adam<E> {
        Adam::new(lr)
            .with_weight_decay(0.01)
            .with_decoupled_weight_decay(true)
    }
}

impl<E> Adam<E> {
    /// Sets both decays, as PyTorch's `betas=(beta1, beta2)`.
    ///
    /// ```
    /// use stensor::optim::Adam;
    /// let opt = Adam::<f32>::new(1e-3).with_betas(0.8, 0.99);
    /// assert_eq!((opt.options.beta1, opt.options.beta2), (0.8, 0.99));
    /// ```
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        (self.options.beta1, self.options.beta2) = (beta1, beta2);
        self
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
    /// Sets decoupled weight decay (what makes [`AdamW`]).
    with_decoupled_weight_decay => decoupled_weight_decay: bool,
    /// Sets maximize.
    with_maximize => maximize: bool,
});

impl<E: Element> Optimizer<E> for Adam<E> {
    fn update(&mut self, id: UniqueId, param: &mut [E], grad: &[E]) {
        let amsgrad = self.options.amsgrad;
        let st = self.state.entry(id).or_insert_with(|| AdamState {
            step: 0,
            m: vec![E::zero(); param.len()],
            v: vec![E::zero(); param.len()],
            vmax: amsgrad.then(|| vec![E::zero(); param.len()]),
        });
        st.step += 1;
        let args = self.options;
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
    fn hyper_params(&self) -> Vec<(String, Hyper)> {
        self.hyper_list()
    }
    fn param_state(&self, id: UniqueId) -> Option<ParamState<E>> {
        let st = self.state.get(&id)?;
        Some(ParamState::of(
            Some(st.step),
            &[
                ("exp_avg", Some(&st.m)),
                ("exp_avg_sq", Some(&st.v)),
                ("max_exp_avg_sq", st.vmax.as_ref()),
            ],
        ))
    }
    fn restore(
        &mut self,
        group: &ParamGroup,
        states: &[StateFor<'_, E>],
    ) -> Result<(), OptimStateError> {
        let mut next = self.with_hypers(group)?;
        const KNOWN: &[&str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
        next.state = state::build_states(states, KNOWN, true, |s| {
            Ok(AdamState {
                step: s.state.step.unwrap_or(0),
                m: s.required("exp_avg")?,
                v: s.required("exp_avg_sq")?,
                vmax: s.buffer("max_exp_avg_sq", next.options.amsgrad)?,
            })
        })?;
        *self = next;
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.options.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.options.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.options.beta1)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.options.beta1 = momentum;
    }
}

#[derive(Clone, Debug)]
struct RmsState<E> {
    step: u64,
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
/// assert_eq!((opt.options.alpha, opt.options.eps, opt.options.centered), (0.99, 1e-8, false));
/// ```
#[derive(Clone, Debug)]
pub struct RMSprop<E = f32> {
    /// The hyper-parameters.
    pub options: RmsPropOptions,
    state: HashMap<UniqueId, RmsState<E>>,
}

impl<E> RMSprop<E> {
    /// RMSprop with learning rate `lr` and PyTorch's defaults.
    ///
    /// ```
    /// let opt = stensor::optim::RMSprop::<f32>::new(0.01);
    /// assert_eq!((opt.options.lr, opt.options.alpha), (0.01, 0.99));
    /// ```
    pub fn new(lr: f64) -> Self {
        RMSprop {
            options: RmsPropOptions {
                lr,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay: 0.0,
                momentum: 0.0,
                centered: false,
                maximize: false,
            },
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
        let args = self.options;
        let (centered, momentum) = (args.centered, args.momentum > 0.0);
        let st = self.state.entry(id).or_insert_with(|| RmsState {
            step: 0,
            sq: vec![E::zero(); param.len()],
            ga: centered.then(|| vec![E::zero(); param.len()]),
            buf: momentum.then(|| vec![E::zero(); param.len()]),
        });
        st.step += 1;
        kernels::rmsprop_update(
            param,
            grad,
            &mut st.sq,
            st.ga.as_deref_mut(),
            st.buf.as_deref_mut(),
            args,
        );
    }
    fn hyper_params(&self) -> Vec<(String, Hyper)> {
        self.hyper_list()
    }
    fn param_state(&self, id: UniqueId) -> Option<ParamState<E>> {
        let st = self.state.get(&id)?;
        Some(ParamState::of(
            Some(st.step),
            &[
                ("square_avg", Some(&st.sq)),
                ("momentum_buffer", st.buf.as_ref()),
                ("grad_avg", st.ga.as_ref()),
            ],
        ))
    }
    fn restore(
        &mut self,
        group: &ParamGroup,
        states: &[StateFor<'_, E>],
    ) -> Result<(), OptimStateError> {
        let mut next = self.with_hypers(group)?;
        const KNOWN: &[&str] = &["square_avg", "momentum_buffer", "grad_avg"];
        next.state = state::build_states(states, KNOWN, true, |s| {
            Ok(RmsState {
                step: s.state.step.unwrap_or(0),
                sq: s.required("square_avg")?,
                ga: s.buffer("grad_avg", next.options.centered)?,
                buf: s.buffer("momentum_buffer", next.options.momentum > 0.0)?,
            })
        })?;
        *self = next;
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.options.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.options.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.options.momentum)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.options.momentum = momentum;
    }
}
