//! The seed's CIFAR-10 network both ways: field by field with a hand-written `forward`
//! (`MYNN`) and as a Sequential (`MYNN2`). Prints both model trees with every layer's static
//! shapes, the seed notes' layer / input size / output size table, then trains `MYNN2` (SGD
//! lr 0.01, batch 64, cross-entropy) on CIFAR-10's binary files when `--data DIR` is given,
//! otherwise on generated images (and says so).
//!
//! Seed 002's TensorBoard log, into `--logdir` (default `runs/cifar_net`): the first batches of
//! test images (`add_images("input", imgs, step)`), their `Conv2d(3, 6, 3)` outputs reshaped to
//! three channels (`torch.reshape(output, (-1, 3, 30, 30))`, logged as `"output"`), `MYNN2`'s
//! graph with every edge's static shape (`add_graph`), and the training curves. Then
//! `tensorboard --logdir runs/cifar_net`.
//!
//! ```text
//! cargo run --release --example cifar_net
//! cargo run --release --example cifar_net -- --data ~/data/cifar-10-batches-bin --epochs 10
//! ```
//!
//! Options: `--data DIR` (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`; from
//! <https://www.cs.toronto.edu/~kriz/cifar.html>, the binary version), `--epochs N`,
//! `--batch N`, `--lr F`, `--seed N`, `--logdir DIR`, `--image-steps N` (batches of images
//! logged, default 8).

// Networks written as tuples of layers are long types by nature.
#![allow(clippy::type_complexity)]

#[path = "common/mod.rs"]
mod common;

use stensor::data::ImageDataset;
use stensor::nn::*;
use stensor::optim::SGD;
use stensor::prelude::*;
use stensor::tensorboard::SummaryWriter;

/// `MYNN`: one field per layer, `forward` written by hand in their order (`chain` gives it
/// the shape table and the printout with shapes).
#[derive(Module)]
#[module(chain, input = Tensor<(usize, U3, U32, U32)>)]
pub struct Mynn {
    conv1: Conv2d<U3, U32, U5, U1, U2>,
    maxpool1: MaxPool2d<U2>,
    conv2: Conv2d<U32, U32, U5, U1, U2>,
    maxpool2: MaxPool2d<U2>,
    conv3: Conv2d<U32, U64, U5, U1, U2>,
    maxpool3: MaxPool2d<U2>,
    flatten: Flatten,
    linear1: Linear<U1024, U64>,
    linear2: Linear<U64, U10>,
}

impl Mynn {
    pub fn new(rng: &mut Rng) -> Self {
        Mynn {
            conv1: Conv2d::new(rng),
            maxpool1: MaxPool2d::new(),
            conv2: Conv2d::new(rng),
            maxpool2: MaxPool2d::new(),
            conv3: Conv2d::new(rng),
            maxpool3: MaxPool2d::new(),
            flatten: Flatten::new(),
            linear1: Linear::new(rng),
            linear2: Linear::new(rng),
        }
    }

    /// Each intermediate type is inferred (and checked) by the compiler.
    pub fn forward<B: Dim, T: TapeMode<f32>>(
        &self,
        x: Tensor<(B, U3, U32, U32), f32, T>,
    ) -> Tensor<(B, U10), f32, T> {
        let x = self.maxpool1.forward(self.conv1.forward(x));
        let x = self.maxpool2.forward(self.conv2.forward(x));
        let x = self.maxpool3.forward(self.conv3.forward(x));
        self.linear2
            .forward(self.linear1.forward(self.flatten.forward(x)))
    }
}

/// `MYNN2`: the same layers as one `nn.Sequential` field (`model1.0.weight`, ...).
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U3, U32, U32)>)]
pub struct Mynn2 {
    pub model1: (
        Conv2d<U3, U32, U5, U1, U2>,
        MaxPool2d<U2>,
        Conv2d<U32, U32, U5, U1, U2>,
        MaxPool2d<U2>,
        Conv2d<U32, U64, U5, U1, U2>,
        MaxPool2d<U2>,
        Flatten,
        Linear<U1024, U64>,
        Linear<U64, U10>,
    ),
}

impl Mynn2 {
    pub fn new(rng: &mut Rng) -> Self {
        Mynn2 {
            model1: (
                Conv2d::new(rng),
                MaxPool2d::new(),
                Conv2d::new(rng),
                MaxPool2d::new(),
                Conv2d::new(rng),
                MaxPool2d::new(),
                Flatten::new(),
                Linear::new(rng),
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
                "folder of CIFAR-10's binary files (default: generated images)",
            ),
            ("logdir", "TensorBoard log folder (default runs/cifar_net)"),
            ("image-steps", "batches of images logged (default 8)"),
        ],
        (5, 64, 0.01, 0),
    )?;
    let (_, _, lr, seed) = training;
    let mut rng = Rng::seed(seed);
    let mynn = Mynn::new(&mut rng);
    println!("{mynn}\n");
    let probe = mynn.forward(Tensor::<(U1, U3, U32, U32)>::zeros());
    println!(
        "MYNN on one 3x32x32 image gives logits of shape {:?}\n",
        probe.dims()
    );

    let mut net = Mynn2::new(&mut rng);
    println!("{net}\n");
    println!("{}\n", summary::<Tensor<(usize, U3, U32, U32)>, _>(&net));

    let (train, test) = common::cifar10_or_generated(&flags, (2000, 500), seed)?;
    let mut board = common::Board::from_flags(&flags, "cifar_net")?;
    if let Some(w) = board.writer() {
        w.add_graph::<Tensor<(usize, U3, U32, U32)>, _>(&net);
        w.add_text(
            "config",
            &format!(
                "SGD, lr {lr}, batch {}, {} epochs, seed {seed}",
                training.1, training.0
            ),
            0,
        );
        w.add_parameter_histograms(&net, 0);
        let conv = Conv2d::<U3, U6, U3>::new(&mut rng);
        log_images(w, &conv, &test, flags.get("image-steps", 8)?)?;
    }
    let first = 1;
    common::fit_from(
        &mut net,
        &mut SGD::new(lr),
        (&train, &test),
        training,
        first,
        &mut board,
        |_, _, _| Ok(()),
    )?;
    if let Some(w) = board.writer() {
        w.add_parameter_histograms(&net, training.0 as u64);
        w.flush()?;
    }
    Ok(())
}

/// Seed 002: for the first `steps` batches of 64 test images, the images and their
/// `Conv2d(3, 6, 3)` outputs, six channels of 30x30 read as two three-channel pictures each.
fn log_images(
    w: &mut SummaryWriter,
    conv: &Conv2d<U3, U6, U3>,
    test: &ImageDataset<U3, U32, U32>,
    steps: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut logged = 0;
    for (step, (imgs, _)) in test.batches_of(64).take(steps).enumerate() {
        let output = conv.forward(imgs.clone());
        let b = output.dims()[0];
        // torch.reshape(output, (-1, 3, 30, 30))
        let output = Tensor::<(usize, U3, U30, U30)>::from_vec_shaped(
            (2 * b, U3::new(), U30::new(), U30::new()),
            output.to_vec(),
        )?;
        w.add_images("input", &imgs, step as u64);
        w.add_images("output", &output, step as u64);
        logged += 1;
    }
    w.flush()?;
    println!("logged {logged} batches of input and conv-output images");
    Ok(())
}

fn main() {
    common::main_with(run);
}
