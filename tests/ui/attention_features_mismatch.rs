// A query of 4 features against keys of 5: attention's shape rule names the mismatch.
use stensor::ops::Sdpa;
use stensor::prelude::*;

fn main() {
    let q = Tensor::<(U2, U3, U4)>::zeros();
    let k = Tensor::<(U2, U6, U5)>::zeros();
    let v = Tensor::<(U2, U6, U8)>::zeros();
    let _ = q.scaled_dot_product_attention(&k, &v, Sdpa::new());
}
