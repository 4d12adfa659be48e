//! The recurrent cells' gate arithmetic, fused: one pass over a step's rows computes every
//! gate's activation, the cell update and the new hidden state (forward), or every gate's
//! gradient and the state's (backward), with no intermediate buffer per gate.
//!
//! A step holds `rows` rows (the batch). Gates are stacked in PyTorch's order within each
//! row: `i, f, g, o` for an LSTM, `r, z, n` for a GRU. `active[b]` false marks a row whose
//! sequence has ended (a packed batch): the forward leaves its state alone and the backward
//! writes zero gate gradients for it.
//!
//! `f32` runs a vector at a time at the process's instruction-set level; the last
//! `hidden % LANES` values of a row go through a zero-padded vector. The sigmoid and `tanh`
//! are those of the elementwise kernels and no step fuses a multiply and an add, so every
//! level gives the same bits. Other element types (`f64` for gradient checks) take the same
//! formulas one value at a time.

use super::elementwise::{sigmoid_scalar, sigmoid_vec, tanh_vec};
use super::simd::{Kernel, RunHere, Simd};
use super::{as_f32, as_f32_mut};
use crate::element::Element;

/// Whether row `b` takes part in the step.
fn is_active(active: Option<&[bool]>, b: usize) -> bool {
    active.is_none_or(|a| a[b])
}

/// `LANES` values of `x` from `j`, of which the first `w` are real (zeros after).
#[inline(always)]
fn ld<S: Simd>(s: S, x: &[f32], j: usize, w: usize) -> S::F {
    if w == S::LANES {
        s.load(&x[j..])
    } else {
        let mut b = [0.0f32; 16];
        b[..w].copy_from_slice(&x[j..j + w]);
        s.load(&b)
    }
}

/// Writes the first `w` lanes of `v` to `x[j..]`.
#[inline(always)]
fn st<S: Simd>(s: S, v: S::F, x: &mut [f32], j: usize, w: usize) {
    if w == S::LANES {
        s.store(v, &mut x[j..]);
    } else {
        let mut b = [0.0f32; 16];
        s.store(v, &mut b);
        x[j..j + w].copy_from_slice(&b[..w]);
    }
}

/// `(start, width)` of the vectors across a row of `hidden` values.
fn vectors(hidden: usize, lanes: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..hidden)
        .step_by(lanes)
        .map(move |j| (j, lanes.min(hidden - j)))
}

/// One LSTM step on its gates' pre-activations `acts` (`rows x 4 hidden`): the activations
/// `i, f, g, o` replace them, the cell state `c` (`rows x hidden`) becomes `f c + i g`, and
/// `h` (`rows x hidden`) becomes `o tanh(c)`. Inactive rows are left as they are.
pub(crate) fn lstm_forward<E: Element>(
    acts: &mut [E],
    c: &mut [E],
    h: &mut [E],
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(acts.len(), 4, c.len(), hidden);
    assert_eq!(h.len(), c.len(), "lstm_forward: h");
    if let (Some(acts), Some(c), Some(h)) = (as_f32_mut(acts), as_f32_mut(c), as_f32_mut(h)) {
        return LstmForward {
            acts,
            c,
            h,
            hidden,
            active,
        }
        .run_here();
    }
    let rows = c.len() / hidden.max(1);
    for b in (0..rows).filter(|&b| is_active(active, b)) {
        let a = &mut acts[b * 4 * hidden..][..4 * hidden];
        let (c, h) = (
            &mut c[b * hidden..][..hidden],
            &mut h[b * hidden..][..hidden],
        );
        for j in 0..hidden {
            let i = sigmoid_scalar(a[j]);
            let f = sigmoid_scalar(a[hidden + j]);
            let g = a[2 * hidden + j].tanh();
            let o = sigmoid_scalar(a[3 * hidden + j]);
            [a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j]] = [i, f, g, o];
            c[j] = f * c[j] + i * g;
            h[j] = o * c[j].tanh();
        }
    }
}

/// `gates == per_row * hidden` values per row for `rows = state / hidden` rows.
fn check(gates: usize, per_row: usize, state: usize, hidden: usize) {
    assert!(
        hidden > 0 && state.is_multiple_of(hidden) && gates == per_row * state,
        "recurrent kernel: {gates} gate values for {state} state values of {hidden} per row"
    );
}

struct LstmForward<'a> {
    acts: &'a mut [f32],
    c: &'a mut [f32],
    h: &'a mut [f32],
    hidden: usize,
    active: Option<&'a [bool]>,
}

impl<S: Simd> Kernel<S> for LstmForward<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let hid = self.hidden;
        let rows = self.acts.chunks_exact_mut(4 * hid);
        let state = self
            .c
            .chunks_exact_mut(hid)
            .zip(self.h.chunks_exact_mut(hid));
        for (b, (a, (c, h))) in rows.zip(state).enumerate() {
            if !is_active(self.active, b) {
                continue;
            }
            let (ai, rest) = a.split_at_mut(hid);
            let (af, rest) = rest.split_at_mut(hid);
            let (ag, ao) = rest.split_at_mut(hid);
            for (j, w) in vectors(hid, S::LANES) {
                let i = sigmoid_vec(s, ld(s, ai, j, w));
                let f = sigmoid_vec(s, ld(s, af, j, w));
                let g = tanh_vec(s, ld(s, ag, j, w));
                let o = sigmoid_vec(s, ld(s, ao, j, w));
                st(s, i, ai, j, w);
                st(s, f, af, j, w);
                st(s, g, ag, j, w);
                st(s, o, ao, j, w);
                let cn = s.add(s.mul(f, ld(s, c, j, w)), s.mul(i, g));
                st(s, cn, c, j, w);
                st(s, s.mul(o, tanh_vec(s, cn)), h, j, w);
            }
        }
    }
}

/// The backward of [`lstm_forward`] for one step. Given the step's activations `acts`, the
/// cell state before (`c_prev`) and after (`c`) it, the gradient `dh` of its `h` and `dc` of
/// its `c`: writes the gradient of the gates' pre-activations to `dpre` (`rows x 4 hidden`,
/// zeros on inactive rows) and replaces `dc` by the gradient of `c_prev` (inactive rows keep
/// theirs: their state passed through unchanged).
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm_backward<E: Element>(
    acts: &[E],
    c_prev: &[E],
    c: &[E],
    dh: &[E],
    dc: &mut [E],
    dpre: &mut [E],
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(acts.len(), 4, c.len(), hidden);
    check(dpre.len(), 4, dc.len(), hidden);
    assert!(
        c_prev.len() == c.len() && dh.len() == c.len() && dc.len() == c.len(),
        "lstm_backward: state lengths"
    );
    if let (Some(acts), Some(c_prev), Some(c), Some(dh)) =
        (as_f32(acts), as_f32(c_prev), as_f32(c), as_f32(dh))
    {
        if let (Some(dc), Some(dpre)) = (as_f32_mut(dc), as_f32_mut(dpre)) {
            return LstmBackward {
                acts,
                c_prev,
                c,
                dh,
                dc,
                dpre,
                hidden,
                active,
            }
            .run_here();
        }
    }
    let one = E::one();
    let rows = c.len() / hidden;
    for b in 0..rows {
        let d = &mut dpre[b * 4 * hidden..][..4 * hidden];
        if !is_active(active, b) {
            d.fill(E::zero());
            continue;
        }
        let a = &acts[b * 4 * hidden..][..4 * hidden];
        let r = b * hidden..(b + 1) * hidden;
        let (cp, cn, dh, dc) = (
            &c_prev[r.clone()],
            &c[r.clone()],
            &dh[r.clone()],
            &mut dc[r],
        );
        for j in 0..hidden {
            let (i, f, g, o) = (a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j]);
            let tc = cn[j].tanh();
            let dct = dc[j] + dh[j] * o * (one - tc * tc);
            d[j] = dct * g * (i * (one - i));
            d[hidden + j] = dct * cp[j] * (f * (one - f));
            d[2 * hidden + j] = dct * i * (one - g * g);
            d[3 * hidden + j] = dh[j] * tc * (o * (one - o));
            dc[j] = dct * f;
        }
    }
}

struct LstmBackward<'a> {
    acts: &'a [f32],
    c_prev: &'a [f32],
    c: &'a [f32],
    dh: &'a [f32],
    dc: &'a mut [f32],
    dpre: &'a mut [f32],
    hidden: usize,
    active: Option<&'a [bool]>,
}

impl<S: Simd> Kernel<S> for LstmBackward<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let hid = self.hidden;
        let one = s.splat(1.0);
        let rows = self
            .dpre
            .chunks_exact_mut(4 * hid)
            .zip(self.dc.chunks_exact_mut(hid));
        for (b, (d, dc)) in rows.enumerate() {
            if !is_active(self.active, b) {
                d.fill(0.0);
                continue;
            }
            let a = &self.acts[b * 4 * hid..][..4 * hid];
            let r = b * hid..(b + 1) * hid;
            let (cp, cn, dh) = (&self.c_prev[r.clone()], &self.c[r.clone()], &self.dh[r]);
            let (di, rest) = d.split_at_mut(hid);
            let (df, rest) = rest.split_at_mut(hid);
            let (dg, dout) = rest.split_at_mut(hid);
            for (j, w) in vectors(hid, S::LANES) {
                let i = ld(s, a, j, w);
                let f = ld(s, a, hid + j, w);
                let g = ld(s, a, 2 * hid + j, w);
                let o = ld(s, a, 3 * hid + j, w);
                let tc = tanh_vec(s, ld(s, cn, j, w));
                let dhj = ld(s, dh, j, w);
                let dct = s.add(
                    ld(s, dc, j, w),
                    s.mul(s.mul(dhj, o), s.sub(one, s.mul(tc, tc))),
                );
                let di_ = s.mul(s.mul(dct, g), s.mul(i, s.sub(one, i)));
                let df_ = s.mul(s.mul(dct, ld(s, cp, j, w)), s.mul(f, s.sub(one, f)));
                let dg_ = s.mul(s.mul(dct, i), s.sub(one, s.mul(g, g)));
                let do_ = s.mul(s.mul(dhj, tc), s.mul(o, s.sub(one, o)));
                st(s, di_, di, j, w);
                st(s, df_, df, j, w);
                st(s, dg_, dg, j, w);
                st(s, do_, dout, j, w);
                st(s, s.mul(dct, f), dc, j, w);
            }
        }
    }
}

/// One GRU step: from the input's gate projections `xi` and the hidden state's `hh`
/// (`rows x 3 hidden` each, biases included), `r = sigmoid(xi_r + hh_r)`,
/// `z = sigmoid(xi_z + hh_z)`, `n = tanh(xi_n + r hh_n)`, and `h` (`rows x hidden`) becomes
/// `n + z (h - n)` (PyTorch's order of operations). `acts` (`rows x 4 hidden`) receives
/// `r, z, n, hh_n` for the backward. Inactive rows are left as they are.
pub(crate) fn gru_forward<E: Element>(
    xi: &[E],
    hh: &[E],
    acts: &mut [E],
    h: &mut [E],
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(xi.len(), 3, h.len(), hidden);
    check(acts.len(), 4, h.len(), hidden);
    assert_eq!(hh.len(), xi.len(), "gru_forward: hh");
    if let (Some(xi), Some(hh)) = (as_f32(xi), as_f32(hh)) {
        if let (Some(acts), Some(h)) = (as_f32_mut(acts), as_f32_mut(h)) {
            return GruForward {
                xi,
                hh,
                acts,
                h,
                hidden,
                active,
            }
            .run_here();
        }
    }
    let rows = h.len() / hidden;
    for b in (0..rows).filter(|&b| is_active(active, b)) {
        let (x, y) = (
            &xi[b * 3 * hidden..][..3 * hidden],
            &hh[b * 3 * hidden..][..3 * hidden],
        );
        let a = &mut acts[b * 4 * hidden..][..4 * hidden];
        let h = &mut h[b * hidden..][..hidden];
        for j in 0..hidden {
            let r = sigmoid_scalar(x[j] + y[j]);
            let z = sigmoid_scalar(x[hidden + j] + y[hidden + j]);
            let hn = y[2 * hidden + j];
            let n = (x[2 * hidden + j] + r * hn).tanh();
            [a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j]] = [r, z, n, hn];
            h[j] = n + z * (h[j] - n);
        }
    }
}

struct GruForward<'a> {
    xi: &'a [f32],
    hh: &'a [f32],
    acts: &'a mut [f32],
    h: &'a mut [f32],
    hidden: usize,
    active: Option<&'a [bool]>,
}

impl<S: Simd> Kernel<S> for GruForward<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let hid = self.hidden;
        let rows = self
            .acts
            .chunks_exact_mut(4 * hid)
            .zip(self.h.chunks_exact_mut(hid));
        for (b, (a, h)) in rows.enumerate() {
            if !is_active(self.active, b) {
                continue;
            }
            let x = &self.xi[b * 3 * hid..][..3 * hid];
            let y = &self.hh[b * 3 * hid..][..3 * hid];
            let (ar, rest) = a.split_at_mut(hid);
            let (az, rest) = rest.split_at_mut(hid);
            let (an, ahn) = rest.split_at_mut(hid);
            for (j, w) in vectors(hid, S::LANES) {
                let r = sigmoid_vec(s, s.add(ld(s, x, j, w), ld(s, y, j, w)));
                let z = sigmoid_vec(s, s.add(ld(s, x, hid + j, w), ld(s, y, hid + j, w)));
                let hn = ld(s, y, 2 * hid + j, w);
                let n = tanh_vec(s, s.add(ld(s, x, 2 * hid + j, w), s.mul(r, hn)));
                st(s, r, ar, j, w);
                st(s, z, az, j, w);
                st(s, n, an, j, w);
                st(s, hn, ahn, j, w);
                let hp = ld(s, h, j, w);
                st(s, s.add(n, s.mul(z, s.sub(hp, n))), h, j, w);
            }
        }
    }
}

/// The backward of [`gru_forward`] for one step. Given its `acts`, the hidden state before it
/// `h_prev` and the gradient `dh` of the state after it: writes the gradients of `xi` to
/// `dxi` and of `hh` to `dhh` (`rows x 3 hidden`, zeros on inactive rows) and adds the direct
/// part of `h_prev`'s gradient, `dh z`, to `dh_prev` on active rows (the part through `hh`
/// is `dhh W_hh`, the caller's product).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gru_backward<E: Element>(
    acts: &[E],
    h_prev: &[E],
    dh: &[E],
    dxi: &mut [E],
    dhh: &mut [E],
    dh_prev: &mut [E],
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(acts.len(), 4, h_prev.len(), hidden);
    check(dxi.len(), 3, h_prev.len(), hidden);
    assert!(
        dhh.len() == dxi.len() && dh.len() == h_prev.len() && dh_prev.len() == h_prev.len(),
        "gru_backward: lengths"
    );
    if let (Some(acts), Some(h_prev), Some(dh)) = (as_f32(acts), as_f32(h_prev), as_f32(dh)) {
        if let (Some(dxi), Some(dhh), Some(dh_prev)) =
            (as_f32_mut(dxi), as_f32_mut(dhh), as_f32_mut(dh_prev))
        {
            return GruBackward {
                acts,
                h_prev,
                dh,
                dxi,
                dhh,
                dh_prev,
                hidden,
                active,
            }
            .run_here();
        }
    }
    let one = E::one();
    let rows = h_prev.len() / hidden;
    for b in 0..rows {
        let (dx, dy) = (
            &mut dxi[b * 3 * hidden..][..3 * hidden],
            &mut dhh[b * 3 * hidden..][..3 * hidden],
        );
        if !is_active(active, b) {
            dx.fill(E::zero());
            dy.fill(E::zero());
            continue;
        }
        let a = &acts[b * 4 * hidden..][..4 * hidden];
        let r = b * hidden..(b + 1) * hidden;
        let (hp, dh, dhp) = (&h_prev[r.clone()], &dh[r.clone()], &mut dh_prev[r]);
        for j in 0..hidden {
            let (rg, z, n, hn) = (a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j]);
            let dn = dh[j] * (one - z) * (one - n * n);
            let dz = dh[j] * (hp[j] - n) * (z * (one - z));
            let dr = dn * hn * (rg * (one - rg));
            [dx[j], dx[hidden + j], dx[2 * hidden + j]] = [dr, dz, dn];
            [dy[j], dy[hidden + j], dy[2 * hidden + j]] = [dr, dz, dn * rg];
            dhp[j] = dhp[j] + dh[j] * z;
        }
    }
}

struct GruBackward<'a> {
    acts: &'a [f32],
    h_prev: &'a [f32],
    dh: &'a [f32],
    dxi: &'a mut [f32],
    dhh: &'a mut [f32],
    dh_prev: &'a mut [f32],
    hidden: usize,
    active: Option<&'a [bool]>,
}

impl<S: Simd> Kernel<S> for GruBackward<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let hid = self.hidden;
        let one = s.splat(1.0);
        let grads = self
            .dxi
            .chunks_exact_mut(3 * hid)
            .zip(self.dhh.chunks_exact_mut(3 * hid));
        let rows = grads.zip(self.dh_prev.chunks_exact_mut(hid));
        for (b, ((dx, dy), dhp)) in rows.enumerate() {
            if !is_active(self.active, b) {
                dx.fill(0.0);
                dy.fill(0.0);
                continue;
            }
            let a = &self.acts[b * 4 * hid..][..4 * hid];
            let r = b * hid..(b + 1) * hid;
            let (hp, dh) = (&self.h_prev[r.clone()], &self.dh[r]);
            for (j, w) in vectors(hid, S::LANES) {
                let rg = ld(s, a, j, w);
                let z = ld(s, a, hid + j, w);
                let n = ld(s, a, 2 * hid + j, w);
                let hn = ld(s, a, 3 * hid + j, w);
                let dhj = ld(s, dh, j, w);
                let dn = s.mul(s.mul(dhj, s.sub(one, z)), s.sub(one, s.mul(n, n)));
                let dz = s.mul(
                    s.mul(dhj, s.sub(ld(s, hp, j, w), n)),
                    s.mul(z, s.sub(one, z)),
                );
                let dr = s.mul(s.mul(dn, hn), s.mul(rg, s.sub(one, rg)));
                st(s, dr, dx, j, w);
                st(s, dz, dx, hid + j, w);
                st(s, dn, dx, 2 * hid + j, w);
                st(s, dr, dy, j, w);
                st(s, dz, dy, hid + j, w);
                st(s, s.mul(dn, rg), dy, 2 * hid + j, w);
                st(s, s.add(ld(s, dhp, j, w), s.mul(dhj, z)), dhp, j, w);
            }
        }
    }
}

/// One Elman step: `pre` (`rows x hidden`, the input's and the hidden state's projections
/// summed) becomes its activation, `tanh` or ReLU (NaN and `-0.0` kept, as `torch.relu`),
/// which is also written to `h`. Inactive rows are left as they are.
pub(crate) fn elman_forward<E: Element>(
    pre: &mut [E],
    h: &mut [E],
    relu: bool,
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(pre.len(), 1, h.len(), hidden);
    if let (Some(pre), Some(h)) = (as_f32_mut(pre), as_f32_mut(h)) {
        return ElmanForward {
            pre,
            h,
            relu,
            hidden,
            active,
        }
        .run_here();
    }
    let rows = h.len() / hidden;
    for b in (0..rows).filter(|&b| is_active(active, b)) {
        let r = b * hidden..(b + 1) * hidden;
        for (p, h) in pre[r.clone()].iter_mut().zip(&mut h[r]) {
            *p = match relu {
                true if *p < E::zero() => E::zero(),
                true => *p,
                false => p.tanh(),
            };
            *h = *p;
        }
    }
}

struct ElmanForward<'a> {
    pre: &'a mut [f32],
    h: &'a mut [f32],
    relu: bool,
    hidden: usize,
    active: Option<&'a [bool]>,
}

impl<S: Simd> Kernel<S> for ElmanForward<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let hid = self.hidden;
        let rows = self
            .pre
            .chunks_exact_mut(hid)
            .zip(self.h.chunks_exact_mut(hid));
        for (b, (p, h)) in rows.enumerate() {
            if !is_active(self.active, b) {
                continue;
            }
            for (j, w) in vectors(hid, S::LANES) {
                let x = ld(s, p, j, w);
                // `max` gives its second operand on NaN, and x86's on equal zeros: `-0.0` stays
                let y = if self.relu {
                    s.max(s.zero(), x)
                } else {
                    tanh_vec(s, x)
                };
                st(s, y, p, j, w);
                st(s, y, h, j, w);
            }
        }
    }
}

/// The backward of [`elman_forward`]: `dpre = dh f'(pre)` from the activations `acts`
/// (`1 - y^2` for `tanh`, `y > 0` for ReLU, as PyTorch), zeros on inactive rows.
pub(crate) fn elman_backward<E: Element>(
    acts: &[E],
    dh: &[E],
    dpre: &mut [E],
    relu: bool,
    hidden: usize,
    active: Option<&[bool]>,
) {
    check(acts.len(), 1, dh.len(), hidden);
    assert_eq!(dpre.len(), dh.len(), "elman_backward: lengths");
    let rows = dh.len() / hidden;
    let derivative = |y: E| match relu {
        true if y > E::zero() => E::one(),
        true => E::zero(),
        false => E::one() - y * y,
    };
    for b in 0..rows {
        let r = b * hidden..(b + 1) * hidden;
        let d = &mut dpre[r.clone()];
        if !is_active(active, b) {
            d.fill(E::zero());
            continue;
        }
        // a plain loop compiled at the run-time level, which the compiler vectorises with its
        // widest registers (one multiply per value, the same bits at every level)
        let (y, g) = (&acts[r.clone()], &dh[r]);
        super::simd::vectorised(
            #[inline(always)]
            || {
                for ((d, &y), &g) in d.iter_mut().zip(y).zip(g) {
                    *d = g * derivative(y);
                }
            },
        );
    }
}

/// `dst`'s rows (`width` values each) become `src`'s where `active` is `keep` (every row
/// when there is no `active`, if `keep`).
pub(crate) fn copy_rows<E: Copy>(
    src: &[E],
    dst: &mut [E],
    width: usize,
    active: Option<&[bool]>,
    keep: bool,
) {
    assert_eq!(src.len(), dst.len(), "copy_rows: lengths");
    if width == 0 {
        return;
    }
    for (b, (d, s)) in dst
        .chunks_exact_mut(width)
        .zip(src.chunks_exact(width))
        .enumerate()
    {
        if is_active(active, b) == keep {
            d.copy_from_slice(s);
        }
    }
}

/// `row` added to every row of `dst` (rows of `row.len()` values): a bias.
pub(crate) fn add_rows_of<E: Element>(dst: &mut [E], row: &[E]) {
    if row.is_empty() {
        return;
    }
    for d in dst.chunks_exact_mut(row.len()) {
        super::add_assign(d, row);
    }
}

/// `dst += src` on the rows (`width` values each) where `active` (all without it).
pub(crate) fn add_rows<E: Element>(
    dst: &mut [E],
    src: &[E],
    width: usize,
    active: Option<&[bool]>,
) {
    assert_eq!(src.len(), dst.len(), "add_rows: lengths");
    match active {
        None => super::add_assign(dst, src),
        Some(_) if width == 0 => {}
        Some(_) => {
            for (b, (d, s)) in dst
                .chunks_exact_mut(width)
                .zip(src.chunks_exact(width))
                .enumerate()
            {
                if is_active(active, b) {
                    super::add_assign(d, s);
                }
            }
        }
    }
}

// Each gate kernel entered here, not from its generic caller (see `simd::RunHere`).
super::simd::run_here!(
    LstmForward,
    LstmBackward,
    GruForward,
    GruBackward,
    ElmanForward
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{at_level, available_levels};

    const HIDDEN: [usize; 6] = [1, 7, 15, 16, 17, 33];

    /// Deterministic values in about `[-3, 3]`, varied enough to reach both sides of every
    /// activation.
    fn values(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 6007) as f64 / 1000.0) - 3.0)
            .collect()
    }

    fn f32s(v: &[f64]) -> Vec<f32> {
        v.iter().map(|&x| x as f32).collect()
    }

    /// `got` (at every level) agrees with `want` (f64) within `tol` relative to the larger of
    /// 1 and `|want|`, and every level gives the baseline's bits.
    fn agree(what: &str, per_level: &[(String, Vec<f32>)], want: &[f64], tol: f64) {
        for (level, got) in per_level {
            assert_eq!(got.len(), want.len(), "{what}: length");
            for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g as f64 - w).abs() <= tol * w.abs().max(1.0),
                    "{what} at {level}: [{k}] = {g}, want {w}"
                );
            }
            let base = &per_level[0].1;
            assert!(
                got.iter()
                    .zip(base)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: {level} differs from {}",
                per_level[0].0
            );
        }
    }

    /// Every second row active but the first, for the packed form.
    fn mask(rows: usize) -> Vec<bool> {
        (0..rows).map(|b| b == 0 || b % 2 == 1).collect()
    }

    #[test]
    fn lstm_step_matches_a_plain_reference_at_every_level() {
        for hidden in HIDDEN {
            for (rows, packed) in [(1, false), (3, false), (5, true)] {
                let m = mask(rows);
                let active = packed.then_some(&m[..]);
                let pre = values(rows * 4 * hidden, hidden);
                let c0 = values(rows * hidden, hidden + 1);
                let dh = values(rows * hidden, hidden + 2);
                let dc0 = values(rows * hidden, hidden + 3);
                let h0 = vec![9.0; rows * hidden];
                // the f64 reference (the generic path)
                let (mut a64, mut c64, mut h64) = (pre.clone(), c0.clone(), h0.clone());
                lstm_forward(&mut a64, &mut c64, &mut h64, hidden, active);
                let (mut dc64, mut d64) = (dc0.clone(), vec![7.0; rows * 4 * hidden]);
                lstm_backward(&a64, &c0, &c64, &dh, &mut dc64, &mut d64, hidden, active);
                let mut outs: [Vec<(String, Vec<f32>)>; 5] = Default::default();
                for level in available_levels() {
                    let (mut a, mut c, mut h) = (f32s(&pre), f32s(&c0), f32s(&h0));
                    at_level(level, || {
                        lstm_forward(&mut a, &mut c, &mut h, hidden, active)
                    });
                    let (mut dc, mut d) = (f32s(&dc0), vec![7.0f32; rows * 4 * hidden]);
                    at_level(level, || {
                        lstm_backward(
                            &a,
                            &f32s(&c0),
                            &c,
                            &f32s(&dh),
                            &mut dc,
                            &mut d,
                            hidden,
                            active,
                        )
                    });
                    for (o, v) in outs.iter_mut().zip([a, c, h, dc, d]) {
                        o.push((level.to_string(), v));
                    }
                }
                let what = format!("lstm hidden {hidden} rows {rows}");
                for (o, (name, want)) in outs.iter().zip([
                    ("acts", &a64),
                    ("c", &c64),
                    ("h", &h64),
                    ("dc", &dc64),
                    ("dpre", &d64),
                ]) {
                    agree(&format!("{what} {name}"), o, want, 2e-6);
                }
                // inactive rows: state untouched, zero gate gradients, dc passed through
                for b in (0..rows).filter(|&b| !is_active(active, b)) {
                    let r = b * hidden..(b + 1) * hidden;
                    assert_eq!(c64[r.clone()], c0[r.clone()]);
                    assert_eq!(h64[r.clone()], h0[r.clone()]);
                    assert_eq!(dc64[r.clone()], dc0[r]);
                    assert!(d64[b * 4 * hidden..][..4 * hidden]
                        .iter()
                        .all(|&v| v == 0.0));
                }
            }
        }
    }

    /// The f64 backward against central differences of the f64 forward.
    #[test]
    fn lstm_and_gru_backward_are_the_forward_derivatives() {
        let (rows, hidden) = (2, 3);
        let pre = values(rows * 4 * hidden, 5);
        let c0 = values(rows * hidden, 6);
        let wh = values(rows * hidden, 7);
        let wc = values(rows * hidden, 8);
        // loss = sum(wh h) + sum(wc c) over the step's outputs, as a function of (pre, c0)
        let lstm_loss = |x: &[f64]| {
            let (mut a, mut c) = (x[..pre.len()].to_vec(), x[pre.len()..].to_vec());
            let mut h = vec![0.0; c.len()];
            lstm_forward(&mut a, &mut c, &mut h, hidden, None);
            h.iter().zip(&wh).map(|(a, b)| a * b).sum::<f64>()
                + c.iter().zip(&wc).map(|(a, b)| a * b).sum::<f64>()
        };
        let x: Vec<f64> = pre.iter().chain(&c0).copied().collect();
        let (mut a, mut c, mut h) = (pre.clone(), c0.clone(), vec![0.0; c0.len()]);
        lstm_forward(&mut a, &mut c, &mut h, hidden, None);
        let (mut dc, mut dpre) = (wc.clone(), vec![0.0; pre.len()]);
        lstm_backward(&a, &c0, &c, &wh, &mut dc, &mut dpre, hidden, None);
        for (k, got) in dpre.iter().chain(&dc).enumerate() {
            let want = crate::kernels::central_difference(lstm_loss, &x, k);
            assert!((got - want).abs() < 1e-6, "lstm [{k}]: {got} vs {want}");
        }
        // GRU: loss = sum(wh h') as a function of (xi, hh, h)
        let (xi, hh) = (values(rows * 3 * hidden, 9), values(rows * 3 * hidden, 10));
        let gru_loss = |x: &[f64]| {
            let n = xi.len();
            let mut h = x[2 * n..].to_vec();
            let mut acts = vec![0.0; rows * 4 * hidden];
            gru_forward(&x[..n], &x[n..2 * n], &mut acts, &mut h, hidden, None);
            h.iter().zip(&wh).map(|(a, b)| a * b).sum::<f64>()
        };
        let x: Vec<f64> = xi.iter().chain(&hh).chain(&c0).copied().collect();
        let (mut acts, mut h) = (vec![0.0; rows * 4 * hidden], c0.clone());
        gru_forward(&xi, &hh, &mut acts, &mut h, hidden, None);
        let (mut dxi, mut dhh, mut dhp) = (
            vec![0.0; xi.len()],
            vec![0.0; xi.len()],
            vec![0.0; c0.len()],
        );
        gru_backward(&acts, &c0, &wh, &mut dxi, &mut dhh, &mut dhp, hidden, None);
        // dhh's n part is the gradient of hh_n; the others equal dxi's, as hh enters r and z
        // by the same sum
        for (k, got) in dxi.iter().chain(&dhh).chain(&dhp).enumerate() {
            let want = crate::kernels::central_difference(gru_loss, &x, k);
            assert!((got - want).abs() < 1e-6, "gru [{k}]: {got} vs {want}");
        }
    }

    #[test]
    fn gru_step_matches_a_plain_reference_at_every_level() {
        for hidden in HIDDEN {
            for (rows, packed) in [(1, false), (3, false), (5, true)] {
                let m = mask(rows);
                let active = packed.then_some(&m[..]);
                let xi = values(rows * 3 * hidden, hidden);
                let hh = values(rows * 3 * hidden, hidden + 1);
                let h0 = values(rows * hidden, hidden + 2);
                let dh = values(rows * hidden, hidden + 3);
                let dhp0 = values(rows * hidden, hidden + 4);
                let (mut a64, mut h64) = (vec![5.0; rows * 4 * hidden], h0.clone());
                gru_forward(&xi, &hh, &mut a64, &mut h64, hidden, active);
                let mut dx64 = vec![7.0; xi.len()];
                let mut dy64 = vec![7.0; xi.len()];
                let mut dhp64 = dhp0.clone();
                gru_backward(
                    &a64, &h0, &dh, &mut dx64, &mut dy64, &mut dhp64, hidden, active,
                );
                let mut outs: [Vec<(String, Vec<f32>)>; 5] = Default::default();
                for level in available_levels() {
                    let (mut a, mut h) = (vec![5.0f32; rows * 4 * hidden], f32s(&h0));
                    at_level(level, || {
                        gru_forward(&f32s(&xi), &f32s(&hh), &mut a, &mut h, hidden, active)
                    });
                    let (mut dx, mut dy) = (vec![7.0f32; xi.len()], vec![7.0f32; xi.len()]);
                    let mut dhp = f32s(&dhp0);
                    at_level(level, || {
                        gru_backward(
                            &a,
                            &f32s(&h0),
                            &f32s(&dh),
                            &mut dx,
                            &mut dy,
                            &mut dhp,
                            hidden,
                            active,
                        )
                    });
                    for (o, v) in outs.iter_mut().zip([a, h, dx, dy, dhp]) {
                        o.push((level.to_string(), v));
                    }
                }
                let what = format!("gru hidden {hidden} rows {rows}");
                for (o, (name, want)) in outs.iter().zip([
                    ("acts", &a64),
                    ("h", &h64),
                    ("dxi", &dx64),
                    ("dhh", &dy64),
                    ("dh_prev", &dhp64),
                ]) {
                    agree(&format!("{what} {name}"), o, want, 2e-6);
                }
                for b in (0..rows).filter(|&b| !is_active(active, b)) {
                    let r = b * hidden..(b + 1) * hidden;
                    assert_eq!(h64[r.clone()], h0[r.clone()]);
                    assert_eq!(dhp64[r.clone()], dhp0[r]);
                    assert!(dx64[b * 3 * hidden..][..3 * hidden]
                        .iter()
                        .all(|&v| v == 0.0));
                }
            }
        }
    }

    #[test]
    fn elman_step_matches_a_plain_reference_at_every_level() {
        for relu in [false, true] {
            for hidden in HIDDEN {
                for (rows, packed) in [(1, false), (3, false), (5, true)] {
                    let m = mask(rows);
                    let active = packed.then_some(&m[..]);
                    let pre = values(rows * hidden, hidden);
                    let dh = values(rows * hidden, hidden + 1);
                    let h0 = vec![4.0; rows * hidden];
                    let (mut p64, mut h64) = (pre.clone(), h0.clone());
                    elman_forward(&mut p64, &mut h64, relu, hidden, active);
                    let mut d64 = vec![3.0; pre.len()];
                    elman_backward(&p64, &dh, &mut d64, relu, hidden, active);
                    let mut outs: [Vec<(String, Vec<f32>)>; 3] = Default::default();
                    for level in available_levels() {
                        let (mut p, mut h) = (f32s(&pre), f32s(&h0));
                        at_level(level, || {
                            elman_forward(&mut p, &mut h, relu, hidden, active)
                        });
                        let mut d = vec![3.0f32; pre.len()];
                        at_level(level, || {
                            elman_backward(&p, &f32s(&dh), &mut d, relu, hidden, active)
                        });
                        for (o, v) in outs.iter_mut().zip([p, h, d]) {
                            o.push((level.to_string(), v));
                        }
                    }
                    let what = format!("elman relu {relu} hidden {hidden} rows {rows}");
                    for (o, (name, want)) in
                        outs.iter()
                            .zip([("acts", &p64), ("h", &h64), ("dpre", &d64)])
                    {
                        agree(&format!("{what} {name}"), o, want, 2e-6);
                    }
                }
            }
        }
        // ReLU keeps NaN and -0.0, as torch.relu
        let (mut p, mut h) = ([f32::NAN, -0.0, -1.0, 2.0], [0.0f32; 4]);
        elman_forward(&mut p, &mut h, true, 4, None);
        assert!(h[0].is_nan() && h[1] == 0.0 && h[1].is_sign_negative());
        assert_eq!(&h[2..], &[0.0, 2.0]);
    }

    #[test]
    fn row_copies_and_sums_follow_the_mask() {
        let src = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let active = [true, false, true];
        let mut dst = [0.0f32; 6];
        copy_rows(&src, &mut dst, 2, Some(&active), false);
        assert_eq!(dst, [0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
        copy_rows(&src, &mut dst, 2, None, true);
        assert_eq!(dst, src);
        add_rows(&mut dst, &src, 2, Some(&active));
        assert_eq!(dst, [2.0, 4.0, 3.0, 4.0, 10.0, 12.0]);
        add_rows(&mut dst, &src, 2, None);
        assert_eq!(dst, [3.0, 6.0, 6.0, 8.0, 15.0, 18.0]);
        add_rows_of(&mut dst, &[1.0, -1.0]);
        assert_eq!(dst, [4.0, 5.0, 7.0, 7.0, 16.0, 17.0]);
    }
}
