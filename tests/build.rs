//! Networks built straight from a state dict (`stensor::nn::Build`, `stensor::io::load_new`):
//! the ResNet-20 of the workloads, saved after a training step, rebuilt from its file alone
//! and compared with the original tensor by tensor and output by output.

#[path = "../benches/workloads/resnet20.rs"]
#[allow(dead_code)]
mod resnet20;

use resnet20::ResNet20;
use stensor::io::{self, StateDict, StateDictError};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::*;
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

/// A ResNet-20 after one training step: weights and running statistics away from their
/// initial values, so a rebuilt network that kept any initial value would differ.
fn trained() -> ResNet20 {
    let mut net = ResNet20::new(&mut Rng::seed(3));
    let x = Tensor::<(U4, U3, U32, U32)>::rand_uniform(5, -1.0, 1.0);
    let loss = CrossEntropyLoss::default().forward(net.forward(x.trace_no_grad()), &[1, 2, 3, 4]);
    SGD::new(0.1).step(&mut net, &loss.backward());
    net
}

#[test]
fn a_resnet_built_from_its_file_alone_equals_the_trained_one() {
    let mut net = trained();
    let bytes = io::to_bytes(&net);
    let mut built: ResNet20 = io::load_new_bytes(&bytes, "resnet20.safetensors").expect("loads");
    assert_eq!(
        StateDict::of(&built).to_bytes(),
        StateDict::of(&net).to_bytes(),
        "every tensor, name, shape and value"
    );
    // torchvision's layout: no convolution has a bias, every batch norm is affine and tracks
    assert!(built
        .named_parameters()
        .iter()
        .all(|(n, _)| !n.ends_with("conv1.bias")));
    assert_eq!(built.num_params(), net.num_params());
    net.eval();
    built.eval();
    let x = Tensor::<(U2, U3, U32, U32)>::rand_uniform(6, -1.0, 1.0);
    assert_eq!(built.forward(x.clone()).to_vec(), net.forward(x).to_vec());
}

/// The error of a build that must fail.
fn refused(sd: &StateDict) -> StateDictError {
    match io::build_from_state_dict::<ResNet20>(sd) {
        Ok(_) => panic!("a ResNet-20 was built from a file that cannot hold one"),
        Err(e) => e,
    }
}

#[test]
fn a_file_that_lacks_a_tensor_or_holds_another_network_is_refused_with_every_problem() {
    let net = trained();
    // a weight the type requires is missing, and a running mean: the weight is named; the
    // norm, built without running statistics, has no place for the rest of them
    let mut sd = StateDict::of(&net);
    assert!(sd.remove("layer2.0.conv1.weight") && sd.remove("layer3.1.bn2.running_mean"));
    let err = refused(&sd);
    let text = err.to_string();
    assert!(matches!(err, StateDictError::Mismatch { .. }), "{text}");
    assert!(text.contains("layer2.0.conv1.weight"), "{text}");
    assert!(
        text.contains("unexpected tensor `layer3.1.bn2.running_var`"),
        "{text}"
    );
    // another network's file
    let other = StateDict::of(&Linear::<U64, U10>::new(&mut Rng::seed(0)));
    let text = refused(&other).to_string();
    assert!(
        text.contains("fc.weight") && text.contains("conv1.weight"),
        "{text}"
    );
}

#[test]
fn optional_tensors_follow_the_names_and_settings_take_pytorchs_defaults() {
    // bias=False convolution, affine=False batch norm without running statistics, a linear
    // with a bias
    type Net = (
        Conv2d<U1, U4, U3>,
        BatchNorm2d<U4>,
        ReLU,
        Flatten,
        Linear<U16, U2>,
    );
    let names = ["0.weight", "4.weight", "4.bias"];
    let net = Net::build(&names, "");
    assert!(net.0.bias.is_none() && net.4.bias.is_some());
    assert!(net.1.weight.is_none() && net.1.bias.is_none() && !net.1.track_running_stats);
    assert_eq!((net.1.eps, net.1.momentum), (1e-5, Some(0.1)));
    assert!(net.0.weight.requires_grad() && net.4.weight.requires_grad());
    let names = [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ];
    let inorm = InstanceNorm2d::<U4>::build(&names, "");
    assert!(inorm.weight.is_some() && inorm.track_running_stats);
}
