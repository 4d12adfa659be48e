//! Batch, instance, layer and group norm as typed ops (PyTorch's `F.batch_norm`, ...): each
//! builds the kernels' statistics grouping and affine indexing and records the backward through
//! one normalization operation; the norm layers of [`crate::nn`] hold parameters, options and
//! running statistics and call these.

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, AffineIndex, NormStats};
use crate::shape::spatial::{Channels, NormGroups, SpatialChannels};
use crate::shape::{BroadcastSuffix, ConstDim, ConstShape, Shape};
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
    let y = kernels::norm_forward(
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
    // the backward keeps the input, not the normalized input: it recomputes that
    let (xv, saved_mean) = (x.data_arc(), mean.clone());
    let out = op_result(x.shape(), y, &inputs, |_| {
        Box::new(move |g, grads| {
            let (mut dw, mut db) = (None, None);
            if let Some((tw, tb, _, _)) = &aff {
                dw = grads.accum(tw).map(|d| d.to_vec());
                db = grads.accum(tb).map(|d| d.to_vec());
            }
            let dx = kernels::norm_backward(
                g,
                &xv,
                stats,
                (&saved_mean, &rstd),
                aff.as_ref().map(|(_, _, w, i)| (w.as_slice(), *i)),
                batch,
                tx.requires_grad,
                dw.as_deref_mut(),
                db.as_deref_mut(),
            );
            if let Some(dx) = dx {
                grads.add_owned(&tx, dx);
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

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Group norm with `G` groups of the `C` channels of `(N, C, ..)` (`F.group_norm(x,
    /// num_groups, weight, bias, eps)`), each of the optional weight and bias per channel; `G`
    /// must divide `C` (checked at compile time).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1, U4, U2), f64>::arange().group_norm::<U2, U4>(None, None, 1e-5);
    /// assert!(y.to_vec()[..4].iter().sum::<f64>().abs() < 1e-9);
    /// ```
    pub fn group_norm<G: NormGroups<C>, C: ConstDim>(
        self,
        weight: Option<&Tensor<(C,), E>>,
        bias: Option<&Tensor<(C,), E>>,
        eps: f64,
    ) -> Self
    where
        S: Channels<C>,
    {
        let (_, c, s) = ncs(&self.dims());
        assert_eq!(c, C::SIZE, "group_norm: runtime channel dim");
        let pair = affine_pair(weight, bias);
        let aff = pair
            .as_ref()
            .map(|(w, b)| (w, b, AffineIndex::Channel { c, s }));
        let m = c / G::SIZE * s;
        norm_op(self, NormStats::Groups { m }, StatsSource::Batch, eps, aff).0
    }

    /// Batch norm of `(N, C, ..)` (`F.batch_norm(x, running_mean, running_var, weight, bias,
    /// training, momentum, eps)`): in training, each channel normalized with its batch mean and
    /// biased variance, and the running statistics, if given, moved toward the batch's (unbiased
    /// variance) by `momentum`, or kept as the cumulative average for `None`; otherwise
    /// normalized with the running statistics.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::RunningStats;
    /// let mut running = RunningStats::<U2, f64>::new();
    /// let x = Tensor::<(U2, U2), f64>::from_array([[1.0, 5.0], [3.0, 5.0]]);
    /// let y = x.clone().batch_norm(Some(&mut running), None, None, true, Some(0.1), 1e-5);
    /// assert!((y[[0, 0]] + 1.0).abs() < 1e-4 && y[[0, 1]] == 0.0);
    /// assert_eq!(running.mean.to_vec(), vec![0.2, 0.5]);
    /// // evaluation: the running statistics
    /// let z = x.batch_norm(Some(&mut running), None, None, false, Some(0.1), 0.0);
    /// // running mean 0.2, running variance 0.9 * 1 + 0.1 * 2 (the batch's unbiased variance)
    /// assert!((z[[0, 0]] - (1.0 - 0.2) / 1.1f64.sqrt()).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// In training with one value per channel (PyTorch's error), or out of training without
    /// running statistics.
    pub fn batch_norm<C: ConstDim>(
        self,
        running: Option<&mut RunningStats<C, E>>,
        weight: Option<&Tensor<(C,), E>>,
        bias: Option<&Tensor<(C,), E>>,
        training: bool,
        momentum: Option<f64>,
        eps: f64,
    ) -> Self
    where
        S: Channels<C>,
    {
        let (n, c, s) = ncs(&self.dims());
        assert_eq!(c, C::SIZE, "batch_norm: runtime channel dim");
        let stats = NormStats::PerChannel { n, c, s };
        let pair = affine_pair(weight, bias);
        let aff = pair
            .as_ref()
            .map(|(w, b)| (w, b, AffineIndex::Channel { c, s }));
        if !training {
            let r = running.expect("batch_norm: running statistics are needed out of training");
            let fixed = StatsSource::Fixed(r.mean.as_slice(), r.var.as_slice());
            return norm_op(self, stats, fixed, eps, aff).0;
        }
        let m = n * s;
        assert!(
            m > 1,
            "Expected more than 1 value per channel when training, got input dims {:?}",
            self.dims()
        );
        let (y, batch) = norm_op(self, stats, StatsSource::Batch, eps, aff);
        if let Some(r) = running {
            let (mean, var) = batch.expect("batch statistics");
            let k = E::from_f64(m as f64 / (m as f64 - 1.0));
            let unbiased: Vec<E> = var.iter().map(|&v| v * k).collect();
            r.update(&mean, &unbiased, momentum);
        }
        y
    }

    /// Instance norm of `(N, C, ..)` (`F.instance_norm(x, running_mean, running_var, weight,
    /// bias, use_input_stats, momentum, eps)`): with `use_input_stats`, each `(n, c)` plane
    /// normalized with its own mean and biased variance, and the running statistics, if given,
    /// moved by `momentum` toward the batch's average (unbiased variance), as PyTorch; otherwise
    /// normalized with the running statistics.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U2, U2), f64>::from_array([[[1.0, 3.0], [0.0, 8.0]]]);
    /// let y = x.instance_norm::<U2>(None, None, None, true, 0.1, 0.0);
    /// assert_eq!(y.to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// With `use_input_stats` and one value per plane (PyTorch's error), or without it and
    /// without running statistics.
    pub fn instance_norm<C: ConstDim>(
        self,
        running: Option<&mut RunningStats<C, E>>,
        weight: Option<&Tensor<(C,), E>>,
        bias: Option<&Tensor<(C,), E>>,
        use_input_stats: bool,
        momentum: f64,
        eps: f64,
    ) -> Self
    where
        S: SpatialChannels<C>,
    {
        let (n, c, s) = ncs(&self.dims());
        assert_eq!(c, C::SIZE, "instance_norm: runtime channel dim");
        let stats = NormStats::Groups { m: s };
        let pair = affine_pair(weight, bias);
        let aff = pair
            .as_ref()
            .map(|(w, b)| (w, b, AffineIndex::Channel { c, s }));
        if !use_input_stats {
            let r = running
                .expect("instance_norm: running statistics are needed without input statistics");
            // The running statistics, repeated for every instance.
            let mean: Vec<E> = (0..n * c).map(|i| r.mean.as_slice()[i % c]).collect();
            let var: Vec<E> = (0..n * c).map(|i| r.var.as_slice()[i % c]).collect();
            return norm_op(self, stats, StatsSource::Fixed(&mean, &var), eps, aff).0;
        }
        assert!(
            s > 1,
            "Expected more than 1 spatial element when training, got input dims {:?}",
            self.dims()
        );
        let (y, batch) = norm_op(self, stats, StatsSource::Batch, eps, aff);
        if let Some(r) = running {
            // PyTorch runs batch norm over (1, N*C, ...) and averages the N updates; it neither
            // counts batches nor averages cumulatively.
            let (mean, var) = batch.expect("batch statistics");
            let k = E::from_f64(s as f64 / (s as f64 - 1.0));
            let avg = |v: &[E], scale: E| -> Vec<E> {
                let per = |ch: usize| (0..n).map(|b| v[b * c + ch] * scale).sum::<E>();
                (0..c).map(|ch| per(ch) / E::from_usize(n)).collect()
            };
            r.blend(&avg(&mean, E::one()), &avg(&var, k), momentum);
        }
        y
    }
}

/// Running statistics of batch or instance norm: PyTorch's `running_mean`, `running_var` and
/// `num_batches_tracked` buffers.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::RunningStats;
/// let r = RunningStats::<U3>::new();
/// assert_eq!((r.mean.to_vec(), r.var.to_vec(), r.num_batches_tracked), (vec![0.0; 3], vec![1.0; 3], 0));
/// ```
#[derive(Clone, Debug)]
pub struct RunningStats<C: ConstDim, E: Element = f32> {
    /// Running mean per channel.
    pub mean: Tensor<(C,), E>,
    /// Running (unbiased) variance per channel.
    pub var: Tensor<(C,), E>,
    /// Training batches seen.
    pub num_batches_tracked: usize,
}

impl<C: ConstDim, E: Element> RunningStats<C, E> {
    /// PyTorch's initial buffers: mean 0, variance 1, no batches.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let r = stensor::nn::RunningStats::<U2, f64>::new();
    /// assert_eq!((r.mean.to_vec(), r.num_batches_tracked), (vec![0.0; 2], 0));
    /// ```
    pub fn new() -> Self {
        RunningStats {
            mean: Tensor::zeros(),
            var: Tensor::ones(),
            num_batches_tracked: 0,
        }
    }

    /// Batch norm's update: counts the batch, then blends its mean and unbiased variance in
    /// with weight `momentum`, or `1 / batches` for the cumulative average (`None`).
    fn update(&mut self, mean: &[E], var_unbiased: &[E], momentum: Option<f64>) {
        self.num_batches_tracked += 1;
        let f = momentum.unwrap_or(1.0 / self.num_batches_tracked as f64);
        self.blend(mean, var_unbiased, f);
    }

    /// Moves the running statistics a share `f` of the way to the given ones.
    fn blend(&mut self, mean: &[E], var_unbiased: &[E], f: f64) {
        let f = E::from_f64(f);
        let blend = |r: &mut [E], s: &[E]| {
            for (r, &s) in r.iter_mut().zip(s) {
                *r = (E::one() - f) * *r + f * s;
            }
        };
        blend(self.mean.as_mut_slice(), mean);
        blend(self.var.as_mut_slice(), var_unbiased);
    }
}

impl<C: ConstDim, E: Element> Default for RunningStats<C, E> {
    /// As [`RunningStats::new`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(stensor::nn::RunningStats::<U2>::default().var.to_vec(), vec![1.0; 2]);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}
