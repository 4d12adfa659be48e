//! Dropout as ops (PyTorch's `F.dropout`, `F.dropout2d`): a mask drawn from the caller's
//! generator, applied as a recorded product, so the gradient is the same mask.

use crate::autograd::TapeMode;
use crate::rng::Rng;
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)` in
    /// training; the input itself otherwise (`F.dropout(x, p, training)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U<1000>,), f64>::ones().dropout(0.5, true, &mut Rng::seed(1));
    /// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
    /// ```
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]` (PyTorch raises too).
    pub fn dropout(self, p: f64, training: bool, rng: &mut Rng) -> Self {
        let n = self.numel();
        drop_units(self, p, training, rng, n, 1)
    }

    /// Zeroes each whole channel of `(N, C, ..)` with probability `p` and scales the rest by
    /// `1 / (1 - p)` in training (`F.dropout2d(x, p, training)`); below rank 3 it drops single
    /// elements, as [`Tensor::dropout`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2, U8, U3, U3)>::ones().dropout2d(0.5, true, &mut Rng::seed(3));
    /// for ch in y.to_vec().chunks(9) {
    ///     assert!(ch.iter().all(|&v| v == ch[0]));
    /// }
    /// ```
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    pub fn dropout2d(self, p: f64, training: bool, rng: &mut Rng) -> Self {
        let dims = self.dims();
        if dims.len() < 3 {
            return self.dropout(p, training, rng);
        }
        let per = dims[2..].iter().product();
        drop_units(self, p, training, rng, dims[0] * dims[1], per)
    }
}

/// Zeroes each of `units` runs of `per_unit` elements with probability `p` (the survivors
/// scaled by `1 / (1 - p)`), one draw per unit in order.
fn drop_units<S: Shape, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
    p: f64,
    training: bool,
    rng: &mut Rng,
    units: usize,
    per_unit: usize,
) -> Tensor<S, E, T> {
    assert!(
        (0.0..=1.0).contains(&p),
        "dropout probability has to be between 0 and 1, but got {p}"
    );
    if !training || p == 0.0 {
        return x;
    }
    let keep = if p >= 1.0 {
        E::zero()
    } else {
        E::from_f64(1.0 / (1.0 - p))
    };
    let mut mask = Vec::with_capacity(x.numel());
    for _ in 0..units {
        let m = if rng.next_f64() < p { E::zero() } else { keep };
        mask.extend(std::iter::repeat_n(m, per_unit));
    }
    let mask = Tensor::from_vec_shaped(x.shape(), mask).expect("mask has the input's length");
    x.mul(&mask)
}
