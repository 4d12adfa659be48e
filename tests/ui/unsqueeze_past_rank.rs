// a rank-2 tensor takes a new axis at 0, 1 or 2, not 3
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(U2, U3)>::zeros();
    let _ = x.unsqueeze::<3>();
}
