//! Runs the reference workloads W1-W9 of `WORKLOADS.md` and prints one line per figure, e.g.
//! `W1 train examples/s threads=2 : 31234.5`, with the thread count from `RAYON_NUM_THREADS`.
//! Each figure is the median of several repeats of at least a second each, after a warm-up.
//!
//! Run: `RAYON_NUM_THREADS=2 cargo run --release --example workloads [-- W1 W5 W2-train ...]`

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::time::{Duration, Instant};
use stensor::nn::{Conv2d, Forward};
use stensor::optim::SGD;
use stensor::prelude::*;
use stensor::{gemm, Trans};
use workloads::*;

const REPEATS: usize = 5;

/// The machine's f32 multiply-add rate at the kernels' instruction-set level: every thread
/// of the pool runs [`stensor::fma_peak_gflops`] (12 independent chains of the level's widest
/// FMAs) at once for a second; the median of five such runs.
fn fma_peak_gflops() -> f64 {
    let one_run = || {
        rayon::broadcast(|_| stensor::fma_peak_gflops(Duration::from_secs(1)))
            .iter()
            .sum::<f64>()
    };
    let mut runs: Vec<f64> = (0..5).map(|_| one_run()).collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

/// Median seconds per call of `f` over `REPEATS` timed runs of at least a second each.
fn time_per_call(mut f: impl FnMut()) -> f64 {
    let min = Duration::from_secs(1);
    let warm = Instant::now();
    while warm.elapsed() < min / 2 {
        f();
    }
    let mut per: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            let mut n = 0usize;
            while t.elapsed() < min {
                f();
                n += 1;
            }
            t.elapsed().as_secs_f64() / n as f64
        })
        .collect();
    per.sort_by(f64::total_cmp);
    per[REPEATS / 2]
}

fn main() {
    println!("{}", stensor::cpu_info());
    let threads = rayon::current_num_threads();
    let only: Vec<String> = std::env::args().skip(1).collect();
    // `W2` runs both W2 figures, `W2-train` only the first.
    let want = |w: &str| {
        only.is_empty()
            || only
                .iter()
                .any(|o| w.starts_with(o.as_str()) || o.starts_with(w))
    };
    let line = |what: &str, v: f64| println!("{what} threads={threads} : {v:.1}");

    if want("W1") {
        let mut net = lenet(0);
        let mut opt = SGD::new(0.9);
        let x = Tensor::<(U256, U1, U28, U28)>::rand_uniform(1, 0.0, 1.0);
        let y = batch_labels(256);
        let t = time_per_call(|| {
            train_step(&mut net, &mut opt, &x, &y);
        });
        line("W1 train examples/s", 256.0 / t);
    }
    if want("W2") {
        let mut net = cifar_net(0);
        let mut opt = SGD::new(0.01);
        let x = Tensor::<(U64, U3, U32, U32)>::rand_uniform(2, -1.0, 1.0);
        let y = batch_labels(64);
        if want("W2-train") {
            let t = time_per_call(|| {
                train_step(&mut net, &mut opt, &x, &y);
            });
            line("W2 train examples/s", 64.0 / t);
        }
        if want("W2-inference") {
            let t = time_per_call(|| {
                std::hint::black_box(net.forward(x.clone()));
            });
            line("W2 inference examples/s", 64.0 / t);
        }
    }
    if want("W3") {
        let mut net = mlp(0);
        let x1 = Tensor::<(U1, U28, U28)>::rand_uniform(3, 0.0, 1.0);
        if want("W3-inference") {
            let t = time_per_call(|| {
                std::hint::black_box(net.forward(x1.clone()));
            });
            line("W3 inference batch-1 us", t * 1e6);
            // The same calls made from a thread of the pool (a serving loop run inside
            // `rayon::scope` or `ThreadPool::install`): each layer's split then costs a
            // hand-over between two pool threads, not a wake-up of this thread and of the
            // pool (PyTorch's OpenMP threads likewise run with the caller as thread 0).
            let t = rayon::scope(|_| {
                time_per_call(|| {
                    std::hint::black_box(net.forward(x1.clone()));
                })
            });
            line("W3 inference batch-1 on-pool us", t * 1e6);
        }
        let mut opt = SGD::new(0.01);
        let x = Tensor::<(U64, U28, U28)>::rand_uniform(4, 0.0, 1.0);
        let y = batch_labels(64);
        if want("W3-train") {
            let t = time_per_call(|| {
                train_step(&mut net, &mut opt, &x, &y);
            });
            line("W3 train examples/s", 64.0 / t);
        }
    }
    if want("W4") {
        let mut r = Rng::seed(5);
        let x = Tensor::<(U8, U64, U128, U128)>::rand_uniform(5, -1.0, 1.0);
        let a = W4a::new(&mut r);
        if want("W4a") {
            let t = time_per_call(|| {
                std::hint::black_box(a.forward(x.clone()));
            });
            line("W4a conv forward ms", t * 1e3);
            line("W4a conv forward GFLOP/s", W4A_FLOPS / t / 1e9);
        }
        let b = W4b::new(&mut r);
        if want("W4b") {
            let t = time_per_call(|| {
                std::hint::black_box(b.forward(x.clone()));
            });
            line("W4b grouped conv forward ms", t * 1e3);
        }
        let c: W4c = (Conv2d::new(&mut r), Conv2d::new(&mut r));
        if want("W4c") {
            let t = time_per_call(|| {
                std::hint::black_box(c.forward(x.clone()));
            });
            line("W4c depthwise+pointwise forward ms", t * 1e3);
        }
        let d = W4d::new(&mut r);
        let xd = Tensor::<(U8, U32, U126, U126)>::rand_uniform(6, -1.0, 1.0);
        if want("W4d") {
            let t = time_per_call(|| {
                std::hint::black_box(d.forward(xd.clone()));
            });
            line("W4d conv-transpose forward ms", t * 1e3);
        }
        if want("W4e") {
            let t = time_per_call(|| {
                let y = a.forward(x.clone().trace());
                std::hint::black_box(y.sum().backward());
            });
            line("W4e conv forward+backward ms", t * 1e3);
        }
    }
    if want("W5") {
        // The roof the GEMM is measured against: FMAs alone, on every thread of the pool.
        let peak = fma_peak_gflops();
        line("W5 measured f32 FMA peak GFLOP/s", peak);
        for n in [256usize, 512, 1024] {
            let a = vec![1.0f32; n * n];
            let b = vec![0.5f32; n * n];
            let mut c = vec![0.0f32; n * n];
            let t = time_per_call(|| gemm(n, n, n, &a, Trans::No, &b, Trans::No, &mut c, false));
            let gflops = 2.0 * (n * n * n) as f64 / t / 1e9;
            line(&format!("W5 gemm {n} GFLOP/s"), gflops);
            line(&format!("W5 gemm {n} % of peak"), 100.0 * gflops / peak);
        }
    }
    if want("W6") {
        let net = lenet(0);
        let x = Tensor::<(U1, U1, U28, U28)>::rand_uniform(7, 0.0, 1.0);
        let t = time_per_call(|| {
            std::hint::black_box(net.forward(x.clone()));
        });
        line("W6 inference batch-1 us", t * 1e6);
    }
    if want("W7") {
        let mut net = w7_net(0);
        if want("W7a") {
            let mut opt = SGD::new(0.1);
            let x = w7_input(11);
            let y = batch_labels(32);
            let t = time_per_call(|| {
                w7_train_step(&mut net, &mut opt, &x, &y);
            });
            line("W7a LSTM train sequences/s", 32.0 / t);
        }
        if want("W7b") {
            let x1 = Tensor::<(U1, U1, U64)>::rand_uniform(12, -1.0, 1.0);
            let (_, mut state) = net.lstm.forward(x1.clone());
            let t = time_per_call(|| {
                w7_stream_step(&net, &x1, &mut state);
                std::hint::black_box(&state);
            });
            line("W7b LSTM streaming batch-1 us/step", t * 1e6);
        }
    }
    if want("W8") {
        if want("W8a") {
            let mut net = w8_net(0);
            let mut opt = SGD::new(0.01);
            let x = w8_input(16, 128, 13);
            let y = batch_labels(16);
            let t = time_per_call(|| {
                w8_train_step(&mut net, &mut opt, &x, &y);
            });
            line("W8a encoder train sequences/s", 16.0 / t);
        }
        let layer = w8_layer(0);
        if want("W8b") {
            let x1 = w8_input(1, 128, 14);
            let t = time_per_call(|| {
                std::hint::black_box(layer.forward(x1.clone()));
            });
            line("W8b encoder inference batch-1 seq-128 us", t * 1e6);
        }
        if want("W8c") {
            let x1 = w8_input(1, 4096, 15);
            reset_peak_rss();
            let before = peak_rss_mib();
            let t = time_per_call(|| {
                std::hint::black_box(layer.forward(x1.clone()));
            });
            line("W8c encoder inference batch-1 seq-4096 ms", t * 1e3);
            if let (Some(before), Some(peak)) = (before, peak_rss_mib()) {
                line("W8c peak resident MiB", peak);
                line("W8c peak resident growth MiB", peak - before);
            }
        }
    }
    if want("W9") {
        let mut net = resnet20::ResNet20::new(&mut Rng::seed(0));
        if want("W9-train") {
            let mut opt = SGD::new(0.1).with_momentum(0.9);
            let x = Tensor::<(U64, U3, U32, U32)>::rand_uniform(9, -1.0, 1.0);
            let y = batch_labels(64);
            let t = time_per_call(|| {
                train_step(&mut net, &mut opt, &x, &y);
            });
            line("W9 train examples/s", 64.0 / t);
        }
        if want("W9-inference") {
            stensor::nn::Module::eval(&mut net);
            let x1 = Tensor::<(U1, U3, U32, U32)>::rand_uniform(10, -1.0, 1.0);
            let t = time_per_call(|| {
                std::hint::black_box(net.forward(x1.clone()));
            });
            line("W9 inference batch-1 us", t * 1e6);
        }
    }
}
