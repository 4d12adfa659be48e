//! Benchmarks of the foundation's hot operations (the workloads W1-W6 join in the kernels
//! issue): matrix products at the W5 sizes and a traced MLP-layer step.

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

criterion_group!(benches, bench_gemm, bench_linear_step);
criterion_main!(benches);
