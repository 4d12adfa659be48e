//! The shapes attention reads and writes: a query `(.., L, E)`, a key `(.., S, E)` and a value
//! `(.., S, Ev)` sharing their leading dims (a batch, or a batch and heads) give an output
//! `(.., L, Ev)`.

use super::{ConstDim, Dim, Shape};
use core::ops::{Div, Rem};
use typenum::{Mod, Quot, U0};

/// A query shape that attends over keys `K` and values `V`, with the output shape it gives.
/// The query and key share their leading dims and their features `E`; the key and value share
/// their length `S`. Dims may be static or runtime; runtime ones are checked when the op runs.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::AttentionShapes;
/// type Out = <(U2, U4, usize, U8) as AttentionShapes<(U2, U4, usize, U8), (U2, U4, usize, U3)>>::Output;
/// let out: Out = (U2::new(), U4::new(), 5, U3::new());
/// assert_eq!(out.dims(), [2, 4, 5, 3]);
/// ```
#[diagnostic::on_unimplemented(
    message = "attention reads a query `(.., L, E)`, a key `(.., S, E)` and a value `(.., S, Ev)` with the same leading dims, not `{Self}`, `{K}` and `{V}`",
    label = "query, key and value do not fit together",
    note = "the query and key share their batch (and head) dims and their features; the key and value share their length"
)]
pub trait AttentionShapes<K: Shape, V: Shape>: Shape {
    /// The output, `(.., L, Ev)`.
    type Output: Shape;
    /// Leading dims (the batch, and the heads): 1 or 2.
    const LEADING: usize;
    /// The output of this query with values `v`.
    fn attention_output(&self, v: &V) -> Self::Output;
}

/// A dim of a key or value that must equal the query's (the batch, the heads, the features) or
/// the key's (the length): every dim matches itself only. A separate rule so that a mismatch
/// reads as one, instead of as a type mismatch of the whole tensor.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::AttnMatch;
/// fn matches<A: AttnMatch<B>, B>() {}
/// matches::<U4, U4>();
/// matches::<usize, usize>();
/// ```
#[diagnostic::on_unimplemented(
    message = "attention needs matching dims: a key or value dim `{Self}` where the query (or the key) has `{T}`",
    label = "a batch, head, feature or length dim differs",
    note = "the query and key share their batch (and head) dims and their features; the key and value share their length"
)]
pub trait AttnMatch<T> {}

impl<T> AttnMatch<T> for T {}

impl<B, L, S, E, Ev, BK, EK, BV, SV> AttentionShapes<(BK, S, EK), (BV, SV, Ev)> for (B, L, E)
where
    B: Dim,
    L: Dim,
    S: Dim,
    E: Dim,
    Ev: Dim,
    BK: Dim + AttnMatch<B>,
    EK: Dim + AttnMatch<E>,
    BV: Dim + AttnMatch<B>,
    SV: Dim + AttnMatch<S>,
{
    type Output = (B, L, Ev);
    const LEADING: usize = 1;
    fn attention_output(&self, v: &(BV, SV, Ev)) -> (B, L, Ev) {
        (self.0, self.1, v.2)
    }
}

impl<B, H, L, S, E, Ev, BK, HK, EK, BV, HV, SV> AttentionShapes<(BK, HK, S, EK), (BV, HV, SV, Ev)>
    for (B, H, L, E)
where
    B: Dim,
    H: Dim,
    L: Dim,
    S: Dim,
    E: Dim,
    Ev: Dim,
    BK: Dim + AttnMatch<B>,
    HK: Dim + AttnMatch<H>,
    EK: Dim + AttnMatch<E>,
    BV: Dim + AttnMatch<B>,
    HV: Dim + AttnMatch<H>,
    SV: Dim + AttnMatch<S>,
{
    type Output = (B, H, L, Ev);
    const LEADING: usize = 2;
    fn attention_output(&self, v: &(BV, HV, SV, Ev)) -> (B, H, L, Ev) {
        (self.0, self.1, self.2, v.3)
    }
}

/// An embedding size split into `H` heads: `embed_dim % num_heads == 0`, checked at compile
/// time, and the size of each head.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::HeadsOf;
/// assert_eq!(<<U12 as HeadsOf<U3>>::HeadDim as ConstDim>::SIZE, 4);
/// ```
#[diagnostic::on_unimplemented(
    message = "embed_dim must be divisible by num_heads: `{Self}` is not a multiple of `{H}`",
    label = "not a whole number of heads",
    note = "PyTorch's MultiheadAttention asserts embed_dim % num_heads == 0 too"
)]
pub trait HeadsOf<H: ConstDim>: ConstDim {
    /// `embed_dim / num_heads`.
    type HeadDim: ConstDim;
}

/// A remainder of zero (the heads' rule's test), `U0` alone.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::ZeroRemainder;
/// fn whole<R: ZeroRemainder>() {}
/// whole::<U0>();
/// ```
#[diagnostic::on_unimplemented(
    message = "embed_dim must be divisible by num_heads: the remainder is `{Self}`, not `U0`",
    label = "not a whole number of heads",
    note = "PyTorch's MultiheadAttention asserts embed_dim % num_heads == 0 too"
)]
pub trait ZeroRemainder {}

impl ZeroRemainder for U0 {}

impl<D, H> HeadsOf<H> for D
where
    D: ConstDim + Div<H> + Rem<H>,
    H: ConstDim,
    Quot<D, H>: ConstDim,
    Mod<D, H>: ZeroRemainder,
{
    type HeadDim = Quot<D, H>;
}
