// 4 gates cannot be cut from 10 features
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U2, U10)>::zeros();
    let _ = x.chunk::<1, 4>();
}
