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
