//! Gradient clipping (PyTorch's `clip_grad_norm_` and `clip_grad_value_`).

use crate::autograd::{Gradients, UniqueId};
use crate::tensor::Element;

/// Scales the gradients of `params` so their joint `norm_type`-norm is at most `max_norm`
/// (by `max_norm / (norm + 1e-6)` when larger, like PyTorch), and returns the norm before
/// clipping. `norm_type` may be `f64::INFINITY` (the largest magnitude).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::optim::clip_grad_norm;
/// let x = Tensor::<(U2,), f64>::from_array([3.0, 4.0]).trace();
/// let mut g = x.clone().square().sum().mul_scalar(0.5).backward(); // gradient (3, 4)
/// let norm = clip_grad_norm(&mut g, &[x.id()], 1.0, 2.0);
/// assert_eq!(norm, 5.0);
/// let c = g.slice(&x).unwrap();
/// assert!((c[0] - 0.6).abs() < 1e-6 && (c[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm<E: Element>(
    grads: &mut Gradients<E>,
    params: &[UniqueId],
    max_norm: f64,
    norm_type: f64,
) -> f64 {
    let mut total = 0.0f64;
    for id in params {
        if let Some(g) = grads.by_id(*id) {
            for &v in g {
                let a = v.as_f64().abs();
                if norm_type.is_infinite() {
                    total = total.max(a);
                } else {
                    total += a.powf(norm_type);
                }
            }
        }
    }
    let norm = if norm_type.is_infinite() {
        total
    } else {
        total.powf(1.0 / norm_type)
    };
    let coef = (max_norm / (norm + 1e-6)).min(1.0);
    if coef < 1.0 {
        let c = E::from_f64(coef);
        for id in params {
            if let Some(g) = grads.by_id_mut(*id) {
                g.iter_mut().for_each(|v| *v = *v * c);
            }
        }
    }
    norm
}

/// Clamps every gradient value of `params` to `[-clip, clip]`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::optim::clip_grad_value;
/// let x = Tensor::<(U2,), f64>::from_array([3.0, -0.5]).trace();
/// let mut g = x.clone().square().sum().backward(); // gradient (6, -1)
/// clip_grad_value(&mut g, &[x.id()], 2.0);
/// assert_eq!(g.slice(&x), Some(&[2.0, -1.0][..]));
/// ```
pub fn clip_grad_value<E: Element>(grads: &mut Gradients<E>, params: &[UniqueId], clip: f64) {
    let c = E::from_f64(clip);
    for id in params {
        if let Some(g) = grads.by_id_mut(*id) {
            g.iter_mut().for_each(|v| *v = v.max(-c).min(c));
        }
    }
}
