use stensor::nn::{Linear, Module, ReLU};
use stensor::prelude::*;

#[derive(Module)]
enum Net {
    A(Linear<U2, U2>),
    B(ReLU),
}

fn main() {}
