use stensor::nn::{Conv2d, Forward, Reflect};
use stensor::prelude::*;

// padding_mode="reflect" with padding 4 on a 4x4 input.
fn main() {
    let conv = Conv2d::<U1, U1, U3, U1, U4, U1, U1, Reflect>::new(&mut Rng::seed(0));
    let _y = conv.forward(Tensor::<(U1, U1, U4, U4)>::zeros());
}
