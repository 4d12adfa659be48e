// only an axis of static size 1 can be squeezed
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U2, U3)>::zeros();
    let _ = x.squeeze::<1>();
}
