use stensor::prelude::*;

fn main() {
    let a = Tensor::<(U2, U3)>::zeros();
    let b = Tensor::<(U4, U5)>::zeros();
    let _c = a.concat::<1, _, _>(&b);
}
