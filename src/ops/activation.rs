//! Activation functions (PyTorch's `torch.nn.functional`), each with its backward rule and
//! PyTorch's conventions at the kinks (e.g. `hardtanh`'s gradient is 1 strictly inside the
//! range, `hardswish`'s is 0 at `x = -3` and 1 at `x = 3`). All are stable at the extremes: softplus
//! and log-sigmoid use `max(z, 0) + ln(1 + e^-|z|)`, so `|x| = 1000` gives finite values.

use super::elementwise::sigmoid;
use crate::autograd::{op_result, unary_result, TapeMode};
use crate::kernels;
use crate::shape::{ConstDim, HasAxis, Shape};
use crate::tensor::{Element, Tensor};

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `ln(1 + e^z)`, exact for every `z`.
/// `ln(1 + e^z)` without overflow (also the losses' softplus).
pub(crate) fn softplus1<E: Element>(z: E) -> E {
    z.max(E::zero()) + (-z.abs()).exp().ln_1p()
}

fn step<E: Element>(c: bool) -> E {
    if c {
        E::one()
    } else {
        E::zero()
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `min(max(x, 0), 6)` (`F.relu6`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([-1.0, 3.0, 9.0]).relu6().to_vec(), vec![0.0, 3.0, 6.0]);
    /// ```
    pub fn relu6(self) -> Self {
        self.hardtanh(E::zero(), E::from_f64(6.0))
    }

    /// `x` clamped to `[min, max]`, gradient 1 strictly inside (`F.hardtanh`); NaN stays NaN,
    /// as in PyTorch.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([-3.0, 0.5, 4.0]).hardtanh(-2.0, 3.0).to_vec(), vec![-2.0, 0.5, 3.0]);
    /// assert!(Tensor::<(U1,)>::from_array([f32::NAN]).hardtanh(-1.0, 1.0).item().is_nan());
    /// ```
    pub fn hardtanh(self, min: E, max: E) -> Self {
        self.map_op(
            move |x| {
                if x < min {
                    min
                } else if x > max {
                    max
                } else {
                    x
                }
            },
            move |x, _| step(x > min && x < max),
        )
    }

    /// `x` if `x > 0`, else `slope * x` (`F.leaky_relu`, PyTorch's default slope 0.01).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::from_array([-2.0, 3.0]).leaky_relu(0.5).to_vec(), vec![-1.0, 3.0]);
    /// ```
    pub fn leaky_relu(self, slope: E) -> Self {
        self.map_op(
            move |x| if x > E::zero() { x } else { x * slope },
            move |x, _| if x > E::zero() { E::one() } else { slope },
        )
    }

    /// `x` if `x > 0`, else `alpha (e^x - 1)` (`F.elu`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2,), f64>::from_array([-1000.0, 2.0]).elu(1.0);
    /// assert_eq!(y.to_vec(), vec![-1.0, 2.0]);
    /// ```
    pub fn elu(self, alpha: E) -> Self {
        self.map_op(
            move |x| if x > E::zero() { x } else { alpha * x.exp_m1() },
            move |x, y| if x > E::zero() { E::one() } else { y + alpha },
        )
    }

    /// `scale * elu(x, alpha)` with PyTorch's SELU constants (`F.selu`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1,), f64>::from_array([1.0]).selu();
    /// assert!((y.item() - 1.0507009873554805).abs() < 1e-15);
    /// ```
    pub fn selu(self) -> Self {
        let (a, s) = (E::from_f64(SELU_ALPHA), E::from_f64(SELU_SCALE));
        self.map_op(
            move |x| {
                if x > E::zero() {
                    s * x
                } else {
                    s * a * x.exp_m1()
                }
            },
            move |x, _| if x > E::zero() { s } else { s * a * x.exp() },
        )
    }

    /// `max(0, x) + min(0, alpha (e^(x / alpha) - 1))` (`F.celu`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2,), f64>::from_array([-1000.0, 2.0]).celu(2.0);
    /// assert_eq!(y.to_vec(), vec![-2.0, 2.0]);
    /// ```
    pub fn celu(self, alpha: E) -> Self {
        self.map_op(
            move |x| {
                if x > E::zero() {
                    x
                } else {
                    alpha * (x / alpha).exp_m1()
                }
            },
            move |x, _| {
                if x > E::zero() {
                    E::one()
                } else {
                    (x / alpha).exp()
                }
            },
        )
    }

    /// The exact GELU `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2` (`F.gelu`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1,), f64>::from_array([1.0]).gelu();
    /// assert!((y.item() - 0.8413447460685429).abs() < 1e-15);
    /// ```
    pub fn gelu(self) -> Self {
        let r2 = E::SQRT_2();
        let half = E::from_f64(0.5);
        let c = E::from_f64(1.0 / (2.0 * std::f64::consts::PI).sqrt());
        self.map_op(
            move |x| half * x * (E::one() + (x / r2).erf()),
            move |x, _| half * (E::one() + (x / r2).erf()) + x * c * (-half * x * x).exp(),
        )
    }

    /// The tanh approximation of GELU, `x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`
    /// (`F.gelu(approximate="tanh")`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1,), f64>::from_array([1.0]).gelu_tanh();
    /// assert!((y.item() - 0.8411919906082768).abs() < 1e-15);
    /// ```
    pub fn gelu_tanh(self) -> Self {
        let k = E::from_f64((2.0 / std::f64::consts::PI).sqrt());
        let c = E::from_f64(0.044715);
        let half = E::from_f64(0.5);
        let three = E::from_f64(3.0);
        self.map_op(
            move |x| half * x * (E::one() + (k * (x + c * x * x * x)).tanh()),
            move |x, _| {
                let t = (k * (x + c * x * x * x)).tanh();
                half * (E::one() + t)
                    + half * x * (E::one() - t * t) * k * (E::one() + three * c * x * x)
            },
        )
    }

    /// `ln(1 + e^(beta x)) / beta`, and `x` where `beta x > threshold` (`F.softplus`, PyTorch's
    /// defaults `beta = 1`, `threshold = 20`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U3,), f64>::from_array([-1000.0, 0.0, 1000.0]).softplus(1.0, 20.0);
    /// assert_eq!(y.to_vec(), vec![0.0, std::f64::consts::LN_2, 1000.0]);
    /// ```
    pub fn softplus(self, beta: E, threshold: E) -> Self {
        self.map_op(
            move |x| {
                if x * beta > threshold {
                    x
                } else {
                    softplus1(x * beta) / beta
                }
            },
            move |x, _| {
                if x * beta > threshold {
                    E::one()
                } else {
                    sigmoid(x * beta)
                }
            },
        )
    }

    /// `x - lambd` above `lambd`, `x + lambd` below `-lambd`, else 0 (`F.softshrink`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U3,)>::from_array([-2.0, 0.25, 2.0]).softshrink(0.5);
    /// assert_eq!(y.to_vec(), vec![-1.5, 0.0, 1.5]);
    /// ```
    pub fn softshrink(self, lambd: E) -> Self {
        self.map_op(
            move |x| {
                if x > lambd {
                    x - lambd
                } else if x < -lambd {
                    x + lambd
                } else {
                    E::zero()
                }
            },
            move |x, _| step(x > lambd || x < -lambd),
        )
    }

    /// `x` where `|x| > lambd`, else 0 (`F.hardshrink`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::from_array([0.25, -2.0]).hardshrink(0.5).to_vec(), vec![0.0, -2.0]);
    /// ```
    pub fn hardshrink(self, lambd: E) -> Self {
        self.map_op(
            move |x| {
                if x > lambd || x < -lambd {
                    x
                } else {
                    E::zero()
                }
            },
            move |x, _| step(x > lambd || x < -lambd),
        )
    }

    /// `x - tanh(x)` (`F.tanhshrink`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::zeros().tanhshrink().to_vec(), vec![0.0]);
    /// ```
    pub fn tanhshrink(self) -> Self {
        self.map_op(
            |x| x - x.tanh(),
            |x, _| {
                let t = x.tanh();
                t * t
            },
        )
    }

    /// `ln(sigmoid(x))`, finite for every finite `x` (`F.logsigmoid`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2,), f64>::from_array([-1000.0, 1000.0]).log_sigmoid();
    /// assert_eq!(y.to_vec(), vec![-1000.0, 0.0]);
    /// ```
    pub fn log_sigmoid(self) -> Self {
        self.map_op(|x| -softplus1(-x), |x, _| sigmoid(-x))
    }

    /// `x sigmoid(x)` (`F.silu`, also called swish).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::zeros().silu().to_vec(), vec![0.0]);
    /// ```
    pub fn silu(self) -> Self {
        self.map_op(
            |x| x * sigmoid(x),
            |x, _| {
                let s = sigmoid(x);
                s * (E::one() + x * (E::one() - s))
            },
        )
    }

    /// `x tanh(softplus(x))` (`F.mish`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1,), f64>::from_array([1.0]).mish();
    /// assert!((y.item() - 0.8650983882673103).abs() < 1e-15);
    /// ```
    pub fn mish(self) -> Self {
        self.map_op(
            |x| x * softplus1(x).tanh(),
            |x, _| {
                let t = softplus1(x).tanh();
                t + x * sigmoid(x) * (E::one() - t * t)
            },
        )
    }

    /// `0` below -3, `x` above 3, `x (x + 3) / 6` between (`F.hardswish`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([-4.0, 1.0, 4.0]).hardswish().to_vec(), vec![0.0, 4.0 / 6.0, 4.0]);
    /// ```
    pub fn hardswish(self) -> Self {
        let three = E::from_f64(3.0);
        let six = E::from_f64(6.0);
        self.map_op(
            move |x| {
                if x <= -three {
                    E::zero()
                } else if x >= three {
                    x
                } else {
                    x * (x + three) / six
                }
            },
            // PyTorch: 0 up to -3 (inclusive), x / 3 + 1/2 strictly between, 1 from 3 on.
            move |x, _| {
                if x <= -three {
                    E::zero()
                } else if x < three {
                    x / three + E::from_f64(0.5)
                } else {
                    E::one()
                }
            },
        )
    }

    /// `0` below -3, `1` above 3, `x / 6 + 1/2` between (`F.hardsigmoid`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U3,)>::from_array([-4.0, 0.0, 4.0]).hardsigmoid().to_vec(), vec![0.0, 0.5, 1.0]);
    /// ```
    pub fn hardsigmoid(self) -> Self {
        let three = E::from_f64(3.0);
        let six = E::from_f64(6.0);
        self.map_op(
            move |x| (x / six + E::from_f64(0.5)).max(E::zero()).min(E::one()),
            // PyTorch's kernel multiplies by the float32 constant `1.0f / 6.0f`, in f64 too.
            move |x, _| {
                if x > -three && x < three {
                    E::from_f64(f64::from(1.0f32 / 6.0f32))
                } else {
                    E::zero()
                }
            },
        )
    }

    /// Softmin along axis `I`: `softmax(-x)` (`F.softmin`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U2,)>::from_array([0.0, 1000.0]).softmin::<0>();
    /// assert_eq!(y.to_vec(), vec![1.0, 0.0]);
    /// ```
    pub fn softmin<const I: usize>(self) -> Self
    where
        S: HasAxis<I>,
    {
        self.neg().softmax::<I>()
    }

    /// `x` where positive, else `x * noise` elementwise (RReLU's training form, with the slopes
    /// drawn by the caller). `noise` holds one slope per element (only negative entries use
    /// theirs).
    pub(crate) fn leaky_by(self, slopes: Vec<E>) -> Self {
        assert_eq!(slopes.len(), self.numel(), "rrelu: one slope per element");
        let gate: Vec<E> = self
            .as_slice()
            .iter()
            .zip(&slopes)
            .map(|(&x, &a)| if x >= E::zero() { E::one() } else { a })
            .collect();
        let y = kernels::zip_into(self.as_slice(), &gate, |x, a| x * a);
        unary_result(self.shape(), y, &self, move |g, gx| {
            kernels::zip_inplace(gx, &kernels::zip_into(g, &gate, |g, a| g * a), |d, v| d + v)
        })
    }
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// PReLU (`F.prelu(x, weight)`): `x` where positive, else `w[c] * x`, with one slope per
    /// channel (dim 1) or one shared slope.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let w = Tensor::<(U2,)>::from_array([0.5, 0.1]);
    /// let y = Tensor::<(U1, U2)>::from_array([[-2.0, -10.0]]).prelu(&w);
    /// assert_eq!(y.to_vec(), vec![-1.0, -1.0]);
    /// ```
    ///
    /// # Panics
    /// If the slopes are neither one nor one per channel (PyTorch raises too).
    pub fn prelu<W: ConstDim>(self, weight: &Tensor<(W,), E>) -> Self {
        prelu_op(self, weight)
    }
}

fn prelu_op<S, E, T, W>(x: Tensor<S, E, T>, w: &Tensor<(W,), E>) -> Tensor<S, E, T>
where
    S: Shape,
    E: Element,
    T: TapeMode<E>,
    W: ConstDim,
{
    let dims = x.dims();
    let nw = W::SIZE;
    let channels = if dims.len() >= 2 { dims[1] } else { 1 };
    assert!(
        nw == 1 || nw == channels,
        "prelu: {nw} slopes for {channels} channels"
    );
    let inner: usize = if dims.len() >= 2 {
        dims[2..].iter().product()
    } else {
        1
    };
    let xv = x.data_arc();
    let wv = w.data_arc();
    let y = kernels::prelu_forward(&xv, &wv, channels, inner);
    let (tx, nx) = x.as_input();
    let tw = w.grad_target();
    op_result(x.shape(), y, &[(tx, nx), (tw, None)], |_| {
        Box::new(move |g, grads| {
            if let Some(gx) = grads.accum(&tx) {
                kernels::prelu_backward(g, &xv, &wv, channels, inner, Some(gx), None);
            }
            if let Some(gw) = grads.accum(&tw) {
                kernels::prelu_backward(g, &xv, &wv, channels, inner, None, Some(gw));
            }
        })
    })
}
