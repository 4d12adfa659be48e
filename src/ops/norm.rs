//! Batch, instance, layer and group norm as typed ops (PyTorch's `F.batch_norm`, ...): each
//! builds the kernels' statistics grouping and affine indexing and records the backward through
//! one normalization operation; the norm layers of [`crate::nn`] hold parameters, options and
//! running statistics and call these.

use crate::autograd::{op_result, NoTape, TapeMode};
use crate::kernels::{self, AffineIndex, NormStats, Through};
use crate::shape::spatial::{Channels, NormGroups, SpatialChannels};
use crate::shape::{BroadcastSuffix, ConstDim, ConstShape, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// Where the statistics come from.
pub(crate) enum StatsSource<'a, E> {
    /// Computed from the input (and differentiated through).
    Batch,
    /// Computed from the input and the inputs of the other processes `across` joins
    /// (synchronised batch norm), and differentiated through.
    Across(Arc<dyn SumAcross>),
    /// Given (running statistics): mean and variance per statistic group.
    Fixed(&'a [E], &'a [E]),
}

/// Sums values over a group of processes (MPI's all-reduce): batch norm's statistics and
/// their gradient terms summed this way are those of the group's whole batch. Called in the
/// forward and in the backward pass (on the pool thread running it), the same number of times
/// on every process.
pub(crate) trait SumAcross: Send + Sync {
    /// The number of processes (1: the sums are this process's own).
    fn size(&self) -> usize;
    /// Every process's `values` summed, into every process's.
    fn sum_across(&self, values: &mut [f64]);
}

/// The mean and biased variance per channel over every process's batch, from this
/// process's (`mean`, `var` over `members` elements per channel), and the number of elements
/// per channel in all: the means weighted by count, then the variances with each part's
/// spread around the common mean added (exact, not `E[x^2] - E[x]^2`).
fn stats_across<E: Element>(
    across: &dyn SumAcross,
    (mean, var): (&[E], &[E]),
    members: usize,
) -> (Vec<E>, Vec<E>, usize) {
    let n = members as f64;
    let mut sums: Vec<f64> = mean.iter().map(|&m| n * m.as_f64()).collect();
    sums.push(n);
    across.sum_across(&mut sums);
    let total = sums.pop().expect("the count");
    let global: Vec<f64> = sums.iter().map(|&s| s / total.max(1.0)).collect();
    let mut m2: Vec<f64> = (mean.iter().zip(var).zip(&global))
        .map(|((&m, &v), &gm)| n * (v.as_f64() + (m.as_f64() - gm).powi(2)))
        .collect();
    across.sum_across(&mut m2);
    let to_e = |v: &[f64]| v.iter().map(|&v| E::from_f64(v)).collect::<Vec<E>>();
    let var: Vec<f64> = m2.iter().map(|&s| s / total.max(1.0)).collect();
    (to_e(&global), to_e(&var), total as usize)
}

/// An affine weight and bias, and how elements index them.
pub(crate) type Affine<'a, SW, E> = Option<(
    &'a Tensor<SW, E, NoTape>,
    &'a Tensor<SW, E, NoTape>,
    AffineIndex,
)>;
/// A per-channel weight and bias, each optional, as batch norm takes them.
pub(crate) type AffineRefs<'a, C, E> = (Option<&'a Tensor<(C,), E>>, Option<&'a Tensor<(C,), E>>);
/// The mean and biased variance a normalization computed from its input, and the number of
/// elements per statistic they cover.
pub(crate) type BatchStats<E> = Option<(Vec<E>, Vec<E>, usize)>;

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
    let local = stats.members(x.numel());
    let (mean, var, members, across) = match source {
        StatsSource::Batch => {
            let (m, v) = kernels::norm_stats(x.as_slice(), stats);
            (m, v, Some(local), None)
        }
        StatsSource::Across(across) => {
            let (m, v) = kernels::norm_stats(x.as_slice(), stats);
            let (m, v, total) = stats_across(&*across, (&m, &v), local);
            (m, v, Some(total), Some(across))
        }
        StatsSource::Fixed(m, v) => (m.to_vec(), v.to_vec(), None, None),
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
            // the two sums of the gradient terms, over every process's batch
            let sum = |s1: &mut [E], s2: &mut [E]| {
                if let Some(across) = &across {
                    let mut v: Vec<f64> = s1.iter().chain(&*s2).map(|v| v.as_f64()).collect();
                    across.sum_across(&mut v);
                    let (v1, v2) = v.split_at(s1.len());
                    s1.iter_mut()
                        .zip(v1)
                        .for_each(|(s, &v)| *s = E::from_f64(v));
                    s2.iter_mut()
                        .zip(v2)
                        .for_each(|(s, &v)| *s = E::from_f64(v));
                }
            };
            let through = match members {
                None => Through::Fixed,
                Some(members) if across.is_some() => Through::Across { sum: &sum, members },
                Some(_) => Through::Batch,
            };
            let dx = kernels::norm_backward(
                g,
                &xv,
                stats,
                (&saved_mean, &rstd),
                aff.as_ref().map(|(_, _, w, i)| (w.as_slice(), *i)),
                through,
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
    (out, members.map(|m| (mean, var, m)))
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
        self.batch_norm_across(None, running, (weight, bias), training, momentum, eps)
    }

    /// [`Self::batch_norm`] with the statistics over every process `across` joins when there
    /// are several (synchronised batch norm; with one, or none given, this process's own, as
    /// PyTorch falls back to plain batch norm).
    pub(crate) fn batch_norm_across<C: ConstDim>(
        self,
        across: Option<Arc<dyn SumAcross>>,
        running: Option<&mut RunningStats<C, E>>,
        (weight, bias): AffineRefs<'_, C, E>,
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
        let across = across.filter(|a| a.size() > 1);
        let (dims, synced) = (self.dims(), across.is_some());
        let source = across.map_or(StatsSource::Batch, StatsSource::Across);
        let (y, batch) = norm_op(self, stats, source, eps, aff);
        let (mean, var, m) = batch.expect("batch statistics");
        let over_all = if synced {
            format!(" ({m} over every process)")
        } else {
            String::new()
        };
        assert!(
            m > 1,
            "Expected more than 1 value per channel when training, got input dims {dims:?}{over_all}"
        );
        if let Some(r) = running {
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
            let (mean, var, _) = batch.expect("batch statistics");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use std::sync::{Barrier, Mutex};

    /// Two threads as two processes: each adds its values in, both read the total.
    struct TwoThreads {
        total: Mutex<Vec<f64>>,
        turn: Barrier,
    }

    impl SumAcross for TwoThreads {
        fn size(&self) -> usize {
            2
        }
        fn sum_across(&self, values: &mut [f64]) {
            {
                let mut t = self.total.lock().unwrap();
                t.resize(values.len(), 0.0);
                t.iter_mut().zip(&*values).for_each(|(t, v)| *t += v);
            }
            self.turn.wait();
            values.copy_from_slice(&self.total.lock().unwrap());
            if self.turn.wait().is_leader() {
                self.total.lock().unwrap().clear();
            }
            self.turn.wait();
        }
    }

    /// A weight and a bias.
    type WeightBias<'a> = (&'a Tensor<(U3,), f64>, &'a Tensor<(U3,), f64>);
    /// What a batch-norm step gives: its output, the input's gradient, the weight's and the
    /// bias's, and the running statistics.
    type Step = (
        Vec<f64>,
        Vec<f64>,
        Vec<f64>,
        Vec<f64>,
        RunningStats<U3, f64>,
    );

    /// `bn` on `x` (of `N` rows) with fresh running statistics, then the gradients of
    /// `sum(y * g)`.
    fn step<N: ConstDim>(
        x: &[f64],
        g: &[f64],
        (w, b): WeightBias<'_>,
        bn: impl FnOnce(
            Tensor<(N, U3, U5), f64, Tape<f64>>,
            &mut RunningStats<U3, f64>,
        ) -> Tensor<(N, U3, U5), f64, Tape<f64>>,
    ) -> Step {
        let xt = Tensor::<(N, U3, U5), f64>::from_vec(x.to_vec())
            .unwrap()
            .trace();
        let mut running = RunningStats::new();
        let y = bn(xt.clone(), &mut running);
        let gt = Tensor::<(N, U3, U5), f64>::from_vec(g.to_vec()).unwrap();
        let out = y.to_vec();
        let grads = y.mul(&gt).sum().backward();
        let grad = |t: &Tensor<(U3,), f64>| grads.get(t).unwrap().to_vec();
        (
            out,
            grads.get(&xt).unwrap().to_vec(),
            grad(w),
            grad(b),
            running,
        )
    }

    /// Batch norm over a batch split between two "processes" (threads, each on a pool of its
    /// own as an MPI rank's backward would run) gives each half of the whole batch's output
    /// and input gradient, parameter gradients that add up to the whole batch's, and the
    /// whole batch's running statistics on both.
    #[test]
    fn batch_norm_across_two_parts_is_batch_norm_of_the_whole() {
        let x: Vec<f64> = (0..60)
            .map(|i| ((i * 13) % 11) as f64 * 0.3 - 1.0)
            .collect();
        let g: Vec<f64> = (0..60).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
        let mut w = Tensor::<(U3,), f64>::from_array([1.5, -0.5, 2.0]);
        let mut b = Tensor::<(U3,), f64>::from_array([0.1, 0.2, 0.3]);
        w.set_requires_grad(true);
        b.set_requires_grad(true);
        let (w, b) = (&w, &b);
        let whole = step::<U4>(&x, &g, (w, b), |x, r| {
            x.batch_norm(Some(r), Some(w), Some(b), true, Some(0.1), 1e-5)
        });
        let across = Arc::new(TwoThreads {
            total: Mutex::new(vec![]),
            turn: Barrier::new(2),
        });
        let half = 30;
        let parts: Vec<Step> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..2)
                .map(|k| {
                    let across = across.clone();
                    let (x, g) = (&x[k * half..(k + 1) * half], &g[k * half..(k + 1) * half]);
                    sc.spawn(move || {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(1)
                            .build()
                            .unwrap();
                        pool.install(|| {
                            step::<U2>(x, g, (w, b), |x, r| {
                                let affine = (Some(w), Some(b));
                                x.batch_norm_across(
                                    Some(across),
                                    Some(r),
                                    affine,
                                    true,
                                    Some(0.1),
                                    1e-5,
                                )
                            })
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let close = |a: &[f64], b: &[f64], what: &str| {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                assert!((a - b).abs() < 1e-12, "{what}[{i}]: {a} vs {b}");
            }
        };
        let (want_y, want_dx, want_dw, want_db, running) = &whole;
        for (k, (out, dx, _, _, r)) in parts.iter().enumerate() {
            close(out, &want_y[k * half..(k + 1) * half], "y");
            close(dx, &want_dx[k * half..(k + 1) * half], "dx");
            close(&r.mean.to_vec(), &running.mean.to_vec(), "running mean");
            close(&r.var.to_vec(), &running.var.to_vec(), "running var");
        }
        let add = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a + b).collect::<Vec<_>>();
        close(&add(&parts[0].2, &parts[1].2), want_dw, "dw");
        close(&add(&parts[0].3, &parts[1].3), want_db, "db");
    }
}
