// A network of residual blocks, its input named, whose classifier expects 32 features after a
// 64-channel pool: reported at the field.
#[path = "../../benches/workloads/resnet20.rs"]
#[allow(dead_code)]
mod resnet20;

use resnet20::BasicBlock;
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
#[module(sequential, input = Tensor<(U8, U64, U8, U8)>)]
struct Net {
    layer: BasicBlock<U64, U64>,
    pool: AdaptiveAvgPool2d<U1>,
    flat: Flatten,
    fc: Linear<U32, U10>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(U8, U64, U8, U8)>::zeros());
}

fn main() {}
