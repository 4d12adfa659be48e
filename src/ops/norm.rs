//! The recorded normalization operation shared by batch, layer, instance and group norm.

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, AffineIndex, NormStats};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

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
