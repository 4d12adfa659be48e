use stensor::prelude::*;
use stensor::shape::out::ConvOut;

// A 7-wide kernel over a 3-wide input with padding 1 (5 wide padded) does not fit.
type Out = ConvOut<U3, U7, U1, U1, U1>;

fn main() {
    let _n = <Out as ConstDim>::SIZE;
}
