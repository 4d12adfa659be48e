//! The reference workloads W1-W9 of `WORKLOADS.md`, shared by `examples/workloads.rs`
//! (the figures in the README) and `benches/workloads.rs` (criterion).

#![allow(dead_code)]

pub mod resnet20;

use stensor::loss::CrossEntropyLoss;
use stensor::nn::*;
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

/// W1 / W6: the seed LeNet.
pub type LeNet = (
    Conv2d<U1, U6, U5, U1, U2>,
    Sigmoid,
    AvgPool2d<U2>,
    Conv2d<U6, U16, U5>,
    Sigmoid,
    AvgPool2d<U2>,
    Flatten,
    Linear<U400, U120>,
    Sigmoid,
    Linear<U120, U84>,
    Sigmoid,
    Linear<U84, U10>,
);

pub fn lenet(seed: u64) -> LeNet {
    let mut r = Rng::seed(seed);
    (
        Conv2d::new(&mut r),
        Sigmoid,
        AvgPool2d::new(),
        Conv2d::new(&mut r),
        Sigmoid,
        AvgPool2d::new(),
        Flatten::new(),
        Linear::new(&mut r),
        Sigmoid,
        Linear::new(&mut r),
        Sigmoid,
        Linear::new(&mut r),
    )
}

/// W2: the seed CIFAR-10 net (MYNN2).
pub type CifarNet = (
    Conv2d<U3, U32, U5, U1, U2>,
    MaxPool2d<U2>,
    Conv2d<U32, U32, U5, U1, U2>,
    MaxPool2d<U2>,
    Conv2d<U32, U64, U5, U1, U2>,
    MaxPool2d<U2>,
    Flatten,
    Linear<U1024, U64>,
    Linear<U64, U10>,
);

pub fn cifar_net(seed: u64) -> CifarNet {
    let mut r = Rng::seed(seed);
    (
        Conv2d::new(&mut r),
        MaxPool2d::new(),
        Conv2d::new(&mut r),
        MaxPool2d::new(),
        Conv2d::new(&mut r),
        MaxPool2d::new(),
        Flatten::new(),
        Linear::new(&mut r),
        Linear::new(&mut r),
    )
}

/// W3: the seed MLP.
pub type Mlp = (
    Flatten,
    Linear<U784, U512>,
    ReLU,
    Linear<U512, U512>,
    ReLU,
    Linear<U512, U10>,
);

pub fn mlp(seed: u64) -> Mlp {
    let mut r = Rng::seed(seed);
    (
        Flatten::new(),
        Linear::new(&mut r),
        ReLU,
        Linear::new(&mut r),
        ReLU,
        Linear::new(&mut r),
    )
}

fn labels(n: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 7) % 10).collect()
}

/// One training step of `net` on `x` (W1 with SGD lr 0.9, W2 and W3 with 0.01): forward, mean
/// cross-entropy, backward, SGD update.
pub fn train_step<N, S>(net: &mut N, opt: &mut SGD, x: &Tensor<S>, y: &[usize]) -> f32
where
    S: Shape,
    N: Module
        + Forward<Tensor<S, f32, Tape<f32>>, Output = Tensor<(S::Batch, U10), f32, Tape<f32>>>,
    S: BatchOf,
{
    let loss = CrossEntropyLoss::default().forward(net.forward(x.clone().trace_no_grad()), y);
    let grads = loss.backward();
    opt.step(net, &grads);
    loss.item()
}

/// The first dimension of a shape.
pub trait BatchOf {
    /// It.
    type Batch: Dim;
}
impl<B: Dim, C: Dim, H: Dim, W: Dim> BatchOf for (B, C, H, W) {
    type Batch = B;
}
impl<B: Dim, H: Dim, W: Dim> BatchOf for (B, H, W) {
    type Batch = B;
}

pub fn batch_labels(n: usize) -> Vec<usize> {
    labels(n)
}

/// W4a: Conv2d(64, 32, 3) on 8x64x128x128.
pub type W4a = Conv2d<U64, U32, U3>;
/// W4b: the same with groups = 8.
pub type W4b = Conv2d<U64, U32, U3, U1, U0, U1, U8>;
/// W4c: depthwise Conv2d(64, 64, 3, groups=64) then Conv2d(64, 32, 1).
pub type W4c = (Conv2d<U64, U64, U3, U1, U0, U1, U64>, Conv2d<U64, U32, U1>);
/// W4d: ConvTranspose2d(32, 64, 3) on 8x32x126x126.
pub type W4d = ConvTranspose2d<U32, U64, U3>;

/// FLOPs of W4a: 2 N Cout Hout Wout Cin K K.
pub const W4A_FLOPS: f64 = 2.0 * 8.0 * 32.0 * 126.0 * 126.0 * 64.0 * 9.0;

/// W7: `LSTM(64, 256, num_layers=2)` then `Linear(256, 10)` on the last step's output.
#[derive(Module)]
pub struct W7Net {
    pub lstm: LSTM<U64, U256, U2>,
    pub fc: Linear<U256, U10>,
}

pub fn w7_net(seed: u64) -> W7Net {
    let mut r = Rng::seed(seed);
    W7Net {
        lstm: LSTM::new(&mut r),
        fc: Linear::new(&mut r),
    }
}

/// W7a's input: 64 steps of a batch of 32 sequences of 64 features.
pub fn w7_input(seed: u64) -> Tensor<(usize, usize, U64)> {
    Tensor::uniform_shaped((64, 32, U64::new()), &mut Rng::seed(seed), -1.0, 1.0)
}

/// One W7a training step (SGD lr 0.1): the LSTM over the sequence, the linear layer on the
/// last step's output, mean cross-entropy, backward, update.
pub fn w7_train_step(
    net: &mut W7Net,
    opt: &mut SGD,
    x: &Tensor<(usize, usize, U64)>,
    y: &[usize],
) -> f32 {
    let (out, _) = net.lstm.forward(x.clone().trace_no_grad());
    let last = out.shape().0 - 1;
    let logits = net.fc.forward(out.select::<0>(last));
    let loss = CrossEntropyLoss::default().forward(logits, y);
    let grads = loss.backward();
    opt.step(net, &grads);
    loss.item()
}

/// W7b's state: the LSTM's `(h, c)` at batch 1.
pub type W7State = (Tensor<(U2, U1, U256)>, Tensor<(U2, U1, U256)>);

/// One W7b streaming step: one timestep at batch 1, the carried state replaced by the new
/// one (the state's tensors are shared handles: no copy of their values).
pub fn w7_stream_step(net: &W7Net, x: &Tensor<(U1, U1, U64)>, state: &mut W7State) {
    let (_, next) = net.lstm.forward((x.clone(), state.clone()));
    *state = next;
}

/// W8's encoder layer: `TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024,
/// dropout=0.0, batch_first=True)`.
pub type W8Layer = TransformerEncoderLayer<U256, U8, U1024, BatchFirst>;

/// W8a: the encoder layer, the mean over the sequence, `Linear(256, 10)`.
#[derive(Module)]
pub struct W8Net {
    pub layer: W8Layer,
    pub fc: Linear<U256, U10>,
}

pub fn w8_layer(seed: u64) -> W8Layer {
    let cfg = TransformerLayerConfig {
        dropout: 0.0,
        ..Default::default()
    };
    TransformerEncoderLayer::with_options(&mut Rng::seed(seed), cfg)
}

pub fn w8_net(seed: u64) -> W8Net {
    W8Net {
        layer: w8_layer(seed),
        fc: Linear::new(&mut Rng::seed(seed + 1)),
    }
}

/// A batch of `n` sequences of `len` tokens of 256 features, uniform in `[-1, 1)`.
pub fn w8_input(n: usize, len: usize, seed: u64) -> Tensor<(usize, usize, U256)> {
    Tensor::uniform_shaped((n, len, U256::new()), &mut Rng::seed(seed), -1.0, 1.0)
}

/// One W8a training step (SGD lr 0.01): the layer, the mean over the sequence, the linear
/// layer, mean cross-entropy, backward, update.
pub fn w8_train_step(
    net: &mut W8Net,
    opt: &mut SGD,
    x: &Tensor<(usize, usize, U256)>,
    y: &[usize],
) -> f32 {
    let h = net.layer.forward(x.clone().trace_no_grad());
    let logits = net.fc.forward(h.mean_axis::<1>());
    let loss = CrossEntropyLoss::default().forward(logits, y);
    let grads = loss.backward();
    opt.step(net, &grads);
    loss.item()
}

/// Starts a new peak-memory measurement: the kernel's high-water mark of this process's
/// resident memory (`VmHWM`) is reset to its current size (Linux; elsewhere nothing happens
/// and [`peak_rss_mib`] reads `None`).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory in MiB since start or [`reset_peak_rss`] (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
