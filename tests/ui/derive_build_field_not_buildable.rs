// A network deriving `Build` (built straight from a state dict) whose field is a user's
// module that does not implement it: the error names the field's type and says what to do.
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
struct Scale;

#[derive(Module, Build)]
struct Net {
    fc: Linear<U2, U2>,
    scale: Scale,
}

fn main() {}
