//! Every layer's backward agrees with central finite differences (`check_module_gradients`: the
//! input and every parameter), for hyper-parameters drawn per case from a set of
//! configurations, random inputs and random weights (the seed is a proptest value).

use proptest::prelude::*;
use stensor::nn::*;
use stensor::prelude::*;
use stensor::testing::*;

/// Checks `layer` at `x` (standard normal values from `seed`).
fn check<M, S, S2>(layer: M, seed: u64) -> Result<(), TestCaseError>
where
    M: Module + Forward<Tensor<S, f64, Tape<f64>>, Output = Tensor<S2, f64, Tape<f64>>>,
    S: ConstShape,
    S2: Shape,
{
    check_at(layer, &Tensor::<S, f64>::rand_normal(seed, 0.0, 1.0))
}

/// Checks `layer` at `x`, the error prefixed with the layer's kind.
fn check_at<M, S, S2>(mut layer: M, x: &Tensor<S, f64>) -> Result<(), TestCaseError>
where
    M: Module + Forward<Tensor<S, f64, Tape<f64>>, Output = Tensor<S2, f64, Tape<f64>>>,
    S: Shape,
    S2: Shape,
{
    let cfg = GradCheck::default();
    // activations have no parameter: their input is all there is to check
    let result = if layer.named_parameters().is_empty() {
        check_gradients_with(cfg, |x| layer.forward(x), x)
    } else {
        check_module_gradients_with(cfg, &mut layer, x, |m, x| m.forward(x))
    };
    result.map_err(|e| TestCaseError::fail(format!("{}: {e}", layer.kind())))
}

/// Every kink of the activations below: where a derivative jumps, finite differences
/// straddle two slopes, so inputs keep `1e-4` away (the step is 1e-6).
const KINKS: [f64; 7] = [0.0, -0.5, 0.5, 1.0, -3.0, 3.0, 6.0];

/// Inputs in `[-7, 7)` off every kink (7 reaches ReLU6's upper kink and Hardswish's flat
/// parts).
fn off_kinks<S: Shape>() -> TensorStrategy<S, f64> {
    KINKS
        .iter()
        .fold(any_tensor_f64::<S>().range(-7.0, 7.0), |s, &k| {
            s.away_from(k, 1e-4)
        })
}

type F = f64;

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn convolutions(config in 0usize..6, seed in any::<u64>()) {
        let r = &mut stensor::tensor::Rng::seed(seed);
        let s = seed ^ 1;
        match config {
            0 => check::<_, (U2, U4, U7, U6), _>(Conv2d::<U4, U6, (U3, U2), (U2, U1), (U1, U0), U1, U2, Zeros, F>::new(r), s)?,
            1 => check::<_, (U1, U3, U6, U6), _>(Conv2d::<U3, U2, U3, U1, U2, U2, U1, Reflect, F>::new(r), s)?,
            2 => check::<_, (U2, U2, U9), _>(Conv1d::<U2, U4, U3, U2, U1, U2, U2, Circular, F>::new(r), s)?,
            3 => check::<_, (U1, U4, U4, U3), _>(ConvTranspose2d::<U4, U2, U3, U2, U1, U1, U2, U1, F>::new(r), s)?,
            4 => check::<_, (U2, U3, U5), _>(ConvTranspose1d::<U3, U3, U2, U3, U0, U1, U3, U2, F>::new(r), s)?,
            _ => check::<_, (U1, U2, U3, U3, U3), _>(Conv3d::<U2, U2, U2, U1, U1, U1, U1, Replicate, F>::new(r), s)?,
        }
    }

    #[test]
    fn linear_and_normalization(config in 0usize..9, seed in any::<u64>()) {
        let r = &mut stensor::tensor::Rng::seed(seed);
        let s = seed ^ 2;
        match config {
            0 => check::<_, (U3, U5), _>(Linear::<U5, U4, F>::new(r), s)?,
            1 => check::<_, (U4, U3, U2, U2), _>(BatchNorm2d::<U3, F>::new(), s)?,
            2 => check::<_, (U5, U3), _>(BatchNorm1d::<U3, F>::new(), s)?,
            3 => check::<_, (U2, U2, U2, U2, U3), _>(BatchNorm3d::<U2, F>::new(), s)?,
            4 => check::<_, (U3, U2, U6), _>(LayerNorm::<(U6,), F>::new(), s)?,
            5 => check::<_, (U2, U4, U3, U2), _>(GroupNorm::<U2, U4, F>::new(), s)?,
            6 => check::<_, (U2, U3, U2, U3), _>(InstanceNorm2d::<U3, F>::new().eps(1e-5).momentum(None).affine(true).track_running_stats(false), s)?,
            7 => check::<_, (U2, U3, U5), _>(InstanceNorm1d::<U3, F>::new(), s)?,
            _ => check::<_, (U2, U3, U5), _>(PReLU::<U3, F>::new(), s)?,
        }
    }

    #[test]
    fn pooling_and_padding(config in 0usize..11, seed in any::<u64>()) {
        let s = seed;
        match config {
            0 => check::<_, (U2, U2, U7, U7), _>(MaxPool2d::<U3, U2, U1, U1, True>::new(), s)?,
            1 => check::<_, (U2, U2, U7, U6), _>(AvgPool2d::<U3, U2, U1, True>::new().count_include_pad(false), s)?,
            2 => check::<_, (U2, U3, U9), _>(MaxPool1d::<U3, U2, U1, U2>::new(), s)?,
            3 => check::<_, (U1, U2, U4, U5, U4), _>(AvgPool3d::<U2, U2, U1>::new(), s)?,
            4 => check::<_, (U1, U3, U7, U5), _>(AdaptiveAvgPool2d::<U3, U2>::new(), s)?,
            5 => check::<_, (U1, U3, U7, U5), _>(AdaptiveMaxPool2d::<U3, U2>::new(), s)?,
            6 => check::<_, (U2, U2, U4, U5), _>(ReflectionPad2d::<U2, U1, U3, U0>::new(), s)?,
            7 => check::<_, (U2, U2, U4, U5), _>(ReplicationPad2d::<U1, U3, U0, U2>::new(), s)?,
            8 => check::<_, (U2, U2, U4, U5), _>(ZeroPad2d::<U1, U0, U2, U1>::new(), s)?,
            9 => check::<_, (U2, U3, U4), _>(ConstantPad1d::<U2, U1>::with_value(1.5), s)?,
            _ => check::<_, (U2, U3, U4), _>(CircularPad1d::<U3, U2>::new(), s)?,
        }
    }

    /// Every activation, at inputs off their kinks (RReLU in eval mode).
    #[test]
    fn activations(config in 0usize..24, x in off_kinks::<(U3, U7)>()) {
        let x = &x;
        match config {
            0 => check_at(Sigmoid, x)?,
            1 => check_at(Tanh, x)?,
            2 => check_at(ReLU, x)?,
            3 => check_at(ReLU6, x)?,
            4 => check_at(SELU, x)?,
            5 => check_at(Tanhshrink, x)?,
            6 => check_at(LogSigmoid, x)?,
            7 => check_at(SiLU, x)?,
            8 => check_at(Mish, x)?,
            9 => check_at(Hardswish, x)?,
            10 => check_at(Hardsigmoid, x)?,
            11 => check_at(LeakyReLU { negative_slope: 0.2 }, x)?,
            12 => check_at(ELU { alpha: 0.7 }, x)?,
            13 => check_at(CELU { alpha: 1.3 }, x)?,
            14 => check_at(Softplus::default(), x)?,
            15 => check_at(Softshrink { lambd: 0.5 }, x)?,
            16 => check_at(Hardshrink { lambd: 0.5 }, x)?,
            17 => check_at(Hardtanh { min_val: -0.5, max_val: 1.0 }, x)?,
            18 => check_at(GELU::default(), x)?,
            19 => check_at(GELU { approximate: true }, x)?,
            20 => check_at({ let mut r = RReLU::default(); r.eval(); r }, x)?,
            21 => check_at(Softmax::<1>, x)?,
            22 => check_at(LogSoftmax::<1>, x)?,
            _ => check_at(Softmin::<0>, x)?,
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The same check driven by the public strategies: a layer with weights redrawn in
    /// `[-2, 2)` and an input with exact zeros among its values (a ReLU's kink is not
    /// differentiable, so the activation here is smooth).
    #[test]
    fn a_conv_block_with_large_random_weights(
        block in any_module(|r| (Conv2d::<U2, U3, U3, U1, U1, U1, U1, Zeros, F>::new(r), Tanh, AvgPool2d::<U2>::new())).params_in(-2.0, 2.0),
        x in any_tensor_f64::<(U2, U2, U4, U4)>().with_zeros(),
    ) {
        let mut block = block.module;
        check_module_gradients(&mut block, &x, |m, x| m.forward(x))?;
    }
}
