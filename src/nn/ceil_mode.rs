//! The pooling layers with PyTorch's `ceil_mode=True`: the same types as in [`crate::nn`] with
//! `ceil_mode` already given, so stride, padding and dilation keep their defaults.
//! `ceil_mode::MaxPool2d<U2>` is `nn::MaxPool2d<U2, U2, U0, U1, True>` (`ceil_mode` is the last
//! hyper-parameter of the layers themselves, as in PyTorch's constructors); the same way
//! [`in_f64`](super::in_f64) gives the element type.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{ceil_mode, Forward};
//! // nn.MaxPool2d(2, ceil_mode=True) keeps the last partial window: 5x5 -> 3x3
//! let y = ceil_mode::MaxPool2d::<U2>::new().forward(Tensor::<(U1, U1, U5, U5)>::zeros());
//! assert_eq!(y.dims(), [1, 1, 3, 3]);
//! ```

use typenum::{True, U0, U1};

macro_rules! ceil_aliases {
    ($($max:ident, $avg:ident, $dims:literal;)+) => {$(
        #[doc = concat!("[`nn::", stringify!($max), "`](super::", stringify!($max), ") with `ceil_mode=True`.\n\n",
            "```\nuse stensor::prelude::*;\nuse stensor::nn::{ceil_mode, Forward};\n",
            "let y = ceil_mode::", stringify!($max), "::<U2>::new().forward(Tensor::<", $dims, ">::arange());\n",
            "assert_eq!(y.dims().last(), Some(&3));\n```")]
        pub type $max<K, S = K, P = U0, D = U1> = super::$max<K, S, P, D, True>;
        #[doc = concat!("[`nn::", stringify!($avg), "`](super::", stringify!($avg), ") with `ceil_mode=True`.\n\n",
            "```\nuse stensor::prelude::*;\nuse stensor::nn::{ceil_mode, Forward};\n",
            "let y = ceil_mode::", stringify!($avg), "::<U2>::new().forward(Tensor::<", $dims, ">::arange());\n",
            "assert_eq!(y.dims().last(), Some(&3));\n```")]
        pub type $avg<K, S = K, P = U0> = super::$avg<K, S, P, True>;
    )+};
}
ceil_aliases! {
    MaxPool1d, AvgPool1d, "(U1, U1, U5)";
    MaxPool2d, AvgPool2d, "(U1, U1, U5, U5)";
    MaxPool3d, AvgPool3d, "(U1, U1, U5, U5, U5)";
}
