use stensor::nn::{Forward, PixelShuffle, PixelUnshuffle};
use stensor::prelude::*;

fn main() {
    // 6 channels cannot be spread over 2 x 2 blocks
    let _ = PixelShuffle::<U2>::new().forward(Tensor::<(U1, U6, U3, U3)>::zeros());
    // a 5-pixel-wide image has no 2 x 2 blocks to gather
    let _ = Tensor::<(U1, U1, U4, U5)>::zeros().pixel_unshuffle::<U2>();
    // a factor of 0
    let _ = PixelUnshuffle::<U0>::new().forward(Tensor::<(U1, U4, U4)>::zeros());
}
