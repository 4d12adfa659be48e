//! `#[derive(Module)]`: names, nesting, generics, skip, train/eval, apply, Sequential, gradients
//! by name, and the PyTorch-style printouts of the seed networks with their static shapes.

// Sequential networks as tuples are long types by nature.
#![allow(clippy::type_complexity)]
// Both examples included below bring their shared `examples/common` module along.
#![allow(clippy::duplicate_mod)]

use stensor::loss::CrossEntropyLoss;
use stensor::nn::init::{xavier_uniform_, FanMode};
use stensor::nn::*;
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

#[derive(Module)]
struct Block {
    conv: Conv2d<U4, U4, U3, U1, U1>,
    bn: BatchNorm2d<U4>,
    drop: Dropout,
}

impl Block {
    fn new(rng: &mut Rng) -> Self {
        Block {
            conv: Conv2d::new(rng),
            bn: BatchNorm2d::new(),
            drop: Dropout::new(0.5, 0),
        }
    }
}

#[derive(Module)]
struct Deep {
    stem: Conv2d<U1, U4, U3, U1, U1>,
    blocks: [Block; 2],
    extra: Vec<Block>,
    #[module(skip)]
    label: String,
    head: (Flatten, Linear<U64, U3>),
}

fn deep() -> Deep {
    let mut rng = Rng::seed(0);
    Deep {
        stem: Conv2d::new(&mut rng),
        blocks: [Block::new(&mut rng), Block::new(&mut rng)],
        extra: vec![Block::new(&mut rng)],
        label: "skipped".into(),
        head: (Flatten::new(), Linear::new(&mut rng)),
    }
}

#[test]
fn parameters_and_buffers_have_dotted_pytorch_names() {
    let net = deep();
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..4],
        [
            "stem.weight",
            "stem.bias",
            "blocks.0.conv.weight",
            "blocks.0.conv.bias"
        ]
    );
    assert!(names.contains(&"blocks.1.bn.weight".to_string()));
    assert!(names.contains(&"extra.0.conv.weight".to_string()));
    assert_eq!(names.last().unwrap(), "head.1.bias");
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers[..3],
        [
            "blocks.0.bn.running_mean",
            "blocks.0.bn.running_var",
            "blocks.0.bn.num_batches_tracked"
        ]
    );
    let conv = 4 * 9 * 4 + 4;
    assert_eq!(net.num_params(), (4 * 9 + 4) + 3 * (conv + 8) + 64 * 3 + 3);
    assert_eq!(net.label, "skipped");
}

#[test]
fn train_and_eval_reach_every_layer_inside() {
    let mut net = deep();
    net.eval();
    assert!(!net.blocks[1].bn.is_training() && !net.extra[0].drop.is_training());
    net.train();
    assert!(net.blocks[0].bn.is_training() && net.extra[0].drop.is_training());
}

#[test]
fn apply_reinitialises_every_convolution() {
    let mut net = deep();
    let mut rng = Rng::seed(9);
    let mut convs = 0;
    net.apply(&mut |m| {
        if let Some(c) = m.as_any_mut().downcast_mut::<Conv2d<U4, U4, U3, U1, U1>>() {
            xavier_uniform_(&mut c.weight, 1.0, &mut rng);
            convs += 1;
        } else if m.kind() == "BatchNorm2d" {
            // by kind, through the visitor: weight to 2
            m.visit_mut("", &mut |name, t| {
                if let (true, stensor::tensor::ValuesMut::F32(v)) = (name == "weight", t.values) {
                    v.fill(2.0);
                }
            });
        }
    });
    assert_eq!(convs, 3);
    assert_eq!(
        net.blocks[1].bn.weight.as_ref().unwrap().to_vec(),
        vec![2.0; 4]
    );
    let b = (6.0f32 / 72.0).sqrt();
    assert!(net.blocks[0]
        .conv
        .weight
        .to_vec()
        .iter()
        .all(|w| w.abs() <= b));
    let _ = FanMode::FanIn;
}

#[derive(Module)]
struct Tuple(Linear<U2, U3>, ReLU, #[module(skip)] usize);

#[derive(Module)]
struct Generic<Hidden: ConstDim, Elem: Element> {
    fc: Linear<U4, Hidden, Elem>,
    act: Option<ReLU>,
}

#[test]
fn tuple_structs_and_generics_of_any_name() {
    let t = Tuple(Linear::new(&mut Rng::seed(0)), ReLU, 7);
    assert_eq!(t.named_parameters()[0].0, "0.weight");
    assert_eq!(t.2, 7);
    let g = Generic::<U8, f64> {
        fc: Linear::new(&mut Rng::seed(0)),
        act: Some(ReLU),
    };
    assert_eq!(
        g.named_parameters()[0],
        ("fc.weight".to_string(), vec![8, 4])
    );
}

/// A residual block: forward written by hand, not a chain.
#[derive(Module)]
struct Residual {
    fc: Linear<U4, U4, f64>,
}

impl Residual {
    fn forward<T: TapeMode<f64> + stensor::autograd::MergeTape<f64, T, Output = T>>(
        &self,
        x: Tensor<(usize, U4), f64, T>,
    ) -> Tensor<(usize, U4), f64, T> {
        x.clone().add(&self.fc.forward(x).relu())
    }
}

#[test]
fn gradients_reach_every_parameter_by_name_and_step_updates_them() {
    let mut net = Residual {
        fc: Linear::new(&mut Rng::seed(0)),
    };
    let x =
        Tensor::<(usize, U4), f64>::uniform_shaped((3, U4::new()), &mut Rng::seed(1), -1.0, 1.0);
    let grads = net.forward(x.trace_no_grad()).square().sum().backward();
    let gw = grads
        .get(&net.fc.weight)
        .expect("the gradient of net.fc.weight");
    let before = net.fc.weight.to_vec();
    SGD::new(0.1).step(&mut net, &grads);
    for ((a, b), g) in net.fc.weight.to_vec().iter().zip(&before).zip(gw.to_vec()) {
        assert!((a - (b - 0.1 * g)).abs() < 1e-12);
    }
}

// ------------------------------------------------------------------------- the seed networks

// The seed networks are the examples' own (`examples/cifar_net.rs`, `examples/mlp.rs`), so
// these tests check what a user runs.
#[allow(dead_code)]
#[path = "../examples/cifar_net.rs"]
mod cifar_net;
#[allow(dead_code)]
#[path = "../examples/mlp.rs"]
mod mlp;

use cifar_net::{Mynn, Mynn2};
use mlp::NeuralNetwork;

const MYNN_PRINT: &str = "Mynn(
  (conv1): Conv2d(3, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))  (N, 3, 32, 32) -> (N, 32, 32, 32)
  (maxpool1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)  (N, 32, 32, 32) -> (N, 32, 16, 16)
  (conv2): Conv2d(32, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))  (N, 32, 16, 16) -> (N, 32, 16, 16)
  (maxpool2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)  (N, 32, 16, 16) -> (N, 32, 8, 8)
  (conv3): Conv2d(32, 64, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))  (N, 32, 8, 8) -> (N, 64, 8, 8)
  (maxpool3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)  (N, 64, 8, 8) -> (N, 64, 4, 4)
  (flatten): Flatten(start_dim=1, end_dim=-1)  (N, 64, 4, 4) -> (N, 1024)
  (linear1): Linear(in_features=1024, out_features=64, bias=True)  (N, 1024) -> (N, 64)
  (linear2): Linear(in_features=64, out_features=10, bias=True)  (N, 64) -> (N, 10)
)
Parameters: 145578";

#[test]
fn the_cifar_net_field_by_field_prints_like_pytorch_with_shapes() {
    let net = Mynn::new(&mut Rng::seed(0));
    assert_eq!(net.to_string(), MYNN_PRINT);
    let y = net.forward(Tensor::<(U2, U3, U32, U32)>::zeros());
    assert_eq!(y.dims(), [2, 10]);
}

#[test]
fn the_cifar_net_as_a_sequential_prints_and_trains() {
    let mut net = Mynn2::new(&mut Rng::seed(0));
    let s = net.to_string();
    assert!(s.starts_with("Mynn2(\n  (model1): Sequential(\n    (0): Conv2d(3, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))  (N, 3, 32, 32) -> (N, 32, 32, 32)\n"), "{s}");
    assert!(s.contains("    (8): Linear(in_features=64, out_features=10, bias=True)  (N, 64) -> (N, 10)\n  )\n)\nParameters: 145578"), "{s}");
    // the seed's layer / input size / output size table
    let table = summary::<Tensor<(usize, U3, U32, U32)>, _>(&net);
    let sizes: Vec<(&str, &str)> = table
        .rows
        .iter()
        .map(|r| (r.input.as_str(), r.output.as_str()))
        .collect();
    assert_eq!(sizes[0], ("(N, 3, 32, 32)", "(N, 32, 32, 32)"));
    assert_eq!(sizes[6], ("(N, 64, 4, 4)", "(N, 1024)"));
    assert_eq!(table.rows[7].name, "model1.7");
    assert_eq!(table.total_params, 145578);
    // a training step through the derived Sequential forward
    let x = Tensor::<(U4, U3, U32, U32)>::rand_uniform(1, -1.0, 1.0).trace_no_grad();
    let loss = CrossEntropyLoss::default().forward(net.forward(x), &[1, 2, 3, 4]);
    let grads = loss.backward();
    assert!(grads.get(&net.model1.7.weight).is_some());
    SGD::new(0.01).step(&mut net, &grads);
}

#[test]
fn the_mlp_prints_like_pytorch() {
    let net = NeuralNetwork::new(&mut Rng::seed(0));
    let expect = "NeuralNetwork(
  (flatten): Flatten(start_dim=1, end_dim=-1)  (N, 1, 28, 28) -> (N, 784)
  (linear_relu_stack): Sequential(
    (0): Linear(in_features=784, out_features=512, bias=True)  (N, 784) -> (N, 512)
    (1): ReLU()  (N, 512) -> (N, 512)
    (2): Linear(in_features=512, out_features=512, bias=True)  (N, 512) -> (N, 512)
    (3): ReLU()  (N, 512) -> (N, 512)
    (4): Linear(in_features=512, out_features=10, bias=True)  (N, 512) -> (N, 10)
  )
)
Parameters: 669706";
    assert_eq!(net.to_string(), expect);
}

#[test]
fn layers_print_their_pytorch_repr() {
    let mut rng = Rng::seed(0);
    let cases: Vec<(String, &str)> = vec![
        (ModuleDisplay(&Conv2d::<U2, U4, (U2, U3), U2, Same, U1, U2, Reflect>::new(&mut rng)).to_string(), "Conv2d(2, 4, kernel_size=(2, 3), stride=(2, 2), padding='same', groups=2, padding_mode=reflect)"),
        (ModuleDisplay(&Conv1d::<U2, U4, U3, U1, U0, U2>::without_bias(&mut rng)).to_string(), "Conv1d(2, 4, kernel_size=(3,), stride=(1,), dilation=(2,), bias=False)"),
        (ModuleDisplay(&ConvTranspose2d::<U4, U2, U3, U2, U1, U1>::new(&mut rng)).to_string(), "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))"),
        (ModuleDisplay(&AvgPool2d::<U2>::new()).to_string(), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
        (ModuleDisplay(&BatchNorm2d::<U16>::new()).to_string(), "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"),
        (ModuleDisplay(&LayerNorm::<(U2, U4)>::new()).to_string(), "LayerNorm((2, 4), eps=1e-05, elementwise_affine=True)"),
        (ModuleDisplay(&GroupNorm::<U2, U4>::new()).to_string(), "GroupNorm(2, 4, eps=1e-05, affine=True)"),
        (ModuleDisplay(&LeakyReLU::default()).to_string(), "LeakyReLU(negative_slope=0.01)"),
        (ModuleDisplay(&GELU::default()).to_string(), "GELU(approximate='none')"),
        (ModuleDisplay(&Dropout::new(0.5, 0)).to_string(), "Dropout(p=0.5, inplace=False)"),
        (ModuleDisplay(&ZeroPad2d::<U1, U2, U0, U1>::new()).to_string(), "ZeroPad2d((1, 2, 0, 1))"),
        (ModuleDisplay(&Softmax::<1>).to_string(), "Softmax(dim=1)"),
    ];
    for (got, want) in cases {
        assert_eq!(got.lines().next().unwrap(), want);
    }
}

#[test]
fn normalization_layers_have_summary_rows() {
    let net = (
        Conv2d::<U3, U8, U3, U1, U1>::new(&mut Rng::seed(0)),
        BatchNorm2d::<U8>::new(),
        ReLU,
        InstanceNorm2d::<U8>::new(),
    );
    let s = summary::<Tensor<(usize, U3, U16, U16)>, _>(&net);
    assert_eq!(s.rows.len(), 4);
    assert_eq!(
        s.rows[1].layer,
        "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    );
    assert_eq!(
        (s.rows[1].input.as_str(), s.rows[1].output.as_str()),
        ("(N, 8, 16, 16)", "(N, 8, 16, 16)")
    );
    assert_eq!(s.rows[1].params, 16);
    assert_eq!(s.rows[3].name, "3");
}

/// A user's own layer: a declared parameter, a declared buffer, a mode and a setting.
#[derive(Module)]
#[module(leaf, extra_repr = repr)]
struct Gate<C: ConstDim> {
    #[module(param)]
    weight: Tensor<(C,), f64>,
    #[module(param)]
    bias: Option<Tensor<(C,), f64>>,
    #[module(buffer)]
    seen: Tensor<(), f64>,
    #[module(training)]
    training: bool,
    scale: f64,
}

impl<C: ConstDim> Gate<C> {
    fn repr(&self) -> String {
        format!("{}, scale={}", C::SIZE, self.scale)
    }
}

impl<B: Dim, C: ConstDim, T: TapeMode<f64>> Forward<Tensor<(B, C), f64, T>> for Gate<C>
where
    T: stensor::autograd::MergeTape<f64, NoTape, Output = T>,
{
    type Output = Tensor<(B, C), f64, T>;
    fn forward(&self, x: Tensor<(B, C), f64, T>) -> Self::Output {
        let y = x.broadcast_mul(&self.weight);
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => y,
        }
    }
}

#[test]
fn a_leaf_layer_declares_its_parameters_buffers_and_mode() {
    // built without requires_grad: declared parameters all the same
    let mut g = Gate::<U3> {
        weight: Tensor::from_array([1.0, 2.0, 3.0]),
        bias: Some(Tensor::zeros()),
        seen: Tensor::zeros(),
        training: true,
        scale: 0.5,
    };
    let names: Vec<String> = g.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(g.named_buffers(), [("seen".to_string(), vec![])]);
    assert_eq!(g.extra_repr(), "3, scale=0.5");
    assert!(g.children().is_empty());
    g.eval();
    assert!(!g.training);
    g.train();
    assert!(g.training);
    // a parameter that does not require grad gets no gradient: the check names it
    let x = Tensor::<(U2, U3), f64>::rand_normal(1, 0.0, 1.0);
    let err =
        stensor::gradcheck::check_module_gradients(&mut g, &x, |g, x| g.forward(x)).unwrap_err();
    let m = err.mismatches();
    assert_eq!(
        (m[0].tensor.as_str(), m[0].analytic),
        ("weight", None),
        "{err}"
    );
    assert!(
        err.to_string().contains("no gradient reached `weight`"),
        "{err}"
    );
    // declared and requiring grad, both parameters check out
    g.weight.set_requires_grad(true);
    g.bias.as_mut().unwrap().set_requires_grad(true);
    stensor::gradcheck::check_module_gradients(&mut g, &x, |g, x| g.forward(x)).unwrap();
    // and the shape table shows it as one layer
    let s = summary::<Tensor<(usize, U3), f64>, _>(&g);
    assert_eq!((s.rows.len(), s.total_params), (1, 6));
}

/// `#[module(rename = "..")]` puts a field's tensors under a name that is no Rust identifier
/// (Hugging Face's `attention.self`, `LayerNorm`): visited, built from a state dict, loaded
/// and printed under it.
#[test]
fn renamed_fields_go_under_their_names() {
    use stensor::nn::{LayerNorm, Linear, Module, ModuleDisplay};
    #[derive(Module)]
    struct SelfAttention {
        query: Linear<U4, U4>,
    }
    #[derive(Module)]
    struct Attention {
        #[module(rename = "self")]
        self_attention: SelfAttention,
        #[module(rename = "LayerNorm")]
        layer_norm: LayerNorm<(U4,)>,
    }
    let make = |seed| Attention {
        self_attention: SelfAttention {
            query: Linear::new(&mut Rng::seed(seed)),
        },
        layer_norm: LayerNorm::new(),
    };
    let net = make(0);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "self.query.weight",
            "self.query.bias",
            "LayerNorm.weight",
            "LayerNorm.bias"
        ]
    );
    let mut other = make(1);
    stensor::io::load_bytes(&mut other, &stensor::io::to_bytes(&net), "renamed").unwrap();
    assert_eq!(
        other.self_attention.query.weight.to_vec(),
        net.self_attention.query.weight.to_vec()
    );
    assert!(ModuleDisplay(&net)
        .to_string()
        .contains("(self): SelfAttention("));
    assert!(ModuleDisplay(&net)
        .to_string()
        .contains("(LayerNorm): LayerNorm("));
}
