//! A bag-of-embeddings text classifier over variable-length token sequences (PyTorch's
//! `EmbeddingBag` text-classification recipe), trained on a task the example generates: each
//! "article" is 4 to 40 tokens of a 64-word vocabulary; words 1-8 are about sport, 9-16 about
//! politics, 17-24 about science, the rest neutral, and id 0 pads. The label is the topic with
//! the most words (the others appear too, one word fewer at most), so the network must weigh
//! the counts of three groups of words against each other, whatever the length.
//!
//! ```text
//! cargo run --release --example text_classifier
//! cargo run --release --example text_classifier -- --epochs 10 --seed 3
//! ```
//!
//! The batch size and the padded length are runtime dims (`Indices<(usize, usize)>`); the
//! vocabulary, the embedding width and the classes are static, so every layer's shape is
//! checked by `cargo check`. The loader shuffles with the seed and the epoch and pads each
//! batch to its longest review; the mean bag leaves the padding out.

use std::time::Instant;
use stensor::data::{pad_ids, DataLoader};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::{EmbeddingBag, Forward, Linear, Module, ReLU};
use stensor::optim::{Adam, Optimizer};
use stensor::prelude::*;

/// Vocabulary size: id 0 pads, three topics of 8 words from id 1, neutral words from id 25.
type Vocab = U64;
const PAD: i64 = 0;

/// The classifier: mean of the tokens' embeddings (padding left out), one hidden layer, two
/// logits. `sequential` chains the fields; the names are PyTorch's `nn.Sequential`'s.
#[derive(Module)]
#[module(sequential)]
pub struct BagOfEmbeddings(
    EmbeddingBag<Vocab, U32>,
    Linear<U32, U32>,
    ReLU,
    Linear<U32, U3>,
);

impl BagOfEmbeddings {
    /// PyTorch's initialisation from `rng`, the padding id's row zero.
    pub fn new(rng: &mut Rng) -> Self {
        BagOfEmbeddings(
            EmbeddingBag::new(rng).padding_idx(PAD),
            Linear::new(rng),
            ReLU,
            Linear::new(rng),
        )
    }
}

/// `n` articles with their topics, from `rng`.
pub fn articles(n: usize, rng: &mut Rng) -> Vec<(Vec<i64>, usize)> {
    (0..n)
        .map(|_| {
            let topic = rng.below(3) as usize;
            // every topic's words, the label's at least one more than any other's
            let mut counts: [u64; 3] = std::array::from_fn(|_| rng.below(6));
            let most = counts
                .iter()
                .enumerate()
                .filter(|&(t, _)| t != topic)
                .map(|(_, &c)| c)
                .max();
            counts[topic] = counts[topic].max(most.unwrap_or(0) + 1);
            let len = (4 + rng.below(37) as usize).max(counts.iter().sum::<u64>() as usize);
            let mut words: Vec<i64> = Vec::with_capacity(len);
            for (t, &c) in counts.iter().enumerate() {
                for _ in 0..c {
                    words.push(1 + 8 * t as i64 + rng.below(8) as i64);
                }
            }
            while words.len() < len {
                words.push(25 + rng.below(39) as i64);
            }
            for i in (1..words.len()).rev() {
                words.swap(i, rng.below(i as u64 + 1) as usize);
            }
            (words, topic)
        })
        .collect()
}

/// A batch of articles as padded ids and labels.
pub fn collate(items: Vec<(Vec<i64>, usize)>) -> (Indices<(usize, usize)>, Vec<usize>) {
    let (seqs, labels): (Vec<Vec<i64>>, Vec<usize>) = items.into_iter().unzip();
    (pad_ids(&seqs, PAD).0, labels)
}

/// The share of `data` the network classifies right.
pub fn accuracy(net: &BagOfEmbeddings, data: &Vec<(Vec<i64>, usize)>) -> f64 {
    let mut right = 0;
    for (ids, labels) in DataLoader::new(data, 256).collate(collate) {
        let predicted = net.forward(ids).argmax::<1>();
        right += predicted
            .as_slice()
            .iter()
            .zip(&labels)
            .filter(|(&p, &l)| p as usize == l)
            .count();
    }
    right as f64 / data.len() as f64
}

/// One epoch of Adam steps over `data` in batches of 32 shuffled by `seed`; the mean loss.
pub fn train_epoch(
    net: &mut BagOfEmbeddings,
    opt: &mut Adam,
    data: &Vec<(Vec<i64>, usize)>,
    seed: u64,
) -> f64 {
    let loss_fn = CrossEntropyLoss::default();
    let (mut loss_sum, mut seen) = (0.0, 0);
    for (ids, labels) in DataLoader::new(data, 32).shuffle(seed).collate(collate) {
        // traced ids: the graph starts at the embedding, whose table gets a gradient
        let logits = net.forward(ids.trace());
        let loss = loss_fn.forward(logits, &labels);
        opt.step(net, &loss.backward());
        loss_sum += f64::from(loss.item()) * labels.len() as f64;
        seen += labels.len();
    }
    loss_sum / seen as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (epochs, seed) = (arg("--epochs", 6), arg("--seed", 1));
    println!("{}", stensor::cpu_info());

    let mut rng = Rng::seed(seed);
    let train = articles(4000, &mut rng);
    let test = articles(1000, &mut rng);
    let mut net = BagOfEmbeddings::new(&mut rng);
    println!("{net}");
    let mut opt = Adam::new(0.002);
    println!(
        "before training: test accuracy {:.3}",
        accuracy(&net, &test)
    );
    for epoch in 0..epochs {
        let start = Instant::now();
        let loss = train_epoch(&mut net, &mut opt, &train, seed * 1000 + epoch);
        println!(
            "epoch {:>2}: train loss {:.4}, train accuracy {:.3}, test accuracy {:.3} ({:.2} s)",
            epoch + 1,
            loss,
            accuracy(&net, &train),
            accuracy(&net, &test),
            start.elapsed().as_secs_f64()
        );
    }
    let names: Vec<String> = net
        .named_parameters()
        .into_iter()
        .map(|(name, dims)| format!("{name} {dims:?}"))
        .collect();
    println!("parameters (PyTorch's names): {}", names.join(", "));
}
