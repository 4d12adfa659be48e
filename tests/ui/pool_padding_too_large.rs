use stensor::prelude::*;
use stensor::shape::out::PoolOut;

// PyTorch: padding must be at most half the kernel (2 > 3 / 2).
fn main() {
    let _n = <PoolOut<U8, U3, U1, U2, U1, False> as ConstDim>::SIZE;
}
