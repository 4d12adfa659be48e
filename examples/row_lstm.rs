//! A recurrent network on images, as the seed notes' sequence experiments: an LSTM reads each
//! Fashion-MNIST image as a sequence of its 28 rows (28 features per step), and a linear layer
//! classifies the last step's output. Trained with the LeNet example's loop, progress bar and
//! curves; Adam (lr 0.005), batch 64.
//!
//! ```text
//! cargo run --release --example row_lstm                   # the shipped subset
//! cargo run --release --example row_lstm -- --data ../shared/data/fashion-mnist
//! cargo run --release --example row_lstm -- --plot curves.png --save row_lstm.safetensors
//! ```
//!
//! Options: `--data DIR`, `--epochs N`, `--batch N`, `--lr F`, `--seed N`, `--plot FILE.png`,
//! `--save FILE` (safetensors with PyTorch's names: `lstm.weight_ih_l0`, `fc.weight`, ...).

#[path = "common/mod.rs"]
mod common;

pub use common::{evaluate, train_epoch};
use stensor::autograd::AnyTape;
use stensor::nn::*;
use stensor::optim::Adam;
use stensor::prelude::*;

/// The hidden size.
type Hidden = U64;

/// An LSTM over the rows, batch first, then a linear layer on the last step: the same
/// parameter names as a PyTorch module with fields `lstm = nn.LSTM(28, 64, batch_first=True)`
/// and `fc = nn.Linear(64, 10)`.
#[derive(Module)]
pub struct RowLstm {
    pub lstm: LSTM<U28, Hidden, U1, U1, BatchFirst>,
    pub fc: Linear<Hidden, U10>,
}

impl<T: AnyTape<f32>> Forward<Tensor<(usize, U1, U28, U28), f32, T>> for RowLstm {
    type Output = Tensor<(usize, U10), f32, T>;
    fn forward(&self, x: Tensor<(usize, U1, U28, U28), f32, T>) -> Self::Output {
        // (N, 1, 28, 28) as N sequences of 28 rows of 28
        let rows: Tensor<(usize, U28, U28), f32, T> = x.reshape();
        let (y, _) = self.lstm.forward(rows);
        self.fc.forward(y.select::<1>(27))
    }
}

impl RowLstm {
    /// PyTorch's default initialisation, from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::seed(seed);
        RowLstm {
            lstm: LSTM::new(&mut rng),
            fc: Linear::new(&mut rng),
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, training) = common::parse(&common::FASHION_FLAGS, (8, 64, 0.005, 0))?;
    let (_, _, lr, seed) = training;
    let (_, train, test) = common::fashion_mnist(&flags)?;
    let mut net = RowLstm::new(seed);
    println!("{net}\n");
    let curves = common::fit(&mut net, &mut Adam::new(lr), (&train, &test), training);
    common::plot_if_asked(&flags, &curves)?;
    common::save_if_asked(&flags, &net)
}

fn main() {
    common::main_with(run);
}
