use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U4, U3)>::zeros();
    let bias = Tensor::<(U4,)>::zeros();
    let _y = x.broadcast_add(&bias);
}
