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

use stensor::nn::*;
use stensor::optim::SGD;
use stensor::prelude::*;

/// The quickstart's network, field for field (so the state dict keys match PyTorch's); the
/// derive chains the fields in order and prints every layer with its static shapes.
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U1, U28, U28)>)]
pub struct NeuralNetwork {
    pub flatten: Flatten,
    pub linear_relu_stack: (
        Linear<U784, U512>,
        ReLU,
        Linear<U512, U512>,
        ReLU,
        Linear<U512, U10>,
    ),
}

impl NeuralNetwork {
    /// PyTorch's default initialisation from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
        NeuralNetwork {
            flatten: Flatten::new(),
            linear_relu_stack: (
                Linear::new(rng),
                ReLU,
                Linear::new(rng),
                ReLU,
                Linear::new(rng),
            ),
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, training) = common::parse(
        &[
            (
                "data",
                "folder of the Fashion-MNIST files (default: the shipped subset)",
            ),
            ("save", "save the weights to this safetensors file"),
        ],
        (5, 64, 1e-3, 0),
    )?;
    let (_, _, lr, seed) = training;
    let (_, train, test) = common::fashion_mnist(&flags)?;
    let mut net = NeuralNetwork::new(&mut Rng::seed(seed));
    println!("{net}\n");
    common::fit(&mut net, &mut SGD::new(lr), (&train, &test), training);
    common::save_if_asked(&flags, &net)
}

fn main() {
    common::main_with(run);
}
