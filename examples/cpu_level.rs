//! Prints the instruction-set level the kernels run at (`sse2`, `avx2` or `avx512`), for
//! scripts: `.ci/run` runs the kernel and parity suites again at each level below it.
//!
//! Run: `cargo run --release --example cpu_level` (`STENSOR_ISA=avx2` caps it).

fn main() {
    println!("{}", stensor::cpu_info().level);
}
