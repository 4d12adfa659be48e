use stensor::prelude::*;

fn main() {
    let a = Tensor::<(U2, U6)>::zeros();
    let _b: Tensor<(U5, U2)> = a.reshape();
}
