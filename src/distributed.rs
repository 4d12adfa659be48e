//! Data-parallel training over MPI (the `mpi` feature: the `mpi` crate, rsmpi, over Open MPI or
//! MPICH): every process holds the whole network, trains on its shard of each batch, and
//! averages the gradients with the others before each optimizer step, the design of PyTorch's
//! `DistributedDataParallel`.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::distributed::{DistributedDataParallel, ProcessGroup};
//! use stensor::nn::{Linear, Forward};
//! use stensor::optim::{Optimizer, SGD};
//! // under `mpirun -np 2 ...` two ranks; alone (as this example runs) a world of one
//! let pg = ProcessGroup::init().unwrap();
//! let mut net = Linear::<U4, U1>::new(&mut Rng::seed(pg.rank() as u64)); // seeds may differ:
//! let mut ddp = DistributedDataParallel::new(&pg, &mut net); // rank 0's weights everywhere
//! let mut opt = SGD::new(0.1);
//! for step in 0..10 {
//!     let x = Tensor::<(U8, U4)>::rand_uniform(step * 2 + pg.rank() as u64, -1.0, 1.0); // this rank's shard
//!     ddp.before_forward(&mut net);
//!     let loss = net.forward(x.trace_no_grad()).square().mean();
//!     let mut grads = loss.backward();
//!     if ddp.sync(&net, &mut grads).unwrap() {
//!         opt.step(&mut net, &grads); // the same averaged gradients on every rank
//!     }
//! }
//! pg.barrier();
//! ```
//!
//! - At the start, [`DistributedDataParallel::new`] broadcasts rank 0's parameters and buffers,
//!   so every rank starts from the same network whatever its seed.
//! - [`DistributedDataParallel::sync`] averages the gradients: they are laid end to end in
//!   flat buckets of at most `bucket_cap_mb` (25 MB by default, as PyTorch), in reverse
//!   parameter order (the order backward finishes them), the same on every rank, and each
//!   bucket is summed by one MPI all-reduce after being divided by the number of ranks. The
//!   tape has no per-parameter "gradient ready" hook, so the buckets are reduced right after
//!   `backward`, not overlapped with it: a LeNet's 61,706 gradients are one bucket, one
//!   all-reduce per step. MPI gives every rank the same sum, so the ranks stay bit-identical.
//! - `sync_every(k)` is PyTorch's `no_sync` for gradient accumulation: gradients add up
//!   locally for `k` steps and are averaged across ranks on the `k`-th, the only call that
//!   returns `true` (step the optimizer then).
//! - Buffers (batch norm's running statistics) are broadcast from rank 0 by
//!   [`DistributedDataParallel::before_forward`], PyTorch's `broadcast_buffers=True`.
//! - Or, with [`SyncBatchNorm`] in place of the batch norm layers (`SyncBatchNorm::from(bn)`),
//!   batch statistics over every rank's batch, as one process with the whole batch would
//!   compute them.
//! - [`ProcessGroup::on_root`] runs logging and saving on rank 0 only; every rank can load
//!   what it saved after a [`ProcessGroup::barrier`].
//!
//! MPI is initialised with `MPI_THREAD_SERIALIZED`: the backward pass runs on a pool thread,
//! and synchronised batch norm's backward makes its all-reduce there, while the thread that
//! called `backward` waits, so calls never overlap.

use crate::autograd::{Gradients, UniqueId};
pub use crate::nn::SyncBatchNorm;
use crate::nn::{Module, TensorKind};
use crate::ops::SumAcross;
use crate::tensor::{Element, Values, ValuesMut};
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Equivalence, Root};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// MPI's world as the group [`SyncBatchNorm`] sums its statistics over; a world of one while
/// MPI is not initialised (or is finalised), so the layer is plain batch norm outside a
/// [`ProcessGroup`]'s lifetime. The handle is made at each call rather than kept, so the op's
/// backward rule holds nothing MPI owns.
struct World;

impl SumAcross for World {
    fn size(&self) -> usize {
        if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
            SimpleCommunicator::world().size() as usize
        } else {
            1
        }
    }

    fn sum_across(&self, values: &mut [f64]) {
        if self.size() > 1 && !values.is_empty() {
            let send = values.to_vec();
            SimpleCommunicator::world().all_reduce_into(&send[..], values, SystemOperation::sum());
        }
    }
}

/// The sum over MPI's world that [`SyncBatchNorm`]'s op takes.
pub(crate) fn world_sum() -> Arc<dyn SumAcross> {
    Arc::new(World)
}

/// Why a distributed step could not be taken.
///
/// ```
/// let e = stensor::distributed::DistError::MissingGradient { name: "fc.weight".into() };
/// assert!(e.to_string().contains("fc.weight"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DistError {
    /// MPI was initialised already (by this process or a library it uses).
    AlreadyInitialized,
    /// A parameter got no gradient on this rank: the ranks' buckets would differ (PyTorch
    /// stops the same way unless told `find_unused_parameters`).
    MissingGradient {
        /// The parameter's name.
        name: String,
    },
}

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistError::AlreadyInitialized => {
                f.write_str("MPI is already initialised in this process")
            }
            DistError::MissingGradient { name } => write!(
                f,
                "parameter `{name}` has no gradient on this rank: every parameter must take part \
                 in the loss on every rank for the gradients to be averaged"
            ),
        }
    }
}

impl std::error::Error for DistError {}

/// The processes of the MPI world: this one's rank, how many there are, and the collectives
/// the data-parallel step uses. MPI is finalised when it is dropped.
///
/// ```
/// let pg = stensor::distributed::ProcessGroup::init().unwrap();
/// println!("rank {} of {}", pg.rank(), pg.size());
/// ```
pub struct ProcessGroup {
    world: SimpleCommunicator,
    // dropped last: finalises MPI
    _universe: mpi::environment::Universe,
}

impl fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

/// The parameters or buffers of `net` of element type `E` (by the values' variant, the
/// crate's trait dispatch), in visiting order, with their names, ids and lengths.
fn tensors_of<E: Element, M: Module>(
    net: &M,
    kind: TensorKind,
) -> Vec<(String, Option<UniqueId>, usize)> {
    let mut out = vec![];
    net.visit("", &mut |name, t| {
        let same = matches!(
            (E::values(&[]), &t.values),
            (Values::F32(_), Values::F32(_)) | (Values::F64(_), Values::F64(_))
        );
        if t.kind == kind && same {
            out.push((name.to_string(), t.id, t.values.len()));
        }
    });
    out
}

impl ProcessGroup {
    /// Joins the MPI world (`MPI_Init`): run the program under `mpirun -np N`; run alone it is
    /// a world of one.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// assert!(pg.rank() < pg.size());
    /// ```
    pub fn init() -> Result<Self, DistError> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or(DistError::AlreadyInitialized)?;
        let world = universe.world();
        Ok(ProcessGroup {
            world,
            _universe: universe,
        })
    }

    /// This process's rank, from 0.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let seed = 100 + pg.rank() as u64;
    /// ```
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// The number of processes.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let per_rank = 256 / pg.size();
    /// ```
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Whether this is rank 0, the one that logs and saves.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// if pg.is_root() { println!("starting"); }
    /// ```
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Waits until every rank has called it (e.g. after rank 0 saved a checkpoint the others
    /// will load).
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// pg.barrier();
    /// ```
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// `f()` on rank 0 only (logging, saving), `None` elsewhere.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// pg.on_root(|| println!("only once"));
    /// ```
    pub fn on_root<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        self.is_root().then(f)
    }

    /// Rank 0's `values` into every rank's.
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut v = [pg.rank() as f32; 3];
    /// pg.broadcast(&mut v);
    /// assert_eq!(v, [0.0; 3]);
    /// ```
    pub fn broadcast<T: Equivalence>(&self, values: &mut [T]) {
        if self.size() > 1 && !values.is_empty() {
            self.world.process_at_rank(0).broadcast_into(values);
        }
    }

    /// Every rank's `values` summed, into every rank's (one all-reduce).
    ///
    /// ```
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut v = [1.0f64; 2];
    /// pg.all_reduce_sum(&mut v);
    /// assert_eq!(v, [pg.size() as f64; 2]);
    /// ```
    pub fn all_reduce_sum<T: Equivalence + Copy>(&self, values: &mut [T]) {
        if self.size() > 1 && !values.is_empty() {
            let send = values.to_vec();
            self.world
                .all_reduce_into(&send[..], values, SystemOperation::sum());
        }
    }

    /// Rank 0's parameters and buffers (of every element type) into every rank's `net`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(pg.rank() as u64));
    /// pg.broadcast_module(&mut net);
    /// ```
    pub fn broadcast_module(&self, net: &mut impl Module) {
        self.broadcast_tensors(net, None);
    }

    /// Broadcasts the tensors of `net` of `kind` (all when `None`): each element type's
    /// tensors laid end to end and sent as one broadcast (PyTorch's coalesced broadcast),
    /// not one per tensor, as a network's buffers (three per batch norm) go before every
    /// forward.
    fn broadcast_tensors(&self, net: &mut impl Module, kind: Option<TensorKind>) {
        if self.size() == 1 {
            return;
        }
        let wanted = |k: TensorKind| kind.is_none_or(|want| want == k);
        let (mut f32s, mut f64s, mut i64s) = (vec![], vec![], vec![]);
        net.visit("", &mut |_, t| {
            if wanted(t.kind) {
                match t.values {
                    Values::F32(v) => f32s.extend_from_slice(v),
                    Values::F64(v) => f64s.extend_from_slice(v),
                    Values::I64(v) => i64s.extend_from_slice(v),
                }
            }
        });
        self.broadcast(&mut f32s);
        self.broadcast(&mut f64s);
        self.broadcast(&mut i64s);
        // the same visiting order: each tensor takes its run back
        let (mut a, mut b, mut c) = (0, 0, 0);
        net.visit_mut("", &mut |_, t| {
            if wanted(t.kind) {
                let take = |at: &mut usize, len: usize| {
                    *at += len;
                    *at - len..*at
                };
                match t.values {
                    ValuesMut::F32(v) => v.copy_from_slice(&f32s[take(&mut a, v.len())]),
                    ValuesMut::F64(v) => v.copy_from_slice(&f64s[take(&mut b, v.len())]),
                    ValuesMut::I64(v) => v.copy_from_slice(&i64s[take(&mut c, v.len())]),
                }
            }
        });
    }
}

/// PyTorch's `DistributedDataParallel` for any `#[derive(Module)]` network and any optimizer:
/// see the [module docs](self).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::distributed::{DistributedDataParallel, ProcessGroup};
/// let pg = ProcessGroup::init().unwrap();
/// let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(0));
/// let ddp = DistributedDataParallel::new(&pg, &mut net).bucket_cap_mb(1.0).sync_every(4);
/// ```
#[derive(Debug)]
pub struct DistributedDataParallel<'g> {
    pg: &'g ProcessGroup,
    bucket_cap_bytes: usize,
    broadcast_buffers: bool,
    sync_every: usize,
    /// Calls to `sync` since the last all-reduce.
    pending: usize,
    /// The gradients added up since the last all-reduce, by parameter, when accumulating.
    accumulated: HashMap<UniqueId, Vec<f64>>,
    /// The bucket sizes (in values) of the last all-reduce.
    last_buckets: Vec<usize>,
}

impl<'g> DistributedDataParallel<'g> {
    /// Wraps training of `net` on every rank: broadcasts rank 0's parameters and buffers
    /// first, so all ranks start equal.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(pg.rank() as u64));
    /// let _ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net);
    /// ```
    pub fn new(pg: &'g ProcessGroup, net: &mut impl Module) -> Self {
        pg.broadcast_module(net);
        DistributedDataParallel {
            pg,
            bucket_cap_bytes: 25 << 20,
            broadcast_buffers: true,
            sync_every: 1,
            pending: 0,
            accumulated: HashMap::new(),
            last_buckets: vec![],
        }
    }

    /// The largest bucket, in megabytes (PyTorch's `bucket_cap_mb`, default 25).
    ///
    /// ```
    /// # use stensor::prelude::*;
    /// # let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// # let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(0));
    /// let ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net).bucket_cap_mb(0.5);
    /// ```
    pub fn bucket_cap_mb(mut self, mb: f64) -> Self {
        self.bucket_cap_bytes = ((mb * (1u64 << 20) as f64) as usize).max(1);
        self
    }

    /// Whether [`Self::before_forward`] broadcasts rank 0's buffers (default true, PyTorch's
    /// `broadcast_buffers`).
    ///
    /// ```
    /// # use stensor::prelude::*;
    /// # let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// # let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(0));
    /// let ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net).broadcast_buffers(false);
    /// ```
    pub fn broadcast_buffers(mut self, on: bool) -> Self {
        self.broadcast_buffers = on;
        self
    }

    /// Average across ranks only every `k` calls of [`Self::sync`], adding the gradients up
    /// locally in between (PyTorch's `no_sync` for `k - 1` steps, then a synced one).
    ///
    /// ```
    /// # use stensor::prelude::*;
    /// # let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// # let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(0));
    /// let ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net).sync_every(4);
    /// ```
    pub fn sync_every(mut self, k: usize) -> Self {
        self.sync_every = k.max(1);
        self
    }

    /// Before each forward: rank 0's buffers into every rank's `net`, when
    /// `broadcast_buffers` is on and the network has buffers.
    ///
    /// ```
    /// # use stensor::prelude::*;
    /// # let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut net = stensor::nn::BatchNorm1d::<U4>::new();
    /// let ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net);
    /// ddp.before_forward(&mut net);
    /// ```
    pub fn before_forward(&self, net: &mut impl Module) {
        if self.broadcast_buffers {
            self.pg.broadcast_tensors(net, Some(TensorKind::Buffer));
        }
    }

    /// The number of values in each bucket of the last all-reduce (largest parameters last
    /// in the network come first).
    ///
    /// ```
    /// # use stensor::prelude::*;
    /// # let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// # let mut net = stensor::nn::Linear::<U2, U2>::new(&mut Rng::seed(0));
    /// let ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net);
    /// assert!(ddp.last_buckets().is_empty());
    /// ```
    pub fn last_buckets(&self) -> &[usize] {
        &self.last_buckets
    }

    /// After `backward`: adds `grads` to what this rank has accumulated and, on every
    /// `sync_every`-th call, averages the accumulated gradients of `net`'s parameters across
    /// the ranks into `grads` and returns `true` (take the optimizer step now); `false`
    /// otherwise (`grads` unchanged, no step). A parameter without a gradient is an error.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Forward;
    /// let pg = stensor::distributed::ProcessGroup::init().unwrap();
    /// let mut net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let mut ddp = stensor::distributed::DistributedDataParallel::new(&pg, &mut net);
    /// let mut grads = net.forward(Tensor::<(U3, U2)>::ones().trace_no_grad()).sum().backward();
    /// assert!(ddp.sync(&net, &mut grads).unwrap());
    /// ```
    pub fn sync<E: Element + Equivalence, M: Module>(
        &mut self,
        net: &M,
        grads: &mut Gradients<E>,
    ) -> Result<bool, DistError> {
        let params = tensors_of::<E, M>(net, TensorKind::Parameter);
        // every gradient present on this rank, before anything is changed
        for (name, id, _) in &params {
            if id.and_then(|id| grads.by_id(id)).is_none() {
                return Err(DistError::MissingGradient { name: name.clone() });
            }
        }
        let ids: Vec<(UniqueId, usize)> = params
            .iter()
            .filter_map(|(_, id, n)| id.map(|id| (id, *n)))
            .collect();
        self.pending += 1;
        let last = self.pending == self.sync_every;
        if self.sync_every > 1 {
            for &(id, _) in &ids {
                let g = grads.by_id(id).expect("checked above");
                let acc = self
                    .accumulated
                    .entry(id)
                    .or_insert_with(|| vec![0.0; g.len()]);
                acc.iter_mut()
                    .zip(g)
                    .for_each(|(a, &v)| *a += v.to_f64().unwrap_or(f64::NAN));
            }
            if !last {
                return Ok(false);
            }
            for &(id, _) in &ids {
                let acc = self.accumulated.remove(&id).expect("accumulated above");
                let g = grads.by_id_mut(id).expect("checked above");
                g.iter_mut()
                    .zip(&acc)
                    .for_each(|(v, &a)| *v = E::from(a).expect("a gradient value"));
            }
        }
        self.pending = 0;
        self.all_reduce_mean(&ids, grads);
        Ok(true)
    }

    /// Averages the gradients of `ids` across ranks: buckets in reverse parameter order, each
    /// divided by the world size and summed by one all-reduce.
    fn all_reduce_mean<E: Element + Equivalence>(
        &mut self,
        ids: &[(UniqueId, usize)],
        grads: &mut Gradients<E>,
    ) {
        self.last_buckets.clear();
        let n = self.pg.size();
        let scale = E::from(n).expect("a rank count");
        let cap = (self.bucket_cap_bytes / std::mem::size_of::<E>()).max(1);
        let mut bucket: Vec<E> = Vec::new();
        let mut members: Vec<(UniqueId, usize)> = vec![];
        for &(id, len) in ids.iter().rev() {
            if !bucket.is_empty() && bucket.len() + len > cap {
                self.reduce_bucket(&mut bucket, &mut members, grads);
            }
            let g = grads.by_id(id).expect("checked by sync");
            bucket.extend(g.iter().map(|&v| v / scale));
            members.push((id, len));
        }
        self.reduce_bucket(&mut bucket, &mut members, grads);
    }

    /// One bucket summed across ranks and written back into the gradients it holds.
    fn reduce_bucket<E: Element + Equivalence>(
        &mut self,
        bucket: &mut Vec<E>,
        members: &mut Vec<(UniqueId, usize)>,
        grads: &mut Gradients<E>,
    ) {
        if bucket.is_empty() {
            return;
        }
        self.pg.all_reduce_sum(bucket);
        let mut at = 0;
        for &(id, len) in members.iter() {
            let g = grads.by_id_mut(id).expect("checked by sync");
            g.copy_from_slice(&bucket[at..at + len]);
            at += len;
        }
        self.last_buckets.push(bucket.len());
        bucket.clear();
        members.clear();
    }
}
