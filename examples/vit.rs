//! A small vision transformer on Fashion-MNIST, as a seed-style experiment: each 28 x 28 image
//! is read as a sequence of its sixteen 7 x 7 patches, each patch embedded by a strided
//! convolution (`Conv2d(1, 64, 7, stride=7)`, timm's `patch_embed.proj`), a learned position
//! embedding added, two pre-norm Transformer encoder layers (4 heads, GELU), the tokens
//! averaged and a linear layer classifying. Trained with the LeNet example's loop, progress bar
//! and curves; AdamW (lr 0.002, weight decay 0.05, a cosine schedule), batch 64, 15 epochs. The model tree prints with every
//! static shape before training starts (the tree, then the table of every layer's input and
//! output shape).
//!
//! ```text
//! cargo run --release --example vit                   # the shipped subset
//! cargo run --release --example vit -- --data ../shared/data/fashion-mnist
//! cargo run --release --example vit -- --plot curves.png --save vit.safetensors
//! ```
//!
//! Options: `--data DIR`, `--epochs N`, `--batch N`, `--lr F`, `--seed N`, `--plot FILE.png`,
//! `--save FILE` (safetensors with PyTorch's names: `patch_embed.proj.weight`,
//! `encoder.layers.0.self_attn.in_proj_weight`, `head.weight`, ...).

#[path = "common/mod.rs"]
mod common;

pub use common::evaluate;
use stensor::autograd::AnyTape;
use stensor::data::ImageDataset;
use stensor::nn::*;
use stensor::optim::{AdamW, CosineAnnealingLR, LrScheduler};
use stensor::prelude::*;
use stensor::shape::Dim;

/// The embedding size (`d_model`).
pub type Embed = U64;
/// Attention heads.
pub type Heads = U4;
/// The feed-forward block's width.
pub type FeedForward = U128;
/// Patches per image: a 4 x 4 grid of 7 x 7 patches.
pub type Tokens = U16;

/// A batch of `N` images.
pub type Images<N, T> = Tensor<(N, U1, U28, U28), f32, T>;
/// A batch of `N` token sequences `(N, 16, 64)`.
pub type Sequences<N, T> = Tensor<(N, Tokens, Embed), f32, T>;

/// The patches of an image as tokens: a 7 x 7 convolution of stride 7 gives each patch's
/// embedding at its place in the 4 x 4 grid, read in row order as a sequence.
#[derive(Module)]
pub struct PatchEmbed {
    pub proj: Conv2d<U1, Embed, U7, U7>,
}

impl<N: Dim, T: AnyTape<f32>> Forward<Images<N, T>> for PatchEmbed {
    type Output = Sequences<N, T>;
    fn forward(&self, x: Images<N, T>) -> Self::Output {
        // (N, 64, 4, 4) -> (N, 64, 16) -> (N, 16, 64)
        let grid = self.proj.forward(x);
        let flat: Tensor<(N, Embed, Tokens), f32, T> = grid.flatten::<2, -1>();
        flat.transpose::<1, 2>()
    }
}

/// A learned embedding of each token's position, added to the tokens.
#[derive(Module)]
pub struct PositionEmbedding {
    #[module(param)]
    pub weight: Tensor<(Tokens, Embed)>,
}

impl<N: Dim, T: AnyTape<f32>> Forward<Sequences<N, T>> for PositionEmbedding {
    type Output = Sequences<N, T>;
    fn forward(&self, x: Sequences<N, T>) -> Self::Output {
        x.broadcast_add(&self.weight)
    }
}

/// The mean of the tokens: one vector per image.
#[derive(Module)]
pub struct MeanTokens;

impl<N: Dim, T: AnyTape<f32>> Forward<Sequences<N, T>> for MeanTokens {
    type Output = Tensor<(N, Embed), f32, T>;
    fn forward(&self, x: Sequences<N, T>) -> Self::Output {
        x.mean_axis::<1>()
    }
}

macro_rules! one_row {
    ($($layer:ty: $input:ty),*) => {$(
        impl<N: Dim, T: AnyTape<f32>> Summarize<$input> for $layer {
            fn summary_rows(&self, prefix: &str, rows: &mut Vec<SummaryRow>) {
                rows.push(layer_row::<$input, Self>(self, prefix));
            }
        }
    )*};
}
one_row!(PatchEmbed: Images<N, T>, PositionEmbedding: Sequences<N, T>, MeanTokens: Sequences<N, T>);

/// The vision transformer: patches, positions, encoder, mean of the tokens, classifier.
#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U1, U28, U28)>)]
pub struct VisionTransformer {
    pub patch_embed: PatchEmbed,
    pub pos_embed: PositionEmbedding,
    pub encoder: TransformerEncoder<Embed, Heads, FeedForward, BatchFirst>,
    pub pool: MeanTokens,
    pub head: Linear<Embed, U10>,
}

impl VisionTransformer {
    /// Two pre-norm GELU encoder layers (dropout 0.1) with a final norm, the position
    /// embedding drawn from `N(0, 0.02^2)` as timm's, the rest PyTorch's defaults, from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::seed(seed);
        let cfg = TransformerLayerConfig {
            activation: FeedForwardActivation::Gelu,
            norm_first: true,
            ..Default::default()
        };
        let patch_embed = PatchEmbed {
            proj: Conv2d::new(&mut rng),
        };
        let mut pos = Tensor::<(Tokens, Embed)>::zeros();
        init::normal_(&mut pos, 0.0, 0.02, &mut rng);
        pos.set_requires_grad(true);
        let layers = (0..2)
            .map(|_| TransformerEncoderLayer::with_options(&mut rng, cfg))
            .collect();
        VisionTransformer {
            patch_embed,
            pos_embed: PositionEmbedding { weight: pos },
            encoder: TransformerEncoder::new(layers, Some(LayerNorm::new())),
            pool: MeanTokens,
            head: Linear::new(&mut rng),
        }
    }
}

/// The example's recipe: AdamW (weight decay 0.05) at `training`'s rate, falling along a half
/// cosine to 0 over the run (timm's schedule, without warm-up), with the LeNet example's loop.
pub fn fit(
    net: &mut VisionTransformer,
    sets: (&ImageDataset<U1, U28, U28>, &ImageDataset<U1, U28, U28>),
    training: common::Training,
) -> Result<common::Curves, Box<dyn std::error::Error>> {
    let mut opt = AdamW::new(training.2).with_weight_decay(0.05);
    let mut schedule = CosineAnnealingLR::new(&mut opt, training.0, 0.0);
    common::fit_from(
        net,
        &mut opt,
        sets,
        training,
        1,
        &mut common::Board::off(),
        |_, _, opt| {
            schedule.step(opt);
            Ok(())
        },
    )
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, training) = common::parse(&common::FASHION_FLAGS, (15, 64, 0.002, 0))?;
    let seed = training.3;
    let (_, train, test) = common::fashion_mnist(&flags)?;
    let mut net = VisionTransformer::new(seed);
    println!("{net}\n");
    println!("{}", summary::<Tensor<(usize, U1, U28, U28)>, _>(&net));
    let curves = fit(&mut net, (&train, &test), training)?;
    common::plot_if_asked(&flags, &curves)?;
    common::save_if_asked(&flags, &net)
}

fn main() {
    common::main_with(run);
}
