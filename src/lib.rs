#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![deny(unsafe_code)] // `src/kernels/` may allow it locally, with a `// SAFETY:` line per block

// Lets what the macros expand to (`::stensor::typenum::..` of `dim!`, `::stensor::nn::..` of the
// derive on the library's own layers) name this crate from inside it too.
extern crate self as stensor;

pub mod autograd;
pub mod data;
#[cfg(feature = "mpi")]
pub mod distributed;
mod element;
pub mod error;
pub mod gradcheck;
pub mod io;
pub(crate) mod kernels;
pub mod loss;
pub mod nn;
pub mod ops;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
mod rng;
pub mod shape;
pub mod tensor;
#[cfg(feature = "tensorboard")]
pub mod tensorboard;
#[cfg(feature = "proptest")]
pub mod testing;
#[cfg(feature = "vision")]
pub mod vision;

pub use error::{Error, Result};
pub use kernels::simd::{cpu_info, fma_peak_gflops, CpuInfo, Level};
/// The matrix product the library runs on, for users who need the bare kernel (the
/// `workloads` example and the benchmarks time it against PyTorch's and its Rust peers').
pub use kernels::{gemm, Trans};
pub use stensor_macros::{dim, Module};
pub use tensor::Tensor;
/// The `typenum` crate, whose unsigned integers are this crate's static dimensions.
pub use typenum;

/// Static dimensions by name: `U0` ..= `U1024`, and `U<N>` for any `N` typenum maps (all of
/// `0..=1024` and many larger round numbers); [`dim!`] writes any other literal.
///
/// ```
/// use stensor::dims::*;
/// use stensor::shape::ConstDim;
/// assert_eq!(<U784 as ConstDim>::SIZE, 784);
/// assert_eq!(<U<784> as ConstDim>::SIZE, 784);
/// ```
pub mod dims {
    pub use typenum::consts::*;
    pub use typenum::{False, True, U};
}

/// Everything a program usually needs: `use stensor::prelude::*;`.
pub mod prelude {
    pub use crate::autograd::{Gradients, NoTape, Tape, TapeMode};
    pub use crate::dims::*;
    pub use crate::shape::{
        AppendDim, Axes2, Axes3, Axes4, Axes5, BroadcastSuffix, ConcatAlong, ConstDim, ConstShape,
        Dim, FlattenDims, HasAxis, PermuteTo, RemoveAxis, ReshapeTo, Shape, SwapAxes, UnflattenDim,
    };
    pub use crate::tensor::{Element, Indices, Mask, Rng, Tensor};
}
