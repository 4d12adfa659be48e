//! Printing: `Display` like PyTorch's `print(tensor)`; `Debug` as Rust code that rebuilds the
//! tensor (its static type and every value at full precision), so a failure report can be pasted
//! back into a test.
//!
//! The rules follow `torch/_tensor_str.py`: integral values print as `1.`, others with four
//! decimals, switching to scientific notation (`1.0000e+05`) when the largest and smallest
//! nonzero magnitudes differ by more than 1000x, exceed 1e8 or fall under 1e-4; every element is
//! right-aligned to the widest; lines wrap at 80 columns; tensors of more than 1000 elements
//! are summarised to their first and last 3 entries per dimension.

use super::{Element, Tensor};
use crate::autograd::TapeMode;
use crate::shape::{Shape, ShapeDisplay};
use std::fmt;

const THRESHOLD: usize = 1000;
const EDGE: usize = 3;
const LINEWIDTH: usize = 80;
const PRECISION: usize = 4;

#[derive(Clone, Copy)]
enum Mode {
    Int,
    IntSci,
    Fixed,
    Sci,
}

struct Formatter {
    mode: Mode,
    width: usize,
}

fn python_sci(v: f64) -> String {
    let s = format!("{:.*e}", PRECISION, v);
    match s.split_once('e') {
        Some((mant, exp)) => {
            let e: i32 = exp.parse().unwrap_or(0);
            let sign = if e < 0 { '-' } else { '+' };
            format!("{mant}e{sign}{:02}", e.abs())
        }
        None => s,
    }
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("nan".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        None
    }
}

impl Formatter {
    fn new(values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let int_mode = finite.iter().all(|v| v.ceil() == *v);
        let nonzero: Vec<f64> = finite
            .iter()
            .map(|v| v.abs())
            .filter(|v| *v != 0.0)
            .collect();
        let (max, min) = nonzero
            .iter()
            .fold((0.0f64, f64::INFINITY), |(mx, mn), &v| {
                (mx.max(v), mn.min(v))
            });
        let mode = if int_mode {
            if !nonzero.is_empty() && max > 1e8 {
                Mode::IntSci
            } else {
                Mode::Int
            }
        } else if !nonzero.is_empty() && (max / min > 1000.0 || max > 1e8 || min < 1e-4) {
            Mode::Sci
        } else {
            Mode::Fixed
        };
        let mut f = Formatter { mode, width: 1 };
        // PyTorch sizes the columns by the nonzero finite values only.
        f.width = values
            .iter()
            .filter(|v| v.is_finite() && **v != 0.0)
            .map(|&v| f.raw(v).len())
            .max()
            .unwrap_or(1);
        f
    }

    fn raw(&self, v: f64) -> String {
        if let Some(s) = special(v) {
            return s;
        }
        match self.mode {
            Mode::Int => format!("{v:.0}."),
            Mode::IntSci | Mode::Sci => python_sci(v),
            Mode::Fixed => format!("{:.*}", PRECISION, v),
        }
    }

    fn fmt(&self, v: f64) -> String {
        format!("{:>w$}", self.raw(v), w = self.width)
    }
}

/// The values the printout shows (all of them, or the edges of each dimension when large).
fn summarized(values: &[f64], dims: &[usize], summarize: bool) -> Vec<f64> {
    if dims.is_empty() {
        return values.to_vec();
    }
    let inner: usize = dims[1..].iter().product();
    let keep: Vec<usize> = if summarize && dims[0] > 2 * EDGE {
        (0..EDGE).chain(dims[0] - EDGE..dims[0]).collect()
    } else {
        (0..dims[0]).collect()
    };
    keep.into_iter()
        .flat_map(|i| summarized(&values[i * inner..(i + 1) * inner], &dims[1..], summarize))
        .collect()
}

fn tensor_str(
    values: &[f64],
    dims: &[usize],
    indent: usize,
    summarize: bool,
    f: &Formatter,
) -> String {
    match dims.len() {
        0 => f.fmt(values[0]),
        1 => {
            let n = dims[0];
            let mut items: Vec<String> = Vec::new();
            if summarize && n > 2 * EDGE {
                items.extend(values[..EDGE].iter().map(|&v| f.fmt(v)));
                items.push(" ...".into()); // PyTorch pads the row ellipsis by one space
                items.extend(values[n - EDGE..].iter().map(|&v| f.fmt(v)));
            } else {
                items.extend(values.iter().map(|&v| f.fmt(v)));
            }
            let per_line = ((LINEWIDTH.saturating_sub(indent)) / (f.width + 2)).max(1);
            let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
            format!(
                "[{}]",
                lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
            )
        }
        rank => {
            let inner: usize = dims[1..].iter().product();
            let sub = |i: usize| {
                tensor_str(
                    &values[i * inner..(i + 1) * inner],
                    &dims[1..],
                    indent + 1,
                    summarize,
                    f,
                )
            };
            let mut parts: Vec<String> = Vec::new();
            if summarize && dims[0] > 2 * EDGE {
                parts.extend((0..EDGE).map(sub));
                parts.push("...".into());
                parts.extend((dims[0] - EDGE..dims[0]).map(sub));
            } else {
                parts.extend((0..dims[0]).map(sub));
            }
            let sep = format!(",{}{}", "\n".repeat(rank - 1), " ".repeat(indent + 1));
            format!("[{}]", parts.join(&sep))
        }
    }
}

/// The body of a PyTorch-style printout, `tensor(...)` included, for the given row-major values.
pub(crate) fn format_tensor(values: &[f64], dims: &[usize], suffixes: &[String]) -> String {
    const PREFIX: &str = "tensor(";
    let indent = PREFIX.len();
    let body = if values.is_empty() {
        "[]".to_string()
    } else {
        let summarize = values.len() > THRESHOLD;
        let shown = summarized(values, dims, summarize);
        let f = Formatter::new(&shown);
        tensor_str(values, dims, indent, summarize, &f)
    };
    let mut out = format!("{PREFIX}{body}");
    for s in suffixes {
        let last_line = out.rsplit('\n').next().unwrap_or("").len();
        if last_line + s.len() + 2 > LINEWIDTH {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        } else {
            out.push_str(", ");
        }
        out.push_str(s);
    }
    out.push(')');
    out
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    fn printout(&self) -> String {
        let values: Vec<f64> = self.as_slice().iter().map(|v| v.as_f64()).collect();
        let mut suffixes = Vec::new();
        if E::PRINTS_DTYPE {
            suffixes.push(format!("dtype={}", E::NAME));
        }
        if T::TRACED && self.requires_grad() {
            suffixes.push("requires_grad=True".to_string());
        }
        format_tensor(&values, &self.dims(), &suffixes)
    }
}

/// Prints like PyTorch: `tensor([[1., 2.], [3., 4.]])`, `dtype=f64` for `f64`, summarised when
/// large.
///
/// ```
/// use stensor::prelude::*;
/// let t = Tensor::<(U2, U2)>::from_array([[1.0, 2.0], [3.0, 4.5]]);
/// assert_eq!(t.to_string(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])");
/// assert_eq!(Tensor::<(U3,)>::arange().to_string(), "tensor([0., 1., 2.])");
/// ```
impl<S: Shape, E: Element, T: TapeMode<E>> fmt::Display for Tensor<S, E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.printout())
    }
}

/// Tensors up to this many elements print under `Debug` as Rust code that rebuilds them.
const DEBUG_LITERAL_MAX: usize = 4096;

/// A value as a Rust literal of type `E` that reads back as the same bits (Rust's shortest
/// round-trip form; the constants for NaN and the infinities).
fn literal<E: Element>(v: E) -> String {
    if v.is_nan() {
        format!("{}::NAN", E::NAME)
    } else if v.is_infinite() {
        let sign = if v < E::zero() { "NEG_" } else { "" };
        format!("{}::{sign}INFINITY", E::NAME)
    } else {
        format!("{v:?}")
    }
}

/// Rust code that rebuilds the tensor (up to 4096 elements; a proptest failure report prints
/// its inputs this way, so a shrunk case can be pasted into a test): the static type, each
/// runtime dim's size, every value at full precision. Larger tensors print their type and
/// the summarised `Display`.
///
/// ```
/// use stensor::prelude::*;
/// let t = Tensor::<(U2, U2)>::from_array([[0.1, 1.0], [-0.0, 1e-7]]);
/// assert_eq!(format!("{t:?}"), "Tensor::<(U2, U2), f32>::from_vec(vec![0.1, 1.0, -0.0, 1e-7]).unwrap()");
/// let r = Tensor::<(usize, U2), f64>::zeros_shaped((1, U2::new()));
/// assert_eq!(format!("{r:?}"), "Tensor::<(usize, U2), f64>::from_vec_shaped((1, U2::new()), vec![0.0, 0.0]).unwrap()");
/// // and it reads back: the same values, bit for bit
/// let back = Tensor::<(U2, U2), f32>::from_vec(vec![0.1, 1.0, -0.0, 1e-7]).unwrap();
/// assert_eq!(back.to_vec(), t.to_vec());
/// ```
impl<S: Shape, E: Element, T: TapeMode<E>> fmt::Debug for Tensor<S, E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statics = S::static_dims();
        let dims = self.dims();
        let each = |f: &dyn Fn(Option<usize>, usize) -> String| -> String {
            let parts: Vec<String> = (0..S::RANK).map(|i| f(statics[i], dims[i])).collect();
            match parts.len() {
                1 => format!("({},)", parts[0]),
                _ => format!("({})", parts.join(", ")),
            }
        };
        // typenum names every size it has a type for (`U7`, `U2048`)
        let ty = each(&|s, _| s.map_or("usize".to_string(), |n| format!("U{n}")));
        if self.numel() > DEBUG_LITERAL_MAX {
            let tape = if T::TRACED { "Tape" } else { "NoTape" };
            let shape = ShapeDisplay(&self.shape());
            return write!(
                f,
                "Tensor<{shape}, {}, {tape}> {}",
                E::NAME,
                self.printout()
            );
        }
        let values: Vec<String> = self.as_slice().iter().map(|&v| literal(v)).collect();
        let values = values.join(", ");
        write!(f, "Tensor::<{ty}, {}>::", E::NAME)?;
        if statics[..S::RANK].iter().all(Option::is_some) {
            write!(f, "from_vec(vec![{values}]).unwrap()")?;
        } else {
            let shape = each(&|s, d| s.map_or(d.to_string(), |n| format!("U{n}::new()")));
            write!(f, "from_vec_shaped({shape}, vec![{values}]).unwrap()")?;
        }
        if T::TRACED {
            f.write_str(".trace()")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::format_tensor;

    fn show(values: &[f64], dims: &[usize]) -> String {
        format_tensor(values, dims, &[])
    }

    // Expected strings are what PyTorch 2.x prints for the same values.
    #[test]
    fn scalars_and_vectors() {
        assert_eq!(show(&[1.5], &[]), "tensor(1.5000)");
        assert_eq!(show(&[3.0], &[]), "tensor(3.)");
        assert_eq!(show(&[], &[0]), "tensor([])");
        assert_eq!(show(&[1.0, -2.0, 30.0], &[3]), "tensor([ 1., -2., 30.])");
        assert_eq!(show(&[0.1, 0.25], &[2]), "tensor([0.1000, 0.2500])");
    }

    #[test]
    fn scientific_and_special_values() {
        assert_eq!(show(&[1e-5, 1.0], &[2]), "tensor([1.0000e-05, 1.0000e+00])");
        assert_eq!(
            show(&[1.5, 2000.5], &[2]),
            "tensor([1.5000e+00, 2.0005e+03])"
        );
        assert_eq!(
            show(&[f64::NAN, 1.0, f64::NEG_INFINITY], &[3]),
            "tensor([nan, 1., -inf])"
        );
        assert_eq!(show(&[1e9, 1.0], &[2]), "tensor([1.0000e+09, 1.0000e+00])");
    }

    #[test]
    fn rank3_blank_lines() {
        let v: Vec<f64> = (0..8).map(|i| i as f64).collect();
        assert_eq!(
            show(&v, &[2, 2, 2]),
            "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"
        );
    }

    #[test]
    fn long_rows_wrap_at_80_columns() {
        let v: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let s = show(&v, &[30]);
        // torch.arange(30.): 14 per line (80 columns less the indent, 5 per element)
        assert_eq!(
            s,
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n        \
             14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n        \
             28., 29.])"
        );
    }

    #[test]
    fn large_tensors_are_summarised() {
        let v: Vec<f64> = (0..2000).map(|i| i as f64).collect();
        assert_eq!(
            show(&v, &[2000]),
            "tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])"
        );
        let s = show(&v, &[40, 50]);
        assert!(s.contains("..."), "{s}");
        assert_eq!(s.lines().count(), 7, "{s}");
    }

    #[test]
    fn suffixes_follow_values() {
        assert_eq!(
            format_tensor(&[1.0], &[1], &["dtype=f64".into()]),
            "tensor([1.], dtype=f64)"
        );
    }
}
