// a (batch, length) tensor of ids has no axis 2 to narrow
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(usize, usize)>::zeros_shaped((2, 7));
    let _ = x.narrow::<2, _>(0, 3usize);
}
