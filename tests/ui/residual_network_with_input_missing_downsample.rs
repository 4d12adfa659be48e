// A network of torchvision-style blocks, its input named: the second block changes the channels
// (16 -> 32) with no projection shortcut, reported at that field.
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
#[module(sequential, input = Tensor<(usize, U16, U8, U8)>)]
struct Net {
    layer1: BasicBlock<U16, U16, U1>,
    layer2: BasicBlock<U16, U32, U2>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(usize, U16, U8, U8)>::zeros_shaped((8, U16::new(), U8::new(), U8::new())));
}

fn main() {}
