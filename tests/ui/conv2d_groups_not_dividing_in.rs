use stensor::nn::Conv2d;
use stensor::prelude::*;

// Conv2d(3, 6, 3, groups=2): 3 input channels do not split into 2 groups.
fn main() {
    let _conv = Conv2d::<U3, U6, U3, U1, U0, U1, U2>::new(&mut Rng::seed(0));
}
