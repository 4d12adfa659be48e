use stensor::nn::{Forward, LSTM};
use stensor::prelude::*;

fn main() {
    let lstm = LSTM::<U4, U5>::new(&mut Rng::seed(0));
    // the layer reads 4 features per step, the input has 3
    let _ = lstm.forward(Tensor::<(U7, U2, U3)>::zeros());
}
