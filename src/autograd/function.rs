//! Custom differentiable operations: [`Function`] (documented there, as this module is
//! private) and the tuples of inputs it takes.

use super::{op_result, GradTarget, MergeTape, Node, TapeMode};
use crate::shape::{Dims, Shape};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

/// A differentiable operation with a backward rule of your own: PyTorch's
/// `torch.autograd.Function`.
///
/// Implement [`Function`] for a type holding the operation's options: `forward` computes the
/// output from plain (untraced) input tensors, `backward` the gradient of each input from the
/// gradient of the output. [`Function::apply`] runs it on tensors of any tape: when an input is
/// traced and any input requires grad, the output records the operation, and a backward
/// pass through it calls your `backward` and adds what it returns into each input's gradient.
/// [`check_gradients`](crate::gradcheck::check_gradients) checks the rule against finite
/// differences like any other.
///
/// ```
/// use std::marker::PhantomData;
/// use stensor::prelude::*;
/// use stensor::autograd::Function;
/// use stensor::gradcheck::check_gradients;
///
/// /// `x * exp(x)` on tensors of shape `S`, fused: one pass forward, one backward.
/// struct XExp<S>(PhantomData<fn() -> S>);
///
/// impl<S: Shape> Function<f64> for XExp<S> {
///     type Inputs = (Tensor<S, f64>,);
///     type Output = S;
///     fn forward(&self, (x,): &Self::Inputs) -> Tensor<S, f64> {
///         x.map(|v| v * v.exp())
///     }
///     fn backward(
///         &self,
///         (x,): &Self::Inputs,
///         _output: &Tensor<S, f64>,
///         grad: &Tensor<S, f64>,
///         _needs_grad: &[bool],
///     ) -> (Option<Tensor<S, f64>>,) {
///         // d/dx x e^x = (1 + x) e^x
///         (Some(x.map(|v| (1.0 + v) * v.exp()).mul(grad)),)
///     }
/// }
///
/// let x = Tensor::<(U2, U3), f64>::rand_uniform(0, -1.0, 1.0);
/// check_gradients(|x| XExp(PhantomData).apply((&x,)), &x).unwrap();
/// ```
///
/// # Which tape the output has
/// The inputs' tapes merged, as for the library's own ops: traced if any input is. In generic
/// code over a tape `T`, the bound [`AnyTape<E>`](super::AnyTape) on `T` is all `apply` needs
/// for inputs of tape `T` or untraced (parameters, constants), the first of tape `T`.
///
/// # What `backward` returns
/// One `Option` per input, in order, shaped as the input: `None` where there is no gradient to
/// give (an integer-like input, one that `needs_grad` says nobody wants), which counts as zero,
/// as PyTorch's `None`. A gradient whose dims differ from its input's is a programming error:
/// the backward pass panics naming the function, the input and both dims.
///
/// Two inputs, both traced:
///
/// ```
/// use stensor::prelude::*;
/// use stensor::autograd::Function;
/// /// `a * b + b`, with its own backward.
/// struct MulAdd;
/// impl Function<f64> for MulAdd {
///     type Inputs = (Tensor<(U3,), f64>, Tensor<(U3,), f64>);
///     type Output = (U3,);
///     fn forward(&self, (a, b): &Self::Inputs) -> Tensor<(U3,), f64> {
///         a.clone().mul(b).add(b)
///     }
///     fn backward(&self, (a, b): &Self::Inputs, _: &Tensor<(U3,), f64>, g: &Tensor<(U3,), f64>, _: &[bool])
///         -> (Option<Tensor<(U3,), f64>>, Option<Tensor<(U3,), f64>>) {
///         (Some(g.clone().mul(b)), Some(g.clone().mul(&a.clone().add_scalar(1.0))))
///     }
/// }
/// let a = Tensor::<(U3,), f64>::from_array([1.0, 2.0, 3.0]).trace();
/// let b = Tensor::<(U3,), f64>::from_array([4.0, 5.0, 6.0]).trace();
/// let y = MulAdd.apply((&a, &b));
/// assert_eq!(y.to_vec(), vec![8.0, 15.0, 24.0]);
/// let g = y.sum().backward();
/// assert_eq!(g.get(&a).unwrap().to_vec(), vec![4.0, 5.0, 6.0]);
/// assert_eq!(g.get(&b).unwrap().to_vec(), vec![2.0, 3.0, 4.0]);
/// ```
pub trait Function<E: Element>: Send + Sync + 'static {
    /// The inputs as plain tensors: a tuple of one to six `Tensor<S, E>`.
    type Inputs: FunctionInputs<E>;
    /// The output's shape.
    type Output: Shape;

    /// The output, from the inputs' values.
    fn forward(&self, inputs: &Self::Inputs) -> Tensor<Self::Output, E>;

    /// The gradient of each input, given the inputs, the output `forward` returned and the
    /// gradient of the loss with respect to the output. `needs_grad[i]` says whether input `i`
    /// requires one (PyTorch's `ctx.needs_input_grad`); return `None` for the others to save
    /// the work.
    fn backward(
        &self,
        inputs: &Self::Inputs,
        output: &Tensor<Self::Output, E>,
        grad_output: &Tensor<Self::Output, E>,
        needs_grad: &[bool],
    ) -> <Self::Inputs as FunctionInputs<E>>::Grads;

    /// Runs the operation on `inputs`, a tuple of references to tensors (`(&x, &w)`), recording
    /// it when any of them is traced and requires grad. The output is traced if any input is.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::autograd::Function;
    /// struct Double;
    /// impl Function<f32> for Double {
    ///     type Inputs = (Tensor<(U2,)>,);
    ///     type Output = (U2,);
    ///     fn forward(&self, (x,): &Self::Inputs) -> Tensor<(U2,)> { x.clone().mul_scalar(2.0) }
    ///     fn backward(&self, _: &Self::Inputs, _: &Tensor<(U2,)>, g: &Tensor<(U2,)>, _: &[bool])
    ///         -> (Option<Tensor<(U2,)>>,) { (Some(g.clone().mul_scalar(2.0)),) }
    /// }
    /// let x = Tensor::<(U2,)>::ones();
    /// let y = Double.apply((&x,)); // untraced in, untraced out
    /// assert_eq!(y.to_vec(), vec![2.0, 2.0]);
    /// ```
    fn apply<A>(self, inputs: A) -> Tensor<Self::Output, E, A::Tape>
    where
        Self: Sized,
        A: Operands<E, Plain = Self::Inputs>,
    {
        let plain = inputs.plain();
        let operands = inputs.operands();
        let out = self.forward(&plain);
        let shape = out.shape();
        let dims = plain.dims();
        let nodes: Vec<(GradTarget, Option<&Arc<Node<E>>>)> = operands
            .iter()
            .map(|o| (o.target, o.node.as_ref()))
            .collect();
        let targets: Vec<GradTarget> = operands.iter().map(|o| o.target).collect();
        op_result(shape, out.take_data(), &nodes, move |data| {
            let data = Arc::clone(data);
            Box::new(move |g, grads| {
                let needs: Vec<bool> = targets.iter().map(|t| t.requires_grad).collect();
                let output = Tensor::<Self::Output, E>::from_arc(shape, Arc::clone(&data));
                let grad = Tensor::<Self::Output, E>::from_arc(shape, Arc::new(g.to_vec()));
                let given =
                    Self::Inputs::grad_values(self.backward(&plain, &output, &grad, &needs));
                for (i, ((target, given), want)) in targets.iter().zip(given).zip(&dims).enumerate()
                {
                    let Some((got, values)) = given else { continue };
                    assert!(
                        got == *want,
                        "Function `{}`: backward gave input {i} a gradient of dims {:?}, but \
                         the input has dims {:?}",
                        std::any::type_name::<Self>(),
                        &got[..],
                        &want[..]
                    );
                    grads.add_owned(target, values);
                }
            })
        })
    }
}

/// The inputs of a [`Function`] as plain tensors: tuples of one to six `Tensor<S, E>`, each
/// with its gradient type `Option<Tensor<S, E>>`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::autograd::FunctionInputs;
/// let inputs = (Tensor::<(U2,), f64>::zeros(), Tensor::<(U3, U1), f64>::zeros());
/// assert_eq!(inputs.dims().len(), 2);
/// ```
pub trait FunctionInputs<E: Element>: Send + Sync + 'static {
    /// The gradients `backward` returns: one `Option<Tensor<S, E>>` per input.
    type Grads;
    /// Each input's dims.
    fn dims(&self) -> Vec<Dims>;
    /// The gradients' dims and values.
    #[doc(hidden)]
    fn grad_values(grads: Self::Grads) -> Vec<Option<(Dims, Vec<E>)>>;
}

/// An input of a recorded [`Function`] (internal).
#[doc(hidden)]
pub struct Operand<E> {
    target: GradTarget,
    node: Option<Arc<Node<E>>>,
}

/// What [`Function::apply`] takes: a tuple of one to six references to tensors of any tapes;
/// the output's tape is theirs merged (traced if any is).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::autograd::{FunctionInputs, Operands};
/// fn count<A: Operands<f32>>(a: A) -> usize { a.plain().dims().len() }
/// let (x, w) = (Tensor::<(U2,)>::ones().trace(), Tensor::<(U2,)>::ones());
/// assert_eq!(count((&x, &w)), 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`Function::apply` takes a tuple of one to six tensor references, `(&x, &w)`, not `{Self}`",
    label = "the inputs of `apply`"
)]
pub trait Operands<E: Element> {
    /// The output's tape: the inputs' tapes merged.
    type Tape: TapeMode<E>;
    /// The inputs' values as plain tensors.
    type Plain: FunctionInputs<E>;
    /// The inputs' values as plain tensors (sharing their buffers).
    fn plain(&self) -> Self::Plain;
    /// Where each input's gradient goes.
    #[doc(hidden)]
    fn operands(&self) -> Vec<Operand<E>>;
}

/// The tapes of a tuple of tensors merged, left to right (internal to [`Operands`]).
#[doc(hidden)]
pub trait MergedTapes<E> {
    /// Traced if any is.
    type Tape: TapeMode<E>;
}

impl<E, T0: TapeMode<E>> MergedTapes<E> for (T0,) {
    type Tape = T0;
}

impl<E, T0: MergeTape<E, T1>, T1> MergedTapes<E> for (T0, T1) {
    type Tape = <T0 as MergeTape<E, T1>>::Output;
}

/// Three to six tapes: the first two merged, then the rest.
macro_rules! merged_tapes {
    ($(($($T:ident),+))+) => {$(
        impl<E, T0: MergeTape<E, T1>, T1, $($T),+> MergedTapes<E> for (T0, T1, $($T),+)
        where
            (<T0 as MergeTape<E, T1>>::Output, $($T),+): MergedTapes<E>,
        {
            type Tape = <(<T0 as MergeTape<E, T1>>::Output, $($T),+) as MergedTapes<E>>::Tape;
        }
    )+};
}

merged_tapes! {
    (T2)
    (T2, T3)
    (T2, T3, T4)
    (T2, T3, T4, T5)
}

macro_rules! function_tuples {
    ($(($S0:ident $T0:ident 0 $(, $S:ident $T:ident $i:tt)*))+) => {$(
        impl<E: Element, $S0: Shape $(, $S: Shape)*> FunctionInputs<E> for (Tensor<$S0, E>, $(Tensor<$S, E>,)*) {
            type Grads = (Option<Tensor<$S0, E>>, $(Option<Tensor<$S, E>>,)*);
            fn dims(&self) -> Vec<Dims> {
                vec![self.0.dims() $(, self.$i.dims())*]
            }
            fn grad_values(grads: Self::Grads) -> Vec<Option<(Dims, Vec<E>)>> {
                vec![grads.0.map(|g| (g.dims(), g.to_vec())) $(, grads.$i.map(|g| (g.dims(), g.to_vec())))*]
            }
        }

        impl<'a, E: Element, $S0: Shape, $T0: TapeMode<E> $(, $S: Shape, $T: TapeMode<E>)*> Operands<E>
            for (&'a Tensor<$S0, E, $T0>, $(&'a Tensor<$S, E, $T>,)*)
        where
            ($T0, $($T,)*): MergedTapes<E>,
        {
            type Tape = <($T0, $($T,)*) as MergedTapes<E>>::Tape;
            type Plain = (Tensor<$S0, E>, $(Tensor<$S, E>,)*);
            fn plain(&self) -> Self::Plain {
                (self.0.detach(), $(self.$i.detach(),)*)
            }
            fn operands(&self) -> Vec<Operand<E>> {
                let one = |(target, node): (GradTarget, Option<&Arc<Node<E>>>)| Operand { target, node: node.cloned() };
                vec![one(self.0.as_input()) $(, one(self.$i.as_input()))*]
            }
        }
    )+};
}

function_tuples! {
    (S0 T0 0)
    (S0 T0 0, S1 T1 1)
    (S0 T0 0, S1 T1 1, S2 T2 2)
    (S0 T0 0, S1 T1 1, S2 T2 2, S3 T3 3)
    (S0 T0 0, S1 T1 1, S2 T2 2, S3 T3 3, S4 T4 4)
    (S0 T0 0, S1 T1 1, S2 T2 2, S3 T3 3, S4 T4 4, S5 T5 5)
}
