use stensor::nn::{Linear, Module};
use stensor::prelude::*;

// `sequential` belongs on the struct; on a field it is an error, not ignored
#[derive(Module)]
struct Net {
    #[module(sequential)]
    fc: Linear<U2, U2>,
}

// an attribute the derive does not know is an error, not ignored
#[derive(Module)]
#[module(sequentail)]
struct Typo {
    fc: Linear<U2, U2>,
}

// a chain of no layers has no output type
#[derive(Module)]
#[module(sequential)]
struct Empty {
    #[module(skip)]
    steps: usize,
}

fn main() {}
