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

struct Field {
    member: syn::Member,
    name: String,
    ty: syn::Type,
}

fn module_flags(attrs: &[syn::Attribute]) -> syn::Result<(Vec<String>, Option<syn::Type>)> {
    let mut flags = vec![];
    let mut input = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("module")) {
        a.parse_nested_meta(|m| {
            let id = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            match id.as_str() {
                "skip" | "sequential" | "chain" | "no_display" => {
                    flags.push(id);
                    Ok(())
                }
                "input" => {
                    input = Some(m.value()?.parse::<syn::Type>()?);
                    Ok(())
                }
                _ => Err(m.error("unknown module attribute: expected `skip` (on a field), or `sequential`, `chain`, `input = Type`, `no_display` (on the struct)")),
            }
        })?;
    }
    Ok((flags, input))
}

fn derive(input: syn::DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let data = match &input.data {
        syn::Data::Struct(s) => s,
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(Module)] works on structs: a network is a struct of layers (put alternatives in separate structs, or write `impl Module` by hand)",
            ))
        }
    };
    let (struct_flags, input_ty) = module_flags(&input.attrs)?;
    let sequential = struct_flags.iter().any(|f| f == "sequential");
    let chain = sequential || struct_flags.iter().any(|f| f == "chain");
    let display = !struct_flags.iter().any(|f| f == "no_display");
    if input_ty.is_some() && !chain {
        return Err(syn::Error::new_spanned(name, "`input = ..` prints the shapes of a chain of layers: add `sequential` (or `chain`, if you write `forward` yourself and it chains the fields in order)"));
    }
    if struct_flags.iter().any(|f| f == "skip") {
        return Err(syn::Error::new_spanned(
            name,
            "`skip` goes on a field, not on the struct",
        ));
    }
    let mut fields = vec![];
    for (i, f) in data.fields.iter().enumerate() {
        let (flags, finput) = module_flags(&f.attrs)?;
        if finput.is_some() || flags.iter().any(|x| x != "skip") {
            return Err(syn::Error::new_spanned(
                f,
                "`sequential`, `chain`, `input` and `no_display` go on the struct, not on a field",
            ));
        }
        if flags.iter().any(|x| x == "skip") {
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

    let mut generics = input.generics.clone();
    {
        let wc = generics.make_where_clause();
        for p in input.generics.type_params() {
            let id = &p.ident;
            wc.predicates.push(syn::parse_quote!(#id: 'static));
        }
        for f in &fields {
            let ty = &f.ty;
            wc.predicates
                .push(syn::parse_quote!(#ty: ::stensor::nn::Module));
        }
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let members: Vec<_> = fields.iter().map(|f| &f.member).collect();
    let kind = name.to_string();
    // Per-field statements, spanned on the field so errors point at it.
    let span_of = |f: &Field| syn::spanned::Spanned::span(&f.ty);
    let visits: Vec<_> = fields.iter().map(|f| {
        let (m, n) = (&f.member, &f.name);
        quote::quote_spanned!(span_of(f)=> ::stensor::nn::Module::visit(&self.#m, &::stensor::nn::join(prefix, #n), f);)
    }).collect();
    let visits_mut: Vec<_> = fields.iter().map(|f| {
        let (m, n) = (&f.member, &f.name);
        quote::quote_spanned!(span_of(f)=> ::stensor::nn::Module::visit_mut(&mut self.#m, &::stensor::nn::join(prefix, #n), f);)
    }).collect();
    let kids: Vec<_> = fields.iter().map(|f| {
        let (m, n) = (&f.member, &f.name);
        quote::quote_spanned!(span_of(f)=> (::std::string::String::from(#n), &self.#m as &dyn ::stensor::nn::Module))
    }).collect();
    let kids_mut: Vec<_> = fields.iter().map(|f| {
        let (m, n) = (&f.member, &f.name);
        quote::quote_spanned!(span_of(f)=> (::std::string::String::from(#n), &mut self.#m as &mut dyn ::stensor::nn::Module))
    }).collect();

    let module_impl = quote! {
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
    };

    let display_impl = match (display, &input_ty) {
        (false, _) => quote! {},
        (true, None) => quote! {
            impl #impl_g ::std::fmt::Display for #name #ty_g #where_c {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    ::std::fmt::Display::fmt(&::stensor::nn::ModuleDisplay(self), f)
                }
            }
        },
        (true, Some(it)) => quote! {
            impl #impl_g ::std::fmt::Display for #name #ty_g #where_c {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    ::stensor::nn::fmt_with_shapes::<#it, Self>(self, f)
                }
            }
        },
    };

    let summary_impl = if chain {
        if fields.is_empty() {
            return Err(syn::Error::new_spanned(
                name,
                "`sequential` and `chain` need at least one (non-skipped) field",
            ));
        }
        let mut preds: Vec<syn::WherePredicate> = vec![];
        let mut x: syn::Type = syn::parse_quote!(__StensorInput);
        let mut steps = vec![];
        for f in &fields {
            let ty = &f.ty;
            let (member, fname) = (&f.member, &f.name);
            preds.push(
                syn::parse_quote!(#ty: ::stensor::nn::Forward<#x> + ::stensor::nn::Summarize<#x>),
            );
            steps.push(quote! { ::stensor::nn::Summarize::<#x>::summary_rows(&self.#member, &::stensor::nn::join(prefix, #fname), rows); });
            x = syn::parse_quote!(<#ty as ::stensor::nn::Forward<#x>>::Output);
        }
        let mut g3 = input.generics.clone();
        g3.params.insert(0, syn::parse_quote!(__StensorInput));
        {
            let wc = g3.make_where_clause();
            for p in preds {
                wc.predicates.push(p);
            }
        }
        let (impl_g3, _, where_c3) = g3.split_for_impl();
        quote! {
            impl #impl_g3 ::stensor::nn::Summarize<__StensorInput> for #name #ty_g #where_c3 {
                fn summary_rows(&self, prefix: &str, rows: &mut ::std::vec::Vec<::stensor::nn::SummaryRow>) {
                    #( #steps )*
                }
            }
        }
    } else {
        quote! {}
    };

    let forward_impl = if sequential {
        if fields.is_empty() {
            return Err(syn::Error::new_spanned(
                name,
                "#[module(sequential)] needs at least one (non-skipped) field to chain",
            ));
        }
        let input_ty: syn::Type = syn::parse_quote!(__StensorInput);
        let mut preds: Vec<syn::WherePredicate> = vec![];
        let mut x = input_ty.clone();
        for f in &fields {
            let ty = &f.ty;
            preds.push(syn::parse_quote!(#ty: ::stensor::nn::Forward<#x>));
            x = syn::parse_quote!(<#ty as ::stensor::nn::Forward<#x>>::Output);
        }
        let mut g2 = input.generics.clone();
        g2.params.insert(0, syn::parse_quote!(__StensorInput));
        {
            let wc = g2.make_where_clause();
            for p in preds {
                wc.predicates.push(p);
            }
        }
        let (impl_g2, _, where_c2) = g2.split_for_impl();
        quote! {
            impl #impl_g2 ::stensor::nn::Forward<__StensorInput> for #name #ty_g #where_c2 {
                type Output = #x;
                fn forward(&self, x: __StensorInput) -> Self::Output {
                    #( let x = ::stensor::nn::Forward::forward(&self.#members, x); )*
                    x
                }
            }
        }
    } else {
        quote! {}
    };

    Ok(quote! { #module_impl #display_impl #forward_impl #summary_impl })
}
