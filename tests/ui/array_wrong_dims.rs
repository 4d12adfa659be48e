use stensor::prelude::*;

fn main() {
    let _t = Tensor::<(U2, U2)>::from_array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
}
