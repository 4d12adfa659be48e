//! A PyTorch module's state dict (an LSTM of 2 bidirectional batch-first layers and a Linear,
//! saved by `tests/reference/gen_recurrent_extra.py` with `torch.save`'s safetensors
//! counterpart) loads by its own names into a `#[derive(Module)]` struct with the same fields
//! and reproduces the module's output; and the struct's own state dict has exactly PyTorch's
//! names and shapes.

use stensor::io::{load_state_dict, StateDict};
use stensor::nn::*;
use stensor::prelude::*;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/reference/lstm_net.safetensors"
);

/// PyTorch's `Net`: `lstm = nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)`,
/// `fc = nn.Linear(10, 3)`, the last step's output classified.
#[derive(Module)]
struct Net {
    lstm: LSTM<U4, U5, U2, U2, BatchFirst>,
    fc: Linear<U10, U3>,
}

#[test]
fn a_pytorch_lstm_state_dict_loads_and_reproduces_its_outputs() {
    let mut sd = StateDict::read(FILE).unwrap();
    let x: Tensor<(usize, usize, U4)> = sd.tensor("input.x").unwrap();
    let want: Tensor<(usize, U3)> = sd.tensor("output.y").unwrap();
    assert!(sd.remove("input.x") && sd.remove("output.y"));
    let rng = &mut Rng::seed(0);
    let mut net = Net {
        lstm: LSTM::new(rng),
        fc: Linear::new(rng),
    };
    load_state_dict(&mut net, &sd).unwrap();
    let (y, _) = net.lstm.forward(x);
    let steps = y.dims()[1];
    let got = net.fc.forward(y.select::<1>(steps - 1));
    assert_eq!(got.dims(), want.dims());
    for (g, w) in got.as_slice().iter().zip(want.as_slice()) {
        assert!((g - w).abs() < 1e-5, "{g} vs {w}");
    }
    // and the struct saves what PyTorch saved: the same names and shapes
    let ours = StateDict::of(&net);
    let mut names: Vec<&str> = ours.names();
    let mut theirs: Vec<&str> = sd.names();
    names.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(names, theirs);
}
