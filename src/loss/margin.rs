//! The multi-class margin losses: `nn.MultiMarginLoss` (one target class per sample) and
//! `nn.MultiLabelMarginLoss` (a list of target classes per sample).

use super::{reduce, ClassIndex, Reduction};
use crate::autograd::TapeMode;
use crate::shape::Dim;
use crate::tensor::{Element, Indices, Tensor};

/// A hinge between the target class's score and every other class's (`nn.MultiMarginLoss`):
/// per sample `sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C`, with PyTorch's defaults
/// `p = 1`, `margin = 1`, no weights. The mean is over the samples (weights do not change the
/// divisor, as PyTorch's).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::MultiMarginLoss;
/// let x = Tensor::<(U1, U3), f64>::from_array([[0.1, 0.2, 0.4]]);
/// // (1 - 0.4 + 0.1) + (1 - 0.4 + 0.2), over 3 classes
/// let l = MultiMarginLoss::default().forward(x, &[2]);
/// assert!((l.item() - 1.5 / 3.0).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MultiMarginLoss {
    /// Mean over the samples (default) or sum.
    pub reduction: Reduction,
    /// The power of each hinge: 1 (default) or 2.
    pub p: u32,
    /// How far the target's score must lead (default 1).
    pub margin: f64,
    /// A weight per class; a sample's loss is scaled by its target's.
    pub weight: Option<Vec<f64>>,
}

impl Default for MultiMarginLoss {
    fn default() -> Self {
        MultiMarginLoss {
            reduction: Reduction::Mean,
            p: 1,
            margin: 1.0,
            weight: None,
        }
    }
}

/// The targets as checked class indices below `c`, one per sample.
fn checked_classes<I: ClassIndex>(target: &[I], n: usize, c: usize, loss: &str) -> Vec<usize> {
    assert_eq!(
        target.len(),
        n,
        "{loss}: {} targets for {n} samples",
        target.len()
    );
    target
        .iter()
        .map(|t| {
            let t = t.class();
            assert!(
                (0..c as i64).contains(&t),
                "{loss}: target {t} is out of bounds for {c} classes"
            );
            t as usize
        })
        .collect()
}

impl MultiMarginLoss {
    /// The per-sample losses (`reduction="none"`), shape `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::MultiMarginLoss;
    /// let x = Tensor::<(usize, U4), f64>::zeros_shaped((3, U4::new()));
    /// let l = MultiMarginLoss { p: 2, ..Default::default() }.forward_none(x, &[0usize, 1, 3]);
    /// assert_eq!(l.to_vec(), vec![0.75; 3]);
    /// ```
    ///
    /// # Panics
    /// If `p` is not 1 or 2, the number of targets is not `N`, a target is not a class, or
    /// `weight` has a length other than `C`.
    pub fn forward_none<N: Dim, C: Dim, E: Element, T: TapeMode<E>, I: ClassIndex>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<(N,), E, T> {
        assert!(
            self.p == 1 || self.p == 2,
            "MultiMarginLoss: p must be 1 or 2, got {}",
            self.p
        );
        let [n, c] = [x.dims()[0], x.dims()[1]];
        let y = checked_classes(target.as_ref(), n, c, "MultiMarginLoss");
        let weight = self.weight.as_ref().map(|w| {
            assert_eq!(
                w.len(),
                c,
                "MultiMarginLoss: {} weights for {c} classes",
                w.len()
            );
            w.iter().map(|&v| E::from_f64(v)).collect()
        });
        crate::ops::multi_margin(x, y, self.p as i32, self.margin, weight)
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::{MultiMarginLoss, Reduction};
    /// let x = Tensor::<(U2, U2), f64>::from_array([[2.0, 0.0], [0.0, 0.5]]);
    /// let l = MultiMarginLoss { reduction: Reduction::Sum, ..Default::default() };
    /// // the first sample clears the margin; the second misses it by 0.5, over 2 classes
    /// assert_eq!(l.forward(x, &[0, 1]).item(), 0.25);
    /// ```
    ///
    /// # Panics
    /// As [`forward_none`](Self::forward_none).
    pub fn forward<N: Dim, C: Dim, E: Element, T: TapeMode<E>, I: ClassIndex>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &(impl AsRef<[I]> + ?Sized),
    ) -> Tensor<(), E, T> {
        reduce(self.forward_none(x, target), self.reduction)
    }
}

/// A hinge between every target class's score and every non-target class's
/// (`nn.MultiLabelMarginLoss`): per sample `sum_{j in Y} sum_{i not in Y} max(0, 1 - (x[j] -
/// x[i])) / C`. Each sample's row of the `(N, C)` target lists its classes `Y` and ends at the
/// first `-1` (or the row's end), as PyTorch's.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::loss::MultiLabelMarginLoss;
/// let x = Tensor::<(U1, U4), f64>::from_array([[0.1, 0.2, 0.4, 0.8]]);
/// let y = Indices::<(U1, U4)>::from_array([[3, 0, -1, 1]]); // classes 3 and 0
/// let l = MultiLabelMarginLoss::default().forward(x, &y);
/// // class 3 against 1 and 2: (1 - 0.6) + (1 - 0.4); class 0 against them: 1.1 + 1.3
/// assert!((l.item() - 0.85).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MultiLabelMarginLoss {
    /// Mean over the samples (default) or sum.
    pub reduction: Reduction,
}

impl MultiLabelMarginLoss {
    /// The per-sample losses (`reduction="none"`), shape `(N,)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::MultiLabelMarginLoss;
    /// let x = Tensor::<(U2, U3), f64>::zeros();
    /// let y = Indices::<(U2, U3)>::from_array([[0, -1, 0], [-1, 0, 0]]);
    /// // the first sample: class 0 against 1 and 2; the second lists no class
    /// assert_eq!(MultiLabelMarginLoss::default().forward_none(x, &y).to_vec(), vec![2.0 / 3.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the target's runtime dims differ from the input's, or a listed class is out of range.
    pub fn forward_none<N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &Indices<(N, C)>,
    ) -> Tensor<(N,), E, T> {
        crate::ops::assert_same_dims(&x.shape(), &target.shape(), "MultiLabelMarginLoss");
        let c = x.dims()[1];
        for row in target.as_slice().chunks(c.max(1)) {
            for &t in row.iter().take_while(|&&t| t >= 0) {
                assert!(
                    (t as u64) < c as u64,
                    "MultiLabelMarginLoss: target {t} is out of bounds for {c} classes"
                );
            }
        }
        crate::ops::multilabel_margin(x, target.to_vec())
    }

    /// The reduced loss.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::loss::{MultiLabelMarginLoss, Reduction};
    /// let x = Tensor::<(U1, U2), f64>::from_array([[3.0, 0.0]]);
    /// let y = Indices::<(U1, U2)>::from_array([[0, -1]]);
    /// assert_eq!(MultiLabelMarginLoss { reduction: Reduction::Sum }.forward(x, &y).item(), 0.0);
    /// ```
    ///
    /// # Panics
    /// As [`forward_none`](Self::forward_none).
    pub fn forward<N: Dim, C: Dim, E: Element, T: TapeMode<E>>(
        &self,
        x: Tensor<(N, C), E, T>,
        target: &Indices<(N, C)>,
    ) -> Tensor<(), E, T> {
        reduce(self.forward_none(x, target), self.reduction)
    }
}
