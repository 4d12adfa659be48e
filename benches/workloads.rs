//! Criterion benchmarks of the reference workloads W1-W9 (`WORKLOADS.md`), exactly as defined
//! there. `cargo run --release --example workloads` prints the same figures as one line each
//! (the README's table); this is the statistical view.

#[path = "workloads/mod.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stensor::nn::{Conv2d, Forward};
use stensor::optim::SGD;
use stensor::prelude::*;
use stensor::{gemm, Trans};
use workloads::*;

fn w1_w6_lenet(c: &mut Criterion) {
    let mut net = lenet(0);
    let mut opt = SGD::new(0.9);
    let x = Tensor::<(U256, U1, U28, U28)>::rand_uniform(1, 0.0, 1.0);
    let y = batch_labels(256);
    let mut g = c.benchmark_group("W1 LeNet train batch 256");
    g.throughput(Throughput::Elements(256));
    g.bench_function("step", |b| {
        b.iter(|| train_step(&mut net, &mut opt, &x, &y))
    });
    g.finish();
    let x1 = Tensor::<(U1, U1, U28, U28)>::rand_uniform(2, 0.0, 1.0);
    c.bench_function("W6 LeNet inference batch 1", |b| {
        b.iter(|| net.forward(x1.clone()))
    });
}

fn w2_cifar(c: &mut Criterion) {
    let mut net = cifar_net(0);
    let mut opt = SGD::new(0.01);
    let x = Tensor::<(U64, U3, U32, U32)>::rand_uniform(3, -1.0, 1.0);
    let y = batch_labels(64);
    let mut g = c.benchmark_group("W2 CIFAR-10 net batch 64");
    g.throughput(Throughput::Elements(64));
    g.bench_function("train step", |b| {
        b.iter(|| train_step(&mut net, &mut opt, &x, &y))
    });
    g.bench_function("inference", |b| b.iter(|| net.forward(x.clone())));
    g.finish();
}

fn w3_mlp(c: &mut Criterion) {
    let mut net = mlp(0);
    let x1 = Tensor::<(U1, U28, U28)>::rand_uniform(4, 0.0, 1.0);
    c.bench_function("W3 MLP inference batch 1", |b| {
        b.iter(|| net.forward(x1.clone()))
    });
    // called from a pool thread, as a serving loop inside `rayon::scope` would
    c.bench_function("W3 MLP inference batch 1 on-pool", |b| {
        b.iter_custom(|iters| {
            rayon::scope(|_| {
                let t = std::time::Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(net.forward(x1.clone()));
                }
                t.elapsed()
            })
        })
    });
    let mut opt = SGD::new(0.01);
    let x = Tensor::<(U64, U28, U28)>::rand_uniform(5, 0.0, 1.0);
    let y = batch_labels(64);
    let mut g = c.benchmark_group("W3 MLP train batch 64");
    g.throughput(Throughput::Elements(64));
    g.bench_function("step", |b| {
        b.iter(|| train_step(&mut net, &mut opt, &x, &y))
    });
    g.finish();
}

fn w4_convolutions(c: &mut Criterion) {
    let mut r = Rng::seed(6);
    let x = Tensor::<(U8, U64, U128, U128)>::rand_uniform(7, -1.0, 1.0);
    let a = W4a::new(&mut r);
    let mut g = c.benchmark_group("W4 convolutions");
    g.sample_size(10);
    g.bench_function("W4a Conv2d(64,32,3) forward", |b| {
        b.iter(|| a.forward(x.clone()))
    });
    let bg = W4b::new(&mut r);
    g.bench_function("W4b groups=8 forward", |b| b.iter(|| bg.forward(x.clone())));
    let dw: W4c = (Conv2d::new(&mut r), Conv2d::new(&mut r));
    g.bench_function("W4c depthwise+pointwise forward", |b| {
        b.iter(|| dw.forward(x.clone()))
    });
    let t = W4d::new(&mut r);
    let xd = Tensor::<(U8, U32, U126, U126)>::rand_uniform(8, -1.0, 1.0);
    g.bench_function("W4d ConvTranspose2d(32,64,3) forward", |b| {
        b.iter(|| t.forward(xd.clone()))
    });
    g.bench_function("W4e W4a forward+backward", |b| {
        b.iter(|| a.forward(x.clone().trace()).sum().backward())
    });
    g.finish();
}

fn w5_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("W5 GEMM f32 (throughput in FLOP)");
    for n in [256usize, 512, 1024] {
        let a = vec![1.0f32; n * n];
        let b = vec![0.5f32; n * n];
        let mut out = vec![0.0f32; n * n];
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_function(format!("{n}"), |bench| {
            bench.iter(|| gemm(n, n, n, &a, Trans::No, &b, Trans::No, &mut out, false))
        });
    }
    g.finish();
}

fn w7_lstm(c: &mut Criterion) {
    let mut net = w7_net(0);
    let mut opt = SGD::new(0.1);
    let x = w7_input(11);
    let y = batch_labels(32);
    let mut g = c.benchmark_group("W7 LSTM(64, 256, 2)");
    g.sample_size(10);
    g.throughput(Throughput::Elements(32));
    g.bench_function("W7a train step, 64 steps x batch 32", |b| {
        b.iter(|| w7_train_step(&mut net, &mut opt, &x, &y))
    });
    g.finish();
    let x1 = Tensor::<(U1, U1, U64)>::rand_uniform(12, -1.0, 1.0);
    let (_, mut state) = net.lstm.forward(x1.clone());
    c.bench_function("W7b LSTM streaming step batch 1", |b| {
        b.iter(|| {
            w7_stream_step(&net, &x1, &mut state);
        })
    });
}

fn w8_encoder(c: &mut Criterion) {
    let mut net = w8_net(0);
    let mut opt = SGD::new(0.01);
    let x = w8_input(16, 128, 13);
    let y = batch_labels(16);
    let mut g = c.benchmark_group("W8 TransformerEncoderLayer(256, 8, 1024)");
    g.sample_size(10);
    g.throughput(Throughput::Elements(16));
    g.bench_function("W8a train step, batch 16 x seq 128", |b| {
        b.iter(|| w8_train_step(&mut net, &mut opt, &x, &y))
    });
    g.finish();
    let layer = w8_layer(0);
    let x1 = w8_input(1, 128, 14);
    c.bench_function("W8b encoder inference batch 1 seq 128", |b| {
        b.iter(|| layer.forward(x1.clone()))
    });
    let x1 = w8_input(1, 4096, 15);
    let mut g = c.benchmark_group("W8c encoder inference");
    g.sample_size(10);
    g.bench_function("batch 1 seq 4096", |b| b.iter(|| layer.forward(x1.clone())));
    g.finish();
}

criterion_group!(
    benches,
    w1_w6_lenet,
    w2_cifar,
    w3_mlp,
    w4_convolutions,
    w5_gemm,
    w7_lstm,
    w8_encoder
);
criterion_main!(benches);
