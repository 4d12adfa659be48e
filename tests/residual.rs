//! Residual blocks as users write them: torchvision's `BasicBlock` derived with
//! `#[module(residual(then = relu))]`, generic over channels and stride with no where-clause,
//! with and without a projection shortcut; its numbers against the same block written out by
//! hand, its state-dict names, its printout and shape table, and its gradients.

use stensor::gradcheck::check_module_gradients;
use stensor::nn::*;
use stensor::prelude::*;

/// torchvision's `BasicBlock(inplanes, planes, stride, downsample)`, field for field.
#[derive(Module)]
#[module(residual(then = relu))]
struct BasicBlock<I: ConstDim, O: ConstDim, S, D = NoShortcut, E: Element = f64> {
    conv1: Conv2d<I, O, U3, S, U1, U1, U1, Zeros, E>,
    bn1: BatchNorm2d<O, E>,
    relu: ReLU,
    conv2: Conv2d<O, O, U3, U1, U1, U1, U1, Zeros, E>,
    bn2: BatchNorm2d<O, E>,
    #[module(shortcut)]
    downsample: D,
}

type Projection<I, O, S> = (
    Conv2d<I, O, U1, S, U0, U1, U1, Zeros, f64>,
    BatchNorm2d<O, f64>,
);

fn block<I: ConstDim, O: ConstDim, S, D>(downsample: D, rng: &mut Rng) -> BasicBlock<I, O, S, D> {
    BasicBlock {
        conv1: Conv2d::without_bias(rng),
        bn1: BatchNorm2d::new(),
        relu: ReLU,
        conv2: Conv2d::without_bias(rng),
        bn2: BatchNorm2d::new(),
        downsample,
    }
}

#[test]
fn a_derived_basic_block_computes_torchvisions_forward() {
    let mut rng = Rng::seed(1);
    let b = block::<U4, U8, U2, Projection<U4, U8, U2>>(
        (Conv2d::without_bias(&mut rng), BatchNorm2d::new()),
        &mut rng,
    );
    let x = Tensor::<(U2, U4, U6, U6), f64>::rand_normal(3, 0.0, 1.0);
    let y: Tensor<(U2, U8, U3, U3), f64> = b.forward(x.clone());
    let main = b.bn2.forward(
        b.conv2
            .forward(b.relu.forward(b.bn1.forward(b.conv1.forward(x.clone())))),
    );
    let short = b.downsample.1.forward(b.downsample.0.forward(x));
    let expect = main.add(&short).relu();
    assert_eq!(y.to_vec(), expect.to_vec());
}

#[test]
fn without_a_projection_the_input_is_added_and_nothing_is_named_or_printed() {
    let b = block::<U4, U4, U1, NoShortcut>(NoShortcut, &mut Rng::seed(2));
    let x = Tensor::<(U1, U4, U5, U5), f64>::rand_normal(4, 0.0, 1.0);
    let main = b.bn2.forward(
        b.conv2
            .forward(b.relu.forward(b.bn1.forward(b.conv1.forward(x.clone())))),
    );
    assert_eq!(b.forward(x.clone()).to_vec(), main.add(&x).relu().to_vec());
    let names: Vec<String> = b.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "bn1.weight",
            "bn1.bias",
            "conv2.weight",
            "bn2.weight",
            "bn2.bias"
        ]
    );
    let text = b.to_string();
    assert!(!text.contains("downsample"), "{text}");
    assert!(text.contains("(relu): ReLU()"), "{text}");
}

#[test]
fn a_projection_shortcut_has_torchvisions_state_dict_names() {
    let mut rng = Rng::seed(3);
    let b = block::<U4, U8, U2, Projection<U4, U8, U2>>(
        (Conv2d::without_bias(&mut rng), BatchNorm2d::new()),
        &mut rng,
    );
    let names: Vec<String> = b.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        &names[6..],
        [
            "downsample.0.weight",
            "downsample.1.weight",
            "downsample.1.bias"
        ]
    );
    let buffers: Vec<String> = b.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert!(buffers.contains(&"downsample.1.running_mean".to_string()));
    assert!(b.to_string().contains("(downsample): Sequential("));
}

/// A CIFAR ResNet's stage 1 -> 2 transition: blocks chained in a derived sequential network,
/// no bound written anywhere.
#[derive(Module)]
#[module(sequential)]
struct TwoStages {
    layer1: BasicBlock<U4, U4, U1>,
    layer2: BasicBlock<U4, U8, U2, Projection<U4, U8, U2>>,
    pool: AdaptiveAvgPool2d<U1>,
    flat: Flatten,
    fc: Linear<U8, U3, f64>,
}

fn two_stages(rng: &mut Rng) -> TwoStages {
    TwoStages {
        layer1: block(NoShortcut, rng),
        layer2: block((Conv2d::without_bias(rng), BatchNorm2d::new()), rng),
        pool: AdaptiveAvgPool2d::new(),
        flat: Flatten::new(),
        fc: Linear::new(rng),
    }
}

#[test]
fn blocks_chain_in_a_network_and_its_shape_table_reaches_inside_them() {
    let net = two_stages(&mut Rng::seed(4));
    let y: Tensor<(usize, U3), f64> = net.forward(
        Tensor::<(usize, U4, U8, U8), f64>::zeros_shaped((2, U4::new(), U8::new(), U8::new())),
    );
    assert_eq!(y.dims(), [2, 3]);
    let s = summary::<Tensor<(usize, U4, U8, U8), f64>, _>(&net);
    let row = |name: &str| {
        s.rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name}: {s}"))
    };
    assert_eq!(row("layer2.conv1").output, "(N, 8, 4, 4)");
    assert_eq!(row("layer2.downsample.0").input, "(N, 4, 8, 8)");
    assert_eq!(row("layer2.relu").output, "(N, 8, 4, 4)");
    assert_eq!(row("fc").input, "(N, 8)");
    assert_eq!(s.total_params, net.num_params());
}

/// The layer graph (what TensorBoard's `add_graph` draws) of blocks in a network: the branch
/// and the shortcut leave the block's input, an `Add` joins them, `then` follows the sum.
#[test]
fn a_blocks_graph_forks_at_its_input_and_joins_at_the_sum() {
    let net = two_stages(&mut Rng::seed(4));
    let g = layer_graph::<Tensor<(usize, U4, U8, U8), f64>, _>(&net);
    let at = |name: &str| {
        g.nodes()
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}: {g:?}"))
    };
    let node = |name: &str| &g.nodes()[at(name)];
    // layer1: no projection, so the sum adds the block's input (the network's input) itself
    assert_eq!(node("layer1.conv1").inputs, [0]);
    assert_eq!(node("layer1.add").inputs, [at("layer1.bn2"), 0]);
    assert_eq!(node("layer1.add").layer, "Add()");
    // `then = relu` after the sum, and layer2 fed by it
    let then = g
        .nodes()
        .iter()
        .rposition(|n| n.name == "layer1.relu")
        .unwrap();
    assert_eq!(g.nodes()[then].inputs, [at("layer1.add")]);
    assert_eq!(node("layer2.conv1").inputs, [then]);
    // layer2's projection starts from layer2's input too, and the sum takes both ends
    assert_eq!(node("layer2.downsample.0").inputs, [then]);
    assert_eq!(
        node("layer2.add").inputs,
        [at("layer2.bn2"), at("layer2.downsample.1")]
    );
    assert_eq!(node("layer2.add").output, "(N, 8, 4, 4)");
    assert_eq!(node("fc").output, "(N, 3)");
    assert_eq!(g.tip(), at("fc"));
}

#[test]
fn gradients_flow_through_the_branch_and_the_shortcut() {
    let mut rng = Rng::seed(5);
    let mut b = block::<U2, U3, U2, Projection<U2, U3, U2>>(
        (Conv2d::without_bias(&mut rng), BatchNorm2d::new()),
        &mut rng,
    );
    let x = Tensor::<(U2, U2, U4, U4), f64>::rand_normal(6, 0.0, 1.0);
    check_module_gradients(&mut b, &x, |b, x| b.forward(x).square().sum()).unwrap();
}
