//! The layers with parameters, in `f64`: the same types as in [`crate::nn`] with the element
//! type already given, so the hyper-parameters keep their defaults. `in_f64::Conv2d<U6, U16,
//! U5>` is `nn::Conv2d<U6, U16, U5, U1, U0, U1, U1, Zeros, f64>` (the element type is the last
//! parameter of the layers themselves, after every default, so that `f32` users never write it).
//! Layers without parameters (activations, pooling, padding, `Flatten`, `PixelShuffle`) take
//! any element type as they are.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{in_f64, Forward, MaxPool2d};
//! let mut rng = Rng::seed(0);
//! let conv = in_f64::Conv2d::<U1, U6, U5, U1, U2>::new(&mut rng);
//! let fc = in_f64::Linear::<U4, U2>::new(&mut rng);
//! let y: Tensor<(U2, U6, U14, U14), f64> = MaxPool2d::<U2>::new().forward(conv.forward(Tensor::<(U2, U1, U28, U28), f64>::zeros()));
//! assert_eq!(fc.forward(Tensor::<(U4,), f64>::ones()).dims(), [2]);
//! assert_eq!(y.dims(), [2, 6, 14, 14]);
//! ```

use super::Zeros;
use typenum::{U0, U1};

/// [`nn::Linear`](super::Linear) in `f64`.
///
/// ```
/// let fc = stensor::nn::in_f64::Linear::<stensor::dims::U3, stensor::dims::U2>::new(&mut stensor::tensor::Rng::seed(0));
/// assert_eq!(fc.weight.dims(), [2, 3]);
/// ```
pub type Linear<I, O> = super::Linear<I, O, f64>;
/// [`nn::PReLU`](super::PReLU) in `f64`.
///
/// ```
/// let p = stensor::nn::in_f64::PReLU::<stensor::dims::U3>::new();
/// assert_eq!(p.weight.to_vec(), vec![0.25f64; 3]);
/// ```
pub type PReLU<W = U1> = super::PReLU<W, f64>;

macro_rules! conv_aliases {
    ($($name:ident),+) => {$(
        #[doc = concat!("[`nn::", stringify!($name), "`](super::", stringify!($name), ") in `f64`.\n\n",
            "```\nuse stensor::prelude::*;\n",
            "let c = stensor::nn::in_f64::", stringify!($name), "::<U2, U4, U3>::new(&mut Rng::seed(0));\n",
            "let w: &Tensor<_, f64> = &c.weight;\nassert_eq!(w.dims()[0..2], [4, 2]);\n```")]
        pub type $name<CI, CO, K, S = U1, P = U0, D = U1, G = U1, M = Zeros> =
            super::$name<CI, CO, K, S, P, D, G, M, f64>;
    )+};
}
conv_aliases!(Conv1d, Conv2d, Conv3d);

macro_rules! conv_transpose_aliases {
    ($($name:ident),+) => {$(
        #[doc = concat!("[`nn::", stringify!($name), "`](super::", stringify!($name), ") in `f64`.\n\n",
            "```\nuse stensor::prelude::*;\n",
            "let c = stensor::nn::in_f64::", stringify!($name), "::<U2, U4, U3>::new(&mut Rng::seed(0));\n",
            "let w: &Tensor<_, f64> = &c.weight;\nassert_eq!(w.dims()[0..2], [2, 4]);\n```")]
        pub type $name<CI, CO, K, S = U1, P = U0, OP = U0, G = U1, D = U1> =
            super::$name<CI, CO, K, S, P, OP, G, D, f64>;
    )+};
}
conv_transpose_aliases!(ConvTranspose1d, ConvTranspose2d);

macro_rules! norm_aliases {
    ($($name:ident),+) => {$(
        #[doc = concat!("[`nn::", stringify!($name), "`](super::", stringify!($name), ") in `f64`.\n\n",
            "```\nuse stensor::prelude::*;\n",
            "let n = stensor::nn::in_f64::", stringify!($name), "::<U3>::new().affine(true);\n",
            "let w: &Tensor<(U3,), f64> = n.weight.as_ref().unwrap();\nassert_eq!(w.to_vec(), vec![1.0; 3]);\n```")]
        pub type $name<C> = super::$name<C, f64>;
    )+};
}
norm_aliases!(
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d
);

/// [`nn::GroupNorm`](super::GroupNorm) in `f64`.
///
/// ```
/// use stensor::prelude::*;
/// let n = stensor::nn::in_f64::GroupNorm::<U2, U4>::new();
/// let b: &Tensor<(U4,), f64> = n.bias.as_ref().unwrap();
/// assert_eq!(b.to_vec(), vec![0.0; 4]);
/// ```
pub type GroupNorm<G, C> = super::GroupNorm<G, C, f64>;
/// [`nn::LayerNorm`](super::LayerNorm) in `f64`.
///
/// ```
/// use stensor::prelude::*;
/// let n = stensor::nn::in_f64::LayerNorm::<(U4,)>::new();
/// let w: &Tensor<(U4,), f64> = n.weight.as_ref().unwrap();
/// assert_eq!(w.to_vec(), vec![1.0; 4]);
/// ```
pub type LayerNorm<NS> = super::LayerNorm<NS, f64>;
