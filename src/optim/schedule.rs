//! Learning-rate schedules (PyTorch's `StepLR`, `MultiStepLR`, `ExponentialLR`,
//! `CosineAnnealingLR`, `LinearLR`, `OneCycleLR`).
//!
//! A schedule is a function of the step count: creating it sets the optimizer's learning rate
//! for step 0 (as PyTorch's constructor does), and each [`LrScheduler::step`] advances one step
//! and sets the next rate. The rates are PyTorch's closed forms.

use super::Optimizer;
use crate::tensor::Element;
use std::f64::consts::PI;

/// A learning-rate schedule.
///
/// ```
/// use stensor::optim::{ExponentialLR, LrScheduler, Optimizer, SGD};
/// let mut opt = SGD::<f32>::new(1.0);
/// let mut s = ExponentialLR::new(&mut opt, 0.5);
/// s.step(&mut opt);
/// assert_eq!((s.lr_at(2), Optimizer::<f32>::lr(&opt)), (0.25, 0.5));
/// ```
pub trait LrScheduler {
    /// The learning rate at step `epoch` (0 for the rate at creation).
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let s = StepLR::new(&mut SGD::<f32>::new(1.0), 3, 0.5);
    /// assert_eq!((s.lr_at(0), s.lr_at(3), s.lr_at(6)), (1.0, 0.5, 0.25));
    /// ```
    fn lr_at(&self, epoch: usize) -> f64;
    /// The momentum at step `epoch`, for schedules that cycle it.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, OneCycleLR, StepLR, SGD};
    /// let mut opt = SGD::<f32>::new(0.1);
    /// assert_eq!(OneCycleLR::new(&mut opt, 1.0, 100).momentum_at(0), Some(0.95));
    /// assert_eq!(StepLR::new(&mut opt, 3, 0.5).momentum_at(0), None);
    /// ```
    fn momentum_at(&self, _epoch: usize) -> Option<f64> {
        None
    }
    /// Steps taken so far.
    ///
    /// ```
    /// use stensor::optim::{ExponentialLR, LrScheduler, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = ExponentialLR::new(&mut opt, 0.5);
    /// s.step(&mut opt);
    /// assert_eq!(s.epoch(), 1);
    /// ```
    fn epoch(&self) -> usize;
    /// Advances the counter (used by [`LrScheduler::step`]).
    ///
    /// ```
    /// use stensor::optim::{ExponentialLR, LrScheduler, SGD};
    /// let mut s = ExponentialLR::new(&mut SGD::<f32>::new(1.0), 0.5);
    /// s.advance(); // the optimizer's rate is left as it was
    /// assert_eq!((s.epoch(), s.last_lr()), (1, 0.5));
    /// ```
    fn advance(&mut self);
    /// Sets the counter (used by [`LrScheduler::load_state_dict`]).
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let mut s = StepLR::new(&mut SGD::<f32>::new(1.0), 1, 0.5);
    /// s.set_epoch(3);
    /// assert_eq!(s.last_lr(), 0.125);
    /// ```
    fn set_epoch(&mut self, epoch: usize);
    /// The rate the schedule scales (PyTorch's `base_lrs`, one group): the optimizer's rate
    /// when the schedule was made; [`OneCycleLR`]'s `max_lr / div_factor`.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// assert_eq!(StepLR::new(&mut SGD::<f32>::new(0.3), 1, 0.5).base_lr(), 0.3);
    /// ```
    fn base_lr(&self) -> f64;
    /// Sets the rate the schedule scales (used by [`LrScheduler::load_state_dict`]; a no-op
    /// for [`OneCycleLR`], whose rates come from its settings alone).
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let mut s = StepLR::new(&mut SGD::<f32>::new(1.0), 1, 0.5);
    /// s.set_base_lr(2.0);
    /// assert_eq!(s.lr_at(1), 1.0);
    /// ```
    fn set_base_lr(&mut self, base: f64);
    /// The schedule's position, as PyTorch's `scheduler.state_dict()` names it.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = StepLR::new(&mut opt, 1, 0.5);
    /// s.step(&mut opt);
    /// let st = s.state_dict();
    /// assert_eq!((st.last_epoch, st.last_lr), (1, 0.5));
    /// ```
    fn state_dict(&self) -> SchedulerState {
        SchedulerState {
            last_epoch: self.epoch(),
            base_lr: self.base_lr(),
            last_lr: self.last_lr(),
        }
    }
    /// Moves the schedule to a saved position: its step count and the rate it scales (as
    /// PyTorch's `load_state_dict` restores `last_epoch` and `base_lrs`, so the order in which a
    /// resumed run makes its optimizer and schedule does not matter). The other settings (step
    /// size, gamma, milestones, ...) are the constructor's: the saved rate must then be the one
    /// this schedule gives at that step, to the bit, which catches a resumed run built with
    /// other settings; on an error nothing changed. The optimizer's current rate is restored
    /// with the optimizer's state, not here.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, SchedulerState, StepLR, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = StepLR::new(&mut opt, 1, 0.5);
    /// s.load_state_dict(&SchedulerState { last_epoch: 2, base_lr: 2.0, last_lr: 0.5 }).unwrap();
    /// assert_eq!((s.epoch(), s.base_lr()), (2, 2.0));
    /// let err = s.load_state_dict(&SchedulerState { last_epoch: 2, base_lr: 1.0, last_lr: 0.1 }).unwrap_err();
    /// assert_eq!(err.to_string(), "scheduler state: the saved rate at step 2 is 0.1, this schedule gives 0.25 there (built with other settings?)");
    /// assert_eq!((s.epoch(), s.base_lr()), (2, 2.0));
    /// ```
    fn load_state_dict(&mut self, state: &SchedulerState) -> Result<(), super::OptimStateError> {
        let old = self.base_lr();
        self.set_base_lr(state.base_lr);
        let here = self.lr_at(state.last_epoch);
        if here.to_bits() != state.last_lr.to_bits() {
            self.set_base_lr(old);
            return Err(super::OptimStateError::scheduler(format!(
                "the saved rate at step {} is {}, this schedule gives {here} there (built with other settings?)",
                state.last_epoch, state.last_lr
            )));
        }
        self.set_epoch(state.last_epoch);
        Ok(())
    }
    /// The current learning rate.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, MultiStepLR, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = MultiStepLR::new(&mut opt, &[1], 0.1);
    /// s.step(&mut opt);
    /// assert!((s.last_lr() - 0.1).abs() < 1e-15);
    /// ```
    fn last_lr(&self) -> f64 {
        self.lr_at(self.epoch())
    }
    /// Advances one step and sets the optimizer's learning rate (and momentum) for it.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, LinearLR, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = LinearLR::new(&mut opt, 0.5, 1.0, 2);
    /// s.step(&mut opt);
    /// assert_eq!(opt.options.lr, 0.75);
    /// ```
    fn step<E: Element, O: Optimizer<E>>(&mut self, opt: &mut O)
    where
        Self: Sized,
    {
        self.advance();
        apply(self, opt);
    }
}

/// A schedule's position: PyTorch's `last_epoch` (steps taken), `base_lrs` (the rate it
/// scales) and `_last_lr` (the rate it set last), one group.
///
/// ```
/// let s = stensor::optim::SchedulerState { last_epoch: 3, base_lr: 1.0, last_lr: 0.1 };
/// assert_eq!(s.last_epoch, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchedulerState {
    /// Steps taken.
    pub last_epoch: usize,
    /// The rate the schedule scales.
    pub base_lr: f64,
    /// The rate at that step.
    pub last_lr: f64,
}

fn apply<S: LrScheduler, E: Element, O: Optimizer<E>>(s: &S, opt: &mut O) {
    opt.set_lr(s.lr_at(s.epoch()));
    if let Some(m) = s.momentum_at(s.epoch()) {
        opt.set_momentum(m);
    }
}

macro_rules! counter {
    (base) => {
        fn base_lr(&self) -> f64 {
            self.base
        }
        fn set_base_lr(&mut self, base: f64) {
            self.base = base;
        }
        counter!();
    };
    () => {
        fn epoch(&self) -> usize {
            self.epoch
        }
        fn advance(&mut self) {
            self.epoch += 1;
        }
        fn set_epoch(&mut self, epoch: usize) {
            self.epoch = epoch;
        }
    };
}

/// `lr * gamma^(epoch / step_size)` (integer division).
///
/// ```
/// use stensor::optim::{LrScheduler, StepLR, SGD};
/// let mut opt = SGD::<f32>::new(1.0);
/// let mut s = StepLR::new(&mut opt, 2, 0.5);
/// let lrs: Vec<f64> = (0..5).map(|_| { let l = s.last_lr(); s.step(&mut opt); l }).collect();
/// assert_eq!(lrs, vec![1.0, 1.0, 0.5, 0.5, 0.25]);
/// ```
#[derive(Clone, Debug)]
pub struct StepLR {
    base: f64,
    step_size: usize,
    gamma: f64,
    epoch: usize,
}

impl StepLR {
    /// Decays by `gamma` every `step_size` steps, from the optimizer's current rate.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let s = StepLR::new(&mut SGD::<f32>::new(1.0), 2, 0.1);
    /// assert_eq!((s.lr_at(1), s.lr_at(2)), (1.0, 0.1));
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(opt: &mut O, step_size: usize, gamma: f64) -> Self {
        let s = StepLR {
            base: opt.lr(),
            step_size: step_size.max(1),
            gamma,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

impl LrScheduler for StepLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        self.base * self.gamma.powi((epoch / self.step_size) as i32)
    }
    counter!(base);
}

/// `lr * gamma^(milestones passed)`.
///
/// ```
/// use stensor::optim::{LrScheduler, MultiStepLR, SGD};
/// let mut opt = SGD::<f32>::new(1.0);
/// let s = MultiStepLR::new(&mut opt, &[2, 4], 0.1);
/// assert_eq!((s.lr_at(1), s.lr_at(2), s.lr_at(4)), (1.0, 0.1, 0.1 * 0.1));
/// ```
#[derive(Clone, Debug)]
pub struct MultiStepLR {
    base: f64,
    milestones: Vec<usize>,
    gamma: f64,
    epoch: usize,
}

impl MultiStepLR {
    /// Decays by `gamma` at each milestone step.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, MultiStepLR, SGD};
    /// let s = MultiStepLR::new(&mut SGD::<f32>::new(1.0), &[3, 1], 0.5);
    /// assert_eq!((s.lr_at(0), s.lr_at(1), s.lr_at(3)), (1.0, 0.5, 0.25));
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(opt: &mut O, milestones: &[usize], gamma: f64) -> Self {
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        let s = MultiStepLR {
            base: opt.lr(),
            milestones,
            gamma,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

impl LrScheduler for MultiStepLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= epoch).count();
        self.base * self.gamma.powi(passed as i32)
    }
    counter!(base);
}

/// `lr * gamma^epoch`.
///
/// ```
/// use stensor::optim::{ExponentialLR, LrScheduler, SGD};
/// let mut opt = SGD::<f32>::new(2.0);
/// let s = ExponentialLR::new(&mut opt, 0.5);
/// assert_eq!(s.lr_at(3), 0.25);
/// ```
#[derive(Clone, Debug)]
pub struct ExponentialLR {
    base: f64,
    gamma: f64,
    epoch: usize,
}

impl ExponentialLR {
    /// Decays by `gamma` every step.
    ///
    /// ```
    /// use stensor::optim::{ExponentialLR, LrScheduler, SGD};
    /// let s = ExponentialLR::new(&mut SGD::<f32>::new(1.0), 0.5);
    /// assert_eq!(s.lr_at(3), 0.125);
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(opt: &mut O, gamma: f64) -> Self {
        let s = ExponentialLR {
            base: opt.lr(),
            gamma,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

impl LrScheduler for ExponentialLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        self.base * self.gamma.powi(epoch as i32)
    }
    counter!(base);
}

/// `eta_min + (lr - eta_min) (1 + cos(pi epoch / t_max)) / 2`.
///
/// ```
/// use stensor::optim::{CosineAnnealingLR, LrScheduler, SGD};
/// let mut opt = SGD::<f32>::new(1.0);
/// let s = CosineAnnealingLR::new(&mut opt, 10, 0.0);
/// assert!((s.lr_at(5) - 0.5).abs() < 1e-12 && s.lr_at(10).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    base: f64,
    t_max: usize,
    eta_min: f64,
    epoch: usize,
}

impl CosineAnnealingLR {
    /// Anneals to `eta_min` over `t_max` steps.
    ///
    /// ```
    /// use stensor::optim::{CosineAnnealingLR, LrScheduler, SGD};
    /// let s = CosineAnnealingLR::new(&mut SGD::<f32>::new(1.0), 10, 0.0);
    /// assert!((s.lr_at(5) - 0.5).abs() < 1e-12 && s.lr_at(10).abs() < 1e-12);
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(opt: &mut O, t_max: usize, eta_min: f64) -> Self {
        let s = CosineAnnealingLR {
            base: opt.lr(),
            t_max: t_max.max(1),
            eta_min,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        self.eta_min
            + (self.base - self.eta_min) * (1.0 + (PI * epoch as f64 / self.t_max as f64).cos())
                / 2.0
    }
    counter!(base);
}

/// Linear from `start_factor * lr` to `end_factor * lr` over `total_iters` steps (PyTorch's
/// defaults 1/3, 1, 5).
///
/// ```
/// use stensor::optim::{LinearLR, LrScheduler, SGD};
/// let mut opt = SGD::<f32>::new(0.3);
/// let s = LinearLR::new(&mut opt, 1.0 / 3.0, 1.0, 5);
/// assert!((s.lr_at(0) - 0.1).abs() < 1e-12 && (s.lr_at(9) - 0.3).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct LinearLR {
    base: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    epoch: usize,
}

impl LinearLR {
    /// Scales the rate linearly by a factor going from `start_factor` to `end_factor`.
    ///
    /// ```
    /// use stensor::optim::{LinearLR, LrScheduler, SGD};
    /// let s = LinearLR::new(&mut SGD::<f32>::new(1.0), 0.5, 1.0, 4);
    /// assert_eq!((s.lr_at(0), s.lr_at(2), s.lr_at(9)), (0.5, 0.75, 1.0));
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(
        opt: &mut O,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Self {
        let s = LinearLR {
            base: opt.lr(),
            start_factor,
            end_factor,
            total_iters,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

impl LrScheduler for LinearLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        let t = if self.total_iters == 0 {
            1.0
        } else {
            epoch.min(self.total_iters) as f64 / self.total_iters as f64
        };
        self.base * (self.start_factor + (self.end_factor - self.start_factor) * t)
    }
    counter!(base);
}

/// The settings of a [`OneCycleLR`], with PyTorch's defaults from [`OneCycleConfig::new`]; start
/// the schedule with [`OneCycleConfig::start`].
///
/// ```
/// use stensor::optim::{LrScheduler, OneCycleConfig, SGD};
/// let mut opt = SGD::<f32>::new(0.0);
/// let s = OneCycleConfig { three_phase: true, ..OneCycleConfig::new(1.0, 100) }.start(&mut opt);
/// assert!((s.lr_at(0) - 0.04).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleConfig {
    /// The peak learning rate.
    pub max_lr: f64,
    /// Steps in the cycle.
    pub total_steps: usize,
    /// Share of the cycle spent increasing (0.3).
    pub pct_start: f64,
    /// Cosine annealing (`true`, the default) or linear.
    pub cos_anneal: bool,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
    /// Three phases (up, down to the initial rate, down to the minimum).
    pub three_phase: bool,
    /// Whether to cycle the optimizer's momentum (`true`).
    pub cycle_momentum: bool,
    /// The lowest momentum (0.85).
    pub base_momentum: f64,
    /// The highest momentum (0.95).
    pub max_momentum: f64,
}

impl OneCycleConfig {
    /// PyTorch's defaults around `max_lr` and `total_steps`.
    ///
    /// ```
    /// let c = stensor::optim::OneCycleConfig::new(1.0, 100);
    /// assert_eq!((c.pct_start, c.div_factor, c.final_div_factor), (0.3, 25.0, 1e4));
    /// ```
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        OneCycleConfig {
            max_lr,
            total_steps,
            pct_start: 0.3,
            cos_anneal: true,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// The schedule at step 0, with the optimizer's rate (and momentum) set for it.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, OneCycleConfig, SGD};
    /// let mut opt = SGD::<f32>::new(0.0);
    /// let mut c = OneCycleConfig::new(1.0, 10);
    /// c.three_phase = true;
    /// let s = c.start(&mut opt);
    /// assert!((opt.options.lr - 0.04).abs() < 1e-12 && s.config().three_phase);
    /// ```
    pub fn start<E: Element, O: Optimizer<E>>(self, opt: &mut O) -> OneCycleLR {
        let s = OneCycleLR {
            config: self,
            epoch: 0,
        };
        apply(&s, opt);
        s
    }
}

/// The 1cycle policy (`OneCycleLR`): from `max_lr / div_factor` up to `max_lr` over
/// `pct_start` of `total_steps`, then down to `initial / final_div_factor` (cosine annealing;
/// or three phases), cycling the optimizer's momentum inversely between `base_momentum` and
/// `max_momentum`. Settings in [`OneCycleConfig`]. Stepping past `total_steps` panics, as
/// PyTorch raises.
///
/// ```
/// use stensor::optim::{LrScheduler, OneCycleLR, SGD};
/// let mut opt = SGD::<f32>::new(0.0);
/// let s = OneCycleLR::new(&mut opt, 1.0, 100);
/// assert!((s.lr_at(0) - 0.04).abs() < 1e-12);
/// assert!((s.lr_at(29) - 1.0).abs() < 1e-12);
/// assert_eq!(opt.options.momentum, 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct OneCycleLR {
    config: OneCycleConfig,
    epoch: usize,
}

impl OneCycleLR {
    /// PyTorch's defaults around `max_lr` and `total_steps`.
    ///
    /// ```
    /// use stensor::optim::{LrScheduler, OneCycleLR, SGD};
    /// let s = OneCycleLR::new(&mut SGD::<f32>::new(0.0), 0.1, 50);
    /// assert_eq!(s.config().max_lr, 0.1);
    /// ```
    pub fn new<E: Element, O: Optimizer<E>>(opt: &mut O, max_lr: f64, total_steps: usize) -> Self {
        OneCycleConfig::new(max_lr, total_steps).start(opt)
    }

    /// The settings.
    ///
    /// ```
    /// use stensor::optim::{OneCycleLR, SGD};
    /// assert_eq!(OneCycleLR::new(&mut SGD::<f32>::new(0.0), 0.1, 50).config().total_steps, 50);
    /// ```
    pub fn config(&self) -> &OneCycleConfig {
        &self.config
    }

    /// `(end_step, lr_start, lr_end, momentum_start, momentum_end)` of each phase.
    fn phases(&self) -> Vec<(f64, f64, f64, f64, f64)> {
        let c = &self.config;
        let init = c.max_lr / c.div_factor;
        let min = init / c.final_div_factor;
        let total = c.total_steps as f64;
        let (lo, hi) = (c.base_momentum, c.max_momentum);
        if c.three_phase {
            vec![
                (c.pct_start * total - 1.0, init, c.max_lr, hi, lo),
                (2.0 * c.pct_start * total - 2.0, c.max_lr, init, lo, hi),
                (total - 1.0, init, min, hi, hi),
            ]
        } else {
            vec![
                (c.pct_start * total - 1.0, init, c.max_lr, hi, lo),
                (total - 1.0, c.max_lr, min, lo, hi),
            ]
        }
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.config.cos_anneal {
            end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
        } else {
            (end - start) * pct + start
        }
    }

    fn at(&self, epoch: usize) -> (f64, f64) {
        assert!(
            epoch < self.config.total_steps.max(1),
            "Tried to step {} times. The specified number of total steps is {}",
            epoch + 1,
            self.config.total_steps
        );
        let phases = self.phases();
        let step = epoch as f64;
        // The first phase whose end is not passed (the last one otherwise).
        let i = phases
            .iter()
            .position(|p| step <= p.0)
            .unwrap_or(phases.len() - 1);
        let start = if i == 0 { 0.0 } else { phases[i - 1].0 };
        let (end, l0, l1, m0, m1) = phases[i];
        let pct = (step - start) / (end - start);
        (self.anneal(l0, l1, pct), self.anneal(m0, m1, pct))
    }
}

impl LrScheduler for OneCycleLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        self.at(epoch).0
    }
    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        self.config.cycle_momentum.then(|| self.at(epoch).1)
    }
    fn base_lr(&self) -> f64 {
        self.lr_at(0)
    }
    fn set_base_lr(&mut self, _base: f64) {}
    counter!();
}
