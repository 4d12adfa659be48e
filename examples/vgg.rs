//! A 13-layer VGG-style network (VGG-13 with batch norm, for 3x32x32 inputs: ten 3x3
//! convolutions in five blocks, each block ending in a 2x2 max pool, then three linear
//! layers), as a derived struct whose every shape is checked at compile time. It is here to
//! keep a deep network's compile time measured (the README's build table) and runs one
//! training step on a generated batch.
//!
//! ```text
//! cargo run --release --example vgg
//! ```

// Networks written as tuples of layers are long types by nature.
#![allow(clippy::type_complexity)]

use stensor::loss::CrossEntropyLoss;
use stensor::nn::*;
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

/// Two 3x3 convolutions with batch norm and ReLU, then a 2x2 max pool.
type Block<I, O> = (
    Conv2d<I, O, U3, U1, U1>,
    BatchNorm2d<O>,
    ReLU,
    Conv2d<O, O, U3, U1, U1>,
    BatchNorm2d<O>,
    ReLU,
    MaxPool2d<U2>,
);

/// A block's layers, initialised like PyTorch's.
fn block<I: ConstDim, O: ConstDim>(rng: &mut Rng) -> Block<I, O> {
    (
        Conv2d::new(rng),
        BatchNorm2d::new(),
        ReLU,
        Conv2d::new(rng),
        BatchNorm2d::new(),
        ReLU,
        MaxPool2d::new(),
    )
}

/// VGG-13 (configuration B) with batch norm, for CIFAR-sized images.
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U3, U32, U32)>)]
struct Vgg13 {
    block1: Block<U3, U64>,
    block2: Block<U64, U128>,
    block3: Block<U128, U256>,
    block4: Block<U256, U512>,
    block5: Block<U512, U512>,
    flatten: Flatten,
    classifier: (
        Linear<U512, U512>,
        ReLU,
        Linear<U512, U512>,
        ReLU,
        Linear<U512, U10>,
    ),
}

fn main() {
    let mut rng = Rng::seed(0);
    let mut net = Vgg13 {
        block1: block(&mut rng),
        block2: block(&mut rng),
        block3: block(&mut rng),
        block4: block(&mut rng),
        block5: block(&mut rng),
        flatten: Flatten::new(),
        classifier: (
            Linear::new(&mut rng),
            ReLU,
            Linear::new(&mut rng),
            ReLU,
            Linear::new(&mut rng),
        ),
    };
    println!("{}\n", summary::<Tensor<(usize, U3, U32, U32)>, _>(&net));
    let x = Tensor::<(usize, U3, U32, U32)>::uniform_shaped(
        (8, U3::new(), U32::new(), U32::new()),
        &mut rng,
        -1.0,
        1.0,
    );
    let labels: Vec<usize> = (0..8).collect();
    let mut opt = SGD::new(0.01);
    for step in 0..3 {
        let logits = net.forward(x.clone().trace_no_grad());
        let loss = CrossEntropyLoss::default().forward(logits, &labels);
        let grads = loss.backward();
        opt.step(&mut net, &grads);
        println!("step {step}: loss {:.4}", loss.item());
    }
}
