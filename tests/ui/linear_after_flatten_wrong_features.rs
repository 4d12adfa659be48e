use stensor::nn::{Flatten, Linear, Forward};
use stensor::prelude::*;

// LeNet with a mistake: 16 * 5 * 5 = 400 features, but the Linear layer expects 256.
fn main() {
    let fc = Linear::<U256, U120>::new(&mut Rng::seed(0));
    let x = Flatten::<1, -1>::new().forward(Tensor::<(U8, U16, U5, U5)>::zeros());
    let _y = fc.forward(x);
}
