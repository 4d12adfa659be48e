//! PyTorch parity of every case of `tests/reference/recurrent.json`: RNN, LSTM and GRU (layers,
//! directions, batch first, `proj_size`, no bias, initial states, packed batches with
//! unsorted lengths) and their cells: outputs, final states and the gradients of the input,
//! the initial states and every parameter (by PyTorch's state-dict names), in f64 and f32.

mod common;

use common::{assert_close, cases, check_params, load, weighted, Case};
use stensor::autograd::Gradients;
use stensor::nn::*;
use stensor::prelude::*;

fn check_close<S: Shape, E: Element>(
    c: &Case,
    what: &str,
    y: &Tensor<S, E, Tape<E>>,
    path: &[&str],
) {
    assert_eq!(
        &y.dims()[..],
        &c.dims(path)[..],
        "{}: {what} dims",
        c.name()
    );
    assert_close(&format!("{} {what}", c.name()), y.as_slice(), &c.data(path));
}

fn input<S: Shape, E: Element>(c: &Case, name: &str, shape: S) -> Option<Tensor<S, E, Tape<E>>> {
    c.has(&["inputs", name]).then(|| {
        let v = c
            .data(&["inputs", name])
            .into_iter()
            .map(E::from_f64)
            .collect();
        Tensor::from_vec_shaped(shape, v).unwrap().trace()
    })
}

fn check_input_grad<S: Shape, E: Element>(
    c: &Case,
    g: &Gradients<E>,
    x: &Option<Tensor<S, E, Tape<E>>>,
    name: &str,
) {
    if let Some(x) = x {
        assert_close(
            &format!("{} grad {name}", c.name()),
            g.get(x).unwrap().as_slice(),
            &c.data(&["grads", name]),
        );
    }
}

fn cells<E: Element>() {
    type N = usize;
    let n = |c: &Case| c.dims(&["inputs", "x"])[0];
    for c in cases("recurrent") {
        let kind = c.0["kind"].as_str().unwrap().to_string();
        if !kind.ends_with("Cell") {
            continue;
        }
        let bias = c.config()["bias"].as_bool().unwrap();
        let x = input::<(N, U4), E>(&c, "x", (n(&c), U4::new())).unwrap();
        let h0 = input::<(N, U5), E>(&c, "h0", (n(&c), U5::new()));
        let c0 = input::<(N, U5), E>(&c, "c0", (n(&c), U5::new()));
        let rng = &mut Rng::seed(0);
        match kind.as_str() {
            "RNNCell" | "GRUCell" => {
                macro_rules! run {
                    ($cell:expr) => {{
                        let mut cell = $cell;
                        load(&mut cell, &c);
                        let y = match &h0 {
                            Some(h) => cell.forward((x.clone(), h.clone())),
                            None => cell.forward(x.clone()),
                        };
                        check_close(&c, "output", &y, &["output"]);
                        let g = weighted(&y, &c, &["grad_output"]).backward();
                        check_params(&cell, &g, &c);
                        check_input_grad(&c, &g, &Some(x.clone()), "x");
                        check_input_grad(&c, &g, &h0, "h0");
                    }};
                }
                if kind == "RNNCell" {
                    let mut cell = if bias {
                        RNNCell::<U4, U5, E>::new(rng)
                    } else {
                        RNNCell::without_bias(rng)
                    };
                    if c.config()["nonlinearity"] == "relu" {
                        cell.nonlinearity = RnnNonlinearity::Relu;
                    }
                    run!(cell)
                } else {
                    run!(if bias {
                        GRUCell::<U4, U5, E>::new(rng)
                    } else {
                        GRUCell::without_bias(rng)
                    })
                }
            }
            "LSTMCell" => {
                let mut cell = if bias {
                    LSTMCell::<U4, U5, E>::new(rng)
                } else {
                    LSTMCell::without_bias(rng)
                };
                load(&mut cell, &c);
                let (h, cs) = match (&h0, &c0) {
                    (Some(h), Some(s)) => cell.forward((x.clone(), (h.clone(), s.clone()))),
                    _ => cell.forward(x.clone()),
                };
                check_close(&c, "output", &h, &["output"]);
                check_close(&c, "c_1", &cs, &["states", "c_1"]);
                let loss = weighted(&h, &c, &["grad_output"]).add(&weighted(
                    &cs,
                    &c,
                    &["grad_states", "c_1"],
                ));
                let g = loss.backward();
                check_params(&cell, &g, &c);
                check_input_grad(&c, &g, &Some(x.clone()), "x");
                check_input_grad(&c, &g, &h0, "h0");
                check_input_grad(&c, &g, &c0, "c0");
            }
            k => panic!("{k}"),
        }
    }
}

/// The case's lengths, if it is packed.
fn lengths(c: &Case) -> Option<Vec<i64>> {
    c.has(&["inputs", "lengths"]).then(|| {
        c.data(&["inputs", "lengths"])
            .into_iter()
            .map(|v| v as i64)
            .collect()
    })
}

/// `(x, h0, c0)` of a layer case: `x` with runtime steps and batch, the states `(SD, N, K)`.
#[allow(clippy::type_complexity)]
fn layer_inputs<SD: ConstDim, HO: ConstDim, E: Element>(
    c: &Case,
) -> (
    Tensor<(usize, usize, U4), E, Tape<E>>,
    Option<Tensor<(SD, usize, HO), E, Tape<E>>>,
    Option<Tensor<(SD, usize, U5), E, Tape<E>>>,
) {
    let d = c.dims(&["inputs", "x"]);
    let x = input(c, "x", (d[0], d[1], U4::new())).unwrap();
    let n = if c.config()["batch_first"].as_bool().unwrap() {
        d[0]
    } else {
        d[1]
    };
    (
        x,
        input(c, "h0", (SD::default(), n, HO::default())),
        input(c, "c0", (SD::default(), n, U5::default())),
    )
}

/// Runs an RNN or GRU case on `$layer` (its type fixing layers, directions and layout).
macro_rules! hidden_layer_case {
    ($c:expr, $E:ty, $layer:ty, $SD:ty) => {{
        let c: &Case = $c;
        let rng = &mut Rng::seed(0);
        let mut layer = if c.config()["bias"].as_bool().unwrap() {
            <$layer>::new(rng)
        } else {
            <$layer>::without_bias(rng)
        };
        if c.config()["nonlinearity"] == "relu" {
            layer.nonlinearity = RnnNonlinearity::Relu;
        }
        load(&mut layer, c);
        let (x, h0, _) = layer_inputs::<$SD, U5, $E>(c);
        let (y, h) = match lengths(c) {
            Some(l) => layer.forward_packed(x.clone(), &l, h0.clone()).unwrap(),
            None => match &h0 {
                Some(h0) => layer.forward((x.clone(), h0.clone())),
                None => layer.forward(x.clone()),
            },
        };
        check_close(c, "output", &y, &["output"]);
        check_close(c, "h_n", &h, &["states", "h_n"]);
        let g = weighted(&y, c, &["grad_output"])
            .add(&weighted(&h, c, &["grad_states", "h_n"]))
            .backward();
        check_params(&layer, &g, c);
        check_input_grad(c, &g, &Some(x), "x");
        check_input_grad(c, &g, &h0, "h0");
    }};
}

/// Runs an LSTM case on `$layer`, whose output size is `$HO`.
macro_rules! lstm_case {
    ($c:expr, $E:ty, $layer:ty, $SD:ty, $HO:ty) => {{
        let c: &Case = $c;
        let rng = &mut Rng::seed(0);
        let mut layer = if c.config()["bias"].as_bool().unwrap() {
            <$layer>::new(rng)
        } else {
            <$layer>::without_bias(rng)
        };
        load(&mut layer, c);
        let (x, h0, c0) = layer_inputs::<$SD, $HO, $E>(c);
        let init = h0.clone().zip(c0.clone());
        let (y, (h, cn)) = match lengths(c) {
            Some(l) => layer.forward_packed(x.clone(), &l, init).unwrap(),
            None => match init {
                Some(init) => layer.forward((x.clone(), init)),
                None => layer.forward(x.clone()),
            },
        };
        check_close(c, "output", &y, &["output"]);
        check_close(c, "h_n", &h, &["states", "h_n"]);
        check_close(c, "c_n", &cn, &["states", "c_n"]);
        let loss = weighted(&y, c, &["grad_output"])
            .add(&weighted(&h, c, &["grad_states", "h_n"]))
            .add(&weighted(&cn, c, &["grad_states", "c_n"]));
        let g = loss.backward();
        check_params(&layer, &g, c);
        check_input_grad(c, &g, &Some(x), "x");
        check_input_grad(c, &g, &h0, "h0");
        check_input_grad(c, &g, &c0, "c0");
    }};
}

fn layers<E: Element>() {
    let mut ran = 0;
    for c in cases("recurrent") {
        let kind = c.0["kind"].as_str().unwrap().to_string();
        if kind.ends_with("Cell") {
            continue;
        }
        let cfg = c.config();
        let key = (
            cfg["num_layers"].as_u64().unwrap(),
            cfg["bidirectional"].as_bool().unwrap(),
            cfg["batch_first"].as_bool().unwrap(),
            cfg["proj_size"].as_u64().unwrap_or(0),
        );
        match (kind.as_str(), key) {
            ("RNN", (1, false, false, 0)) => {
                hidden_layer_case!(&c, E, RNN<U4, U5, U1, U1, SeqFirst, E>, U1)
            }
            ("RNN", (2, false, true, 0)) => {
                hidden_layer_case!(&c, E, RNN<U4, U5, U2, U1, BatchFirst, E>, U2)
            }
            ("RNN", (1, true, false, 0)) => {
                hidden_layer_case!(&c, E, RNN<U4, U5, U1, U2, SeqFirst, E>, U2)
            }
            ("RNN", (2, true, false, 0)) => {
                hidden_layer_case!(&c, E, RNN<U4, U5, U2, U2, SeqFirst, E>, U4)
            }
            ("GRU", (1, false, false, 0)) => {
                hidden_layer_case!(&c, E, GRU<U4, U5, U1, U1, SeqFirst, E>, U1)
            }
            ("GRU", (2, false, true, 0)) => {
                hidden_layer_case!(&c, E, GRU<U4, U5, U2, U1, BatchFirst, E>, U2)
            }
            ("GRU", (1, true, false, 0)) => {
                hidden_layer_case!(&c, E, GRU<U4, U5, U1, U2, SeqFirst, E>, U2)
            }
            ("GRU", (2, true, false, 0)) => {
                hidden_layer_case!(&c, E, GRU<U4, U5, U2, U2, SeqFirst, E>, U4)
            }
            ("LSTM", (1, false, false, 0)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U1, SeqFirst, U0, E>, U1, U5)
            }
            ("LSTM", (2, false, false, 0)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U2, U1, SeqFirst, U0, E>, U2, U5)
            }
            ("LSTM", (1, true, true, 0)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U2, BatchFirst, U0, E>, U2, U5)
            }
            ("LSTM", (1, true, false, 0)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U2, SeqFirst, U0, E>, U2, U5)
            }
            ("LSTM", (2, true, true, 0)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U2, U2, BatchFirst, U0, E>, U4, U5)
            }
            ("LSTM", (1, false, false, 3)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U1, SeqFirst, U3, E>, U1, U3)
            }
            ("LSTM", (1, false, true, 3)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U1, BatchFirst, U3, E>, U1, U3)
            }
            ("LSTM", (2, false, true, 3)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U2, U1, BatchFirst, U3, E>, U2, U3)
            }
            ("LSTM", (1, true, false, 2)) => {
                lstm_case!(&c, E, LSTM<U4, U5, U1, U2, SeqFirst, U2, E>, U2, U2)
            }
            (k, key) => panic!("{}: no instance for {k} {key:?}", c.name()),
        }
        ran += 1;
    }
    assert_eq!(ran, 28, "every layer case");
}

#[test]
fn layers_match_pytorch() {
    layers::<f64>();
    layers::<f32>();
}

#[test]
fn cells_match_pytorch() {
    cells::<f64>();
    cells::<f32>();
}
