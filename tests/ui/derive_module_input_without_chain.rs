use stensor::nn::{Linear, Module};
use stensor::prelude::*;

#[derive(Module)]
#[module(input = Tensor<(usize, U2)>)]
struct Net {
    fc: Linear<U2, U2>,
}

fn main() {}
