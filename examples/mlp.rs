//! The seed MLP (PyTorch's quickstart `NeuralNetwork`: Flatten, Linear(784, 512), ReLU,
//! Linear(512, 512), ReLU, Linear(512, 10)) trained on Fashion-MNIST with the quickstart's
//! recipe: SGD lr 1e-3, batch 64, 5 epochs, cross-entropy.
//!
//! ```text
//! cargo run --release --example mlp                       # the subset shipped in data/
//! cargo run --release --example mlp -- --data ../shared/data/fashion-mnist --lr 0.1
//! ```
//!
//! Options: `--data DIR`, `--epochs N`, `--batch N`, `--lr F`, `--seed N`, `--save FILE`
//! (safetensors with PyTorch's names: `linear_relu_stack.0.weight`, ...).

// Networks written as tuples of layers are long types by nature.
#![allow(clippy::type_complexity)]

#[path = "common/mod.rs"]
mod common;

use stensor::data::{ImageDataset, Split};
use stensor::nn::*;
use stensor::optim::SGD;
use stensor::prelude::*;

/// The quickstart's network, field for field (so the state dict keys match PyTorch's); the
/// derive chains the fields in order and prints every layer with its static shapes.
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U1, U28, U28)>)]
struct NeuralNetwork {
    flatten: Flatten,
    linear_relu_stack: (
        Linear<U784, U512>,
        ReLU,
        Linear<U512, U512>,
        ReLU,
        Linear<U512, U10>,
    ),
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let flags = common::Flags::parse(&[
        (
            "data",
            "folder of the Fashion-MNIST files (default: the shipped subset)",
        ),
        ("epochs", "epochs to train (default 5)"),
        ("batch", "batch size (default 64)"),
        ("lr", "learning rate (default 0.001)"),
        ("seed", "seed of the weights and the data order (default 0)"),
        ("save", "save the weights to this safetensors file"),
    ])?;
    let data = flags.get("data", "data/fashion-mnist-subset".to_string())?;
    let (epochs, batch) = (flags.get("epochs", 5usize)?, flags.get("batch", 64usize)?);
    let (lr, seed) = (flags.get("lr", 1e-3f64)?, flags.get("seed", 0u64)?);
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let train = ImageDataset::fashion_mnist(&data, Split::Train)?;
    let test = ImageDataset::fashion_mnist(&data, Split::Test)?;
    println!(
        "Fashion-MNIST from {data}: {} training and {} test images",
        train.len(),
        test.len()
    );
    let mut rng = Rng::seed(seed);
    let mut net = NeuralNetwork {
        flatten: Flatten::new(),
        linear_relu_stack: (
            Linear::new(&mut rng),
            ReLU,
            Linear::new(&mut rng),
            ReLU,
            Linear::new(&mut rng),
        ),
    };
    println!("{net}\n");
    common::fit(
        &mut net,
        &mut SGD::new(lr),
        (&train, &test),
        epochs,
        batch,
        seed,
    );
    if let Some(path) = flags.opt("save") {
        stensor::io::save(&net, &path)?;
        println!("saved the weights to {path}");
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
