//! Padding of the spatial dims of `(planes, D, H, W)` data (1-d and 2-d data use `D = H = 1`
//! or `D = 1`), in PyTorch's four modes, and its backward.

use crate::element::Element;
use rayon::prelude::*;

/// How padded positions are filled (PyTorch's `padding_mode` / padding layers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode<E> {
    /// A constant (`ZeroPad`, `ConstantPad`, convolution `zeros`).
    Constant(E),
    /// Mirror without repeating the edge (`ReflectionPad`, `reflect`): `[a b c] -> b [a b c] b`.
    Reflect,
    /// Repeat the edge (`ReplicationPad`, `replicate`): `[a b c] -> a [a b c] c`.
    Replicate,
    /// Wrap around (`CircularPad`, `circular`): `[a b c] -> c [a b c] a`.
    Circular,
}

/// The source index along one dim of length `n` for padded position `o` (`lo` added in front),
/// or `None` for a constant-filled position.
fn source<E>(o: usize, lo: usize, n: usize, mode: PadMode<E>) -> Option<usize> {
    let i = o as isize - lo as isize;
    let n_i = n as isize;
    if (0..n_i).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PadMode::Constant(_) => None,
        PadMode::Reflect => {
            // PyTorch requires pad < n, so one reflection suffices.
            let r = if i < 0 { -i } else { 2 * (n_i - 1) - i };
            Some(r as usize)
        }
        PadMode::Replicate => Some(i.clamp(0, n_i - 1) as usize),
        PadMode::Circular => Some(i.rem_euclid(n_i) as usize),
    }
}

/// The output dims of padding `dims` by `pads[d] = (lo, hi)`.
fn padded_dims(dims: [usize; 3], pads: [(usize, usize); 3]) -> [usize; 3] {
    [0, 1, 2].map(|d| dims[d] + pads[d].0 + pads[d].1)
}

/// Pads each of `planes` spatial blocks of dims `dims` by `pads` (per spatial dim, `(lo, hi)`).
pub fn pad<E: Element>(
    x: &[E],
    planes: usize,
    dims: [usize; 3],
    pads: [(usize, usize); 3],
    mode: PadMode<E>,
) -> Vec<E> {
    let inp: usize = dims.iter().product();
    assert_eq!(x.len(), planes * inp, "pad: length");
    let od = padded_dims(dims, pads);
    let outp: usize = od.iter().product();
    let fill = match mode {
        PadMode::Constant(v) => v,
        _ => E::zero(),
    };
    let mut out = vec![fill; planes * outp];
    if outp == 0 {
        return out;
    }
    let body = |(src, dst): (&[E], &mut [E])| {
        for a in 0..od[0] {
            let Some(sa) = source(a, pads[0].0, dims[0], mode) else {
                continue;
            };
            for b in 0..od[1] {
                let Some(sb) = source(b, pads[1].0, dims[1], mode) else {
                    continue;
                };
                let row = (a * od[1] + b) * od[2];
                let srow = (sa * dims[1] + sb) * dims[2];
                for c in 0..od[2] {
                    if let Some(sc) = source(c, pads[2].0, dims[2], mode) {
                        dst[row + c] = src[srow + sc];
                    }
                }
            }
        }
    };
    if super::on_pool(planes * outp) {
        x.par_chunks(inp.max(1))
            .zip(out.par_chunks_mut(outp))
            .for_each(body);
    } else {
        x.chunks(inp.max(1))
            .zip(out.chunks_mut(outp))
            .for_each(body);
    }
    out
}

/// The backward of [`pad`]: adds every padded position's gradient to the input position it
/// copied (constant positions have none).
pub fn pad_backward<E: Element>(
    g: &[E],
    gx: &mut [E],
    planes: usize,
    dims: [usize; 3],
    pads: [(usize, usize); 3],
    mode: PadMode<E>,
) {
    let inp: usize = dims.iter().product();
    let od = padded_dims(dims, pads);
    let outp: usize = od.iter().product();
    assert!(
        g.len() == planes * outp && gx.len() == planes * inp,
        "pad_backward: lengths"
    );
    if inp == 0 {
        return;
    }
    let body = |(src, dst): (&[E], &mut [E])| {
        for a in 0..od[0] {
            let Some(sa) = source(a, pads[0].0, dims[0], mode) else {
                continue;
            };
            for b in 0..od[1] {
                let Some(sb) = source(b, pads[1].0, dims[1], mode) else {
                    continue;
                };
                let row = (a * od[1] + b) * od[2];
                let srow = (sa * dims[1] + sb) * dims[2];
                for c in 0..od[2] {
                    if let Some(sc) = source(c, pads[2].0, dims[2], mode) {
                        dst[srow + sc] = dst[srow + sc] + src[row + c];
                    }
                }
            }
        }
    };
    if super::on_pool(planes * outp) {
        g.par_chunks(outp.max(1))
            .zip(gx.par_chunks_mut(inp))
            .for_each(body);
    } else {
        g.chunks(outp.max(1)).zip(gx.chunks_mut(inp)).for_each(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain 1-d reference of each mode, composed per dim.
    fn reference_1d(x: &[f64], lo: usize, hi: usize, mode: PadMode<f64>) -> Vec<f64> {
        let n = x.len() as isize;
        (-(lo as isize)..n + hi as isize)
            .map(|i| {
                if (0..n).contains(&i) {
                    return x[i as usize];
                }
                match mode {
                    PadMode::Constant(v) => v,
                    PadMode::Reflect => x[if i < 0 { -i } else { 2 * n - 2 - i } as usize],
                    PadMode::Replicate => x[i.clamp(0, n - 1) as usize],
                    PadMode::Circular => x[i.rem_euclid(n) as usize],
                }
            })
            .collect()
    }

    #[test]
    fn two_d_padding_matches_rowwise_then_columnwise_reference() {
        for mode in [
            PadMode::Constant(2.5),
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            for (h, w, pads) in [
                (3, 4, [(1, 2), (2, 1)]),
                (7, 1, [(0, 3), (0, 0)]),
                (5, 17, [(4, 0), (3, 16)]),
            ] {
                let pads_ok = match mode {
                    PadMode::Reflect => pads.iter().zip([h, w]).all(|(p, n)| p.0 < n && p.1 < n),
                    _ => true,
                };
                if !pads_ok {
                    continue;
                }
                let x: Vec<f64> = (0..2 * h * w).map(|i| i as f64).collect();
                let y = pad(&x, 2, [1, h, w], [(0, 0), pads[0], pads[1]], mode);
                let (oh, ow) = (h + pads[0].0 + pads[0].1, w + pads[1].0 + pads[1].1);
                for p in 0..2 {
                    let rows: Vec<Vec<f64>> = (0..h)
                        .map(|r| {
                            reference_1d(
                                &x[p * h * w + r * w..p * h * w + (r + 1) * w],
                                pads[1].0,
                                pads[1].1,
                                mode,
                            )
                        })
                        .collect();
                    for c in 0..ow {
                        let col: Vec<f64> = rows.iter().map(|r| r[c]).collect();
                        let full = reference_1d(&col, pads[0].0, pads[0].1, mode);
                        for r in 0..oh {
                            assert_eq!(
                                y[p * oh * ow + r * ow + c],
                                full[r],
                                "{mode:?} {h}x{w} {pads:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn backward_is_the_adjoint_of_padding() {
        // <pad(x), g> == <x, pad_backward(g)> for every mode (constant 0 for linearity).
        for mode in [
            PadMode::Constant(0.0),
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            let dims = [3, 5, 7];
            let pads = [(1, 2), (2, 0), (3, 4)];
            let x: Vec<f64> = (0..105).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
            let y = pad(&x, 1, dims, pads, mode);
            let g: Vec<f64> = (0..y.len()).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
            let mut gx = vec![0.0; x.len()];
            pad_backward(&g, &mut gx, 1, dims, pads, mode);
            let lhs: f64 = y.iter().zip(&g).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&gx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{mode:?}");
        }
    }
}
