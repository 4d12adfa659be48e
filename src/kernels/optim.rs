//! Fused optimizer updates: one pass over a parameter, its gradient and its state, following
//! PyTorch's `torch.optim` single-tensor implementations step for step.

use super::simd::vectorised;
use super::TASK;
use crate::element::Element;

/// SGD's hyper-parameters by PyTorch's names: what [`SGD`](crate::optim::SGD) holds and its
/// fused update reads, defined once here.
///
/// ```
/// use stensor::optim::SGD;
/// let opt = SGD::<f32>::new(0.1).with_momentum(0.9);
/// assert_eq!((opt.options.lr, opt.options.momentum, opt.options.nesterov), (0.1, 0.9, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening of the momentum.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

/// One SGD step on `p` with gradient `g` and momentum buffer `buf` (`first` on the buffer's
/// first use, when PyTorch copies the gradient into it).
pub fn sgd_update<E: Element>(
    p: &mut [E],
    g: &[E],
    buf: Option<&mut [E]>,
    first: bool,
    a: SgdOptions,
) {
    assert_eq!(p.len(), g.len(), "sgd_update: lengths");
    let (lr, mom, damp, wd) = (
        E::from_f64(a.lr),
        E::from_f64(a.momentum),
        E::from_f64(a.dampening),
        E::from_f64(a.weight_decay),
    );
    // One run of elements, at the level chosen at run time (see `simd::Plain`); the options
    // are tested once per run, so the plain step's loop vectorises.
    let run = |p: &mut [E], g: &[E], mut buf: Option<&mut [E]>| {
        vectorised(
            #[inline(always)]
            move || {
                let plain = buf.is_none() && a.weight_decay == 0.0 && !a.maximize;
                if plain {
                    p.iter_mut().zip(g).for_each(|(p, &g)| *p = *p - lr * g);
                    return;
                }
                for i in 0..p.len() {
                    let mut d = if a.maximize { -g[i] } else { g[i] };
                    if a.weight_decay != 0.0 {
                        d = d + wd * p[i];
                    }
                    if let Some(b) = buf.as_deref_mut() {
                        b[i] = if first {
                            d
                        } else {
                            mom * b[i] + (E::one() - damp) * d
                        };
                        d = if a.nesterov { d + mom * b[i] } else { b[i] };
                    }
                    p[i] = p[i] - lr * d;
                }
            },
        )
    };
    if !super::on_pool(p.len()) {
        return run(p, g, buf);
    }
    let per = super::part_len(p.len(), TASK);
    // the momentum buffer's part of each part, if there is a buffer
    let bufs: Vec<Option<&mut [E]>> = match buf {
        Some(b) => {
            assert_eq!(b.len(), p.len(), "sgd_update: momentum buffer length");
            b.chunks_mut(per).map(Some).collect()
        }
        None => p.chunks(per).map(|_| None).collect(),
    };
    let mut parts: Vec<_> = p.chunks_mut(per).zip(g.chunks(per)).zip(bufs).collect();
    super::run_parts(&mut parts, |((p, g), b)| run(p, g, b.as_deref_mut()));
}

/// Adam's and AdamW's hyper-parameters by PyTorch's names: what [`Adam`](crate::optim::Adam)
/// holds and its fused update reads, defined once here.
///
/// ```
/// use stensor::optim::{Adam, AdamW};
/// let adam = Adam::<f32>::new(1e-3);
/// assert_eq!((adam.options.beta1, adam.options.beta2, adam.options.eps), (0.9, 0.999, 1e-8));
/// let adamw = AdamW::new::<f32>(1e-3);
/// assert!(adamw.options.decoupled_weight_decay && adamw.options.weight_decay == 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: an L2 penalty (Adam) or decoupled (AdamW).
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW; PyTorch's `decoupled_weight_decay`).
    pub decoupled_weight_decay: bool,
    /// Keep the maximum of the second moments (AMSGrad).
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

/// One Adam / AdamW step (`step` counts from 1) with first and second moments `m`, `v` and, for
/// AMSGrad, the running maximum `vmax`.
#[allow(clippy::too_many_arguments)]
pub fn adam_update<E: Element>(
    p: &mut [E],
    g: &[E],
    m: &mut [E],
    v: &mut [E],
    mut vmax: Option<&mut [E]>,
    step: u64,
    a: AdamOptions,
) {
    assert!(
        p.len() == g.len() && g.len() == m.len() && m.len() == v.len(),
        "adam_update: lengths"
    );
    let (b1, b2) = (E::from_f64(a.beta1), E::from_f64(a.beta2));
    let bc1 = 1.0 - a.beta1.powi(step as i32);
    let bc2_sqrt = E::from_f64((1.0 - a.beta2.powi(step as i32)).sqrt());
    let step_size = E::from_f64(a.lr / bc1);
    let (eps, wd) = (E::from_f64(a.eps), E::from_f64(a.weight_decay));
    let decay = E::from_f64(1.0 - a.lr * a.weight_decay);
    vectorised(
        #[inline(always)]
        move || {
            for i in 0..p.len() {
                let mut d = if a.maximize { -g[i] } else { g[i] };
                if a.weight_decay != 0.0 {
                    if a.decoupled_weight_decay {
                        p[i] = p[i] * decay;
                    } else {
                        d = d + wd * p[i];
                    }
                }
                m[i] = m[i] + (d - m[i]) * (E::one() - b1);
                v[i] = v[i] * b2 + (E::one() - b2) * d * d;
                let second = match vmax.as_deref_mut() {
                    Some(vm) => {
                        vm[i] = vm[i].max(v[i]);
                        vm[i]
                    }
                    None => v[i],
                };
                let denom = second.sqrt() / bc2_sqrt + eps;
                p[i] = p[i] - step_size * m[i] / denom;
            }
        },
    )
}

/// RMSprop's hyper-parameters by PyTorch's names: what [`RMSprop`](crate::optim::RMSprop)
/// holds and its fused update reads, defined once here.
///
/// ```
/// use stensor::optim::RMSprop;
/// let opt = RMSprop::<f32>::new(0.01);
/// assert_eq!((opt.options.alpha, opt.options.eps, opt.options.centered), (0.99, 1e-8, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropOptions {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing of the squared gradients.
    pub alpha: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Normalize by the variance estimate instead of the second moment.
    pub centered: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

/// One RMSprop step with the squared-gradient average `sq`, the gradient average `ga`
/// (centered) and the momentum buffer `buf`.
pub fn rmsprop_update<E: Element>(
    p: &mut [E],
    g: &[E],
    sq: &mut [E],
    mut ga: Option<&mut [E]>,
    mut buf: Option<&mut [E]>,
    a: RmsPropOptions,
) {
    assert!(
        p.len() == g.len() && g.len() == sq.len(),
        "rmsprop_update: lengths"
    );
    let (lr, alpha, eps, wd, mom) = (
        E::from_f64(a.lr),
        E::from_f64(a.alpha),
        E::from_f64(a.eps),
        E::from_f64(a.weight_decay),
        E::from_f64(a.momentum),
    );
    vectorised(
        #[inline(always)]
        move || {
            for i in 0..p.len() {
                let mut d = if a.maximize { -g[i] } else { g[i] };
                if a.weight_decay != 0.0 {
                    d = d + wd * p[i];
                }
                sq[i] = sq[i] * alpha + (E::one() - alpha) * d * d;
                let avg = match ga.as_deref_mut() {
                    Some(ga) => {
                        ga[i] = ga[i] + (d - ga[i]) * (E::one() - alpha);
                        (sq[i] - ga[i] * ga[i]).sqrt() + eps
                    }
                    None => sq[i].sqrt() + eps,
                };
                match buf.as_deref_mut() {
                    Some(b) => {
                        b[i] = b[i] * mom + d / avg;
                        p[i] = p[i] - lr * b[i];
                    }
                    None => p[i] = p[i] - lr * d / avg,
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_matches_a_plain_scalar_loop_on_odd_and_parallel_sizes() {
        let big = crate::kernels::PARALLEL_MIN_ELEMS + 17;
        for n in [1, 7, 17, 33, big] {
            for (momentum, nesterov, wd, maximize) in [
                (0.0, false, 0.0, false),
                (0.9, false, 0.0, false),
                (0.9, true, 0.01, false),
                (0.0, false, 0.01, true),
            ] {
                let a = SgdOptions {
                    lr: 0.1,
                    momentum,
                    dampening: 0.1,
                    weight_decay: wd,
                    nesterov,
                    maximize,
                };
                let mut p: Vec<f64> = (0..n).map(|i| i as f64 * 0.01 - 1.0).collect();
                let g: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
                let mut buf = vec![0.0; n];
                let (mut expect, mut ebuf) = (p.clone(), vec![0.0; n]);
                for step in 0..3 {
                    let b = (momentum != 0.0).then_some(&mut buf[..]);
                    sgd_update(&mut p, &g, b, step == 0, a);
                    for i in 0..n {
                        let mut d = if maximize { -g[i] } else { g[i] };
                        d += wd * expect[i];
                        if momentum != 0.0 {
                            ebuf[i] = if step == 0 {
                                d
                            } else {
                                momentum * ebuf[i] + 0.9 * d
                            };
                            d = if nesterov {
                                d + momentum * ebuf[i]
                            } else {
                                ebuf[i]
                            };
                        }
                        expect[i] -= 0.1 * d;
                    }
                    assert!(p.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 1e-12));
                }
            }
        }
    }

    #[test]
    fn adam_matches_a_plain_scalar_loop_on_odd_sizes() {
        for n in [1, 7, 17, 33] {
            let mut p: Vec<f64> = (0..n).map(|i| i as f64 * 0.1 - 1.0).collect();
            let g: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
            let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
            let mut vmax = vec![0.0; n];
            let a = AdamOptions {
                lr: 0.01,
                beta1: 0.8,
                beta2: 0.9,
                eps: 1e-6,
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                amsgrad: true,
                maximize: false,
            };
            let mut expect = p.clone();
            let (mut em, mut ev, mut evm) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            for step in 1..=3u64 {
                adam_update(&mut p, &g, &mut m, &mut v, Some(&mut vmax), step, a);
                for i in 0..n {
                    expect[i] *= 1.0 - 0.01 * 0.1;
                    em[i] = 0.8 * em[i] + 0.2 * g[i];
                    ev[i] = 0.9 * ev[i] + 0.1 * g[i] * g[i];
                    evm[i] = f64::max(evm[i], ev[i]);
                    let mhat = em[i] / (1.0 - 0.8f64.powi(step as i32));
                    let vhat = evm[i] / (1.0 - 0.9f64.powi(step as i32));
                    expect[i] -= 0.01 * mhat / (vhat.sqrt() + 1e-6);
                }
                for (a, b) in p.iter().zip(&expect) {
                    assert!((a - b).abs() < 1e-12);
                }
            }
        }
    }
}
