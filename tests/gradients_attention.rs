//! `scaled_dot_product_attention`'s backward against central finite differences in f64,
//! through the query, the key and the value, for every option: boolean and additive masks
//! (broadcast), the causal rule, a given scale, dropout (its draws fixed by the seed), the 3-D
//! form, and lengths across the kernel's blocks.

use stensor::gradcheck::check_gradients;
use stensor::ops::{AttnMask, Sdpa};
use stensor::prelude::*;

type Q = Tensor<(U2, U2, usize, U3), f64>;
type V = Tensor<(U2, U2, usize, U2), f64>;

fn qkv(l: usize, s: usize, seed: u64) -> (Q, Q, V) {
    let r = &mut Rng::seed(seed);
    (
        Tensor::uniform_shaped((U2::new(), U2::new(), l, U3::new()), r, -1.0, 1.0),
        Tensor::uniform_shaped((U2::new(), U2::new(), s, U3::new()), r, -1.0, 1.0),
        Tensor::uniform_shaped((U2::new(), U2::new(), s, U2::new()), r, -1.0, 1.0),
    )
}

/// The three gradients of `sum(out^2)` under `opts`.
fn check_all(l: usize, s: usize, opts: Sdpa<'_, f64>) {
    let (q, k, v) = qkv(l, s, (l * 31 + s) as u64);
    let loss = |y: Tensor<(U2, U2, usize, U2), f64, Tape<f64>>| y.square().sum();
    check_gradients(|q| loss(q.scaled_dot_product_attention(&k, &v, opts)), &q)
        .unwrap_or_else(|e| panic!("query {l}x{s}: {e}"));
    check_gradients(
        |k| {
            loss(
                q.clone()
                    .scaled_dot_product_attention(&k, &v.clone().trace_no_grad(), opts),
            )
        },
        &k,
    )
    .unwrap_or_else(|e| panic!("key {l}x{s}: {e}"));
    check_gradients(
        |v| {
            loss(
                q.clone()
                    .scaled_dot_product_attention(&k.clone().trace_no_grad(), &v, opts),
            )
        },
        &v,
    )
    .unwrap_or_else(|e| panic!("value {l}x{s}: {e}"));
}

#[test]
fn plain_causal_and_scaled() {
    for (l, s) in [(1, 1), (3, 5), (6, 2)] {
        check_all(l, s, Sdpa::new());
        check_all(l, s, Sdpa::new().causal());
        check_all(l, s, Sdpa::new().scale(0.7));
    }
}

#[test]
fn masks_broadcast() {
    let (l, s) = (4, 5);
    // (L, S) boolean, one row hidden entirely (its output is zeros, its gradient none)
    let allow =
        Mask::<(usize, usize)>::from_fn_shaped((l, s), |ix| ix[0] != 2 && (ix[0] + ix[1]) % 3 != 0);
    check_all(l, s, Sdpa::new().mask(AttnMask::allow(&allow)));
    // (B, 1, L, S) additive
    let add = Tensor::<(U2, U1, usize, usize), f64>::uniform_shaped(
        (U2::new(), U1::new(), l, s),
        &mut Rng::seed(4),
        -2.0,
        2.0,
    );
    check_all(l, s, Sdpa::new().mask(AttnMask::add(&add)).causal());
}

#[test]
fn dropout_with_fixed_draws() {
    check_all(5, 6, Sdpa::new().dropout(0.3, &mut Rng::seed(8)));
}

#[test]
fn lengths_across_the_kernels_blocks() {
    // 70 queries (two blocks of 64) against 130 keys (two blocks of 128), causal
    let (q, k, v) = qkv(70, 130, 5);
    check_gradients(
        |q| {
            q.scaled_dot_product_attention(&k, &v, Sdpa::new().causal())
                .square()
                .sum()
        },
        &q,
    )
    .unwrap();
}

#[test]
fn the_three_dimensional_form() {
    let r = &mut Rng::seed(6);
    let q = Tensor::<(usize, usize, U4), f64>::uniform_shaped((2, 3, U4::new()), r, -1.0, 1.0);
    let k = Tensor::<(usize, usize, U4), f64>::uniform_shaped((2, 5, U4::new()), r, -1.0, 1.0);
    let v = Tensor::<(usize, usize, U3), f64>::uniform_shaped((2, 5, U3::new()), r, -1.0, 1.0);
    let allow = Mask::<(usize, usize)>::from_fn_shaped((3, 5), |ix| ix[0] + ix[1] != 2);
    let opts = Sdpa::new().mask(AttnMask::allow(&allow));
    check_gradients(
        |q| q.scaled_dot_product_attention(&k, &v, opts).square().sum(),
        &q,
    )
    .unwrap();
    check_gradients(
        |k| {
            q.clone()
                .scaled_dot_product_attention(&k, &v.clone().trace_no_grad(), opts)
                .square()
                .sum()
        },
        &k,
    )
    .unwrap();
}

mod multihead {
    use stensor::gradcheck::check_module_gradients;
    use stensor::nn::{BatchFirst, MhaConfig, MhaOptions, MultiheadAttention};
    use stensor::ops::AttnMask;
    use stensor::prelude::*;

    type X = Tensor<(usize, usize, U4), f64>;

    fn x() -> X {
        Tensor::uniform_shaped((3, 2, U4::new()), &mut Rng::seed(2), -1.0, 1.0)
    }

    /// Every parameter and the input (as query, key and value at once) of a layer under
    /// `opts`, through `sum(out^2)` (plus the weights' squares when they are returned).
    fn check<K: ConstDim, V: ConstDim>(
        mut m: MultiheadAttention<U4, U2, K, V, stensor::nn::SeqFirst, f64>,
        opts: MhaOptions<'_, f64>,
    ) {
        let key: Tensor<(usize, usize, K), f64> =
            Tensor::uniform_shaped((5, 2, K::default()), &mut Rng::seed(3), -1.0, 1.0);
        let value: Tensor<(usize, usize, V), f64> =
            Tensor::uniform_shaped((5, 2, V::default()), &mut Rng::seed(4), -1.0, 1.0);
        check_module_gradients(&mut m, &x(), |m, q| {
            let (y, w) = m.attend(
                q,
                key.clone().trace_no_grad(),
                value.clone().trace_no_grad(),
                opts,
            );
            let w = match w {
                Some(stensor::nn::AttnWeights::Averaged(w)) => w.square().sum(),
                Some(stensor::nn::AttnWeights::PerHead(w)) => w.square().sum(),
                None => y.clone().mul_scalar(0.0).sum(),
            };
            y.square().sum().add(&w)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn every_option() {
        let r = &mut Rng::seed(1);
        let pad = Mask::<(usize, usize)>::from_fn_shaped((2, 5), |ix| ix[0] == 1 && ix[1] == 4);
        let allow_not =
            Mask::<(usize, usize)>::from_fn_shaped((3, 5), |ix| (ix[0] + ix[1]) % 4 == 3);
        let add = Tensor::<(usize, usize, usize), f64>::uniform_shaped((4, 3, 5), r, -1.0, 1.0);
        let base = MhaOptions::default();
        let no_weights = MhaOptions {
            need_weights: false,
            ..base
        };
        check(MultiheadAttention::<U4, U2, U4, U4, _, f64>::new(r), base);
        check(
            MultiheadAttention::<U4, U2, U4, U4, _, f64>::new(r),
            no_weights,
        );
        check(MultiheadAttention::<U4, U2, U3, U5, _, f64>::new(r), base);
        check(
            MultiheadAttention::<U4, U2, U4, U4, _, f64>::with_options(
                r,
                MhaConfig {
                    bias: false,
                    add_bias_kv: true,
                    add_zero_attn: true,
                    dropout: 0.0,
                },
            ),
            MhaOptions {
                average_attn_weights: false,
                ..base
            },
        );
        check(
            MultiheadAttention::<U4, U2, U4, U4, _, f64>::with_options(
                r,
                MhaConfig {
                    add_bias_kv: true,
                    add_zero_attn: true,
                    ..MhaConfig::default()
                },
            ),
            MhaOptions {
                key_padding_mask: Some(AttnMask::hide(&pad)),
                attn_mask: Some(AttnMask::hide(&allow_not)),
                ..no_weights
            },
        );
        check(
            MultiheadAttention::<U4, U2, U4, U4, _, f64>::new(r),
            MhaOptions {
                attn_mask: Some(AttnMask::add(&add)),
                ..base
            },
        );
        // batch first
        let mut bf = MultiheadAttention::<U4, U2, U4, U4, BatchFirst, f64>::new(r);
        check_module_gradients(&mut bf, &x(), |m, x| {
            let (y, _) = m.attend(x.clone(), x.clone(), x, MhaOptions::default());
            y.square().sum()
        })
        .unwrap();
        // self-attention without the weights, steps and batch first: one product projects
        // the query, key and value side by side, the heads read them in place and their
        // gradients come back as one buffer
        let pad = Mask::<(usize, usize)>::from_fn_shaped((2, 3), |ix| ix[0] == 1 && ix[1] == 2);
        let opts = MhaOptions {
            key_padding_mask: Some(AttnMask::hide(&pad)),
            ..no_weights
        };
        let mut sf = MultiheadAttention::<U4, U2, U4, U4, stensor::nn::SeqFirst, f64>::new(r);
        check_module_gradients(&mut sf, &x(), |m, x| {
            m.attend(x.clone(), x.clone(), x, opts).0.square().sum()
        })
        .unwrap();
        let bf_opts = MhaOptions {
            is_causal: true,
            ..no_weights
        };
        check_module_gradients(&mut bf, &x(), |m, x| {
            m.attend(x.clone(), x.clone(), x, bf_opts).0.square().sum()
        })
        .unwrap();
    }
}

mod encoder_layer {
    use stensor::gradcheck::check_module_gradients;
    use stensor::nn::{
        EncoderMasks, FeedForwardActivation, Forward, SeqFirst, TransformerEncoderLayer,
        TransformerLayerConfig,
    };
    use stensor::ops::AttnMask;
    use stensor::prelude::*;

    #[test]
    fn post_and_pre_norm_relu_and_gelu_with_masks() {
        let r = &mut Rng::seed(9);
        let x = Tensor::<(usize, usize, U4), f64>::uniform_shaped((3, 2, U4::new()), r, -1.0, 1.0);
        let pad = Mask::<(usize, usize)>::from_fn_shaped((2, 3), |ix| ix[0] == 0 && ix[1] == 2);
        for (activation, norm_first) in [
            (FeedForwardActivation::Relu, false),
            (FeedForwardActivation::Gelu, true),
        ] {
            let cfg = TransformerLayerConfig {
                dropout: 0.0,
                activation,
                norm_first,
                ..Default::default()
            };
            let mut layer =
                TransformerEncoderLayer::<U4, U2, U6, SeqFirst, f64>::with_options(r, cfg);
            check_module_gradients(&mut layer, &x, |m, x| {
                let masks = EncoderMasks {
                    src_key_padding_mask: Some(AttnMask::hide(&pad)),
                    ..Default::default()
                };
                m.encode(x, masks).square().sum()
            })
            .unwrap_or_else(|e| panic!("{activation:?} norm_first {norm_first}: {e}"));
            check_module_gradients(&mut layer, &x, |m, x| m.forward(x).square().sum()).unwrap();
        }
    }

    #[test]
    fn encoder_of_two_layers_and_a_final_norm() {
        let r = &mut Rng::seed(11);
        let x = Tensor::<(usize, usize, U4), f64>::uniform_shaped((3, 2, U4::new()), r, -1.0, 1.0);
        let cfg = TransformerLayerConfig {
            dropout: 0.0,
            ..Default::default()
        };
        let layers = (0..2)
            .map(|_| TransformerEncoderLayer::<U4, U2, U6, SeqFirst, f64>::with_options(r, cfg))
            .collect();
        let mut enc =
            stensor::nn::TransformerEncoder::new(layers, Some(stensor::nn::LayerNorm::new()));
        check_module_gradients(&mut enc, &x, |m, x| m.forward(x).square().sum()).unwrap();
    }

    #[test]
    fn decoder_layer_through_target_memory_and_parameters() {
        let r = &mut Rng::seed(10);
        let tgt =
            Tensor::<(usize, usize, U4), f64>::uniform_shaped((3, 2, U4::new()), r, -1.0, 1.0);
        let memory =
            Tensor::<(usize, usize, U4), f64>::uniform_shaped((4, 2, U4::new()), r, -1.0, 1.0);
        let causal = Mask::<(usize, usize)>::from_fn_shaped((3, 3), |ix| ix[1] > ix[0]);
        let pad = Mask::<(usize, usize)>::from_fn_shaped((2, 4), |ix| ix[0] == 1 && ix[1] == 3);
        for norm_first in [false, true] {
            let mut layer =
                stensor::nn::TransformerDecoderLayer::<U4, U2, U6, SeqFirst, f64>::with_options(
                    r,
                    TransformerLayerConfig {
                        dropout: 0.0,
                        activation: FeedForwardActivation::Gelu,
                        norm_first,
                        ..Default::default()
                    },
                );
            let masks = stensor::nn::DecoderMasks {
                tgt_mask: Some(AttnMask::hide(&causal)),
                memory_key_padding_mask: Some(AttnMask::hide(&pad)),
                ..Default::default()
            };
            check_module_gradients(&mut layer, &tgt, |m, t| {
                m.decode(t, memory.clone().trace_no_grad(), masks)
                    .square()
                    .sum()
            })
            .unwrap_or_else(|e| panic!("tgt, norm_first {norm_first}: {e}"));
            check_module_gradients(&mut layer, &memory, |m, mem| {
                m.decode(tgt.clone().trace_no_grad(), mem, masks)
                    .square()
                    .sum()
            })
            .unwrap_or_else(|e| panic!("memory, norm_first {norm_first}: {e}"));
        }
    }
}
