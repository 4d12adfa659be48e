//! Normalization layers: `BatchNorm1d/2d/3d`, `LayerNorm`, `InstanceNorm1d/2d`, `GroupNorm`.
//!
//! Defaults are PyTorch's: `eps = 1e-5`, `momentum = Some(0.1)` (`None` is the cumulative
//! average), affine weight 1 and bias 0, batch norm tracks running statistics and instance norm
//! does not. In training mode batch norm normalizes with the batch's statistics (biased
//! variance) and updates the running ones with the unbiased variance; in evaluation mode it uses
//! the running ones. The running statistics are updated during `forward(&self)`, like PyTorch's
//! buffers, so they sit behind a lock; read and set them with the accessor methods.

use super::module::{join, TensorKind, TensorMut, TensorRef};
use super::repr::{momentum_repr, py_bool, py_float, py_tuple};
use super::{Forward, Module, ParamField};
use crate::autograd::TapeMode;
pub use crate::ops::RunningStats;
use crate::shape::rules::InChannels;
use crate::shape::spatial::{Channels, NormGroups};
use crate::shape::{BroadcastSuffix, ConstDim, ConstShape, Dim};
use crate::tensor::{Element, Tensor};
use std::sync::Mutex;

/// An optional weight and bias of shape `S` (per channel, or the normalized shape).
type AffinePair<S, E> = (Option<Tensor<S, E>>, Option<Tensor<S, E>>);

/// PyTorch's initial affine parameters: a scale of ones and a shift of zeros, or none.
fn affine_params<S: ConstShape, E: Element>(affine: bool) -> AffinePair<S, E> {
    if affine {
        (
            Some(super::param(Tensor::ones())),
            Some(super::param(Tensor::zeros())),
        )
    } else {
        (None, None)
    }
}

/// The options, mode switches and running-statistics access batch and instance norm share.
macro_rules! running_norm_methods {
    ($name:ident) => {
        /// PyTorch's `eps`, added to the variance.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let n = ", stringify!($name), "::<U3>::new().eps(1e-3).momentum(None).affine(true).track_running_stats(true);\n",
            "assert_eq!((n.eps, n.momentum, n.track_running_stats), (1e-3, None, true));\n",
            "assert!(n.weight.is_some() && n.bias.is_some());\n```")]
        pub fn eps(mut self, eps: f64) -> Self {
            self.eps = eps;
            self
        }
        /// PyTorch's `momentum`: the weight of a new batch in the running statistics, `None`
        /// for the cumulative average.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "assert_eq!(", stringify!($name), "::<U3>::new().momentum(Some(0.2)).momentum, Some(0.2));\n```")]
        pub fn momentum(mut self, momentum: Option<f64>) -> Self {
            self.momentum = momentum;
            self
        }
        /// PyTorch's `affine`: a learnable scale (ones) and shift (zeros) per channel, or none.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "assert!(", stringify!($name), "::<U3>::new().affine(false).weight.is_none());\n```")]
        pub fn affine(mut self, affine: bool) -> Self {
            (self.weight, self.bias) = affine_params(affine);
            self
        }
        /// PyTorch's `track_running_stats`: keep running statistics (and use them in evaluation).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "assert!(!", stringify!($name), "::<U3>::new().track_running_stats(false).track_running_stats);\n```")]
        pub fn track_running_stats(mut self, track: bool) -> Self {
            self.track_running_stats = track;
            self
        }
        /// With the given affine scale and shift, registered as parameters (they get
        /// gradients; setting the public fields to tensors that do not require grad would not).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let n = ", stringify!($name), "::<U2>::new().with_affine_params(Tensor::from_array([2.0, 3.0]), Tensor::zeros());\n",
            "assert!(n.weight.as_ref().unwrap().requires_grad());\n",
            "assert_eq!(n.weight.unwrap().to_vec(), vec![2.0, 3.0]);\n```")]
        pub fn with_affine_params(mut self, weight: Tensor<(C,), E>, bias: Tensor<(C,), E>) -> Self {
            (self.weight, self.bias) = (Some(super::param(weight)), Some(super::param(bias)));
            self
        }
        /// Training mode: batch (or instance) statistics, running statistics updated if tracked.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let mut n = ", stringify!($name), "::<U3>::new();\n",
            "n.eval();\nn.train();\nassert!(n.is_training());\n```")]
        pub fn train(&mut self) { self.training = true; }
        /// Evaluation mode: running statistics, if tracked.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let mut n = ", stringify!($name), "::<U3>::new();\n",
            "n.eval();\nassert!(!n.is_training());\n```")]
        pub fn eval(&mut self) { self.training = false; }
        /// Whether the layer is in training mode (it starts in it).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "assert!(", stringify!($name), "::<U3>::new().is_training());\n```")]
        pub fn is_training(&self) -> bool { self.training }
        /// A copy of the running statistics.
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let n = ", stringify!($name), "::<U3>::new();\n",
            "let s = n.running_stats();\n",
            "assert_eq!((s.mean.to_vec(), s.var.to_vec()), (vec![0.0; 3], vec![1.0; 3]));\n```")]
        pub fn running_stats(&self) -> RunningStats<C, E> { self.running.lock().expect("running stats").clone() }
        /// Replaces the running statistics (e.g. loaded from a state dict).
        ///
        #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::", stringify!($name), ";\n",
            "let n = ", stringify!($name), "::<U3>::new();\n",
            "let mut s = n.running_stats();\n",
            "s.mean = Tensor::from_vec(vec![1.0, 2.0, 3.0])?;\n",
            "n.set_running_stats(s);\n",
            "assert_eq!(n.running_stats().mean.to_vec(), vec![1.0, 2.0, 3.0]);\n# Ok::<(), stensor::Error>(())\n```")]
        pub fn set_running_stats(&self, stats: RunningStats<C, E>) { *self.running.lock().expect("running stats") = stats; }
    };
}

/// A batch norm layer; `$across` is the group whose batches its statistics cover (`None`: this
/// process's alone).
macro_rules! batch_norm {
    ($(#[$doc:meta])* $name:ident, [$([$($Sp:ident),*]),+]) => {
        batch_norm!($(#[$doc])* $name, [$([$($Sp),*]),+], None);
    };
    ($(#[$doc:meta])* $name:ident, [$([$($Sp:ident),*]),+], $across:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<C: ConstDim, E: Element = f32> {
            /// Scale per channel (`None` without `affine`).
            pub weight: Option<Tensor<(C,), E>>,
            /// Shift per channel (`None` without `affine`).
            pub bias: Option<Tensor<(C,), E>>,
            /// Added to the variance.
            pub eps: f64,
            /// Weight of a new batch in the running statistics; `None` for the cumulative average.
            pub momentum: Option<f64>,
            /// Whether running statistics are kept (and used in evaluation).
            pub track_running_stats: bool,
            training: bool,
            running: Mutex<RunningStats<C, E>>,
        }

        impl<C: ConstDim, E: Element> $name<C, E> {
            /// PyTorch's defaults: affine, eps 1e-5, momentum 0.1, tracking, training mode.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet n = stensor::nn::", stringify!($name), "::<U3>::new();\n",
                "assert_eq!((n.eps, n.momentum, n.track_running_stats), (1e-5, Some(0.1), true));\n",
                "assert_eq!(n.weight.unwrap().to_vec(), vec![1.0; 3]);\n```")]
            pub fn new() -> Self {
                let (weight, bias) = affine_params(true);
                let running = Mutex::new(RunningStats::new());
                let (eps, momentum, track_running_stats) = (1e-5, Some(0.1), true);
                Self { weight, bias, eps, momentum, track_running_stats, training: true, running }
            }
            running_norm_methods!($name);

            /// Batch statistics in training or without running statistics (and running ones
            /// updated when tracked), else the running ones, as PyTorch's `_BatchNorm.forward`.
            fn apply<S: Channels<C>, T: TapeMode<E>>(&self, x: Tensor<S, E, T>) -> Tensor<S, E, T> {
                let mut r = self.running.lock().expect("running stats");
                let running = self.track_running_stats.then_some(&mut *r);
                let training = self.training || !self.track_running_stats;
                let affine = (self.weight.as_ref(), self.bias.as_ref());
                x.batch_norm_across($across, running, affine, training, self.momentum, self.eps)
            }
        }

        impl<C: ConstDim, E: Element> Default for $name<C, E> {
            fn default() -> Self { Self::new() }
        }

        impl<C: ConstDim, E: Element> Clone for $name<C, E> {
            fn clone(&self) -> Self {
                $name {
                    weight: self.weight.clone(), bias: self.bias.clone(), eps: self.eps, momentum: self.momentum,
                    track_running_stats: self.track_running_stats, training: self.training,
                    running: Mutex::new(self.running_stats()),
                }
            }
        }

        $(
            impl<B: Dim, C2: Dim + InChannels<C>, $($Sp: Dim,)* C: ConstDim, E: Element, T: TapeMode<E>>
                Forward<Tensor<(B, C2, $($Sp,)*), E, T>> for $name<C, E>
            {
                type Output = Tensor<(B, C2, $($Sp,)*), E, T>;
                fn forward(&self, x: Tensor<(B, C2, $($Sp,)*), E, T>) -> Self::Output {
                    self.apply(x)
                }
            }
        )+
    };
}

batch_norm!(
    /// Batch norm over `(N, C)` or `(N, C, L)` (PyTorch's `nn.BatchNorm1d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm1d, Forward};
    /// let bn = BatchNorm1d::<U2, f64>::new();
    /// let y = bn.forward(Tensor::<(U2, U2), f64>::from_array([[1.0, 5.0], [3.0, 5.0]]));
    /// assert!((y[[0, 0]] + 1.0).abs() < 1e-4 && y[[0, 1]] == 0.0);
    /// // running mean moved 10% toward the batch mean
    /// assert_eq!(bn.running_stats().mean.to_vec(), vec![0.2, 0.5]);
    /// ```
    BatchNorm1d, [[], [L]]
);
batch_norm!(
    /// Batch norm over `(N, C, H, W)` (PyTorch's `nn.BatchNorm2d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm2d, Forward};
    /// let mut bn = BatchNorm2d::<U3>::new();
    /// let y = bn.forward(Tensor::<(U4, U3, U5, U5)>::rand_normal(0, 2.0, 3.0));
    /// assert!(y.clone().mean().item().abs() < 1e-5);
    /// bn.eval(); // now normalizes with the running statistics
    /// let _z: Tensor<(U1, U3, U5, U5)> = bn.forward(Tensor::zeros());
    /// ```
    BatchNorm2d, [[H, W]]
);
batch_norm!(
    /// Batch norm over `(N, C, D, H, W)` (PyTorch's `nn.BatchNorm3d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm3d, Forward};
    /// let bn = BatchNorm3d::<U2>::new();
    /// let y = bn.forward(Tensor::<(U2, U2, U2, U2, U2)>::arange());
    /// assert_eq!(y.dims(), [2, 2, 2, 2, 2]);
    /// ```
    BatchNorm3d, [[D, H, W]]
);

#[cfg(feature = "mpi")]
batch_norm!(
    /// Batch norm whose statistics are those of every process's batch together (PyTorch's
    /// `nn.SyncBatchNorm`, over MPI's world; the `mpi` feature): over `(N, C)`, `(N, C, L)`,
    /// `(N, C, H, W)` or `(N, C, D, H, W)`.
    ///
    /// In training, each channel's mean and variance are summed across the ranks (two small
    /// all-reduces in the forward, one in the backward, for the gradient terms that pass
    /// through the statistics), so 2 ranks with half a batch each normalize as one process
    /// with the whole batch would, and the running statistics (from the global unbiased
    /// variance) are the same on every rank. The parameters' own gradients stay this rank's,
    /// for [`DistributedDataParallel`](crate::distributed::DistributedDataParallel) to
    /// average. Outside `mpirun`, or in a world of one, it is plain batch norm, as PyTorch's
    /// falls back when there is nothing to synchronise. Every rank must call `forward` and
    /// `backward` the same number of times (they are collective). The state-dict names
    /// (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`) are batch
    /// norm's, and `SyncBatchNorm::from(bn)` is PyTorch's `convert_sync_batchnorm` for one
    /// layer: it keeps `bn`'s parameters, running statistics and options.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{BatchNorm2d, Forward, SyncBatchNorm};
    /// let x = Tensor::<(U4, U3, U5, U5), f64>::rand_normal(0, 2.0, 3.0);
    /// let bn = BatchNorm2d::<U3, f64>::new();
    /// let sync = SyncBatchNorm::from(bn.clone());
    /// // a world of one: the same as batch norm
    /// assert_eq!(sync.forward(x.clone()).to_vec(), bn.forward(x).to_vec());
    /// assert_eq!(sync.running_stats().mean.to_vec(), bn.running_stats().mean.to_vec());
    /// ```
    SyncBatchNorm, [[], [L], [H, W], [D, H, W]], Some(crate::distributed::world_sum())
);

/// PyTorch's `convert_sync_batchnorm` for one layer: the same parameters (the same tensors),
/// running statistics, options and mode.
#[cfg(feature = "mpi")]
macro_rules! into_sync {
    ($($from:ident),+) => {$(
        impl<C: ConstDim, E: Element> From<$from<C, E>> for SyncBatchNorm<C, E> {
            #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::{", stringify!($from), ", SyncBatchNorm};\n",
                "let bn = ", stringify!($from), "::<U3>::new().eps(1e-3);\n",
                "let sync = SyncBatchNorm::from(bn);\n",
                "assert_eq!(sync.eps, 1e-3);\n```")]
            fn from(bn: $from<C, E>) -> Self {
                let running = Mutex::new(bn.running_stats());
                SyncBatchNorm {
                    weight: bn.weight, bias: bn.bias, eps: bn.eps, momentum: bn.momentum,
                    track_running_stats: bn.track_running_stats, training: bn.training, running,
                }
            }
        }
    )+};
}
#[cfg(feature = "mpi")]
into_sync!(BatchNorm1d, BatchNorm2d, BatchNorm3d);

macro_rules! instance_norm {
    ($(#[$doc:meta])* $name:ident, [$($Sp:ident),+]) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<C: ConstDim, E: Element = f32> {
            /// Scale per channel (`None` without `affine`, PyTorch's default).
            pub weight: Option<Tensor<(C,), E>>,
            /// Shift per channel (`None` without `affine`).
            pub bias: Option<Tensor<(C,), E>>,
            /// Added to the variance.
            pub eps: f64,
            /// Weight of a new batch in the running statistics (`None` leaves them unchanged, as
            /// in PyTorch's instance norm).
            pub momentum: Option<f64>,
            /// Whether running statistics are kept and used in evaluation (default `false`).
            pub track_running_stats: bool,
            training: bool,
            running: Mutex<RunningStats<C, E>>,
        }

        impl<C: ConstDim, E: Element> $name<C, E> {
            /// PyTorch's defaults: no affine, no running statistics, eps 1e-5, momentum 0.1
            /// (used once `track_running_stats(true)`).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet n = stensor::nn::", stringify!($name), "::<U3>::new();\n",
                "assert_eq!((n.eps, n.momentum, n.track_running_stats), (1e-5, Some(0.1), false));\n",
                "assert!(n.weight.is_none());\n```")]
            pub fn new() -> Self {
                let (weight, bias) = affine_params(false);
                let running = Mutex::new(RunningStats::new());
                let (eps, momentum, track_running_stats) = (1e-5, Some(0.1), false);
                Self { weight, bias, eps, momentum, track_running_stats, training: true, running }
            }
            running_norm_methods!($name);
        }

        impl<C: ConstDim, E: Element> Default for $name<C, E> {
            fn default() -> Self { Self::new() }
        }

        impl<C: ConstDim, E: Element> Clone for $name<C, E> {
            fn clone(&self) -> Self {
                $name {
                    weight: self.weight.clone(), bias: self.bias.clone(), eps: self.eps, momentum: self.momentum,
                    track_running_stats: self.track_running_stats, training: self.training,
                    running: Mutex::new(self.running_stats()),
                }
            }
        }

        impl<B: Dim, C2: Dim + InChannels<C>, $($Sp: Dim,)+ C: ConstDim, E: Element, T: TapeMode<E>>
            Forward<Tensor<(B, C2, $($Sp,)+), E, T>> for $name<C, E>
        {
            type Output = Tensor<(B, C2, $($Sp,)+), E, T>;
            fn forward(&self, x: Tensor<(B, C2, $($Sp,)+), E, T>) -> Self::Output {
                let mut r = self.running.lock().expect("running stats");
                let running = self.track_running_stats.then_some(&mut *r);
                let use_input_stats = self.training || !self.track_running_stats;
                // PyTorch's instance norm passes `momentum=None` as 0: the statistics stay.
                let momentum = self.momentum.unwrap_or(0.0);
                x.instance_norm(running, self.weight.as_ref(), self.bias.as_ref(), use_input_stats, momentum, self.eps)
            }
        }
    };
}

instance_norm!(
    /// Instance norm over `(N, C, L)`: each `(n, c)` row normalized on its own
    /// (PyTorch's `nn.InstanceNorm1d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{InstanceNorm1d, Forward};
    /// let y = InstanceNorm1d::<U1, f64>::new().forward(Tensor::<(U1, U1, U2), f64>::from_array([[[1.0, 3.0]]]));
    /// assert!((y[[0, 0, 0]] + 1.0).abs() < 1e-4);
    /// ```
    InstanceNorm1d, [L]
);
instance_norm!(
    /// Instance norm over `(N, C, H, W)` (PyTorch's `nn.InstanceNorm2d`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{InstanceNorm2d, Forward};
    /// let y = InstanceNorm2d::<U3>::new().affine(true).forward(Tensor::<(U2, U3, U4, U4)>::arange());
    /// assert_eq!(y.dims(), [2, 3, 4, 4]);
    /// ```
    InstanceNorm2d, [H, W]
);

/// Group norm (PyTorch's `nn.GroupNorm(G, C)`): the `C` channels split into `G` groups (`G` must
/// divide `C`, checked at compile time), each `(n, group)` normalized over its channels and
/// positions, then a per-channel affine (default on).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{GroupNorm, Forward};
/// let gn = GroupNorm::<U2, U4, f64>::new();
/// let y = gn.forward(Tensor::<(U2, U4, U3, U3), f64>::arange());
/// assert!(y.mean().item().abs() < 1e-12);
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct GroupNorm<G: NormGroups<C>, C: ConstDim, E: Element = f32> {
    /// Scale per channel (`None` without `affine`).
    #[module(param)]
    pub weight: Option<Tensor<(C,), E>>,
    /// Shift per channel (`None` without `affine`).
    #[module(param)]
    pub bias: Option<Tensor<(C,), E>>,
    /// Added to the variance.
    pub eps: f64,
    groups: core::marker::PhantomData<G>,
}

impl<G: NormGroups<C>, C: ConstDim, E: Element> GroupNorm<G, C, E> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        let affine = py_bool(self.weight.is_some());
        let eps = py_float(self.eps);
        format!("{}, {}, eps={eps}, affine={affine}", G::SIZE, C::SIZE)
    }
    /// PyTorch's defaults: affine, eps 1e-5.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let n = stensor::nn::GroupNorm::<U2, U4>::new();
    /// assert_eq!((n.eps, n.bias.unwrap().to_vec()), (1e-5, vec![0.0; 4]));
    /// ```
    pub fn new() -> Self {
        let (weight, bias) = affine_params(true);
        GroupNorm {
            weight,
            bias,
            eps: 1e-5,
            groups: core::marker::PhantomData,
        }
    }
    /// PyTorch's `eps`, added to the variance.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::GroupNorm;
    /// assert_eq!(GroupNorm::<U2, U4>::new().eps(1e-3).eps, 1e-3);
    /// ```
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// PyTorch's `affine`: a learnable scale (ones) and shift (zeros) per channel, or none.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::GroupNorm;
    /// assert!(GroupNorm::<U2, U4>::new().affine(false).bias.is_none());
    /// ```
    pub fn affine(mut self, affine: bool) -> Self {
        (self.weight, self.bias) = affine_params(affine);
        self
    }
    /// With the given affine scale and shift, registered as parameters (they get gradients).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::GroupNorm;
    /// let n = GroupNorm::<U1, U2>::new().with_affine_params(Tensor::from_array([2.0, 3.0]), Tensor::zeros());
    /// assert!(n.weight.as_ref().unwrap().requires_grad());
    /// ```
    pub fn with_affine_params(mut self, weight: Tensor<(C,), E>, bias: Tensor<(C,), E>) -> Self {
        (self.weight, self.bias) = (Some(super::param(weight)), Some(super::param(bias)));
        self
    }
}

impl<G: NormGroups<C>, C: ConstDim, E: Element> Default for GroupNorm<G, C, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<X, G, C, E, T> Forward<Tensor<X, E, T>> for GroupNorm<G, C, E>
where
    X: Channels<C>,
    G: NormGroups<C>,
    C: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<X, E, T>;
    fn forward(&self, x: Tensor<X, E, T>) -> Self::Output {
        x.group_norm::<G, C>(self.weight.as_ref(), self.bias.as_ref(), self.eps)
    }
}

/// Layer norm over the trailing dims `NS` (PyTorch's `nn.LayerNorm(normalized_shape)`, e.g.
/// `LayerNorm<(U2, U4)>` for `[2, 4]`), with an elementwise affine of shape `NS` (default on).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{LayerNorm, Forward};
/// let ln = LayerNorm::<(U4,), f64>::new();
/// let y = ln.forward(Tensor::<(U2, U4), f64>::from_array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 8.0]]));
/// assert!(y.sum_axis::<1>().to_vec().iter().all(|v| v.abs() < 1e-12));
/// ```
#[derive(Clone, Debug, Module)]
#[module(leaf, extra_repr = repr)]
pub struct LayerNorm<NS: ConstShape, E: Element = f32> {
    /// Elementwise scale (`None` without `elementwise_affine`).
    #[module(param)]
    pub weight: Option<Tensor<NS, E>>,
    /// Elementwise shift (`None` without `elementwise_affine`).
    #[module(param)]
    pub bias: Option<Tensor<NS, E>>,
    /// Added to the variance.
    pub eps: f64,
}

impl<NS: ConstShape, E: Element> LayerNorm<NS, E> {
    /// PyTorch's `extra_repr`.
    fn repr(&self) -> String {
        let affine = py_bool(self.weight.is_some());
        let (shape, eps) = (py_tuple(NS::DIMS), py_float(self.eps));
        format!("{shape}, eps={eps}, elementwise_affine={affine}")
    }
    /// PyTorch's defaults: elementwise affine, eps 1e-5.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let n = stensor::nn::LayerNorm::<(U2, U3)>::new();
    /// assert_eq!((n.eps, n.weight.unwrap().dims()), (1e-5, [2, 3].into()));
    /// ```
    pub fn new() -> Self {
        let (weight, bias) = affine_params(true);
        LayerNorm {
            weight,
            bias,
            eps: 1e-5,
        }
    }
    /// PyTorch's `eps`, added to the variance.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::LayerNorm;
    /// assert_eq!(LayerNorm::<(U4,)>::new().eps(0.0).eps, 0.0);
    /// ```
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// PyTorch's `elementwise_affine`: a learnable scale (ones) and shift (zeros) per element of
    /// the normalized shape, or none.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::LayerNorm;
    /// assert!(LayerNorm::<(U4,)>::new().elementwise_affine(false).weight.is_none());
    /// ```
    pub fn elementwise_affine(mut self, affine: bool) -> Self {
        (self.weight, self.bias) = affine_params(affine);
        self
    }
    /// With the given elementwise scale and shift, registered as parameters (they get
    /// gradients).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::LayerNorm;
    /// let n = LayerNorm::<(U2,)>::new().with_affine_params(Tensor::from_array([2.0, 3.0]), Tensor::zeros());
    /// assert!(n.bias.as_ref().unwrap().requires_grad());
    /// ```
    pub fn with_affine_params(mut self, weight: Tensor<NS, E>, bias: Tensor<NS, E>) -> Self {
        (self.weight, self.bias) = (Some(super::param(weight)), Some(super::param(bias)));
        self
    }
}

impl<NS: ConstShape, E: Element> Default for LayerNorm<NS, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, NS, E, T> Forward<Tensor<S, E, T>> for LayerNorm<NS, E>
where
    S: BroadcastSuffix<NS>,
    NS: ConstShape,
    E: Element,
    T: TapeMode<E>,
{
    type Output = Tensor<S, E, T>;
    fn forward(&self, x: Tensor<S, E, T>) -> Self::Output {
        x.layer_norm::<NS>(self.weight.as_ref(), self.bias.as_ref(), self.eps)
    }
}

/// `Module` for the norms with running statistics, written out: the statistics are buffers
/// behind a lock (updated in `forward(&self)`), visited only while they are tracked.
macro_rules! running_norm_module {
    ($($name:ident),+) => {$(
        impl<C: ConstDim, E: Element> Module for $name<C, E> {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
                self.weight.visit_as(&join(prefix, "weight"), TensorKind::Parameter, f);
                self.bias.visit_as(&join(prefix, "bias"), TensorKind::Parameter, f);
                if self.track_running_stats {
                    let r = self.running_stats();
                    for (name, t) in [("running_mean", &r.mean), ("running_var", &r.var)] {
                        f(&join(prefix, name), TensorRef { id: None, dims: t.dims(), values: E::values(t.as_slice()), kind: TensorKind::Buffer });
                    }
                    let n = [r.num_batches_tracked as i64];
                    f(&join(prefix, "num_batches_tracked"), TensorRef { id: None, dims: crate::shape::Dims::new(&[]), values: crate::tensor::Values::I64(&n), kind: TensorKind::Buffer });
                }
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
                self.weight.visit_mut_as(&join(prefix, "weight"), TensorKind::Parameter, f);
                self.bias.visit_mut_as(&join(prefix, "bias"), TensorKind::Parameter, f);
                if self.track_running_stats {
                    let mut r = self.running_stats();
                    for (name, t) in [("running_mean", &mut r.mean), ("running_var", &mut r.var)] {
                        let dims = t.dims();
                        f(&join(prefix, name), TensorMut { id: None, dims, values: E::values_mut(t.as_mut_slice()), kind: TensorKind::Buffer });
                    }
                    let mut n = [r.num_batches_tracked as i64];
                    f(&join(prefix, "num_batches_tracked"), TensorMut { id: None, dims: crate::shape::Dims::new(&[]), values: crate::tensor::ValuesMut::I64(&mut n), kind: TensorKind::Buffer });
                    r.num_batches_tracked = n[0].max(0) as usize;
                    self.set_running_stats(r);
                }
            }
            fn kind(&self) -> &'static str {
                stringify!($name)
            }
            fn extra_repr(&self) -> String {
                format!(
                    "{}, eps={}, momentum={}, affine={}, track_running_stats={}",
                    C::SIZE, py_float(self.eps), momentum_repr(self.momentum), py_bool(self.weight.is_some()), py_bool(self.track_running_stats)
                )
            }
            fn set_training(&mut self, training: bool) {
                if training { self.train(); } else { self.eval(); }
            }
            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }

        impl<X, C: ConstDim, E: Element> super::Summarize<X> for $name<C, E>
        where
            Self: Forward<X>,
            X: super::TensorType,
            <Self as Forward<X>>::Output: super::TensorType,
        {
            fn summary_rows(&self, prefix: &str, rows: &mut Vec<super::SummaryRow>) {
                rows.push(super::layer_row::<X, Self>(self, prefix));
            }
        }
    )+};
}
running_norm_module!(
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d
);
#[cfg(feature = "mpi")]
running_norm_module!(SyncBatchNorm);
