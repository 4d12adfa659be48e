// a (batch, features) tensor has no axis 2
use stensor::prelude::*;

fn main() {
    let x = Tensor::<(usize, U4)>::zeros_shaped((3, U4::new()));
    let _ = x.select::<2>(0);
}
