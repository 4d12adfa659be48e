// A network of torchvision-style blocks, its input named: the second block changes the channels
// (16 -> 32) with no projection shortcut, reported at that field.
#[path = "../../benches/workloads/resnet20.rs"]
#[allow(dead_code)]
mod resnet20;

use resnet20::BasicBlock;
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U16, U8, U8)>)]
struct Net {
    layer1: BasicBlock<U16, U16>,
    layer2: BasicBlock<U16, U32, U2>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(usize, U16, U8, U8)>::zeros_shaped((8, U16::new(), U8::new(), U8::new())));
}

fn main() {}
