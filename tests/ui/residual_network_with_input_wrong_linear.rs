// A network of residual blocks, its input named, whose classifier expects 32 features after a
// 64-channel pool: reported at the field.
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
#[module(residual(then = relu))]
struct BasicBlock<C: ConstDim> {
    conv1: Conv2d<C, C, U3, U1, U1>,
    bn1: BatchNorm2d<C>,
    relu: ReLU,
    conv2: Conv2d<C, C, U3, U1, U1>,
    bn2: BatchNorm2d<C>,
}

#[derive(Module)]
#[module(sequential, input = Tensor<(U8, U64, U8, U8)>)]
struct Net {
    layer: BasicBlock<U64>,
    pool: AdaptiveAvgPool2d<U1>,
    flat: Flatten,
    fc: Linear<U32, U10>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(U8, U64, U8, U8)>::zeros());
}

fn main() {}
