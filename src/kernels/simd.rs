//! Instruction-set levels chosen at run time, and the vector operations each level provides.
//!
//! A user's crate is built for baseline x86-64, and its binary may run on any x86-64, so the
//! hot kernels cannot take their instructions from the build (as `wide` does, through
//! `cfg(target_feature)`). Instead each kernel is written once, generic over a [`Simd`]
//! level token, and compiled for every level: the token's [`Simd::run`] calls a [`Kernel`]
//! (a struct holding the hot loop's arguments) inside a `#[target_feature]` function, so the
//! `#[inline(always)]` operations below inline there as that level's instructions (the
//! arrangement of `pulp` and `faer`, whose `WithSimd` structs play the part of [`Kernel`];
//! written here with `core::arch` because the crate needs only a dozen operations, the x86
//! mask forms of AVX-512, and full control of which operations fuse). Drivers (blocking,
//! packing, threads) stay in ordinary code and pick a register tile per level.
//!
//! - [`Level::Avx512`]: `__m512`, 16 lanes, FMA (AVX-512F, AVX2 and FMA enabled).
//! - [`Level::Avx2`]: `__m256`, 8 lanes, FMA (AVX2 and FMA).
//! - [`Level::Baseline`]: 4-lane arrays of plain arithmetic (SSE2 on x86-64, whatever the
//!   target has elsewhere); [`Simd::mul_add`] is a multiply and an add there.
//!
//! `wide`, the SIMD layer of the first round, is gone: it fixes its instructions when the crate
//! is compiled (`cfg(target_feature)`), so in a user's baseline build its `f32x16` was four
//! SSE halves without FMA and its `recip` the 12-bit approximation; nothing it offered the
//! baseline level is missing from 4-lane arrays, which the compiler turns into the same SSE2.
//!
//! The level is detected once per process ([`level`]), capped by the environment variable
//! `STENSOR_ISA` (`sse2`/`baseline`, `avx2`, `avx512`), so the whole test suite can run at
//! each level a machine has. Kernels that tests run at every level take a [`Level`] argument.
//!
//! Every operation is exact IEEE arithmetic (a true division, no approximate reciprocal), so a
//! value's result never depends on where it sits in a buffer, and elementwise kernels that use
//! no [`Simd::mul_add`] give the same bits at every level.

#![allow(unsafe_code)] // the intrinsics; each block says why it is sound

use crate::element::Element;
use std::sync::OnceLock;

/// An instruction-set level the kernels are compiled for, lowest first.
///
/// ```
/// let info = stensor::cpu_info();
/// assert!(info.level <= info.detected);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 4 lanes of plain arithmetic: SSE2 on x86-64, the target's own vectors elsewhere.
    Baseline,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// AVX-512F (with AVX2 and FMA): 16 lanes.
    Avx512,
}

impl Level {
    /// The name `STENSOR_ISA` takes for this level.
    ///
    /// ```
    /// assert_eq!(stensor::Level::Avx2.name(), "avx2");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "sse2",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// `f32` lanes in one vector of this level.
    ///
    /// ```
    /// assert_eq!(stensor::Level::Avx512.lanes(), 16);
    /// ```
    pub fn lanes(self) -> usize {
        match self {
            Level::Baseline => 4,
            Level::Avx2 => 8,
            Level::Avx512 => 16,
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sse2" | "baseline" | "base" => Some(Level::Baseline),
            "avx2" => Some(Level::Avx2),
            "avx512" | "avx512f" => Some(Level::Avx512),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The highest level this CPU supports.
fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if Avx512::new().is_some() {
            return Level::Avx512;
        }
        if Avx2::new().is_some() {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// What [`cpu_info`] reports: the level the kernels run at and why.
///
/// ```
/// let info = stensor::cpu_info();
/// println!("{info}");
/// assert_eq!(info.lanes, info.level.lanes());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// The level the kernels run at.
    pub level: Level,
    /// The highest level the CPU supports.
    pub detected: Level,
    /// The value of `STENSOR_ISA`, if set.
    pub requested: Option<String>,
    /// `f32` lanes per vector at `level`.
    pub lanes: usize,
    /// The matrix product's register tile at `level`: rows by columns.
    pub gemm_tile: (usize, usize),
}

impl std::fmt::Display for CpuInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stensor kernels: {} ({} f32 lanes, GEMM tile {}x{}); CPU supports {}",
            self.level, self.lanes, self.gemm_tile.0, self.gemm_tile.1, self.detected
        )?;
        match &self.requested {
            Some(r) if Level::parse(r).is_none() => {
                write!(
                    f,
                    "; STENSOR_ISA={r:?} not understood (sse2, avx2 or avx512)"
                )
            }
            Some(r) => write!(f, "; STENSOR_ISA={r}"),
            None => Ok(()),
        }
    }
}

static LEVEL: OnceLock<Level> = OnceLock::new();

/// The level the kernels run at: the CPU's highest, or `STENSOR_ISA` if that is lower.
/// Detected once per process.
pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.get() {
        return forced;
    }
    *LEVEL.get_or_init(|| {
        let detected = detect();
        match std::env::var("STENSOR_ISA")
            .ok()
            .as_deref()
            .and_then(Level::parse)
        {
            Some(asked) => asked.min(detected),
            None => detected,
        }
    })
}

#[cfg(test)]
thread_local! {
    /// The level [`level`] returns on this thread inside [`at_level`].
    static FORCED: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// `f()` with [`level`] returning `l` on this thread (kernels that capture the level when
/// they start, such as the direct convolution's plan, then run at `l` throughout).
#[cfg(test)]
pub(crate) fn at_level<R>(l: Level, f: impl FnOnce() -> R) -> R {
    let before = FORCED.replace(Some(l));
    let r = f();
    FORCED.set(before);
    r
}

/// Every level this CPU supports, lowest first (for tests that run a kernel at each).
#[cfg(test)]
pub(crate) fn available_levels() -> Vec<Level> {
    let top = detect();
    [Level::Baseline, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= top)
        .collect()
}

/// Which instruction-set level the kernels chose, and the tile sizes that go with it.
///
/// The level is the CPU's highest (AVX-512F, AVX2 with FMA, or the SSE2 baseline), unless the
/// environment variable `STENSOR_ISA` asks for a lower one (`sse2`, `avx2`, `avx512`; a
/// level above the CPU's is capped at the CPU's).
///
/// ```
/// let info = stensor::cpu_info();
/// assert!(["sse2", "avx2", "avx512"].contains(&info.level.name()));
/// assert!(info.gemm_tile.0 > 0 && info.gemm_tile.1 % info.lanes == 0);
/// ```
pub fn cpu_info() -> CpuInfo {
    let level = level();
    CpuInfo {
        level,
        detected: detect(),
        requested: std::env::var("STENSOR_ISA").ok(),
        lanes: level.lanes(),
        gemm_tile: super::gemm_f32::tile(level),
    }
}

/// Runs `$body` with `$s` bound to the token of level `$level` (one monomorphised copy of
/// `$body` per level). The body runs in ordinary code: the kernels call [`Simd::run`] around
/// their hot loops inside it.
macro_rules! dispatch {
    ($level:expr, |$s:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::kernels::simd::{Level, Simd};
        match $level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                let $s = $crate::kernels::simd::Avx512::new().expect("AVX-512 was detected");
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => {
                let $s = $crate::kernels::simd::Avx2::new().expect("AVX2 was detected");
                $body
            }
            _ => {
                let $s = $crate::kernels::simd::Base;
                $body
            }
        }
    }};
}
pub(crate) use dispatch;

/// `$kernel` (a [`Kernel`] for every level) run at level `$level`, compiled for that level's
/// instructions (see [`Simd::run`]).
macro_rules! simd {
    ($level:expr, $kernel:expr) => {
        $crate::kernels::simd::dispatch!($level, |s| s.run($kernel))
    };
}
pub(crate) use simd;

/// A kernel entered through a function that is not generic: [`RunHere::run_here`] runs it at
/// the process's level. A generic function (over the element type, say) that expanded
/// [`simd!`] for its `f32` case would have every level's copy of the kernel compiled again in
/// each crate that instantiates it, a user's included (seconds of their release rebuild for
/// one Transformer or recurrent layer); these impls are compiled once, in this crate.
pub(crate) trait RunHere {
    /// The kernel's result.
    type Out;
    /// The kernel at [`level`].
    fn run_here(self) -> Self::Out;
}

/// [`RunHere`] for kernels with one lifetime and a result that does not depend on the level.
macro_rules! run_here {
    ($($kernel:ident),* $(,)?) => {$(
        impl $crate::kernels::simd::RunHere for $kernel<'_> {
            type Out =
                <Self as $crate::kernels::simd::Kernel<$crate::kernels::simd::Base>>::Out;
            fn run_here(self) -> Self::Out {
                $crate::kernels::simd::simd!($crate::kernels::simd::level(), self)
            }
        }
    )*};
}
pub(crate) use run_here;

/// A hot loop and its arguments, as a value: [`Simd::run`] calls it inside a function compiled
/// for the level's instructions.
///
/// A struct with an `#[inline(always)]` method rather than a closure or a function item: the
/// method is copied into the codegen unit of the `#[target_feature]` function that calls it
/// and inlined there for certain, with every operation it uses. A closure's body, or the
/// call shim of a function item, may land in another codegen unit, where it stays an
/// out-of-line call compiled without the features and each vector operation becomes a call.
pub(crate) trait Kernel<S: Simd> {
    type Out;
    fn run(self, s: S) -> Self::Out;
}

/// A plain loop (no intrinsics) as a [`Kernel`]: [`vectorised_mul_add`] runs it inside the
/// level's `#[target_feature]` function, where the compiler inlines it and vectorises it with
/// the level's widest registers (a function compiled for the x86-64 baseline uses 4-lane SSE2
/// at best). The loop is given the level's [`MulAdd`]; apart from that the results do not
/// depend on the level: Rust never fuses `a * b + c` into one rounding nor reorders a
/// floating-point sum on its own, so each value takes the same operations in the same order,
/// in a vector lane or alone.
pub(crate) struct Plain<F>(pub(crate) F);

impl<S: Simd, R, F: FnOnce(MulAdd) -> R> Kernel<S> for Plain<F> {
    type Out = R;
    #[inline(always)]
    fn run(self, _s: S) -> R {
        (self.0)(MulAdd {
            fused: S::LEVEL != Level::Baseline,
        })
    }
}

/// How a loop compiled at some level computes `a * b + c`: fused, with one rounding, at the
/// levels that have an FMA instruction; at the baseline, which has none, as a product and a
/// sum rounded separately, as the baseline GEMM does. `mul_add` there is a call into the C
/// library per value, which no loop vectorises: a memory-bound loop such as a norm's forward
/// becomes bound by the calls instead. Results at the baseline then differ from the FMA
/// levels' by that one rounding; every FMA level gives the same bits.
#[derive(Clone, Copy)]
pub(crate) struct MulAdd {
    fused: bool,
}

impl MulAdd {
    /// `a * b + c` at the level's rounding (see [`MulAdd`]).
    #[inline(always)]
    pub(crate) fn mul_add<E: Element>(self, a: E, b: E, c: E) -> E {
        if self.fused {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// `f(ma)` compiled for the instruction-set level chosen at run time (see [`Plain`]), `ma` the
/// level's multiply-add: for the loops of the optimizers, the norms, average pooling and the
/// generic matrix product, which need no intrinsics to vectorise, only the registers. `f` must
/// be an `#[inline(always)]` closure literal: otherwise it stays out of line, compiled for the
/// baseline.
#[inline(always)]
pub(crate) fn vectorised_mul_add<R>(f: impl FnOnce(MulAdd) -> R) -> R {
    simd!(level(), Plain(f))
}

/// [`vectorised_mul_add`] for a loop without multiply-adds.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    vectorised_mul_add(
        #[inline(always)]
        |_| f(),
    )
}

/// A level's vector operations. A token of the type exists only where the CPU has the level's
/// instructions; the operations are `#[inline(always)]`, and reach full speed inside
/// [`Simd::run`].
pub(crate) trait Simd: Copy + Send + Sync + 'static {
    /// `f32` lanes per vector.
    const LANES: usize;
    /// The vector registers the level has (16, or 32 with AVX-512): how many values a
    /// kernel may keep in flight before the compiler spills them to the stack.
    const REGISTERS: usize;
    /// The level of this token.
    const LEVEL: Level;

    /// `k.run(self)` inside a function compiled with this level's target features, where the
    /// `#[inline(always)]` operations below inline as the level's instructions.
    fn run<K: Kernel<Self>>(self, k: K) -> K::Out;
    /// A vector of `LANES` `f32`s.
    type F: Copy + Send + Sync;
    /// A lane mask.
    type M: Copy;

    fn splat(self, x: f32) -> Self::F;
    #[inline(always)]
    fn zero(self) -> Self::F {
        self.splat(0.0)
    }
    /// The first `LANES` values of `s`.
    fn load(self, s: &[f32]) -> Self::F;
    /// `s[i..i + LANES]`, unchecked.
    ///
    /// # Safety
    /// `i + LANES <= s.len()`.
    unsafe fn load_at(self, s: &[f32], i: usize) -> Self::F;
    /// Writes `v` to the first `LANES` values of `d`.
    fn store(self, v: Self::F, d: &mut [f32]);
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c`: one rounding where the level has FMA, two on the baseline.
    fn mul_add(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// The larger of `a` and `b`; `b` where either is NaN.
    fn max(self, a: Self::F, b: Self::F) -> Self::F;
    fn abs(self, a: Self::F) -> Self::F;
    /// Lanes where `a >= b` (false where either is NaN).
    fn ge(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a` where `m`, else `b`.
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// `p * 2^n` where `t = n + 1.5 * 2^23` (exactly; `-150 <= n <= 0`), scaled in two
    /// steps of normal powers of two so that results in the subnormal range round once.
    fn scale_pow2(self, p: Self::F, t: Self::F) -> Self::F;
    /// The sum of the lanes.
    fn reduce_add(self, v: Self::F) -> f32;
}

/// The portable level: 4 lanes of plain arithmetic, which the compiler turns into SSE2 on
/// x86-64.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Base;

impl Simd for Base {
    const LANES: usize = 4;
    const REGISTERS: usize = 16;
    const LEVEL: Level = Level::Baseline;
    type F = [f32; 4];
    type M = [bool; 4];

    #[inline(always)]
    fn run<K: Kernel<Self>>(self, k: K) -> K::Out {
        k.run(self)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> [f32; 4] {
        [x; 4]
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> [f32; 4] {
        s[..4].try_into().expect("4 lanes")
    }
    #[inline(always)]
    unsafe fn load_at(self, s: &[f32], i: usize) -> [f32; 4] {
        debug_assert!(i + 4 <= s.len());
        // SAFETY: the caller guarantees `i + 4 <= s.len()`; `read_unaligned` needs no
        // alignment and every bit pattern is an `f32`.
        unsafe { s.as_ptr().add(i).cast::<[f32; 4]>().read_unaligned() }
    }
    #[inline(always)]
    fn store(self, v: [f32; 4], d: &mut [f32]) {
        d[..4].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn div(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] / b[i])
    }
    #[inline(always)]
    fn mul_add(self, a: [f32; 4], b: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    fn max(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        // maxps semantics: `a > b ? a : b`, so NaN in either gives `b`
        std::array::from_fn(|i| if a[i] > b[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    fn abs(self, a: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i].abs())
    }
    #[inline(always)]
    fn ge(self, a: [f32; 4], b: [f32; 4]) -> [bool; 4] {
        std::array::from_fn(|i| a[i] >= b[i])
    }
    #[inline(always)]
    fn select(self, m: [bool; 4], a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| if m[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    fn scale_pow2(self, p: [f32; 4], t: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| {
            let n = t[i].to_bits() as i32 - SHIFTER_BITS;
            let (n1, n2) = (n >> 1, n - (n >> 1));
            let s1 = f32::from_bits(((n1 + 127) << 23) as u32);
            let s2 = f32::from_bits(((n2 + 127) << 23) as u32);
            p[i] * s1 * s2
        })
    }
    #[inline(always)]
    fn reduce_add(self, v: [f32; 4]) -> f32 {
        (v[0] + v[2]) + (v[1] + v[3])
    }
}

/// The bits of `1.5 * 2^23`, the shifter whose low mantissa bits hold `n` in
/// [`Simd::scale_pow2`].
const SHIFTER_BITS: i32 = 0x4B40_0000;

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Kernel, Level, Simd, SHIFTER_BITS};
    use std::arch::x86_64::*;

    /// AVX2 with FMA: a token exists only where the CPU has both.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        pub(crate) fn new() -> Option<Avx2> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2(()))
        }
    }

    /// AVX-512F with AVX2 and FMA: a token exists only where the CPU has all three.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        pub(crate) fn new() -> Option<Avx512> {
            (is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma"))
            .then_some(Avx512(()))
        }
    }

    // SAFETY (every `unsafe` block of the two impls below): the intrinsics need the CPU
    // features of their level, which a token's existence proves (`new` detected them); the
    // loads and stores go through pointers to at least `LANES` values, checked by the slice
    // indexing before them (or guaranteed by the caller of `load_at`), and need no alignment.

    impl Simd for Avx2 {
        const LANES: usize = 8;
        const REGISTERS: usize = 16;
        const LEVEL: Level = Level::Avx2;
        type F = __m256;
        type M = __m256;

        #[inline(always)]
        fn run<K: Kernel<Self>>(self, k: K) -> K::Out {
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            unsafe fn go<K: Kernel<Avx2>>(s: Avx2, k: K) -> K::Out {
                k.run(s)
            }
            // SAFETY: the token proves the CPU has AVX2 and FMA.
            unsafe { go(self, k) }
        }
        #[inline(always)]
        fn splat(self, x: f32) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> __m256 {
            let s = &s[..8];
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm256_loadu_ps(s.as_ptr()) }
        }
        #[inline(always)]
        unsafe fn load_at(self, s: &[f32], i: usize) -> __m256 {
            debug_assert!(i + 8 <= s.len());
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm256_loadu_ps(s.as_ptr().add(i)) }
        }
        #[inline(always)]
        fn store(self, v: __m256, d: &mut [f32]) {
            let d = &mut d[..8];
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm256_storeu_ps(d.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_div_ps(a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn max(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
        }
        #[inline(always)]
        fn ge(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(a, b) }
        }
        #[inline(always)]
        fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm256_blendv_ps(b, a, m) }
        }
        #[inline(always)]
        fn scale_pow2(self, p: __m256, t: __m256) -> __m256 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe {
                let n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(SHIFTER_BITS));
                let n1 = _mm256_srai_epi32::<1>(n);
                let n2 = _mm256_sub_epi32(n, n1);
                let bias = _mm256_set1_epi32(127);
                let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
                let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
                _mm256_mul_ps(_mm256_mul_ps(p, s1), s2)
            }
        }
        #[inline(always)]
        fn reduce_add(self, v: __m256) -> f32 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe {
                let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
                _mm_cvtss_f32(s)
            }
        }
    }

    impl Simd for Avx512 {
        const LANES: usize = 16;
        const REGISTERS: usize = 32;
        const LEVEL: Level = Level::Avx512;
        type F = __m512;
        type M = __mmask16;

        #[inline(always)]
        fn run<K: Kernel<Self>>(self, k: K) -> K::Out {
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[inline]
            unsafe fn go<K: Kernel<Avx512>>(s: Avx512, k: K) -> K::Out {
                k.run(s)
            }
            // SAFETY: the token proves the CPU has AVX-512F, AVX2 and FMA.
            unsafe { go(self, k) }
        }
        #[inline(always)]
        fn splat(self, x: f32) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> __m512 {
            let s = &s[..16];
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm512_loadu_ps(s.as_ptr()) }
        }
        #[inline(always)]
        unsafe fn load_at(self, s: &[f32], i: usize) -> __m512 {
            debug_assert!(i + 16 <= s.len());
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm512_loadu_ps(s.as_ptr().add(i)) }
        }
        #[inline(always)]
        fn store(self, v: __m512, d: &mut [f32]) {
            let d = &mut d[..16];
            // SAFETY: the token proves the level's features; the pointer has LANES values.
            unsafe { _mm512_storeu_ps(d.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_div_ps(a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn max(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_abs_ps(a) }
        }
        #[inline(always)]
        fn ge(self, a: __m512, b: __m512) -> __mmask16 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, b) }
        }
        #[inline(always)]
        fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe { _mm512_mask_blend_ps(m, b, a) }
        }
        #[inline(always)]
        fn scale_pow2(self, p: __m512, t: __m512) -> __m512 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe {
                let n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(SHIFTER_BITS));
                let n1 = _mm512_srai_epi32::<1>(n);
                let n2 = _mm512_sub_epi32(n, n1);
                let bias = _mm512_set1_epi32(127);
                let s1 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n1, bias)));
                let s2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n2, bias)));
                _mm512_mul_ps(_mm512_mul_ps(p, s1), s2)
            }
        }
        #[inline(always)]
        fn reduce_add(self, v: __m512) -> f32 {
            // SAFETY: the token proves the CPU has this level's features.
            unsafe {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                let s = _mm256_add_ps(lo, hi);
                let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
                _mm_cvtss_f32(s)
            }
        }
    }
}

/// This thread's rate of `f32` multiply-adds at the kernels' level, in GFLOP/s (a fused
/// multiply-add is two), measured for `time`: 12 independent chains of the level's widest
/// vectors, enough to cover the FMA latency on two pipes. The roof the matrix product is
/// measured against; run it on every thread at once (`rayon::broadcast`) for the machine's.
///
/// ```
/// let g = stensor::fma_peak_gflops(std::time::Duration::from_millis(20));
/// assert!(g > 0.1);
/// ```
pub fn fma_peak_gflops(time: std::time::Duration) -> f64 {
    match level() {
        Level::Baseline => base_peak(time),
        l => dispatch!(l, |s| peak(s, time)),
    }
}

/// [`peak`] at the baseline: a multiply then an add per step (SSE2 has no FMA), on 12
/// chains of plain 4-lane arrays in a function of their own: through the generic [`Chains`]
/// the compiler keeps the arrays on the stack and shuffles lanes between steps, which would
/// measure a peak far below what the baseline matrix product reaches.
fn base_peak(time: std::time::Duration) -> f64 {
    #[inline(never)]
    fn chains(acc: [[f32; 4]; 12], steps: usize) -> [[f32; 4]; 12] {
        let (mut acc, a, b) = std::hint::black_box((acc, [0.999_999f32; 4], [1e-7f32; 4]));
        for _ in 0..steps {
            for v in acc.iter_mut() {
                *v = std::array::from_fn(|i| v[i] * a[i] + b[i]);
            }
        }
        acc
    }
    let mut acc = [[1.0f32; 4]; 12];
    let gflops = rate(time, 4, |steps| acc = chains(acc, steps));
    std::hint::black_box(acc);
    gflops
}

fn peak<S: Simd>(s: S, time: std::time::Duration) -> f64 {
    let mut acc = [s.splat(1.0); 12];
    let gflops = rate(time, S::LANES, |steps| acc = s.run(Chains { acc, steps }));
    std::hint::black_box(acc);
    gflops
}

/// GFLOP/s of `run(steps)`, a multiply-add on 12 chains of `lanes` values per step, called
/// for `time`.
fn rate(time: std::time::Duration, lanes: usize, mut run: impl FnMut(usize)) -> f64 {
    const STEPS: usize = 1 << 14;
    let start = std::time::Instant::now();
    let mut steps = 0usize;
    while start.elapsed() < time {
        run(STEPS);
        steps += STEPS;
    }
    (steps * 12 * lanes * 2) as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// `steps` multiply-adds on each of the 12 chains `acc`.
struct Chains<S: Simd> {
    acc: [S::F; 12],
    steps: usize,
}

impl<S: Simd> Kernel<S> for Chains<S> {
    type Out = [S::F; 12];
    #[inline(always)]
    fn run(self, s: S) -> [S::F; 12] {
        // through `black_box`, so that the chains are not folded
        let (mut acc, a, b) = std::hint::black_box((self.acc, s.splat(0.999_999), s.splat(1e-7)));
        for _ in 0..self.steps {
            for v in acc.iter_mut() {
                *v = s.mul_add(*v, a, b);
            }
        }
        acc
    }
}

/// Asks the CPU to bring the cache line holding `s[0]` into L1: a hint, which changes no result.
#[inline(always)]
pub(crate) fn prefetch(s: &[f32]) {
    prefetch_into(s, false)
}

/// [`prefetch`] into L2 only (not L1, where it would push out what the running loop reads).
#[inline(always)]
pub(crate) fn prefetch_l2(s: &[f32]) {
    prefetch_into(s, true)
}

#[inline(always)]
fn prefetch_into(s: &[f32], l2: bool) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it reads nothing the program sees and does not
    // fault (the address is in `s` anyway). SSE, so every x86-64 CPU has it.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
        match l2 {
            false => _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().cast()),
            true => _mm_prefetch::<_MM_HINT_T1>(s.as_ptr().cast()),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, l2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stensor_isa_caps_the_detected_level() {
        let info = cpu_info();
        let want = match info.requested.as_deref().and_then(Level::parse) {
            Some(asked) => asked.min(info.detected),
            None => info.detected,
        };
        assert_eq!(info.level, want, "{info}");
        assert_eq!(available_levels().last(), Some(&info.detected));
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("sse2"), Some(Level::Baseline));
        assert_eq!(Level::parse("avx512"), Some(Level::Avx512));
        assert_eq!(Level::parse("neon"), None);
        let odd = CpuInfo {
            requested: Some("neon".into()),
            ..info
        };
        assert!(odd.to_string().contains("not understood"), "{odd}");
    }

    struct Ops<'a>(&'a [f32], &'a [f32]);

    impl<S: Simd> Kernel<S> for Ops<'_> {
        type Out = ([f32; 16], f32);
        fn run(self, s: S) -> ([f32; 16], f32) {
            let mut out = [0.0f32; 16];
            let (a, b) = (s.load(self.0), s.load(self.1));
            let q = s.div(s.add(s.mul(a, b), s.splat(1.0)), b);
            let m = s.select(s.ge(a, s.zero()), s.abs(q), s.max(a, b));
            s.store(s.sub(m, s.mul_add(a, a, s.zero())), &mut out);
            (out, s.reduce_add(s.load(self.0)))
        }
    }

    #[test]
    fn every_level_adds_multiplies_divides_and_selects_like_scalars() {
        let x: Vec<f32> = (0..16).map(|i| i as f32 * 0.37 - 2.5).collect();
        let y: Vec<f32> = (0..16).map(|i| 1.5 - i as f32 * 0.11).collect();
        for level in available_levels() {
            let (got, sum) = simd!(level, Ops(&x, &y));
            let lanes = level.lanes();
            for i in 0..lanes {
                let q = (x[i] * y[i] + 1.0) / y[i];
                let m = if x[i] >= 0.0 { q.abs() } else { x[i].max(y[i]) };
                let fused = x[i].mul_add(x[i], 0.0);
                assert_eq!(got[i], m - fused, "{level} lane {i}");
            }
            let want: f32 = x[..lanes].iter().sum();
            assert!((sum - want).abs() < 1e-5, "{level}: {sum} vs {want}");
        }
    }
}
