//! Reverse-mode automatic differentiation, with the tape in the type.
//!
//! A tensor's third type parameter says whether it records: [`NoTape`] (inference; records
//! nothing, costs nothing) or [`Tape`] (traced; every operation on it records its backward
//! rule). `x.trace()` starts a graph at `x`; any operation with a traced operand yields a traced
//! result; `loss.backward()` walks the graph once, in reverse, and returns [`Gradients`], looked
//! up by the tensor they belong to. `backward` on an untraced tensor does not compile.
//!
//! # Which tensors get a gradient
//! As in PyTorch, a tensor *requires grad* if it is a traced leaf (`trace()`), a parameter
//! (`set_requires_grad(true)`, as the layers create their weights), or the result of an
//! operation on such a tensor. Untraced tensors (a network's parameters, inference constants)
//! can meet traced ones; the gradient of each that requires grad is computed and stored under
//! its id, so `grads.get(&net.weight)` works with no bookkeeping in the network. A constant
//! that does not require grad costs no backward work. As in PyTorch, the pass returns the
//! gradients of leaves (traced inputs, parameters) and frees each intermediate result's
//! gradient once it has been used, unless [`Tensor::retain_grad`] asked to keep it.
//!
//! Operations on untraced tensors record nothing, even on a parameter: to build an expression
//! from a parameter *before* it meets a traced tensor (a weight penalty `w.square().sum()`),
//! call `.trace()` on it first. Its id stays, so `grads.get(&w)` still finds the gradient:
//!
//! ```
//! use stensor::prelude::*;
//! let w = Tensor::<(U2,), f64>::from_array([1.0, -2.0]);
//! let penalty = w.clone().trace().square().sum();
//! assert_eq!(penalty.backward().get(&w).unwrap().to_vec(), vec![2.0, -4.0]);
//! ```
//!
//! # Your own operations
//! A fused kernel or an operation autograd cannot see into gets a backward rule of your own
//! through [`Function`] (PyTorch's `autograd.Function`). Code generic over the tape bounds it by
//! [`AnyTape`].
//!
//! # Design note: a graph of nodes, not a tape that moves
//! Each traced tensor holds an `Arc` to the node that made it (its backward closure and the
//! nodes of its traced inputs). `backward` collects the reachable nodes and runs them in
//! decreasing creation order, which is a reverse topological order because a node is always
//! created after its inputs. Compared with a tape moved through the operations (dfdx), a traced
//! tensor can be cloned and used twice (residual connections) with no ceremony, and graphs
//! built from two separately traced inputs merge for free.

mod function;
pub use function::{Function, FunctionInputs, Operand, Operands};

use crate::shape::Shape;
use crate::tensor::{Element, Tensor};
use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The identity of a tensor's value: every new tensor gets one; clones share it. Gradients are
/// stored by it.
///
/// ```
/// use stensor::prelude::*;
/// let a = Tensor::<(U2,)>::zeros();
/// let b = a.clone();
/// let c = Tensor::<(U2,)>::zeros();
/// assert_eq!(a.id(), b.id());
/// assert_ne!(a.id(), c.id());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueId(u64);

impl UniqueId {
    pub(crate) fn new() -> Self {
        UniqueId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

/// A recorded backward rule: given the gradient of the output, accumulate the gradients of the
/// inputs into [`Gradients`].
pub(crate) type BackwardFn<E> = Box<dyn Fn(&[E], &mut Gradients<E>) + Send + Sync>;

/// One recorded operation (internal to autograd; named by [`TapeMode`]).
#[doc(hidden)]
pub struct Node<E> {
    seq: u64,
    out_id: UniqueId,
    parents: Vec<Arc<Node<E>>>,
    /// Taken by the first backward pass through this node, which so frees what the closure
    /// saved (as PyTorch frees a graph's saved tensors unless `retain_graph`): a weight
    /// captured for the input gradient is then held by its layer alone, and the optimizer
    /// updates it in place instead of copying it.
    backward: std::sync::Mutex<Option<BackwardFn<E>>>,
    /// For a view (same elements, another shape) the input, for a sum `a + b` the two inputs,
    /// whose gradient is this node's gradient: shared as the same buffer instead of running
    /// `backward`.
    passes_to: PassesTo,
    /// Set by [`Tensor::retain_grad`]: the pass keeps this node's output gradient in the
    /// [`Gradients`] it returns (otherwise freed once the node's inputs have theirs).
    retain_grad: std::sync::atomic::AtomicBool,
}

/// The inputs a node passes its gradient to unchanged (see [`Node`]).
type PassesTo = [Option<GradTarget>; 2];

impl<E> Drop for Node<E> {
    /// Tears a long chain down iteratively: the default recursive drop of `Arc` parents would
    /// overflow the stack on a graph of a few hundred thousand operations.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.parents);
        while let Some(n) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(n) {
                stack.append(&mut node.parents);
            }
        }
    }
}

impl<E> Debug for Node<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("seq", &self.seq)
            .field("out_id", &self.out_id)
            .field("parents", &self.parents.len())
            .finish()
    }
}

/// Whether a tensor records operations: [`NoTape`] or [`Tape`].
///
/// ```
/// use stensor::prelude::*;
/// fn is_traced<E: Element, T: TapeMode<E>>(_: &Tensor<(U1,), E, T>) -> bool { T::TRACED }
/// let x = Tensor::<(U1,)>::zeros();
/// assert!(!is_traced(&x));
/// assert!(is_traced(&x.trace()));
/// ```
pub trait TapeMode<E>: Clone + Debug + Send + Sync + 'static {
    /// `true` for [`Tape`].
    const TRACED: bool;
    /// The node that produced this tensor, if it was produced by a recorded operation.
    #[doc(hidden)]
    fn node(&self) -> Option<&Arc<Node<E>>>;
    /// A tape value pointing at `node`.
    #[doc(hidden)]
    fn from_node(node: Option<Arc<Node<E>>>) -> Self;
}

/// The tape of an inference tensor: records nothing.
///
/// ```
/// use stensor::prelude::*;
/// let x: Tensor<(U2,), f32, NoTape> = Tensor::ones();
/// let y = x.exp(); // records nothing
/// assert!(!y.requires_grad());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoTape;

/// The tape of a traced tensor: the node of the operation that made it.
///
/// ```
/// use stensor::prelude::*;
/// let x: Tensor<(U2,), f64, Tape<f64>> = Tensor::ones().trace();
/// let g = x.clone().exp().sum().backward();
/// assert_eq!(g.get(&x).unwrap().to_vec(), vec![std::f64::consts::E; 2]);
/// ```
#[derive(Clone)]
pub struct Tape<E> {
    node: Option<Arc<Node<E>>>,
}

impl<E> Debug for Tape<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(n) => write!(f, "Tape(op #{})", n.seq),
            None => f.write_str("Tape(leaf)"),
        }
    }
}

impl<E: Element> TapeMode<E> for NoTape {
    const TRACED: bool = false;
    fn node(&self) -> Option<&Arc<Node<E>>> {
        None
    }
    fn from_node(_: Option<Arc<Node<E>>>) -> Self {
        NoTape
    }
}

impl<E: Element> TapeMode<E> for Tape<E> {
    const TRACED: bool = true;
    fn node(&self) -> Option<&Arc<Node<E>>> {
        self.node.as_ref()
    }
    fn from_node(node: Option<Arc<Node<E>>>) -> Self {
        Tape { node }
    }
}

/// The tape of the result of an operation on a `Self`-taped and an `Rhs`-taped tensor: traced if
/// either is. In generic code over a tape `T`, bound `T` by [`AnyTape`] rather than by this
/// trait: `T: MergeTape<E, T, Output = T>` alone hides the rule for an untraced operand (a
/// parameter) from the compiler, and `x.matmul(&weight)` then fails to unify.
///
/// ```
/// use stensor::prelude::*;
/// let x = Tensor::<(U2,)>::ones().trace();
/// let c = Tensor::<(U2,)>::ones();
/// let y: Tensor<(U2,), f32, Tape<f32>> = c.add(&x); // untraced + traced is traced
/// assert!(y.requires_grad());
/// ```
pub trait MergeTape<E, Rhs>: TapeMode<E> {
    /// The result's tape.
    type Output: TapeMode<E>;
}
// A blanket impl for an untraced right operand: a tensor of tape `T` combined with a parameter
// or a constant gets `T` back (dfdx's rule). Generic code over a tape `T` that also combines two
// tensors of tape `T` needs `T: MergeTape<E, T, Output = T>`; written alone, that bound is the
// only candidate the compiler sees for every `T: MergeTape<E, _>` (where-clauses win over
// impls), so `x.matmul(&weight)` would fail to unify. [`AnyTape`] names both rules at once.
impl<E: Element, T: TapeMode<E>> MergeTape<E, NoTape> for T {
    type Output = T;
}
impl<E: Element> MergeTape<E, Tape<E>> for NoTape {
    type Output = Tape<E>;
}
impl<E: Element> MergeTape<E, Tape<E>> for Tape<E> {
    type Output = Tape<E>;
}

/// The one bound generic code over a tape needs: `T` combined with another `T` (an activation
/// plus a residual) or with an untraced tensor (a parameter, a constant) gives `T`. Both tapes
/// implement it. Write a layer's `forward` generic over `T: AnyTape<E>` and it runs traced
/// (training, gradient checks) and untraced (inference) alike.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::autograd::AnyTape;
/// /// `(x W1) * silu(x W2) + x`: tensors of tape `T` with each other and with parameters.
/// fn block<B: Dim, T: AnyTape<f64>>(
///     x: Tensor<(B, U4), f64, T>,
///     w1: &Tensor<(U4, U4), f64>,
///     w2: &Tensor<(U4, U4), f64>,
/// ) -> Tensor<(B, U4), f64, T> {
///     let gate = x.clone().matmul(w2).silu();
///     x.clone().matmul(w1).mul(&gate).add(&x)
/// }
/// let (w1, w2) = (Tensor::<(U4, U4), f64>::ones(), Tensor::<(U4, U4), f64>::ones());
/// let x = Tensor::<(U2, U4), f64>::ones();
/// let y = block(x.clone(), &w1, &w2); // untraced
/// let g = block(x.trace(), &w1, &w2).sum().backward(); // traced
/// assert_eq!(y.dims(), [2, 4]);
/// assert!(!g.is_empty());
/// ```
pub trait AnyTape<E>:
    TapeMode<E> + MergeTape<E, Self, Output = Self> + MergeTape<E, NoTape, Output = Self>
{
}
impl<E, T> AnyTape<E> for T where
    T: TapeMode<E> + MergeTape<E, T, Output = T> + MergeTape<E, NoTape, Output = T>
{
}

/// Marks the traced tape: `backward` exists only where it is implemented.
///
/// ```
/// use stensor::prelude::*;
/// fn loss_grads<T: TapeMode<f64> + stensor::autograd::IsTraced>(l: Tensor<(), f64, T>) -> usize {
///     l.backward().len()
/// }
/// assert_eq!(loss_grads(Tensor::<(U2,), f64>::ones().trace().sum()), 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`backward` needs a traced tensor, but this tensor records nothing (`{Self}`)",
    label = "no operation was recorded for this tensor",
    note = "start the graph with `.trace()` on an input or parameter, so the result has type `Tensor<_, _, Tape<_>>`"
)]
pub trait IsTraced {}
impl<E> IsTraced for Tape<E> {}

/// Marks the rank-0 shape: `backward()` starts from a scalar.
///
/// ```
/// use stensor::prelude::*;
/// fn needs_scalar<S: stensor::autograd::ScalarShape>() {}
/// needs_scalar::<()>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`backward()` starts from a scalar loss, but this tensor has shape `{Self}`",
    label = "not a rank-0 tensor",
    note = "reduce it first (`.sum()`, `.mean()`), or call `backward_with(&upstream_gradient)`"
)]
pub trait ScalarShape: Shape {}
impl ScalarShape for () {}

/// Where an input's gradient goes: its id, length, and whether it wants one at all.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GradTarget {
    pub(crate) id: UniqueId,
    pub(crate) len: usize,
    pub(crate) requires_grad: bool,
}

/// The gradients computed by a backward pass, by tensor.
///
/// ```
/// use stensor::prelude::*;
/// let w = Tensor::<(U3,), f64>::from_vec(vec![1.0, 2.0, 3.0]).unwrap().trace();
/// let loss = w.clone().square().sum();   // sum(w^2)
/// let grads = loss.backward();
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Clone, Default)]
pub struct Gradients<E> {
    /// Buffers are shared between a view and its input until one of them is added to
    /// (copy on write).
    map: HashMap<UniqueId, Arc<Vec<E>>>,
}

impl<E: Element> Gradients<E> {
    /// An empty set.
    ///
    /// ```
    /// let g = stensor::autograd::Gradients::<f32>::new();
    /// assert!(g.is_empty());
    /// ```
    pub fn new() -> Self {
        Gradients {
            map: HashMap::new(),
        }
    }

    /// The gradient of `t`, shaped like `t`, if one was computed (it requires grad and the
    /// loss depends on it).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// let unused = Tensor::<(U2,), f64>::ones().trace();
    /// let g = x.clone().mul_scalar(3.0).sum().backward();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![3.0, 3.0]);
    /// assert!(g.get(&unused).is_none());
    /// ```
    pub fn get<S: Shape, T: TapeMode<E>>(&self, t: &Tensor<S, E, T>) -> Option<Tensor<S, E>> {
        let g = self.map.get(&t.id())?;
        Some(Tensor::from_parts(t.shape(), g.to_vec()))
    }

    /// The gradient of `t` as a slice, if one was computed.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// let g = x.clone().sum().backward();
    /// assert_eq!(g.slice(&x), Some(&[1.0, 1.0][..]));
    /// ```
    pub fn slice<S: Shape, T: TapeMode<E>>(&self, t: &Tensor<S, E, T>) -> Option<&[E]> {
        self.map.get(&t.id()).map(|v| v.as_slice())
    }

    /// The gradient stored under `id`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// let g = x.clone().sum().backward();
    /// assert_eq!(g.by_id(x.id()), Some(&[1.0, 1.0][..]));
    /// ```
    pub fn by_id(&self, id: UniqueId) -> Option<&[E]> {
        self.map.get(&id).map(|v| v.as_slice())
    }

    /// The gradient stored under `id`, mutably (for clipping or scaling in place).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// let mut g = x.clone().sum().backward();
    /// g.by_id_mut(x.id()).unwrap()[0] = 5.0;
    /// assert_eq!(g.slice(&x), Some(&[5.0, 1.0][..]));
    /// ```
    pub fn by_id_mut(&mut self, id: UniqueId) -> Option<&mut [E]> {
        self.map
            .get_mut(&id)
            .map(|v| Arc::<Vec<E>>::make_mut(v).as_mut_slice())
    }

    /// Sets the gradient of `t` to `grad` (replacing any): to feed an optimizer known
    /// gradients, or a gradient computed elsewhere, without a loss to differentiate.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::autograd::Gradients;
    /// use stensor::optim::{Optimizer, SGD};
    /// let mut w = Tensor::<(U2,)>::from_array([1.0, 1.0]);
    /// w.set_requires_grad(true);
    /// let mut g = Gradients::new();
    /// g.insert(&w, Tensor::from_array([0.5, -0.5]));
    /// SGD::new(1.0).step_params(&mut [&mut w], &g);
    /// assert_eq!(w.to_vec(), vec![0.5, 1.5]);
    /// ```
    pub fn insert<S: Shape, T: TapeMode<E>>(&mut self, t: &Tensor<S, E, T>, grad: Tensor<S, E>) {
        self.map.insert(t.id(), Arc::new(grad.to_vec()));
    }

    /// The gradients of `net`'s parameters by their names (PyTorch's `(name, p.grad)` over
    /// `named_parameters()`), in the network's order; parameters without a gradient are left
    /// out.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Forward, Linear};
    /// let net = Linear::<U2, U1, f64>::new(&mut Rng::seed(0));
    /// let grads = net.forward(Tensor::<(U3, U2), f64>::ones().trace()).sum().backward();
    /// let named = grads.named(&net);
    /// assert_eq!(named[0], ("weight".to_string(), &[3.0, 3.0][..]));
    /// assert_eq!(named[1], ("bias".to_string(), &[3.0][..]));
    /// ```
    pub fn named<M: crate::nn::Module>(&self, net: &M) -> Vec<(String, &[E])> {
        let mut out = vec![];
        net.visit("", &mut |name, t| {
            if t.kind == crate::nn::TensorKind::Parameter {
                if let Some(g) = t.id.and_then(|id| self.by_id(id)) {
                    out.push((name.to_string(), g));
                }
            }
        });
        out
    }

    /// How many tensors have a gradient here.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::ones().trace();
    /// assert_eq!(x.clone().sum().backward().len(), 1); // x's (the loss's own is not kept)
    /// assert_eq!(x.sum().retain_grad().backward().len(), 2); // and the loss's
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no gradient is stored.
    ///
    /// ```
    /// assert!(stensor::autograd::Gradients::<f64>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds a contribution to `target`'s gradient: `add` into the buffer if there is one, else
    /// the buffer `init` makes becomes it (no zero fill followed by an add of the whole
    /// buffer). Nothing when `target` does not require grad.
    pub(crate) fn accum_or_init(
        &mut self,
        target: &GradTarget,
        init: impl FnOnce() -> Vec<E>,
        add: impl FnOnce(&mut [E]),
    ) {
        if !target.requires_grad {
            return;
        }
        match self.map.entry(target.id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                add(Arc::<Vec<E>>::make_mut(e.get_mut()))
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let buf = init();
                debug_assert_eq!(buf.len(), target.len);
                e.insert(Arc::new(buf));
            }
        }
    }

    /// Adds `v` to `target`'s gradient: `v` becomes it when there is none yet (a kernel that
    /// returns a fresh buffer), else it is added. Nothing when `target` does not require grad.
    pub(crate) fn add_owned(&mut self, target: &GradTarget, v: Vec<E>) {
        if !target.requires_grad {
            return;
        }
        debug_assert_eq!(v.len(), target.len);
        match self.map.entry(target.id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let held = e.get_mut();
                if let Some(g) = Arc::get_mut(held) {
                    crate::kernels::add_assign(g, &v)
                } else {
                    // Shared (a view's or a sum's gradient passed on whole): `v` takes the sum
                    // and becomes the gradient, where `make_mut` would first copy the shared one
                    let mut v = v;
                    crate::kernels::add_assign(&mut v, held);
                    *held = Arc::new(v);
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Arc::new(v));
            }
        }
    }

    /// A view's or a sum's gradient `g` passed to an input: the same buffer when the input
    /// has none yet, else added to it.
    fn share(&mut self, target: &GradTarget, g: &Arc<Vec<E>>) {
        if !target.requires_grad {
            return;
        }
        match self.map.entry(target.id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                crate::kernels::add_assign(Arc::<Vec<E>>::make_mut(e.get_mut()), g)
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Arc::clone(g));
            }
        }
    }

    /// The accumulation buffer of `target` (zeros on first use), or `None` if it does not
    /// require grad.
    pub(crate) fn accum(&mut self, target: &GradTarget) -> Option<&mut [E]> {
        if !target.requires_grad {
            return None;
        }
        Some(Arc::<Vec<E>>::make_mut(
            self.map.entry(target.id).or_insert_with(|| {
                // Zeros written, not `vec!`'s lazily mapped zero pages: kernels add into
                // this buffer, and reading an unmapped page before writing it faults twice
                // (the second fault, with several threads, interrupts every core).
                Arc::new(crate::kernels::zeros(target.len))
            }),
        ))
    }
}

impl<E> Debug for Gradients<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.map.iter().map(|(k, v)| (k.0, v.len())).collect();
        ids.sort_unstable();
        f.debug_struct("Gradients")
            .field("ids_and_lens", &ids)
            .finish()
    }
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    pub(crate) fn grad_target(&self) -> GradTarget {
        GradTarget {
            id: self.id(),
            len: self.numel(),
            requires_grad: self.requires_grad(),
        }
    }

    /// This tensor as an input of a recorded operation.
    pub(crate) fn as_input(&self) -> (GradTarget, Option<&Arc<Node<E>>>) {
        (self.grad_target(), self.tape.node())
    }
}

/// Builds the result of an operation: the output value and, if the result is traced and an
/// input requires grad, a node whose backward rule `make_backward` builds from the output's
/// buffer (only then, so an inference call never allocates a closure).
pub(crate) fn op_result<S, E, T, F>(
    shape: S,
    data: Vec<E>,
    inputs: &[(GradTarget, Option<&Arc<Node<E>>>)],
    make_backward: F,
) -> Tensor<S, E, T>
where
    S: Shape,
    E: Element,
    T: TapeMode<E>,
    F: FnOnce(&Arc<Vec<E>>) -> BackwardFn<E>,
{
    let out = Tensor::<S, E, T>::from_arc(shape, Arc::new(data));
    if !(T::TRACED && inputs.iter().any(|(g, _)| g.requires_grad)) {
        return out.retape(T::from_node(None));
    }
    let parents = inputs.iter().filter_map(|(_, n)| n.cloned()).collect();
    let backward = make_backward(&out.data_arc());
    record(out, parents, backward, [None; 2])
}

/// `out` with a new node on the tape: its parents, its backward rule, and the inputs it passes
/// its gradient to unchanged (a view's, a sum's).
fn record<S, E, T>(
    mut out: Tensor<S, E, T>,
    parents: Vec<Arc<Node<E>>>,
    backward: BackwardFn<E>,
    passes_to: PassesTo,
) -> Tensor<S, E, T>
where
    S: Shape,
    E: Element,
    T: TapeMode<E>,
{
    let node = Node {
        seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
        out_id: out.id(),
        parents,
        backward: std::sync::Mutex::new(Some(backward)),
        passes_to,
        retain_grad: std::sync::atomic::AtomicBool::new(false),
    };
    out.requires_grad = true;
    out.retape(T::from_node(Some(Arc::new(node))))
}

/// [`op_result`] for an operation of one input `x` whose backward adds into `x`'s gradient:
/// `backward(g, gx)` gets the output's gradient and the input's gradient buffer.
pub(crate) fn unary_result<S, S0, E, T, B>(
    shape: S,
    data: Vec<E>,
    x: &Tensor<S0, E, T>,
    backward: B,
) -> Tensor<S, E, T>
where
    S: Shape,
    S0: Shape,
    E: Element,
    T: TapeMode<E>,
    B: Fn(&[E], &mut [E]) + Send + Sync + 'static,
{
    let (target, node) = x.as_input();
    op_result(shape, data, &[(target, node)], |_| {
        Box::new(move |g, grads| {
            if let Some(gx) = grads.accum(&target) {
                backward(g, gx);
            }
        })
    })
}

/// A view of `x` (the same elements under another shape): its gradient is `x`'s, passed on as
/// the same buffer (no copy) in the backward pass.
pub(crate) fn view_result<S, S0, E, T>(shape: S, x: &Tensor<S0, E, T>) -> Tensor<S, E, T>
where
    S: Shape,
    S0: Shape,
    E: Element,
    T: TapeMode<E>,
{
    let (target, node) = x.as_input();
    let out = Tensor::<S, E, T>::from_arc(shape, x.data_arc());
    pass_through(out, [(target, node.cloned())])
}

/// `a + b` already computed into `data` (`inputs` are `a`'s and `b`'s): the output's gradient
/// is each input's, passed on as the same buffer. Nothing is saved for the backward pass, and
/// an input that has no gradient yet takes the buffer itself (a residual block's sum used to
/// write two fresh copies of it, each a pass over three buffers).
pub(crate) fn sum_result<S, E, T>(
    shape: S,
    data: Vec<E>,
    inputs: [(GradTarget, Option<Arc<Node<E>>>); 2],
) -> Tensor<S, E, T>
where
    S: Shape,
    E: Element,
    T: TapeMode<E>,
{
    pass_through(Tensor::<S, E, T>::from_arc(shape, Arc::new(data)), inputs)
}

/// `out`, whose gradient is the gradient of each input that requires grad, passed on as the
/// same buffer (a view's, a sum's): a node with no backward rule, or no node when untraced or
/// when no input requires grad.
fn pass_through<S, E, T, const N: usize>(
    out: Tensor<S, E, T>,
    inputs: [(GradTarget, Option<Arc<Node<E>>>); N],
) -> Tensor<S, E, T>
where
    S: Shape,
    E: Element,
    T: TapeMode<E>,
{
    let mut passes_to: PassesTo = [None; 2];
    const { assert!(N <= 2, "a node passes its gradient to at most two inputs") };
    for (to, (t, _)) in passes_to.iter_mut().zip(&inputs) {
        *to = Some(*t).filter(|t| t.requires_grad);
    }
    if !(T::TRACED && passes_to.iter().any(Option::is_some)) {
        return out.retape(T::from_node(None));
    }
    let parents = inputs.into_iter().filter_map(|(_, n)| n).collect();
    record(out, parents, Box::new(|_, _| {}), passes_to)
}

/// Runs the backward pass from `root` with upstream gradient `seed`.
fn run_backward<E: Element>(
    root_id: UniqueId,
    root: Option<&Arc<Node<E>>>,
    seed: Vec<E>,
    retain: bool,
) -> Gradients<E> {
    let mut grads = Gradients::new();
    grads.map.insert(root_id, Arc::new(seed));
    let Some(root) = root else {
        return grads;
    };
    // the pass runs on the pool, so its ops' splits are hand-overs between pool threads
    crate::kernels::on_pool_thread(|| backward_nodes(root, grads, retain))
}

/// The backward rules of every node reachable from `root`, in reverse order of creation.
fn backward_nodes<E: Element>(
    root: &Arc<Node<E>>,
    mut grads: Gradients<E>,
    retain: bool,
) -> Gradients<E> {
    // Collect every reachable node once (iteratively: deep graphs must not overflow the stack).
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.clone()];
    let mut nodes = Vec::new();
    while let Some(n) = stack.pop() {
        if seen.insert(n.seq) {
            stack.extend(n.parents.iter().cloned());
            nodes.push(n);
        }
    }
    // A node is created after its inputs, so decreasing creation order is reverse topological.
    nodes.sort_unstable_by_key(|n| std::cmp::Reverse(n.seq));
    let mut spent = Vec::new();
    for n in nodes {
        let mut slot = n.backward.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = grads.map.remove(&n.out_id) {
            let passes = n.passes_to.iter().flatten();
            match (passes.clone().next(), slot.as_ref()) {
                (Some(_), _) => passes.for_each(|target| grads.share(target, &g)),
                (None, Some(backward)) => backward(&g, &mut grads),
                (None, None) => panic!(
                    "backward: a second backward pass through the same graph; the first freed \
                     the values its operations saved (as PyTorch does unless retain_graph=True): \
                     call backward_retaining_graph on every pass but the last"
                ),
            }
            // an intermediate's gradient is freed here, once its inputs have theirs (as in
            // PyTorch, where only leaves keep `.grad` unless `retain_grad()`): kept to the
            // end, every gradient of the pass stayed allocated (as much memory as the
            // activations), each new one landed on fresh pages, and a gradient shared with
            // a view's or a sum's input was copied when that input's was added to
            if n.retain_grad.load(Ordering::Relaxed) {
                grads.map.insert(n.out_id, g);
            }
        }
        if !retain {
            spent.extend(slot.take());
        }
    }
    // The saved values are freed together once the pass is done: freed one by one during it,
    // the allocator returned their pages to the system and the gradients allocated next
    // faulted them in again (a tenth of a LeNet training step).
    drop(spent);
    grads
}

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// Backpropagates from this scalar: the gradient of every leaf that requires grad (traced
    /// input, parameter) and that this value depends on, and of the intermediate results
    /// marked with [`retain_grad`](Self::retain_grad).
    ///
    /// As PyTorch's `loss.backward()`, the pass frees the graph's saved values (inputs and
    /// weights its operations kept for their gradients), so an optimizer step after it
    /// updates the weights in place however long `loss` lives. A second pass through the
    /// same graph panics; use [`backward_retaining_graph`](Self::backward_retaining_graph)
    /// for every pass but the last.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2, U2), f64>::from_array([[1.0, 2.0], [3.0, 4.0]]).trace();
    /// let loss = x.clone().square().mean(); // mean(x^2)
    /// let g = loss.backward();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.5, 1.0, 1.5, 2.0]);
    /// ```
    pub fn backward(&self) -> Gradients<E>
    where
        T: IsTraced,
        S: ScalarShape,
    {
        run_backward(self.id(), self.tape.node(), vec![E::one()], false)
    }

    /// Keeps this intermediate result's gradient in the [`Gradients`] of a backward pass
    /// through it (PyTorch's `retain_grad()`). Without it, as in PyTorch, a pass returns the
    /// gradients of leaves only (traced inputs and parameters) and frees each intermediate's
    /// gradient as soon as the operations that made it have used it. On a leaf it changes
    /// nothing: a leaf's gradient is always kept.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]).trace();
    /// let h = x.clone().square();
    /// let kept = x.clone().mul_scalar(3.0).retain_grad();
    /// let g = (h.clone().sum() + kept.clone().sum()).backward();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![5.0, 7.0]);
    /// assert_eq!(g.get(&kept).unwrap().to_vec(), vec![1.0, 1.0]);
    /// assert!(g.get(&h).is_none()); // an intermediate, freed during the pass
    /// ```
    pub fn retain_grad(self) -> Self
    where
        T: IsTraced,
    {
        if let Some(node) = self.tape.node() {
            node.retain_grad.store(true, Ordering::Relaxed);
        }
        self
    }

    /// [`backward`](Self::backward) that keeps the graph for another pass (PyTorch's
    /// `loss.backward(retain_graph=True)`), e.g. for two losses sharing one forward pass.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]).trace();
    /// let h = x.clone().square();
    /// let a = h.clone().sum().backward_retaining_graph();
    /// let b = h.mean().backward();
    /// assert_eq!(a.get(&x).unwrap().to_vec(), vec![2.0, 4.0]);
    /// assert_eq!(b.get(&x).unwrap().to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn backward_retaining_graph(&self) -> Gradients<E>
    where
        T: IsTraced,
        S: ScalarShape,
    {
        run_backward(self.id(), self.tape.node(), vec![E::one()], true)
    }

    /// Backpropagates from this tensor with the upstream gradient `grad` (PyTorch's
    /// `y.backward(grad)`), for a non-scalar output.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U3,), f64>::from_vec(vec![1.0, 2.0, 3.0]).unwrap().trace();
    /// let y = x.clone().mul_scalar(2.0);
    /// let g = y.backward_with(&Tensor::from_vec(vec![1.0, 0.0, -1.0]).unwrap());
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![2.0, 0.0, -2.0]);
    /// ```
    ///
    /// Like [`backward`](Self::backward), it frees the graph's saved values.
    ///
    /// # Panics
    /// If a runtime dimension of `grad` differs from this tensor's.
    pub fn backward_with(&self, grad: &Tensor<S, E>) -> Gradients<E>
    where
        T: IsTraced,
    {
        self.backward_seeded("backward_with", grad, false)
    }

    /// [`backward_with`](Self::backward_with) that keeps the graph for another pass
    /// (PyTorch's `y.backward(grad, retain_graph=True)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let x = Tensor::<(U2,), f64>::from_array([1.0, 2.0]).trace();
    /// let y = x.clone().mul_scalar(3.0);
    /// let a = y.backward_with_retaining_graph(&Tensor::ones());
    /// let b = y.backward_with(&Tensor::full(2.0));
    /// assert_eq!(a.get(&x).unwrap().to_vec(), vec![3.0, 3.0]);
    /// assert_eq!(b.get(&x).unwrap().to_vec(), vec![6.0, 6.0]);
    /// ```
    ///
    /// # Panics
    /// If a runtime dimension of `grad` differs from this tensor's.
    pub fn backward_with_retaining_graph(&self, grad: &Tensor<S, E>) -> Gradients<E>
    where
        T: IsTraced,
    {
        self.backward_seeded("backward_with_retaining_graph", grad, true)
    }

    /// The backward pass from this tensor with upstream gradient `grad`, for `op`.
    fn backward_seeded(&self, op: &str, grad: &Tensor<S, E>, retain: bool) -> Gradients<E> {
        assert_eq!(
            grad.shape().dims(),
            self.shape().dims(),
            "{op}: gradient dims differ from the tensor's"
        );
        run_backward(self.id(), self.tape.node(), grad.to_vec(), retain)
    }
}
