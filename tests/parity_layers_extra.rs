//! PyTorch parity for parameter combinations the shared reference set does not cover: cases of
//! `tests/reference/layers_extra.json`, made by `tests/reference/gen_extra.py` (1-d and 3-d
//! layers with groups, dilation and padding modes, `padding="same"` with an even kernel,
//! transposed 1-d convolution, adaptive pooling to a larger size, 1-d and circular padding,
//! pixel shuffle and unshuffle).

mod common;

use common::{case, cases, check_forward_backward, Case};
use stensor::nn::*;
use stensor::prelude::*;

fn c(name: &str) -> Case {
    case("layers_extra", name)
}

macro_rules! stateless {
    ($c:expr, $E:ty, $layer:expr, $x:ty, $y:ty) => {{
        let layer = $layer;
        check_forward_backward::<$x, $y, $E, _>(&$c, |x| layer.forward(x), &[]);
    }};
}

fn indices<S: Shape>(c: &Case, idx: &PoolIndices<S>) {
    let want: Vec<usize> = c.data(&["indices"]).iter().map(|&v| v as usize).collect();
    assert_eq!(idx.to_vec(), want, "{} indices", c.name());
}

fn all<E: Element>() {
    check_with_params!(&c("conv1d_groups_dilation_reflect"), E, Conv1d<U4, U6, U3, U1, U2, U2, U2, Reflect, E>, (U2, U4, U9), (U2, U6, U9));
    check_with_params!(&c("conv1d_same_even_kernel"), E, Conv1d<U2, U3, U4, U1, Same, U2, U1, Zeros, E>, (U2, U2, U10), (U2, U3, U10));
    check_with_params!(&c("conv1d_circular_stride"), E, Conv1d<U2, U2, U3, U2, U2, U1, U1, Circular, E>, (U1, U2, U7), (U1, U2, U5));
    check_with_params!(&c("conv2d_same_rect"), E, Conv2d<U2, U2, (U2, U3), U1, Same, (U2, U1), U1, Zeros, E>, (U2, U2, U5, U6), (U2, U2, U5, U6));
    check_with_params!(&c("conv2d_valid_nobias"), E, Conv2d<U3, U4, U3, U1, Valid, U1, U1, Zeros, E>, (U1, U3, U6, U5), (U1, U4, U4, U3));
    check_with_params!(&c("conv2d_replicate_groups"), E, Conv2d<U4, U4, U3, U1, (U1, U2), U1, U2, Replicate, E>, (U2, U4, U5, U4), (U2, U4, U5, U6));
    check_with_params!(&c("conv3d_groups_rect"), E, Conv3d<U4, U2, (U2, U3, U2), (U1, U2, U2), (U1, U0, U1), (U1, U1, U2), U2, Zeros, E>, (U1, U4, U3, U7, U6), (U1, U2, U4, U3, U3));
    check_with_params!(&c("conv3d_circular"), E, Conv3d<U1, U2, U3, U1, U1, U1, U1, Circular, E>, (U1, U1, U3, U4, U4), (U1, U2, U3, U4, U4));
    check_with_params!(&c("conv_transpose1d_full"), E, ConvTranspose1d<U4, U6, U3, U2, U1, U1, U2, U2, E>, (U2, U4, U5), (U2, U6, U12));
    check_with_params!(&c("conv_transpose2d_rect"), E, ConvTranspose2d<U2, U3, (U3, U2), (U2, U1), (U1, U0), (U1, U0), U1, (U1, U2), E>, (U1, U2, U4, U3), (U1, U3, U8, U5));
    check_with_params!(&c("linear_rank3_nobias"), E, Linear<U4, U3, E>, (U2, U5, U4), (U2, U5, U3));

    let k = c("maxpool1d_ceil_dilation");
    let m = MaxPool1d::<U3, U2, U1, U2, True>::new();
    indices(
        &k,
        &m.forward_with_indices(k.tensor::<(U2, U3, U10), E>(&["inputs", "x"]))
            .1,
    );
    stateless!(k, E, m, (U2, U3, U10), (U2, U3, U5));
    let k = c("maxpool3d_pad");
    let m = MaxPool3d::<(U2, U2, U3), (U1, U2, U2), U1>::new();
    indices(
        &k,
        &m.forward_with_indices(k.tensor::<(U1, U2, U3, U5, U6), E>(&["inputs", "x"]))
            .1,
    );
    stateless!(k, E, m, (U1, U2, U3, U5, U6), (U1, U2, U4, U3, U3));
    stateless!(
        c("avgpool1d_ceil_nopad"),
        E,
        AvgPool1d::<U3, U2, U1, True>::new().count_include_pad(false),
        (U2, U2, U8),
        (U2, U2, U5)
    );
    stateless!(
        c("avgpool3d_divisor"),
        E,
        AvgPool3d::<U2, (U1, U2, U2), U1>::new().divisor_override(Some(3)),
        (U1, U2, U3, U4, U5),
        (U1, U2, U4, U3, U3)
    );
    stateless!(
        c("avgpool2d_ceil_include_pad"),
        E,
        AvgPool2d::<U3, U2, U1, True>::new(),
        (U1, U2, U6, U5),
        (U1, U2, U4, U3)
    );
    stateless!(
        c("adaptive_avg_pool1d_7_3"),
        E,
        AdaptiveAvgPool1d::<U3>::new(),
        (U2, U2, U7),
        (U2, U2, U3)
    );
    let k = c("adaptive_max_pool1d_7_3");
    indices(
        &k,
        &AdaptiveMaxPool1d::<U3>::new()
            .forward_with_indices(k.tensor::<(U2, U2, U7), E>(&["inputs", "x"]))
            .1,
    );
    stateless!(
        k,
        E,
        AdaptiveMaxPool1d::<U3>::new(),
        (U2, U2, U7),
        (U2, U2, U3)
    );
    stateless!(
        c("adaptive_avg_pool2d_up"),
        E,
        AdaptiveAvgPool2d::<U5, U4>::new(),
        (U1, U2, U3, U3),
        (U1, U2, U5, U4)
    );
    let k = c("adaptive_max_pool2d_up");
    indices(
        &k,
        &AdaptiveMaxPool2d::<U4, U5>::new()
            .forward_with_indices(k.tensor::<(U1, U2, U3, U3), E>(&["inputs", "x"]))
            .1,
    );
    stateless!(
        k,
        E,
        AdaptiveMaxPool2d::<U4, U5>::new(),
        (U1, U2, U3, U3),
        (U1, U2, U4, U5)
    );

    type X1 = (U2, U2, U4);
    stateless!(
        c("zero_pad1d"),
        E,
        ZeroPad1d::<U2, U1>::new(),
        X1,
        (U2, U2, U7)
    );
    stateless!(
        c("constant_pad1d"),
        E,
        ConstantPad1d::<U1, U3>::with_value(-2.5),
        X1,
        (U2, U2, U8)
    );
    stateless!(
        c("reflection_pad1d"),
        E,
        ReflectionPad1d::<U3, U2>::new(),
        X1,
        (U2, U2, U9)
    );
    stateless!(
        c("replication_pad1d"),
        E,
        ReplicationPad1d::<U0, U3>::new(),
        X1,
        (U2, U2, U7)
    );
    stateless!(
        c("circular_pad1d"),
        E,
        CircularPad1d::<U4, U1>::new(),
        X1,
        (U2, U2, U9)
    );
    stateless!(
        c("circular_pad2d"),
        E,
        CircularPad2d::<U1, U2, U3, U0>::new(),
        (U1, U2, U3, U4),
        (U1, U2, U6, U7)
    );
    stateless!(
        c("pixel_shuffle_r2"),
        E,
        PixelShuffle::<U2>::new(),
        (U2, U8, U3, U4),
        (U2, U2, U6, U8)
    );
    stateless!(
        c("pixel_shuffle_r3_unbatched"),
        E,
        PixelShuffle::<U3>::new(),
        (U9, U2, U1),
        (U1, U6, U3)
    );
    stateless!(
        c("pixel_unshuffle_r2"),
        E,
        PixelUnshuffle::<U2>::new(),
        (U2, U3, U4, U6),
        (U2, U12, U2, U3)
    );
}

#[test]
fn extra_cases_match_pytorch() {
    all::<f64>();
    all::<f32>();
    assert_eq!(
        cases("layers_extra").len(),
        29,
        "layers_extra.json gained cases: add them above"
    );
}
