use stensor::nn::{Conv2d, Forward};
use stensor::prelude::*;

// A 3x3 kernel with dilation 3 spans 7 pixels; the input is 6x6 with no padding.
fn main() {
    let conv = Conv2d::<U1, U1, U3, U1, U0, U3>::new(&mut Rng::seed(0));
    let _y = conv.forward(Tensor::<(U1, U1, U6, U6)>::zeros());
}
