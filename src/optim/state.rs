//! An optimizer's state as PyTorch lays it out (`optimizer.state_dict()`), so a training run can
//! stop and resume exactly.
//!
//! PyTorch numbers a network's parameters in order (`model.parameters()`: parameters only, in
//! the order the network registers them, which is the order [`crate::nn::Module::visit`] walks)
//! and keys the state by that number; the hyper-parameters sit in `param_groups`. An
//! optimizer here keys its state by each parameter's [`UniqueId`] instead, which a new process
//! does not share: [`Optimizer::state_dict`] and [`Optimizer::load_state_dict`] translate
//! between the two through the network.

use super::Optimizer;
use crate::autograd::UniqueId;
use crate::nn::{Module, TensorKind};
use crate::tensor::Element;
use std::collections::BTreeMap;
use std::fmt;

/// A hyper-parameter's value in a param group: a number, a flag, or a pair (Adam's `betas`).
///
/// ```
/// use stensor::optim::Hyper;
/// assert_eq!(Hyper::Pair(0.9, 0.999).to_string(), "(0.9, 0.999)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hyper {
    /// A number (`lr`, `momentum`, `eps`, ...).
    Number(f64),
    /// A flag (`nesterov`, `amsgrad`, `maximize`, ...).
    Flag(bool),
    /// A pair (`betas`).
    Pair(f64, f64),
}

impl fmt::Display for Hyper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hyper::Number(x) => write!(f, "{x}"),
            Hyper::Flag(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            Hyper::Pair(a, b) => write!(f, "({a}, {b})"),
        }
    }
}

/// One parameter's state: its step count (Adam, RMSprop) and its buffers by PyTorch's names
/// (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `square_avg`, `grad_avg`),
/// each as long as the parameter.
///
/// ```
/// use stensor::optim::ParamState;
/// let s = ParamState::<f32> { step: Some(3), buffers: [("exp_avg".to_string(), vec![0.5])].into() };
/// assert_eq!(s.buffers["exp_avg"], [0.5]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParamState<E = f32> {
    /// Steps taken with this parameter, where the optimizer counts them.
    pub step: Option<u64>,
    /// The buffers, by name.
    pub buffers: BTreeMap<String, Vec<E>>,
}

/// An optimizer's state: PyTorch's `state` (per parameter number) and `param_groups` (here
/// one group holding every parameter).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Linear};
/// use stensor::optim::{Optimizer, SGD};
/// let mut net = Linear::<U2, U1>::new(&mut Rng::seed(0));
/// let mut opt = SGD::new(0.1).with_momentum(0.9);
/// let grads = net.forward(Tensor::<(U3, U2)>::ones().trace()).sum().backward();
/// opt.step(&mut net, &grads);
/// let state = opt.state_dict(&net);
/// assert_eq!(state.state[&0].buffers["momentum_buffer"].len(), 2); // weight
/// assert_eq!(state.param_groups[0].params, [0, 1]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<E = f32> {
    /// Each parameter's state by its number (parameters without state have no entry).
    pub state: BTreeMap<usize, ParamState<E>>,
    /// The hyper-parameters and the parameter numbers they apply to.
    pub param_groups: Vec<ParamGroup>,
}

/// A param group: hyper-parameters by PyTorch's names, and the numbers of its parameters.
///
/// ```
/// use stensor::optim::{Hyper, Optimizer, SGD};
/// let group = &Optimizer::<f32>::hyper_params(&SGD::<f32>::new(0.1));
/// assert_eq!(group[0], ("lr".to_string(), Hyper::Number(0.1)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    /// The hyper-parameters, by name.
    pub hyper: BTreeMap<String, Hyper>,
    /// The parameter numbers.
    pub params: Vec<usize>,
}

/// Why an optimizer's or a schedule's state could not be loaded; nothing was changed.
///
/// ```
/// use stensor::optim::OptimStateError;
/// let e = OptimStateError::optimizer("parameter 3: no such parameter".into());
/// assert_eq!(e.to_string(), "optimizer state: parameter 3: no such parameter");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OptimStateError {
    /// `"optimizer state"` or `"scheduler state"`.
    pub part: &'static str,
    /// What is wrong.
    pub message: String,
}

impl OptimStateError {
    /// A problem with an optimizer's state.
    ///
    /// ```
    /// let e = stensor::optim::OptimStateError::optimizer("x".into());
    /// assert_eq!(e.to_string(), "optimizer state: x");
    /// ```
    pub fn optimizer(message: String) -> Self {
        OptimStateError {
            part: "optimizer state",
            message,
        }
    }
    /// A problem with a schedule's state.
    ///
    /// ```
    /// let e = stensor::optim::OptimStateError::scheduler("x".into());
    /// assert_eq!(e.to_string(), "scheduler state: x");
    /// ```
    pub fn scheduler(message: String) -> Self {
        OptimStateError {
            part: "scheduler state",
            message,
        }
    }
}

impl fmt::Display for OptimStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.message)
    }
}

impl std::error::Error for OptimStateError {}

/// One parameter's state as [`Optimizer::restore`] receives it: the parameter's number and
/// id in this process, its length, and the state to give it.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::optim::{Optimizer, ParamGroup, ParamState, StateFor, SGD};
/// let w = Tensor::<(U2,)>::zeros();
/// let st = ParamState { step: None, buffers: [("momentum_buffer".to_string(), vec![1.0f32, 2.0])].into() };
/// let mut opt = SGD::<f32>::new(0.1).with_momentum(0.9);
/// let group = ParamGroup { hyper: Default::default(), params: vec![0] };
/// opt.restore(&group, &[StateFor { number: 0, id: w.id(), len: 2, state: &st }]).unwrap();
/// assert_eq!(opt.param_state(w.id()), Some(st));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct StateFor<'a, E> {
    /// The parameter's number (its place among the network's parameters).
    pub number: usize,
    /// Its id.
    pub id: UniqueId,
    /// Its element count.
    pub len: usize,
    /// The state to give it.
    pub state: &'a ParamState<E>,
}

impl<E: Clone> ParamState<E> {
    /// The state of a parameter from its step count and its buffers by name (`None`: not kept
    /// under the optimizer's settings).
    pub(crate) fn of(step: Option<u64>, buffers: &[(&str, Option<&Vec<E>>)]) -> Self {
        ParamState {
            step,
            buffers: buffers
                .iter()
                .filter_map(|(n, b)| Some((n.to_string(), (*b)?.clone())))
                .collect(),
        }
    }
}

impl<E: Clone> StateFor<'_, E> {
    /// The buffer `name` when the optimizer's settings use it (`wanted`), `None` when they do
    /// not; an error when it is missing though wanted, or present though not.
    pub(crate) fn buffer(
        &self,
        name: &str,
        wanted: bool,
    ) -> Result<Option<Vec<E>>, OptimStateError> {
        match self.state.buffers.get(name) {
            Some(b) if wanted => Ok(Some(b.clone())),
            None if !wanted => Ok(None),
            _ => Err(OptimStateError::optimizer(format!(
                "parameter {}: `{name}` {}",
                self.number,
                if wanted {
                    "missing"
                } else {
                    "present, but the settings do not use it"
                }
            ))),
        }
    }

    /// The buffer `name`, which the optimizer always keeps.
    pub(crate) fn required(&self, name: &str) -> Result<Vec<E>, OptimStateError> {
        Ok(self.buffer(name, true)?.expect("wanted"))
    }
}

/// Each parameter's new state, built by `build` from `states` after checking them against
/// the `known` buffer names (see [`check_param_state`]), keyed by id.
pub(crate) fn build_states<E: Clone, S>(
    states: &[StateFor<'_, E>],
    known: &[&str],
    counts_steps: bool,
    build: impl Fn(&StateFor<'_, E>) -> Result<S, OptimStateError>,
) -> Result<std::collections::HashMap<UniqueId, S>, OptimStateError> {
    states
        .iter()
        .map(|s| {
            check_param_state(s, known, counts_steps)?;
            Ok((s.id, build(s)?))
        })
        .collect()
}

/// The network's parameters in PyTorch's numbering: (id, dimensions) for each.
pub(crate) fn numbered_params<M: Module>(net: &M) -> Vec<(Option<UniqueId>, Vec<usize>)> {
    let mut out = vec![];
    net.visit("", &mut |_, t| {
        if t.kind == TensorKind::Parameter {
            out.push((t.id, t.dims.to_vec()));
        }
    });
    out
}

/// The state of one parameter (`len` values) checked against the buffer names an optimizer
/// knows: each present buffer as long as the parameter, no unknown name, a step count where
/// the optimizer `counts_steps`.
pub(crate) fn check_param_state<E>(
    s: &StateFor<'_, E>,
    known: &[&str],
    counts_steps: bool,
) -> Result<(), OptimStateError> {
    let (number, len, st) = (s.number, s.len, s.state);
    let err = |m: String| {
        Err(OptimStateError::optimizer(format!(
            "parameter {number}: {m}"
        )))
    };
    for (name, b) in &st.buffers {
        if !known.contains(&name.as_str()) {
            return err(format!(
                "unknown buffer `{name}` (this optimizer keeps {known:?})"
            ));
        }
        if b.len() != len {
            return err(format!(
                "buffer `{name}` has {} values, the parameter has {len}",
                b.len()
            ));
        }
    }
    if counts_steps && st.step.is_none() && !st.buffers.is_empty() {
        return err("no step count".into());
    }
    Ok(())
}

/// Sets each hyper-parameter of `group` through `set`, after checking every name and kind
/// against `current` (nothing is set if one is wrong).
pub(crate) fn set_hypers(
    group: &ParamGroup,
    current: &[(String, Hyper)],
    mut set: impl FnMut(&str, Hyper),
) -> Result<(), OptimStateError> {
    for (name, v) in &group.hyper {
        match current.iter().find(|(n, _)| n == name) {
            None => {
                return Err(OptimStateError::optimizer(format!(
                    "unknown hyper-parameter `{name}` for this optimizer"
                )))
            }
            Some((_, now)) if std::mem::discriminant(now) != std::mem::discriminant(v) => {
                return Err(OptimStateError::optimizer(format!(
                    "hyper-parameter `{name}` is {v}, this optimizer's is {now}"
                )))
            }
            _ => {}
        }
    }
    for (name, v) in &group.hyper {
        set(name, *v);
    }
    Ok(())
}

/// The checks shared by every [`Optimizer::load_state_dict`]: one group holding every
/// parameter once, each state's number inside the network; returns each state with its
/// parameter's id and length.
pub(crate) fn resolve<'s, E: Element>(
    params: &[(Option<UniqueId>, Vec<usize>)],
    state: &'s OptimizerState<E>,
) -> Result<Vec<StateFor<'s, E>>, OptimStateError> {
    let err = |m: String| Err(OptimStateError::optimizer(m));
    let [group] = state.param_groups.as_slice() else {
        return err(format!(
            "{} param groups; stensor's optimizers hold one",
            state.param_groups.len()
        ));
    };
    let all: Vec<usize> = (0..params.len()).collect();
    if group.params != all {
        return err(format!(
            "the group lists parameters {:?}, the network has {} (0 to {})",
            group.params,
            params.len(),
            params.len().saturating_sub(1)
        ));
    }
    let mut out = vec![];
    for (&number, st) in &state.state {
        let Some((id, dims)) = params.get(number) else {
            return err(format!(
                "parameter {number}: the network has {} parameters",
                params.len()
            ));
        };
        let Some(id) = *id else {
            return err(format!("parameter {number}: has no id to key state by"));
        };
        out.push(StateFor {
            number,
            id,
            len: dims.iter().product(),
            state: st,
        });
    }
    Ok(out)
}

/// The one param group of [`Optimizer::state_dict`]: the hyper-parameters and every
/// parameter's number.
pub(crate) fn group_of<E: Element, O: Optimizer<E> + ?Sized>(
    opt: &O,
    count: usize,
) -> Vec<ParamGroup> {
    vec![ParamGroup {
        hyper: opt.hyper_params().into_iter().collect(),
        params: (0..count).collect(),
    }]
}
