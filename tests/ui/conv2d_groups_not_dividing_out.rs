use stensor::nn::Conv2d;
use stensor::prelude::*;

// Conv2d(4, 6, 3, groups=4): 6 output channels do not split into 4 groups.
fn main() {
    let _conv = Conv2d::<U4, U6, U3, U1, U0, U1, U4>::new(&mut Rng::seed(0));
}
