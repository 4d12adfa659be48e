// A stride-2 block whose projection shortcut keeps stride 1: the sum's shapes differ.
#[path = "../../benches/workloads/resnet20.rs"]
#[allow(dead_code)]
mod resnet20;

use resnet20::{BasicBlock, Downsample};
use stensor::nn::*;
use stensor::prelude::*;

type Unstrided = (Conv2d<U16, U32, U1>, BatchNorm2d<U32>);

fn run(block: &BasicBlock<U16, U32, U2, Unstrided>, right: &BasicBlock<U16, U32, U2, Downsample<U16, U32>>) {
    let x = Tensor::<(U8, U16, U8, U8)>::zeros();
    let _ok = right.forward(x.clone());
    let _y = block.forward(x);
}

fn main() {}
