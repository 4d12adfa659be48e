//! Benchmarks of the foundation's hot operations (the workloads W1-W6 join in the kernels
//! issue): matrix products at the W5 sizes, a traced MLP-layer step, and the CTC loss (its
//! PyTorch counterpart: `benches/pytorch_ops.py`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stensor::prelude::*;
use stensor::{gemm, Trans};

fn bench_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("W5 gemm f32");
    for n in [256usize, 512] {
        let a = vec![1.0f32; n * n];
        let b = vec![0.5f32; n * n];
        let mut out = vec![0.0f32; n * n];
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, &n| {
            bench.iter(|| gemm(n, n, n, &a, Trans::No, &b, Trans::No, &mut out, false))
        });
    }
    g.finish();
}

fn bench_linear_step(c: &mut Criterion) {
    let x = Tensor::<(U64, U784)>::rand_uniform(0, 0.0, 1.0);
    let mut w = Tensor::<(U784, U512)>::rand_normal(1, 0.0, 0.05);
    w.set_requires_grad(true);
    c.bench_function("linear 64x784x512 forward+backward", |bench| {
        bench.iter(|| {
            let y = x.clone().trace_no_grad().matmul(&w).relu().sum();
            y.backward()
        })
    });
}

/// The CTC sizes `(T, N, C, S)`: a short utterance batch and a speech-recogniser-sized one
/// (29 characters, 200 frames, 40-label transcripts); the same in `pytorch_ops.py`.
const CTC_SIZES: [(usize, usize, usize, usize); 2] = [(50, 16, 20, 10), (200, 32, 29, 40)];

fn bench_ctc(c: &mut Criterion) {
    use stensor::loss::CTCLoss;
    let mut g = c.benchmark_group("ctc");
    for (t, n, classes, s) in CTC_SIZES {
        let mut lp = Tensor::<(usize, usize, usize)>::uniform_shaped(
            (t, n, classes),
            &mut Rng::seed(0),
            -2.0,
            2.0,
        )
        .log_softmax::<2>();
        lp.set_requires_grad(true);
        let labels: Vec<i64> = (0..n * s)
            .map(|i| 1 + (i * 7 % (classes - 1)) as i64)
            .collect();
        let targets = Indices::from_vec_shaped((n, s), labels).unwrap();
        let (il, tl) = (vec![t as i64; n], vec![s as i64; n]);
        let id = format!("T{t} N{n} C{classes} S{s}");
        let loss = CTCLoss::default();
        g.bench_function(format!("{id} forward"), |b| {
            b.iter(|| loss.forward(lp.clone(), &targets, &il, &tl).unwrap())
        });
        g.bench_function(format!("{id} forward+backward"), |b| {
            b.iter(|| {
                loss.forward(lp.clone().trace(), &targets, &il, &tl)
                    .unwrap()
                    .backward()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_gemm, bench_linear_step, bench_ctc);
criterion_main!(benches);
