//! Loss functions (PyTorch's `nn.L1Loss`, `nn.MSELoss`, `nn.CrossEntropyLoss`, `nn.NLLLoss`,
//! `nn.BCELoss`, `nn.BCEWithLogitsLoss`, `nn.SmoothL1Loss`, `nn.HuberLoss`, `nn.KLDivLoss`,
//! `nn.SoftMarginLoss`, `nn.HingeEmbeddingLoss`, `nn.PoissonNLLLoss`, `nn.MarginRankingLoss`,
//! `nn.GaussianNLLLoss`, `nn.MultiLabelSoftMarginLoss`, `nn.TripletMarginLoss`,
//! `nn.TripletMarginWithDistanceLoss`, `nn.CosineEmbeddingLoss`, `nn.MultiMarginLoss`,
//! `nn.MultiLabelMarginLoss`, `nn.CTCLoss`).
//!
//! Every loss has `forward`, which reduces to a scalar with [`Reduction::Mean`] (PyTorch's
//! default) or [`Reduction::Sum`], and `forward_none` for PyTorch's `reduction="none"` (the
//! per-element or per-sample losses, typed). Targets are untraced tensors of the input's shape,
//! or class indices for `CrossEntropyLoss`, `NLLLoss` and the multi-class margin losses;
//! `CTCLoss` takes label sequences and lengths per sample, and returns a `Result` since those
//! lengths are data.
//!
//! # Design note
//! Cross-entropy and NLL in every variant (class indices or probabilities, `weight`,
//! `ignore_index`, `label_smoothing`, the three reductions, spatial inputs) are one expression:
//! `sum(log_softmax(x) * A)`, where `A` is a constant built from the targets that carries the
//! weights, the smoothing and PyTorch's normalizer of the mean (the sum of the weights of the
//! non-ignored targets). The gradient then comes from the log-softmax and product rules, which
//! are checked on their own.

mod ctc;
mod margin;

pub use ctc::{CTCLoss, CtcLabels, CtcTargets};
pub use margin::{MultiLabelMarginLoss, MultiMarginLoss};

use crate::autograd::TapeMode;
use crate::shape::{RemoveAxis, Shape};
use crate::tensor::{Element, Tensor};

/// How per-element losses combine (PyTorch's `reduction="mean"` / `"sum"`; `"none"` is each
/// loss's `forward_none`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::{L1Loss, Reduction};
/// let l = L1Loss { reduction: Reduction::Sum };
/// let x = Tensor::<(U2,), f64>::from_array([1.0, -2.0]);
/// assert_eq!(l.forward(x, &Tensor::zeros()).item(), 3.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean (PyTorch's default; weighted losses divide by the sum of the weights).
    #[default]
    Mean,
    /// The sum.
    Sum,
}

/// A class index as a target: unsigned or signed (PyTorch's targets are `int64`, so a padding
/// label such as `-100` can be written and matched by `ignore_index`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::{ClassIndex, CrossEntropyLoss};
/// assert_eq!((3usize.class(), (-100i64).class()), (3, -100));
/// // -100 (PyTorch's default ignore_index) marks padding
/// let l = CrossEntropyLoss::default().forward(Tensor::<(U2, U3), f64>::zeros(), &[2i64, -100]);
/// assert!((l.item() - 3f64.ln()).abs() < 1e-15);
/// ```
pub trait ClassIndex: Copy {
    /// The index as PyTorch's `int64`.
    ///
    /// ```
    /// use stensor::loss::ClassIndex;
    /// assert_eq!((7u8.class(), (-1i32).class()), (7, -1));
    /// ```
    fn class(self) -> i64;
}
macro_rules! class_index {
    ($($t:ty),*) => {$(
        impl ClassIndex for $t {
            fn class(self) -> i64 {
                self as i64
            }
        }
    )*};
}
class_index!(usize, u32, u8, i64, i32);

fn reduce<S: Shape, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
    r: Reduction,
) -> Tensor<(), E, T> {
    match r {
        Reduction::Mean => x.mean(),
        Reduction::Sum => x.sum(),
    }
}

macro_rules! pointwise_loss {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* }, |$s:ident, $x:ident, $t:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            /// Mean (default) or sum.
            pub reduction: Reduction,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { reduction: Reduction::Mean, $($field: $default),* }
            }
        }

        impl $name {
            /// The per-element losses (`reduction="none"`).
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet x = Tensor::<(U2,), f64>::from_array([0.25, 0.75]);\n",
                "let l = stensor::loss::", stringify!($name), "::default().forward_none(x.clone(), &x.clone());\n",
                "assert_eq!(l.dims(), [2]);\n```")]
            pub fn forward_none<S: Shape, E: Element, T: TapeMode<E>>(&self, $x: Tensor<S, E, T>, $t: &Tensor<S, E>) -> Tensor<S, E, T> {
                let $s = self;
                $body
            }
            /// The reduced loss.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nlet x = Tensor::<(U2,), f64>::from_array([0.25, 0.75]);\n",
                "let l = stensor::loss::", stringify!($name), "::default().forward(x.clone(), &x.clone());\n",
                "assert!(l.item().is_finite());\n```")]
            pub fn forward<S: Shape, E: Element, T: TapeMode<E>>(&self, x: Tensor<S, E, T>, target: &Tensor<S, E>) -> Tensor<(), E, T> {
                reduce(self.forward_none(x, target), self.reduction)
            }
        }
    };
}

pointwise_loss!(
    /// `|x - y|` (`nn.L1Loss`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::L1Loss;
    /// let l = L1Loss::default().forward(Tensor::<(U2,)>::from_array([1.0, 2.0]), &Tensor::from_array([2.0, 4.0]));
    /// assert_eq!(l.item(), 1.5);
    /// ```
    L1Loss {},
    |_s, x, t| x.sub(t).abs()
);
pointwise_loss!(
    /// `(x - y)^2` (`nn.MSELoss`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::{MSELoss, Reduction};
    /// let l = MSELoss { reduction: Reduction::Sum }.forward(Tensor::<(U2,)>::from_array([1.0, 2.0]), &Tensor::from_array([2.0, 4.0]));
    /// assert_eq!(l.item(), 5.0);
    /// ```
    MSELoss {},
    |_s, x, t| x.sub(t).square()
);
pointwise_loss!(
    /// Quadratic below `beta`, linear above (`nn.SmoothL1Loss`, default `beta = 1`; `beta = 0`
    /// is L1).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::SmoothL1Loss;
    /// let l = SmoothL1Loss::default().forward_none(Tensor::<(U2,)>::from_array([0.5, 3.0]), &Tensor::zeros());
    /// assert_eq!(l.to_vec(), vec![0.125, 2.5]);
    /// ```
    SmoothL1Loss { /// Where the loss turns linear.
        beta: f64 = 1.0 },
    |s, x, t| {
        let beta = E::from_f64(s.beta);
        let half = E::from_f64(0.5);
        x.zip_op(
            t,
            move |a, b| {
                let z = (a - b).abs();
                if z < beta { half * z * z / beta } else { z - half * beta }
            },
            move |a, b| {
                let d = a - b;
                if d < -beta { -E::one() } else if d > beta { E::one() } else { d / beta }
            },
            move |a, b| {
                let d = a - b;
                if d < -beta { E::one() } else if d > beta { -E::one() } else { -d / beta }
            },
        )
    }
);
pointwise_loss!(
    /// `z^2 / 2` below `delta`, `delta (z - delta / 2)` above, for `z = |x - y|`
    /// (`nn.HuberLoss`, default `delta = 1`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::HuberLoss;
    /// let l = HuberLoss { delta: 2.0, ..Default::default() }.forward_none(Tensor::<(U2,)>::from_array([1.0, 4.0]), &Tensor::zeros());
    /// assert_eq!(l.to_vec(), vec![0.5, 6.0]);
    /// ```
    HuberLoss { /// Where the loss turns linear.
        delta: f64 = 1.0 },
    |s, x, t| {
        let delta = E::from_f64(s.delta);
        let half = E::from_f64(0.5);
        x.zip_op(
            t,
            move |a, b| {
                let z = (a - b).abs();
                if z < delta { half * z * z } else { delta * (z - half * delta) }
            },
            move |a, b| {
                let d = a - b;
                if d < -delta { -delta } else if d > delta { delta } else { d }
            },
            move |a, b| {
                let d = a - b;
                if d < -delta { delta } else if d > delta { -delta } else { -d }
            },
        )
    }
);
pointwise_loss!(
    /// Binary cross-entropy of probabilities `x` against targets `y`:
    /// `-(y ln x + (1 - y) ln(1 - x))`, each log clamped at -100 like PyTorch (`nn.BCELoss`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::BCELoss;
    /// let l = BCELoss::default().forward_none(Tensor::<(U2,), f64>::from_array([0.5, 0.0]), &Tensor::from_array([1.0, 1.0]));
    /// assert_eq!(l.to_vec(), vec![std::f64::consts::LN_2, 100.0]);
    /// ```
    BCELoss {},
    |_s, x, t| {
        let floor = E::from_f64(-100.0);
        // PyTorch's backward clamps the denominator at the float32 constant 1e-12.
        let tiny = E::from_f64(f64::from(1e-12f32));
        x.zip_op(
            t,
            move |p, y| -(y * p.ln().max(floor) + (E::one() - y) * (E::one() - p).ln().max(floor)),
            // PyTorch's backward: (x - y) / max(x (1 - x), 1e-12)
            move |p, y| (p - y) / (p * (E::one() - p)).max(tiny),
            move |p, _| (E::one() - p).ln().max(floor) - p.ln().max(floor),
        )
    }
);

pointwise_loss!(
    /// `ln(1 + e^(-y x))` for targets `y` of 1 or -1 (`nn.SoftMarginLoss`), computed stably.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::SoftMarginLoss;
    /// let l = SoftMarginLoss::default().forward_none(Tensor::<(U2,), f64>::from_array([0.0, 1000.0]), &Tensor::from_array([1.0, 1.0]));
    /// assert_eq!(l.to_vec(), vec![std::f64::consts::LN_2, 0.0]);
    /// ```
    SoftMarginLoss {},
    |_s, x, t| {
        x.zip_op(
            t,
            |a, y| crate::ops::softplus(-y * a),
            // d/dx ln(1 + e^(-y x)) = -y sigmoid(-y x)
            |a, y| -y * crate::ops::sigmoid(-y * a),
            |a, y| -a * crate::ops::sigmoid(-y * a),
        )
    }
);
pointwise_loss!(
    /// `x` where the target is 1, `max(0, margin - x)` where it is -1 (`nn.HingeEmbeddingLoss`,
    /// default `margin = 1`; as PyTorch, a target that is neither takes both terms).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::HingeEmbeddingLoss;
    /// let l = HingeEmbeddingLoss::default().forward_none(Tensor::<(U3,)>::from_array([0.3, 0.3, 2.0]), &Tensor::from_array([1.0, -1.0, -1.0]));
    /// assert_eq!(l.to_vec(), vec![0.3, 0.7, 0.0]);
    /// ```
    HingeEmbeddingLoss { /// The margin for targets of -1.
        margin: f64 = 1.0 },
    |s, x, t| {
        let m = E::from_f64(s.margin);
        let (one, zero) = (E::one(), E::zero());
        x.zip_op(
            t,
            move |a, y| {
                let own = if y != -one { a } else { zero };
                let hinge = if y != one { (m - a).max(zero) } else { zero };
                own + hinge
            },
            // PyTorch's clamp_min passes the gradient where `margin - x >= 0`
            move |a, y| {
                let own = if y != -one { one } else { zero };
                let hinge = if y != one && m - a >= zero { -one } else { zero };
                own + hinge
            },
            move |_, _| zero,
        )
    }
);
pointwise_loss!(
    /// The negative log-likelihood of targets `y` under a Poisson of rate `e^x` (`log_input`,
    /// the default: `e^x - y x`) or `x` (`x - y ln(x + eps)`), plus Stirling's approximation of
    /// `ln(y!)` where `y > 1` when `full` (`nn.PoissonNLLLoss`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::PoissonNLLLoss;
    /// let l = PoissonNLLLoss::default().forward_none(Tensor::<(U1,), f64>::from_array([0.0]), &Tensor::from_array([3.0]));
    /// assert_eq!(l.to_vec(), vec![1.0]);
    /// ```
    PoissonNLLLoss {
        /// Whether `x` is the log of the rate (the default) or the rate.
        log_input: bool = true,
        /// Whether to add Stirling's term.
        full: bool = false,
        /// Added to the rate inside the log when `log_input` is false.
        eps: f64 = 1e-8 },
    |s, x, t| {
        let (log_input, eps) = (s.log_input, E::from_f64(s.eps));
        let loss = x.zip_op(
            t,
            move |a, y| if log_input { a.exp() - y * a } else { a - y * (a + eps).ln() },
            move |a, y| if log_input { a.exp() - y } else { E::one() - y / (a + eps) },
            move |a, _| if log_input { -a } else { -(a + eps).ln() },
        );
        if !s.full {
            return loss;
        }
        // y ln y - y + ln(2 pi y) / 2 where y > 1: a constant of the target
        let half_ln_2pi = E::from_f64(0.5 * (2.0 * std::f64::consts::PI).ln());
        let half = E::from_f64(0.5);
        let term = |y: E| {
            if y > E::one() { y * y.ln() - y + half * y.ln() + half_ln_2pi } else { E::zero() }
        };
        let values = t.as_slice().iter().map(|&y| term(y)).collect();
        let stirling = Tensor::<S, E>::from_vec_shaped(t.shape(), values).expect("the target's shape");
        loss.add(&stirling)
    }
);

/// `max(0, -y (x1 - x2) + margin)` for targets `y` of 1 (`x1` should rank higher) or -1
/// (`nn.MarginRankingLoss`, default `margin = 0`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::MarginRankingLoss;
/// let x1 = Tensor::<(U2,), f64>::from_array([2.0, 0.0]);
/// let x2 = Tensor::<(U2,), f64>::from_array([1.0, 1.0]);
/// let l = MarginRankingLoss { margin: 0.5, ..Default::default() }.forward_none(x1, &x2, &Tensor::from_array([1.0, 1.0]));
/// assert_eq!(l.to_vec(), vec![0.0, 1.5]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MarginRankingLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// The margin `x1` must lead `x2` by.
    pub margin: f64,
}

impl MarginRankingLoss {
    /// The per-pair losses (`reduction="none"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::MarginRankingLoss;
    /// let x = Tensor::<(U1,), f64>::from_array([1.0]);
    /// let l = MarginRankingLoss::default().forward_none(x.clone(), &x, &Tensor::from_array([-1.0]));
    /// assert_eq!(l.item(), 0.0);
    /// ```
    pub fn forward_none<S, E, T, T2>(
        &self,
        x1: Tensor<S, E, T>,
        x2: &Tensor<S, E, T2>,
        target: &Tensor<S, E>,
    ) -> Tensor<S, E, T::Output>
    where
        S: Shape,
        E: Element,
        T: crate::autograd::MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        let m = E::from_f64(self.margin);
        x1.sub(x2).zip_op(
            target,
            move |d, y| (-y * d + m).max(E::zero()),
            move |d, y| {
                if -y * d + m >= E::zero() {
                    -y
                } else {
                    E::zero()
                }
            },
            move |d, y| {
                if -y * d + m >= E::zero() {
                    -d
                } else {
                    E::zero()
                }
            },
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::{MarginRankingLoss, Reduction};
    /// let l = MarginRankingLoss { reduction: Reduction::Sum, margin: 1.0 };
    /// let x = Tensor::<(U2,), f64>::zeros();
    /// assert_eq!(l.forward(x.clone(), &x, &Tensor::ones()).item(), 2.0);
    /// ```
    pub fn forward<S, E, T, T2>(
        &self,
        x1: Tensor<S, E, T>,
        x2: &Tensor<S, E, T2>,
        target: &Tensor<S, E>,
    ) -> Tensor<(), E, T::Output>
    where
        S: Shape,
        E: Element,
        T: crate::autograd::MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        reduce(self.forward_none(x1, x2, target), self.reduction)
    }
}

/// The negative log-likelihood of targets under Gaussians of mean `x` and variance `var`:
/// `(ln(max(var, eps)) + (x - y)^2 / max(var, eps)) / 2`, plus `ln(2 pi) / 2` when `full`
/// (`nn.GaussianNLLLoss`, default `eps = 1e-6`). `var` has the input's shape or broadcasts to
/// it (one variance per row: `(N, 1)` over `(N, D)`); as PyTorch, the clamp at `eps` does not
/// stop `var`'s gradient.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::GaussianNLLLoss;
/// let x = Tensor::<(U1, U2), f64>::from_array([[1.0, 3.0]]);
/// let y = Tensor::<(U1, U2), f64>::from_array([[1.0, 1.0]]);
/// let var = Tensor::<(U1, U1), f64>::from_array([[2.0]]);
/// let l = GaussianNLLLoss::default().forward_none(x, &y, &var);
/// assert!((l.to_vec()[1] - 0.5 * (2f64.ln() + 2.0)).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianNLLLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// Whether to add the constant `ln(2 pi) / 2`.
    pub full: bool,
    /// The smallest variance used.
    pub eps: f64,
}

impl Default for GaussianNLLLoss {
    fn default() -> Self {
        GaussianNLLLoss {
            reduction: Reduction::Mean,
            full: false,
            eps: 1e-6,
        }
    }
}

impl GaussianNLLLoss {
    /// The per-element losses (`reduction="none"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::GaussianNLLLoss;
    /// let x = Tensor::<(U2,), f64>::zeros();
    /// let l = GaussianNLLLoss::default().forward_none(x.clone(), &x, &Tensor::<(U2,), f64>::ones());
    /// assert_eq!(l.to_vec(), vec![0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime dim of `var` is neither the input's nor 1.
    pub fn forward_none<S, SV, E, T, T2>(
        &self,
        x: Tensor<S, E, T>,
        target: &Tensor<S, E>,
        var: &Tensor<SV, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: Shape,
        SV: Shape + crate::shape::BroadcastsTo<S>,
        E: Element,
        T: crate::autograd::MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        let (eps, half) = (E::from_f64(self.eps), E::from_f64(0.5));
        let constant = E::from_f64(if self.full {
            0.5 * (2.0 * std::f64::consts::PI).ln()
        } else {
            0.0
        });
        let var = var.clone().expand(x.shape());
        // (the tape types named: with `T: MergeTape<E, T2>` in scope the compiler would
        // otherwise take the target for a `T2` operand)
        let d: Tensor<S, E, T> = x.sub::<S, crate::autograd::NoTape>(target);
        d.zip_op::<S, T2, _, _, _>(
            &var,
            move |d, v| half * (v.max(eps).ln() + d * d / v.max(eps)) + constant,
            move |d, v| d / v.max(eps),
            move |d, v| {
                let v = v.max(eps);
                half * (v.recip() - d * d / (v * v))
            },
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::GaussianNLLLoss;
    /// let x = Tensor::<(U2,), f64>::zeros();
    /// let l = GaussianNLLLoss { full: true, ..Default::default() }.forward(x.clone(), &x, &Tensor::<(U1,), f64>::ones());
    /// assert!((l.item() - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
    /// ```
    pub fn forward<S, SV, E, T, T2>(
        &self,
        x: Tensor<S, E, T>,
        target: &Tensor<S, E>,
        var: &Tensor<SV, E, T2>,
    ) -> Tensor<(), E, T::Output>
    where
        S: Shape,
        SV: Shape + crate::shape::BroadcastsTo<S>,
        E: Element,
        T: crate::autograd::MergeTape<E, T2>,
        T2: TapeMode<E>,
    {
        reduce(self.forward_none(x, target, var), self.reduction)
    }
}

/// `-(y ln sigmoid(x) + (1 - y) ln sigmoid(-x))`, weighted per class, averaged over the
/// classes (the last dim) for one loss per sample (`nn.MultiLabelSoftMarginLoss`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::MultiLabelSoftMarginLoss;
/// let x = Tensor::<(U1, U2), f64>::zeros();
/// let y = Tensor::<(U1, U2), f64>::from_array([[1.0, 0.0]]);
/// let l = MultiLabelSoftMarginLoss::default().forward_none(x, &y);
/// assert!((l.item() - 2f64.ln()).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultiLabelSoftMarginLoss {
    /// Mean over the samples (default) or sum.
    pub reduction: Reduction,
    /// A weight per class, if any.
    pub weight: Option<Vec<f64>>,
}

impl MultiLabelSoftMarginLoss {
    /// The per-sample losses (`reduction="none"`), shape `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::MultiLabelSoftMarginLoss;
    /// let l = MultiLabelSoftMarginLoss::default().forward_none(Tensor::<(usize, U3)>::zeros_shaped((4, U3::new())), &Tensor::zeros_shaped((4, U3::new())));
    /// assert_eq!(l.dims(), [4]);
    /// ```
    ///
    /// # Panics
    /// If `weight` has a length other than the number of classes.
    pub fn forward_none<N, C, E, T>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &Tensor<(N, C), E>,
    ) -> Tensor<(N,), E, T>
    where
        N: crate::shape::Dim,
        C: crate::shape::ConstDim,
        E: Element,
        T: TapeMode<E>,
    {
        // -(y ln sigmoid(x) + (1 - y) ln sigmoid(-x)) = y softplus(-x) + (1 - y) softplus(x)
        let per_class = x.zip_op(
            target,
            |a, y| y * crate::ops::softplus(-a) + (E::one() - y) * crate::ops::softplus(a),
            |a, y| crate::ops::sigmoid(a) - y,
            |a, _| -a,
        );
        let per_class = match &self.weight {
            Some(w) => {
                assert_eq!(
                    w.len(),
                    C::SIZE,
                    "weight: {} values for {} classes",
                    w.len(),
                    C::SIZE
                );
                let w: Vec<E> = w.iter().map(|&v| E::from_f64(v)).collect();
                per_class.broadcast_mul(&Tensor::<(C,), E>::from_vec(w).expect("C weights"))
            }
            None => per_class,
        };
        per_class
            .sum_axis::<1>()
            .mul_scalar(E::from_usize(C::SIZE).recip())
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::MultiLabelSoftMarginLoss;
    /// let l = MultiLabelSoftMarginLoss::default().forward(Tensor::<(U2, U3), f64>::zeros(), &Tensor::ones());
    /// assert!((l.item() - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn forward<N, C, E, T>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &Tensor<(N, C), E>,
    ) -> Tensor<(), E, T>
    where
        N: crate::shape::Dim,
        C: crate::shape::ConstDim,
        E: Element,
        T: TapeMode<E>,
    {
        reduce(self.forward_none(x, target), self.reduction)
    }
}

/// `1 - cos(x1, x2)` for pairs of target 1, `max(0, cos(x1, x2) - margin)` for pairs of
/// target -1 (`nn.CosineEmbeddingLoss`, default `margin = 0`), the cosine over the last dim as
/// PyTorch computes it here: `x1 . x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::CosineEmbeddingLoss;
/// let a = Tensor::<(U2, U2), f64>::from_array([[1.0, 0.0], [1.0, 0.0]]);
/// let b = Tensor::<(U2, U2), f64>::from_array([[1.0, 0.0], [0.0, 1.0]]);
/// let y = Tensor::<(U2,), f64>::from_array([1.0, -1.0]);
/// let l = CosineEmbeddingLoss::default().forward_none(a, &b, &y);
/// assert!(l.to_vec().iter().all(|v| v.abs() < 1e-9));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CosineEmbeddingLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// How dissimilar pairs of target -1 must be.
    pub margin: f64,
}

impl CosineEmbeddingLoss {
    /// One loss per pair: `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CosineEmbeddingLoss;
    /// let a = Tensor::<(U1, U2), f64>::from_array([[1.0, 0.0]]);
    /// let l = CosineEmbeddingLoss::default().forward_none(a.clone(), &a.neg(), &Tensor::ones());
    /// assert!((l.item() - 2.0).abs() < 1e-9);
    /// ```
    pub fn forward_none<N, D, E, T>(
        &self,
        x1: Tensor<(N, D), E, T>,
        x2: &Tensor<(N, D), E, T>,
        target: &Tensor<(N,), E>,
    ) -> Tensor<(N,), E, T>
    where
        N: crate::shape::Dim,
        D: crate::shape::Dim,
        E: Element,
        T: crate::autograd::MergeTape<E, T, Output = T>,
    {
        let tiny = E::from_f64(1e-12);
        let dot = x1.clone().mul(x2).sum_axis::<1>();
        let sq1 = x1.clone().mul(&x1).sum_axis::<1>().add_scalar(tiny);
        let sq2 = x2.clone().mul(x2).sum_axis::<1>().add_scalar(tiny);
        let cos = dot.div(&sq1.mul(&sq2).sqrt());
        let (m, one) = (E::from_f64(self.margin), E::one());
        cos.zip_op::<(N,), crate::autograd::NoTape, _, _, _>(
            target,
            move |c, y| {
                if y == one {
                    one - c
                } else if y == -one {
                    (c - m).max(E::zero())
                } else {
                    E::zero()
                }
            },
            move |c, y| {
                if y == one {
                    -one
                } else if y == -one && c - m >= E::zero() {
                    one
                } else {
                    E::zero()
                }
            },
            move |_, _| E::zero(),
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CosineEmbeddingLoss;
    /// let a = Tensor::<(U2, U2), f64>::from_array([[1.0, 0.0], [0.0, 1.0]]);
    /// let l = CosineEmbeddingLoss::default().forward(a.clone(), &a, &Tensor::ones());
    /// assert!(l.item().abs() < 1e-9);
    /// ```
    pub fn forward<N, D, E, T>(
        &self,
        x1: Tensor<(N, D), E, T>,
        x2: &Tensor<(N, D), E, T>,
        target: &Tensor<(N,), E>,
    ) -> Tensor<(), E, T>
    where
        N: crate::shape::Dim,
        D: crate::shape::Dim,
        E: Element,
        T: crate::autograd::MergeTape<E, T, Output = T>,
    {
        reduce(self.forward_none(x1, x2, target), self.reduction)
    }
}

/// `max(d(a, p) - d(a, n) + margin, 0)` for anchors `a`, positives `p` and negatives `n`, with
/// `d` the pairwise `p`-norm distance (`nn.TripletMarginLoss`, defaults `margin = 1`, `p = 2`,
/// `eps = 1e-6`); with `swap`, `d(a, n)` is replaced by `d(p, n)` where that is smaller. Zero
/// once every negative is `margin` further than its positive.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::TripletMarginLoss;
/// let a = Tensor::<(U1, U2), f64>::zeros();
/// let pos = Tensor::<(U1, U2), f64>::from_array([[0.0, 1.0]]);
/// let neg = Tensor::<(U1, U2), f64>::from_array([[0.0, 3.0]]);
/// assert_eq!(TripletMarginLoss::default().forward(a, &pos, &neg).item(), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TripletMarginLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// How much further the negative must be.
    pub margin: f64,
    /// The norm's degree.
    pub p: f64,
    /// Added to the differences (as `PairwiseDistance`).
    pub eps: f64,
    /// Whether the positive-negative distance may stand for the anchor-negative one.
    pub swap: bool,
}

impl Default for TripletMarginLoss {
    fn default() -> Self {
        TripletMarginLoss {
            reduction: Reduction::Mean,
            margin: 1.0,
            p: 2.0,
            eps: 1e-6,
            swap: false,
        }
    }
}

impl TripletMarginLoss {
    /// One loss per triplet: `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::TripletMarginLoss;
    /// let z = Tensor::<(U2, U3), f64>::zeros();
    /// let l = TripletMarginLoss { margin: 0.5, eps: 0.0, ..Default::default() }.forward_none(z.clone(), &z, &z);
    /// assert_eq!(l.to_vec(), vec![0.5, 0.5]);
    /// ```
    pub fn forward_none<N, D, E, T>(
        &self,
        anchor: Tensor<(N, D), E, T>,
        positive: &Tensor<(N, D), E, T>,
        negative: &Tensor<(N, D), E, T>,
    ) -> Tensor<(N,), E, T>
    where
        N: crate::shape::Dim,
        D: crate::shape::Dim,
        E: Element,
        T: crate::autograd::MergeTape<E, T, Output = T>,
    {
        let (p, eps) = (self.p, self.eps);
        triplet(
            anchor,
            positive,
            negative,
            self.margin,
            self.swap,
            |x, y| x.pairwise_distance(y, p, eps),
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::TripletMarginLoss;
    /// let z = Tensor::<(U2, U3), f64>::zeros();
    /// assert!((TripletMarginLoss::default().forward(z.clone(), &z, &z).item() - 1.0).abs() < 1e-12);
    /// ```
    pub fn forward<N, D, E, T>(
        &self,
        anchor: Tensor<(N, D), E, T>,
        positive: &Tensor<(N, D), E, T>,
        negative: &Tensor<(N, D), E, T>,
    ) -> Tensor<(), E, T>
    where
        N: crate::shape::Dim,
        D: crate::shape::Dim,
        E: Element,
        T: crate::autograd::MergeTape<E, T, Output = T>,
    {
        reduce(
            self.forward_none(anchor, positive, negative),
            self.reduction,
        )
    }
}

/// A distance between paired rows, as `TripletMarginWithDistanceLoss` takes it.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::Distance;
/// let l1: Distance<U1, U2, f64, NoTape> = |x, y| x.pairwise_distance(y, 1.0, 0.0);
/// let d = l1(Tensor::zeros(), &Tensor::from_array([[1.0, -2.0]]));
/// assert_eq!(d.item(), 3.0);
/// ```
pub type Distance<N, D, E, T> =
    fn(Tensor<(N, D), E, T>, &Tensor<(N, D), E, T>) -> Tensor<(N,), E, T>;

/// [`TripletMarginLoss`] with any distance function (`nn.TripletMarginWithDistanceLoss`,
/// defaults `margin = 1`, `swap = false`, the distance `PairwiseDistance()`'s: `p = 2`,
/// `eps = 1e-6`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::TripletMarginWithDistanceLoss;
/// let a = Tensor::<(U1, U2), f64>::zeros();
/// let far = Tensor::<(U1, U2), f64>::from_array([[5.0, 0.0]]);
/// let l1 = TripletMarginWithDistanceLoss::with_distance(|x, y| x.pairwise_distance(y, 1.0, 0.0));
/// assert_eq!(l1.forward(a.clone(), &a, &far).item(), 0.0);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TripletMarginWithDistanceLoss<
    N: crate::shape::Dim,
    D: crate::shape::Dim,
    E: Element,
    T: TapeMode<E>,
> {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// How much further the negative must be.
    pub margin: f64,
    /// Whether the positive-negative distance may stand for the anchor-negative one.
    pub swap: bool,
    /// The distance.
    pub distance: Distance<N, D, E, T>,
}

impl<N, D, E, T> Default for TripletMarginWithDistanceLoss<N, D, E, T>
where
    N: crate::shape::Dim,
    D: crate::shape::Dim,
    E: Element,
    T: crate::autograd::MergeTape<E, T, Output = T>,
{
    fn default() -> Self {
        Self::with_distance(|x, y| x.pairwise_distance(y, 2.0, 1e-6))
    }
}

impl<N, D, E, T> TripletMarginWithDistanceLoss<N, D, E, T>
where
    N: crate::shape::Dim,
    D: crate::shape::Dim,
    E: Element,
    T: crate::autograd::MergeTape<E, T, Output = T>,
{
    /// The defaults with the distance `distance`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::TripletMarginWithDistanceLoss;
    /// let l = TripletMarginWithDistanceLoss::<U2, U3, f32, NoTape>::with_distance(|x, y| x.pairwise_distance(y, 3.0, 0.0));
    /// assert_eq!(l.margin, 1.0);
    /// ```
    pub fn with_distance(distance: Distance<N, D, E, T>) -> Self {
        TripletMarginWithDistanceLoss {
            reduction: Reduction::Mean,
            margin: 1.0,
            swap: false,
            distance,
        }
    }

    /// One loss per triplet: `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::TripletMarginWithDistanceLoss;
    /// let z = Tensor::<(U2, U3), f64>::zeros();
    /// let l = TripletMarginWithDistanceLoss::default().forward_none(z.clone(), &z, &z);
    /// assert_eq!(l.dims(), [2]);
    /// ```
    pub fn forward_none(
        &self,
        anchor: Tensor<(N, D), E, T>,
        positive: &Tensor<(N, D), E, T>,
        negative: &Tensor<(N, D), E, T>,
    ) -> Tensor<(N,), E, T> {
        triplet(
            anchor,
            positive,
            negative,
            self.margin,
            self.swap,
            self.distance,
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::TripletMarginWithDistanceLoss;
    /// let z = Tensor::<(U2, U3), f64>::zeros();
    /// assert!((TripletMarginWithDistanceLoss::default().forward(z.clone(), &z, &z).item() - 1.0).abs() < 1e-12);
    /// ```
    pub fn forward(
        &self,
        anchor: Tensor<(N, D), E, T>,
        positive: &Tensor<(N, D), E, T>,
        negative: &Tensor<(N, D), E, T>,
    ) -> Tensor<(), E, T> {
        reduce(
            self.forward_none(anchor, positive, negative),
            self.reduction,
        )
    }
}

/// `max(d(a, p) - d(a, n) + margin, 0)`, `d(a, n)` replaced by the smaller `d(p, n)` when
/// `swap`; as PyTorch's `clamp_min`, the gradient passes where the sum is not below zero.
fn triplet<N, D, E, T>(
    anchor: Tensor<(N, D), E, T>,
    positive: &Tensor<(N, D), E, T>,
    negative: &Tensor<(N, D), E, T>,
    margin: f64,
    swap: bool,
    distance: impl Fn(Tensor<(N, D), E, T>, &Tensor<(N, D), E, T>) -> Tensor<(N,), E, T>,
) -> Tensor<(N,), E, T>
where
    N: crate::shape::Dim,
    D: crate::shape::Dim,
    E: Element,
    T: crate::autograd::MergeTape<E, T, Output = T>,
{
    let d_ap = distance(anchor.clone(), positive);
    let mut d_an = distance(anchor, negative);
    if swap {
        d_an = d_an.minimum(&distance(positive.clone(), negative));
    }
    let m = E::from_f64(margin);
    d_ap.sub(&d_an).map_op(
        move |v| (v + m).max(E::zero()),
        move |v, _| {
            if v + m >= E::zero() {
                E::one()
            } else {
                E::zero()
            }
        },
    )
}

/// Binary cross-entropy on logits, `(1 - y) x + (1 + (p - 1) y) ln(1 + e^-x)` computed stably,
/// with an optional positive-class weight `p` per class of the last dim (`nn.BCEWithLogitsLoss`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::BCEWithLogitsLoss;
/// let l = BCEWithLogitsLoss::default().forward_none(Tensor::<(U2,), f64>::from_array([-1000.0, 1000.0]), &Tensor::from_array([0.0, 1.0]));
/// assert_eq!(l.to_vec(), vec![0.0, 0.0]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BCEWithLogitsLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// Weight of positive examples, one per class of the last dim (PyTorch's `pos_weight`).
    pub pos_weight: Option<Vec<f64>>,
}

impl BCEWithLogitsLoss {
    /// The per-element losses (`reduction="none"`).
    ///
    /// # Panics
    /// If `pos_weight` has neither 1 entry nor one per class of the last dim.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let l = stensor::loss::BCEWithLogitsLoss::default()
    ///     .forward_none(Tensor::<(U2,), f64>::zeros(), &Tensor::full(1.0));
    /// assert!((l[[0]] - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn forward_none<S, E, T>(
        &self,
        x: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<S, E, T>
    where
        S: Shape,
        E: Element,
        T: TapeMode<E>,
    {
        let dims = x.dims();
        let last = dims.last().copied().unwrap_or(1);
        let lw: Vec<E> = target
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, &y)| match &self.pos_weight {
                None => E::one(),
                Some(p) => {
                    assert!(
                        p.len() == 1 || p.len() == last,
                        "pos_weight has {} entries for {last} classes",
                        p.len()
                    );
                    let pw = E::from_f64(p[if p.len() == 1 { 0 } else { i % last }]);
                    (pw - E::one()) * y + E::one()
                }
            })
            .collect();
        // (1 - y) x + lw (ln(1 + e^-|x|) + max(-x, 0)); d/dx = (1 - y) - lw sigmoid(-x)
        x.map_with_op(
            target.as_slice(),
            &lw,
            |x, y, lw| (E::one() - y) * x + lw * ((-x.abs()).exp().ln_1p() + (-x).max(E::zero())),
            |x, y, lw| (E::one() - y) - lw * crate::ops::sigmoid(-x),
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let l = stensor::loss::BCEWithLogitsLoss::default()
    ///     .forward(Tensor::<(U2,), f64>::zeros(), &Tensor::zeros());
    /// assert!((l.item() - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn forward<S, E, T>(&self, x: Tensor<S, E, T>, target: &Tensor<S, E>) -> Tensor<(), E, T>
    where
        S: Shape,
        E: Element,
        T: TapeMode<E>,
    {
        reduce(self.forward_none(x, target), self.reduction)
    }
}

/// How [`KLDivLoss`] reduces: PyTorch's `"mean"` (over elements, the default), `"batchmean"`
/// (sum over the batch size, the mathematically right one) or `"sum"`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::{KLDivLoss, KLReduction};
/// let kl = KLDivLoss { reduction: KLReduction::BatchMean, ..Default::default() };
/// let p = Tensor::<(U2, U2), f64>::full(0.5);
/// assert_eq!(kl.forward(p.clone().ln(), &p).item(), 0.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KLReduction {
    /// Mean over all elements.
    #[default]
    Mean,
    /// Sum divided by the first dim.
    BatchMean,
    /// Sum.
    Sum,
}

/// Kullback-Leibler divergence of target `y` from log-probabilities `x`:
/// `y (ln y - x)` (0 where `y = 0`), or with `log_target` `e^y (y - x)` (`nn.KLDivLoss`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::{KLDivLoss, KLReduction};
/// let x = Tensor::<(U1, U2), f64>::from_array([[0.5f64.ln(), 0.5f64.ln()]]);
/// let l = KLDivLoss { reduction: KLReduction::BatchMean, log_target: false }.forward(x, &Tensor::from_array([[0.5, 0.5]]));
/// assert!(l.item().abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KLDivLoss {
    /// Mean (default), batch mean or sum.
    pub reduction: KLReduction,
    /// Whether the target holds log-probabilities.
    pub log_target: bool,
}

impl KLDivLoss {
    /// The per-element terms (`reduction="none"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let p = Tensor::<(U2,), f64>::full(0.5);
    /// let l = stensor::loss::KLDivLoss::default().forward_none(p.clone().ln(), &p);
    /// assert_eq!(l.to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn forward_none<S: Shape, E: Element, T: TapeMode<E>>(
        &self,
        x: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<S, E, T> {
        let log_target = self.log_target;
        x.zip_op(
            target,
            move |a, y| {
                if log_target {
                    y.exp() * (y - a)
                } else if y > E::zero() {
                    y * (y.ln() - a)
                } else {
                    E::zero() - y * a
                }
            },
            move |_, y| if log_target { -y.exp() } else { -y },
            move |a, y| {
                if log_target {
                    y.exp() * (y - a + E::one())
                } else if y > E::zero() {
                    y.ln() + E::one() - a
                } else {
                    -a
                }
            },
        )
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let q = Tensor::<(U1, U2), f64>::from_array([[0.25, 0.75]]);
    /// let l = stensor::loss::KLDivLoss::default().forward(q.clone().ln(), &q);
    /// assert_eq!(l.item(), 0.0);
    /// ```
    pub fn forward<S: Shape, E: Element, T: TapeMode<E>>(
        &self,
        x: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<(), E, T> {
        let batch = x.dims().first().copied().unwrap_or(1).max(1);
        let l = self.forward_none(x, target);
        match self.reduction {
            KLReduction::Mean => l.mean(),
            KLReduction::Sum => l.sum(),
            KLReduction::BatchMean => l.sum().div_scalar(E::from_usize(batch)),
        }
    }
}

/// Cross-entropy of logits `(N, C)` or `(N, C, d1, ...)` against class indices or class
/// probabilities (`nn.CrossEntropyLoss`): `weight` per class, `ignore_index`,
/// `label_smoothing`, and PyTorch's weighted mean.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::CrossEntropyLoss;
/// let logits = Tensor::<(U2, U3), f64>::zeros();
/// let l = CrossEntropyLoss::default().forward(logits, &[0, 2]);
/// assert!((l.item() - 3f64.ln()).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropyLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// A weight per class.
    pub weight: Option<Vec<f64>>,
    /// The target value whose positions contribute nothing (PyTorch's default -100).
    pub ignore_index: i64,
    /// Mix `label_smoothing / C` of the uniform distribution into each target.
    pub label_smoothing: f64,
}

/// PyTorch's `ignore_index` default.
const IGNORE_INDEX: i64 = -100;

impl Default for CrossEntropyLoss {
    /// PyTorch's defaults: mean, no weights, `ignore_index=-100`, no smoothing.
    ///
    /// ```
    /// let l = stensor::loss::CrossEntropyLoss::default();
    /// assert_eq!((l.ignore_index, l.label_smoothing), (-100, 0.0));
    /// ```
    fn default() -> Self {
        CrossEntropyLoss {
            reduction: Reduction::Mean,
            weight: None,
            ignore_index: IGNORE_INDEX,
            label_smoothing: 0.0,
        }
    }
}

/// `A`: the coefficient of each log-probability in the loss (see the module's design note).
/// `x` is `(N, C, S)`; `divide` selects the mean's normalizer.
#[allow(clippy::too_many_arguments)]
fn class_coefficients<E: Element, I: ClassIndex>(
    dims: &[usize],
    target: &[I],
    weight: Option<&[f64]>,
    ignore: i64,
    smoothing: f64,
    divide: bool,
) -> Vec<E> {
    let (n, c) = (dims[0], dims[1]);
    let s: usize = dims[2..].iter().product();
    assert_eq!(
        target.len(),
        n * s,
        "{} targets for {n} x {s} positions",
        target.len()
    );
    let w = |k: usize| weight.map_or(1.0, |w| w[k]);
    if let Some(wt) = weight {
        assert_eq!(wt.len(), c, "{} class weights for {c} classes", wt.len());
    }
    let mut denom = 0.0;
    for t in target.iter().map(|t| t.class()) {
        if t != ignore {
            assert!(
                (0..c as i64).contains(&t),
                "target {t} is out of bounds for {c} classes"
            );
            denom += w(t as usize);
        }
    }
    let denom = if divide { denom } else { 1.0 };
    let mut a = vec![E::zero(); n * c * s];
    for b in 0..n {
        for p in 0..s {
            let t = target[b * s + p].class();
            if t == ignore {
                continue;
            }
            let t = t as usize;
            for k in 0..c {
                let hit = if k == t {
                    (1.0 - smoothing) * w(t)
                } else {
                    0.0
                };
                let coef = -(hit + smoothing / c as f64 * w(k)) / denom;
                a[(b * c + k) * s + p] = E::from_f64(coef);
            }
        }
    }
    a
}

impl CrossEntropyLoss {
    fn with_indices<S, E, T, I: ClassIndex>(
        &self,
        x: Tensor<S, E, T>,
        target: &[I],
        log_softmax: bool,
        divide: bool,
    ) -> Tensor<S, E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        let dims = x.dims();
        let a = class_coefficients::<E, I>(
            &dims,
            target,
            self.weight.as_deref(),
            self.ignore_index,
            self.label_smoothing,
            divide,
        );
        let a = Tensor::from_vec_shaped(x.shape(), a).expect("same length");
        let lsm = if log_softmax { x.log_softmax::<1>() } else { x };
        lsm.mul(&a)
    }

    /// The loss against class indices, one per position (`N` or `N * d1 * ...`, row-major).
    ///
    /// # Panics
    /// If the number of targets is not the number of positions, or a target (other than
    /// `ignore_index`) is not a class, or `weight` has a length other than `C`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CrossEntropyLoss;
    /// let l = CrossEntropyLoss::default().forward(Tensor::<(U2, U4, U3), f64>::zeros(), &[0, 1, 2, 3, 0, 1]);
    /// assert!((l.item() - 4f64.ln()).abs() < 1e-15);
    /// ```
    pub fn forward<S, E, T, I: ClassIndex>(
        &self,
        logits: Tensor<S, E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<(), E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        let divide = self.reduction == Reduction::Mean;
        self.with_indices(logits, target.as_ref(), true, divide)
            .sum()
    }

    /// The per-position losses (`reduction="none"`), shape `(N, d1, ...)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CrossEntropyLoss;
    /// let l: Tensor<(U2,)> = CrossEntropyLoss::default().forward_none(Tensor::<(U2, U4)>::zeros(), &[1, 3]);
    /// assert_eq!(l.dims(), [2]);
    /// ```
    pub fn forward_none<S, E, T, I: ClassIndex>(
        &self,
        logits: Tensor<S, E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        self.with_indices(logits, target.as_ref(), true, false)
            .sum_axis::<1>()
    }

    /// The loss against class probabilities of the logits' shape (soft labels); the mean
    /// divides by the number of positions, as PyTorch.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CrossEntropyLoss;
    /// let p = Tensor::<(U1, U2), f64>::from_array([[0.5, 0.5]]);
    /// let l = CrossEntropyLoss::default().forward_probs(Tensor::<(U1, U2), f64>::zeros(), &p);
    /// assert!((l.item() - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn forward_probs<S, E, T>(
        &self,
        logits: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<(), E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        let dims = logits.dims();
        let positions = logits.numel() / dims[1].max(1);
        let l = self.probs_terms(logits, target).sum();
        match self.reduction {
            Reduction::Mean => l.div_scalar(E::from_usize(positions)),
            Reduction::Sum => l,
        }
    }

    /// Per-position losses against class probabilities (`reduction="none"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::CrossEntropyLoss;
    /// let p = Tensor::<(U2, U2)>::from_array([[1.0, 0.0], [0.0, 1.0]]);
    /// let l = CrossEntropyLoss::default().forward_probs_none(Tensor::<(U2, U2)>::zeros(), &p);
    /// assert_eq!(l.dims(), [2]);
    /// ```
    pub fn forward_probs_none<S, E, T>(
        &self,
        logits: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        self.probs_terms(logits, target).sum_axis::<1>()
    }

    fn probs_terms<S, E, T>(
        &self,
        logits: Tensor<S, E, T>,
        target: &Tensor<S, E>,
    ) -> Tensor<S, E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        let dims = logits.dims();
        let (c, s) = (dims[1], dims[2..].iter().product::<usize>());
        if let Some(w) = &self.weight {
            assert_eq!(w.len(), c, "{} class weights for {c} classes", w.len());
        }
        let eps = self.label_smoothing;
        let a: Vec<E> = target
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let k = (i / s.max(1)) % c;
                let w = self.weight.as_ref().map_or(1.0, |w| w[k]);
                E::from_f64(-(t.as_f64() * (1.0 - eps) + eps / c as f64) * w)
            })
            .collect();
        let a = Tensor::from_vec_shaped(logits.shape(), a).expect("same length");
        logits.log_softmax::<1>().mul(&a)
    }
}

/// Negative log-likelihood of log-probabilities `(N, C)` or `(N, C, d1, ...)` against class
/// indices (`nn.NLLLoss`): `weight`, `ignore_index`, PyTorch's weighted mean.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::NLLLoss;
/// let lp = Tensor::<(U1, U2), f64>::from_array([[-0.1, -2.3]]);
/// assert_eq!(NLLLoss::default().forward(lp, &[1]).item(), 2.3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NLLLoss {
    /// Mean (default) or sum.
    pub reduction: Reduction,
    /// A weight per class.
    pub weight: Option<Vec<f64>>,
    /// The target value whose positions contribute nothing (PyTorch's default -100).
    pub ignore_index: i64,
}

impl Default for NLLLoss {
    /// PyTorch's defaults: mean, no weights, `ignore_index=-100`.
    ///
    /// ```
    /// assert_eq!(stensor::loss::NLLLoss::default().ignore_index, -100);
    /// ```
    fn default() -> Self {
        NLLLoss {
            reduction: Reduction::Mean,
            weight: None,
            ignore_index: IGNORE_INDEX,
        }
    }
}

impl NLLLoss {
    fn as_ce(&self) -> CrossEntropyLoss {
        CrossEntropyLoss {
            reduction: self.reduction,
            weight: self.weight.clone(),
            ignore_index: self.ignore_index,
            label_smoothing: 0.0,
        }
    }

    /// The loss against class indices.
    ///
    /// # Panics
    /// As [`CrossEntropyLoss::forward`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let lp = Tensor::<(U2, U2), f64>::from_array([[-1.0, -2.0], [-3.0, -4.0]]);
    /// assert_eq!(stensor::loss::NLLLoss::default().forward(lp, &[1, 0]).item(), 2.5);
    /// ```
    pub fn forward<S, E, T, I: ClassIndex>(
        &self,
        log_probs: Tensor<S, E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<(), E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        let divide = self.reduction == Reduction::Mean;
        self.as_ce()
            .with_indices(log_probs, target.as_ref(), false, divide)
            .sum()
    }

    /// The per-position losses (`reduction="none"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::NLLLoss;
    /// let l = NLLLoss::default().forward_none(Tensor::<(U2, U2)>::from_array([[-1.0, -2.0], [-3.0, -4.0]]), &[0, 1]);
    /// assert_eq!(l.to_vec(), vec![1.0, 4.0]);
    /// ```
    pub fn forward_none<S, E, T, I: ClassIndex>(
        &self,
        log_probs: Tensor<S, E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<S::Output, E, T>
    where
        S: RemoveAxis<1>,
        E: Element,
        T: TapeMode<E>,
    {
        self.as_ce()
            .with_indices(log_probs, target.as_ref(), false, false)
            .sum_axis::<1>()
    }
}
