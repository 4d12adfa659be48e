//! Data-parallel training over MPI, proved on the seed LeNet: run under
//! `mpirun -np 2` (`tests/ddp.sh` builds and runs it; alone it is a world of one and checks the
//! same things trivially). Each rank also computes the one-process reference itself.
//!
//! - 2 ranks with half a batch each end, after 20 steps of SGD with momentum (lr 0.1), with the
//!   parameters of 1 process with the whole batch (within 1e-5 relative), and the ranks'
//!   parameters are bit-identical; the same with Adam.
//! - Every rank starts from rank 0's weights whatever its seed.
//! - `sync_every(2)` adds two steps' gradients up locally and averages them on the second call.
//! - Buffers (batch norm's running statistics) follow rank 0 before each forward.
//! - With `SyncBatchNorm` in place of `BatchNorm2d`, 2 ranks with half a batch each end, after
//!   20 steps, with the parameters and running statistics of 1 process with the whole batch and
//!   `BatchNorm2d` (within 1e-5 relative), bit-identical on both ranks.
//! - A parameter without a gradient is an error on the rank that lacks it.
//! - The sampler's shards partition the epoch.
//!
//! A test without the harness: `main` runs the checks in order on every rank (MPI is
//! initialised once per process) and ends with `N passed, 0 failed`.

#[allow(dead_code, unused_imports)]
#[path = "../examples/lenet.rs"]
mod lenet;

use lenet::LeNet;
use stensor::autograd::Tape;
use stensor::data::{DistributedSampler, ImageDataset, Split};
use stensor::distributed::{DistError, DistributedDataParallel, ProcessGroup};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Forward, Linear, Module, ReLU, SyncBatchNorm,
    TensorKind,
};
use stensor::optim::{Adam, Optimizer, SGD};
use stensor::prelude::*;
use stensor::tensor::{Values, ValuesMut};

const BATCH: usize = 32;
const STEPS: usize = 20;

/// Every value of `net`'s tensors of `kind` (f32 ones), in order.
fn values_of(net: &impl Module, kind: TensorKind) -> Vec<f32> {
    let mut out = vec![];
    net.visit("", &mut |_, t| {
        if let (true, Values::F32(v)) = (t.kind == kind, &t.values) {
            out.extend_from_slice(v);
        }
    });
    out
}

/// Every parameter value of `net`, in order.
fn params(net: &impl Module) -> Vec<f32> {
    values_of(net, TensorKind::Parameter)
}

/// The largest difference between `a` and `b` relative to `b`'s largest magnitude.
fn worst_relative(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x - y).abs() / scale)
        .fold(0.0, f64::max)
}

/// Whether this rank's `values` equal rank 0's bit for bit.
fn same_as_root(pg: &ProcessGroup, values: &[f32]) -> bool {
    let mut root = values.to_vec();
    pg.broadcast(&mut root);
    root.iter()
        .zip(values)
        .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A small network with batch norm `N` after its convolution.
type BnNet<N> = (Conv2d<U1, U4, U5, U2>, N, ReLU, Flatten, Linear<U576, U10>);
type Input = Tensor<(usize, U1, U28, U28), f32, Tape<f32>>;

/// The gradients of the mean cross-entropy of `net` on the examples `idx` of `data`.
fn bn_grads<M>(net: &M, data: &ImageDataset<U1, U28, U28>, idx: &[usize]) -> Gradients<f32>
where
    M: Forward<Input, Output = Tensor<(usize, U10), f32, Tape<f32>>>,
{
    let (x, y) = data.batches_in(idx, idx.len()).unwrap().next().unwrap();
    CrossEntropyLoss::default()
        .forward(net.forward(x.trace_no_grad()), &y)
        .backward()
}

/// `STEPS` SGD-with-momentum steps of a batch-norm network: one process with `BatchNorm2d` on
/// the whole batch, and this rank with `SyncBatchNorm` on its share. Returns the largest
/// relative differences of the parameters and of the running statistics, and whether both
/// equal rank 0's bit for bit.
fn train_sync_bn(pg: &ProcessGroup, data: &ImageDataset<U1, U28, U28>) -> (f64, f64, bool) {
    let rank = pg.rank();
    let make = |seed: u64| -> BnNet<BatchNorm2d<U4>> {
        let mut rng = Rng::seed(seed);
        let conv = Conv2d::new(&mut rng);
        (
            conv,
            BatchNorm2d::new(),
            ReLU,
            Flatten::new(),
            Linear::new(&mut rng),
        )
    };
    let mut reference = make(3);
    let (c, bn, a, f, l) = make(3 + rank as u64 * 1000);
    let mut net = (c, SyncBatchNorm::from(bn), a, f, l);
    let sgd = || SGD::new(0.1).with_momentum(0.9);
    let plain = |n: &BnNet<BatchNorm2d<U4>>, idx: &[usize]| bn_grads(n, data, idx);
    let synced = |n: &BnNet<SyncBatchNorm<U4>>, idx: &[usize]| bn_grads(n, data, idx);
    run_steps(
        pg,
        (&mut reference, sgd(), plain),
        (&mut net, sgd(), synced),
    );
    let (p, b) = (params(&net), values_of(&net, TensorKind::Buffer));
    let worst_p = worst_relative(&p, &params(&reference));
    let worst_b = worst_relative(&b, &values_of(&reference, TensorKind::Buffer));
    (
        worst_p,
        worst_b,
        same_as_root(pg, &p) && same_as_root(pg, &b),
    )
}

/// `STEPS` steps of each of two networks, each with its optimizer and its gradients on given
/// examples: the reference on the whole batch in this process, and `net`, wrapped in
/// `DistributedDataParallel`, on this rank's share of it.
fn run_steps<R: Module, N: Module>(
    pg: &ProcessGroup,
    (reference, mut ref_opt, ref_grads): (
        &mut R,
        impl Optimizer<f32>,
        impl Fn(&R, &[usize]) -> Gradients<f32>,
    ),
    (net, mut opt, net_grads): (
        &mut N,
        impl Optimizer<f32>,
        impl Fn(&N, &[usize]) -> Gradients<f32>,
    ),
) {
    let per = BATCH / pg.size();
    let mine = pg.rank() * per..(pg.rank() + 1) * per;
    let mut ddp = DistributedDataParallel::new(pg, net);
    for step in 0..STEPS {
        let batch: Vec<usize> = (step * BATCH..(step + 1) * BATCH).collect();
        let g = ref_grads(reference, &batch);
        ref_opt.step(reference, &g);
        ddp.before_forward(net);
        let mut g = net_grads(net, &batch[mine.clone()]);
        assert!(ddp.sync(net, &mut g).unwrap());
        opt.step(net, &g);
    }
}

/// One SGD/Adam step of `net` on the examples `idx` of `data` (mean cross-entropy).
fn grads_on(net: &LeNet, data: &ImageDataset<U1, U28, U28>, idx: &[usize]) -> Gradients<f32> {
    let (x, y) = data.batches_in(idx, idx.len()).unwrap().next().unwrap();
    CrossEntropyLoss::default()
        .forward(net.forward(x.trace_no_grad()), &y)
        .backward()
}

/// `STEPS` steps with `opt`: the reference on the whole batch in this process, and the
/// data-parallel run on this rank's share of it. Returns the largest relative difference and
/// whether this rank's parameters equal rank 0's bit for bit.
fn train_both<O: Optimizer<f32>>(
    pg: &ProcessGroup,
    data: &ImageDataset<U1, U28, U28>,
    make: impl Fn() -> O,
) -> (f64, bool) {
    let rank = pg.rank();
    let mut reference = LeNet::new(7);
    // every rank starts from its own seed: the wrapper must make them equal
    let mut net = LeNet::new(7 + rank as u64 * 1000);
    let grads = |n: &LeNet, idx: &[usize]| grads_on(n, data, idx);
    run_steps(
        pg,
        (&mut reference, make(), grads),
        (&mut net, make(), grads),
    );
    let a = params(&net);
    (
        worst_relative(&a, &params(&reference)),
        same_as_root(pg, &a),
    )
}

struct Report {
    passed: usize,
    failed: usize,
    rank: usize,
}

impl Report {
    fn check(&mut self, what: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        if self.rank == 0 || !ok {
            println!(
                "{} rank {}: {what} {detail}",
                if ok { "ok  " } else { "FAIL" },
                self.rank
            );
        }
    }
}

fn main() {
    let pg = ProcessGroup::init().unwrap();
    let mut r = Report {
        passed: 0,
        failed: 0,
        rank: pg.rank(),
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/fashion-mnist-subset");
    let data = ImageDataset::fashion_mnist(dir, Split::Train)
        .unwrap()
        .take(BATCH * STEPS);

    // the ranks start equal whatever their seeds
    let mut net = LeNet::new(100 + pg.rank() as u64);
    let _ddp = DistributedDataParallel::new(&pg, &mut net);
    let mut root = params(&net);
    pg.broadcast(&mut root);
    r.check(
        "rank 0's weights everywhere at the start",
        root == params(&net),
        String::new(),
    );

    let (worst, same) = train_both(&pg, &data, || SGD::new(0.1).with_momentum(0.9));
    r.check(
        "SGD momentum: 2 ranks x B/2 == 1 process x B",
        worst <= 1e-5,
        format!("(largest relative difference {worst:.2e})"),
    );
    r.check("SGD momentum: ranks bit-identical", same, String::new());
    let (worst, same) = train_both(&pg, &data, || Adam::new(0.001));
    r.check(
        "Adam: 2 ranks x B/2 == 1 process x B",
        worst <= 1e-5,
        format!("(largest relative difference {worst:.2e})"),
    );
    r.check("Adam: ranks bit-identical", same, String::new());

    let (worst_p, worst_b, same) = train_sync_bn(&pg, &data);
    r.check(
        "SyncBatchNorm: 2 ranks x B/2 == 1 process x B with BatchNorm2d",
        worst_p <= 1e-5 && worst_b <= 1e-5,
        format!("(parameters {worst_p:.2e}, running statistics {worst_b:.2e})"),
    );
    r.check("SyncBatchNorm: ranks bit-identical", same, String::new());

    // sync_every(2): the first call keeps the gradients local, the second averages their sum
    let mut fc = Linear::<U3, U2>::new(&mut Rng::seed(1));
    let mut ddp = DistributedDataParallel::new(&pg, &mut fc).sync_every(2);
    let grads = |seed: u64| {
        let x = Tensor::<(U4, U3)>::rand_uniform(seed, -1.0, 1.0);
        fc.forward(x.trace_no_grad()).square().sum().backward()
    };
    let rank = pg.rank() as u64;
    let mut g1 = grads(10 + rank);
    let before = g1.by_id(fc.weight.id()).unwrap().to_vec();
    let first = ddp.sync(&fc, &mut g1).unwrap();
    r.check(
        "sync_every(2): no step after the first call",
        !first && g1.by_id(fc.weight.id()).unwrap() == &before[..],
        String::new(),
    );
    let mut g2 = grads(20 + rank);
    let mut want: Vec<f32> = before
        .iter()
        .zip(g2.by_id(fc.weight.id()).unwrap())
        .map(|(a, b)| (a + b) / pg.size() as f32)
        .collect();
    pg.all_reduce_sum(&mut want);
    let second = ddp.sync(&fc, &mut g2).unwrap();
    let got = g2.by_id(fc.weight.id()).unwrap();
    let close = got
        .iter()
        .zip(&want)
        .all(|(a, b)| (a - b).abs() <= 1e-6 * b.abs().max(1.0));
    r.check(
        "sync_every(2): the second call averages the sum",
        second && close,
        String::new(),
    );

    // buffers follow rank 0 before each forward: all of them, of both element types
    let mut bn = BatchNorm1d::<U3>::new();
    let ddp = DistributedDataParallel::new(&pg, &mut bn);
    let mark = pg.rank() as f32 + 1.0;
    bn.visit_mut("", &mut |name, t| match (name, t.values) {
        ("running_mean", ValuesMut::F32(v)) => v.fill(mark),
        ("running_var", ValuesMut::F32(v)) => v.fill(10.0 * mark),
        ("num_batches_tracked", ValuesMut::I64(v)) => v.fill(100 * mark as i64),
        _ => {}
    });
    ddp.before_forward(&mut bn);
    let (mut mean, mut var, mut count) = (vec![], vec![], vec![]);
    bn.visit("", &mut |name, t| match (name, &t.values) {
        ("running_mean", Values::F32(v)) => mean = v.to_vec(),
        ("running_var", Values::F32(v)) => var = v.to_vec(),
        ("num_batches_tracked", Values::I64(v)) => count = v.to_vec(),
        _ => {}
    });
    r.check(
        "buffers broadcast from rank 0",
        mean == [1.0; 3] && var == [10.0; 3] && count == [100],
        format!("{mean:?} {var:?} {count:?}"),
    );

    // a parameter without a gradient is an error naming it
    let unused = Linear::<U3, U2>::new(&mut Rng::seed(2));
    let mut fc2 = (Linear::<U3, U2>::new(&mut Rng::seed(3)), unused);
    let mut ddp = DistributedDataParallel::new(&pg, &mut fc2);
    let mut g = fc2
        .0
        .forward(Tensor::<(U1, U3)>::ones().trace_no_grad())
        .sum()
        .backward();
    let err = ddp.sync(&fc2, &mut g).unwrap_err();
    r.check(
        "a missing gradient is an error naming the parameter",
        err == DistError::MissingGradient {
            name: "1.weight".into(),
        },
        format!("{err}"),
    );

    // the sampler's shards partition an epoch
    let len = 1001;
    let mut counts = vec![0i64; len];
    let mut s = DistributedSampler::new(len, pg.size(), pg.rank())
        .unwrap()
        .seed(5);
    s.set_epoch(3);
    for i in s.indices() {
        counts[i] += 1;
    }
    pg.all_reduce_sum(&mut counts);
    let total: i64 = counts.iter().sum();
    r.check(
        "sampler shards cover the epoch, padded to equal shares",
        counts.iter().all(|&c| c >= 1) && total as usize == len.div_ceil(pg.size()) * pg.size(),
        String::new(),
    );

    let mut tally = [r.passed as i64, r.failed as i64];
    pg.all_reduce_sum(&mut tally);
    if pg.is_root() {
        println!("ranks {}", pg.size());
        println!("ddp: {} passed, {} failed", tally[0], tally[1]);
    }
    pg.barrier();
    if tally[1] > 0 {
        std::process::exit(1);
    }
}
