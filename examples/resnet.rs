//! The CIFAR ResNet-20 (He et al. 2016, section 4.2) written as a torchvision user writes
//! ResNets: a `BasicBlock` derived as a residual block, generic over its channels and stride
//! with no bound written, three stages of three blocks (16, 32, 64 channels; stages 2 and 3
//! start with a stride-2 block whose `downsample` projects the shortcut), then global average
//! pooling and `fc`. The state-dict names are torchvision's (`layer2.0.downsample.0.weight`),
//! and a shape error in a block reports its rule at the field that breaks it. Trains on
//! CIFAR-10's binary files with `--data DIR`, otherwise on generated images (and says so).
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

use stensor::data::{ImageDataset, Split};
use stensor::nn::*;
use stensor::optim::SGD;
use stensor::prelude::*;

/// torchvision's `BasicBlock(inplanes, planes, stride, downsample)`, field for field: `relu`
/// runs after `bn1` and again after the sum.
#[derive(Module)]
#[module(residual(then = relu))]
struct BasicBlock<I: ConstDim, O: ConstDim, S = U1, D = NoShortcut> {
    conv1: Conv2d<I, O, U3, S, U1>,
    bn1: BatchNorm2d<O>,
    relu: ReLU,
    conv2: Conv2d<O, O, U3, U1, U1>,
    bn2: BatchNorm2d<O>,
    #[module(shortcut)]
    downsample: D,
}

/// The projection of a stage's first block: a strided 1x1 convolution and a batch norm.
type Downsample<I, O> = (Conv2d<I, O, U1, U2>, BatchNorm2d<O>);

impl<I: ConstDim, O: ConstDim, S, D> BasicBlock<I, O, S, D> {
    fn new(downsample: D, rng: &mut Rng) -> Self {
        BasicBlock {
            conv1: Conv2d::without_bias(rng),
            bn1: BatchNorm2d::new(),
            relu: ReLU,
            conv2: Conv2d::without_bias(rng),
            bn2: BatchNorm2d::new(),
            downsample,
        }
    }
}

type Stage1 = (
    BasicBlock<U16, U16>,
    BasicBlock<U16, U16>,
    BasicBlock<U16, U16>,
);
type Stage<I, O> = (
    BasicBlock<I, O, U2, Downsample<I, O>>,
    BasicBlock<O, O>,
    BasicBlock<O, O>,
);

/// ResNet-20 for 3x32x32 images.
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U3, U32, U32)>)]
struct ResNet20 {
    conv1: Conv2d<U3, U16, U3, U1, U1>,
    bn1: BatchNorm2d<U16>,
    relu: ReLU,
    layer1: Stage1,
    layer2: Stage<U16, U32>,
    layer3: Stage<U32, U64>,
    avgpool: AdaptiveAvgPool2d<U1>,
    flatten: Flatten,
    fc: Linear<U64, U10>,
}

fn stage<I: ConstDim, O: ConstDim>(rng: &mut Rng) -> Stage<I, O> {
    let down = (Conv2d::without_bias(rng), BatchNorm2d::new());
    (
        BasicBlock::new(down, rng),
        BasicBlock::new(NoShortcut, rng),
        BasicBlock::new(NoShortcut, rng),
    )
}

impl ResNet20 {
    fn new(rng: &mut Rng) -> Self {
        ResNet20 {
            conv1: Conv2d::without_bias(rng),
            bn1: BatchNorm2d::new(),
            relu: ReLU,
            layer1: (
                BasicBlock::new(NoShortcut, rng),
                BasicBlock::new(NoShortcut, rng),
                BasicBlock::new(NoShortcut, rng),
            ),
            layer2: stage(rng),
            layer3: stage(rng),
            avgpool: AdaptiveAvgPool2d::new(),
            flatten: Flatten::new(),
            fc: Linear::new(rng),
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
            ("save", "write the trained weights to this safetensors file"),
        ],
        (3, 64, 0.05, 0),
    )?;
    let (_, _, lr, seed) = training;
    let mut net = ResNet20::new(&mut Rng::seed(seed));
    println!("{net}\n");
    println!("{}\n", summary::<Tensor<(usize, U3, U32, U32)>, _>(&net));
    let (train, test) = match flags.opt("data") {
        Some(dir) => (
            ImageDataset::cifar10(&dir, Split::Train)?,
            ImageDataset::cifar10(&dir, Split::Test)?,
        ),
        None => {
            let sets = (
                common::generated(1000, seed + 100)?,
                common::generated(250, seed + 200)?,
            );
            println!(
                "no --data given: training on {} GENERATED images (coloured squares, not \
                 CIFAR-10), testing on {} more",
                sets.0.len(),
                sets.1.len()
            );
            sets
        }
    };
    let opt = &mut SGD::new(lr).with_momentum(0.9).with_weight_decay(1e-4);
    common::fit(&mut net, opt, (&train, &test), training);
    if let Some(path) = flags.opt("save") {
        stensor::io::save(&net, &path)?;
        println!(
            "saved {} tensors to {path}",
            net.named_parameters().len() + net.named_buffers().len()
        );
    }
    Ok(())
}

fn main() {
    common::main_with(run);
}
