//! The seed LeNet trained across processes with MPI: data-parallel, each rank its shard of
//! every epoch ([`DistributedSampler`]) and its share of every batch, gradients averaged before
//! each step ([`DistributedDataParallel`]). Rank 0 prints, evaluates and saves.
//!
//! ```text
//! cargo build --release --features mpi --example lenet_ddp
//! mpirun -np 2 target/release/examples/lenet_ddp                       # the shipped subset
//! mpirun -np 2 target/release/examples/lenet_ddp --data ../shared/data/fashion-mnist
//! mpirun -np 4 --hostfile hosts target/release/examples/lenet_ddp --data /shared/fashion-mnist
//! ```
//!
//! (As root in a container, `mpirun` wants `--allow-run-as-root`, and `--oversubscribe` for
//! more ranks than cores.) The recipes are the LeNet example's: with `--data`, the seed's (SGD,
//! lr 0.9, a global batch of 256: 128 per rank on 2 ranks); on the shipped subset, Adam, lr
//! 0.005, a global batch of 16. Each epoch's line gives the mean loss over all ranks, the test
//! accuracy, the examples per second of the whole job and the share of the step time spent
//! averaging gradients.
//!
//! Options: `--data DIR`, `--epochs N` (10), `--batch N` (global), `--lr F`, `--seed N` (4),
//! `--save FILE.safetensors` (rank 0 writes it).

#[allow(dead_code, unused_imports)]
#[path = "lenet.rs"]
mod lenet;

use lenet::LeNet;
use std::time::Instant;
use stensor::data::{count_correct, DistributedSampler, ImageDataset, Split};
use stensor::distributed::{DistributedDataParallel, ProcessGroup};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::Forward;
use stensor::optim::{Adam, Optimizer, SGD};
use stensor::prelude::*;

fn main() {
    let pg = match ProcessGroup::init() {
        Ok(pg) => pg,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(&pg) {
        eprintln!("error on rank {}: {e}", pg.rank());
        std::process::exit(1);
    }
}

fn run(pg: &ProcessGroup) -> Result<(), Box<dyn std::error::Error>> {
    let flags = lenet::common::Flags::parse(&[
        (
            "data",
            "folder of the Fashion-MNIST files (default: the shipped subset)",
        ),
        ("epochs", "epochs (default 10)"),
        (
            "batch",
            "global batch size, shared by the ranks (default: the recipe's)",
        ),
        ("lr", "learning rate (default: the recipe's)"),
        ("seed", "seed of the weights and the shuffling (default 4)"),
        ("save", "rank 0 saves the weights to this safetensors file"),
    ])?;
    let full = flags.opt("data");
    let dir = full
        .clone()
        .unwrap_or_else(|| lenet::common::SUBSET.to_string());
    let train = ImageDataset::fashion_mnist(&dir, Split::Train)?;
    let test = ImageDataset::fashion_mnist(&dir, Split::Test)?;
    let (batch, lr) = if full.is_some() {
        (256, 0.9)
    } else {
        (16, 0.005)
    };
    let batch: usize = flags.get("batch", batch)?;
    let lr: f64 = flags.get("lr", lr)?;
    let epochs: usize = flags.get("epochs", 10)?;
    let seed: u64 = flags.get("seed", 4)?;
    if batch == 0 || !batch.is_multiple_of(pg.size()) {
        return Err(format!(
            "--batch {batch} does not split evenly over {} ranks",
            pg.size()
        )
        .into());
    }
    let per_rank = batch / pg.size();
    pg.on_root(|| {
        println!("{}", stensor::cpu_info());
        println!(
            "{} ranks, {} threads each; {dir}: {} training and {} test images; global batch \
             {batch} ({per_rank} per rank), lr {lr}, {}",
            pg.size(),
            rayon::current_num_threads(),
            train.len(),
            test.len(),
            if full.is_some() {
                "SGD (the seed's recipe)"
            } else {
                "Adam (the subset recipe)"
            }
        )
    });
    // each rank builds its own network; the wrapper starts all from rank 0's
    let mut net = LeNet::new(seed);
    let mut ddp = DistributedDataParallel::new(pg, &mut net);
    let (sets, run) = ((&train, &test), (epochs, per_rank, seed));
    if full.is_some() {
        train_ranks(pg, &mut net, &mut ddp, SGD::new(lr), sets, run)?;
    } else {
        train_ranks(pg, &mut net, &mut ddp, Adam::new(lr), sets, run)?;
    }
    if let Some(path) = flags.opt("save") {
        pg.on_root(|| stensor::io::save(&net, &path)).transpose()?;
        pg.barrier();
        pg.on_root(|| println!("saved the weights to {path}"));
    }
    Ok(())
}

#[allow(clippy::type_complexity)]
fn train_ranks<O: Optimizer<f32>>(
    pg: &ProcessGroup,
    net: &mut LeNet,
    ddp: &mut DistributedDataParallel<'_>,
    mut opt: O,
    (train, test): (&ImageDataset<U1, U28, U28>, &ImageDataset<U1, U28, U28>),
    (epochs, per_rank, seed): (usize, usize, u64),
) -> Result<(), Box<dyn std::error::Error>> {
    let loss_fn = CrossEntropyLoss::default();
    let mut sampler = DistributedSampler::new(train.len(), pg.size(), pg.rank())?.seed(seed);
    let start = Instant::now();
    let mut acc = 0.0;
    for epoch in 1..=epochs {
        sampler.set_epoch(epoch as u64);
        let t0 = Instant::now();
        let (mut comm, mut loss_sum, mut seen) = (0.0f64, 0.0f64, 0usize);
        // every rank takes the same number of full batches, so all reach each all-reduce
        for (x, y) in train
            .batches_in(&sampler.indices(), per_rank)?
            .drop_last(true)
        {
            ddp.before_forward(net);
            let loss = loss_fn.forward(net.forward(x.trace_no_grad()), &y);
            let mut grads = loss.backward();
            let c0 = Instant::now();
            let step = ddp.sync(&*net, &mut grads)?;
            comm += c0.elapsed().as_secs_f64();
            if step {
                opt.step(net, &grads);
            }
            loss_sum += f64::from(loss.item()) * y.len() as f64;
            seen += y.len();
        }
        let secs = t0.elapsed().as_secs_f64();
        let mut totals = [loss_sum, seen as f64, comm];
        pg.all_reduce_sum(&mut totals);
        if pg.is_root() {
            let correct: usize = test
                .batches_of(500)
                .map(|(x, y)| count_correct(&net.forward(x), &y))
                .sum();
            acc = correct as f64 / test.len() as f64;
            println!(
                "epoch {epoch:>2}: loss {:.3}, test acc {acc:.3}, {:.0} examples/s, {:.1}% of the \
                 step time averaging gradients",
                totals[0] / totals[1],
                totals[1] / secs,
                100.0 * totals[2] / pg.size() as f64 / secs
            );
        }
        pg.barrier();
    }
    pg.on_root(|| {
        println!(
            "test acc {acc:.3}; {epochs} epochs in {:.1} s on {} ranks",
            start.elapsed().as_secs_f64(),
            pg.size()
        )
    });
    Ok(())
}
