//! Every layer's backward against central finite differences in f64, through the input and
//! through each parameter; and consistency between the 1-d, 2-d and 3-d forms (a 1-d layer is
//! the 2-d layer over a height of 1, and so on).

mod common;

use common::param_fd;
use stensor::gradcheck::check_gradients;
use stensor::nn::*;
use stensor::prelude::*;

fn rand<S: ConstShape>(seed: u64) -> Tensor<S, f64> {
    Tensor::rand_uniform(seed, -1.0, 1.0)
}

/// Distinct values in random order (so max pooling has no ties near the step size).
fn distinct<S: ConstShape>(seed: u64) -> Tensor<S, f64> {
    let mut v: Vec<f64> = (0..S::NUMEL).map(|i| i as f64 * 0.1).collect();
    let mut r = Rng::seed(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, r.below(i as u64 + 1) as usize);
    }
    Tensor::from_vec(v).unwrap()
}

macro_rules! check {
    ($x:expr, $f:expr) => {
        if let Err(e) = check_gradients($f, &$x) {
            panic!("{}: {}", stringify!($f), e);
        }
    };
}

#[test]
fn linear_takes_any_rank() {
    let fc = Linear::from_params(rand::<(U2, U4)>(2), Some(rand::<(U2,)>(3)));
    check!(rand::<(U4,)>(1), |x| fc.forward(x));
    check!(rand::<(U2, U3, U4)>(4), |x| fc.forward(x));
    check!(rand::<(U2, U1, U3, U4)>(5), |x| fc.forward(x));
}

/// Checks the input gradient with `check_gradients` and every parameter gradient with
/// [`param_fd`], for a loss `sum(w_out * layer(x))` with fixed random output weights.
macro_rules! layer_grads {
    ($layer:ty, $x:expr, $w:expr, $b:expr) => {{
        let (x, w, b) = ($x, $w, $b);
        let layer = <$layer>::from_params(w.clone(), b.clone());
        check!(x, |x| layer.forward(x));
        let y = layer.forward(x.clone().trace_no_grad());
        let wout = Tensor::rand_uniform_like(&y, 7);
        let grads = y.mul(&wout).sum().backward();
        let loss = |wv: &_, bv: &Option<_>| -> f64 {
            let l = <$layer>::from_params(Clone::clone(wv), Clone::clone(bv));
            l.forward(x.clone()).mul(&wout).sum().item()
        };
        param_fd(
            &w,
            |wv| loss(wv, &b),
            grads.slice(&layer.weight).unwrap(),
            concat!(stringify!($layer), " weight"),
        );
        if let (Some(bb), Some(lb)) = (&b, &layer.bias) {
            param_fd(
                bb,
                |bv| loss(&w, &Some(bv.clone())),
                grads.slice(lb).unwrap(),
                concat!(stringify!($layer), " bias"),
            );
        }
    }};
}

trait RandLike<S: Shape> {
    fn rand_uniform_like<T: TapeMode<f64>>(t: &Tensor<S, f64, T>, seed: u64) -> Tensor<S, f64>;
}
impl<S: Shape> RandLike<S> for Tensor<S, f64> {
    fn rand_uniform_like<T: TapeMode<f64>>(t: &Tensor<S, f64, T>, seed: u64) -> Tensor<S, f64> {
        Tensor::uniform_shaped(t.shape(), &mut Rng::seed(seed), 0.5, 1.5)
    }
}

#[test]
fn linear_gradients() {
    layer_grads!(Linear<U4, U3, f64>, rand::<(U2, U4)>(10), rand::<(U3, U4)>(11), Some(rand::<(U3,)>(12)));
    layer_grads!(Linear<U4, U3, f64>, rand::<(U2, U2, U4)>(13), rand::<(U3, U4)>(14), None);
}

#[test]
fn convolution_gradients() {
    layer_grads!(in_f64::Conv1d<U2, U3, U3, U2, U1>, rand::<(U2, U2, U7)>(20), rand::<(U3, U2, U3)>(21), Some(rand::<(U3,)>(22)));
    layer_grads!(Conv1d<U2, U2, U2, U1, Same, U2, U2, Reflect, f64>, rand::<(U1, U2, U6)>(23), rand::<(U2, U1, U2)>(24), Some(rand::<(U2,)>(25)));
    layer_grads!(Conv2d<U2, U4, (U2, U3), (U1, U2), (U1, U0), (U2, U1), U2, Zeros, f64>, rand::<(U2, U2, U5, U6)>(26), rand::<(U4, U1, U2, U3)>(27), Some(rand::<(U4,)>(28)));
    layer_grads!(Conv2d<U1, U2, U3, U1, U1, U1, U1, Circular, f64>, rand::<(U1, U1, U4, U4)>(29), rand::<(U2, U1, U3, U3)>(30), None);
    layer_grads!(Conv2d<U1, U2, U3, U1, Same, U1, U1, Replicate, f64>, rand::<(U1, U1, U4, U5)>(31), rand::<(U2, U1, U3, U3)>(32), Some(rand::<(U2,)>(33)));
    layer_grads!(Conv3d<U2, U2, (U1, U2, U2), U1, U1, U1, U2, Zeros, f64>, rand::<(U1, U2, U2, U3, U3)>(34), rand::<(U2, U1, U1, U2, U2)>(35), Some(rand::<(U2,)>(36)));
    layer_grads!(ConvTranspose1d<U2, U2, U3, U2, U1, U1, U1, U1, f64>, rand::<(U2, U2, U4)>(37), rand::<(U2, U2, U3)>(38), Some(rand::<(U2,)>(39)));
    layer_grads!(ConvTranspose2d<U2, U4, (U2, U3), (U2, U1), U0, (U1, U0), U2, (U1, U2), f64>, rand::<(U1, U2, U3, U3)>(40), rand::<(U2, U2, U2, U3)>(41), Some(rand::<(U4,)>(42)));
}

#[test]
fn pooling_gradients() {
    let x1 = distinct::<(U2, U2, U9)>(50);
    let x2 = distinct::<(U1, U2, U7, U6)>(51);
    let x3 = distinct::<(U1, U1, U4, U5, U5)>(52);
    check!(x1, |x| MaxPool1d::<U3, U2, U1, U2, True>::new().forward(x));
    check!(x2, |x| MaxPool2d::<(U3, U2), (U2, U1), U1>::new()
        .forward(x));
    check!(x3, |x| MaxPool3d::<U2, (U1, U2, U2), U1>::new().forward(x));
    check!(x1, |x| AvgPool1d::<U3, U2, U1, True>::new()
        .count_include_pad(false)
        .forward(x));
    check!(x2, |x| AvgPool2d::<U3, U2, U1, True>::new().forward(x));
    check!(x2, |x| AvgPool2d::<U2>::new()
        .divisor_override(Some(3))
        .forward(x));
    check!(x3, |x| AvgPool3d::<U2, U1, U1>::new().forward(x));
    check!(x1, |x| AdaptiveAvgPool1d::<U4>::new().forward(x));
    check!(x1, |x| AdaptiveMaxPool1d::<U4>::new().forward(x));
    check!(x2, |x| AdaptiveAvgPool2d::<U3, U4>::new().forward(x));
    check!(x2, |x| AdaptiveMaxPool2d::<U4, U5>::new().forward(x));
    check!(x2, adaptive_avgmax_pool2d::<U2, U3, _, _, _, _, _, _>);
    check!(x2, adaptive_catavgmax_pool2d::<U3, U2, _, _, _, _, _, _>);
    let (_, idx) = MaxPool2d::<U2>::new().forward_with_indices(x2.clone());
    let y = rand::<(U1, U2, U3, U3)>(53);
    check!(y, |y| MaxUnpool2d::<U2>::new().forward(y, &idx));
}

#[test]
fn pixel_shuffle_gradients() {
    check!(rand::<(U2, U8, U3, U2)>(70), |x| PixelShuffle::<U2>::new()
        .forward(x));
    check!(rand::<(U9, U2, U1)>(71), |x| PixelShuffle::<U3>::new()
        .forward(x));
    check!(rand::<(U1, U2, U4, U6)>(72), |x| PixelUnshuffle::<U2>::new(
    )
    .forward(x));
}

#[test]
fn padding_gradients() {
    let x1 = rand::<(U2, U2, U5)>(60);
    let x2 = rand::<(U1, U2, U4, U5)>(61);
    check!(x1, |x| ZeroPad1d::<U2, U1>::new().forward(x));
    check!(x1, |x| ConstantPad1d::<U1, U3>::with_value(2.0).forward(x));
    check!(x1, |x| ReflectionPad1d::<U4, U2>::new().forward(x));
    check!(x1, |x| ReplicationPad1d::<U3, U0>::new().forward(x));
    check!(x1, |x| CircularPad1d::<U5, U2>::new().forward(x));
    check!(x2, |x| ZeroPad2d::<U1, U2, U0, U3>::new().forward(x));
    check!(x2, |x| ConstantPad2d::<U1>::with_value(-1.0).forward(x));
    check!(x2, |x| ReflectionPad2d::<U3, U1, U2, U3>::new().forward(x));
    check!(x2, |x| ReplicationPad2d::<U2, U0, U1, U4>::new().forward(x));
    check!(x2, |x| CircularPad2d::<U2, U1, U4, U1>::new().forward(x));
}

#[test]
fn flatten_unflatten_identity_gradients() {
    let x = rand::<(U2, U3, U4)>(70);
    check!(x, |x| Flatten::<1, -1>::new().forward(x));
    check!(x, |x| Unflatten::<2, (U2, U2)>::new().forward(x));
    check!(x, |x| Identity.forward(x));
}

#[test]
fn one_d_layers_are_two_d_layers_over_height_one() {
    let x1 = rand::<(U2, U3, U9)>(80);
    let x2: Tensor<(U2, U3, U1, U9), f64> = x1.clone().reshape();
    let w1 = rand::<(U4, U3, U3)>(81);
    let w2: Tensor<(U4, U3, U1, U3), f64> = w1.clone().reshape();
    let b = rand::<(U4,)>(82);
    let c1 = Conv1d::<U3, U4, U3, U2, U1, U2, U1, Reflect, f64>::from_params(w1, Some(b.clone()));
    let c2 =
        Conv2d::<U3, U4, (U1, U3), (U1, U2), (U0, U1), (U1, U2), U1, Reflect, f64>::from_params(
            w2,
            Some(b),
        );
    let (y1, y2) = (c1.forward(x1.clone()), c2.forward(x2.clone()));
    assert_eq!(y1.to_vec(), y2.to_vec());
    let p1 = MaxPool1d::<U3, U2, U1>::new().forward_with_indices(x1.clone());
    let p2 = MaxPool2d::<(U1, U3), (U1, U2), (U0, U1)>::new().forward_with_indices(x2.clone());
    assert_eq!(
        (p1.0.to_vec(), p1.1.to_vec()),
        (p2.0.to_vec(), p2.1.to_vec())
    );
    let a1 = AvgPool1d::<U2>::new().forward(x1.clone());
    let a2 = AvgPool2d::<(U1, U2)>::new().forward(x2.clone());
    assert_eq!(a1.to_vec(), a2.to_vec());
    let x3: Tensor<(U2, U3, U1, U1, U9), f64> = x1.clone().reshape();
    let m3 = MaxPool3d::<(U1, U1, U3), (U1, U1, U2), (U0, U0, U1)>::new().forward(x3);
    assert_eq!(m3.to_vec(), p1.0.to_vec());
    let ad1 = AdaptiveAvgPool1d::<U4>::new().forward(x1);
    let ad2 = AdaptiveAvgPool2d::<U1, U4>::new().forward(x2);
    assert_eq!(ad1.to_vec(), ad2.to_vec());
}

#[test]
fn same_padding_keeps_the_size_and_splits_like_pytorch() {
    // kernel 4, dilation 1: total padding 3, 1 in front and 2 behind (PyTorch's split).
    let x = rand::<(U1, U1, U6)>(90);
    let w = rand::<(U1, U1, U4)>(91);
    let same = in_f64::Conv1d::<U1, U1, U4, U1, Same>::from_params(w.clone(), None);
    let explicit = ZeroPad1d::<U1, U2>::new().forward(x.clone());
    let valid = in_f64::Conv1d::<U1, U1, U4, U1, Valid>::from_params(w, None);
    let (a, b) = (same.forward(x), valid.forward(explicit));
    for (a, b) in a.to_vec().iter().zip(b.to_vec()) {
        assert!((a - b).abs() < 1e-15);
    }
}

#[test]
fn layers_take_a_runtime_batch() {
    let mut rng = Rng::seed(5);
    let conv = Conv2d::<U1, U2, U3, U1, U1>::new(&mut rng);
    let x = Tensor::<(usize, U1, U5, U5)>::uniform_shaped(
        (3, U1::new(), U5::new(), U5::new()),
        &mut rng,
        -1.0,
        1.0,
    );
    let y = MaxPool2d::<U2, U2, U0, U1, True>::new().forward(conv.forward(x.clone()));
    assert_eq!(y.dims(), [3, 2, 3, 3]);
    let s: Tensor<(U3, U1, U5, U5)> = x.try_static_batch().unwrap();
    let ys = MaxPool2d::<U2, U2, U0, U1, True>::new().forward(conv.forward(s));
    assert_eq!(y.to_vec(), ys.to_vec());
}

#[test]
fn default_init_matches_pytorchs_bounds() {
    let mut rng = Rng::seed(3);
    // Conv2d(16, 8, 3, groups=2): fan_in = 8 * 9 = 72
    let c = Conv2d::<U16, U8, U3, U1, U0, U1, U2, Zeros, f64>::new(&mut rng);
    let bound = 1.0 / 72f64.sqrt();
    let w = c.weight.to_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!(
        (var - bound * bound / 3.0).abs() < 0.2 * bound * bound / 3.0,
        "uniform variance"
    );
    assert!(c.bias.unwrap().to_vec().iter().all(|v| v.abs() <= bound));
    // ConvTranspose2d(4, 6, 3, groups=2): PyTorch's fan_in = weight.size(1) * 9 = 3 * 9
    let t = ConvTranspose2d::<U4, U6, U3, U1, U0, U0, U2, U1, f64>::new(&mut rng);
    let tb = 1.0 / 27f64.sqrt();
    assert!(t.weight.to_vec().iter().all(|v| v.abs() <= tb));
    assert!(t.weight.to_vec().iter().any(|v| v.abs() > 0.9 * tb));
    let l = Linear::<U100, U50, f64>::new(&mut rng);
    assert!(l.weight.to_vec().iter().all(|v| v.abs() <= 0.1));
    assert!(l.weight.requires_grad() && l.bias.as_ref().unwrap().requires_grad());
    // seeded: the same seed gives the same layer
    let a = Linear::<U3, U2>::new(&mut Rng::seed(9));
    let b = Linear::<U3, U2>::new(&mut Rng::seed(9));
    assert_eq!(a.weight.to_vec(), b.weight.to_vec());
}
