// a (3,) mask cannot broadcast over (4, 5) scores
use stensor::prelude::*;

fn main() {
    let s = Tensor::<(U4, U5)>::zeros();
    let m = Mask::<(U3,)>::full(true);
    let _ = s.masked_fill(&m, 0.0);
}
