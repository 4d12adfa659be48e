//! Elementwise operations: unary maps, binary maps between equal shapes, scalar operands,
//! broadcasting over leading dims, and the `std::ops` operators.

use super::assert_same_dims;
use crate::autograd::{
    op_result, sum_result, unary_result, GradTarget, Gradients, MergeTape, TapeMode,
};
use crate::kernels;
use crate::shape::{rules::SameShape, BroadcastSuffix, ConstShape, Shape};
use crate::tensor::{Element, Tensor};

/// Adds `g * d(a, b)` to `target`'s gradient: written straight into a fresh buffer when it is
/// the first contribution (no zero fill, then an add), added to the buffer otherwise.
fn binary_grad<E: Element>(
    grads: &mut Gradients<E>,
    target: &GradTarget,
    (a, b, g): (&[E], &[E], &[E]),
    d: &(impl Fn(E, E) -> E + Sync),
) {
    grads.accum_or_init(
        target,
        || kernels::map3_into(a, b, g, |x, y, g| g * d(x, y)),
        |gx| kernels::binary_backward(gx, a, b, g, d),
    );
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// `y = f(x)` elementwise with derivative `d(x, y) = f'(x)`.
    pub(crate) fn map_op<F, D>(self, f: F, d: D) -> Self
    where
        F: Fn(E) -> E + Sync,
        D: Fn(E, E) -> E + Send + Sync + 'static,
    {
        self.map_op_kernels(
            |buf| kernels::map_inplace(buf, &f),
            |x| kernels::map_into(x, &f),
            d,
        )
    }

    /// [`Tensor::map_op`] with the map given as two kernels, one rewriting a buffer in place
    /// (for untraced values) and one making `y` from `x`.
    pub(crate) fn map_op_kernels<K, KI, D>(self, inplace: K, into: KI, d: D) -> Self
    where
        K: Fn(&mut [E]),
        KI: Fn(&[E]) -> Vec<E>,
        D: Fn(E, E) -> E + Send + Sync + 'static,
    {
        if !(T::TRACED && self.requires_grad()) {
            let shape = self.shape();
            let mut data = self.take_data();
            inplace(&mut data);
            return Tensor::from_parts(shape, data);
        }
        let (target, node) = self.as_input();
        let x = self.data_arc();
        let y = into(&x);
        op_result(self.shape(), y, &[(target, node)], |y| {
            let y = y.clone();
            Box::new(move |g, grads| {
                grads.accum_or_init(
                    &target,
                    || kernels::map3_into(&x, &y, g, |x, y, g| g * d(x, y)),
                    |gx| kernels::unary_backward(gx, &x, &y, g, &d),
                );
            })
        })
    }

    /// `y = f(x)` elementwise, written over `x`'s buffer (a new one only when something else
    /// still holds it), for maps whose derivative is a function of the output alone:
    /// `d(y) = f'(x)`. In training the input of an activation is usually the fresh output of
    /// the layer before, held by nothing else; computing in place spares a buffer as large
    /// as that output (its allocation, zero fill and page faults). `inplace` is the kernel.
    pub(crate) fn map_op_y<K, D>(self, inplace: K, d: D) -> Self
    where
        K: Fn(&mut [E]),
        D: Fn(E) -> E + Send + Sync + 'static,
    {
        let shape = self.shape();
        let (target, node) = self.as_input();
        let node = node.cloned();
        let mut data = self.take_data();
        inplace(&mut data);
        // untraced, `op_result` returns the value alone and builds no backward
        op_result(shape, data, &[(target, node.as_ref())], |y| {
            let y = y.clone();
            Box::new(move |g, grads| {
                grads.accum_or_init(
                    &target,
                    || kernels::map3_into(&y, g, g, |y, g, _| g * d(y)),
                    |gx| kernels::unary_backward(gx, &y, &y, g, |_, y| d(y)),
                );
            })
        })
    }

    /// `y = f(x, a, b)` elementwise with two untraced side inputs `a` and `b` (e.g. a target
    /// and a weight), differentiated in `x` only: `d(x, a, b) = df/dx`.
    pub(crate) fn map_with_op<F, D>(self, a: &[E], b: &[E], f: F, d: D) -> Self
    where
        F: Fn(E, E, E) -> E + Sync,
        D: Fn(E, E, E) -> E + Send + Sync + 'static,
    {
        let y = kernels::map3_into(self.as_slice(), a, b, f);
        let x = self.data_arc();
        let (a, b) = (a.to_vec(), b.to_vec());
        unary_result(self.shape(), y, &self, move |g, gx| {
            // gx += g * d(x, a, b)
            let dx = kernels::map3_into(&x, &a, &b, &d);
            kernels::binary_backward(gx, &dx, &dx, g, |dv, _| dv);
        })
    }

    /// `z = f(a, b)` elementwise with partial derivatives `da(a, b)` and `db(a, b)`.
    pub(crate) fn zip_op<S2, T2, F, DA, DB>(
        self,
        rhs: &Tensor<S2, E, T2>,
        f: F,
        da: DA,
        db: DB,
    ) -> Tensor<S, E, T::Output>
    where
        S2: Shape + SameShape<S>,
        T2: TapeMode<E>,
        T: MergeTape<E, T2>,
        F: Fn(E, E) -> E + Sync,
        DA: Fn(E, E) -> E + Send + Sync + 'static,
        DB: Fn(E, E) -> E + Send + Sync + 'static,
    {
        assert_same_dims(&self.shape(), &rhs.shape(), "elementwise operation");
        let shape = self.shape();
        let traced = <T::Output as TapeMode<E>>::TRACED;
        if !(traced && (self.requires_grad() || rhs.requires_grad())) {
            let mut data = self.take_data();
            kernels::zip_inplace(&mut data, rhs.as_slice(), f);
            return Tensor::from_parts(shape, data);
        }
        let (ta, na) = self.as_input();
        let (tb, nb) = rhs.as_input();
        let a = self.data_arc();
        let b = rhs.data_arc();
        let z = kernels::zip_into(&a, &b, f);
        op_result(shape, z, &[(ta, na), (tb, nb)], |_| {
            Box::new(move |g, grads| {
                binary_grad(grads, &ta, (&a, &b, g), &da);
                binary_grad(grads, &tb, (&a, &b, g), &db);
            })
        })
    }

    /// `z = f(a, b)` where `b` broadcasts over the leading dims of `a`, without materialising
    /// the broadcast; `b`'s gradient sums over the repeats.
    fn broadcast_zip_op<S2, T2, F, DA, DB>(
        self,
        rhs: &Tensor<S2, E, T2>,
        f: F,
        da: DA,
        db: DB,
    ) -> Tensor<S, E, T::Output>
    where
        S: BroadcastSuffix<S2>,
        S2: Shape,
        T2: TapeMode<E>,
        T: MergeTape<E, T2>,
        F: Fn(E, E) -> E + Sync,
        DA: Fn(E, E) -> E + Send + Sync + 'static,
        DB: Fn(E, E) -> E + Send + Sync + 'static,
    {
        let (big, small) = (self.dims(), rhs.dims());
        assert_eq!(
            &big[big.len() - small.len()..],
            &small[..],
            "broadcast: runtime trailing dimensions differ"
        );
        let shape = self.shape();
        let traced = <T::Output as TapeMode<E>>::TRACED;
        let b = rhs.data_arc();
        let n = b.len();
        if !(traced && (self.requires_grad() || rhs.requires_grad())) {
            let mut data = self.take_data();
            if n > 0 {
                for block in data.chunks_exact_mut(n) {
                    kernels::zip_inplace(block, &b, &f);
                }
            }
            return Tensor::from_parts(shape, data);
        }
        let (ta, na) = self.as_input();
        let (tb, nb) = rhs.as_input();
        let a = self.data_arc();
        let mut z = a.to_vec();
        if n > 0 {
            for block in z.chunks_exact_mut(n) {
                kernels::zip_inplace(block, &b, &f);
            }
        }
        op_result(shape, z, &[(ta, na), (tb, nb)], |_| {
            Box::new(move |g, grads| {
                if n == 0 {
                    return;
                }
                if let Some(ga) = grads.accum(&ta) {
                    for ((gab, aa), gg) in ga
                        .chunks_exact_mut(n)
                        .zip(a.chunks_exact(n))
                        .zip(g.chunks_exact(n))
                    {
                        kernels::binary_backward(gab, aa, &b, gg, &da);
                    }
                }
                if let Some(gb) = grads.accum(&tb) {
                    for (aa, gg) in a.chunks_exact(n).zip(g.chunks_exact(n)) {
                        kernels::binary_backward(gb, aa, &b, gg, &db);
                    }
                }
            })
        })
    }

    /// `-x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::from_array([1.0, -2.0]).neg().to_vec(), vec![-1.0, 2.0]);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Self {
        self.map_op(|x| -x, |_, _| -E::one())
    }

    /// `|x|` (gradient 0 at 0, like PyTorch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::from_array([1.0, -2.0]).abs().to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn abs(self) -> Self {
        self.map_op(|x| x.abs(), |x, _| sign(x))
    }

    /// `e^x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,), f64>::zeros().exp().to_vec(), vec![1.0]);
    /// ```
    pub fn exp(self) -> Self {
        self.map_op(|x| x.exp(), |_, y| y)
    }

    /// Natural logarithm.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,), f64>::ones().ln().to_vec(), vec![0.0]);
    /// ```
    pub fn ln(self) -> Self {
        self.map_op(|x| x.ln(), |x, _| x.recip())
    }

    /// Square root.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::full(9.0).sqrt().to_vec(), vec![3.0]);
    /// ```
    pub fn sqrt(self) -> Self {
        self.map_op(|x| x.sqrt(), |_, y| (y + y).recip())
    }

    /// `x^2`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::full(-3.0).square().to_vec(), vec![9.0]);
    /// ```
    pub fn square(self) -> Self {
        self.map_op(|x| x * x, |x, _| x + x)
    }

    /// `x^p` for a real exponent (gradient `p x^(p-1)`, and 0 when `p == 0`, like PyTorch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::full(4.0).powf(1.5).to_vec(), vec![8.0]);
    /// ```
    pub fn powf(self, p: E) -> Self {
        self.map_op(
            move |x| x.powf(p),
            move |x, _| {
                if p == E::zero() {
                    E::zero()
                } else {
                    p * x.powf(p - E::one())
                }
            },
        )
    }

    /// `1 / x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::full(4.0).recip().to_vec(), vec![0.25]);
    /// ```
    pub fn recip(self) -> Self {
        self.map_op(|x| x.recip(), |_, y| -(y * y))
    }

    /// `max(x, 0)` (gradient 1 where the output is positive, else 0, like PyTorch); as
    /// `torch.relu`, NaN stays NaN and `-0.0` stays `-0.0`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U2,)>::from_array([-1.0, 2.0]).relu().to_vec(), vec![0.0, 2.0]);
    /// let special = Tensor::<(U3,)>::from_array([f32::NAN, -0.0, f32::NEG_INFINITY]).relu().to_vec();
    /// assert!(special[0].is_nan() && special[1].is_sign_negative() && special[2] == 0.0);
    /// ```
    pub fn relu(self) -> Self {
        self.map_op_y(
            // as PyTorch: NaN passes through and -0.0 stays -0.0 (only x < 0 becomes 0)
            |buf| kernels::map_inplace(buf, |x| if x < E::zero() { E::zero() } else { x }),
            |y| if y > E::zero() { E::one() } else { E::zero() },
        )
    }

    /// The logistic function `1 / (1 + e^-x)`, stable for any magnitude.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U3,)>::from_array([-1000.0, 0.0, 1000.0]).sigmoid();
    /// assert_eq!(y.to_vec(), vec![0.0, 0.5, 1.0]);
    /// ```
    pub fn sigmoid(self) -> Self {
        self.map_op_y(kernels::sigmoid_inplace, |y| y * (E::one() - y))
    }

    /// Hyperbolic tangent.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::zeros().tanh().to_vec(), vec![0.0]);
    /// ```
    pub fn tanh(self) -> Self {
        self.map_op_y(kernels::tanh_inplace, |y| E::one() - y * y)
    }

    /// Sine.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,), f64>::zeros().sin().to_vec(), vec![0.0]);
    /// ```
    pub fn sin(self) -> Self {
        self.map_op(|x| x.sin(), |x, _| x.cos())
    }

    /// Cosine.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,), f64>::zeros().cos().to_vec(), vec![1.0]);
    /// ```
    pub fn cos(self) -> Self {
        self.map_op(|x| x.cos(), |x, _| -x.sin())
    }

    /// Every element limited to `[min, max]` (gradient 1 inside, 0 outside, like PyTorch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U3,)>::from_array([-5.0, 0.5, 5.0]).clamp(-1.0, 1.0);
    /// assert_eq!(y.to_vec(), vec![-1.0, 0.5, 1.0]);
    /// ```
    pub fn clamp(self, min: E, max: E) -> Self {
        self.map_op(
            move |x| x.max(min).min(max),
            move |x, _| {
                if x >= min && x <= max {
                    E::one()
                } else {
                    E::zero()
                }
            },
        )
    }

    /// `x + c`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::ones().add_scalar(2.0).to_vec(), vec![3.0]);
    /// ```
    pub fn add_scalar(self, c: E) -> Self {
        self.map_op(move |x| x + c, |_, _| E::one())
    }

    /// `x - c`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::ones().sub_scalar(2.0).to_vec(), vec![-1.0]);
    /// ```
    pub fn sub_scalar(self, c: E) -> Self {
        self.map_op(move |x| x - c, |_, _| E::one())
    }

    /// `x * c`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::ones().mul_scalar(2.0).to_vec(), vec![2.0]);
    /// ```
    pub fn mul_scalar(self, c: E) -> Self {
        self.map_op(move |x| x * c, move |_, _| c)
    }

    /// `x / c`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(Tensor::<(U1,)>::ones().div_scalar(4.0).to_vec(), vec![0.25]);
    /// ```
    pub fn div_scalar(self, c: E) -> Self {
        self.map_op(move |x| x / c, move |_, _| c.recip())
    }

    /// `a + b` elementwise, written over `a`'s buffer when nothing else holds it. Traced, its
    /// gradient reaches both operands as the same buffer (a sum saves nothing for backward).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// assert_eq!(a.clone().add(&a).to_vec(), vec![2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    #[allow(clippy::should_implement_trait)]
    pub fn add<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        assert_same_dims(&self.shape(), &rhs.shape(), "elementwise operation");
        let shape = self.shape();
        let (ta, na) = self.as_input();
        let na = na.cloned();
        let (tb, nb) = rhs.as_input();
        // into `self`'s buffer when nothing else holds it (the backward needs no values)
        let mut data = self.take_data();
        kernels::zip_inplace(&mut data, rhs.as_slice(), |a, b| a + b);
        sum_result(shape, data, [(ta, na), (tb, nb.cloned())])
    }

    /// `a - b` elementwise.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// assert_eq!(a.clone().sub(&a).to_vec(), vec![0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    #[allow(clippy::should_implement_trait)]
    pub fn sub<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        self.zip_op(rhs, |a, b| a - b, |_, _| E::one(), |_, _| -E::one())
    }

    /// `a * b` elementwise.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// assert_eq!(a.clone().mul(&a).to_vec(), vec![1.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    #[allow(clippy::should_implement_trait)]
    pub fn mul<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        self.zip_op(rhs, |a, b| a * b, |_, b| b, |a, _| a)
    }

    /// `a / b` elementwise.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// assert_eq!(a.clone().div(&a).to_vec(), vec![1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    #[allow(clippy::should_implement_trait)]
    pub fn div<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        self.zip_op(rhs, |a, b| a / b, |_, b| b.recip(), |a, b| -a / (b * b))
    }

    /// The elementwise maximum (on ties each operand gets half the gradient, like PyTorch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 5.0]);
    /// let b = Tensor::<(U2,)>::from_array([3.0, 2.0]);
    /// assert_eq!(a.maximum(&b).to_vec(), vec![3.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    pub fn maximum<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        self.zip_op(rhs, |a, b| a.max(b), |a, b| pick(a, b), |a, b| pick(b, a))
    }

    /// The elementwise minimum (on ties each operand gets half the gradient, like PyTorch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2,)>::from_array([1.0, 5.0]);
    /// let b = Tensor::<(U2,)>::from_array([3.0, 2.0]);
    /// assert_eq!(a.minimum(&b).to_vec(), vec![1.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension differs.
    pub fn minimum<S2: Shape + SameShape<S>, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        T: MergeTape<E, T2>,
    {
        self.zip_op(rhs, |a, b| a.min(b), |a, b| pick(b, a), |a, b| pick(a, b))
    }

    /// This tensor repeated over new leading dimensions to the shape `shape`, whose trailing
    /// dims are this tensor's (PyTorch's `expand`, materialised). Its gradient sums over the
    /// repeats.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let b = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// let big = b.broadcast_to((3usize, U2::new()));
    /// assert_eq!(big.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) trailing dimension of `shape` differs from this tensor's.
    pub fn broadcast_to<S2: BroadcastSuffix<S>>(self, shape: S2) -> Tensor<S2, E, T> {
        let small = self.dims();
        let big = shape.dims();
        assert_eq!(
            &big[big.len() - small.len()..],
            &small[..],
            "broadcast: runtime trailing dimensions differ"
        );
        let reps = shape.numel() / self.numel().max(1);
        let out = kernels::repeat(self.as_slice(), reps);
        unary_result(shape, out, &self, |g, gx| kernels::sum_blocks(g, gx))
    }

    /// [`broadcast_to`](Self::broadcast_to) a static shape.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let b = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// let big: Tensor<(U2, U2)> = b.broadcast();
    /// assert_eq!(big.to_vec(), vec![1.0, 2.0, 1.0, 2.0]);
    /// ```
    pub fn broadcast<S2: BroadcastSuffix<S> + ConstShape>(self) -> Tensor<S2, E, T> {
        self.broadcast_to(S2::default())
    }

    /// `x + b` where `b` broadcasts over the leading dims of `x` (a bias over a batch).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::zeros();
    /// let bias = Tensor::<(U3,)>::from_array([1.0, 2.0, 3.0]);
    /// assert_eq!(x.broadcast_add(&bias).to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn broadcast_add<S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: BroadcastSuffix<S2>,
        T: MergeTape<E, T2>,
    {
        self.broadcast_zip_op(rhs, |a, b| a + b, |_, _| E::one(), |_, _| E::one())
    }

    /// `x - b` where `b` broadcasts over the leading dims of `x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::ones();
    /// let b = Tensor::<(U2,)>::from_array([1.0, 2.0]);
    /// assert_eq!(x.broadcast_sub(&b).to_vec(), vec![0.0, -1.0, 0.0, -1.0]);
    /// ```
    pub fn broadcast_sub<S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: BroadcastSuffix<S2>,
        T: MergeTape<E, T2>,
    {
        self.broadcast_zip_op(rhs, |a, b| a - b, |_, _| E::one(), |_, _| -E::one())
    }

    /// `x * b` where `b` broadcasts over the leading dims of `x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::ones();
    /// let b = Tensor::<(U2,)>::from_array([2.0, 3.0]);
    /// assert_eq!(x.broadcast_mul(&b).to_vec(), vec![2.0, 3.0, 2.0, 3.0]);
    /// ```
    pub fn broadcast_mul<S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: BroadcastSuffix<S2>,
        T: MergeTape<E, T2>,
    {
        self.broadcast_zip_op(rhs, |a, b| a * b, |_, b| b, |a, _| a)
    }

    /// `x / b` where `b` broadcasts over the leading dims of `x`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2)>::ones();
    /// let b = Tensor::<(U2,)>::from_array([2.0, 4.0]);
    /// assert_eq!(x.broadcast_div(&b).to_vec(), vec![0.5, 0.25, 0.5, 0.25]);
    /// ```
    pub fn broadcast_div<S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<S, E, T::Output>
    where
        S: BroadcastSuffix<S2>,
        T: MergeTape<E, T2>,
    {
        self.broadcast_zip_op(rhs, |a, b| a / b, |_, b| b.recip(), |a, b| -a / (b * b))
    }
}

/// d max(a, b) / da: 1 if a > b, 1/2 on a tie, else 0.
fn pick<E: Element>(a: E, b: E) -> E {
    if a > b {
        E::one()
    } else if a == b {
        E::from_f64(0.5)
    } else {
        E::zero()
    }
}

fn sign<E: Element>(x: E) -> E {
    if x > E::zero() {
        E::one()
    } else if x < E::zero() {
        -E::one()
    } else {
        E::zero()
    }
}

pub(crate) use kernels::sigmoid_scalar as sigmoid;

macro_rules! binary_operator {
    ($Trait:ident, $method:ident, $scalar:ident) => {
        impl<S, S2, E, T, T2> std::ops::$Trait<&Tensor<S2, E, T2>> for Tensor<S, E, T>
        where
            S: Shape,
            S2: Shape + SameShape<S>,
            E: Element,
            T: MergeTape<E, T2>,
            T2: TapeMode<E>,
        {
            type Output = Tensor<S, E, T::Output>;
            fn $method(self, rhs: &Tensor<S2, E, T2>) -> Self::Output {
                Tensor::$method(self, rhs)
            }
        }
        impl<S, S2, E, T, T2> std::ops::$Trait<Tensor<S2, E, T2>> for Tensor<S, E, T>
        where
            S: Shape,
            S2: Shape + SameShape<S>,
            E: Element,
            T: MergeTape<E, T2>,
            T2: TapeMode<E>,
        {
            type Output = Tensor<S, E, T::Output>;
            fn $method(self, rhs: Tensor<S2, E, T2>) -> Self::Output {
                Tensor::$method(self, &rhs)
            }
        }
        impl<S, S2, E, T, T2> std::ops::$Trait<&Tensor<S2, E, T2>> for &Tensor<S, E, T>
        where
            S: Shape,
            S2: Shape + SameShape<S>,
            E: Element,
            T: MergeTape<E, T2>,
            T2: TapeMode<E>,
        {
            type Output = Tensor<S, E, T::Output>;
            fn $method(self, rhs: &Tensor<S2, E, T2>) -> Self::Output {
                Tensor::$method(self.clone(), rhs)
            }
        }
        impl<S: Shape, E: Element, T: TapeMode<E>> std::ops::$Trait<E> for Tensor<S, E, T> {
            type Output = Tensor<S, E, T>;
            fn $method(self, rhs: E) -> Self::Output {
                self.$scalar(rhs)
            }
        }
    };
}

binary_operator!(Add, add, add_scalar);
binary_operator!(Sub, sub, sub_scalar);
binary_operator!(Mul, mul, mul_scalar);
binary_operator!(Div, div, div_scalar);

impl<S: Shape, E: Element, T: TapeMode<E>> std::ops::Neg for Tensor<S, E, T> {
    type Output = Tensor<S, E, T>;
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!((-Tensor::<(U1,)>::ones()).to_vec(), vec![-1.0]);
    /// ```
    fn neg(self) -> Self::Output {
        Tensor::neg(self)
    }
}
