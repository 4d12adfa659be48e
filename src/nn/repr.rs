//! How layers print, as PyTorch's `extra_repr` writes it: Python's reprs of floats, booleans
//! and tuples, and each type-level hyper-parameter as the value the user passed.

use super::{Same, Valid};
use crate::shape::ConstDim;

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

pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's repr of a tuple of sizes: `(5,)`, `(2, 3)`.
pub(crate) fn py_tuple(v: &[usize]) -> String {
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
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{HyperRepr, Same};
/// assert_eq!((U3::repr(), <(U2, U3)>::repr(), Same::repr()), ("3".to_string(), "(2, 3)".to_string(), "'same'".to_string()));
/// assert_eq!(<(U2, U3)>::values(), Some(vec![2, 3]));
/// ```
pub trait HyperRepr {
    /// The repr as PyTorch prints the value the user passed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::HyperRepr;
    /// assert_eq!(<(U1, U2)>::repr(), "(1, 2)");
    /// ```
    fn repr() -> String;
    /// The values per dim, if numeric (for PyTorch's tuple forms and "is it the default").
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{HyperRepr, Valid};
    /// assert_eq!((U3::values(), Valid::values()), (Some(vec![3]), None));
    /// ```
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
pub(crate) fn spec_tuple<H: HyperRepr>(rank: usize) -> String {
    match H::values() {
        Some(v) if v.len() == 1 => py_tuple(&vec![v[0]; rank]),
        Some(v) => py_tuple(&v),
        None => H::repr(),
    }
}

pub(crate) fn is_all<H: HyperRepr>(x: usize) -> bool {
    H::values().is_some_and(|v| v.iter().all(|&d| d == x))
}

/// PyTorch's `extra_repr` of a (transposed) convolution: channels, kernel and stride, then
/// each `(shown, text)` whose value differs from the default, in PyTorch's order.
pub(crate) fn conv_repr<CI: ConstDim, CO: ConstDim, K: HyperRepr, S: HyperRepr>(
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

pub(crate) fn momentum_repr(m: Option<f64>) -> String {
    m.map_or("None".into(), py_float)
}

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
