//! The functional forms of the layers (PyTorch's `torch.nn.functional`), with the weights
//! passed in. Hyper-parameters are passed as values of their types, in PyTorch's argument order,
//! e.g. `conv2d(x, &w, Some(&b), U2::new(), U1::new(), U1::new(), U1::new())` for
//! `F.conv2d(x, w, b, stride=2, padding=1)`. Each calls the typed op in [`crate::ops`]
//! (`Tensor::conv2d`, `Tensor::batch_norm`, ...) that the layer calls too, so a layer is its
//! parameters plus this call; unlike the layers' `from_params`, these leave `requires_grad` of
//! the weights as the caller set it. Activations without parameters are tensor methods
//! (`x.relu()`).
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::functional as F;
//! let x = Tensor::<(U1, U2, U5, U5)>::ones();
//! let w = Tensor::<(U4, U2, U3, U3)>::ones();
//! let y = F::conv2d(x, &w, None, U1::new(), U1::new(), U1::new(), U1::new());
//! let y = F::max_pool2d(y, U2::new(), U2::new(), U0::new(), U1::new(), False::new());
//! assert_eq!(y.dims(), [1, 4, 2, 2]);
//! ```

use super::*;
use crate::autograd::TapeMode;
use crate::shape::{ConstDim, LinearShape, Shape};
use crate::tensor::{Element, Rng, Tensor};
use core::ops::Mul;
use typenum::{Prod, U1};

/// `x W^T + b` over the last dim (`F.linear`).
///
/// ```
/// use stensor::prelude::*;
/// let w = Tensor::<(U1, U2)>::from_array([[1.0, 2.0]]);
/// let y = stensor::nn::functional::linear(Tensor::<(U2,)>::ones(), &w, None);
/// assert_eq!(y.to_vec(), vec![3.0]);
/// ```
pub fn linear<X, I, O, E, T>(
    x: Tensor<X, E, T>,
    weight: &Tensor<(O, I), E>,
    bias: Option<&Tensor<(O,), E>>,
) -> Tensor<X::Output, E, T>
where
    X: LinearShape<I, O>,
    I: ConstDim,
    O: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    x.linear(weight, bias)
}

macro_rules! functional_conv {
    ($(#[$doc:meta])* $f:ident, $shape:ident, [$($Kd:ident),+]) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $f<X, CO, CIG, $($Kd,)+ S, P, D, G, E, T>(
            x: Tensor<X, E, T>,
            weight: &Tensor<(CO, CIG, $($Kd,)+), E>,
            bias: Option<&Tensor<(CO,), E>>,
            _stride: S,
            _padding: P,
            _dilation: D,
            _groups: G,
        ) -> Tensor<X::Output, E, T>
        where
            X: $shape<Prod<CIG, G>, CO, ($($Kd,)+), S, P, D, G, Zeros>,
            $($Kd: ConstDim,)+
            CO: ConstDim,
            CIG: ConstDim + Mul<G>,
            G: Groups<Prod<CIG, G>, CO, InPerGroup = CIG>,
            E: Element,
            T: TapeMode<E>,
        {
            x.$f::<Prod<CIG, G>, CO, ($($Kd,)+), S, P, D, G, Zeros>(weight, bias)
        }
    };
}
functional_conv!(
    /// A 1-d convolution (`F.conv1d(x, w, b, stride, padding, dilation, groups)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U1, U1, U2)>::from_array([[[1.0, -1.0]]]);
    /// let x = Tensor::<(U1, U1, U4)>::from_array([[[1.0, 2.0, 4.0, 8.0]]]);
    /// let y = stensor::nn::functional::conv1d(x, &w, None, U1::new(), U0::new(), U1::new(), U1::new());
    /// assert_eq!(y.to_vec(), vec![-1.0, -2.0, -4.0]);
    /// ```
    conv1d, Conv1dShape, [KL]
);
functional_conv!(
    /// A 2-d convolution (`F.conv2d(x, w, b, stride, padding, dilation, groups)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Same;
    /// let w = Tensor::<(U2, U1, U3, U3)>::ones();
    /// let y = stensor::nn::functional::conv2d(Tensor::<(U1, U2, U4, U4)>::ones(), &w, None, U1::new(), Same, U1::new(), U2::new());
    /// assert_eq!(y.dims(), [1, 2, 4, 4]);
    /// ```
    conv2d, Conv2dShape, [KH, KW]
);
functional_conv!(
    /// A 3-d convolution (`F.conv3d(x, w, b, stride, padding, dilation, groups)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U1, U1, U2, U2, U2)>::ones();
    /// let y = stensor::nn::functional::conv3d(Tensor::<(U1, U1, U2, U2, U2)>::ones(), &w, None, U1::new(), U0::new(), U1::new(), U1::new());
    /// assert_eq!(y.to_vec(), vec![8.0]);
    /// ```
    conv3d, Conv3dShape, [KD, KH, KW]
);

macro_rules! functional_conv_transpose {
    ($(#[$doc:meta])* $f:ident, $shape:ident, [$($Kd:ident),+]) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $f<X, CI, COG, $($Kd,)+ S, P, OP, G, D, E, T>(
            x: Tensor<X, E, T>,
            weight: &Tensor<(CI, COG, $($Kd,)+), E>,
            bias: Option<&Tensor<(Prod<COG, G>,), E>>,
            _stride: S,
            _padding: P,
            _output_padding: OP,
            _groups: G,
            _dilation: D,
        ) -> Tensor<X::Output, E, T>
        where
            X: $shape<CI, Prod<COG, G>, ($($Kd,)+), S, P, OP, G, D>,
            $($Kd: ConstDim,)+
            CI: ConstDim,
            COG: ConstDim + Mul<G>,
            Prod<COG, G>: ConstDim,
            G: Groups<CI, Prod<COG, G>, OutPerGroup = COG>,
            E: Element,
            T: TapeMode<E>,
        {
            x.$f::<CI, Prod<COG, G>, ($($Kd,)+), S, P, OP, G, D>(weight, bias)
        }
    };
}
functional_conv_transpose!(
    /// A 1-d transposed convolution (`F.conv_transpose1d(x, w, b, stride, padding,
    /// output_padding, groups, dilation)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U1, U1, U2)>::ones();
    /// let y = stensor::nn::functional::conv_transpose1d(Tensor::<(U1, U1, U2)>::ones(), &w, None, U2::new(), U0::new(), U0::new(), U1::new(), U1::new());
    /// assert_eq!(y.to_vec(), vec![1.0; 4]);
    /// ```
    conv_transpose1d, ConvTranspose1dShape, [KL]
);
functional_conv_transpose!(
    /// A 2-d transposed convolution (`F.conv_transpose2d(x, w, b, stride, padding,
    /// output_padding, groups, dilation)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U1, U1, U2, U2)>::ones();
    /// let y = stensor::nn::functional::conv_transpose2d(Tensor::<(U1, U1, U1, U1)>::ones(), &w, None, U1::new(), U0::new(), U0::new(), U1::new(), U1::new());
    /// assert_eq!(y.to_vec(), vec![1.0; 4]);
    /// ```
    conv_transpose2d, ConvTranspose2dShape, [KH, KW]
);

macro_rules! functional_max_pool {
    ($(#[$doc:meta])* $f:ident, $shape:ident) => {
        $(#[$doc])*
        pub fn $f<X, K, S, P, D, C, E, T>(
            x: Tensor<X, E, T>,
            _kernel: K,
            _stride: S,
            _padding: P,
            _dilation: D,
            _ceil_mode: C,
        ) -> Tensor<X::Output, E, T>
        where
            X: $shape<K, S, P, D, C>,
            E: Element,
            T: TapeMode<E>,
        {
            x.$f::<K, S, P, D, C>()
        }
    };
}
functional_max_pool!(
    /// `F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::max_pool1d(Tensor::<(U1, U1, U4)>::arange(), U2::new(), U2::new(), U0::new(), U1::new(), False::new());
    /// assert_eq!(y.to_vec(), vec![1.0, 3.0]);
    /// ```
    max_pool1d, Pool1dShape
);
functional_max_pool!(
    /// `F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::max_pool2d(Tensor::<(U1, U1, U2, U2)>::arange(), U2::new(), U2::new(), U0::new(), U1::new(), False::new());
    /// assert_eq!(y.to_vec(), vec![3.0]);
    /// ```
    max_pool2d, Pool2dShape
);
functional_max_pool!(
    /// `F.max_pool3d(x, kernel, stride, padding, dilation, ceil_mode)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::max_pool3d(Tensor::<(U1, U1, U2, U2, U2)>::arange(), U2::new(), U2::new(), U0::new(), U1::new(), False::new());
    /// assert_eq!(y.to_vec(), vec![7.0]);
    /// ```
    max_pool3d, Pool3dShape
);

macro_rules! functional_avg_pool {
    ($(#[$doc:meta])* $f:ident, $shape:ident) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $f<X, K, S, P, C, E, T>(
            x: Tensor<X, E, T>,
            _kernel: K,
            _stride: S,
            _padding: P,
            _ceil_mode: C,
            count_include_pad: bool,
            divisor_override: Option<usize>,
        ) -> Tensor<X::Output, E, T>
        where
            X: $shape<K, S, P, U1, C>,
            E: Element,
            T: TapeMode<E>,
        {
            x.$f::<K, S, P, C>(count_include_pad, divisor_override)
        }
    };
}
functional_avg_pool!(
    /// `F.avg_pool1d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::avg_pool1d(Tensor::<(U1, U1, U4)>::arange(), U2::new(), U2::new(), U0::new(), False::new(), true, None);
    /// assert_eq!(y.to_vec(), vec![0.5, 2.5]);
    /// ```
    avg_pool1d, Pool1dShape
);
functional_avg_pool!(
    /// `F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::avg_pool2d(Tensor::<(U1, U1, U2, U2)>::arange(), U2::new(), U2::new(), U0::new(), False::new(), true, Some(2));
    /// assert_eq!(y.to_vec(), vec![3.0]);
    /// ```
    avg_pool2d, Pool2dShape
);
functional_avg_pool!(
    /// `F.avg_pool3d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = stensor::nn::functional::avg_pool3d(Tensor::<(U1, U1, U2, U2, U2)>::arange(), U2::new(), U2::new(), U0::new(), False::new(), true, None);
    /// assert_eq!(y.to_vec(), vec![3.5]);
    /// ```
    avg_pool3d, Pool3dShape
);

/// `F.adaptive_avg_pool1d(x, output_size)`.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::adaptive_avg_pool1d(Tensor::<(U1, U1, U4)>::arange(), U1::new());
/// assert_eq!(y.to_vec(), vec![1.5]);
/// ```
pub fn adaptive_avg_pool1d<X, O, E, T>(
    x: Tensor<X, E, T>,
    _output_size: O,
) -> Tensor<X::Output, E, T>
where
    X: Adaptive1dShape<O>,
    E: Element,
    T: TapeMode<E>,
{
    x.adaptive_avg_pool1d::<O>()
}

/// `F.adaptive_avg_pool2d(x, (oh, ow))`.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::adaptive_avg_pool2d(Tensor::<(U1, U1, U2, U2)>::arange(), (U1::new(), U1::new()));
/// assert_eq!(y.to_vec(), vec![1.5]);
/// ```
pub fn adaptive_avg_pool2d<X, OH, OW, E, T>(
    x: Tensor<X, E, T>,
    _output_size: (OH, OW),
) -> Tensor<X::Output, E, T>
where
    X: Adaptive2dShape<OH, OW>,
    E: Element,
    T: TapeMode<E>,
{
    x.adaptive_avg_pool2d::<OH, OW>()
}

/// `F.adaptive_max_pool1d(x, output_size)`.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::adaptive_max_pool1d(Tensor::<(U1, U1, U4)>::arange(), U1::new());
/// assert_eq!(y.to_vec(), vec![3.0]);
/// ```
pub fn adaptive_max_pool1d<X, O, E, T>(
    x: Tensor<X, E, T>,
    _output_size: O,
) -> Tensor<X::Output, E, T>
where
    X: Adaptive1dShape<O>,
    E: Element,
    T: TapeMode<E>,
{
    x.adaptive_max_pool1d::<O>()
}

/// `F.adaptive_max_pool2d(x, (oh, ow))`.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::adaptive_max_pool2d(Tensor::<(U1, U1, U2, U2)>::arange(), (U1::new(), U1::new()));
/// assert_eq!(y.to_vec(), vec![3.0]);
/// ```
pub fn adaptive_max_pool2d<X, OH, OW, E, T>(
    x: Tensor<X, E, T>,
    _output_size: (OH, OW),
) -> Tensor<X::Output, E, T>
where
    X: Adaptive2dShape<OH, OW>,
    E: Element,
    T: TapeMode<E>,
{
    x.adaptive_max_pool2d::<OH, OW>()
}

/// `F.pad(x, (left, right, top, bottom), mode, value)` for `(N, C, H, W)` input: `M` is the mode
/// ([`Zeros`], [`Constant`], [`Reflect`], [`Replicate`], [`Circular`]).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Constant;
/// let y = stensor::nn::functional::pad2d(Tensor::<(U1, U1, U1, U1)>::zeros(), Constant, (U1::new(), U0::new(), U0::new(), U0::new()), 5.0);
/// assert_eq!(y.to_vec(), vec![5.0, 0.0]);
/// ```
pub fn pad2d<X, M, L, R, T, B, E, Tp>(
    x: Tensor<X, E, Tp>,
    _mode: M,
    _padding: (L, R, T, B),
    value: f64,
) -> Tensor<X::Output, E, Tp>
where
    X: Pad2dShape<M, L, R, T, B>,
    M: PaddingMode,
    E: Element,
    Tp: TapeMode<E>,
{
    x.pad2d::<M, L, R, T, B>(value)
}

/// `F.pad(x, (left, right), mode, value)` for `(N, C, W)` input.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Reflect;
/// let y = stensor::nn::functional::pad1d(Tensor::<(U1, U1, U3)>::arange(), Reflect, (U1::new(), U1::new()), 0.0);
/// assert_eq!(y.to_vec(), vec![1.0, 0.0, 1.0, 2.0, 1.0]);
/// ```
pub fn pad1d<X, M, L, R, E, Tp>(
    x: Tensor<X, E, Tp>,
    _mode: M,
    _padding: (L, R),
    value: f64,
) -> Tensor<X::Output, E, Tp>
where
    X: Pad1dShape<M, L, R>,
    M: PaddingMode,
    E: Element,
    Tp: TapeMode<E>,
{
    x.pad1d::<M, L, R>(value)
}

/// `F.pixel_shuffle(x, upscale_factor)`: the [`Tensor::pixel_shuffle`] op.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::pixel_shuffle(Tensor::<(U1, U4, U3, U3)>::zeros(), U2::new());
/// assert_eq!(y.dims(), [1, 1, 6, 6]);
/// ```
pub fn pixel_shuffle<S, R, E, T>(
    x: Tensor<S, E, T>,
    _upscale_factor: R,
) -> Tensor<<S as crate::shape::PixelShuffleShape<R>>::Output, E, T>
where
    S: crate::shape::PixelShuffleShape<R>,
    R: ConstDim,
    E: Element,
    T: crate::autograd::TapeMode<E>,
{
    x.pixel_shuffle::<R>()
}

/// `F.pixel_unshuffle(x, downscale_factor)`: the [`Tensor::pixel_unshuffle`] op.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::pixel_unshuffle(Tensor::<(U1, U1, U6, U6)>::zeros(), U2::new());
/// assert_eq!(y.dims(), [1, 4, 3, 3]);
/// ```
pub fn pixel_unshuffle<S, R, E, T>(
    x: Tensor<S, E, T>,
    _downscale_factor: R,
) -> Tensor<<S as crate::shape::PixelUnshuffleShape<R>>::Output, E, T>
where
    S: crate::shape::PixelUnshuffleShape<R>,
    R: ConstDim,
    E: Element,
    T: crate::autograd::TapeMode<E>,
{
    x.pixel_unshuffle::<R>()
}

/// `F.layer_norm(x, normalized_shape, weight, bias, eps)`: the [`Tensor::layer_norm`] op.
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<(U1, U2), f64>::from_array([[1.0, 3.0]]);
/// let y = stensor::nn::functional::layer_norm(x, (U2::new(),), None, None, 0.0);
/// assert_eq!(y.to_vec(), vec![-1.0, 1.0]);
/// ```
pub fn layer_norm<S, NS, E, T>(
    x: Tensor<S, E, T>,
    _normalized_shape: NS,
    weight: Option<&Tensor<NS, E>>,
    bias: Option<&Tensor<NS, E>>,
    eps: f64,
) -> Tensor<S, E, T>
where
    S: crate::shape::BroadcastSuffix<NS>,
    NS: crate::shape::ConstShape,
    E: Element,
    T: TapeMode<E>,
{
    x.layer_norm::<NS>(weight, bias, eps)
}

/// `F.group_norm(x, num_groups, weight, bias, eps)` for `(N, C, ..)` input: the
/// [`Tensor::group_norm`] op, `G` groups of `C` channels (`G` must divide `C`).
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<(U1, U4, U1, U1), f64>::from_array([[[[1.0]], [[3.0]], [[5.0]], [[9.0]]]]);
/// let w = Tensor::<(U4,), f64>::full(2.0);
/// let y = stensor::nn::functional::group_norm(x, U2::new(), Some(&w), None, 0.0);
/// assert_eq!(y.to_vec(), vec![-2.0, 2.0, -2.0, 2.0]);
/// ```
pub fn group_norm<X, G, C, E, T>(
    x: Tensor<X, E, T>,
    _num_groups: G,
    weight: Option<&Tensor<(C,), E>>,
    bias: Option<&Tensor<(C,), E>>,
    eps: f64,
) -> Tensor<X, E, T>
where
    X: Channels<C>,
    G: NormGroups<C>,
    C: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    x.group_norm::<G, C>(weight, bias, eps)
}

/// `F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)` for
/// `(N, C, ..)` input, the running mean and variance together in [`RunningStats`]: the
/// [`Tensor::batch_norm`] op.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{functional as F, RunningStats};
/// let mut running = RunningStats::<U2, f64>::new();
/// let x = Tensor::<(U2, U2, U3), f64>::arange();
/// let y = F::batch_norm(x, Some(&mut running), None, None, true, Some(0.1), 1e-5);
/// assert!(y.mean().item().abs() < 1e-12);
/// assert_eq!(running.num_batches_tracked, 1);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn batch_norm<X, C, E, T>(
    x: Tensor<X, E, T>,
    running: Option<&mut RunningStats<C, E>>,
    weight: Option<&Tensor<(C,), E>>,
    bias: Option<&Tensor<(C,), E>>,
    training: bool,
    momentum: Option<f64>,
    eps: f64,
) -> Tensor<X, E, T>
where
    X: Channels<C>,
    C: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    x.batch_norm(running, weight, bias, training, momentum, eps)
}

/// `F.instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum,
/// eps)` for `(N, C, ..)` input with spatial dims: the [`Tensor::instance_norm`] op.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::functional as F;
/// let x = Tensor::<(U1, U1, U4), f64>::from_array([[[1.0, 1.0, 3.0, 3.0]]]);
/// let y = F::instance_norm::<_, U1, _, _>(x, None, None, None, true, 0.1, 0.0);
/// assert_eq!(y.to_vec(), vec![-1.0, -1.0, 1.0, 1.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn instance_norm<X, C, E, T>(
    x: Tensor<X, E, T>,
    running: Option<&mut RunningStats<C, E>>,
    weight: Option<&Tensor<(C,), E>>,
    bias: Option<&Tensor<(C,), E>>,
    use_input_stats: bool,
    momentum: f64,
    eps: f64,
) -> Tensor<X, E, T>
where
    X: SpatialChannels<C>,
    C: ConstDim,
    E: Element,
    T: TapeMode<E>,
{
    x.instance_norm(running, weight, bias, use_input_stats, momentum, eps)
}

/// `F.prelu(x, weight)`: the [`Tensor::prelu`] op (the other activations are tensor methods,
/// `x.relu()`, `x.gelu()`, ..., as `torch.relu(x)`).
///
/// ```
/// use stensor::prelude::*;
/// let w = Tensor::<(U1,)>::from_array([0.25]);
/// let y = stensor::nn::functional::prelu(Tensor::<(U2,)>::from_array([-4.0, 3.0]), &w);
/// assert_eq!(y.to_vec(), vec![-1.0, 3.0]);
/// ```
pub fn prelu<S: Shape, W: ConstDim, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
    weight: &Tensor<(W,), E>,
) -> Tensor<S, E, T> {
    x.prelu(weight)
}

/// `F.dropout(x, p, training)`, the mask drawn from `rng`: the [`Tensor::dropout`] op.
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<(U4,)>::ones();
/// let y = stensor::nn::functional::dropout(x.clone(), 0.5, false, &mut Rng::seed(0));
/// assert_eq!(y.to_vec(), x.to_vec());
/// ```
pub fn dropout<S: Shape, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
    p: f64,
    training: bool,
    rng: &mut Rng,
) -> Tensor<S, E, T> {
    x.dropout(p, training, rng)
}

/// `F.dropout2d(x, p, training)`, the mask drawn from `rng`: the [`Tensor::dropout2d`] op.
///
/// ```
/// use stensor::prelude::*;
/// let y = stensor::nn::functional::dropout2d(Tensor::<(U1, U4, U2)>::ones(), 1.0, true, &mut Rng::seed(0));
/// assert_eq!(y.to_vec(), vec![0.0; 8]);
/// ```
pub fn dropout2d<S: Shape, E: Element, T: TapeMode<E>>(
    x: Tensor<S, E, T>,
    p: f64,
    training: bool,
    rng: &mut Rng,
) -> Tensor<S, E, T> {
    x.dropout2d(p, training, rng)
}
