//! PyTorch parity of every activation case in `tests/reference/activation.json` (output and
//! input gradient; PReLU's slope gradient), in f64 and f32.

mod common;

use common::{case, cases, check_forward_backward};
use stensor::nn::*;
use stensor::prelude::*;

type X = (U1, U41);

fn run<E: Element, M: Forward<Tensor<X, E, Tape<E>>, Output = Tensor<X, E, Tape<E>>>>(
    name: &str,
    m: M,
) {
    check_forward_backward::<X, X, E, _>(&case("activation", name), |x| m.forward(x), &[]);
}

fn f(name: &str, key: &str) -> f64 {
    case("activation", name).config()[key].as_f64().unwrap()
}

fn all<E: Element>() {
    run::<E, _>("sigmoid", Sigmoid);
    run::<E, _>("tanh", Tanh);
    run::<E, _>("relu", ReLU);
    run::<E, _>("relu6", ReLU6);
    run::<E, _>(
        "leaky_relu",
        LeakyReLU {
            negative_slope: f("leaky_relu", "negative_slope"),
        },
    );
    run::<E, _>("leaky_relu_default", LeakyReLU::default());
    run::<E, _>("elu", ELU::default());
    run::<E, _>(
        "elu_a2",
        ELU {
            alpha: f("elu_a2", "alpha"),
        },
    );
    run::<E, _>("selu", SELU);
    run::<E, _>(
        "celu",
        CELU {
            alpha: f("celu", "alpha"),
        },
    );
    run::<E, _>("gelu", GELU::default());
    run::<E, _>("gelu_tanh", GELU { approximate: true });
    run::<E, _>("softplus", Softplus::default());
    run::<E, _>(
        "softplus_b2",
        Softplus {
            beta: f("softplus_b2", "beta"),
            threshold: f("softplus_b2", "threshold"),
        },
    );
    run::<E, _>("softshrink", Softshrink::default());
    run::<E, _>("hardshrink", Hardshrink::default());
    run::<E, _>("tanhshrink", Tanhshrink);
    run::<E, _>("logsigmoid", LogSigmoid);
    run::<E, _>(
        "hardtanh",
        Hardtanh {
            min_val: f("hardtanh", "min_val"),
            max_val: f("hardtanh", "max_val"),
        },
    );
    run::<E, _>("silu", SiLU);
    run::<E, _>("mish", Mish);
    run::<E, _>("hardswish", Hardswish);
    run::<E, _>("hardsigmoid", Hardsigmoid);
    let mut r = RReLU::new(f("rrelu_eval", "lower"), f("rrelu_eval", "upper"), 0);
    r.eval();
    run::<E, _>("rrelu_eval", r);

    type S = (U2, U3, U4);
    check_forward_backward::<S, S, E, _>(
        &case("activation", "softmax_dim1"),
        |x| Softmax::<1>.forward(x),
        &[],
    );
    check_forward_backward::<S, S, E, _>(
        &case("activation", "softmax_dim2"),
        |x| Softmax::<2>.forward(x),
        &[],
    );
    check_forward_backward::<S, S, E, _>(
        &case("activation", "log_softmax_dim1"),
        |x| LogSoftmax::<1>.forward(x),
        &[],
    );
    check_forward_backward::<(U2, U3), (U2, U3), E, _>(
        &case("activation", "softmax_large_logits"),
        |x| Softmax::<1>.forward(x),
        &[],
    );

    type P = (U2, U3, U4, U4);
    let c = case("activation", "prelu_1");
    let p = PReLU::<U1, E>::new();
    assert_eq!(
        p.weight.to_vec(),
        c.tensor::<(U1,), E>(&["params", "weight"]).to_vec(),
        "PReLU init 0.25"
    );
    check_forward_backward::<P, P, E, _>(&c, |x| p.forward(x), &[("weight", p.weight.id())]);
    let c = case("activation", "prelu_3");
    let p = PReLU::<U3, E> {
        weight: c.tensor(&["params", "weight"]),
    };
    let mut w = p.weight.clone();
    w.set_requires_grad(true);
    let p = PReLU { weight: w };
    check_forward_backward::<P, P, E, _>(&c, |x| p.forward(x), &[("weight", p.weight.id())]);
}

#[test]
fn activations_match_pytorch() {
    all::<f64>();
    all::<f32>();
    assert_eq!(
        cases("activation").len(),
        30,
        "activation.json gained cases: add them above"
    );
}
