//! Procedural macros for [`stensor`](https://docs.rs/stensor).
//!
//! Use them through `stensor` (`stensor::dim!`), which re-exports them; the expansions name
//! `::stensor::typenum`, so this crate on its own is not useful.
//!
//! `dim!` parses its single literal by hand; `#[derive(Module)]` uses `syn`, since it must read
//! arbitrary generics, where clauses and attributes correctly.

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

/// Derives `stensor::nn::Module` for a struct of modules (named or tuple fields, generics of any
/// name), so its parameters are visited under dotted names (`conv1.weight`, `blocks.0.bias`),
/// `train()`/`eval()` reach every layer inside, and it prints like PyTorch's `print(model)`
/// (a `Display` impl; opt out with `#[module(no_display)]`).
///
/// - `#[module(skip)]` on a field that holds no parameters (a counter, a name).
/// - `#[module(sequential)]` on the struct also derives `Forward` by chaining the fields in
///   order (the output type inferred at compile time), like PyTorch's `nn.Sequential`.
/// - `#[module(chain)]`: you write `forward`, which chains the fields in order; the struct gets
///   the shape table (`stensor::nn::summary`) without a derived `forward`.
/// - `#[module(input = Tensor<..>)]` with `sequential` or `chain`: `Display` shows each layer's
///   static input and output shape for that input type.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Conv2d, Flatten, Forward, Linear, MaxPool2d, Module, ReLU};
///
/// #[derive(Module)]
/// #[module(sequential)]
/// struct Net {
///     conv: Conv2d<U1, U4, U3>,
///     act: ReLU,
///     pool: MaxPool2d<U2>,
///     flat: Flatten,
///     fc: Linear<U144, U10>,
/// }
///
/// let mut rng = Rng::seed(0);
/// let net = Net { conv: Conv2d::new(&mut rng), act: ReLU, pool: MaxPool2d::new(), flat: Flatten::new(), fc: Linear::new(&mut rng) };
/// let y: Tensor<(U2, U10)> = net.forward(Tensor::<(U2, U1, U14, U14)>::zeros());
/// assert_eq!(net.named_parameters()[0].0, "conv.weight");
/// assert!(net.to_string().starts_with("Net(\n  (conv): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))"));
/// ```
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match derive(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A field the derive visits (not `#[module(skip)]`).
struct Field {
    member: syn::Member,
    name: String,
    ty: syn::Type,
}

/// The `#[module(..)]` attributes of one item, typed.
#[derive(Default)]
struct Attrs {
    skip: bool,
    sequential: bool,
    chain: bool,
    no_display: bool,
    input: Option<syn::Type>,
}

impl Attrs {
    fn parse(attrs: &[syn::Attribute]) -> syn::Result<Self> {
        let mut out = Attrs::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("module")) {
            a.parse_nested_meta(|m| {
                let flag = if m.path.is_ident("skip") {
                    &mut out.skip
                } else if m.path.is_ident("sequential") {
                    &mut out.sequential
                } else if m.path.is_ident("chain") {
                    &mut out.chain
                } else if m.path.is_ident("no_display") {
                    &mut out.no_display
                } else if m.path.is_ident("input") {
                    out.input = Some(m.value()?.parse::<syn::Type>()?);
                    return Ok(());
                } else {
                    return Err(m.error("unknown module attribute: expected `skip` (on a field), or `sequential`, `chain`, `input = Type`, `no_display` (on the struct)"));
                };
                *flag = true;
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// What `#[derive(Module)]` read from the struct: its name and generics, the fields it visits,
/// and the struct's options.
struct Parsed {
    name: syn::Ident,
    generics: syn::Generics,
    fields: Vec<Field>,
    /// `sequential`: the derive writes `forward` too.
    sequential: bool,
    /// `sequential` or `chain`: the fields run in order, so the shape table can be derived.
    chain: bool,
    display: bool,
    input: Option<syn::Type>,
}

fn parse(input: syn::DeriveInput) -> syn::Result<Parsed> {
    let name = input.ident;
    let syn::Data::Struct(data) = input.data else {
        return Err(syn::Error::new_spanned(
            &name,
            "#[derive(Module)] works on structs: a network is a struct of layers (put alternatives in separate structs, or write `impl Module` by hand)",
        ));
    };
    let attrs = Attrs::parse(&input.attrs)?;
    let chain = attrs.sequential || attrs.chain;
    if attrs.input.is_some() && !chain {
        return Err(syn::Error::new_spanned(name, "`input = ..` prints the shapes of a chain of layers: add `sequential` (or `chain`, if you write `forward` yourself and it chains the fields in order)"));
    }
    if attrs.skip {
        return Err(syn::Error::new_spanned(
            name,
            "`skip` goes on a field, not on the struct",
        ));
    }
    let mut fields = vec![];
    for (i, f) in data.fields.iter().enumerate() {
        let fa = Attrs::parse(&f.attrs)?;
        if fa.input.is_some() || fa.sequential || fa.chain || fa.no_display {
            return Err(syn::Error::new_spanned(
                f,
                "`sequential`, `chain`, `input` and `no_display` go on the struct, not on a field",
            ));
        }
        if fa.skip {
            continue;
        }
        let (member, fname) = match &f.ident {
            Some(id) => (syn::Member::Named(id.clone()), id.to_string()),
            None => (syn::Member::Unnamed(syn::Index::from(i)), i.to_string()),
        };
        fields.push(Field {
            member,
            name: fname,
            ty: f.ty.clone(),
        });
    }
    if chain && fields.is_empty() {
        let what = if attrs.sequential {
            "#[module(sequential)] needs at least one (non-skipped) field to chain"
        } else {
            "`sequential` and `chain` need at least one (non-skipped) field"
        };
        return Err(syn::Error::new_spanned(name, what));
    }
    Ok(Parsed {
        name,
        generics: input.generics,
        fields,
        sequential: attrs.sequential,
        chain,
        display: !attrs.no_display,
        input: attrs.input,
    })
}

fn derive(input: syn::DeriveInput) -> syn::Result<TokenStream2> {
    let p = parse(input)?;
    let module = module_impl(&p);
    let display = if p.display {
        display_impl(&p)
    } else {
        quote!()
    };
    let forward = if p.sequential {
        forward_impl(&p)
    } else {
        quote!()
    };
    let summary = if p.chain { summary_impl(&p) } else { quote!() };
    Ok(quote! { #module #display #forward #summary })
}

/// The struct's generics with `'static` type parameters and every visited field a `Module`.
fn module_generics(p: &Parsed) -> syn::Generics {
    let mut generics = p.generics.clone();
    let wc = generics.make_where_clause();
    for tp in p.generics.type_params() {
        let id = &tp.ident;
        wc.predicates.push(syn::parse_quote!(#id: 'static));
    }
    for f in &p.fields {
        let ty = &f.ty;
        wc.predicates
            .push(syn::parse_quote!(#ty: ::stensor::nn::Module));
    }
    generics
}

/// One statement or expression per field from `each(member, name)`, spanned on the field's
/// type so that an error (a field that is not a `Module`) points at it.
fn per_field(p: &Parsed, each: impl Fn(&syn::Member, &str) -> TokenStream2) -> Vec<TokenStream2> {
    p.fields
        .iter()
        .map(|f| {
            let span = syn::spanned::Spanned::span(&f.ty);
            let body = each(&f.member, &f.name);
            quote::quote_spanned!(span=> #body)
        })
        .collect()
}

fn module_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let generics = module_generics(p);
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let kind = name.to_string();
    let visits = per_field(
        p,
        |m, n| quote!(::stensor::nn::Module::visit(&self.#m, &::stensor::nn::join(prefix, #n), f);),
    );
    let visits_mut = per_field(
        p,
        |m, n| quote!(::stensor::nn::Module::visit_mut(&mut self.#m, &::stensor::nn::join(prefix, #n), f);),
    );
    let kids = per_field(
        p,
        |m, n| quote!((::std::string::String::from(#n), &self.#m as &dyn ::stensor::nn::Module)),
    );
    let kids_mut = per_field(
        p,
        |m, n| quote!((::std::string::String::from(#n), &mut self.#m as &mut dyn ::stensor::nn::Module)),
    );
    quote! {
        impl #impl_g ::stensor::nn::Module for #name #ty_g #where_c {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, ::stensor::nn::TensorRef<'_>)) {
                #( #visits )*
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ::stensor::nn::TensorMut<'_>)) {
                #( #visits_mut )*
            }
            fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn ::stensor::nn::Module)> {
                ::std::vec![#( #kids ),*]
            }
            fn children_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn ::stensor::nn::Module)> {
                ::std::vec![#( #kids_mut ),*]
            }
            fn kind(&self) -> &'static str {
                #kind
            }
            fn as_any_mut(&mut self) -> &mut dyn ::std::any::Any {
                self
            }
        }
    }
}

/// `Display` like PyTorch's `print(model)`, with each layer's shapes when `input` is given.
fn display_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let generics = module_generics(p);
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let body = match &p.input {
        None => quote!(::std::fmt::Display::fmt(
            &::stensor::nn::ModuleDisplay(self),
            f
        )),
        Some(it) => quote!(::stensor::nn::fmt_with_shapes::<#it, Self>(self, f)),
    };
    quote! {
        impl #impl_g ::std::fmt::Display for #name #ty_g #where_c {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                #body
            }
        }
    }
}

/// The struct's generics with an input type `__StensorInput` in front, each field bounded by
/// `bound(field type, its input type)` where its input is the previous field's output; each
/// field's input type; and the last field's output type.
fn chained_generics(
    p: &Parsed,
    bound: impl Fn(&syn::Type, &syn::Type) -> syn::WherePredicate,
) -> (syn::Generics, Vec<syn::Type>, syn::Type) {
    let mut generics = p.generics.clone();
    generics.params.insert(0, syn::parse_quote!(__StensorInput));
    let wc = generics.make_where_clause();
    let mut inputs = vec![];
    let mut x: syn::Type = syn::parse_quote!(__StensorInput);
    for f in &p.fields {
        let ty = &f.ty;
        wc.predicates.push(bound(ty, &x));
        let next = syn::parse_quote!(<#ty as ::stensor::nn::Forward<#x>>::Output);
        inputs.push(std::mem::replace(&mut x, next));
    }
    (generics, inputs, x)
}

/// `#[module(sequential)]`: `forward` runs the fields in order.
fn forward_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let (_, ty_g, _) = p.generics.split_for_impl();
    let (generics, _, output) = chained_generics(
        p,
        |ty, x| syn::parse_quote!(#ty: ::stensor::nn::Forward<#x>),
    );
    let (impl_g, _, where_c) = generics.split_for_impl();
    let members = p.fields.iter().map(|f| &f.member);
    quote! {
        impl #impl_g ::stensor::nn::Forward<__StensorInput> for #name #ty_g #where_c {
            type Output = #output;
            fn forward(&self, x: __StensorInput) -> Self::Output {
                #( let x = ::stensor::nn::Forward::forward(&self.#members, x); )*
                x
            }
        }
    }
}

/// `sequential` or `chain`: the shape table's rows, one layer after another.
fn summary_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let (_, ty_g, _) = p.generics.split_for_impl();
    let (generics, inputs, _) = chained_generics(
        p,
        |ty, x| syn::parse_quote!(#ty: ::stensor::nn::Forward<#x> + ::stensor::nn::Summarize<#x>),
    );
    let (impl_g, _, where_c) = generics.split_for_impl();
    let steps = p.fields.iter().zip(&inputs).map(|(f, x)| {
        let (member, fname) = (&f.member, &f.name);
        quote! { ::stensor::nn::Summarize::<#x>::summary_rows(&self.#member, &::stensor::nn::join(prefix, #fname), rows); }
    });
    quote! {
        impl #impl_g ::stensor::nn::Summarize<__StensorInput> for #name #ty_g #where_c {
            fn summary_rows(&self, prefix: &str, rows: &mut ::std::vec::Vec<::stensor::nn::SummaryRow>) {
                #( #steps )*
            }
        }
    }
}
