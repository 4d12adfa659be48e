//! Connectionist temporal classification (PyTorch's `ctc_loss`): the forward (alpha) and
//! backward (beta) dynamic programmes over each sample's own input and target lengths, in log
//! space.
//!
//! For a sample with `t` frames and `l` labels the extended target has `s = 2 l + 1` states
//! (blanks around and between the labels). Alpha is computed in the forward pass and kept
//! (`t * s` values per sample, the memory PyTorch keeps too); beta and the gradient are
//! computed in the backward pass. Each pass is `O(t * s)` steps, plus `O(t * c)` for the
//! gradient's row of every frame. Samples run in parallel on the pool.
//!
//! The programmes run in probability space with each frame's alphas (betas) rescaled to sum
//! to 1 and the logarithms of the scales summed (Graves et al. 2006, section 4.1), in `f64`:
//! a step is two adds and a multiply where log space (PyTorch's) takes two exponentials and a
//! logarithm per state, and the exponentials left are one per label and frame. Each frame's
//! probabilities are taken relative to its most likely class, so unnormalised or very
//! confident inputs do not underflow; should a frame still underflow (a path through classes
//! some 700 nats less likely than the frame's best), that sample is computed again in log
//! space, which is exact at any range.
//!
//! The gradient is the plain partial derivative with respect to the log-probabilities,
//! `-exp(alpha + beta - lp + nll)` summed over the states of each class. PyTorch's own
//! `ctc_loss` backward returns `exp(lp)` plus that, which is the gradient with respect to
//! the logits when `lp` came from `log_softmax` (and wrong otherwise); through `log_softmax`
//! the two agree exactly, since each frame's occupancies sum to 1.

use crate::element::Element;
use rayon::prelude::*;

/// The batch of a CTC loss: log-probabilities `(frames, batch, classes)`, and per sample its
/// input length and its labels (`labels[spans[b].0..][..spans[b].1]`).
#[derive(Clone, Copy, Debug)]
pub struct Ctc<'a> {
    /// Frames of the input (`T`, at least every input length).
    pub frames: usize,
    /// Samples (`N`).
    pub batch: usize,
    /// Classes (`C`), the blank among them.
    pub classes: usize,
    /// The blank's class.
    pub blank: usize,
    /// Each sample's frames.
    pub input_lengths: &'a [usize],
    /// Every sample's labels, each below `classes`.
    pub labels: &'a [usize],
    /// Each sample's `(start, length)` in `labels`.
    pub spans: &'a [(usize, usize)],
}

impl Ctc<'_> {
    /// The log-probability of class `c` at frame `t` for sample `b`.
    fn lp<E: Element>(&self, lp: &[E], t: usize, b: usize, c: usize) -> E {
        lp[(t * self.batch + b) * self.classes + c]
    }

    /// Sample `b`'s labels.
    fn labels_of(&self, b: usize) -> &[usize] {
        let (start, len) = self.spans[b];
        &self.labels[start..][..len]
    }

    /// `f` of each sample, in order, across the pool when the batch's work is worth it.
    fn each_sample<R: Send>(&self, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
        let work: usize = (0..self.batch)
            .map(|b| self.input_lengths[b] * (2 * self.spans[b].1 + 1 + self.classes))
            .sum();
        if self.batch > 1 && work >= 1 << 14 && super::may_split() {
            (0..self.batch)
                .into_par_iter()
                .map(|b| super::as_task(|| f(b)))
                .collect()
        } else {
            (0..self.batch).map(f).collect()
        }
    }
}

/// The class of extended state `s`: blank at even states, label `s / 2` at odd ones.
fn state_class(labels: &[usize], blank: usize, s: usize) -> usize {
    if s.is_multiple_of(2) {
        blank
    } else {
        labels[s / 2]
    }
}

/// `ln(e^a + e^b + e^c)`, `-inf` when all three are: the largest plus `ln_1p` of the other
/// two's exponentials relative to it (two exponentials, not three, and none for a `-inf`
/// operand: most of the programme's states have one).
fn log_sum3<E: Element>(a: E, b: E, c: E) -> E {
    let (m, o1, o2) = if a >= b && a >= c {
        (a, b, c)
    } else if b >= c {
        (b, a, c)
    } else {
        (c, a, b)
    };
    if m == E::neg_infinity() || m.is_nan() {
        return m;
    }
    let rel = |o: E| {
        if o == E::neg_infinity() {
            E::zero()
        } else {
            (o - m).exp()
        }
    };
    m + (rel(o1) + rel(o2)).ln_1p()
}

/// One sample's log-alpha (`t * s` values) and its negative log-likelihood, in log space.
fn log_alpha_of<E: Element>(ctc: &Ctc<'_>, lp: &[E], b: usize) -> (E, Vec<E>) {
    let (t_len, labels) = (ctc.input_lengths[b], ctc.labels_of(b));
    let states = 2 * labels.len() + 1;
    if t_len == 0 {
        // no frames: only the empty target has a path (of probability 1)
        let nll = if labels.is_empty() {
            E::zero()
        } else {
            E::infinity()
        };
        return (nll, Vec::new());
    }
    let ninf = E::neg_infinity();
    let mut la = vec![ninf; t_len * states];
    la[0] = ctc.lp(lp, 0, b, ctc.blank);
    if states > 1 {
        la[1] = ctc.lp(lp, 0, b, labels[0]);
    }
    for t in 1..t_len {
        let (prev, cur) = la[(t - 1) * states..][..2 * states].split_at_mut(states);
        for s in 0..states {
            let class = state_class(labels, ctc.blank, s);
            let stay = prev[s];
            let step = if s > 0 { prev[s - 1] } else { ninf };
            let skip = if s > 1 && state_class(labels, ctc.blank, s - 2) != class {
                prev[s - 2]
            } else {
                ninf
            };
            cur[s] = log_sum3(stay, step, skip) + ctc.lp(lp, t, b, class);
        }
    }
    let last = &la[(t_len - 1) * states..];
    let end = if states > 1 { last[states - 2] } else { ninf };
    (-log_sum3(last[states - 1], end, ninf), la)
}

/// What the forward pass keeps of a sample for its backward pass: the rescaled alphas, or
/// the log-alphas where a frame underflowed.
#[derive(Debug)]
pub enum CtcAlpha<E> {
    /// Each frame's alphas, rescaled to sum to 1.
    Scaled(Vec<f64>),
    /// The log-alphas.
    Log(Vec<E>),
}

/// Frame `t`'s probability of each state of sample `b` relative to the frame's most likely
/// class (`ys`, one per state; the blank's and each label's), and that class's log-probability.
fn frame_probs<E: Element>(
    ctc: &Ctc<'_>,
    lp: &[E],
    t: usize,
    b: usize,
    labels: &[usize],
    ys: &mut [f64],
) -> f64 {
    let row = &lp[(t * ctc.batch + b) * ctc.classes..][..ctc.classes];
    let top = row
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v.as_f64()));
    let rel = |k: usize| (row[k].as_f64() - top).exp();
    let blank = rel(ctc.blank);
    for (s, y) in ys.iter_mut().enumerate() {
        *y = if s.is_multiple_of(2) {
            blank
        } else {
            rel(labels[s / 2])
        };
    }
    top
}

/// Whether state `s` may be entered from `s - 2` (a label after a blank, unlike the label
/// before that blank).
fn may_skip(labels: &[usize], s: usize) -> bool {
    !s.is_multiple_of(2) && s > 1 && labels[s / 2] != labels[s / 2 - 1]
}

/// The largest relative error of the likelihood a rescaled programme may keep: what its
/// underflowed states could have carried, against the likelihood found.
const SCALED_TOLERANCE: f64 = 1e-16;

/// One sample's rescaled alphas and negative log-likelihood, or `None` where the rescaling
/// may have lost precision.
///
/// A state fed by a path but left below `f64`'s smallest normal of its frame (`m`) is an
/// underflow. Every path runs through the sample's classes (blank and labels), so the paths
/// through such a state at frame `t` carry at most `m A_t Q_t`, with `A_t` the frame's alpha
/// total and `Q_t` the product over the later frames of those classes' summed probabilities.
/// The result is kept when the sum of those bounds over every underflow is at most
/// `SCALED_TOLERANCE` of the likelihood: always when nothing underflowed, and for the states
/// far ahead of or behind a confident alignment, which are the ones that do. Otherwise (a
/// likelihood hundreds of nats below what the frames allow, or none at all) the sample is
/// computed in log space.
fn scaled_alpha_of<E: Element>(ctc: &Ctc<'_>, lp: &[E], b: usize) -> Option<(f64, Vec<f64>)> {
    let (t_len, labels) = (ctc.input_lengths[b], ctc.labels_of(b));
    let states = 2 * labels.len() + 1;
    let mut a = vec![0.0; t_len * states];
    let mut ys = vec![0.0; states];
    let mut fed = vec![false; states];
    // ln of: the alpha scale so far, the Q bound so far, the largest `A_t / Q_(up to t)` at an
    // underflow, and how many underflows
    let (mut log_scale, mut ln_q) = (0.0, 0.0);
    let (mut worst, mut underflows) = (f64::NEG_INFINITY, 0usize);
    for t in 0..t_len {
        let top = frame_probs(ctc, lp, t, b, labels, &mut ys);
        log_scale += top;
        ln_q += top + ys.iter().sum::<f64>().ln();
        let (prev, cur) = a.split_at_mut(t * states);
        let cur = &mut cur[..states];
        if t == 0 {
            cur[0] = ys[0];
            fed[0] = true;
            if states > 1 {
                cur[1] = ys[1];
                fed[1] = true;
            }
        } else {
            let prev = &prev[(t - 1) * states..];
            for s in 0..states {
                let mut v = prev[s];
                if s > 0 {
                    v += prev[s - 1];
                }
                if may_skip(labels, s) {
                    v += prev[s - 2];
                }
                fed[s] = v > 0.0;
                cur[s] = v * ys[s];
            }
        }
        let sum: f64 = cur.iter().sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return None;
        }
        log_scale += sum.ln();
        let mut lost = false;
        for (v, &f) in cur.iter_mut().zip(&fed) {
            *v /= sum;
            lost |= f && *v < f64::MIN_POSITIVE;
        }
        if lost {
            underflows += states;
            worst = worst.max(log_scale - ln_q);
        }
    }
    let last = &a[(t_len - 1) * states..];
    let end = last[states - 1] + if states > 1 { last[states - 2] } else { 0.0 };
    let nll = -(end.ln() + log_scale);
    // ln of the bound on what the underflows carried, relative to the likelihood
    let lost = f64::MIN_POSITIVE.ln() + worst + ln_q + (underflows as f64).ln() + nll;
    (nll.is_finite() && (underflows == 0 || lost <= SCALED_TOLERANCE.ln())).then_some((nll, a))
}

/// The negative log-likelihood of each sample's labels, and what the backward pass takes.
pub fn ctc_forward<E: Element>(ctc: &Ctc<'_>, lp: &[E]) -> (Vec<E>, Vec<CtcAlpha<E>>) {
    assert_eq!(
        lp.len(),
        ctc.frames * ctc.batch * ctc.classes,
        "ctc: log-probabilities"
    );
    let one = |b| {
        if ctc.input_lengths[b] > 0 {
            if let Some((nll, a)) = scaled_alpha_of(ctc, lp, b) {
                return (E::from_f64(nll), CtcAlpha::Scaled(a));
            }
        }
        let (nll, la) = log_alpha_of(ctc, lp, b);
        (nll, CtcAlpha::Log(la))
    };
    ctc.each_sample(one).into_iter().unzip()
}

/// One sample's gradient of `g * nll` from its rescaled alphas: per frame, minus `g` times
/// each class's share of the occupancy `alpha beta / y` over all states (which sums to the
/// likelihood at every frame, so the shares need no scale); `None` where a frame's occupancy
/// underflows.
fn scaled_grad_of<E: Element>(
    ctc: &Ctc<'_>,
    lp: &[E],
    b: usize,
    a: &[f64],
    g: E,
) -> Option<Vec<E>> {
    let (t_len, labels) = (ctc.input_lengths[b], ctc.labels_of(b));
    let (states, c) = (2 * labels.len() + 1, ctc.classes);
    let mut grad = vec![E::zero(); t_len * c];
    let g = g.as_f64();
    let mut ys = vec![0.0; states];
    let (mut next, mut cur) = (vec![0.0; states], vec![0.0; states]);
    let mut next_ys = vec![0.0; states];
    for t in (0..t_len).rev() {
        frame_probs(ctc, lp, t, b, labels, &mut ys);
        if t == t_len - 1 {
            cur.iter_mut().for_each(|v| *v = 0.0);
            cur[states - 1] = 1.0;
            if states > 1 {
                cur[states - 2] = 1.0;
            }
        } else {
            for s in 0..states {
                let mut v = next[s] * next_ys[s];
                if s + 1 < states {
                    v += next[s + 1] * next_ys[s + 1];
                }
                if s + 2 < states && may_skip(labels, s + 2) {
                    v += next[s + 2] * next_ys[s + 2];
                }
                cur[s] = v;
            }
        }
        // beta here excludes frame t's own y (it is in alpha), so alpha * beta is the
        // occupancy; rescaled to sum to 1
        let alpha = &a[t * states..][..states];
        let total: f64 = alpha.iter().zip(&cur).map(|(x, y)| x * y).sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let row = &mut grad[t * c..][..c];
        for s in 0..states {
            let class = state_class(labels, ctc.blank, s);
            row[class] = row[class] - E::from_f64(alpha[s] * cur[s] / total * g);
        }
        let sum: f64 = cur.iter().sum();
        cur.iter_mut().for_each(|v| *v /= sum);
        std::mem::swap(&mut next, &mut cur);
        std::mem::swap(&mut next_ys, &mut ys);
    }
    Some(grad)
}

/// One sample's gradient (`t * classes` values, frame-major) of `g * nll`, or zeros where `g`
/// is 0, in log space.
fn log_grad_of<E: Element>(ctc: &Ctc<'_>, lp: &[E], b: usize, nll: E, la: &[E], g: E) -> Vec<E> {
    let (t_len, labels) = (ctc.input_lengths[b], ctc.labels_of(b));
    let (states, c) = (2 * labels.len() + 1, ctc.classes);
    let mut grad = vec![E::zero(); t_len * c];
    if g == E::zero() || t_len == 0 {
        return grad;
    }
    let ninf = E::neg_infinity();
    // beta of frame t (`next` holds frame t + 1)
    let mut next = vec![ninf; states];
    let mut cur = vec![ninf; states];
    // per class, ln of the summed alpha * beta over its states
    let mut lcab = vec![ninf; c];
    for t in (0..t_len).rev() {
        for s in 0..states {
            let class = state_class(labels, ctc.blank, s);
            cur[s] = if t == t_len - 1 {
                if s + 2 >= states {
                    ctc.lp(lp, t, b, class)
                } else {
                    ninf
                }
            } else {
                let stay = next[s];
                let step = if s + 1 < states { next[s + 1] } else { ninf };
                let skip = if s + 2 < states && state_class(labels, ctc.blank, s + 2) != class {
                    next[s + 2]
                } else {
                    ninf
                };
                log_sum3(stay, step, skip) + ctc.lp(lp, t, b, class)
            };
        }
        lcab.iter_mut().for_each(|v| *v = ninf);
        for s in 0..states {
            let class = state_class(labels, ctc.blank, s);
            lcab[class] = log_sum3(lcab[class], la[t * states + s] + cur[s], ninf);
        }
        for (k, gk) in grad[t * c..][..c].iter_mut().enumerate() {
            *gk = -(lcab[k] + nll - ctc.lp(lp, t, b, k)).exp() * g;
        }
        std::mem::swap(&mut next, &mut cur);
    }
    grad
}

/// Adds into `gx` (`(frames, batch, classes)`) the gradient of `sum_b g[b] * nll[b]` with
/// respect to the log-probabilities; samples whose `g[b]` is 0 (a `zero_infinity` sample)
/// add nothing, and frames past a sample's input length get none.
pub fn ctc_backward<E: Element>(
    ctc: &Ctc<'_>,
    lp: &[E],
    nll: &[E],
    alphas: &[CtcAlpha<E>],
    g: &[E],
    gx: &mut [E],
) {
    let one = |b: usize| match &alphas[b] {
        _ if g[b] == E::zero() => vec![E::zero(); ctc.input_lengths[b] * ctc.classes],
        CtcAlpha::Scaled(a) => scaled_grad_of(ctc, lp, b, a, g[b]).unwrap_or_else(|| {
            let (nll, la) = log_alpha_of(ctc, lp, b);
            log_grad_of(ctc, lp, b, nll, &la, g[b])
        }),
        CtcAlpha::Log(la) => log_grad_of(ctc, lp, b, nll[b], la, g[b]),
    };
    let per = ctc.each_sample(one);
    let c = ctc.classes;
    for (b, grad) in per.iter().enumerate() {
        for (t, row) in grad.chunks(c).enumerate() {
            let out = &mut gx[(t * ctc.batch + b) * c..][..c];
            for (o, &v) in out.iter_mut().zip(row) {
                *o = *o + v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ln(sum over every alignment of the labels of prod_t p(t, a_t))` by enumerating all
    /// `classes^frames` frame labellings and collapsing each (repeats merged, blanks dropped).
    fn brute_nll(lp: &[f64], frames: usize, classes: usize, blank: usize, labels: &[usize]) -> f64 {
        let mut total = 0.0;
        let mut path = vec![0usize; frames];
        loop {
            let mut collapsed = Vec::new();
            let mut prev = None;
            for &k in &path {
                if Some(k) != prev && k != blank {
                    collapsed.push(k);
                }
                prev = Some(k);
            }
            if collapsed == labels {
                total += path
                    .iter()
                    .enumerate()
                    .map(|(t, &k)| lp[t * classes + k])
                    .sum::<f64>()
                    .exp();
            }
            // the next labelling, as a base-`classes` counter
            let mut i = 0;
            while i < frames {
                path[i] += 1;
                if path[i] < classes {
                    break;
                }
                path[i] = 0;
                i += 1;
            }
            if i == frames {
                break;
            }
        }
        -total.ln()
    }

    fn log_probs(frames: usize, classes: usize, salt: usize) -> Vec<f64> {
        let mut v = Vec::new();
        for t in 0..frames {
            let row: Vec<f64> = (0..classes)
                .map(|k| ((t * 7 + k * 3 + salt) % 11) as f64 * 0.2)
                .collect();
            let lse = row.iter().map(|x| x.exp()).sum::<f64>().ln();
            v.extend(row.iter().map(|x| x - lse));
        }
        v
    }

    #[test]
    fn ctc_matches_the_sum_over_all_alignments_and_its_gradient_the_numeric_one() {
        // frames x classes kept small enough to enumerate; odd lengths and repeated labels
        for (frames, classes, labels) in [
            (1, 3, vec![]),
            (1, 3, vec![2]),
            (3, 3, vec![1, 1]),
            (5, 3, vec![1, 2, 1]),
            (7, 2, vec![1, 1, 1]),
            (7, 3, vec![2]),
            (2, 3, vec![1, 1]),
        ] {
            for blank in [0, classes - 1] {
                let labels: Vec<usize> = labels
                    .iter()
                    .map(|&k| if blank == 0 { k } else { k - 1 })
                    .collect();
                let lp = log_probs(frames, classes, labels.len());
                let spans = [(0, labels.len())];
                let ctc = Ctc {
                    frames,
                    batch: 1,
                    classes,
                    blank,
                    input_lengths: &[frames],
                    labels: &labels,
                    spans: &spans,
                };
                let (nll, alphas) = ctc_forward(&ctc, &lp);
                let want = brute_nll(&lp, frames, classes, blank, &labels);
                if want.is_infinite() {
                    assert!(nll[0].is_infinite(), "{frames} {labels:?}");
                    continue;
                }
                assert!((nll[0] - want).abs() < 1e-12, "{frames} {labels:?}");
                let mut gx = vec![0.0; lp.len()];
                ctc_backward(&ctc, &lp, &nll, &alphas, &[1.0], &mut gx);
                for k in 0..lp.len() {
                    let h = 1e-6;
                    let (mut up, mut down) = (lp.clone(), lp.clone());
                    up[k] += h;
                    down[k] -= h;
                    let num = (brute_nll(&up, frames, classes, blank, &labels)
                        - brute_nll(&down, frames, classes, blank, &labels))
                        / (2.0 * h);
                    assert!((gx[k] - num).abs() < 1e-6, "{frames} {labels:?} {k}");
                }
            }
        }
    }

    /// A single-sample batch over `lp` (`frames x classes`).
    fn single<'a>(
        frames: &'a [usize],
        labels: &'a [usize],
        spans: &'a [(usize, usize)],
        classes: usize,
    ) -> Ctc<'a> {
        Ctc {
            frames: frames[0],
            batch: 1,
            classes,
            blank: 0,
            input_lengths: frames,
            labels,
            spans,
        }
    }

    #[test]
    fn the_rescaled_programme_agrees_with_log_space_on_odd_sizes() {
        for frames in [1, 7, 15, 17, 33] {
            for len in [0, 1, 3, 7] {
                let classes = 5;
                // repeats where i % 3 == 2
                let labels: Vec<usize> = (0..len).map(|i| 1 + (i - i % 3 / 2) % 4).collect();
                let lp = log_probs(frames, classes, frames + len);
                let (f, spans) = ([frames], [(0, len)]);
                let ctc = single(&f, &labels, &spans, classes);
                let (log_nll, la) = log_alpha_of(&ctc, &lp, 0);
                match scaled_alpha_of(&ctc, &lp, 0) {
                    None => assert!(log_nll.is_infinite(), "{frames} {len}"),
                    Some((nll, a)) => {
                        assert!((nll - log_nll).abs() <= 1e-12 * log_nll.abs().max(1.0));
                        let scaled = scaled_grad_of(&ctc, &lp, 0, &a, 1.5).unwrap();
                        let log = log_grad_of(&ctc, &lp, 0, log_nll, &la, 1.5);
                        for (x, y) in scaled.iter().zip(&log) {
                            assert!((x - y).abs() < 1e-12, "{frames} {len}: {x} {y}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_confident_alignment_keeps_the_rescaled_result_though_far_states_underflow() {
        // 60 frames, 20 labels, each frame sure (others 60 nats down) of the class of a
        // clean alignment: label k on frames 3k and 3k + 1, blank on 3k + 2
        let (frames, classes, len) = (60, 6, 20);
        let labels: Vec<usize> = (0..len).map(|k| 1 + k % 5).collect();
        let mut lp = vec![-60.0; frames * classes];
        for t in 0..frames {
            let best = if t % 3 == 2 { 0 } else { labels[t / 3] };
            lp[t * classes + best] = 0.0;
        }
        let (f, spans) = ([frames], [(0, len)]);
        let ctc = single(&f, &labels, &spans, classes);
        let (log_nll, la) = log_alpha_of(&ctc, &lp, 0);
        let (nll, a) = scaled_alpha_of(&ctc, &lp, 0).expect("kept");
        // some reachable state is below the smallest normal of its frame
        let states = 2 * len + 1;
        let underflows = la.chunks(states).any(|frame| {
            let top = frame.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            frame
                .iter()
                .any(|&v| v.is_finite() && v - top < f64::MIN_POSITIVE.ln())
        });
        assert!(underflows);
        assert!((nll - log_nll).abs() <= 1e-12 * log_nll.abs().max(1.0));
        let scaled = scaled_grad_of(&ctc, &lp, 0, &a, 1.0).unwrap();
        let log = log_grad_of(&ctc, &lp, 0, log_nll, &la, 1.0);
        assert!(scaled.iter().zip(&log).all(|(x, y)| (x - y).abs() < 1e-12));
    }

    #[test]
    fn a_path_far_below_what_its_frames_allow_is_computed_in_log_space() {
        // labels [1, 2] on 2 frames: the only alignment takes class 1 at frame 0, 800 nats
        // below that frame's best; rescaled, its alpha underflows to 0
        let mut lp = log_probs(2, 3, 0);
        lp[1] -= 800.0;
        let (f, labels, spans) = ([2], [1, 2], [(0, 2)]);
        let ctc = single(&f, &labels, &spans, 3);
        assert!(scaled_alpha_of(&ctc, &lp, 0).is_none());
        let (nll, alphas) = ctc_forward(&ctc, &lp);
        assert!(matches!(alphas[0], CtcAlpha::Log(_)));
        assert!((nll[0] + lp[1] + lp[3 + 2]).abs() < 1e-12);
        let mut gx = vec![0.0; 6];
        ctc_backward(&ctc, &lp, &nll, &alphas, &[1.0], &mut gx);
        let want = [0.0, -1.0, 0.0, 0.0, 0.0, -1.0];
        assert!(
            gx.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12),
            "{gx:?}"
        );
    }

    #[test]
    fn ctc_batches_read_interleaved_frames_and_stop_at_each_input_length() {
        // two samples of 17 and 7 frames in one (17, 2, 3) batch against each alone
        let (frames, classes) = (17, 3);
        let lp_a = log_probs(frames, classes, 1);
        let lp_b = log_probs(frames, classes, 4);
        let mut lp = Vec::new();
        for t in 0..frames {
            lp.extend_from_slice(&lp_a[t * classes..][..classes]);
            lp.extend_from_slice(&lp_b[t * classes..][..classes]);
        }
        let labels = [1, 2, 2, 1, 2];
        let spans = [(0, 3), (3, 2)];
        let ctc = Ctc {
            frames,
            batch: 2,
            classes,
            blank: 0,
            input_lengths: &[17, 7],
            labels: &labels,
            spans: &spans,
        };
        let (nll, alphas) = ctc_forward(&ctc, &lp);
        let mut gx = vec![0.0; lp.len()];
        ctc_backward(&ctc, &lp, &nll, &alphas, &[1.0, 2.0], &mut gx);
        for (b, (lpb, t_len, span)) in [(&lp_a, 17, (0, 3)), (&lp_b, 7, (3, 2))]
            .into_iter()
            .enumerate()
        {
            let single = Ctc {
                frames,
                batch: 1,
                classes,
                blank: 0,
                input_lengths: &[t_len],
                labels: &labels[span.0..][..span.1],
                spans: &[(0, span.1)],
            };
            let (n1, a1) = ctc_forward(&single, lpb);
            assert_eq!(nll[b], n1[0]);
            let mut g1 = vec![0.0; lpb.len()];
            ctc_backward(&single, lpb, &n1, &a1, &[1.0 + b as f64], &mut g1);
            for t in 0..frames {
                for k in 0..classes {
                    let got = gx[(t * 2 + b) * classes + k];
                    assert_eq!(got, g1[t * classes + k]);
                    if t >= t_len {
                        assert_eq!(got, 0.0);
                    }
                }
            }
        }
    }
}
