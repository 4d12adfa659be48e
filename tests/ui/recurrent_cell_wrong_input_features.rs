use stensor::nn::{Forward, GRUCell};
use stensor::prelude::*;

fn main() {
    let cell = GRUCell::<U4, U5>::new(&mut Rng::seed(0));
    // the cell reads 4 features, the input has 6
    let _ = cell.forward(Tensor::<(U2, U6)>::zeros());
}
