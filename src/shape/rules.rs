//! The shape rules, one trait each.
//!
//! Every rule is a trait bound, checked by `cargo check`, never a run-time assertion. Each
//! carries `#[diagnostic::on_unimplemented]`, so when a program breaks a rule the first line of
//! the compiler's error is the rule in words, pointing at the user's call.
//!
//! Two kinds of rule:
//! - *Sameness* rules (`SameShape`, `MatmulInner` ...) have one blanket impl, `impl<X> Rule<X>
//!   for X`: generic code that passes the same type twice satisfies them for free, and a
//!   mismatch names the rule instead of printing "mismatched types".
//! - *Arithmetic* rules (the kernel fits, the numbers of elements agree ...) are computed with
//!   total `typenum` operations (saturating subtraction, `GrEq`, `IsEqual`) that always resolve
//!   to `B0` or `B1`, and the resulting bit is asserted with a marker implemented only for `B1`.
//!   (A bound that does arithmetic which can fail, like `A: Sub<B>`, would fail inside typenum
//!   and the user would read "cannot subtract `B1` from `UTerm`" instead of the rule.)

use typenum::B1;

macro_rules! same_rule {
    ($(#[$doc:meta])* $name:ident, $msg:literal, $label:literal) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(message = $msg, label = $label)]
        pub trait $name<Other: ?Sized> {}
        impl<X: ?Sized> $name<X> for X {}
    };
}

macro_rules! bit_rule {
    ($(#[$doc:meta])* $name:ident, $msg:literal, $label:literal, $note:literal) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(message = $msg, label = $label, note = $note)]
        pub trait $name {}
        impl $name for B1 {}
    };
}

/// The shortcut of a residual block returns the branch's shape, so the two can be added.
/// Checked dim by dim ([`ResidualDim`]) rather than as one type, so that shapes the compiler is
/// still computing (a generic block's outputs) report this rule, not a type mismatch.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Forward, ReLU, Residual};
/// let y = Residual::new(ReLU).forward(Tensor::<(U2, U3)>::ones());
/// assert_eq!(y.to_vec(), vec![2.0; 6]);
/// ```
#[diagnostic::on_unimplemented(
    message = "the residual branch must return its input's shape",
    label = "the shortcut returns `{Self}`, the branch `{Other}`",
    note = "a branch that changes the channels or the size (a stride) needs a projection shortcut with the same change, as torchvision's `downsample`: a 1x1 convolution with the branch's output channels and stride, then a batch norm"
)]
pub trait ResidualShape<Other> {}

/// One dim of [`ResidualShape`]: the shortcut's equals the branch's.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::shape::rules::ResidualDim;
/// fn same<A: ResidualDim<B>, B>() {}
/// same::<U4, U4>();
/// ```
#[diagnostic::on_unimplemented(
    message = "the residual branch must return its input's shape",
    label = "the shortcut has `{Self}` here, the branch `{Other}`",
    note = "a branch that changes the channels or the size (a stride) needs a projection shortcut with the same change, as torchvision's `downsample`: a 1x1 convolution with the branch's output channels and stride, then a batch norm"
)]
pub trait ResidualDim<Other> {}
impl<X> ResidualDim<X> for X {}

macro_rules! residual_shape {
    ($(($A:ident, $B:ident)),*) => {
        impl<$($A, $B: ResidualDim<$A>),*> ResidualShape<($($A,)*)> for ($($B,)*) {}
    };
}
residual_shape!();
residual_shape!((A0, B0));
residual_shape!((A0, B0), (A1, B1));
residual_shape!((A0, B0), (A1, B1), (A2, B2));
residual_shape!((A0, B0), (A1, B1), (A2, B2), (A3, B3));
residual_shape!((A0, B0), (A1, B1), (A2, B2), (A3, B3), (A4, B4));

same_rule!(
    /// Elementwise operations take tensors of the same shape.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U3)>::ones();
    /// let b = Tensor::<(U2, U3)>::ones();
    /// assert_eq!(a.add(&b).to_vec(), vec![2.0; 6]);
    /// ```
    SameShape,
    "elementwise operations need tensors of the same shape",
    "this tensor's shape differs from the other operand's"
);
same_rule!(
    /// The inner dimensions of a matrix product are equal: `(M, K) x (K, N)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U3)>::ones();
    /// let b = Tensor::<(U3, U4)>::ones();
    /// assert_eq!(a.matmul(&b).to_vec(), vec![3.0; 8]);
    /// ```
    MatmulInner,
    "the inner dimensions of a matrix product must be equal",
    "the columns of the left matrix must equal the rows of this one"
);
same_rule!(
    /// The batch dimensions of a batched matrix product are equal: `(B, M, K) x (B, K, N)`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U5, U2, U3)>::ones();
    /// let b = Tensor::<(U5, U3, U4)>::ones();
    /// assert_eq!(a.matmul(&b).to_vec(), vec![3.0; 40]);
    /// ```
    MatmulBatch,
    "the batch dimensions of a batched matrix product must be equal",
    "this batch dimension differs from the left operand's"
);
same_rule!(
    /// Tensors joined by `concat` agree on every dimension but the concatenation axis.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U3)>::zeros();
    /// let b = Tensor::<(U2, U1)>::zeros();
    /// assert_eq!(a.concat::<1, _, _>(&b).dims(), [2, 4]);
    /// ```
    ConcatDim,
    "tensors to concatenate must have equal dimensions except along the concatenation axis",
    "this dimension differs from the other tensor's"
);
same_rule!(
    /// A nested array's lengths are the tensor's dimensions.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let t = Tensor::<(U1, U2)>::from_array([[1.0, 2.0]]);
    /// assert_eq!(t.dims(), [1, 2]);
    /// ```
    ArrayDim,
    "the array's length differs from the tensor's dimension",
    "this array length differs from the tensor's dimension"
);
same_rule!(
    /// A layer receives the number of channels (or features) it was built for.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Conv2d, Forward};
    /// let conv = Conv2d::<U3, U8, U3>::new(&mut Rng::seed(0));
    /// let y = conv.forward(Tensor::<(U1, U3, U5, U5)>::zeros());
    /// assert_eq!(y.dims(), [1, 8, 3, 3]);
    /// ```
    InChannels,
    "the input's channel dimension must equal the layer's in_channels",
    "this input has a different number of channels than the layer expects"
);
same_rule!(
    /// A `Linear` layer receives inputs whose last dimension is its `in_features`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, Forward};
    /// let fc = Linear::<U400, U120>::new(&mut Rng::seed(0));
    /// assert_eq!(fc.forward(Tensor::<(U2, U400)>::zeros()).dims(), [2, 120]);
    /// ```
    InFeatures,
    "the input's last dimension must equal the Linear layer's in_features",
    "this input has a different number of features than the layer expects"
);
same_rule!(
    /// `MaxUnpool` takes the indices a `MaxPool` returned for its input.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{MaxPool2d, MaxUnpool2d};
    /// let (y, idx) = MaxPool2d::<U2>::new().forward_with_indices(Tensor::<(U1, U1, U4, U4)>::arange());
    /// let back = MaxUnpool2d::<U2>::new().forward(y, &idx);
    /// assert_eq!(back.dims(), [1, 1, 4, 4]);
    /// ```
    IndicesShape,
    "max unpooling needs the indices of a max pooling whose output has this input's shape",
    "these indices belong to a tensor of another shape"
);
bit_rule!(
    /// `groups` divides the input channels.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Conv2d;
    /// let c = Conv2d::<U4, U6, U3, U1, U0, U1, U2>::new(&mut Rng::seed(0));
    /// assert_eq!(c.weight.dims(), [6, 2, 3, 3]);
    /// ```
    GroupsDivideIn,
    "groups must divide in_channels",
    "in_channels is not a multiple of groups",
    "PyTorch's rule: in_channels % groups == 0"
);
bit_rule!(
    /// `groups` divides the output channels.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Conv2d;
    /// let c = Conv2d::<U4, U4, U3, U1, U1, U1, U4>::new(&mut Rng::seed(0));
    /// assert_eq!(c.weight.dims(), [4, 1, 3, 3]);
    /// ```
    GroupsDivideOut,
    "groups must divide out_channels",
    "out_channels is not a multiple of groups",
    "PyTorch's rule: out_channels % groups == 0"
);
bit_rule!(
    /// `groups` is at least 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Conv1d;
    /// let c = Conv1d::<U2, U2, U1>::new(&mut Rng::seed(0));
    /// assert_eq!(c.weight.dims(), [2, 2, 1]);
    /// ```
    GroupsNonZero,
    "groups must be at least 1",
    "zero groups",
    "PyTorch rejects groups=0"
);
bit_rule!(
    /// Reflection padding is smaller than the input along that dimension.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, ReflectionPad1d};
    /// let y = ReflectionPad1d::<U2>::new().forward(Tensor::<(U1, U1, U3)>::arange());
    /// assert_eq!(y.to_vec(), vec![2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]);
    /// ```
    ReflectPadSmaller,
    "reflect padding must be smaller than the input dimension",
    "padding not smaller than this input dimension",
    "PyTorch's rule: each reflect padding < the size of the dimension it pads"
);
bit_rule!(
    /// Circular padding is at most the input size along that dimension.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{CircularPad1d, Forward};
    /// let y = CircularPad1d::<U3>::new().forward(Tensor::<(U1, U1, U3)>::arange());
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    /// ```
    CircularPadFits,
    "circular padding must not exceed the input dimension",
    "padding larger than this input dimension",
    "PyTorch's rule: each circular padding <= the size of the dimension it pads"
);
bit_rule!(
    /// `padding="same"` needs stride 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Conv1d, Forward, Same};
    /// let c = Conv1d::<U1, U1, U4, U1, Same>::new(&mut Rng::seed(0));
    /// assert_eq!(c.forward(Tensor::<(U1, U1, U9)>::zeros()).dims(), [1, 1, 9]);
    /// ```
    SameNeedsStrideOne,
    "padding=\"same\" requires stride 1",
    "stride is not 1",
    "PyTorch's rule: padding='same' is not supported for strided convolutions"
);
bit_rule!(
    /// `Unflatten`'s sizes multiply to the dimension it splits.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Unflatten};
    /// let y = Unflatten::<1, (U2, U3)>::new().forward(Tensor::<(U4, U6)>::zeros());
    /// assert_eq!(y.dims(), [4, 2, 3]);
    /// ```
    UnflattenNumel,
    "Unflatten's sizes must multiply to the dimension it splits",
    "the product of these sizes differs from the dimension",
    "PyTorch's rule: prod(unflattened_size) == input.size(dim)"
);
bit_rule!(
    /// Two static dims broadcast: equal, or the smaller operand's is 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U3)>::ones();
    /// let m = Mask::<(U1, U3)>::from_array([[true, false, true]]);
    /// assert_eq!(x.masked_fill(&m, 0.0).to_vec(), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    /// ```
    BroadcastDims,
    "dims that broadcast must be equal, or 1 in the smaller operand",
    "this dim is neither the other operand's nor 1",
    "PyTorch's broadcasting: aligned from the last dim, each pair of dims is equal or one of them is 1"
);
bit_rule!(
    /// The index of `gather` and `scatter_add` has the tensor's rank.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U1, U3)>::from_array([[5.0, 6.0, 7.0]]);
    /// let i = Indices::<(U1, U1)>::from_array([[2]]);
    /// assert_eq!(x.gather::<1, _>(&i).to_vec(), vec![7.0]);
    /// ```
    RanksEqual,
    "the index must have as many dims as the tensor",
    "this index has a different rank",
    "gather and scatter_add address the tensor through an index of the same rank (PyTorch's rule); unsqueeze the index to add a dim"
);
bit_rule!(
    /// `chunk::<I, K>()` splits a static axis into `K` equal parts: `K` divides it.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let [a, b] = Tensor::<(U4,)>::arange().chunk::<0, 2>();
    /// assert_eq!((a.to_vec(), b.to_vec()), (vec![0.0, 1.0], vec![2.0, 3.0]));
    /// ```
    ChunksDivide,
    "the number of chunks must divide the axis",
    "this axis is not a multiple of the number of chunks",
    "chunk::<I, K>() splits axis I into K equal parts, so its size must be a multiple of K"
);
bit_rule!(
    /// `GroupNorm`'s groups divide its channels.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::GroupNorm;
    /// let g = GroupNorm::<U2, U4>::new();
    /// assert_eq!(g.weight.as_ref().unwrap().dims(), [4]);
    /// ```
    NormGroupsDivide,
    "num_groups must divide num_channels",
    "num_channels is not a multiple of num_groups",
    "PyTorch's rule: num_channels % num_groups == 0"
);
bit_rule!(
    /// `PixelShuffle`'s channels are a multiple of the upscale factor squared.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1, U8, U2, U2)>::zeros().pixel_shuffle::<U2>();
    /// assert_eq!(y.dims(), [1, 2, 4, 4]);
    /// ```
    ShuffleChannelsDivide,
    "pixel_shuffle needs channels divisible by upscale_factor squared",
    "channels is not a multiple of upscale_factor * upscale_factor",
    "PyTorch's rule: channels % (upscale_factor * upscale_factor) == 0"
);
bit_rule!(
    /// `PixelUnshuffle`'s height and width are multiples of the downscale factor.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U1, U2, U4, U6)>::zeros().pixel_unshuffle::<U2>();
    /// assert_eq!(y.dims(), [1, 8, 2, 3]);
    /// ```
    UnshuffleSizeDivides,
    "pixel_unshuffle needs height and width divisible by downscale_factor",
    "height or width is not a multiple of downscale_factor",
    "PyTorch's rule: height % downscale_factor == 0 and width % downscale_factor == 0"
);
bit_rule!(
    /// A pixel (un)shuffle's factor is at least 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let y = Tensor::<(U3, U2, U2)>::ones().pixel_shuffle::<U1>();
    /// assert_eq!(y.dims(), [3, 2, 2]);
    /// ```
    ShuffleFactorNonZero,
    "the pixel (un)shuffle factor must be at least 1",
    "zero factor",
    "PyTorch rejects upscale_factor=0 and downscale_factor=0"
);
bit_rule!(
    /// A reshape keeps the number of elements.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U6)>::ones();
    /// let b: Tensor<(U3, U4)> = a.reshape();
    /// assert_eq!(b.numel(), 12);
    /// ```
    SameNumel,
    "a reshape must keep the number of elements",
    "the product of the new dimensions differs from the product of the old ones",
    "the new shape's dimensions must multiply to the same number of elements (a runtime batch dimension must stay a runtime dimension)"
);
bit_rule!(
    /// The (dilated) kernel of a convolution fits inside the padded input:
    /// `In + 2P >= D (K - 1) + 1`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvOut;
    /// assert_eq!(<ConvOut<U5, U5, U1, U0, U1> as ConstDim>::SIZE, 1);
    /// ```
    KernelFits,
    "convolution kernel does not fit: the dilated kernel is larger than the padded input",
    "kernel too large for this input",
    "PyTorch's rule: input + 2 * padding >= dilation * (kernel - 1) + 1"
);
bit_rule!(
    /// The window of a pooling layer fits inside the padded input.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::PoolOut;
    /// assert_eq!(<PoolOut<U4, U4, U4, U0, U1, False> as ConstDim>::SIZE, 1);
    /// ```
    PoolWindowFits,
    "pooling window does not fit: the dilated window is larger than the padded input",
    "window too large for this input",
    "PyTorch's rule: input + 2 * padding >= dilation * (kernel - 1) + 1"
);
bit_rule!(
    /// Pooling padding is at most half of the effective window: `P <= (D (K - 1) + 1) / 2`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::PoolOut;
    /// // kernel 3, padding 1 is allowed
    /// assert_eq!(<PoolOut<U4, U3, U1, U1, U1, False> as ConstDim>::SIZE, 4);
    /// ```
    PoolPadding,
    "pooling padding must be at most half of the effective kernel size",
    "padding too large for this window",
    "PyTorch's rule: padding <= (dilation * (kernel - 1) + 1) / 2"
);
bit_rule!(
    /// A stride is at least 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvOut;
    /// assert_eq!(<ConvOut<U9, U3, U2, U0, U1> as ConstDim>::SIZE, 4);
    /// ```
    StrideNonZero,
    "stride must be at least 1",
    "zero stride",
    "PyTorch rejects stride 0"
);
bit_rule!(
    /// A dilation is at least 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvOut;
    /// assert_eq!(<ConvOut<U9, U3, U1, U0, U2> as ConstDim>::SIZE, 5);
    /// ```
    DilationNonZero,
    "dilation must be at least 1",
    "zero dilation",
    "PyTorch rejects dilation 0"
);
bit_rule!(
    /// A kernel has at least one element per dimension.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvOut;
    /// assert_eq!(<ConvOut<U9, U1, U1, U0, U1> as ConstDim>::SIZE, 9);
    /// ```
    KernelNonZero,
    "kernel size must be at least 1",
    "zero kernel size",
    "PyTorch rejects kernel_size 0"
);
bit_rule!(
    /// A transposed convolution's output padding is smaller than its stride or its dilation.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvTransposeOut;
    /// assert_eq!(<ConvTransposeOut<U4, U3, U2, U1, U1, U1> as ConstDim>::SIZE, 8);
    /// ```
    OutputPaddingSmall,
    "output_padding must be smaller than either stride or dilation",
    "output_padding too large",
    "PyTorch's rule: output_padding < max(stride, dilation)"
);
bit_rule!(
    /// A transposed convolution's padding leaves at least one output element.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::ConvTransposeOut;
    /// assert_eq!(<ConvTransposeOut<U1, U3, U1, U1, U1, U0> as ConstDim>::SIZE, 1);
    /// ```
    TransposeOutputNonEmpty,
    "transposed convolution output would be empty: padding removes every output element",
    "padding too large",
    "PyTorch's rule: (input - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 >= 1"
);
bit_rule!(
    /// An adaptive pooling's output size is at least 1.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::shape::out::AdaptiveOut;
    /// assert_eq!(<AdaptiveOut<U10, U3> as ConstDim>::SIZE, 3);
    /// ```
    AdaptiveOutputNonZero,
    "adaptive pooling output size must be at least 1",
    "zero output size",
    "PyTorch rejects an output_size of 0"
);
