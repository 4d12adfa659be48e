// an embedding of 8 values per id fed to a layer that expects 16
use stensor::nn::{Embedding, Forward, Linear};
use stensor::prelude::*;

fn main() {
    let emb = Embedding::<U100, U8>::new(&mut Rng::seed(0));
    let fc = Linear::<U16, U2>::new(&mut Rng::seed(1));
    let ids = Indices::<(usize, usize)>::full_shaped((2, 3), 0);
    let _ = fc.forward(emb.forward(ids));
}
