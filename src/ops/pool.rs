//! Pooling with typed shapes: max pooling (with its indices) and average pooling over 1 to 3
//! spatial dims. Each op reads its kernel, stride, padding and dilation from type-level
//! hyper-parameters (a number, or a tuple with one per dim: [`Spec1`], [`Spec2`], [`Spec3`]),
//! computes the output shape at compile time ([`PoolOutput`], PyTorch's formula with
//! `ceil_mode`), builds the kernels' geometry and records the backward. The pooling layers of
//! [`crate::nn`] and the functional forms call these.

use super::spatial::{adaptive_avg_op, adaptive_max_op, avg_pool_op, max_pool_op, max_unpool_op};
use crate::autograd::TapeMode;
use crate::kernels::PoolGeom;
use crate::shape::rules::IndicesShape;
use crate::shape::spatial::{
    Adaptive1dShape, Adaptive2dShape, Pool1dShape, Pool2dShape, Pool3dShape, Unpool2dShape, Window3,
};
use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::sync::Arc;
use typenum::U1;

/// The positions of the maxima a max pooling picked: for every output element, the flat index
/// into its `(D, H, W)` input plane (PyTorch's `return_indices=True`). Typed by the pooling's
/// output shape, so [`MaxUnpool2d`](crate::nn::MaxUnpool2d) only accepts indices that fit its
/// input.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::MaxPool2d;
/// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[1.0, 4.0], [3.0, 2.0]]]]);
/// let (y, idx) = MaxPool2d::<U2>::new().forward_with_indices(x);
/// assert_eq!((y.to_vec(), idx.to_vec()), (vec![4.0], vec![1]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PoolIndices<S: Shape> {
    pub(crate) shape: S,
    pub(crate) idx: Arc<Vec<usize>>,
}

impl<S: Shape> PoolIndices<S> {
    /// Indices from elsewhere (e.g. PyTorch's `return_indices`), for a pooling output of shape
    /// `shape`: an error unless there is one per output element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::PoolIndices;
    /// let idx = PoolIndices::from_vec((U1::new(), U1::new(), U1::new(), U2::new()), vec![0, 3]).unwrap();
    /// assert_eq!(idx.to_vec(), vec![0, 3]);
    /// assert!(PoolIndices::from_vec((U1::new(), U1::new(), U1::new(), U2::new()), vec![0]).is_err());
    /// ```
    pub fn from_vec(shape: S, idx: Vec<usize>) -> crate::Result<Self> {
        if idx.len() != shape.numel() {
            return Err(crate::Error::Length {
                dims: shape.dims().to_vec(),
                found: idx.len(),
            });
        }
        Ok(PoolIndices {
            shape,
            idx: Arc::new(idx),
        })
    }

    /// The indices, row-major over the pooling's output.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::MaxPool1d;
    /// let (_, idx) = MaxPool1d::<U2>::new().forward_with_indices(Tensor::<(U1, U1, U4)>::arange());
    /// assert_eq!(idx.as_slice(), &[1, 3]);
    /// ```
    pub fn as_slice(&self) -> &[usize] {
        &self.idx
    }

    /// The indices, copied.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::MaxPool1d;
    /// let (_, idx) = MaxPool1d::<U2>::new().forward_with_indices(Tensor::<(U1, U1, U4)>::arange());
    /// assert_eq!(idx.to_vec(), vec![1, 3]);
    /// ```
    pub fn to_vec(&self) -> Vec<usize> {
        self.idx.to_vec()
    }

    /// The shape of the pooling's output these indices belong to.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::MaxPool1d;
    /// let (_, idx) = MaxPool1d::<U2>::new().forward_with_indices(Tensor::<(U1, U1, U4)>::arange());
    /// assert_eq!(idx.shape().dims(), [1, 1, 2]);
    /// ```
    pub fn shape(&self) -> S {
        self.shape
    }
}

macro_rules! pool_ops {
    ($shape:ident, $max:ident, $max_idx:ident, $avg:ident, $max_doc:literal, $avg_doc:literal) => {
        impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
            #[doc = $max_doc]
            pub fn $max<K, S, P, D, C>(self) -> Tensor<X::Output, E, T>
            where
                X: $shape<K, S, P, D, C>,
            {
                self.$max_idx::<K, S, P, D, C>().0
            }

            /// The max pooling and the flat index of every maximum within its input plane
            /// (PyTorch's `return_indices=True`), for [`MaxUnpool2d`](crate::nn::MaxUnpool2d).
            #[allow(clippy::type_complexity)]
            pub fn $max_idx<K, S, P, D, C>(
                self,
            ) -> (Tensor<X::Output, E, T>, PoolIndices<X::Output>)
            where
                X: $shape<K, S, P, D, C>,
            {
                let shape = self.shape().pooled();
                let geom = pool_geom(&self.dims(), X::window());
                let (y, idx) = max_pool_op(self.into_dyn5(), geom);
                (y.into_typed(shape), PoolIndices { shape, idx })
            }

            #[doc = $avg_doc]
            pub fn $avg<K, S, P, C>(
                self,
                count_include_pad: bool,
                divisor_override: Option<usize>,
            ) -> Tensor<X::Output, E, T>
            where
                X: $shape<K, S, P, U1, C>,
            {
                let shape = self.shape().pooled();
                let geom = pool_geom(&self.dims(), X::window());
                avg_pool_op(self.into_dyn5(), geom, count_include_pad, divisor_override)
                    .into_typed(shape)
            }
        }
    };
}

/// The kernels' geometry of a pooling of an `(N, C, ..)` tensor of `dims` over `w`.
fn pool_geom(dims: &[usize], w: Window3) -> PoolGeom {
    PoolGeom::new(dims[0] * dims[1], w)
}

pool_ops!(
    Pool1dShape, max_pool1d, max_pool1d_with_indices, avg_pool1d,
    "1-d max pooling of `(N, C, L)` (`F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode)`), the hyper-parameters as types.\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U5)>::arange().max_pool1d::<U2, U2, U0, U1, False>();\nassert_eq!(y.to_vec(), vec![1.0, 3.0]);\n```",
    "1-d average pooling of `(N, C, L)` (`F.avg_pool1d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U4)>::arange().avg_pool1d::<U2, U2, U0, False>(true, None);\nassert_eq!(y.to_vec(), vec![0.5, 2.5]);\n```"
);
pool_ops!(
    Pool2dShape, max_pool2d, max_pool2d_with_indices, avg_pool2d,
    "2-d max pooling of `(N, C, H, W)` (`F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)`), the hyper-parameters as types.\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U4, U4)>::arange().max_pool2d::<U2, U2, U0, U1, False>();\nassert_eq!(y.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);\n```",
    "2-d average pooling of `(N, C, H, W)` (`F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U2, U2)>::arange().avg_pool2d::<U2, U2, U0, False>(true, Some(2));\nassert_eq!(y.to_vec(), vec![3.0]);\n```"
);
pool_ops!(
    Pool3dShape, max_pool3d, max_pool3d_with_indices, avg_pool3d,
    "3-d max pooling of `(N, C, D, H, W)` (`F.max_pool3d(x, kernel, stride, padding, dilation, ceil_mode)`), the hyper-parameters as types.\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U2, U2, U2)>::arange().max_pool3d::<U2, U2, U0, U1, False>();\nassert_eq!(y.to_vec(), vec![7.0]);\n```",
    "3-d average pooling of `(N, C, D, H, W)` (`F.avg_pool3d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U2, U2, U2)>::arange().avg_pool3d::<U2, U2, U0, False>(true, None);\nassert_eq!(y.to_vec(), vec![3.5]);\n```"
);

impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
    /// 2-d max unpooling (`F.max_unpool2d(x, indices, kernel, stride, padding)`): each value
    /// placed at the index its max pooling recorded, zeros elsewhere; the output is
    /// `(In - 1) * stride - 2 * padding + kernel` per dim.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U1, U2, U2)>::from_array([[[[1.0, 4.0], [3.0, 2.0]]]]);
    /// let (y, idx) = x.max_pool2d_with_indices::<U2, U2, U0, U1, False>();
    /// let back = y.max_unpool2d::<U2, U2, U0, _>(&idx);
    /// assert_eq!(back.to_vec(), vec![0.0, 4.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If an index lies outside the output plane (indices not from a matching pooling).
    pub fn max_unpool2d<K, S, P, S2>(self, indices: &PoolIndices<S2>) -> Tensor<X::Output, E, T>
    where
        X: Unpool2dShape<K, S, P>,
        S2: Shape + IndicesShape<X>,
    {
        assert_eq!(
            indices.shape().dims(),
            self.dims(),
            "max_unpool: runtime dims of the indices"
        );
        let shape = self.shape().unpooled();
        let out = shape.dims();
        let plane = out[2] * out[3];
        assert!(
            indices.as_slice().iter().all(|&i| i < plane),
            "max_unpool: an index is outside the {plane}-element output plane"
        );
        let y = max_unpool_op(self.into_dyn5(), indices.idx.clone(), [1, out[2], out[3]]);
        y.into_typed(shape)
    }
}

macro_rules! adaptive_ops {
    ($shape:ident, $avg:ident, $max:ident, $max_idx:ident, [$($O:ident),+], $avg_doc:literal, $max_doc:literal) => {
        impl<X: Shape, E: Element, T: TapeMode<E>> Tensor<X, E, T> {
            #[doc = $avg_doc]
            pub fn $avg<$($O),+>(self) -> Tensor<X::Output, E, T>
            where
                X: $shape<$($O),+>,
            {
                let shape = self.shape().pooled();
                adaptive_avg_op(self.into_dyn5(), X::out3()).into_typed(shape)
            }

            #[doc = $max_doc]
            pub fn $max<$($O),+>(self) -> Tensor<X::Output, E, T>
            where
                X: $shape<$($O),+>,
            {
                self.$max_idx::<$($O),+>().0
            }

            /// The adaptive max pooling and the flat index of every maximum within its input
            /// plane (PyTorch's `return_indices=True`).
            #[allow(clippy::type_complexity)]
            pub fn $max_idx<$($O),+>(self) -> (Tensor<X::Output, E, T>, PoolIndices<X::Output>)
            where
                X: $shape<$($O),+>,
            {
                let shape = self.shape().pooled();
                let (y, idx) = adaptive_max_op(self.into_dyn5(), X::out3());
                (y.into_typed(shape), PoolIndices { shape, idx })
            }
        }
    };
}

adaptive_ops!(
    Adaptive1dShape, adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool1d_with_indices, [O],
    "1-d adaptive average pooling to length `O` (`F.adaptive_avg_pool1d(x, O)`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U5)>::arange().adaptive_avg_pool1d::<U2>();\nassert_eq!(y.to_vec(), vec![1.0, 3.0]);\n```",
    "1-d adaptive max pooling to length `O` (`F.adaptive_max_pool1d(x, O)`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U5)>::arange().adaptive_max_pool1d::<U2>();\nassert_eq!(y.to_vec(), vec![2.0, 4.0]);\n```"
);
adaptive_ops!(
    Adaptive2dShape, adaptive_avg_pool2d, adaptive_max_pool2d, adaptive_max_pool2d_with_indices, [OH, OW],
    "2-d adaptive average pooling to `(OH, OW)` (`F.adaptive_avg_pool2d(x, (OH, OW))`); the output size need not divide the input.\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U3, U3)>::arange().adaptive_avg_pool2d::<U1, U1>();\nassert_eq!(y.to_vec(), vec![4.0]);\n```",
    "2-d adaptive max pooling to `(OH, OW)` (`F.adaptive_max_pool2d(x, (OH, OW))`).\n\n```\nuse stensor::prelude::*;\nlet y = Tensor::<(U1, U1, U3, U3)>::arange().adaptive_max_pool2d::<U1, U1>();\nassert_eq!(y.to_vec(), vec![8.0]);\n```"
);
