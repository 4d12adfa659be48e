// ids of rank 5 have no room for the embedding dimension: a tensor has at most 5 dims
use stensor::nn::{Embedding, Forward};
use stensor::prelude::*;

fn main() {
    let emb = Embedding::<U10, U4>::new(&mut Rng::seed(0));
    let ids = Indices::<(U1, U1, U1, U1, U2)>::full(0);
    let _ = emb.forward(ids);
}
