use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U3,)>::ones();
    let loss = x.square().sum();
    let _grads = loss.backward();
}
