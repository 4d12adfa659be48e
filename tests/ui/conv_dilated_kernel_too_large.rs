use stensor::prelude::*;
use stensor::shape::out::ConvOut;

// kernel 3 with dilation 4 spans 9 > 8.
fn main() {
    let _n = <ConvOut<U8, U3, U1, U0, U4> as ConstDim>::SIZE;
}
