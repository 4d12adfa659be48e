use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U3,)>::ones().trace();
    let _grads = x.square().backward();
}
