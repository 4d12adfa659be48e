// Ten features cannot be split into four heads: the rule says so at compile time.
use stensor::nn::MultiheadAttention;
use stensor::prelude::*;

fn main() {
    let _ = MultiheadAttention::<U10, U4>::new(&mut Rng::seed(0));
}
