//! The recurrent layers' and cells' backward against central finite differences in f64,
//! through the input, the initial states and every parameter, for every option: each
//! nonlinearity and cell kind, two layers, both directions, batch first, `proj_size`, no
//! bias, and packed batches.

use stensor::gradcheck::{check_gradients, check_module_gradients};
use stensor::nn::*;
use stensor::prelude::*;

type X = Tensor<(U5, U3, U4), f64>;

/// The sum of the squares: a loss whose weights differ per element.
fn sq<S: Shape>(t: Tensor<S, f64, Tape<f64>>) -> Tensor<(), f64, Tape<f64>> {
    t.square().sum()
}

fn x() -> X {
    Tensor::rand_uniform(1, -1.0, 1.0)
}

/// The sum of squares of the layer's outputs and final states (a loss whose weights differ
/// per element).
macro_rules! module_check {
    ($layer:expr, $f:expr) => {{
        let mut layer = $layer;
        if let Err(e) = check_module_gradients(&mut layer, &x(), $f) {
            panic!("{}: {}", stringify!($layer), e);
        }
    }};
}

#[test]
fn rnn_and_gru_layers() {
    let rng = &mut Rng::seed(3);
    let mut relu = RNN::<U4, U3, U2, U2, SeqFirst, f64>::new(rng);
    relu.nonlinearity = RnnNonlinearity::Relu;
    module_check!(relu, |m, x| {
        let (y, h) = m.forward(x);
        sq(y).add(&sq(h))
    });
    module_check!(
        RNN::<U4, U3, U1, U1, BatchFirst, f64>::without_bias(rng),
        |m, x| {
            let (y, h) = m.forward(x);
            sq(y).add(&sq(h))
        }
    );
    module_check!(GRU::<U4, U3, U2, U2, SeqFirst, f64>::new(rng), |m, x| {
        let (y, h) = m.forward(x);
        sq(y).add(&sq(h))
    });
    module_check!(GRU::<U4, U3, U1, U2, BatchFirst, f64>::new(rng), |m, x| {
        let (y, h) = m.forward_packed(x, &[3, 1, 2, 3, 2], None).unwrap(); // batch first: 5 sequences
        sq(y).add(&sq(h))
    });
}

#[test]
fn lstm_layers() {
    let rng = &mut Rng::seed(4);
    module_check!(
        LSTM::<U4, U3, U2, U2, SeqFirst, U0, f64>::new(rng),
        |m, x| {
            let (y, (h, c)) = m.forward(x);
            sq(y).add(&sq(h)).add(&sq(c))
        }
    );
    module_check!(
        LSTM::<U4, U3, U2, U1, BatchFirst, U2, f64>::new(rng),
        |m, x| {
            let (y, (h, c)) = m.forward(x);
            sq(y).add(&sq(h)).add(&sq(c))
        }
    );
    module_check!(
        LSTM::<U4, U3, U1, U2, SeqFirst, U2, f64>::without_bias(rng),
        |m, x| {
            let (y, (h, c)) = m.forward_packed(x, &[3, 5, 1], None).unwrap();
            sq(y).add(&sq(h)).add(&sq(c))
        }
    );
}

#[test]
fn initial_states() {
    let rng = &mut Rng::seed(5);
    let lstm = LSTM::<U4, U3, U2, U2, SeqFirst, U0, f64>::new(rng);
    let (h0, c0) = (
        Tensor::<(U4, U3, U3), f64>::rand_uniform(6, -1.0, 1.0),
        Tensor::<(U4, U3, U3), f64>::rand_uniform(7, -1.0, 1.0),
    );
    let xt = x().trace_no_grad();
    let loss = |h: Tensor<(U4, U3, U3), f64, Tape<f64>>,
                c: Tensor<(U4, U3, U3), f64, Tape<f64>>| {
        let (y, (hn, cn)) = lstm
            .forward_packed(xt.clone(), &[2, 5, 4], Some((h, c)))
            .unwrap();
        sq(y).add(&sq(hn)).add(&sq(cn))
    };
    check_gradients(|h| loss(h, c0.clone().trace_no_grad()), &h0).unwrap();
    check_gradients(|c| loss(h0.clone().trace_no_grad(), c), &c0).unwrap();
    let gru = GRU::<U4, U3, U1, U2, BatchFirst, f64>::new(rng);
    let h0 = Tensor::<(U2, U5, U3), f64>::rand_uniform(8, -1.0, 1.0);
    check_gradients(
        |h| {
            let (y, hn) = gru.forward((xt.clone(), h));
            sq(y).add(&sq(hn))
        },
        &h0,
    )
    .unwrap();
}

#[test]
fn cells() {
    let rng = &mut Rng::seed(6);
    let xs = Tensor::<(U3, U4), f64>::rand_uniform(9, -1.0, 1.0);
    let h0 = Tensor::<(U3, U5), f64>::rand_uniform(10, -1.0, 1.0);
    let mut relu = RNNCell::<U4, U5, f64>::new(rng);
    relu.nonlinearity = RnnNonlinearity::Relu;
    let lstm = LSTMCell::<U4, U5, f64>::new(rng);
    let gru = GRUCell::<U4, U5, f64>::without_bias(rng);
    let h = || h0.clone().trace_no_grad();
    check_gradients(|x| relu.forward((x, h())).square().sum(), &xs).unwrap();
    check_gradients(|x| gru.forward((x, h())).square().sum(), &xs).unwrap();
    check_gradients(
        |hh| gru.forward((xs.clone().trace_no_grad(), hh)).square().sum(),
        &h0,
    )
    .unwrap();
    check_gradients(
        |x| {
            let (h1, c1) = lstm.forward((x, (h(), h())));
            sq(h1).add(&sq(c1))
        },
        &xs,
    )
    .unwrap();
    let mut cell = LSTMCell::<U4, U5, f64>::new(rng);
    check_module_gradients(&mut cell, &xs, |m, x| {
        let (h1, c1) = m.forward(x);
        sq(h1).add(&sq(c1))
    })
    .unwrap();
}
