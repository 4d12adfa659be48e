use stensor::nn::GRU;
use stensor::prelude::*;

fn main() {
    let _ = GRU::<U4, U0>::new(&mut Rng::seed(0));
}
