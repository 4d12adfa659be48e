use stensor::nn::{Forward, Unflatten};
use stensor::prelude::*;

fn main() {
    let _y = Unflatten::<1, (U3, U3)>::new().forward(Tensor::<(U2, U8)>::zeros());
}
