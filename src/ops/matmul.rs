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

impl<M, K, K2, N, E, T1, T2> MatMul<Tensor<(K2, N), E, T2>> for Tensor<(M, K), E, T1>
where
    M: Dim,
    K: Dim,
    K2: Dim + MatmulInner<K>,
    N: Dim,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<(M, N), E, T1::Output>;
    fn matmul_impl(self, rhs: &Tensor<(K2, N), E, T2>) -> Self::Output {
        let (m, k) = self.shape();
        let (_, n) = rhs.shape();
        check_operands(&self.dims(), &rhs.dims(), 0);
        let dims = (1, m.size(), k.size(), n.size());
        batched_product(self, rhs, (m, n), dims, true)
    }
}

impl<B, B2, M, K, K2, N, E, T1, T2> MatMul<Tensor<(B2, K2, N), E, T2>> for Tensor<(B, M, K), E, T1>
where
    B: Dim,
    B2: Dim + MatmulBatch<B>,
    M: Dim,
    K: Dim,
    K2: Dim + MatmulInner<K>,
    N: Dim,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<(B, M, N), E, T1::Output>;
    fn matmul_impl(self, rhs: &Tensor<(B2, K2, N), E, T2>) -> Self::Output {
        let (b, m, k) = self.shape();
        let (_, _, n) = rhs.shape();
        check_operands(&self.dims(), &rhs.dims(), 1);
        let dims = (b.size(), m.size(), k.size(), n.size());
        batched_product(self, rhs, (b, m, n), dims, false)
    }
}

impl<B, M, K, K2, N, E, T1, T2> MatMul<Tensor<(K2, N), E, T2>> for Tensor<(B, M, K), E, T1>
where
    B: Dim,
    M: Dim,
    K: Dim,
    K2: Dim + MatmulInner<K>,
    N: Dim,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<(B, M, N), E, T1::Output>;
    fn matmul_impl(self, rhs: &Tensor<(K2, N), E, T2>) -> Self::Output {
        let (b, m, k) = self.shape();
        let (_, n) = rhs.shape();
        check_operands(&self.dims(), &rhs.dims(), 0);
        let dims = (1, b.size() * m.size(), k.size(), n.size());
        batched_product(self, rhs, (b, m, n), dims, true)
    }
}

impl<A, B, A2, B2, M, K, K2, N, E, T1, T2> MatMul<Tensor<(A2, B2, K2, N), E, T2>>
    for Tensor<(A, B, M, K), E, T1>
where
    A: Dim,
    B: Dim,
    A2: Dim + MatmulBatch<A>,
    B2: Dim + MatmulBatch<B>,
    M: Dim,
    K: Dim,
    K2: Dim + MatmulInner<K>,
    N: Dim,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<(A, B, M, N), E, T1::Output>;
    fn matmul_impl(self, rhs: &Tensor<(A2, B2, K2, N), E, T2>) -> Self::Output {
        let (a, b, m, k) = self.shape();
        let (_, _, _, n) = rhs.shape();
        check_operands(&self.dims(), &rhs.dims(), 2);
        let dims = (a.size() * b.size(), m.size(), k.size(), n.size());
        batched_product(self, rhs, (a, b, m, n), dims, false)
    }
}

impl<A, B, M, K, K2, N, E, T1, T2> MatMul<Tensor<(K2, N), E, T2>> for Tensor<(A, B, M, K), E, T1>
where
    A: Dim,
    B: Dim,
    M: Dim,
    K: Dim,
    K2: Dim + MatmulInner<K>,
    N: Dim,
    E: Element,
    T1: MergeTape<E, T2>,
    T2: TapeMode<E>,
{
    type Output = Tensor<(A, B, M, N), E, T1::Output>;
    fn matmul_impl(self, rhs: &Tensor<(K2, N), E, T2>) -> Self::Output {
        let (a, b, m, k) = self.shape();
        let (_, n) = rhs.shape();
        check_operands(&self.dims(), &rhs.dims(), 0);
        let dims = (1, a.size() * b.size() * m.size(), k.size(), n.size());
        batched_product(self, rhs, (a, b, m, n), dims, true)
    }
}

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
