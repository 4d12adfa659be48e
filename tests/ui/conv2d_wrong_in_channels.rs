use stensor::nn::{Conv2d, Forward};
use stensor::prelude::*;

fn main() {
    let conv = Conv2d::<U3, U8, U3>::new(&mut Rng::seed(0));
    let _y = conv.forward(Tensor::<(U1, U4, U8, U8)>::zeros());
}
