use stensor::prelude::*;
use stensor::shape::out::ConvTransposeOut;

// output_padding 2 is not smaller than stride 2 or dilation 1.
fn main() {
    let _n = <ConvTransposeOut<U8, U3, U2, U0, U1, U2> as ConstDim>::SIZE;
}
