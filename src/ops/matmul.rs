//! Matrix products: `(M, K) x (K, N)`, batched `(B, M, K) x (B, K, N)` and
//! `(A, B, M, K) x (A, B, K, N)`, and a batch of matrices times one matrix `(.., M, K) x (K, N)`
//! (a linear layer over a batch).

use crate::autograd::{op_result, MergeTape, TapeMode};
use crate::kernels::{gemm_batched, Trans};
use crate::shape::rules::{MatmulBatch, MatmulInner};
use crate::shape::{Dim, Shape};
use crate::tensor::{Element, Tensor};

/// A matrix product of `Self` and `Rhs`; see [`Tensor::matmul`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::ops::MatMul;
/// fn product<A: MatMul<B>, B>(a: A, b: &B) -> A::Output { a.matmul_impl(b) }
/// let c = product(Tensor::<(U1, U2)>::ones(), &Tensor::<(U2, U1)>::ones());
/// assert_eq!(c.to_vec(), vec![2.0]);
/// ```
pub trait MatMul<Rhs> {
    /// The product's type.
    type Output;
    /// The product.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::ops::MatMul;
    /// let c = Tensor::<(U2, U2)>::ones().matmul_impl(&Tensor::<(U2, U1)>::ones());
    /// assert_eq!(c.to_vec(), vec![2.0, 2.0]);
    /// ```
    fn matmul_impl(self, rhs: &Rhs) -> Self::Output;
}

/// `C = A B` for `batch` independent products of `A` (`m x k`) and `B` (`k x n`; shared by
/// every batch entry when `shared_b`), with the backward rule.
fn batched_product<S3, E, T, S1, S2, T1, T2>(
    a: Tensor<S1, E, T1>,
    b: &Tensor<S2, E, T2>,
    out: S3,
    (batch, m, k, n): (usize, usize, usize, usize),
    shared_b: bool,
) -> Tensor<S3, E, T>
where
    S1: Shape,
    S2: Shape,
    S3: Shape,
    E: Element,
    T: TapeMode<E>,
    T1: TapeMode<E>,
    T2: TapeMode<E>,
{
    let (ta, na) = a.as_input();
    let (tb, nb) = b.as_input();
    let av = a.data_arc();
    let bv = b.data_arc();
    let mut c = vec![E::zero(); batch * m * n];
    // A shared right operand folds the batch into the rows: one product instead of `batch`.
    let (groups, rows) = if shared_b { (1, batch * m) } else { (batch, m) };
    gemm_batched(
        groups,
        rows,
        k,
        n,
        &av,
        Trans::No,
        &bv,
        Trans::No,
        &mut c,
        false,
    );
    op_result(out, c, &[(ta, na), (tb, nb)], |_| {
        Box::new(move |g, grads| {
            // dA = dC B^T, dB = A^T dC, per group.
            if let Some(ga) = grads.accum(&ta) {
                gemm_batched(groups, rows, n, k, g, Trans::No, &bv, Trans::Yes, ga, true);
            }
            if let Some(gb) = grads.accum(&tb) {
                gemm_batched(groups, k, rows, n, &av, Trans::Yes, g, Trans::No, gb, true);
            }
        })
    })
}

/// The product of `a` and `b` into `out`, the operands' dims checked at run time: `b` shared
/// by every matrix of `a` when `shared` (its rows folded into one product), else one matrix
/// of `b` per matrix of `a` (the batch dims equal).
fn product<S1, S2, S3, E, T1, T2>(
    a: Tensor<S1, E, T1>,
    b: &Tensor<S2, E, T2>,
    out: S3,
    shared: bool,
) -> Tensor<S3, E, T1::Output>
where
    S1: Shape,
    S2: Shape,
    S3: Shape,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    let (da, db) = (a.dims(), b.dims());
    let r = da.len();
    check_operands(&da, &db, if shared { 0 } else { r - 2 });
    let (m, k, n) = (da[r - 2], da[r - 1], db[db.len() - 1]);
    let batch: usize = da[..r - 2].iter().product();
    let dims = if shared {
        (1, batch * m, k, n)
    } else {
        (batch, m, k, n)
    };
    batched_product(a, b, out, dims, shared)
}

/// Panics unless the runtime sizes of a product's operands agree: the inner dimension and the
/// batch dimensions (`a`'s and `b`'s dims, the leading `batch_rank` of them batch).
fn check_operands(a: &[usize], b: &[usize], batch_rank: usize) {
    let (ka, kb) = (a[a.len() - 1], b[b.len() - 2]);
    assert!(
        ka == kb && a[..batch_rank] == b[..batch_rank],
        "matmul: runtime {} differ: {a:?} x {b:?}",
        if ka == kb {
            "batch dimensions"
        } else {
            "inner dimensions"
        }
    );
}

/// The `MatMul` impls: `batched [A A2, ..]` for one matrix of `B` per matrix of `A` (the
/// batch dims `A..` of the left operand, `A2..` of the right, held equal by a rule),
/// `shared [A, ..]` for one right matrix shared by every left matrix.
macro_rules! matmul {
    ($mode:ident [$($A:ident $($A2:ident)?),*]) => {
        impl<$($A, $($A2,)?)* M, K, K2, N, E, T1, T2>
            MatMul<Tensor<($($($A2,)?)* K2, N), E, T2>> for Tensor<($($A,)* M, K), E, T1>
        where
            $($A: Dim, $($A2: Dim + MatmulBatch<$A>,)?)*
            M: Dim,
            K: Dim,
            K2: Dim + MatmulInner<K>,
            N: Dim,
            E: Element,
            T1: MergeTape<E, T2>,
            T2: TapeMode<E>,
        {
            type Output = Tensor<($($A,)* M, N), E, T1::Output>;
            #[allow(non_snake_case)]
            fn matmul_impl(self, rhs: &Tensor<($($($A2,)?)* K2, N), E, T2>) -> Self::Output {
                let ($($A,)* m, _) = self.shape();
                // the right operand's batch dims are the left's (a rule), so only `n` is read
                let ($($($A2,)?)* _, n) = rhs.shape();
                let _ = ($($($A2,)?)*);
                product(self, rhs, ($($A,)* m, n), matmul!(@shared $mode))
            }
        }
    };
    (@shared batched) => { false };
    (@shared shared) => { true };
}

matmul!(batched []);
matmul!(batched [B B2]);
matmul!(batched [A A2, B B2]);
matmul!(shared[B]);
matmul!(shared [A, B]);

impl<S: Shape, E: Element, T: TapeMode<E>> Tensor<S, E, T> {
    /// The matrix product: `(M, K) x (K, N) -> (M, N)`, batched
    /// `(B, M, K) x (B, K, N) -> (B, M, N)` and `(A, B, M, K) x (A, B, K, N) -> (A, B, M, N)`
    /// (attention's `(batch, heads, L, d)`), or a batch of matrices times one matrix
    /// `(.., M, K) x (K, N) -> (.., M, N)`. Static inner or batch dimensions that differ do
    /// not compile.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let a = Tensor::<(U2, U3)>::from_array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// let b = Tensor::<(U3, U1)>::from_array([[1.0], [0.0], [-1.0]]);
    /// let c: Tensor<(U2, U1)> = a.matmul(&b);
    /// assert_eq!(c.to_vec(), vec![-2.0, -2.0]);
    ///
    /// // a runtime batch of matrices times one matrix
    /// let x = Tensor::<(usize, U2, U3)>::ones_shaped((4, U2::new(), U3::new()));
    /// let y = x.matmul(&b);
    /// assert_eq!(y.dims(), [4, 2, 1]);
    ///
    /// // attention scores: batch and sequence length at run time, 2 heads of size 4
    /// let q = Tensor::<(usize, U2, usize, U4)>::ones_shaped((3, U2::new(), 5, U4::new()));
    /// let k = Tensor::<(usize, U2, U4, usize)>::ones_shaped((3, U2::new(), U4::new(), 5));
    /// assert_eq!(q.matmul(&k).dims(), [3, 2, 5, 5]);
    /// ```
    ///
    /// # Panics
    /// If runtime (`usize`) inner or batch dimensions differ; the message names both shapes.
    pub fn matmul<R>(self, rhs: &R) -> <Self as MatMul<R>>::Output
    where
        Self: MatMul<R>,
    {
        self.matmul_impl(rhs)
    }
}
