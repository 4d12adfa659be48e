//! W5 (square f32 products C = A B, row-major) for stensor and the Rust GEMM crates, one run,
//! interleaved: each round times every library once per size, and each figure is the median
//! of the rounds. Threads: `RAYON_NUM_THREADS` (stensor, gemm, faer run on rayon's pool;
//! matrixmultiply's `threading` feature reads `MATMUL_NUM_THREADS`, set to the same number
//! below).
//!
//! Run: `RAYON_NUM_THREADS=2 cargo run --release --manifest-path benches/gemm-peers/Cargo.toml`

use std::time::{Duration, Instant};
use stensor::{gemm as stensor_gemm, Trans};

const ROUNDS: usize = 5;

/// Seconds per call: calls for at least `min`, after a warm-up call.
fn per_call(min: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    let mut calls = 0u32;
    while t.elapsed() < min {
        f();
        calls += 1;
    }
    t.elapsed().as_secs_f64() / f64::from(calls)
}

fn main() {
    let threads = rayon::current_num_threads();
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    println!("{}", stensor::cpu_info());
    let names = ["stensor", "gemm", "matrixmultiply", "faer"];
    for n in [256usize, 512, 1024] {
        let a: Vec<f32> = (0..n * n).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        let b: Vec<f32> = (0..n * n).map(|i| ((i * 5) % 11) as f32 / 11.0).collect();
        let mut want = vec![0.0f32; n * n];
        stensor_gemm(n, n, n, &a, Trans::No, &b, Trans::No, &mut want, false);
        let mut runs: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        for _ in 0..ROUNDS {
            for (lib, name) in names.iter().enumerate() {
                let mut c = vec![0.0f32; n * n];
                let min = Duration::from_millis(300);
                let t = match *name {
                    "stensor" => per_call(min, || {
                        stensor_gemm(n, n, n, &a, Trans::No, &b, Trans::No, &mut c, false)
                    }),
                    "gemm" => per_call(min, || {
                        let par = if threads > 1 {
                            gemm::Parallelism::Rayon(threads)
                        } else {
                            gemm::Parallelism::None
                        };
                        // SAFETY: the pointers and strides describe the three n x n row-major
                        // buffers above, which outlive the call; `c` is not aliased.
                        unsafe {
                            gemm::gemm(
                                n,
                                n,
                                n,
                                c.as_mut_ptr(),
                                1,
                                n as isize,
                                false,
                                a.as_ptr(),
                                1,
                                n as isize,
                                b.as_ptr(),
                                1,
                                n as isize,
                                0.0,
                                1.0,
                                false,
                                false,
                                false,
                                par,
                            )
                        }
                    }),
                    "matrixmultiply" => per_call(min, || {
                        // SAFETY: as above.
                        unsafe {
                            matrixmultiply::sgemm(
                                n,
                                n,
                                n,
                                1.0,
                                a.as_ptr(),
                                n as isize,
                                1,
                                b.as_ptr(),
                                n as isize,
                                1,
                                0.0,
                                c.as_mut_ptr(),
                                n as isize,
                                1,
                            )
                        }
                    }),
                    _ => per_call(min, || {
                        let am = faer::MatRef::from_row_major_slice(&a, n, n);
                        let bm = faer::MatRef::from_row_major_slice(&b, n, n);
                        let cm = faer::MatMut::from_row_major_slice_mut(&mut c, n, n);
                        let par = if threads > 1 {
                            faer::Par::rayon(threads)
                        } else {
                            faer::Par::Seq
                        };
                        faer::linalg::matmul::matmul(
                            cm,
                            faer::Accum::Replace,
                            am,
                            bm,
                            1.0f32,
                            par,
                        );
                    }),
                };
                // every library computed the same product
                let err = c
                    .iter()
                    .zip(&want)
                    .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
                    .fold(0.0f32, f32::max);
                assert!(err < 1e-4, "{name} {n}: relative error {err}");
                runs[lib].push(2.0 * (n * n * n) as f64 / t / 1e9);
            }
        }
        for (name, r) in names.iter().zip(&mut runs) {
            r.sort_by(f64::total_cmp);
            println!(
                "W5 gemm {n} GFLOP/s {name} threads={threads} : {:.1}",
                r[ROUNDS / 2]
            );
        }
    }
}
