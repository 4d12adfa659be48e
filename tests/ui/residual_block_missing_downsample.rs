// A torchvision-style block that changes the channels (16 -> 32) with no projection shortcut.
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
#[module(residual(then = relu))]
struct BasicBlock<I: ConstDim, O: ConstDim, S, D = NoShortcut> {
    conv1: Conv2d<I, O, U3, S, U1>,
    bn1: BatchNorm2d<O>,
    relu: ReLU,
    conv2: Conv2d<O, O, U3, U1, U1>,
    bn2: BatchNorm2d<O>,
    #[module(shortcut)]
    downsample: D,
}

#[derive(Module)]
#[module(sequential)]
struct Net {
    layer1: BasicBlock<U16, U16, U1>,
    layer2: BasicBlock<U16, U32, U2>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(U8, U16, U8, U8)>::zeros());
}

fn main() {}
