// A stride-2 block whose projection shortcut keeps stride 1: the sum's shapes differ.
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

fn run(block: &BasicBlock<U16, U32, U2, (Conv2d<U16, U32, U1>, BatchNorm2d<U32>)>) {
    let _y = block.forward(Tensor::<(U8, U16, U8, U8)>::zeros());
}

fn main() {}
