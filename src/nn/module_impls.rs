//! `Module` for every layer: parameters and buffers under PyTorch's names, train/eval for the
//! layers that have a mode, and PyTorch's `extra_repr` for the printout.

use super::*;
use crate::shape::{ConstDim, ConstShape};
use crate::tensor::{Element, Values, ValuesMut};
use std::any::Any;

/// Python's `repr` of a float: `1.0`, `0.1`, `1e-05`.
pub(crate) fn py_float(v: f64) -> String {
    if v != 0.0 && v.is_finite() && (v.abs() < 1e-4 || v.abs() >= 1e16) {
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else if v.fract() == 0.0 && v.is_finite() {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's repr of a tuple of sizes: `(5,)`, `(2, 3)`.
fn py_tuple(v: &[usize]) -> String {
    match v {
        [a] => format!("({a},)"),
        _ => format!(
            "({})",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How a type-level hyper-parameter prints: a number, a tuple, `'same'`.
pub trait HyperRepr {
    /// The repr as PyTorch prints the value the user passed.
    fn repr() -> String;
    /// The values per dim, if numeric (for PyTorch's tuple forms and "is it the default").
    fn values() -> Option<Vec<usize>>;
}
impl<N: ConstDim> HyperRepr for N {
    fn repr() -> String {
        N::SIZE.to_string()
    }
    fn values() -> Option<Vec<usize>> {
        Some(vec![N::SIZE])
    }
}
impl HyperRepr for Same {
    fn repr() -> String {
        "'same'".into()
    }
    fn values() -> Option<Vec<usize>> {
        None
    }
}
impl HyperRepr for Valid {
    fn repr() -> String {
        "'valid'".into()
    }
    fn values() -> Option<Vec<usize>> {
        None
    }
}
macro_rules! tuple_repr {
    ($($T:ident),+) => {
        impl<$($T: ConstDim),+> HyperRepr for ($($T,)+) {
            fn repr() -> String {
                py_tuple(&[$($T::SIZE),+])
            }
            fn values() -> Option<Vec<usize>> {
                Some(vec![$($T::SIZE),+])
            }
        }
    };
}
tuple_repr!(A);
tuple_repr!(A, B);
tuple_repr!(A, B, C);

/// A per-dim hyper-parameter as PyTorch prints it for convolutions (`_pair(3)` is `(3, 3)`).
fn spec_tuple<H: HyperRepr>(rank: usize) -> String {
    match H::values() {
        Some(v) if v.len() == 1 => py_tuple(&vec![v[0]; rank]),
        Some(v) => py_tuple(&v),
        None => H::repr(),
    }
}

fn is_all<H: HyperRepr>(x: usize) -> bool {
    H::values().is_some_and(|v| v.iter().all(|&d| d == x))
}

/// `Summarize` for a single layer: one row with its input and output shapes.
macro_rules! leaf_summary {
    (impl[$($g:tt)*] $ty:ty $(where [$($w:tt)*])?) => {
        impl<__X, $($g)*> Summarize<__X> for $ty
        where
            $($($w)*)?
            Self: Forward<__X>,
            __X: TensorType,
            <Self as Forward<__X>>::Output: TensorType,
        {
            fn summary_rows(&self, prefix: &str, rows: &mut Vec<SummaryRow>) {
                rows.push(layer_row::<__X, Self>(self, prefix));
            }
        }
    };
}

macro_rules! leaf_module {
    (
        impl[$($g:tt)*] $ty:ty $(where [$($w:tt)*])?,
        kind = |$ks:ident| $kind:expr,
        fields = [$($field:ident),*],
        repr = |$s:ident| $repr:expr
        $(, training = $train:ident)?
    ) => {
        impl<$($g)*> Module for $ty $(where $($w)*)? {
            #[allow(unused_variables)]
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
                $( self.$field.visit(&join(prefix, stringify!($field)), f); )*
            }
            #[allow(unused_variables)]
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
                $( self.$field.visit_mut(&join(prefix, stringify!($field)), f); )*
            }
            fn kind(&self) -> &'static str {
                let $ks = self;
                let _ = $ks;
                $kind
            }
            fn extra_repr(&self) -> String {
                let $s = self;
                let _ = $s;
                $repr
            }
            $(
                fn set_training(&mut self, training: bool) {
                    if training { self.$train(); } else { self.eval(); }
                }
            )?
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }

        leaf_summary!(impl[$($g)*] $ty $(where [$($w)*])?);
    };
}

leaf_module!(
    impl[I: ConstDim, O: ConstDim, E: Element] Linear<I, O, E>,
    kind = |s| "Linear",
    fields = [weight, bias],
    repr = |s| format!("in_features={}, out_features={}, bias={}", I::SIZE, O::SIZE, py_bool(s.bias.is_some()))
);
leaf_module!(impl[] Identity, kind = |s| "Identity", fields = [], repr = |s| String::new());
leaf_module!(
    impl[const A: isize, const B: isize] Flatten<A, B>,
    kind = |s| "Flatten",
    fields = [],
    repr = |s| format!("start_dim={A}, end_dim={B}")
);
leaf_module!(
    impl[const D: isize, Sizes: HyperRepr + 'static] Unflatten<D, Sizes>,
    kind = |s| "Unflatten",
    fields = [],
    repr = |s| format!("dim={D}, unflattened_size={}", Sizes::repr())
);
leaf_module!(
    impl[R: ConstDim] PixelShuffle<R>,
    kind = |s| "PixelShuffle",
    fields = [],
    repr = |s| format!("upscale_factor={}", R::SIZE)
);
leaf_module!(
    impl[R: ConstDim] PixelUnshuffle<R>,
    kind = |s| "PixelUnshuffle",
    fields = [],
    repr = |s| format!("downscale_factor={}", R::SIZE)
);

/// PyTorch's `extra_repr` of a (transposed) convolution: channels, kernel and stride, then
/// each `(shown, text)` whose value differs from the default, in PyTorch's order.
fn conv_repr<CI: ConstDim, CO: ConstDim, K: HyperRepr, S: HyperRepr>(
    rank: usize,
    extras: &[(bool, String)],
) -> String {
    let mut r = format!(
        "{}, {}, kernel_size={}, stride={}",
        CI::SIZE,
        CO::SIZE,
        spec_tuple::<K>(rank),
        spec_tuple::<S>(rank)
    );
    for (_, text) in extras.iter().filter(|(shown, _)| *shown) {
        r += ", ";
        r += text;
    }
    r
}

macro_rules! conv_module {
    ($name:ident, $spec:ident, $rank:literal, [$($A:ident),+]) => {
        leaf_module!(
            impl[CI: ConstDim, CO: ConstDim, K, S, P, D, G, M, E: Element]
                $name<CI, CO, K, S, P, D, G, M, E>
            where [
                K: $spec<$($A: ConstDim),+> + HyperRepr + 'static,
                S: HyperRepr + 'static,
                P: HyperRepr + 'static,
                D: HyperRepr + 'static,
                G: Groups<CI, CO>,
                M: PaddingMode,
            ],
            kind = |s| stringify!($name),
            fields = [weight, bias],
            repr = |s| conv_repr::<CI, CO, K, S>($rank, &[
                (!is_all::<P>(0), format!("padding={}", spec_tuple::<P>($rank))),
                (!is_all::<D>(1), format!("dilation={}", spec_tuple::<D>($rank))),
                (G::SIZE != 1, format!("groups={}", G::SIZE)),
                (s.bias.is_none(), "bias=False".to_string()),
                (!M::IS_ZEROS, format!("padding_mode={}", M::NAME)),
            ])
        );
    };
}
conv_module!(Conv1d, Spec1, 1, [A]);
conv_module!(Conv2d, Spec2, 2, [A, B]);
conv_module!(Conv3d, Spec3, 3, [A, B, C]);

macro_rules! conv_transpose_module {
    ($name:ident, $spec:ident, $rank:literal, [$($A:ident),+]) => {
        leaf_module!(
            impl[CI: ConstDim, CO: ConstDim, K, S, P, OP, G, D, E: Element]
                $name<CI, CO, K, S, P, OP, G, D, E>
            where [
                K: $spec<$($A: ConstDim),+> + HyperRepr + 'static,
                S: HyperRepr + 'static,
                P: HyperRepr + 'static,
                OP: HyperRepr + 'static,
                D: HyperRepr + 'static,
                G: Groups<CI, CO>,
            ],
            kind = |s| stringify!($name),
            fields = [weight, bias],
            repr = |s| conv_repr::<CI, CO, K, S>($rank, &[
                (!is_all::<P>(0), format!("padding={}", spec_tuple::<P>($rank))),
                (!is_all::<OP>(0), format!("output_padding={}", spec_tuple::<OP>($rank))),
                (!is_all::<D>(1), format!("dilation={}", spec_tuple::<D>($rank))),
                (G::SIZE != 1, format!("groups={}", G::SIZE)),
                (s.bias.is_none(), "bias=False".to_string()),
            ])
        );
    };
}
conv_transpose_module!(ConvTranspose1d, Spec1, 1, [A]);
conv_transpose_module!(ConvTranspose2d, Spec2, 2, [A, B]);

macro_rules! pool_modules {
    ($($max:ident, $avg:ident);+) => {$(
        leaf_module!(
            impl[K: HyperRepr + 'static, S: HyperRepr + 'static, P: HyperRepr + 'static, D: HyperRepr + 'static, C: typenum::Bit + 'static]
                $max<K, S, P, D, C>,
            kind = |s| stringify!($max),
            fields = [],
            repr = |s| format!(
                "kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
                K::repr(), S::repr(), P::repr(), D::repr(), py_bool(C::BOOL)
            )
        );
        leaf_module!(
            impl[K: HyperRepr + 'static, S: HyperRepr + 'static, P: HyperRepr + 'static, C: typenum::Bit + 'static]
                $avg<K, S, P, C>,
            kind = |s| stringify!($avg),
            fields = [],
            repr = |s| {
                let mut r = format!("kernel_size={}, stride={}, padding={}", K::repr(), S::repr(), P::repr());
                if C::BOOL {
                    r += ", ceil_mode=True";
                }
                if !s.count_include_pad {
                    r += ", count_include_pad=False";
                }
                if let Some(d) = s.divisor_override {
                    r += &format!(", divisor_override={d}");
                }
                r
            }
        );
    )+};
}
pool_modules!(MaxPool1d, AvgPool1d; MaxPool2d, AvgPool2d; MaxPool3d, AvgPool3d);

leaf_module!(
    impl[K: HyperRepr + 'static, S: HyperRepr + 'static, P: HyperRepr + 'static] MaxUnpool2d<K, S, P>,
    kind = |s| "MaxUnpool2d",
    fields = [],
    repr = |s| format!("kernel_size={}, stride={}, padding={}", spec_tuple::<K>(2), spec_tuple::<S>(2), spec_tuple::<P>(2))
);
leaf_module!(impl[O: HyperRepr + 'static] AdaptiveAvgPool1d<O>, kind = |s| "AdaptiveAvgPool1d", fields = [], repr = |s| format!("output_size={}", O::repr()));
leaf_module!(impl[O: HyperRepr + 'static] AdaptiveMaxPool1d<O>, kind = |s| "AdaptiveMaxPool1d", fields = [], repr = |s| format!("output_size={}", O::repr()));
leaf_module!(
    impl[OH: HyperRepr + 'static, OW: HyperRepr + 'static] AdaptiveAvgPool2d<OH, OW>,
    kind = |s| "AdaptiveAvgPool2d",
    fields = [],
    repr = |s| format!("output_size=({}, {})", OH::repr(), OW::repr())
);
leaf_module!(
    impl[OH: HyperRepr + 'static, OW: HyperRepr + 'static] AdaptiveMaxPool2d<OH, OW>,
    kind = |s| "AdaptiveMaxPool2d",
    fields = [],
    repr = |s| format!("output_size=({}, {})", OH::repr(), OW::repr())
);

leaf_module!(
    impl[M: PaddingMode, L: ConstDim, R: ConstDim] Pad1d<M, L, R>,
    kind = |s| M::LAYER_NAMES[0],
    fields = [],
    repr = |s| {
        let p = py_tuple(&[L::SIZE, R::SIZE]);
        if M::HAS_VALUE { format!("padding={p}, value={}", py_float(s.value)) } else { p }
    }
);
leaf_module!(
    impl[M: PaddingMode, L: ConstDim, R: ConstDim, T: ConstDim, B: ConstDim] Pad2d<M, L, R, T, B>,
    kind = |s| M::LAYER_NAMES[1],
    fields = [],
    repr = |s| {
        let p = py_tuple(&[L::SIZE, R::SIZE, T::SIZE, B::SIZE]);
        if M::HAS_VALUE { format!("padding={p}, value={}", py_float(s.value)) } else { p }
    }
);

macro_rules! simple_modules {
    ($($name:ident),+) => {$(
        leaf_module!(impl[] $name, kind = |s| stringify!($name), fields = [], repr = |s| String::new());
    )+};
}
simple_modules!(
    Sigmoid,
    Tanh,
    ReLU,
    ReLU6,
    SELU,
    Tanhshrink,
    LogSigmoid,
    SiLU,
    Mish,
    Hardswish,
    Hardsigmoid
);
leaf_module!(impl[] LeakyReLU, kind = |s| "LeakyReLU", fields = [], repr = |s| format!("negative_slope={}", py_float(s.negative_slope)));
leaf_module!(impl[] ELU, kind = |s| "ELU", fields = [], repr = |s| format!("alpha={}", py_float(s.alpha)));
leaf_module!(impl[] CELU, kind = |s| "CELU", fields = [], repr = |s| format!("alpha={}", py_float(s.alpha)));
leaf_module!(impl[] Softplus, kind = |s| "Softplus", fields = [], repr = |s| format!("beta={}, threshold={}", py_float(s.beta), py_float(s.threshold)));
leaf_module!(impl[] Softshrink, kind = |s| "Softshrink", fields = [], repr = |s| py_float(s.lambd));
leaf_module!(impl[] Hardshrink, kind = |s| "Hardshrink", fields = [], repr = |s| py_float(s.lambd));
leaf_module!(impl[] Hardtanh, kind = |s| "Hardtanh", fields = [], repr = |s| format!("min_val={}, max_val={}", py_float(s.min_val), py_float(s.max_val)));
leaf_module!(impl[] GELU, kind = |s| "GELU", fields = [], repr = |s| format!("approximate='{}'", if s.approximate { "tanh" } else { "none" }));
leaf_module!(impl[] RReLU, kind = |s| "RReLU", fields = [], repr = |s| format!("lower={}, upper={}", py_float(s.lower), py_float(s.upper)), training = train);
leaf_module!(impl[W: ConstDim, E: Element] PReLU<W, E>, kind = |s| "PReLU", fields = [weight], repr = |s| format!("num_parameters={}", W::SIZE));
leaf_module!(impl[const D: usize] Softmax<D>, kind = |s| "Softmax", fields = [], repr = |s| format!("dim={D}"));
leaf_module!(impl[const D: usize] LogSoftmax<D>, kind = |s| "LogSoftmax", fields = [], repr = |s| format!("dim={D}"));
leaf_module!(impl[const D: usize] Softmin<D>, kind = |s| "Softmin", fields = [], repr = |s| format!("dim={D}"));
leaf_module!(impl[] Dropout, kind = |s| "Dropout", fields = [], repr = |s| format!("p={}, inplace=False", py_float(s.p())), training = train);
leaf_module!(impl[] Dropout2d, kind = |s| "Dropout2d", fields = [], repr = |s| format!("p={}, inplace=False", py_float(s.p())), training = train);

fn momentum_repr(m: Option<f64>) -> String {
    m.map_or("None".into(), py_float)
}

macro_rules! running_norm_module {
    ($($name:ident),+) => {$(
        impl<C: ConstDim, E: Element> Module for $name<C, E> {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, TensorRef<'_>)) {
                self.weight.visit(&join(prefix, "weight"), f);
                self.bias.visit(&join(prefix, "bias"), f);
                if self.track_running_stats {
                    let r = self.running_stats();
                    for (name, t) in [("running_mean", &r.mean), ("running_var", &r.var)] {
                        f(&join(prefix, name), TensorRef { id: None, dims: t.dims(), values: E::values(t.as_slice()), kind: TensorKind::Buffer });
                    }
                    let n = [r.num_batches_tracked as i64];
                    f(&join(prefix, "num_batches_tracked"), TensorRef { id: None, dims: crate::shape::Dims::new(&[]), values: Values::I64(&n), kind: TensorKind::Buffer });
                }
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, TensorMut<'_>)) {
                self.weight.visit_mut(&join(prefix, "weight"), f);
                self.bias.visit_mut(&join(prefix, "bias"), f);
                if self.track_running_stats {
                    let mut r = self.running_stats();
                    for (name, t) in [("running_mean", &mut r.mean), ("running_var", &mut r.var)] {
                        let dims = t.dims();
                        f(&join(prefix, name), TensorMut { id: None, dims, values: E::values_mut(t.as_mut_slice()), kind: TensorKind::Buffer });
                    }
                    let mut n = [r.num_batches_tracked as i64];
                    f(&join(prefix, "num_batches_tracked"), TensorMut { id: None, dims: crate::shape::Dims::new(&[]), values: ValuesMut::I64(&mut n), kind: TensorKind::Buffer });
                    r.num_batches_tracked = n[0].max(0) as usize;
                    self.set_running_stats(r);
                }
            }
            fn kind(&self) -> &'static str {
                stringify!($name)
            }
            fn extra_repr(&self) -> String {
                format!(
                    "{}, eps={}, momentum={}, affine={}, track_running_stats={}",
                    C::SIZE, py_float(self.eps), momentum_repr(self.momentum), py_bool(self.weight.is_some()), py_bool(self.track_running_stats)
                )
            }
            fn set_training(&mut self, training: bool) {
                if training { self.train(); } else { self.eval(); }
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }

        leaf_summary!(impl[C: ConstDim, E: Element] $name<C, E>);
    )+};
}
running_norm_module!(
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d
);

leaf_module!(
    impl[NS: ConstShape, E: Element] LayerNorm<NS, E>,
    kind = |s| "LayerNorm",
    fields = [weight, bias],
    repr = |s| format!("{}, eps={}, elementwise_affine={}", py_tuple(NS::DIMS), py_float(s.eps), py_bool(s.weight.is_some()))
);
leaf_module!(
    impl[G: ConstDim, C: ConstDim, E: Element] GroupNorm<G, C, E>
    where [C: core::ops::Rem<G>, typenum::Mod<C, G>: typenum::IsEqual<typenum::U0>, typenum::Eq<typenum::Mod<C, G>, typenum::U0>: crate::shape::rules::NormGroupsDivide,],
    kind = |s| "GroupNorm",
    fields = [weight, bias],
    repr = |s| format!("{}, {}, eps={}, affine={}", G::SIZE, C::SIZE, py_float(s.eps), py_bool(s.weight.is_some()))
);

#[cfg(test)]
mod tests {
    use super::py_float;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.01), "0.01");
        assert_eq!(py_float(20.0), "20.0");
        assert_eq!(py_float(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(py_float(-2.5), "-2.5");
    }
}
