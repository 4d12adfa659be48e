//! The seed networks compose with every shape inferred end to end, and the W1 LeNet reproduces
//! PyTorch's reference training step (`tests/reference/model.json`, case `lenet_step`): logits,
//! cross-entropy loss and the gradient of every parameter, in f64 and f32.

mod common;

use common::{assert_close, case, Case};
use stensor::nn::*;
use stensor::prelude::*;

/// The W1 LeNet of the seed notes, field names after PyTorch's `nn.Sequential` indices.
struct LeNet<E: Element> {
    c0: Conv2d<U1, U6, U5, U1, U2, U1, U1, Zeros, E>,
    c3: Conv2d<U6, U16, U5, U1, U0, U1, U1, Zeros, E>,
    f7: Linear<U400, U120, E>,
    f9: Linear<U120, U84, E>,
    f11: Linear<U84, U10, E>,
}

impl<E: Element> LeNet<E> {
    fn from_case(c: &Case) -> Self {
        fn p(n: &str) -> [&str; 2] {
            ["params", n]
        }
        LeNet {
            c0: Conv2d::from_params(
                c.tensor(&p("net.0.weight")),
                Some(c.tensor(&p("net.0.bias"))),
            ),
            c3: Conv2d::from_params(
                c.tensor(&p("net.3.weight")),
                Some(c.tensor(&p("net.3.bias"))),
            ),
            f7: Linear::from_params(
                c.tensor(&p("net.7.weight")),
                Some(c.tensor(&p("net.7.bias"))),
            ),
            f9: Linear::from_params(
                c.tensor(&p("net.9.weight")),
                Some(c.tensor(&p("net.9.bias"))),
            ),
            f11: Linear::from_params(
                c.tensor(&p("net.11.weight")),
                Some(c.tensor(&p("net.11.bias"))),
            ),
        }
    }

    /// Every output type below is inferred; the annotations only document them.
    fn forward<B: Dim, T: TapeMode<E>>(
        &self,
        x: Tensor<(B, U1, U28, U28), E, T>,
    ) -> Tensor<(B, U10), E, T> {
        let pool = AvgPool2d::<U2>::new();
        let x: Tensor<(B, U6, U28, U28), E, T> = self.c0.forward(x).sigmoid();
        let x: Tensor<(B, U6, U14, U14), E, T> = pool.forward(x);
        let x: Tensor<(B, U16, U10, U10), E, T> = self.c3.forward(x).sigmoid();
        let x: Tensor<(B, U16, U5, U5), E, T> = pool.forward(x);
        let x: Tensor<(B, U400), E, T> = Flatten::<1, -1>::new().forward(x);
        let x = self.f7.forward(x).sigmoid();
        let x = self.f9.forward(x).sigmoid();
        self.f11.forward(x)
    }

    fn params(&self) -> Vec<(&'static str, stensor::autograd::UniqueId)> {
        vec![
            ("net.0.weight", self.c0.weight.id()),
            ("net.0.bias", self.c0.bias.as_ref().unwrap().id()),
            ("net.3.weight", self.c3.weight.id()),
            ("net.3.bias", self.c3.bias.as_ref().unwrap().id()),
            ("net.7.weight", self.f7.weight.id()),
            ("net.7.bias", self.f7.bias.as_ref().unwrap().id()),
            ("net.9.weight", self.f9.weight.id()),
            ("net.9.bias", self.f9.bias.as_ref().unwrap().id()),
            ("net.11.weight", self.f11.weight.id()),
            ("net.11.bias", self.f11.bias.as_ref().unwrap().id()),
        ]
    }
}

/// Mean cross-entropy of `logits` against class indices, with ops: `-mean(log_softmax(z)[y])`.
fn cross_entropy<B: Dim, C: ConstDim, E: Element, T: TapeMode<E>>(
    logits: Tensor<(B, C), E, T>,
    target: &[usize],
) -> Tensor<(), E, T> {
    let onehot = Tensor::<(B, C), E>::from_fn_shaped(logits.shape(), |[i, j]| {
        if target[i] == j {
            E::one()
        } else {
            E::zero()
        }
    });
    logits
        .log_softmax::<1>()
        .mul(&onehot)
        .sum_axis::<1>()
        .mean()
        .neg()
}

fn lenet_step<E: Element>() {
    let c = case("model", "lenet_step");
    let net = LeNet::<E>::from_case(&c);
    let x = c
        .tensor::<(U4, U1, U28, U28), E>(&["inputs", "x"])
        .trace_no_grad();
    let target: Vec<usize> = c
        .data(&["inputs", "target"])
        .iter()
        .map(|&t| t as usize)
        .collect();
    let logits = net.forward(x);
    assert_close("lenet logits", logits.as_slice(), &c.data(&["output"]));
    let loss = cross_entropy(logits, &target);
    assert_close(
        "lenet loss",
        loss.as_slice(),
        &[c.0["loss"].as_f64().unwrap()],
    );
    let grads = loss.backward();
    for (name, id) in net.params() {
        let g = grads
            .by_id(id)
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        assert_close(&format!("lenet grad {name}"), g, &c.data(&["grads", name]));
    }
}

#[test]
fn lenet_reproduces_pytorchs_training_step() {
    lenet_step::<f64>();
    lenet_step::<f32>();
}

#[test]
fn lenet_runs_on_a_runtime_batch() {
    let c = case("model", "lenet_step");
    let net = LeNet::<f32>::from_case(&c);
    let x = Tensor::<(usize, U1, U28, U28)>::uniform_shaped(
        (3, U1::new(), U28::new(), U28::new()),
        &mut Rng::seed(1),
        0.0,
        1.0,
    );
    assert_eq!(net.forward(x).dims(), [3, 10]);
}

/// The seed CIFAR-10 net (MYNN2): every shape inferred from `(B, 3, 32, 32)` to `(B, 10)`.
#[test]
fn cifar_net_composes_and_trains_a_step() {
    let mut rng = Rng::seed(0);
    let c1 = Conv2d::<U3, U32, U5, U1, U2>::new(&mut rng);
    let c2 = Conv2d::<U32, U32, U5, U1, U2>::new(&mut rng);
    let c3 = Conv2d::<U32, U64, U5, U1, U2>::new(&mut rng);
    let f1 = Linear::<U1024, U64>::new(&mut rng);
    let f2 = Linear::<U64, U10>::new(&mut rng);
    let pool = MaxPool2d::<U2>::new();
    let x = Tensor::<(U4, U3, U32, U32)>::rand_uniform(1, -1.0, 1.0).trace_no_grad();
    let y = pool.forward(c1.forward(x));
    let y = pool.forward(c2.forward(y));
    let y = pool.forward(c3.forward(y));
    let y = f2.forward(f1.forward(Flatten::<1, -1>::new().forward(y)));
    let loss = cross_entropy(y, &[0, 3, 9, 1]);
    let grads = loss.backward();
    for w in [
        c1.weight.id(),
        c2.weight.id(),
        c3.weight.id(),
        f1.weight.id(),
        f2.weight.id(),
    ] {
        let g = grads.by_id(w).expect("every weight gets a gradient");
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
    }
}

/// The seed MLP: Flatten, Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10).
#[test]
fn mlp_composes() {
    let mut rng = Rng::seed(0);
    let l1 = Linear::<U784, U512>::new(&mut rng);
    let l2 = Linear::<U512, U512>::new(&mut rng);
    let l3 = Linear::<U512, U10>::new(&mut rng);
    let x = Tensor::<(U2, U28, U28)>::rand_uniform(2, 0.0, 1.0);
    let h = l1.forward(Flatten::<1, -1>::new().forward(x)).relu();
    let y: Tensor<(U2, U10)> = l3.forward(l2.forward(h).relu());
    assert!(y.as_slice().iter().all(|v| v.is_finite()));
}
