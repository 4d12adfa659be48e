use stensor::nn::{MaxPool2d, MaxUnpool2d};
use stensor::prelude::*;

fn main() {
    let (_, idx) = MaxPool2d::<U2>::new().forward_with_indices(Tensor::<(U1, U1, U8, U8)>::zeros());
    let other = Tensor::<(U1, U1, U2, U2)>::zeros();
    let _y = MaxUnpool2d::<U2>::new().forward(other, &idx);
}
