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

mod attention;
mod attention_f32;
mod conv;
mod ctc;
mod direct;
mod distance;
mod elementwise;
mod gemm;
mod gemm_f32;
mod index;
mod layout;
mod margin;
mod norm;
mod optim;
mod pad;
mod pool;
mod recurrent;
mod reduce;
pub(crate) mod simd;
mod softmax;

pub(crate) use attention::*;
pub use conv::*;
pub use ctc::*;
pub use distance::*;
pub use elementwise::*;
pub use gemm::*;
pub(crate) use gemm_f32::gemm_f32;
pub use index::*;
pub use layout::*;
pub use margin::*;
pub use norm::*;
pub use optim::*;
pub use pad::*;
pub use pool::*;
pub(crate) use recurrent::*;
pub use reduce::*;
pub use softmax::*;

/// Buffers at least this long are zero-filled on the pool by [`zeros`].
const PARALLEL_ZEROS: usize = 1 << 20;

/// A new buffer of `len` zeros, filled on the pool when long: a fresh output's or gradient's
/// zero fill (and the page faults of its first touch) would otherwise run on the calling
/// thread alone while the pool waits for the kernel after it. Zeros are written, not mapped
/// lazily, since kernels then read-modify-write these buffers (see [`crate::autograd`]'s
/// gradients).
pub(crate) fn zeros<E: crate::element::Element>(len: usize) -> Vec<E> {
    use rayon::iter::ParallelExtend;
    let mut v = new_buffer(len);
    if len >= PARALLEL_ZEROS && may_split() {
        v.par_extend(rayon::iter::repeat_n(E::zero(), len));
    } else {
        v.resize(len, E::zero());
    }
    v
}

/// An empty vector with room for `len` values, its large pages advised to huge pages.
pub(crate) fn new_buffer<E>(len: usize) -> Vec<E> {
    static TUNED: std::sync::Once = std::sync::Once::new();
    TUNED.call_once(keep_freed_memory);
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(&mut v);
    v
}

/// Sets glibc's malloc to keep freed memory for reuse, from the first tensor buffer on,
/// unless `STENSOR_KEEP_MALLOC_DEFAULTS` is set: buffers under 32 MB come from the heap (the
/// bound glibc's own adjustment ends at), and the heap's free top goes back to the system only
/// above [`keep_at_most`] (an eighth of the machine's memory, from 64 MB to 1 GB).
///
/// A backward pass frees the values the forward pass saved (as PyTorch does) while the
/// gradients it allocated are still held; with glibc's starting thresholds the freed
/// megabytes went back to the system and every next step faulted them in again, 4 KB at a
/// time (a third of a LeNet training step at batch 256). glibc raises the thresholds only
/// after it has freed a mapped buffer of that size, which this order of frees never triggers,
/// and its largest trim threshold, 64 MB, is below what one step of a mid-sized network frees
/// (a ResNet-20 step at batch 64 peaks at 400 MB). The cost is memory: the freed heap, up to
/// the bound, stays with the process between steps; its peak is the same.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    if std::env::var_os("STENSOR_KEEP_MALLOC_DEFAULTS").is_some() {
        return;
    }
    // SAFETY: sysconf only reads a system parameter.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    let keep = keep_at_most(usize::try_from(pages).unwrap_or(0).saturating_mul(4096));
    // SAFETY: mallopt only sets allocator parameters; glibc takes its own lock, and a value
    // it rejects leaves the setting unchanged (it returns 0, which changes nothing here).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, keep);
    }
}

/// Bytes of freed heap kept for reuse on a machine with `memory` bytes: an eighth of it, at
/// least 64 MB (glibc's own largest setting) and at most 1 GB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_at_most(memory: usize) -> i32 {
    let bytes = (memory / 8).clamp(64 << 20, 1 << 30);
    i32::try_from(bytes).unwrap_or(1 << 30)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Bytes of a transparent huge page (x86-64 and aarch64 Linux with 4 KB pages).
const HUGE_PAGE: usize = 2 << 20;

/// Asks Linux to back the whole 2 MB pages inside `v`'s allocation with transparent huge
/// pages. A fresh buffer of tens of megabytes (a large layer's input gradient) otherwise takes
/// a page fault every 4 KB on its first write, which costs several times the writing itself in
/// a virtual machine. Only advice: where the kernel declines (THP disabled), nothing changes.
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
pub(crate) fn as_f32<E: crate::element::Element>(s: &[E]) -> Option<&[f32]> {
    E::as_vector(s)
}

/// `s` as `f32` values, mutably, if that is its element type.
pub(crate) fn as_f32_mut<E: crate::element::Element>(s: &mut [E]) -> Option<&mut [f32]> {
    E::as_vector_mut(s)
}

/// Elements per task when a long buffer is split across threads.
pub(crate) const TASK: usize = 1 << 14;

/// `f(start, chunk)` for the chunks of `chunk` elements of `dst` (`start` is the chunk's first
/// index), on the pool when [`on_pool`] says so, in order on this thread otherwise.
pub(crate) fn for_chunks<E: Send>(dst: &mut [E], chunk: usize, f: impl Fn(usize, &mut [E]) + Sync) {
    let chunk = chunk.max(1);
    if on_pool(dst.len()) {
        // one contiguous part per thread, made of whole chunks
        let per = part_len(dst.len(), chunk);
        let mut parts: Vec<(usize, &mut [E])> = dst
            .chunks_mut(per)
            .enumerate()
            .map(|(i, p)| (i * per, p))
            .collect();
        run_parts(&mut parts, |(start, part)| {
            for (i, d) in part.chunks_mut(chunk).enumerate() {
                f(*start + i * chunk, d);
            }
        });
    } else {
        dst.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, d)| f(i * chunk, d));
    }
}

/// Whether work over `elems` elements goes to the pool: it is long enough to pay for the
/// hand-over, and the pool has a second thread. A one-thread pool would only add a wake-up of
/// its worker and of this thread per call (a futex each way: a tenth of a one-thread MLP
/// training step), so then the work runs here.
pub(crate) fn on_pool(elems: usize) -> bool {
    elems >= PARALLEL_MIN_ELEMS && may_split()
}

thread_local! {
    /// Set while this thread runs one task of a kernel's split across the pool.
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as one task of a kernel's split across the pool (a convolution's images): a
/// product inside it stays on this thread, since the split already keeps every thread busy
/// and splitting again would only add joins and packing buffers. Rayon's own "am I on the
/// pool" cannot tell this from a whole backward pass handed to the pool by
/// [`on_pool_thread`], whose products should split.
pub(crate) fn as_task<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_TASK.set(self.0);
        }
    }
    let _restore = Restore(IN_TASK.replace(true));
    f()
}

/// Whether work may be split across the pool from here: it has a second thread and this
/// thread is not already running one task of a split ([`as_task`]). Asked only once a split
/// is worth it, so a yes also keeps the pool's other workers warm ([`keep_pool_warm`]) for
/// this split and the next.
pub(crate) fn may_split() -> bool {
    let split = rayon::current_num_threads() > 1 && !IN_TASK.get();
    if split {
        keep_pool_warm(&WARM_WORKERS);
    }
    split
}

/// How long a warm worker keeps looking for work after its last job.
const WARM: std::time::Duration = std::time::Duration::from_micros(100);

/// Workers of the pool currently kept warm.
static WARM_WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Keeps the pool's other workers looking for work (rayon's `yield_now`, which runs pending
/// jobs of the pool) until [`WARM`] has passed without one, so the next split's parts start at
/// once instead of waiting for a sleeping worker to be woken.
///
/// Rayon's workers go to sleep on a futex after a few dozen idle rounds, microseconds; in a
/// virtual machine waking one costs tens of microseconds (a halted virtual CPU), which a
/// training step of small layers pays at every split. OpenMP runtimes (PyTorch's threads)
/// spin for a while before sleeping for the same reason. A warm worker burns its CPU for at
/// most `WARM` after the last split, and never runs on the thread that asked for it (which
/// could otherwise pick it from its own queue while it waits for a split to finish).
/// `warm_workers` counts the workers kept warm.
fn keep_pool_warm(warm_workers: &'static std::sync::atomic::AtomicUsize) {
    use std::sync::atomic::Ordering;
    let others = rayon::current_num_threads().saturating_sub(1);
    let warm = warm_workers.load(Ordering::Relaxed);
    if warm >= others
        || warm_workers
            .compare_exchange(warm, warm + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let asker = rayon::current_thread_index();
    rayon::spawn(move || {
        if rayon::current_thread_index() != asker {
            let mut last = std::time::Instant::now();
            let mut idle = 0u32;
            loop {
                if rayon::yield_now() == Some(rayon::Yield::Executed) {
                    (last, idle) = (std::time::Instant::now(), 0);
                    continue;
                }
                idle += 1;
                // the clock read every 32 idle rounds: most of a round's cost otherwise
                if idle.is_multiple_of(32) && last.elapsed() > WARM {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        warm_workers.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Runs `f` on a thread of the pool (this one if it is one), so that the many splits inside
/// it (a backward pass: each op's products and maps) are handed between pool threads, which
/// keep spinning for a while between jobs, instead of each waking the pool and putting this
/// thread to sleep on a futex. One hand-over for the whole of `f`; nothing on a one-thread
/// pool, where the work stays here.
pub(crate) fn on_pool_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none() {
        rayon::scope(|_| f())
    } else {
        f()
    }
}

/// `f` on every element of `parts`: the first here, the others spawned onto the pool.
///
/// Called from outside the pool, rayon's parallel iterators hand the whole job to the pool
/// and put this thread to sleep on a futex until the last task ends: one wake-up of a sleeping
/// worker to start, one of this thread to finish. In a virtual machine each costs tens of
/// microseconds (an idle virtual CPU is halted), as much as a batch-64 layer's product split
/// two ways takes. Here this thread works on its part
/// meanwhile, so only the pool's start is waited for, and only when it is slower than this
/// thread's share. On a pool thread the spawns go to its own queue, as `join` would.
pub(crate) fn run_parts<T: Send>(parts: &mut [T], f: impl Fn(&mut T) + Sync) {
    if let Some((first, rest)) = parts.split_first_mut() {
        let f = &f;
        rayon::in_place_scope(|s| {
            for p in rest {
                s.spawn(move |_| f(p));
            }
            f(first);
        });
    }
}

/// The length of each of the pool's parts of `len` elements: one part per thread, a
/// multiple of `align` long (the last may be shorter).
pub(crate) fn part_len(len: usize, align: usize) -> usize {
    let align = align.max(1);
    len.div_ceil(rayon::current_num_threads().max(1))
        .next_multiple_of(align)
        .max(align)
}

/// Work below this many elements stays on one thread (rayon costs microseconds).
pub const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// Central differences for the kernels' adjoint tests.
#[cfg(test)]
pub(crate) fn central_difference(f: impl Fn(&[f64]) -> f64, x: &[f64], k: usize) -> f64 {
    let h = 1e-6;
    let (mut up, mut down) = (x.to_vec(), x.to_vec());
    up[k] += h;
    down[k] -= h;
    (f(&up) - f(&down)) / (2.0 * h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_parts_runs_every_part_once_from_outside_and_inside_the_pool() {
        for parts in [0, 1, 2, 7, 33] {
            let mut v: Vec<(usize, usize)> = (0..parts).map(|i| (i, 0)).collect();
            super::run_parts(&mut v, |(i, hits)| *hits += *i + 1);
            assert!(
                v.iter().all(|&(i, h)| h == i + 1),
                "{parts} parts from outside"
            );
            rayon::scope(|_| super::run_parts(&mut v, |(i, hits)| *hits += *i + 1));
            assert!(
                v.iter().all(|&(i, h)| h == 2 * (i + 1)),
                "{parts} parts on the pool"
            );
        }
    }

    #[test]
    fn warm_workers_are_at_most_the_others_and_stop_when_idle() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static WARM: AtomicUsize = AtomicUsize::new(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            for _ in 0..10 {
                super::keep_pool_warm(&WARM);
                assert!(WARM.load(Ordering::Acquire) <= 2);
            }
            // a warm worker runs what the pool is given
            let (tx, rx) = std::sync::mpsc::channel();
            rayon::spawn(move || tx.send(7).unwrap());
            assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(7));
        });
        let start = std::time::Instant::now();
        while WARM.load(Ordering::Acquire) > 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "warm workers did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // a one-thread pool has no other worker to keep warm
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        one.install(|| super::keep_pool_warm(&WARM));
        assert_eq!(WARM.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_task_does_not_split_and_the_flag_survives_a_panic() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert!(super::may_split());
            assert!(!super::as_task(super::may_split));
            let caught = std::panic::catch_unwind(|| super::as_task(|| panic!("in a task")));
            assert!(caught.is_err());
            assert!(super::may_split(), "the flag stayed set after the panic");
            // a whole pass handed to the pool may still split
            assert!(super::on_pool_thread(super::may_split));
        });
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        one.install(|| assert!(!super::may_split() && !super::on_pool(1 << 30)));
    }

    #[test]
    fn part_lengths_cover_the_buffer_in_whole_chunks() {
        for (len, align) in [(0, 16), (1, 16), (100, 16), (1 << 20, 1 << 14), (17, 0)] {
            let per = super::part_len(len, align);
            assert!(per >= align.max(1) && per.is_multiple_of(align.max(1)));
            assert!(per * rayon::current_num_threads() >= len);
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_kept_is_an_eighth_of_the_machine_within_bounds() {
        assert_eq!(super::keep_at_most(0), 64 << 20);
        assert_eq!(super::keep_at_most(4 << 30), 512 << 20);
        assert_eq!(super::keep_at_most(64 << 30), 1 << 30);
    }

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
