// attention scores: 2 heads of queries against 4 heads of keys
use stensor::prelude::*;

fn main() {
    let q = Tensor::<(usize, U2, usize, U4)>::zeros_shaped((1, U2::new(), 3, U4::new()));
    let k = Tensor::<(usize, U4, U4, usize)>::zeros_shaped((1, U4::new(), U4::new(), 3));
    let _ = q.matmul(&k);
}
