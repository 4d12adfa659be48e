//! Procedural macros for [`stensor`](https://docs.rs/stensor).
//!
//! Use them through `stensor` (`stensor::dim!`), which re-exports them; the expansions name
//! `::stensor::typenum`, so this crate on its own is not useful.
//!
//! The crate parses its input by hand (no `syn`): a dimension literal is one token, and keeping
//! the proc-macro crate free of heavy parsers keeps a user's clean build short.

use proc_macro::{Delimiter, TokenStream, TokenTree};
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;

/// The `typenum` unsigned type for any integer literal, for dimensions beyond the named
/// `U0..=U1024` (e.g. `dim!(150528)` for a flattened 3x224x224 image).
///
/// ```
/// use stensor::prelude::*;
/// type Pixels = stensor::dim!(150528);
/// assert_eq!(<Pixels as ConstDim>::SIZE, 150528);
/// let t: Tensor<(U1, stensor::dim!(1500))> = Tensor::zeros();
/// assert_eq!(t.numel(), 1500);
/// ```
#[proc_macro]
pub fn dim(input: TokenStream) -> TokenStream {
    match parse_literal(input) {
        Ok(n) => uint_type(n).into(),
        Err(msg) => {
            let msg = format!("dim!: {msg}");
            quote!(::core::compile_error!(#msg)).into()
        }
    }
}

fn parse_literal(input: TokenStream) -> Result<u64, String> {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    // A literal passed through a `macro_rules!` arrives wrapped in an invisible group.
    while tokens.len() == 1 {
        match &tokens[0] {
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                tokens = g.stream().into_iter().collect();
            }
            _ => break,
        }
    }
    match tokens.as_slice() {
        [TokenTree::Literal(lit)] => {
            let text = lit.to_string().replace('_', "");
            let digits = text
                .trim_end_matches("usize")
                .trim_end_matches("u64")
                .trim_end_matches("u32");
            digits
                .parse::<u64>()
                .map_err(|_| format!("expected an unsigned integer literal, found `{lit}`"))
        }
        _ => Err("expected one unsigned integer literal, e.g. `dim!(150528)`".to_string()),
    }
}

/// `UInt<UInt<UTerm, B1>, B0>` style type for `n`, most significant bit innermost.
fn uint_type(n: u64) -> TokenStream2 {
    if n == 0 {
        return quote!(::stensor::typenum::UTerm);
    }
    let mut ty = quote!(::stensor::typenum::UTerm);
    let bits = 64 - n.leading_zeros();
    for i in (0..bits).rev() {
        let bit = if (n >> i) & 1 == 1 {
            quote!(::stensor::typenum::B1)
        } else {
            quote!(::stensor::typenum::B0)
        };
        ty = quote!(::stensor::typenum::UInt<#ty, #bit>);
    }
    ty
}
