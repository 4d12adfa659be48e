//! PyTorch's default initialisation of the layers.
//!
//! `nn.Linear` and `nn.ConvNd` call `kaiming_uniform_(weight, a=sqrt(5))`, which for any fan-in
//! reduces to `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, and draw the bias from the same bound. The
//! fan-in is `weight.size(1) * receptive field`: `in_features`, `in_channels / groups * kernel
//! volume`, and for transposed convolutions `out_channels / groups * kernel volume` (PyTorch
//! reads dim 1 of their `(in, out / groups, k..)` weight).

use crate::shape::ConstShape;
use crate::tensor::{Element, Rng, Tensor};

/// The bound `1 / sqrt(fan_in)` of PyTorch's default weight and bias init (0 for an empty
/// fan-in, as PyTorch).
///
/// ```
/// assert_eq!(stensor::nn::init::default_bound(16), 0.25);
/// assert_eq!(stensor::nn::init::default_bound(0), 0.0);
/// ```
pub fn default_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}

/// A tensor drawn from `U(-bound, bound)` with `bound = 1 / sqrt(fan_in)`, as a parameter.
///
/// ```
/// use stensor::prelude::*;
/// let w = stensor::nn::init::default_uniform::<(U4, U16), f64>(16, &mut Rng::seed(0));
/// assert!(w.requires_grad());
/// assert!(w.to_vec().iter().all(|v| v.abs() <= 0.25));
/// ```
pub fn default_uniform<S: ConstShape, E: Element>(fan_in: usize, rng: &mut Rng) -> Tensor<S, E> {
    let b = E::from_f64(default_bound(fan_in));
    super::param(Tensor::uniform_shaped(S::default(), rng, -b, b))
}
