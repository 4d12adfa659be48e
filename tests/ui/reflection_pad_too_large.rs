use stensor::nn::{Forward, ReflectionPad2d};
use stensor::prelude::*;

fn main() {
    let _y = ReflectionPad2d::<U3>::new().forward(Tensor::<(U1, U1, U3, U5)>::zeros());
}
