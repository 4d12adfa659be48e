//! The recorded normalization operation shared by batch, layer, instance and group norm.

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, AffineIndex, NormStats};
use crate::shape::rules::{InChannels, NormGroupsDivide};
use crate::shape::{BroadcastSuffix, ConstDim, ConstShape, Dim, Shape};
use crate::tensor::{Element, Tensor};
use core::ops::Rem;
use typenum::{Eq, IsEqual, Mod, U0};

/// Where the statistics come from.
pub(crate) enum StatsSource<'a, E> {
    /// Computed from the input (and differentiated through).
    Batch,
    /// Given (running statistics): mean and variance per statistic group.
    Fixed(&'a [E], &'a [E]),
}

/// An affine weight and bias, and how elements index them.
pub(crate) type Affine<'a, SW, E> = Option<(
    &'a Tensor<SW, E, NoTape>,
    &'a Tensor<SW, E, NoTape>,
    AffineIndex,
)>;
/// The mean and biased variance a normalization computed from its input.
pub(crate) type BatchStats<E> = Option<(Vec<E>, Vec<E>)>;

/// Normalizes `x` with statistics grouped by `stats`, then applies the optional affine weight
/// and bias. Returns the result and, for batch statistics, the mean and biased variance it used.
pub(crate) fn norm_op<S, SW, E, T>(
    x: Tensor<S, E, T>,
    stats: NormStats,
    source: StatsSource<'_, E>,
    eps: f64,
    affine: Affine<'_, SW, E>,
) -> (Tensor<S, E, T>, BatchStats<E>)
where
    S: Shape,
    SW: Shape,
    E: Element,
    T: TapeMode<E>,
{
    let eps = E::from_f64(eps);
    let (mean, var, batch) = match source {
        StatsSource::Batch => {
            let (m, v) = kernels::norm_stats(x.as_slice(), stats);
            (m, v, true)
        }
        StatsSource::Fixed(m, v) => (m.to_vec(), v.to_vec(), false),
    };
    let rstd: Vec<E> = var.iter().map(|&v| (v + eps).sqrt().recip()).collect();
    let (y, xhat) = kernels::norm_forward(
        x.as_slice(),
        stats,
        &mean,
        &rstd,
        affine.map(|(w, b, i)| (w.as_slice(), b.as_slice(), i)),
    );
    let (tx, nx) = x.as_input();
    let mut inputs = vec![(tx, nx)];
    let aff = affine.map(|(w, b, idx)| {
        inputs.push((w.grad_target(), None));
        inputs.push((b.grad_target(), None));
        (w.grad_target(), b.grad_target(), w.data_arc(), idx)
    });
    let out = op_result(x.shape(), y, &inputs, |_| {
        Box::new(move |g, grads| {
            let dx = grads.accum(&tx).map(|d| d.to_vec());
            let mut dx = dx;
            let (mut dw, mut db) = (None, None);
            if let Some((tw, tb, _, _)) = &aff {
                dw = grads.accum(tw).map(|d| d.to_vec());
                db = grads.accum(tb).map(|d| d.to_vec());
            }
            kernels::norm_backward(
                g,
                &xhat,
                stats,
                &rstd,
                aff.as_ref().map(|(_, _, w, i)| (w.as_slice(), *i)),
                batch,
                dx.as_deref_mut(),
                dw.as_deref_mut(),
                db.as_deref_mut(),
            );
            if let Some(v) = dx {
                grads.accum(&tx).expect("requested").copy_from_slice(&v);
            }
            if let Some((tw, tb, _, _)) = &aff {
                if let Some(v) = dw {
                    grads.accum(tw).expect("requested").copy_from_slice(&v);
                }
                if let Some(v) = db {
                    grads.accum(tb).expect("requested").copy_from_slice(&v);
                }
            }
        })
    });
    (out, batch.then_some((mean, var)))
}

/// `(N, C, spatial volume)` of the dims of an `(N, C, ..)` tensor.
pub(crate) fn ncs(d: &[usize]) -> (usize, usize, usize) {
    (d[0], d[1], d[2..].iter().product())
}

/// PyTorch's optional weight and bias as the pair the normalization takes: none when both are
/// absent, else the one given with the other's identity (a scale of ones, a shift of zeros),
/// which is what PyTorch computes with one of them `None`.
fn affine_pair<SW: ConstShape, E: Element>(
    weight: Option<&Tensor<SW, E>>,
    bias: Option<&Tensor<SW, E>>,
) -> Option<(Tensor<SW, E>, Tensor<SW, E>)> {
    match (weight, bias) {
        (None, None) => None,
        (w, b) => Some((
            w.cloned().unwrap_or_else(Tensor::ones),
            b.cloned().unwrap_or_else(Tensor::zeros),
        )),
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Layer norm over the trailing dims `NS` (`F.layer_norm(x, normalized_shape, weight, bias,
    /// eps)`), each of the optional weight and bias of shape `NS`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U4), f64>::from_array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 8.0]]);
    /// let y = x.layer_norm::<(U4,)>(None, Some(&Tensor::full(1.0)), 1e-5);
    /// // each row normalized to mean 0, then shifted by the bias 1
    /// assert!((y.to_vec().iter().sum::<f64>() - 8.0).abs() < 1e-9);
    /// ```
    pub fn layer_norm<NS: ConstShape>(
        self,
        weight: Option<&Tensor<NS, E>>,
        bias: Option<&Tensor<NS, E>>,
        eps: f64,
    ) -> Tensor<S, E, T>
    where
        S: BroadcastSuffix<NS>,
    {
        let m = NS::NUMEL;
        let pair = affine_pair(weight, bias);
        let aff = pair
            .as_ref()
            .map(|(w, b)| (w, b, AffineIndex::Element { m }));
        norm_op(self, NormStats::Groups { m }, StatsSource::Batch, eps, aff).0
    }
}

macro_rules! group_norm_rank {
    ($($Sp:ident),*) => {
        impl<B: Dim, C2: Dim, $($Sp: Dim,)* E: Element, T: TapeMode<E>> Tensor<(B, C2, $($Sp,)*), E, T> {
            /// Group norm with `G` groups of the `C` channels (`F.group_norm(x, num_groups,
            /// weight, bias, eps)`), each of the optional weight and bias per channel; `G` must
            /// divide `C` (checked at compile time).
            ///
            /// ```
            /// use stensor::prelude::*;
            /// let y = Tensor::<(U1, U4, U2), f64>::arange().group_norm::<U2, U4>(None, None, 1e-5);
            /// assert!(y.to_vec()[..4].iter().sum::<f64>().abs() < 1e-9);
            /// ```
            pub fn group_norm<G: ConstDim, C>(
                self,
                weight: Option<&Tensor<(C,), E>>,
                bias: Option<&Tensor<(C,), E>>,
                eps: f64,
            ) -> Self
            where
                C2: InChannels<C>,
                C: ConstDim + Rem<G>,
                Mod<C, G>: IsEqual<U0>,
                Eq<Mod<C, G>, U0>: NormGroupsDivide,
            {
                let (_, c, s) = ncs(&self.dims());
                assert_eq!(c, C::SIZE, "group_norm: runtime channel dim");
                let pair = affine_pair(weight, bias);
                let aff = pair.as_ref().map(|(w, b)| (w, b, AffineIndex::Channel { c, s }));
                let m = c / G::SIZE * s;
                norm_op(self, NormStats::Groups { m }, StatsSource::Batch, eps, aff).0
            }
        }
    };
}
group_norm_rank!();
group_norm_rank!(L);
group_norm_rank!(H, W);
group_norm_rank!(D, H, W);
