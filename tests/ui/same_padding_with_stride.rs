use stensor::nn::{Conv1d, Forward, Same};
use stensor::prelude::*;

fn main() {
    let conv = Conv1d::<U1, U1, U3, U2, Same>::new(&mut Rng::seed(0));
    let _y = conv.forward(Tensor::<(U1, U1, U8)>::zeros());
}
