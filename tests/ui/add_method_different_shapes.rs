use stensor::prelude::*;

fn main() {
    let a = Tensor::<(U2, U3)>::zeros();
    let b = Tensor::<(U2, U4)>::zeros();
    let _c = a.add(&b);
}
