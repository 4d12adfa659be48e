//! Differentiable tensor operations with typed shapes, one file per family.
//!
//! Each operation checks shapes in the type system, hands slices to a kernel in
//! the crate-private `kernels` module, and, when its result is traced and an input requires grad, records its
//! backward rule. Every rule is checked against central finite differences in f64 in the test
//! suite.
//!
//! Conventions: methods take `self` by value (a tensor nobody else holds has its buffer reused
//! by inference-mode elementwise operations; clone first to keep it, which is cheap) and other
//! operands by reference. The result of an operation between a traced and an untraced tensor is
//! traced.

mod activation;
mod attention;
mod conv;
mod distance;
mod dropout;
mod elementwise;
mod embedding;
mod index;
mod linear;
mod margin;
mod matmul;
pub(crate) mod norm;
mod pad;
mod pool;
mod recurrent;
mod reduce;
mod reshape;
mod select;
mod softmax;
pub mod spatial;

pub(crate) use attention::{
    attention_rows, attention_rows_packed, attention_with_weights, batch_len, head_bias, head_mask,
};
pub use attention::{AttnMask, Sdpa};
pub use embedding::BagMode;
pub(crate) use embedding::Bags;
pub(crate) use margin::{ctc, multi_margin, multilabel_margin, CtcBatch};
pub use matmul::MatMul;
pub use norm::RunningStats;
#[cfg(feature = "mpi")]
pub(crate) use norm::SumAcross;
pub use pool::PoolIndices;
pub use recurrent::CellKind;
pub(crate) use recurrent::{run_direction, CellState, CellWeights};
pub use reshape::BatchDim;
pub use select::{Part, TopK};

pub(crate) use activation::softplus1 as softplus;
pub(crate) use elementwise::sigmoid;

use crate::shape::Shape;

/// `(outer, n, inner)`: the sizes before, at and after `axis` of `dims`.
pub(crate) fn axis_split(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = dims[..axis].iter().product();
    let inner = dims[axis + 1..].iter().product();
    (outer, dims[axis], inner)
}

/// Panics unless two shape values agree at run time (only runtime `usize` dims can differ once
/// the types agree).
pub(crate) fn assert_same_dims<A: Shape, B: Shape>(a: &A, b: &B, what: &str) {
    assert_eq!(
        a.dims(),
        b.dims(),
        "{what}: runtime dimensions differ ({:?} vs {:?})",
        a.dims(),
        b.dims()
    );
}
