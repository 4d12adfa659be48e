//! Untyped compute on slices and `usize` dimensions: the loops every operation runs.
//!
//! No autograd and no type-level shapes here: an op in [`crate::ops`] checks shapes in the
//! type system, then hands slices and sizes to a kernel. All `unsafe` of the crate lives in this
//! module, each block with its `// SAFETY:` argument: the `core::arch` intrinsics of each instruction-set
//! level (`simd`); loads whose bounds are checked once for a whole loop (`Simd::load_at`
//! and `get_unchecked` in the hot loops of the direct convolution
//! and the matrix-vector product, where a check per load cost a third of the speed); the
//! `set_len` of a convolution output written in full by the direct kernel (no zero fill
//! first); and `madvise` for huge pages under large fresh buffers (Linux). Everything else is
//! written so the compiler vectorises it without.
//!
//! Each kernel is tested against a plain reference implementation on odd sizes.

mod conv;
mod direct;
mod elementwise;
mod gemm;
mod gemm_f32;
mod layout;
mod norm;
mod optim;
mod pad;
mod pool;
mod reduce;
pub(crate) mod simd;
mod softmax;

pub use conv::*;
pub use elementwise::*;
pub use gemm::*;
pub(crate) use gemm_f32::gemm_f32;
pub use layout::*;
pub use norm::*;
pub use optim::*;
pub use pad::*;
pub use pool::*;
pub use reduce::*;
pub use softmax::*;

/// Buffers at least this long are zero-filled on the pool by [`zeros`].
const PARALLEL_ZEROS: usize = 1 << 20;

/// A new buffer of `len` zeros, filled on the pool when long: a fresh output's or gradient's
/// zero fill (and the page faults of its first touch) would otherwise run on the calling
/// thread alone while the pool waits for the kernel after it. Zeros are written, not mapped
/// lazily, since kernels then read-modify-write these buffers (see [`crate::autograd`]'s
/// gradients).
pub(crate) fn zeros<E: crate::tensor::Element>(len: usize) -> Vec<E> {
    use rayon::iter::ParallelExtend;
    let mut v = new_buffer(len);
    if len >= PARALLEL_ZEROS && rayon::current_num_threads() > 1 {
        v.par_extend(rayon::iter::repeat_n(E::zero(), len));
    } else {
        v.resize(len, E::zero());
    }
    v
}

/// An empty vector with room for `len` values, its large pages advised to huge pages.
pub(crate) fn new_buffer<E>(len: usize) -> Vec<E> {
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(&mut v);
    v
}

/// Bytes of a transparent huge page (x86-64 and aarch64 Linux with 4 KB pages).
const HUGE_PAGE: usize = 2 << 20;

/// Asks Linux to back the whole 2 MB pages inside `v`'s allocation with transparent huge
/// pages. A fresh buffer of tens of megabytes (W4e's 33 MB input gradient) otherwise takes a
/// page fault every 4 KB on its first write: 8,000 faults, 12.5 ms on this VM against 2.4 ms
/// with huge pages. Only advice: where the kernel declines (THP disabled), nothing changes.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages<E>(v: &mut Vec<E>) {
    let bytes = v.capacity() * std::mem::size_of::<E>();
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        // SAFETY: `first..end` lies inside `v`'s allocation, which this function borrows
        // mutably; MADV_HUGEPAGE only changes how the kernel backs those pages, never their
        // contents or who may access them, and a failure (THP off) is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<E>(_: &mut Vec<E>) {}

/// `s` as `f32` values, if that is its element type (for the `f32` vector kernels).
pub(crate) fn as_f32<E: crate::tensor::Element>(s: &[E]) -> Option<&[f32]> {
    E::as_vector(s)
}

/// `s` as `f32` values, mutably, if that is its element type.
pub(crate) fn as_f32_mut<E: crate::tensor::Element>(s: &mut [E]) -> Option<&mut [f32]> {
    E::as_vector_mut(s)
}

/// Elements per task when a long buffer is split across threads.
pub(crate) const TASK: usize = 1 << 14;

/// `f(start, chunk)` for the chunks of `chunk` elements of `dst` (`start` is the chunk's first
/// index), on the pool when `dst` has [`PARALLEL_MIN_ELEMS`] elements or more, in order on this
/// thread otherwise.
pub(crate) fn for_chunks<E: Send>(dst: &mut [E], chunk: usize, f: impl Fn(usize, &mut [E]) + Sync) {
    let chunk = chunk.max(1);
    if dst.len() >= PARALLEL_MIN_ELEMS {
        use rayon::prelude::*;
        dst.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, d)| f(i * chunk, d));
    } else {
        dst.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, d)| f(i * chunk, d));
    }
}

/// Work below this many elements stays on one thread (rayon costs microseconds).
///
/// ```
/// assert!(stensor::kernels::PARALLEL_MIN_ELEMS >= 1024);
/// ```
pub const PARALLEL_MIN_ELEMS: usize = 1 << 15;

#[cfg(test)]
mod tests {
    #[test]
    fn zeros_are_zeros_on_one_thread_and_on_the_pool() {
        for len in [
            0,
            1,
            17,
            super::PARALLEL_ZEROS - 1,
            super::PARALLEL_ZEROS + 33,
        ] {
            let serial: Vec<f32> = super::zeros(len);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let parallel: Vec<f64> = pool.install(|| super::zeros(len));
            assert_eq!(serial.len(), len);
            assert_eq!(parallel.len(), len);
            assert!(serial.iter().all(|&v| v.to_bits() == 0));
            assert!(parallel.iter().all(|&v| v.to_bits() == 0));
        }
    }
}
