use stensor::nn::{Linear, Module};
use stensor::prelude::*;

#[derive(Module)]
struct Net {
    fc: Linear<U2, U2>,
    steps: usize,
}

fn main() {}
