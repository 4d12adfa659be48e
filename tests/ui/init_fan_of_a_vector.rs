use stensor::nn::init::xavier_uniform_;
use stensor::prelude::*;

fn main() {
    let mut bias = Tensor::<(U8,)>::zeros();
    xavier_uniform_(&mut bias, 1.0, &mut Rng::seed(0));
}
