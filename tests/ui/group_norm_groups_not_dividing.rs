use stensor::nn::GroupNorm;
use stensor::prelude::*;

// GroupNorm(4, 6): 6 channels do not split into 4 groups.
fn main() {
    let _gn = GroupNorm::<U4, U6>::new();
}
