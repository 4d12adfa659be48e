//! What the training examples share: command-line flags, one training epoch, evaluation, and
//! the epoch loop with a progress bar (d2l's `train_ch6` and the PyTorch quickstart's loops).

#![allow(dead_code)] // each example uses part of it

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;
use stensor::data::{count_correct, ImageDataset, Split};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::{Forward, Module};
use stensor::optim::Optimizer;
use stensor::prelude::*;

/// `--name value` pairs from the command line, checked against the names an example knows.
pub struct Flags(HashMap<String, String>);

impl Flags {
    /// Reads `std::env::args()`; `known` lists the flags (without `--`) with a word on each for
    /// `--help` (which prints them and exits).
    pub fn parse(known: &[(&str, &str)]) -> Result<Flags, String> {
        let help = || {
            let lines: Vec<String> = known
                .iter()
                .map(|(k, what)| format!("  --{k:<10} {what}"))
                .collect();
            format!("options:\n{}", lines.join("\n"))
        };
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                println!("{}", help());
                std::process::exit(0);
            }
            let name = flag.strip_prefix("--").unwrap_or("");
            if !known.iter().any(|(k, _)| *k == name) {
                return Err(format!("unknown option {flag}\n{}", help()));
            }
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            map.insert(name.to_string(), value);
        }
        Ok(Flags(map))
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.0.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot read {v:?}")),
            None => Ok(default),
        }
    }

    /// The value of `--name` if given.
    pub fn opt(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Runs an example's `run`, printing its error (a file, a flag) and exiting with status 1
/// instead of panicking.
pub fn main_with(run: fn() -> Result<(), Box<dyn std::error::Error>>) {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The training hyper-parameters every example takes: epochs, batch size, learning rate, seed.
pub type Training = (usize, usize, f64, u64);

/// Reads the command line: the example's own flags (`extra`, with a word each for `--help`)
/// and `--epochs`, `--batch` (at least 1), `--lr`, `--seed` with the example's `defaults`.
pub fn parse(extra: &[(&str, &str)], defaults: Training) -> Result<(Flags, Training), String> {
    let (epochs, batch, lr, seed) = defaults;
    let help = [
        format!("epochs to train (default {epochs})"),
        format!("batch size (default {batch})"),
        format!("learning rate (default {lr})"),
        format!("seed of the weights and the data order (default {seed})"),
    ];
    let mut known: Vec<(&str, &str)> = extra.to_vec();
    known.extend(
        ["epochs", "batch", "lr", "seed"]
            .into_iter()
            .zip(help.iter().map(String::as_str)),
    );
    let flags = Flags::parse(&known)?;
    let batch = flags.get("batch", batch)?;
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let training = (
        flags.get("epochs", epochs)?,
        batch,
        flags.get("lr", lr)?,
        flags.get("seed", seed)?,
    );
    Ok((flags, training))
}

/// The options of a Fashion-MNIST example that trains, plots and saves: `--data`, `--plot`,
/// `--save`.
pub const FASHION_FLAGS: [(&str, &str); 3] = [
    (
        "data",
        "folder of the Fashion-MNIST files (default: the shipped subset)",
    ),
    (
        "plot",
        "draw the loss and accuracy curves into this PNG file",
    ),
    ("save", "save the weights to this safetensors file"),
];

/// The folder of the Fashion-MNIST subset this repository ships.
pub const SUBSET: &str = "data/fashion-mnist-subset";

/// The folder, training set and test set of Fashion-MNIST.
pub type FashionMnist = (
    String,
    ImageDataset<U1, U28, U28>,
    ImageDataset<U1, U28, U28>,
);

/// Fashion-MNIST's training and test sets from `--data` (default: [`SUBSET`]), with a line
/// saying where they came from; also returns the folder.
pub fn fashion_mnist(flags: &Flags) -> Result<FashionMnist, Box<dyn std::error::Error>> {
    let data = flags.get("data", SUBSET.to_string())?;
    let train = ImageDataset::fashion_mnist(&data, Split::Train)?;
    let test = ImageDataset::fashion_mnist(&data, Split::Test)?;
    println!(
        "Fashion-MNIST from {data}: {} training and {} test images; {} threads",
        train.len(),
        test.len(),
        rayon::current_num_threads()
    );
    Ok((data, train, test))
}

/// Saves `net` to the file `--save` names, if it names one.
pub fn save_if_asked(flags: &Flags, net: &impl Module) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = flags.opt("save") {
        stensor::io::save(net, &path)?;
        println!("saved the weights to {path}");
    }
    Ok(())
}

/// Draws a run's curves into the PNG file `--plot` names, if it names one.
#[cfg(feature = "plot")]
pub fn plot_if_asked(flags: &Flags, curves: &Curves) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = flags.opt("plot") {
        stensor::plot::LinePlot::new("epoch")
            .series("train loss", &curves[0])
            .series("train acc", &curves[1])
            .series("test acc", &curves[2])
            .save_png(&path, 640, 420)?;
        println!("plotted the curves to {path}");
    }
    Ok(())
}

/// A run's TensorBoard log: the scalars of each step and epoch, into `--logdir` (default
/// `runs/<example>`), when the `tensorboard` feature is on; nothing otherwise.
pub struct Board {
    #[cfg(feature = "tensorboard")]
    writer: Option<stensor::tensorboard::SummaryWriter>,
}

impl Board {
    /// No log.
    pub fn off() -> Board {
        Board {
            #[cfg(feature = "tensorboard")]
            writer: None,
        }
    }

    /// A log into `--logdir`, or `runs/<example>`, saying where and how to open it.
    #[cfg(feature = "tensorboard")]
    pub fn from_flags(flags: &Flags, example: &str) -> Result<Board, Box<dyn std::error::Error>> {
        let dir = flags
            .opt("logdir")
            .unwrap_or_else(|| format!("runs/{example}"));
        let writer = stensor::tensorboard::SummaryWriter::new(&dir)?;
        println!("logging to {dir} (open it with: tensorboard --logdir {dir})");
        Ok(Board {
            writer: Some(writer),
        })
    }

    /// The writer, to log more than scalars.
    #[cfg(feature = "tensorboard")]
    pub fn writer(&mut self) -> Option<&mut stensor::tensorboard::SummaryWriter> {
        self.writer.as_mut()
    }

    /// A training step's loss.
    pub fn step(&mut self, _step: u64, _loss: f64) {
        #[cfg(feature = "tensorboard")]
        if let Some(w) = &mut self.writer {
            w.add_scalar("loss/train_step", _loss, _step);
        }
    }

    /// An epoch's mean loss, train and test accuracy; flushed, so TensorBoard shows it now.
    pub fn epoch(
        &mut self,
        _epoch: usize,
        _values: [f64; 3],
    ) -> Result<(), Box<dyn std::error::Error>> {
        #[cfg(feature = "tensorboard")]
        if let Some(w) = &mut self.writer {
            let [loss, acc, test_acc] = _values;
            let e = _epoch as u64;
            w.add_scalar("loss/train", loss, e);
            w.add_scalar("accuracy/train", acc, e);
            w.add_scalar("accuracy/test", test_acc, e);
            w.flush()?;
        }
        Ok(())
    }
}

/// A network that classifies `C x H x W` images into ten classes, traced or not.
pub trait Classifier<C: ConstDim, H: ConstDim, W: ConstDim>: Module
    + Forward<Tensor<(usize, C, H, W), f32, Tape<f32>>, Output = Tensor<(usize, U10), f32, Tape<f32>>>
    + Forward<Tensor<(usize, C, H, W)>, Output = Tensor<(usize, U10)>>
{
}

impl<N, C: ConstDim, H: ConstDim, W: ConstDim> Classifier<C, H, W> for N where
    N: Module
        + Forward<
            Tensor<(usize, C, H, W), f32, Tape<f32>>,
            Output = Tensor<(usize, U10), f32, Tape<f32>>,
        > + Forward<Tensor<(usize, C, H, W)>, Output = Tensor<(usize, U10)>>
{
}

/// Test accuracy: the share of images whose largest logit is their label.
pub fn evaluate<C: ConstDim, H: ConstDim, W: ConstDim>(
    net: &impl Classifier<C, H, W>,
    test: &ImageDataset<C, H, W>,
) -> f64 {
    let correct: usize = test
        .batches_of(500)
        .map(|(x, y)| count_correct(&net.forward(x), &y))
        .sum();
    correct as f64 / test.len().max(1) as f64
}

/// One epoch over `train` in batches shuffled by `seed`: forward, mean cross-entropy, backward,
/// an optimizer step. Calls `progress(mean loss so far, train accuracy so far, examples seen)`
/// after each batch; returns the epoch's mean loss and train accuracy.
pub fn train_epoch<C: ConstDim, H: ConstDim, W: ConstDim>(
    net: &mut impl Classifier<C, H, W>,
    opt: &mut impl Optimizer<f32>,
    train: &ImageDataset<C, H, W>,
    batch: usize,
    seed: u64,
    mut progress: impl FnMut(f64, f64, usize),
) -> (f64, f64) {
    let loss_fn = CrossEntropyLoss::default();
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for (x, y) in train.batches_of(batch).shuffle(seed) {
        let logits = net.forward(x.trace_no_grad());
        correct += count_correct(&logits, &y);
        let loss = loss_fn.forward(logits, &y);
        let grads = loss.backward();
        opt.step(net, &grads);
        loss_sum += f64::from(loss.item()) * y.len() as f64;
        seen += y.len();
        progress(loss_sum / seen as f64, correct as f64 / seen as f64, seen);
    }
    (
        loss_sum / seen.max(1) as f64,
        correct as f64 / seen.max(1) as f64,
    )
}

/// The curves of a run: per epoch, train loss, train accuracy and test accuracy.
pub type Curves = [Vec<(f64, f64)>; 3];

/// Trains `epochs` epochs of batches of `batch` (epoch `e` shuffled by `seed + e`; the
/// learning rate is the optimizer's) with a progress bar per epoch
/// (loss, accuracy, examples/s) and a line after each; prints the totals at the end.
pub fn fit<C: ConstDim, H: ConstDim, W: ConstDim>(
    net: &mut impl Classifier<C, H, W>,
    opt: &mut impl Optimizer<f32>,
    sets: (&ImageDataset<C, H, W>, &ImageDataset<C, H, W>),
    training: Training,
) -> Curves {
    fit_from(net, opt, sets, training, 1, &mut Board::off(), |_, _, _| {
        Ok(())
    })
    .expect("the epoch hook does not fail")
}

/// [`fit`] from epoch `first` on (a resumed run: `seed + e` shuffles epoch `e` as in a run
/// never stopped), logging each step's loss and each epoch's figures to `board`, calling
/// `after_epoch(e, net, opt)` after each epoch (to save a checkpoint, or step a learning-rate
/// schedule).
pub fn fit_from<C: ConstDim, H: ConstDim, W: ConstDim, N, O>(
    net: &mut N,
    opt: &mut O,
    (train, test): (&ImageDataset<C, H, W>, &ImageDataset<C, H, W>),
    (epochs, batch, _, seed): Training,
    first: usize,
    board: &mut Board,
    mut after_epoch: impl FnMut(usize, &N, &mut O) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Curves, Box<dyn std::error::Error>>
where
    N: Classifier<C, H, W>,
    O: Optimizer<f32>,
{
    let mut curves: Curves = Default::default();
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    let start = Instant::now();
    for epoch in first..=epochs {
        let bar = ProgressBar::new(train.len().div_ceil(batch) as u64)
            .with_style(style.clone())
            .with_prefix(format!("epoch {epoch:>2}/{epochs}"));
        let t0 = Instant::now();
        let steps_before = ((epoch - 1) * train.len().div_ceil(batch)) as u64;
        let (mut step, mut total_before, mut seen_before) = (0, 0.0, 0);
        let (loss, acc) = train_epoch(net, opt, train, batch, seed + epoch as u64, |l, a, n| {
            bar.inc(1);
            // the step's own loss, from the running mean before and after it
            step += 1;
            let step_loss = (l * n as f64 - total_before) / (n - seen_before) as f64;
            (total_before, seen_before) = (l * n as f64, n);
            board.step(steps_before + step, step_loss);
            bar.set_message(format!(
                "loss {l:.3}, train acc {a:.3}, {:.0} examples/s",
                n as f64 / t0.elapsed().as_secs_f64()
            ));
        });
        bar.finish_and_clear();
        let secs = t0.elapsed().as_secs_f64();
        let test_acc = evaluate(net, test);
        println!(
            "epoch {epoch:>2}: loss {loss:.3}, train acc {acc:.3}, test acc {test_acc:.3}, \
             {:.0} examples/s",
            train.len() as f64 / secs
        );
        for (curve, v) in curves.iter_mut().zip([loss, acc, test_acc]) {
            curve.push((epoch as f64, v));
        }
        board.epoch(epoch, [loss, acc, test_acc])?;
        after_epoch(epoch, net, opt)?;
    }
    let run = (first..=epochs).count();
    if run > 0 {
        let secs = start.elapsed().as_secs_f64();
        let last = |c: &Vec<(f64, f64)>| c.last().map_or(0.0, |p| p.1);
        println!(
            "loss {:.3}, train acc {:.3}, test acc {:.3}; {run} epochs in {secs:.1} s \
             ({:.0} examples/s, evaluation included)",
            last(&curves[0]),
            last(&curves[1]),
            last(&curves[2]),
            (run * train.len()) as f64 / secs
        );
    }
    Ok(curves)
}

/// `n` generated 3x32x32 images of ten classes: class `c` has its own colour and a bright
/// 8x8 square at its own place, over uniform noise; learnable, and nothing like CIFAR-10.
pub fn generated(
    n: usize,
    seed: u64,
) -> Result<ImageDataset<U3, U32, U32>, stensor::data::DataError> {
    let mut rng = Rng::seed(seed);
    let (mut pixels, mut labels) = (Vec::with_capacity(n * 3072), Vec::with_capacity(n));
    for _ in 0..n {
        let c = rng.below(10) as usize;
        let (sy, sx) = (4 + 6 * (c / 4), 4 + 6 * (c % 4));
        for ch in 0..3 {
            let tint = [60, 120, 180][(c + ch) % 3] as f64;
            for y in 0..32 {
                for x in 0..32 {
                    let square = (sy..sy + 8).contains(&y) && (sx..sx + 8).contains(&x);
                    let v = if square { 230.0 } else { tint } + rng.uniform(-50.0, 50.0);
                    pixels.push(v.clamp(0.0, 255.0) as u8);
                }
            }
        }
        labels.push(c as u8);
    }
    ImageDataset::from_bytes(pixels, labels, 10)
}

/// The training and test sets of CIFAR-10 (or of generated images of its size).
pub type Cifar10 = (ImageDataset<U3, U32, U32>, ImageDataset<U3, U32, U32>);

/// CIFAR-10's training and test sets from `--data DIR`, or `sizes` generated images (saying
/// so), with a line saying which.
pub fn cifar10_or_generated(
    flags: &Flags,
    sizes: (usize, usize),
    seed: u64,
) -> Result<Cifar10, Box<dyn std::error::Error>> {
    let sets = match flags.opt("data") {
        Some(dir) => {
            let sets = (
                ImageDataset::cifar10(&dir, Split::Train)?,
                ImageDataset::cifar10(&dir, Split::Test)?,
            );
            println!(
                "CIFAR-10 from {dir}: {} training and {} test images",
                sets.0.len(),
                sets.1.len()
            );
            sets
        }
        None => {
            let sets = (
                generated(sizes.0, seed + 100)?,
                generated(sizes.1, seed + 200)?,
            );
            println!(
                "no --data given: training on {} GENERATED images (coloured squares, not \
                 CIFAR-10), testing on {} more",
                sets.0.len(),
                sets.1.len()
            );
            sets
        }
    };
    Ok(sets)
}
