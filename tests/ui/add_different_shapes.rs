use stensor::prelude::*;

fn main() {
    let a = Tensor::<(U2, U3)>::zeros();
    let b = Tensor::<(U3, U2)>::zeros();
    let _c = a + &b;
}
