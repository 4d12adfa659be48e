//! Sequential containers: a tuple of up to 16 layers chains their forwards, like PyTorch's
//! `nn.Sequential` (its `Module` impl names the layers `0`, `1`, ...). Structs get the same with
//! `#[derive(Module)] #[module(sequential)]`.
//!
//! A tuple of layers is PyTorch's `nn.Sequential`: each element's output is the next one's
//! input, the output type inferred at compile time.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{Forward, Linear, ReLU};
//! let net = (Linear::<U4, U8>::new(&mut Rng::seed(0)), ReLU, Linear::<U8, U2>::new(&mut Rng::seed(1)));
//! let y: Tensor<(U3, U2)> = net.forward(Tensor::<(U3, U4)>::ones());
//! assert_eq!(y.dims(), [3, 2]);
//! ```

use super::{join, Forward, LayerGraph, Summarize, SummaryRow};

/// The type a chain of layers makes of input `X`: `chain_out!(X; A, B)` is
/// `<B as Forward<<A as Forward<X>>::Output>>::Output` (`X` for no layer).
macro_rules! chain_out {
    ($x:ty;) => { $x };
    ($x:ty; $t:ident $(, $rest:ident)*) => {
        chain_out!(<$t as Forward<$x>>::Output; $($rest),*)
    };
}

/// `Forward` and `Summarize` for the tuple of the layers listed, one element at a time: each
/// element's bound names the output of the ones before it (a macro cannot stand in a where
/// clause, so the bounds, and each element's predecessors, are gathered in accumulators and
/// written once).
macro_rules! tuple_impls {
    (@go [$($done:ident $idx:tt)*] [$($fwd:tt)*] [$($sum:tt)*]
        [$(($ri:tt [$($pre:ident)*]))*];) => {
        impl<X, $($done),*> Forward<X> for ($($done,)*)
        where
            $($fwd)*
        {
            type Output = chain_out!(X; $($done),*);
            fn forward(&self, x: X) -> Self::Output {
                $(let x = self.$idx.forward(x);)*
                x
            }
        }

        impl<X, $($done),*> Summarize<X> for ($($done,)*)
        where
            $($sum)*
        {
            fn summary_rows(&self, prefix: &str, rows: &mut Vec<SummaryRow>) {
                $(Summarize::<chain_out!(X; $($pre),*)>::summary_rows(
                    &self.$ri,
                    &join(prefix, stringify!($ri)),
                    rows,
                );)*
            }
            fn graph(&self, prefix: &str, graph: &mut LayerGraph) {
                $(Summarize::<chain_out!(X; $($pre),*)>::graph(
                    &self.$ri,
                    &join(prefix, stringify!($ri)),
                    graph,
                );)*
            }
        }
    };
    (@go [$($done:ident $idx:tt)*] [$($fwd:tt)*] [$($sum:tt)*] [$($rows:tt)*];
        $t:ident $i:tt $($rest:tt)*) => {
        tuple_impls!(@go [$($done $idx)* $t $i]
            [$($fwd)* $t: Forward<chain_out!(X; $($done),*)>,]
            [$($sum)* $t: Forward<chain_out!(X; $($done),*)> + Summarize<chain_out!(X; $($done),*)>,]
            [$($rows)* ($i [$($done)*])];
            $($rest)*);
    };
    // one impl per prefix of the list: arity 1, 2, ...
    (@each [$($done:tt)*];) => {};
    (@each [$($done:tt)*]; $t:ident $i:tt $($rest:tt)*) => {
        tuple_impls!(@go [] [] [] []; $($done)* $t $i);
        tuple_impls!(@each [$($done)* $t $i]; $($rest)*);
    };
}

tuple_impls!(@each []; A 0 B 1 C 2 D 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10 M 11 N 12 O 13 P 14 Q 15);
