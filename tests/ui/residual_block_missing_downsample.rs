// A network of torchvision-style blocks (benches/workloads/resnet20.rs) whose second block
// changes the channels (16 -> 32) with no projection shortcut; the network's input is not
// named, so the error is an unmet bound of `forward` where it is called.
#[path = "../../benches/workloads/resnet20.rs"]
#[allow(dead_code)]
mod resnet20;

use resnet20::BasicBlock;
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
#[module(sequential)]
struct Net {
    layer1: BasicBlock<U16, U16>,
    layer2: BasicBlock<U16, U32, U2>,
}

fn run(net: &Net) {
    let _y = net.forward(Tensor::<(U8, U16, U8, U8)>::zeros());
}

fn main() {}
