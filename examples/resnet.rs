//! Trains the CIFAR ResNet-20 (He et al. 2016, section 4.2) written as a torchvision user
//! writes ResNets (`benches/workloads/resnet20.rs`, shared with workload W9): a `BasicBlock`
//! derived as a residual block, generic over its channels and stride with no bound written,
//! three stages of three blocks, global average pooling and `fc`, with torchvision's
//! state-dict names (`layer2.0.downsample.0.weight`). Trains on CIFAR-10's binary files with
//! `--data DIR`, otherwise on generated images (and says so).
//!
//! ```text
//! cargo run --release --example resnet
//! cargo run --release --example resnet -- --data ~/data/cifar-10-batches-bin --epochs 10
//! ```
//!
//! Options: `--data DIR`, `--epochs N`, `--batch N`, `--lr F`, `--seed N`, `--save FILE` (the
//! trained weights as safetensors, loadable into the torchvision-style PyTorch model with
//! `model.load_state_dict(safetensors.torch.load_file(FILE))`).

#[path = "common/mod.rs"]
mod common;
#[path = "../benches/workloads/resnet20.rs"]
mod resnet20;

use resnet20::ResNet20;
use stensor::nn::*;
use stensor::optim::SGD;
use stensor::prelude::*;

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, training) = common::parse(
        &[
            (
                "data",
                "folder of CIFAR-10's binary files (default: generated images)",
            ),
            ("save", "write the trained weights to this safetensors file"),
        ],
        (3, 64, 0.05, 0),
    )?;
    let (_, _, lr, seed) = training;
    let mut net = ResNet20::new(&mut Rng::seed(seed));
    println!("{net}\n");
    println!("{}\n", summary::<Tensor<(usize, U3, U32, U32)>, _>(&net));
    let (train, test) = common::cifar10_or_generated(&flags, (1000, 250), seed)?;
    let opt = &mut SGD::new(lr).with_momentum(0.9).with_weight_decay(1e-4);
    common::fit(&mut net, opt, (&train, &test), training);
    if let Some(path) = flags.opt("save") {
        stensor::io::save(&net, &path)?;
        println!(
            "saved {} tensors to {path}",
            net.named_parameters().len() + net.named_buffers().len()
        );
        // as a service would: the network built straight from the file, no Rng
        let mut served: ResNet20 = stensor::io::load_new(&path)?;
        net.eval();
        served.eval();
        let x = Tensor::<(U4, U3, U32, U32)>::rand_uniform(seed, -1.0, 1.0);
        let same = served.forward(x.clone()).to_vec() == net.forward(x).to_vec();
        println!("rebuilt from {path} alone: the same logits: {same}");
    }
    Ok(())
}

fn main() {
    common::main_with(run);
}
