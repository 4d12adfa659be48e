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

/// Derives `stensor::nn::Module` for a network (a struct of modules) or a layer of your own
/// (a struct of parameters), named or tuple fields, generics of any name: parameters are
/// visited under dotted names (`conv1.weight`, `blocks.0.bias`), `train()`/`eval()` reach every
/// layer inside, and a network prints like PyTorch's `print(model)` (a `Display` impl; opt out
/// with `#[module(no_display)]`).
///
/// On fields:
/// - a field with no attribute is a submodule (it must implement `Module`);
/// - `#[module(param)]`: a tensor (or `Option` of one) that is a parameter, as PyTorch's
///   `nn.Parameter`; declared, so it counts as one whether or not it requires grad (one that does
///   not gets no gradient, and the gradient checks say so);
/// - `#[module(buffer)]`: a tensor (or `Option` of one) of state that is saved but not learned;
/// - `#[module(training)]`: the `bool` field that holds training mode (set by `train()`/`eval()`);
/// - `#[module(skip)]`: anything else (a counter, a name);
/// - `#[module(shortcut)]`, in a `residual` struct: the shortcut (a projection such as
///   torchvision's `downsample`, or `NoShortcut` for the input itself);
/// - `#[module(rename = "name")]`: the field's tensors go under `name` instead of the field's
///   own name: a PyTorch name that is no Rust identifier or breaks Rust's naming style
///   (Hugging Face's `attention.self`, `LayerNorm`).
///
/// On the struct:
/// - `#[module(leaf)]`: a layer rather than a network: fields without an attribute are its
///   configuration (not visited), and the shape table shows it as one row;
/// - `#[module(extra_repr = method)]`: PyTorch's `extra_repr`, from `fn method(&self) -> String`;
/// - `#[module(kind = expr)]`: the name printed (default: the struct's);
/// - `#[module(bounds(T: Trait, ..))]`: extra bounds for the generated impls (what `extra_repr`
///   needs of the type parameters);
/// - `#[module(sequential)]` also derives `Forward` by chaining the fields in order (the output
///   type inferred at compile time), like PyTorch's `nn.Sequential`;
/// - `#[module(chain)]`: you write `forward`, which chains the fields in order; the struct gets
///   the shape table (`stensor::nn::summary`) without a derived `forward`;
/// - `#[module(residual)]` derives `Forward` as a residual block: the fields run in order (the
///   branch), the `shortcut` field's output on the input (or the input itself) is added, with
///   the rule "the residual branch must return its input's shape" checked at compile time;
///   `#[module(residual(then = relu))]` runs the field `relu` again after the sum, as
///   torchvision's `BasicBlock`. The block may be generic over channels and stride with no
///   where-clause: the derive writes the bounds;
/// - `#[module(input = Tensor<..>)]` with `sequential`, `chain` or `residual`: `Display` shows
///   each layer's static input and output shape for that input type; on a `sequential` struct
///   without type parameters, `forward` is derived for that input (with or without a tape), so
///   a shape error inside a block reports its rule at the field that breaks it rather than an
///   unmet bound where the network is called.
///
/// A torchvision `BasicBlock`, generic over channels and stride, with no bound written:
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchNorm2d, Conv2d, Forward, Module, NoShortcut, ReLU};
///
/// #[derive(Module)]
/// #[module(residual(then = relu))]
/// struct BasicBlock<I: ConstDim, O: ConstDim, S, D = NoShortcut> {
///     conv1: Conv2d<I, O, U3, S, U1>,
///     bn1: BatchNorm2d<O>,
///     relu: ReLU,
///     conv2: Conv2d<O, O, U3, U1, U1>,
///     bn2: BatchNorm2d<O>,
///     #[module(shortcut)]
///     downsample: D,
/// }
///
/// let mut rng = Rng::seed(0);
/// let block = BasicBlock::<U16, U32, U2, _> {
///     conv1: Conv2d::without_bias(&mut rng), bn1: BatchNorm2d::new(), relu: ReLU,
///     conv2: Conv2d::without_bias(&mut rng), bn2: BatchNorm2d::new(),
///     downsample: (Conv2d::<U16, U32, U1, U2>::without_bias(&mut rng), BatchNorm2d::<U32>::new()),
/// };
/// let y: Tensor<(U4, U32, U8, U8)> = block.forward(Tensor::<(U4, U16, U16, U16)>::zeros());
/// assert_eq!(block.named_parameters()[6].0, "downsample.0.weight");
/// ```
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
///
/// A layer of your own, with a parameter, a buffer and a setting:
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, Module, ModuleDisplay};
///
/// #[derive(Module)]
/// #[module(leaf, extra_repr = repr)]
/// struct Scale<C: ConstDim> {
///     #[module(param)]
///     gain: Tensor<(C,)>,
///     #[module(buffer)]
///     calls: Tensor<()>,
///     clamp: f32,
/// }
///
/// impl<C: ConstDim> Scale<C> {
///     fn repr(&self) -> String {
///         format!("{}, clamp={}", C::SIZE, self.clamp)
///     }
/// }
///
/// let s = Scale::<U3> { gain: Tensor::ones(), calls: Tensor::zeros(), clamp: 6.0 };
/// assert_eq!(s.named_parameters(), [("gain".to_string(), vec![3])]);
/// assert_eq!(s.named_buffers(), [("calls".to_string(), vec![])]);
/// assert!(ModuleDisplay(&s).to_string().starts_with("Scale(3, clamp=6)"));
/// ```
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    expand(input, derive)
}

/// A derive's output for `input`, or its error as a compile error at the item.
fn expand(
    input: TokenStream,
    derive: fn(syn::DeriveInput) -> syn::Result<TokenStream2>,
) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match derive(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `stensor::nn::Build` for a struct of layers (or of blocks that derive it): each
/// field built under its name from the names of a state dict, as `Module` names it; a
/// `#[module(skip)]` field takes its `Default`, the `#[module(training)]` field `true`. Leaf
/// layers (`#[module(leaf)]`, their own tensors) implement `Build` by hand. A field whose type
/// cannot be built is reported at the field.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Build, Linear, Module, ReLU};
/// #[derive(Module, Build)]
/// struct Mlp {
///     fc1: Linear<U4, U8>,
///     act: ReLU,
///     fc2: Linear<U8, U2>,
/// }
/// let names = ["fc1.weight", "fc1.bias", "fc2.weight"];
/// let net = Mlp::build(&names, "");
/// assert!(net.fc1.bias.is_some() && net.fc2.bias.is_none());
/// ```
#[proc_macro_derive(Build, attributes(module))]
pub fn derive_build(input: TokenStream) -> TokenStream {
    expand(input, build_derive)
}

fn build_derive(input: syn::DeriveInput) -> syn::Result<TokenStream2> {
    let syn::Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`Build` derives for a struct of layers",
        ));
    };
    let attrs = Attrs::parse(&input.attrs)?;
    if attrs.leaf {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a leaf layer implements `Build` by hand (which tensors it has comes from the names)",
        ));
    }
    let mut generics = input.generics.clone();
    let wc = generics.make_where_clause();
    wc.predicates.extend(attrs.bounds.iter().cloned());
    let mut values = vec![];
    for (i, f) in data.fields.iter().enumerate() {
        let fa = Attrs::parse(&f.attrs)?;
        let ty = &f.ty;
        let name = field_name(f, i, &fa);
        let span = syn::spanned::Spanned::span(ty);
        let value = if fa.training {
            quote!(true)
        } else if fa.skip {
            quote!(::core::default::Default::default())
        } else if fa.param || fa.buffer {
            return Err(syn::Error::new_spanned(
                f,
                "a struct with tensors of its own is a leaf layer: it implements `Build` by hand",
            ));
        } else {
            wc.predicates
                .push(syn::parse_quote_spanned!(span=> #ty: ::stensor::nn::Build));
            quote::quote_spanned!(span=> <#ty as ::stensor::nn::Build>::build(names, &::stensor::nn::join(prefix, #name)))
        };
        values.push(match &f.ident {
            Some(id) => quote!(#id: #value),
            None => value,
        });
    }
    let body = match &data.fields {
        syn::Fields::Named(_) => quote!(Self { #(#values),* }),
        syn::Fields::Unnamed(_) => quote!(Self(#(#values),*)),
        syn::Fields::Unit => quote!(Self),
    };
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_g ::stensor::nn::Build for #name #ty_g #where_c {
            fn build(names: &dyn ::stensor::nn::Names, prefix: &str) -> Self {
                #body
            }
        }
    })
}

/// How the derive treats a field.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// A submodule: visited through its own `Module` impl, listed as a child.
    Child,
    /// `#[module(param)]`: a tensor (or `Option` of one) visited as a parameter.
    Param,
    /// `#[module(buffer)]`: a tensor (or `Option` of one) visited as a buffer.
    Buffer,
}

/// A field the derive visits (not skipped).
struct Field {
    member: syn::Member,
    name: String,
    ty: syn::Type,
    role: Role,
    /// `#[module(shortcut)]` in a `residual` struct: applied to the input, added at the end.
    shortcut: bool,
}

/// The `#[module(..)]` attributes of one item, typed.
#[derive(Default)]
struct Attrs {
    skip: bool,
    param: bool,
    buffer: bool,
    training: bool,
    sequential: bool,
    chain: bool,
    residual: bool,
    then: Option<syn::Ident>,
    shortcut: bool,
    no_display: bool,
    leaf: bool,
    input: Option<syn::Type>,
    kind: Option<syn::Expr>,
    extra_repr: Option<syn::Ident>,
    bounds: Vec<syn::WherePredicate>,
    rename: Option<syn::LitStr>,
}

const UNKNOWN: &str = "unknown module attribute: expected `skip`, `param`, `buffer`, `training`, `shortcut` or `rename = \"name\"` (on a field), or `sequential`, `chain`, `residual`, `residual(then = field)`, `leaf`, `input = Type`, `kind = expr`, `extra_repr = method`, `bounds(..)`, `no_display` (on the struct)";

impl Attrs {
    fn parse(attrs: &[syn::Attribute]) -> syn::Result<Self> {
        let mut out = Attrs::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("module")) {
            a.parse_nested_meta(|m| {
                let Some(id) = m.path.get_ident().map(|i| i.to_string()) else {
                    return Err(m.error(UNKNOWN));
                };
                let flag = match id.as_str() {
                    "skip" => &mut out.skip,
                    "param" => &mut out.param,
                    "buffer" => &mut out.buffer,
                    "training" => &mut out.training,
                    "sequential" => &mut out.sequential,
                    "chain" => &mut out.chain,
                    "shortcut" => &mut out.shortcut,
                    "residual" => {
                        out.residual = true;
                        if m.input.peek(syn::token::Paren) {
                            m.parse_nested_meta(|t| {
                                if !t.path.is_ident("then") {
                                    return Err(t.error("expected `residual(then = field)`"));
                                }
                                out.then = Some(t.value()?.parse()?);
                                Ok(())
                            })?;
                        }
                        return Ok(());
                    }
                    "no_display" => &mut out.no_display,
                    "leaf" => &mut out.leaf,
                    "input" => {
                        out.input = Some(m.value()?.parse()?);
                        return Ok(());
                    }
                    "kind" => {
                        out.kind = Some(m.value()?.parse()?);
                        return Ok(());
                    }
                    "extra_repr" => {
                        out.extra_repr = Some(m.value()?.parse()?);
                        return Ok(());
                    }
                    "rename" => {
                        out.rename = Some(m.value()?.parse()?);
                        return Ok(());
                    }
                    "bounds" => {
                        let content;
                        syn::parenthesized!(content in m.input);
                        let preds = syn::punctuated::Punctuated::<
                            syn::WherePredicate,
                            syn::Token![,],
                        >::parse_terminated(&content)?;
                        out.bounds.extend(preds);
                        return Ok(());
                    }
                    _ => return Err(m.error(UNKNOWN)),
                };
                *flag = true;
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Whether any struct-only attribute is set (an error on a field).
    fn has_struct_options(&self) -> bool {
        self.sequential
            || self.chain
            || self.residual
            || self.no_display
            || self.leaf
            || self.input.is_some()
            || self.kind.is_some()
            || self.extra_repr.is_some()
            || !self.bounds.is_empty()
    }
}

/// What `#[derive(Module)]` read from the struct: its name and generics, the fields it visits,
/// and the struct's options.
struct Parsed {
    name: syn::Ident,
    generics: syn::Generics,
    fields: Vec<Field>,
    /// The `bool` field that holds training mode (`#[module(training)]`).
    training: Option<syn::Member>,
    /// `sequential`: the derive writes `forward` too.
    sequential: bool,
    /// `sequential` or `chain`: the fields run in order, so the shape table can be derived.
    chain: bool,
    /// `residual`: the fields run in order, the `shortcut` field (or the input) is added, then
    /// the `then` field runs; the derive writes `forward` and the shape table.
    residual: bool,
    then: Option<syn::Member>,
    /// `leaf`: a layer of its own; its shape table row is its input and output.
    leaf: bool,
    display: bool,
    input: Option<syn::Type>,
    kind: Option<syn::Expr>,
    extra_repr: Option<syn::Ident>,
    bounds: Vec<syn::WherePredicate>,
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
    let err = |msg: &str| Err(syn::Error::new_spanned(&name, msg));
    if attrs.input.is_some() && !chain && !attrs.residual {
        return err("`input = ..` prints the shapes of a chain of layers: add `sequential` (or `chain`, if you write `forward` yourself and it chains the fields in order)");
    }
    if attrs.skip
        || attrs.param
        || attrs.buffer
        || attrs.training
        || attrs.shortcut
        || attrs.rename.is_some()
    {
        return err(
            "`skip`, `param`, `buffer`, `training`, `shortcut` and `rename` go on a field, not on the struct",
        );
    }
    if attrs.residual && (chain || attrs.leaf) {
        return err(
            "`residual` derives `forward` itself: it goes without `sequential`, `chain` and `leaf`",
        );
    }
    if attrs.leaf && chain {
        return err(
            "a `leaf` layer is not a chain of layers: `leaf` goes without `sequential` and `chain`",
        );
    }
    let (fields, training) = parse_fields(&data.fields, attrs.leaf)?;
    let then = residual_then(&fields, &attrs, &name)?;
    if chain && fields.iter().all(|f| f.role != Role::Child) {
        return err(if attrs.sequential {
            "#[module(sequential)] needs at least one (non-skipped) field to chain"
        } else {
            "`sequential` and `chain` need at least one (non-skipped) field"
        });
    }
    Ok(Parsed {
        name,
        generics: input.generics,
        fields,
        training,
        sequential: attrs.sequential,
        chain,
        residual: attrs.residual,
        then,
        leaf: attrs.leaf,
        // a layer prints inside its network; on its own, through `ModuleDisplay`
        display: !attrs.no_display && !attrs.leaf,
        input: attrs.input,
        kind: attrs.kind,
        extra_repr: attrs.extra_repr,
        bounds: attrs.bounds,
    })
}

/// The checks of a `residual` struct's fields, and its `then` field: one shortcut at most, a
/// branch of at least one field, `then` naming a submodule.
fn residual_then(
    fields: &[Field],
    attrs: &Attrs,
    name: &syn::Ident,
) -> syn::Result<Option<syn::Member>> {
    let err = |msg: &str| Err(syn::Error::new_spanned(name, msg));
    let shortcuts = fields.iter().filter(|f| f.shortcut).count();
    if !attrs.residual {
        return match (shortcuts, &attrs.then) {
            (0, None) => Ok(None),
            _ => err("`shortcut` and `then` belong to a `#[module(residual)]` struct"),
        };
    }
    if shortcuts > 1 {
        return err(
            "a residual block has one `#[module(shortcut)]` field (or none: the input itself)",
        );
    }
    let Some(then) = &attrs.then else {
        return match fields.iter().any(|f| f.role == Role::Child && !f.shortcut) {
            true => Ok(None),
            false => err("#[module(residual)] needs at least one field for the branch"),
        };
    };
    match fields.iter().find(|f| f.role == Role::Child && *then == f.name) {
        Some(f) if !f.shortcut => Ok(Some(f.member.clone())),
        _ => err("`residual(then = field)` names a submodule field of the branch, run again after the sum (torchvision's `relu`)"),
    }
}

/// The visited fields with their roles, and the training-mode field. In a `leaf` a field
/// without `param` or `buffer` is configuration, not visited.
fn parse_fields(
    fields: &syn::Fields,
    leaf: bool,
) -> syn::Result<(Vec<Field>, Option<syn::Member>)> {
    let mut out = vec![];
    let mut training = None;
    for (i, f) in fields.iter().enumerate() {
        let fa = Attrs::parse(&f.attrs)?;
        if fa.has_struct_options() {
            return Err(syn::Error::new_spanned(
                f,
                "`sequential`, `chain`, `residual`, `leaf`, `input`, `kind`, `extra_repr`, `bounds` and `no_display` go on the struct, not on a field",
            ));
        }
        if usize::from(fa.skip)
            + usize::from(fa.param)
            + usize::from(fa.buffer)
            + usize::from(fa.training)
            > 1
        {
            return Err(syn::Error::new_spanned(
                f,
                "a field is one of `skip`, `param`, `buffer` or `training`",
            ));
        }
        let member = match &f.ident {
            Some(id) => syn::Member::Named(id.clone()),
            None => syn::Member::Unnamed(syn::Index::from(i)),
        };
        if fa.training {
            training = Some(member);
            continue;
        }
        if fa.shortcut && (fa.skip || fa.param || fa.buffer || leaf) {
            return Err(syn::Error::new_spanned(
                f,
                "a `shortcut` field is a submodule (a projection, or `NoShortcut`)",
            ));
        }
        let role = if fa.param {
            Role::Param
        } else if fa.buffer {
            Role::Buffer
        } else if fa.skip || leaf {
            continue;
        } else {
            Role::Child
        };
        let name = field_name(f, i, &fa);
        out.push(Field {
            member,
            name,
            ty: f.ty.clone(),
            role,
            shortcut: fa.shortcut,
        });
    }
    Ok((out, training))
}

/// The name a field's tensors go under: `rename`'s (a PyTorch name that is no Rust
/// identifier, such as `self` or `LayerNorm`), else the field's own, else its position.
fn field_name(f: &syn::Field, i: usize, fa: &Attrs) -> String {
    match (&fa.rename, &f.ident) {
        (Some(r), _) => r.value(),
        (None, Some(id)) => id.to_string(),
        (None, None) => i.to_string(),
    }
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
        match concrete_input(&p)? {
            Some(input) => concrete_forward_impl(&p, input),
            None => forward_impl(&p),
        }
    } else if p.residual {
        residual_forward_impl(&p)
    } else {
        quote!()
    };
    let summary = if p.residual {
        residual_summary_impl(&p)
    } else if p.chain {
        summary_impl(&p)
    } else if p.leaf {
        leaf_summary_impl(&p)
    } else {
        quote!()
    };
    Ok(quote! { #module #display #forward #summary })
}

/// The struct's generics with `'static` type parameters, every submodule field a `Module`, and
/// the struct's `bounds`.
fn module_generics(p: &Parsed) -> syn::Generics {
    let mut generics = p.generics.clone();
    let wc = generics.make_where_clause();
    for tp in p.generics.type_params() {
        let id = &tp.ident;
        wc.predicates.push(syn::parse_quote!(#id: 'static));
    }
    for f in p.fields.iter().filter(|f| f.role == Role::Child) {
        let ty = &f.ty;
        wc.predicates
            .push(syn::parse_quote!(#ty: ::stensor::nn::Module));
    }
    wc.predicates.extend(p.bounds.iter().cloned());
    generics
}

/// One statement or expression per field from `each(field)`, spanned on the field's type so
/// that an error (a field that is not a `Module`) points at it.
fn per_field<'a>(
    fields: impl Iterator<Item = &'a Field>,
    each: impl Fn(&Field) -> TokenStream2,
) -> Vec<TokenStream2> {
    fields
        .map(|f| {
            let span = syn::spanned::Spanned::span(&f.ty);
            let body = each(f);
            quote::quote_spanned!(span=> #body)
        })
        .collect()
}

/// The `visit` (or, `mutable`, `visit_mut`) statement of a field for its role.
fn visit_field(f: &Field, mutable: bool) -> TokenStream2 {
    let (m, n) = (&f.member, &f.name);
    let kind = match f.role {
        Role::Param => quote!(::stensor::nn::TensorKind::Parameter),
        _ => quote!(::stensor::nn::TensorKind::Buffer),
    };
    match (f.role, mutable) {
        (Role::Child, false) => {
            quote!(::stensor::nn::Module::visit(&self.#m, &::stensor::nn::join(prefix, #n), f);)
        }
        (Role::Child, true) => {
            quote!(::stensor::nn::Module::visit_mut(&mut self.#m, &::stensor::nn::join(prefix, #n), f);)
        }
        (_, false) => {
            quote!(::stensor::nn::ParamField::visit_as(&self.#m, &::stensor::nn::join(prefix, #n), #kind, f);)
        }
        (_, true) => {
            quote!(::stensor::nn::ParamField::visit_mut_as(&mut self.#m, &::stensor::nn::join(prefix, #n), #kind, f);)
        }
    }
}

fn module_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let generics = module_generics(p);
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let visits = per_field(p.fields.iter(), |f| visit_field(f, false));
    let visits_mut = per_field(p.fields.iter(), |f| visit_field(f, true));
    let children = p.fields.iter().filter(|f| f.role == Role::Child);
    let kids = per_field(children.clone(), |f| {
        let (m, n) = (&f.member, &f.name);
        quote!((::std::string::String::from(#n), &self.#m as &dyn ::stensor::nn::Module))
    });
    let kids_mut = per_field(children, |f| {
        let (m, n) = (&f.member, &f.name);
        quote!((::std::string::String::from(#n), &mut self.#m as &mut dyn ::stensor::nn::Module))
    });
    let kind = match &p.kind {
        Some(k) => quote!(#k),
        None => {
            let k = name.to_string();
            quote!(#k)
        }
    };
    let extra_repr = p.extra_repr.as_ref().map(|m| {
        quote! {
            fn extra_repr(&self) -> ::std::string::String {
                self.#m()
            }
        }
    });
    let set_training = p.training.as_ref().map(|t| {
        quote! {
            fn set_training(&mut self, training: bool) {
                self.#t = training;
                for (_, c) in ::stensor::nn::Module::children_mut(self) {
                    c.set_training(training);
                }
            }
        }
    });
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
            #extra_repr
            #set_training
            fn as_any_mut(&mut self) -> &mut dyn ::std::any::Any {
                self
            }
        }
    }
}

/// `leaf`: the shape table's one row, this layer's input and output.
fn leaf_summary_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let (_, ty_g, _) = p.generics.split_for_impl();
    let mut generics = module_generics(p);
    generics.params.insert(0, syn::parse_quote!(__StensorInput));
    let wc = generics.make_where_clause();
    wc.predicates
        .push(syn::parse_quote!(Self: ::stensor::nn::Forward<__StensorInput>));
    wc.predicates
        .push(syn::parse_quote!(__StensorInput: ::stensor::nn::TensorType));
    wc.predicates.push(syn::parse_quote!(<Self as ::stensor::nn::Forward<__StensorInput>>::Output: ::stensor::nn::TensorType));
    let (impl_g, _, where_c) = generics.split_for_impl();
    quote! {
        impl #impl_g ::stensor::nn::Summarize<__StensorInput> for #name #ty_g #where_c {
            fn summary_rows(&self, prefix: &str, rows: &mut ::std::vec::Vec<::stensor::nn::SummaryRow>) {
                rows.push(::stensor::nn::layer_row::<__StensorInput, Self>(self, prefix));
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
    for f in p.fields.iter().filter(|f| f.role == Role::Child) {
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
    let members = p
        .fields
        .iter()
        .filter(|f| f.role == Role::Child)
        .map(|f| &f.member);
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
    let children: Vec<&Field> = p.fields.iter().filter(|f| f.role == Role::Child).collect();
    let steps = children.iter().zip(&inputs).map(|(f, x)| {
        let (member, fname) = (&f.member, &f.name);
        quote! { ::stensor::nn::Summarize::<#x>::summary_rows(&self.#member, &::stensor::nn::join(prefix, #fname), rows); }
    });
    let nodes = children.iter().zip(&inputs).map(|(f, x)| {
        let (member, fname) = (&f.member, &f.name);
        quote! { ::stensor::nn::Summarize::<#x>::graph(&self.#member, &::stensor::nn::join(prefix, #fname), graph); }
    });
    quote! {
        impl #impl_g ::stensor::nn::Summarize<__StensorInput> for #name #ty_g #where_c {
            fn summary_rows(&self, prefix: &str, rows: &mut ::std::vec::Vec<::stensor::nn::SummaryRow>) {
                #( #steps )*
            }
            fn graph(&self, prefix: &str, graph: &mut ::stensor::nn::LayerGraph) {
                #( #nodes )*
            }
        }
    }
}

/// The types and bounds of a `residual` struct's forward, for input `__StensorInput`: the branch
/// chained (each field bounded by `bound`), the shortcut (or the input), their sum, and the
/// `then` field after it. Returns the generics, each branch field's input type, the sum's type
/// and the output type.
fn residual_generics(
    p: &Parsed,
    bound: impl Fn(&syn::Type, &syn::Type) -> syn::WherePredicate,
) -> (syn::Generics, Vec<syn::Type>, syn::Type, syn::Type) {
    let mut generics = p.generics.clone();
    generics.params.insert(0, syn::parse_quote!(__StensorInput));
    let wc = generics.make_where_clause();
    wc.predicates
        .push(syn::parse_quote!(__StensorInput: ::core::clone::Clone));
    let mut inputs = vec![];
    let mut x: syn::Type = syn::parse_quote!(__StensorInput);
    for f in p
        .fields
        .iter()
        .filter(|f| f.role == Role::Child && !f.shortcut)
    {
        let ty = &f.ty;
        wc.predicates.push(bound(ty, &x));
        let next = syn::parse_quote!(<#ty as ::stensor::nn::Forward<#x>>::Output);
        inputs.push(std::mem::replace(&mut x, next));
    }
    let short: syn::Type = match p.fields.iter().find(|f| f.shortcut) {
        Some(f) => {
            let ty = &f.ty;
            wc.predicates
                .push(bound(ty, &syn::parse_quote!(__StensorInput)));
            syn::parse_quote!(<#ty as ::stensor::nn::Forward<__StensorInput>>::Output)
        }
        None => syn::parse_quote!(__StensorInput),
    };
    wc.predicates
        .push(syn::parse_quote!(#x: ::stensor::nn::ResidualSum<#short>));
    let sum: syn::Type = syn::parse_quote!(<#x as ::stensor::nn::ResidualSum<#short>>::Output);
    let out = match p
        .then
        .as_ref()
        .and_then(|m| p.fields.iter().find(|f| &f.member == m))
    {
        Some(f) => {
            let ty = &f.ty;
            wc.predicates.push(bound(ty, &sum));
            syn::parse_quote!(<#ty as ::stensor::nn::Forward<#sum>>::Output)
        }
        None => sum.clone(),
    };
    (generics, inputs, sum, out)
}

/// `#[module(residual)]`: `forward` runs the branch, adds the shortcut's output (or the input),
/// then runs `then`.
fn residual_forward_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let (_, ty_g, _) = p.generics.split_for_impl();
    let (generics, _, _, output) = residual_generics(
        p,
        |ty, x| syn::parse_quote!(#ty: ::stensor::nn::Forward<#x>),
    );
    let (impl_g, _, where_c) = generics.split_for_impl();
    let branch = p
        .fields
        .iter()
        .filter(|f| f.role == Role::Child && !f.shortcut)
        .map(|f| &f.member);
    let shortcut = match p.fields.iter().find(|f| f.shortcut) {
        Some(f) => {
            let m = &f.member;
            quote!(::stensor::nn::Forward::forward(&self.#m, ::core::clone::Clone::clone(&x)))
        }
        None => quote!(::core::clone::Clone::clone(&x)),
    };
    let then = p
        .then
        .as_ref()
        .map(|m| quote!(let x = ::stensor::nn::Forward::forward(&self.#m, x);));
    quote! {
        impl #impl_g ::stensor::nn::Forward<__StensorInput> for #name #ty_g #where_c {
            type Output = #output;
            fn forward(&self, x: __StensorInput) -> Self::Output {
                let shortcut = #shortcut;
                #( let x = ::stensor::nn::Forward::forward(&self.#branch, x); )*
                let x = ::stensor::nn::ResidualSum::residual_sum(x, shortcut);
                #then
                x
            }
        }
    }
}

/// `residual`: the shape table's rows: the branch, the shortcut (from the input), then `then`.
fn residual_summary_impl(p: &Parsed) -> TokenStream2 {
    let name = &p.name;
    let (_, ty_g, _) = p.generics.split_for_impl();
    let (generics, inputs, sum, _) = residual_generics(
        p,
        |ty, x| syn::parse_quote!(#ty: ::stensor::nn::Forward<#x> + ::stensor::nn::Summarize<#x>),
    );
    let (impl_g, _, where_c) = generics.split_for_impl();
    // `method` is `summary_rows` (into `rows`) or `graph` (into `graph`)
    let call = |f: &Field, x: &syn::Type, method: &str| {
        let (member, fname) = (&f.member, &f.name);
        let out = if method == "graph" { "graph" } else { "rows" };
        let (method, out) = (
            quote::format_ident!("{method}"),
            quote::format_ident!("{out}"),
        );
        quote! { ::stensor::nn::Summarize::<#x>::#method(&self.#member, &::stensor::nn::join(prefix, #fname), #out); }
    };
    let branch: Vec<&Field> = p
        .fields
        .iter()
        .filter(|f| f.role == Role::Child && !f.shortcut)
        .collect();
    let shortcut = p.fields.iter().find(|f| f.shortcut);
    let then = p
        .then
        .as_ref()
        .and_then(|m| p.fields.iter().find(|f| &f.member == m));
    let input: syn::Type = syn::parse_quote!(__StensorInput);
    let steps_of = |method: &str| {
        let branch: Vec<TokenStream2> = branch
            .iter()
            .zip(&inputs)
            .map(|(f, x)| call(f, x, method))
            .collect();
        let short: Vec<TokenStream2> = shortcut.iter().map(|f| call(f, &input, method)).collect();
        let then: Vec<TokenStream2> = then.iter().map(|f| call(f, &sum, method)).collect();
        (branch, short, then)
    };
    let (rows_branch, rows_short, rows_then) = steps_of("summary_rows");
    let (graph_branch, graph_short, graph_then) = steps_of("graph");
    quote! {
        impl #impl_g ::stensor::nn::Summarize<__StensorInput> for #name #ty_g #where_c {
            fn summary_rows(&self, prefix: &str, rows: &mut ::std::vec::Vec<::stensor::nn::SummaryRow>) {
                #( #rows_branch )*
                #( #rows_short )*
                #( #rows_then )*
            }
            // the branch and the shortcut both from the block's input, then their sum
            fn graph(&self, prefix: &str, graph: &mut ::stensor::nn::LayerGraph) {
                let input = graph.tip();
                #( #graph_branch )*
                let branch = graph.tip();
                graph.set_tip(input);
                #( #graph_short )*
                let shortcut = graph.tip();
                graph.add(&::stensor::nn::join(prefix, "add"), branch, shortcut);
                #( #graph_then )*
            }
        }
    }
}

/// The input of a `sequential` struct without type parameters that names `input =
/// Tensor<S, E>`: its shape and element type. Its `forward` is then written for that input (any
/// tape, any size of its runtime dims), so the compiler checks each field's shape rule where the
/// struct is defined and reports the rule's sentence at the field that breaks it, instead of an
/// unmet bound at the caller.
fn concrete_input(p: &Parsed) -> syn::Result<Option<(syn::Type, syn::Type)>> {
    let Some(input) = &p.input else {
        return Ok(None);
    };
    if p.generics.type_params().next().is_some() {
        return Ok(None);
    }
    let args = match input {
        syn::Type::Path(tp) => tp
            .path
            .segments
            .last()
            .and_then(|seg| match &seg.arguments {
                syn::PathArguments::AngleBracketed(a) if seg.ident == "Tensor" => Some(&a.args),
                _ => None,
            }),
        _ => None,
    };
    let types: Vec<&syn::Type> = args
        .into_iter()
        .flatten()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [s] => Ok(Some(((*s).clone(), syn::parse_quote!(f32)))),
        [s, e] | [s, e, _] => Ok(Some(((*s).clone(), (*e).clone()))),
        _ => Err(syn::Error::new_spanned(
            input,
            "`input = ..` names the input tensor type, `Tensor<Shape>` or `Tensor<Shape, Element>`",
        )),
    }
}

/// `sequential` with a concrete `input`: `forward` for that shape and element type and any
/// tape, each field's output type spanned at the field so a broken rule points there.
fn concrete_forward_impl(p: &Parsed, (shape, elem): (syn::Type, syn::Type)) -> TokenStream2 {
    use syn::spanned::Spanned;
    let name = &p.name;
    let (impl_g, ty_g, where_c) = p.generics.split_for_impl();
    // Each runtime (`usize`) dim of the named shape becomes a parameter, so the network takes
    // a static batch as well; the static dims stay concrete, which is what lets the compiler
    // check the rules here.
    let mut dims: Vec<TokenStream2> = vec![];
    let shape: syn::Type = match &shape {
        syn::Type::Tuple(t) => {
            let elems: Vec<TokenStream2> = t
                .elems
                .iter()
                .enumerate()
                .map(|(i, d)| match d {
                    syn::Type::Path(tp) if tp.path.is_ident("usize") => {
                        let id = quote::format_ident!("__StensorDim{}", i);
                        dims.push(quote!(#id: ::stensor::shape::Dim));
                        quote!(#id)
                    }
                    _ => quote!(#d),
                })
                .collect();
            syn::parse_quote!((#(#elems,)*))
        }
        other => other.clone(),
    };
    let mut x: syn::Type = syn::parse_quote!(::stensor::Tensor<#shape, #elem, __StensorTape>);
    let input = x.clone();
    let mut steps = vec![];
    for f in p.fields.iter().filter(|f| f.role == Role::Child) {
        let (ty, member) = (&f.ty, &f.member);
        x = syn::parse_quote_spanned!(ty.span()=> <#ty as ::stensor::nn::Forward<#x>>::Output);
        steps.push(quote::quote_spanned!(ty.span()=> let x = ::stensor::nn::Forward::forward(&self.#member, x);));
    }
    let mut params: Vec<TokenStream2> = vec![quote!(__StensorTape)];
    params.extend(dims);
    params.extend(p.generics.params.iter().map(|g| quote!(#g)));
    let _ = impl_g;
    let mut preds: Vec<TokenStream2> = vec![quote!(
        __StensorTape: ::stensor::autograd::MergeTape<#elem, __StensorTape, Output = __StensorTape>
    )];
    if let Some(wc) = where_c {
        preds.extend(wc.predicates.iter().map(|w| quote!(#w)));
    }
    quote! {
        impl<#(#params),*> ::stensor::nn::Forward<#input> for #name #ty_g where #(#preds),* {
            type Output = #x;
            fn forward(&self, x: #input) -> Self::Output {
                #( #steps )*
                x
            }
        }
    }
}
