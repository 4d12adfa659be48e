use stensor::prelude::*;
use stensor::shape::out::ConvOut;

fn main() {
    let _n = <ConvOut<U8, U3, U0, U0, U1> as ConstDim>::SIZE;
}
