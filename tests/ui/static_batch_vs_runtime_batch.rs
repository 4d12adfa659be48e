use stensor::prelude::*;

fn main() {
    let a = Tensor::<(U4, U3)>::zeros();
    let b = Tensor::<(usize, U3)>::zeros_shaped((4, U3::new()));
    let _c = a.add(&b);
}
