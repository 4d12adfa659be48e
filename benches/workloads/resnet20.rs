//! The CIFAR ResNet-20 (He et al. 2016, section 4.2) as a torchvision user writes ResNets: a
//! `BasicBlock` derived as a residual block, generic over its channels and stride with no bound
//! written; three stages of three blocks (16, 32, 64 channels; stages 2 and 3 start with a
//! stride-2 block whose `downsample` projects the shortcut); global average pooling and `fc`.
//! Its state-dict names are torchvision's (`layer2.0.downsample.0.weight`). Shared by
//! `examples/resnet.rs` and workload W9.

use stensor::nn::*;
use stensor::prelude::*;

/// torchvision's `BasicBlock(inplanes, planes, stride, downsample)`, field for field: `relu`
/// runs after `bn1` and again after the sum.
#[derive(Module, Build)]
#[module(residual(then = relu))]
pub struct BasicBlock<I: ConstDim, O: ConstDim, S = U1, D = NoShortcut> {
    conv1: Conv2d<I, O, U3, S, U1>,
    bn1: BatchNorm2d<O>,
    relu: ReLU,
    conv2: Conv2d<O, O, U3, U1, U1>,
    bn2: BatchNorm2d<O>,
    #[module(shortcut)]
    downsample: D,
}

/// The projection of a stage's first block: a strided 1x1 convolution and a batch norm.
pub type Downsample<I, O> = (Conv2d<I, O, U1, U2>, BatchNorm2d<O>);

impl<I: ConstDim, O: ConstDim, S, D> BasicBlock<I, O, S, D> {
    /// The block with PyTorch's initialisation and the given shortcut.
    pub fn new(downsample: D, rng: &mut Rng) -> Self {
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

/// Three blocks of `O` channels; the first takes `I` channels at stride 2 (`Downsample`).
pub type Stage<I, O> = (
    BasicBlock<I, O, U2, Downsample<I, O>>,
    BasicBlock<O, O>,
    BasicBlock<O, O>,
);

fn stage<I: ConstDim, O: ConstDim>(rng: &mut Rng) -> Stage<I, O> {
    let down = (Conv2d::without_bias(rng), BatchNorm2d::new());
    (
        BasicBlock::new(down, rng),
        BasicBlock::new(NoShortcut, rng),
        BasicBlock::new(NoShortcut, rng),
    )
}

/// ResNet-20 for 3x32x32 images.
#[derive(Module, Build)]
#[module(sequential, input = Tensor<(usize, U3, U32, U32)>)]
pub struct ResNet20 {
    conv1: Conv2d<U3, U16, U3, U1, U1>,
    bn1: BatchNorm2d<U16>,
    relu: ReLU,
    layer1: (
        BasicBlock<U16, U16>,
        BasicBlock<U16, U16>,
        BasicBlock<U16, U16>,
    ),
    layer2: Stage<U16, U32>,
    layer3: Stage<U32, U64>,
    avgpool: AdaptiveAvgPool2d<U1>,
    flatten: Flatten,
    fc: Linear<U64, U10>,
}

impl ResNet20 {
    /// The network with PyTorch's initialisation, drawn from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
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
