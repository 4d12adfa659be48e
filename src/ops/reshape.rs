//! Operations that rearrange elements: reshape, flatten, permute, transpose, concatenate, and
//! moving between a static and a runtime batch dimension.

use super::{assert_same_dims, axis_split};
use crate::autograd::{op_result, unary_result, view_result, MergeTape, TapeMode};
use crate::kernels;
use crate::shape::{
    ConcatAlong, ConstDim, Dim, FlattenDims, PermuteTo, PixelShuffleShape, PixelUnshuffleShape,
    ReshapeTo, Shape, SwapAxes,
};
use crate::tensor::{Element, Tensor};

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The same elements under another shape value (same `numel`); the gradient passes through.
    pub(crate) fn view_as<S2: Shape>(self, shape: S2) -> Tensor<S2, E, T> {
        debug_assert_eq!(shape.numel(), self.numel());
        // A view shares the buffer: no copy.
        if !(T::TRACED && self.requires_grad()) {
            return Tensor::from_arc(shape, self.data_arc());
        }
        view_result(shape, &self)
    }

    /// The same elements in row-major order under shape `S2`: the product of the static dims
    /// and the number of runtime dims must be equal (checked at compile time). The runtime
    /// dims keep their sizes, in order, so static dims split or merge around them: a
    /// `(usize, usize, U512)` sequence batch becomes `(usize, usize, U8, U64)` for 8 heads.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U6)>::arange();
    /// let y: Tensor<(U3, U2, U2)> = x.reshape();
    /// assert_eq!(y[[2, 1, 0]], 10.0);
    ///
    /// let b = Tensor::<(usize, U4, U7)>::zeros_shaped((5, U4::new(), U7::new()));
    /// let f: Tensor<(usize, U28)> = b.reshape();
    /// assert_eq!(f.dims(), [5, 28]);
    ///
    /// // batch and sequence length at run time, 8 heads of 4 split off the features
    /// let s = Tensor::<(usize, usize, U32)>::zeros_shaped((2, 9, U32::new()));
    /// let h: Tensor<(usize, usize, U8, U4)> = s.reshape();
    /// assert_eq!(h.dims(), [2, 9, 8, 4]);
    /// ```
    pub fn reshape<S2: Shape>(self) -> Tensor<S2, E, T>
    where
        S: ReshapeTo<S2>,
    {
        // The rule keeps the count of runtime dims and the product of the static ones, so
        // the k-th runtime dim of the result is the k-th of the input, whatever static dims
        // were split or merged around it.
        let (from, statics) = (self.dims(), S::static_dims());
        let mut runtime = statics[..S::RANK]
            .iter()
            .zip(from.iter())
            .filter(|(d, _)| d.is_none())
            .map(|(_, &n)| n);
        let dims: Vec<usize> = S2::static_dims()[..S2::RANK]
            .iter()
            .map(|d| match d {
                Some(s) => *s,
                None => runtime
                    .next()
                    .expect("the rule keeps the runtime dims' count"),
            })
            .collect();
        let shape = S2::from_dims(&dims).expect("reshape: the shape rule guarantees the dims");
        self.view_as(shape)
    }

    /// Merges dims `START..=END` into one, like PyTorch's `flatten(start_dim, end_dim)`
    /// (negative indices count from the end).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U16, U5, U5)>::zeros();
    /// let y: Tensor<(U2, U400)> = x.flatten::<1, -1>();
    /// assert_eq!(y.dims(), [2, 400]);
    /// ```
    pub fn flatten<const START: isize, const END: isize>(self) -> Tensor<S::Output, E, T>
    where
        S: FlattenDims<START, END>,
    {
        let shape = self.shape().flatten();
        self.view_as(shape)
    }

    /// The axes permuted: output axis `k` is input axis `P[k]` (PyTorch's `permute`), with
    /// `P` one of [`Axes2`](crate::shape::Axes2) .. [`Axes5`](crate::shape::Axes5).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3, U4)>::arange();
    /// let y: Tensor<(U4, U2, U3)> = x.permute::<Axes3<2, 0, 1>>();
    /// assert_eq!(y[[3, 1, 2]], 23.0);
    /// ```
    pub fn permute<P>(self) -> Tensor<<S as PermuteTo<P>>::Output, E, T>
    where
        S: PermuteTo<P>,
    {
        let shape = self.shape().permute();
        self.permute_op(shape, S::AXES)
    }

    /// Axes `I` and `J` swapped (PyTorch's `transpose(I, J)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::arange();
    /// let y: Tensor<(U3, U2)> = x.transpose::<0, 1>();
    /// assert_eq!(y.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// ```
    pub fn transpose<const I: usize, const J: usize>(
        self,
    ) -> Tensor<<S as SwapAxes<I, J>>::Output, E, T>
    where
        S: SwapAxes<I, J>,
    {
        let mut axes: Vec<usize> = (0..S::RANK).collect();
        axes.swap(I, J);
        let shape = self.shape().swap();
        self.permute_op(shape, &axes)
    }

    /// PyTorch's `pixel_shuffle(x, R)`: `(*, C * R^2, H, W)` to `(*, C, H * R, W * R)`, each
    /// group of `R^2` channels spread over an `R x R` block of pixels (sub-pixel convolution's
    /// upscaling). `R^2` must divide the channels: checked at compile time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U4, U1, U1)>::arange();
    /// let y: Tensor<(U1, U1, U2, U2)> = x.pixel_shuffle::<U2>();
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn pixel_shuffle<R: ConstDim>(self) -> Tensor<<S as PixelShuffleShape<R>>::Output, E, T>
    where
        S: PixelShuffleShape<R>,
    {
        let out = self.shape().shuffled();
        let (planes, r, [h, w]) = self.shuffle_geometry(R::SIZE, R::SIZE * R::SIZE);
        // (planes, r, r, h, w) -> (planes, h, r, w, r): five axes, any batch rank
        self.view_as((planes, r, r, h, w))
            .permute_op((planes, h, r, w, r), &[0, 3, 1, 4, 2])
            .view_as(out)
    }

    /// PyTorch's `pixel_unshuffle(x, R)`, the inverse of [`pixel_shuffle`](Self::pixel_shuffle):
    /// `(*, C, H * R, W * R)` to `(*, C * R^2, H, W)`. `R` must divide the height and the
    /// width: checked at compile time.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U2, U2)>::arange();
    /// let y: Tensor<(U4, U1, U1)> = x.pixel_unshuffle::<U2>();
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn pixel_unshuffle<R: ConstDim>(self) -> Tensor<<S as PixelUnshuffleShape<R>>::Output, E, T>
    where
        S: PixelUnshuffleShape<R>,
    {
        let out = self.shape().unshuffled();
        let (planes, r, [h, w]) = self.shuffle_geometry(R::SIZE, 1);
        let (h, w) = (h / r, w / r);
        // (planes, h, r, w, r) -> (planes, r, r, h, w)
        self.view_as((planes, h, r, w, r))
            .permute_op((planes, r, r, h, w), &[0, 2, 4, 1, 3])
            .view_as(out)
    }

    /// For a pixel (un)shuffle by `r` (at least 1, which the shape rules guarantee) of this
    /// `(*, C, H, W)` tensor: the channel planes counted in groups of `per_group`, `r`, and
    /// `[H, W]`.
    fn shuffle_geometry(&self, r: usize, per_group: usize) -> (usize, usize, [usize; 2]) {
        let d = self.dims();
        let rank = d.len();
        let planes: usize = d[..rank - 2].iter().product();
        (
            planes / per_group.max(1),
            r.max(1),
            [d[rank - 2], d[rank - 1]],
        )
    }

    fn permute_op<S2: Shape>(self, shape: S2, axes: &[usize]) -> Tensor<S2, E, T> {
        let dims = self.dims();
        let mut y = vec![E::zero(); self.numel()];
        kernels::permute(self.as_slice(), &dims, axes, &mut y);
        let out_dims: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
        let mut inverse = vec![0; axes.len()];
        for (k, &a) in axes.iter().enumerate() {
            inverse[a] = k;
        }
        unary_result(shape, y, &self, move |g, gx| {
            let mut back = vec![E::zero(); g.len()];
            kernels::permute(g, &out_dims, &inverse, &mut back);
            kernels::add_assign(gx, &back);
        })
    }

    /// `self` and `rhs` joined along axis `I`; every other dimension must be equal.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U1)>::from_array([[1.0], [2.0]]);
    /// let b = Tensor::<(U2, U2)>::from_array([[3.0, 4.0], [5.0, 6.0]]);
    /// let c: Tensor<(U2, U3)> = a.concat::<1, _, _>(&b);
    /// assert_eq!(c.to_vec(), vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime (`usize`) dimension off the axis differs; the message names both shapes.
    /// [`try_concat`](Tensor::try_concat) returns the `Err` instead.
    pub fn concat<const I: usize, S2: Shape, T2: TapeMode<E>>(
        self,
        rhs: &Tensor<S2, E, T2>,
    ) -> Tensor<<S as ConcatAlong<S2, I>>::Output, E, T::Output>
    where
        S: ConcatAlong<S2, I>,
        T: MergeTape<E, T2>,
    {
        let (da, db) = (self.dims(), rhs.dims());
        assert!(
            (0..S::RANK).all(|ax| ax == I || da[ax] == db[ax]),
            "concat: runtime dimensions differ ({da:?} vs {db:?}) off axis {I}"
        );
        let shape = self.shape().concat(&rhs.shape());
        let (outer, na, inner) = axis_split(&da, I);
        let nb = db[I];
        let y = kernels::concat(
            self.as_slice(),
            rhs.as_slice(),
            outer,
            na * inner,
            nb * inner,
        );
        let (ta, node_a) = self.as_input();
        let (tb, node_b) = rhs.as_input();
        op_result(shape, y, &[(ta, node_a), (tb, node_b)], |_| {
            Box::new(move |g, grads| {
                if let Some(ga) = grads.accum(&ta) {
                    kernels::concat_backward(g, Some(ga), None, outer, na * inner, nb * inner);
                }
                if let Some(gb) = grads.accum(&tb) {
                    kernels::concat_backward(g, None, Some(gb), outer, na * inner, nb * inner);
                }
            })
        })
    }
}

/// Moving the first dimension between static and runtime.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::BatchDim;
/// assert_eq!((U8::new(), U3::new()).to_dyn(), (8usize, U3::new()));
/// ```
pub trait BatchDim: Shape {
    /// The shape with a runtime first dimension.
    type Dyn: Shape;
    /// The shape value with a runtime first dimension.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::BatchDim;
    /// assert_eq!((U4::new(), U2::new()).to_dyn().dims(), [4, 2]);
    /// ```
    fn to_dyn(&self) -> Self::Dyn;
}

macro_rules! batch_dim {
    ($($D:ident $i:tt),*) => {
        impl<B: Dim, $($D: Dim),*> BatchDim for (B, $($D,)*) {
            type Dyn = (usize, $($D,)*);
            fn to_dyn(&self) -> Self::Dyn {
                (self.0.size(), $(self.$i,)*)
            }
        }
    };
}
batch_dim!();
batch_dim!(A 1);
batch_dim!(A 1, C 2);
batch_dim!(A 1, C 2, D 3);
batch_dim!(A 1, C 2, D 3, F 4);

impl<S: BatchDim, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The same tensor with its first dimension as a runtime `usize` (the batch), so tensors of
    /// different batch sizes share one type.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U8, U3)>::zeros();
    /// let d: Tensor<(usize, U3)> = x.to_dyn_batch();
    /// assert_eq!(d.dims(), [8, 3]);
    /// ```
    pub fn to_dyn_batch(self) -> Tensor<S::Dyn, E, T> {
        let shape = self.shape().to_dyn();
        self.view_as(shape)
    }

    /// The same tensor with its first dimension as the static `B`, or `self` back if the
    /// runtime batch is not `B`'s size.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let d = Tensor::<(usize, U3)>::zeros_shaped((8, U3::new()));
    /// let s: Tensor<(U8, U3)> = d.try_static_batch().unwrap();
    /// assert_eq!(s.dims(), [8, 3]);
    /// ```
    pub fn try_static_batch<S2>(self) -> Result<Tensor<S2, E, T>, Self>
    where
        S2: BatchDim<Dyn = S::Dyn>,
    {
        match S2::from_dims(&self.dims()) {
            Some(shape) => {
                assert_same_dims(&shape, &self.shape(), "try_static_batch");
                Ok(self.view_as(shape))
            }
            None => Err(self),
        }
    }
}
