//! A small tensor program: a typed linear model, one gradient step, printed like PyTorch.
//!
//! Run: `cargo run --release --example hello`

use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

fn main() {
    // Four points of three features and their classes (0 or 1).
    let x = Tensor::<(U4, U3)>::from_array([
        [1.0, 0.5, -1.0],
        [0.2, -0.3, 0.8],
        [-1.0, 1.5, 0.1],
        [0.0, -0.7, -0.2],
    ]);
    let onehot = Tensor::<(U4, U2)>::from_array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]);

    let mut w = Tensor::<(U3, U2)>::rand_normal(7, 0.0, 0.5);
    let mut b = Tensor::<(U2,)>::zeros();
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    println!("x = {x}\nw = {w}");

    let mut opt = SGD::new(0.5);
    for step in 0..5 {
        // logits: (U4, U3) x (U3, U2) -> (U4, U2), plus a bias broadcast over the batch
        let logits = x.clone().trace_no_grad().matmul(&w).broadcast_add(&b);
        let loss = logits
            .log_softmax::<1>()
            .mul(&onehot)
            .sum_axis::<1>()
            .mean()
            .neg();
        let grads = loss.backward();
        println!("step {step}: loss = {:.6}", loss.item());
        // A plain gradient-descent update in place; ids stay, so the next step's grads line up.
        opt.step_params(&mut [&mut w, &mut b], &grads);
    }
    let probs = x.matmul(&w).broadcast_add(&b).softmax::<1>();
    println!("probabilities = {probs}");
    // `Debug` prints Rust code that rebuilds the tensor: its static type and exact values
    println!("row sums: {:?}", probs.sum_axis::<1>());
}
