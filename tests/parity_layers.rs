//! PyTorch parity of the layers: every case of `tests/reference/{linear,conv,pool,pad}.json`
//! (outputs, input gradients, parameter gradients, max-pool indices), in f64 to 1e-10 relative
//! and in f32 within FORMAT.md's tolerances. Each case names its layer with the types a user
//! would write for the same PyTorch constructor call.

mod common;

use common::{case, cases, check_forward_backward, Case};
use stensor::nn::*;
use stensor::prelude::*;

/// Every case of the family is covered by one of the tests below.
fn assert_all_covered(family: &str, covered: &[&str]) {
    for c in cases(family) {
        assert!(
            covered.contains(&c.name()),
            "{family}.json case {} has no test",
            c.name()
        );
    }
}

fn linear_case<I: ConstDim, O: ConstDim, B: ConstDim, E: Element>(name: &str) {
    let c = case("linear", name);
    let w = c.tensor::<(O, I), E>(&["params", "weight"]);
    let b = c
        .has(&["params", "bias"])
        .then(|| c.tensor::<(O,), E>(&["params", "bias"]));
    let fc = Linear::from_params(w, b);
    let mut params = vec![("weight", fc.weight.id())];
    if let Some(b) = &fc.bias {
        params.push(("bias", b.id()));
    }
    check_forward_backward::<(B, I), (B, O), E, _>(&c, |x| fc.forward(x), &params);
}

#[test]
fn linear() {
    fn all<E: Element>() {
        linear_case::<U4, U3, U2, E>("linear_4_3_bias1");
        linear_case::<U4, U3, U2, E>("linear_4_3_bias0");
        linear_case::<U3, U4, U1, E>("linear_seed_example");
    }
    all::<f64>();
    all::<f32>();
    assert_all_covered(
        "linear",
        &[
            "linear_4_3_bias1",
            "linear_4_3_bias0",
            "linear_seed_example",
        ],
    );
}

/// Every shared conv case, each built at its compile-time shape and checked.
fn conv_cases<E: Element>() {
    let c = |n: &str| case("conv", n);
    check_with_params!(&c("conv2d_0"), E, Conv2d<U3, U4, U3, U1, U0, U1, U1, Zeros, E>, (U2, U3, U7, U7), (U2, U4, U5, U5));
    check_with_params!(&c("conv2d_1"), E, Conv2d<U3, U2, U5, U1, U2, U1, U1, Zeros, E>, (U2, U3, U8, U8), (U2, U2, U8, U8));
    check_with_params!(&c("conv2d_2"), E, Conv2d<U2, U4, U3, U2, U1, U1, U1, Zeros, E>, (U2, U2, U9, U8), (U2, U4, U5, U4));
    check_with_params!(&c("conv2d_3"), E, Conv2d<U2, U2, U3, U1, U0, U2, U1, Zeros, E>, (U2, U2, U9, U9), (U2, U2, U5, U5));
    check_with_params!(&c("conv2d_4"), E, Conv2d<U4, U6, U3, U1, U1, U1, U2, Zeros, E>, (U2, U4, U6, U6), (U2, U6, U6, U6));
    check_with_params!(&c("conv2d_5"), E, Conv2d<U4, U4, U3, U1, U1, U1, U4, Zeros, E>, (U2, U4, U6, U5), (U2, U4, U6, U5));
    check_with_params!(&c("conv2d_6"), E, Conv2d<U2, U3, U3, U1, U1, U1, U1, Reflect, E>, (U2, U2, U6, U6), (U2, U3, U6, U6));
    check_with_params!(&c("conv2d_7"), E, Conv2d<U2, U3, U3, U1, U2, U1, U1, Replicate, E>, (U2, U2, U6, U6), (U2, U3, U8, U8));
    check_with_params!(&c("conv2d_8"), E, Conv2d<U2, U3, U3, U2, U1, U1, U1, Circular, E>, (U2, U2, U7, U6), (U2, U3, U4, U3));
    check_with_params!(&c("conv2d_9"), E, Conv2d<U2, U3, (U2, U3), (U2, U1), (U1, U0), (U1, U2), U1, Zeros, E>, (U2, U2, U7, U8), (U2, U3, U4, U4));
    check_with_params!(&c("conv2d_nobias"), E, Conv2d<U3, U2, U3, U1, U0, U1, U1, Zeros, E>, (U1, U3, U5, U5), (U1, U2, U3, U3));
    check_with_params!(&c("conv1d_0"), E, Conv1d<U2, U3, U3, U2, U1, U1, U1, Zeros, E>, (U2, U2, U9), (U2, U3, U5));
    check_with_params!(&c("conv3d_0"), E, Conv3d<U2, U2, U2, U1, U1, U1, U1, Zeros, E>, (U1, U2, U3, U4, U3), (U1, U2, U4, U5, U4));
    check_with_params!(&c("conv_transpose2d_0"), E, ConvTranspose2d<U3, U1, U3, U2, U0, U0, U1, U1, E>, (U2, U3, U5, U5), (U2, U1, U11, U11));
    check_with_params!(&c("conv_transpose2d_1"), E, ConvTranspose2d<U2, U3, U3, U2, U1, U1, U1, U1, E>, (U2, U2, U4, U5), (U2, U3, U8, U10));
    check_with_params!(&c("conv_transpose2d_2"), E, ConvTranspose2d<U4, U2, U2, U1, U0, U0, U2, U2, E>, (U2, U4, U4, U4), (U2, U2, U6, U6));
}

#[test]
fn convolutions() {
    conv_cases::<f64>();
    conv_cases::<f32>();
    let names: Vec<String> = cases("conv").iter().map(|c| c.name().to_string()).collect();
    assert_eq!(names.len(), 16, "conv.json gained cases: add them above");
}

fn check_indices<S: Shape>(c: &Case, idx: &PoolIndices<S>) {
    let want: Vec<usize> = c.data(&["indices"]).iter().map(|&v| v as usize).collect();
    assert_eq!(
        &idx.shape().dims()[..],
        &c.dims(&["indices"])[..],
        "{} indices dims",
        c.name()
    );
    assert_eq!(idx.to_vec(), want, "{} indices", c.name());
}

macro_rules! max_pool_check {
    ($name:literal, $E:ty, $layer:ty, $x:ty, $y:ty) => {{
        let c = case("pool", $name);
        let layer = <$layer>::new();
        if c.has(&["indices"]) {
            let (_, idx) = layer.forward_with_indices(c.tensor::<$x, $E>(&["inputs", "x"]));
            check_indices(&c, &idx);
        }
        check_forward_backward::<$x, $y, $E, _>(&c, |x| layer.forward(x), &[]);
    }};
}

macro_rules! avg_pool_check {
    ($name:literal, $E:ty, $layer:ty, $x:ty, $y:ty) => {{
        let c = case("pool", $name);
        let cfg = c.config();
        let layer = <$layer>::new()
            .count_include_pad(cfg["count_include_pad"].as_bool().unwrap())
            .divisor_override(cfg["divisor_override"].as_u64().map(|d| d as usize));
        check_forward_backward::<$x, $y, $E, _>(&c, |x| layer.forward(x), &[]);
    }};
}

fn pool_cases<E: Element>() {
    max_pool_check!("maxpool2d_seed_ceil1", E, MaxPool2d<U3, U3, U0, U1, True>, (U1, U1, U5, U5), (U1, U1, U2, U2));
    max_pool_check!("maxpool2d_seed_ceil0", E, MaxPool2d<U3, U3, U0, U1, False>, (U1, U1, U5, U5), (U1, U1, U1, U1));
    max_pool_check!("maxpool2d_0", E, MaxPool2d<U2, U2, U0, U1, False>, (U2, U2, U6, U6), (U2, U2, U3, U3));
    max_pool_check!("maxpool2d_1", E, MaxPool2d<U3, U2, U1, U1, False>, (U2, U2, U7, U6), (U2, U2, U4, U3));
    max_pool_check!("maxpool2d_2", E, MaxPool2d<U3, U1, U0, U2, False>, (U2, U2, U7, U7), (U2, U2, U3, U3));
    max_pool_check!("maxpool2d_3", E, MaxPool2d<U2, U2, U0, U1, True>, (U2, U2, U5, U7), (U2, U2, U3, U4));
    max_pool_check!("maxpool2d_4", E, MaxPool2d<(U2, U3), (U2, U3), U1, U1, False>, (U2, U2, U4, U4), (U2, U2, U3, U2));
    avg_pool_check!("avgpool2d_0", E, AvgPool2d<U2, U2, U0, False>, (U2, U2, U6, U6), (U2, U2, U3, U3));
    avg_pool_check!("avgpool2d_1", E, AvgPool2d<U3, U2, U1, False>, (U2, U2, U7, U7), (U2, U2, U4, U4));
    avg_pool_check!("avgpool2d_2", E, AvgPool2d<U3, U2, U1, False>, (U2, U2, U7, U7), (U2, U2, U4, U4));
    avg_pool_check!("avgpool2d_3", E, AvgPool2d<U2, U2, U0, True>, (U2, U2, U5, U5), (U2, U2, U3, U3));
    avg_pool_check!("avgpool2d_4", E, AvgPool2d<U2, U2, U0, False>, (U2, U2, U4, U4), (U2, U2, U2, U2));
    for (name, f) in [
        (
            "adaptive_avg_pool2d_0",
            adaptive::<E, U3, U3, U6, U6> as fn(&str),
        ),
        ("adaptive_avg_pool2d_1", adaptive::<E, U3, U2, U7, U5>),
        ("adaptive_avg_pool2d_2", adaptive::<E, U1, U1, U5, U5>),
        ("adaptive_max_pool2d_0", adaptive::<E, U3, U3, U6, U6>),
        ("adaptive_max_pool2d_1", adaptive::<E, U3, U2, U7, U5>),
        ("adaptive_max_pool2d_2", adaptive::<E, U1, U1, U5, U5>),
    ] {
        f(name);
    }
    // MaxUnpool2d with PyTorch's indices
    let c = case("pool", "max_unpool2d_0");
    let idx: Vec<usize> = c
        .data(&["inputs", "indices"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    let idx = PoolIndices::from_vec((U1::new(), U2::new(), U2::new(), U2::new()), idx).unwrap();
    let unpool = MaxUnpool2d::<U2>::new();
    check_forward_backward::<(U1, U2, U2, U2), (U1, U2, U4, U4), E, _>(
        &c,
        |x| unpool.forward(x, &idx),
        &[],
    );
}

fn adaptive<E: Element, OH: ConstDim, OW: ConstDim, H: ConstDim, W: ConstDim>(name: &str)
where
    (H, OH): stensor::shape::out::AdaptiveOutput<Output = OH>,
    (W, OW): stensor::shape::out::AdaptiveOutput<Output = OW>,
{
    let c = case("pool", name);
    if name.contains("max") {
        check_forward_backward::<(U2, U3, H, W), (U2, U3, OH, OW), E, _>(
            &c,
            |x| AdaptiveMaxPool2d::<OH, OW>::new().forward(x),
            &[],
        );
    } else {
        check_forward_backward::<(U2, U3, H, W), (U2, U3, OH, OW), E, _>(
            &c,
            |x| AdaptiveAvgPool2d::<OH, OW>::new().forward(x),
            &[],
        );
    }
}

#[test]
fn pooling() {
    pool_cases::<f64>();
    pool_cases::<f32>();
    assert_eq!(
        cases("pool").len(),
        19,
        "pool.json gained cases: add them above"
    );
}

fn pad_cases<E: Element>() {
    type X = (U1, U2, U3, U4);
    let c = case("pad", "zero_pad2d");
    check_forward_backward::<X, (U1, U2, U4, U7), E, _>(
        &c,
        |x| ZeroPad2d::<U1, U2, U0, U1>::new().forward(x),
        &[],
    );
    let c = case("pad", "constant_pad2d");
    let value = c.config()["value"].as_f64().unwrap();
    check_forward_backward::<X, (U1, U2, U7, U8), E, _>(
        &c,
        |x| ConstantPad2d::<U2>::with_value(value).forward(x),
        &[],
    );
    let c = case("pad", "reflection_pad2d");
    check_forward_backward::<X, (U1, U2, U6, U7), E, _>(
        &c,
        |x| ReflectionPad2d::<U2, U1, U1, U2>::new().forward(x),
        &[],
    );
    let c = case("pad", "replication_pad2d");
    check_forward_backward::<X, (U1, U2, U5, U8), E, _>(
        &c,
        |x| ReplicationPad2d::<U1, U3, U2, U0>::new().forward(x),
        &[],
    );
}

#[test]
fn padding() {
    pad_cases::<f64>();
    pad_cases::<f32>();
    assert_all_covered(
        "pad",
        &[
            "zero_pad2d",
            "constant_pad2d",
            "reflection_pad2d",
            "replication_pad2d",
        ],
    );
}
