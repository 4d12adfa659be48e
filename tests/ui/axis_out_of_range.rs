use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U2, U3)>::zeros();
    let _s = x.sum_axis::<2>();
}
