use stensor::nn::LSTM;
use stensor::prelude::*;

fn main() {
    // bidirectional is U2; there is no third direction
    let _ = LSTM::<U4, U5, U1, U3>::new(&mut Rng::seed(0));
}
