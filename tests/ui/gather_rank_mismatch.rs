// gather's index has the tensor's rank
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U2, U3)>::zeros();
    let idx = Indices::<(U2,)>::from_array([0, 1]);
    let _ = x.gather::<1, _>(&idx);
}
