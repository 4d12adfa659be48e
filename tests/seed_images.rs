//! Seed 000's output sizes, checked by the compiler: its photo was 1000x1000, so
//! `Conv2d(3, 1, 3)` gives 998x998 and `ConvTranspose2d(3, 1, 3, stride=2)` 2001x2001, the
//! 2x2 poolings 500x500 and the unpooling 1000x1000 again. Each function below compiles only
//! if the layer's output type is the seed's size; the test then runs the shipped photo's
//! 512x512 through the same layers (510 and 1025, as the `seed000_image_layers` example prints).

// `dim!(2001)` is a typenum binary number: a long type by nature
#![allow(clippy::type_complexity)]

use stensor::dim;
use stensor::nn::*;
use stensor::prelude::*;

type Photo<H> = Tensor<(U1, U3, H, H)>;
/// One grey picture of `H x H`.
type Grey<H> = Tensor<(U1, U1, H, H)>;

fn conv(c: &Conv2d<U3, U1, U3>, x: Photo<U1000>) -> Grey<U998> {
    c.forward(x)
}

fn conv_t(c: &ConvTranspose2d<U3, U1, U3, U2>, x: Photo<U1000>) -> Grey<dim!(2001)> {
    c.forward(x)
}

fn pools(x: Photo<U1000>) -> (Photo<U500>, Photo<U500>, Photo<U1000>) {
    let (max, idx) = MaxPool2d::<(U2, U2), (U2, U2)>::new().forward_with_indices(x.clone());
    let avg = AvgPool2d::<(U2, U2), (U2, U2)>::new().forward(x);
    let back = MaxUnpool2d::<(U2, U2), (U2, U2)>::new().forward(max.clone(), &idx);
    (max, avg, back)
}

#[test]
fn the_seeds_sizes_are_the_layers_types() {
    let mut rng = Rng::seed(0);
    let (c, ct) = (
        Conv2d::<U3, U1, U3>::new(&mut rng),
        ConvTranspose2d::<U3, U1, U3, U2>::new(&mut rng),
    );
    let x = Photo::<U1000>::ones();
    assert_eq!(conv(&c, x.clone()).dims().to_vec(), [1, 1, 998, 998]);
    assert_eq!(conv_t(&ct, x.clone()).dims().to_vec(), [1, 1, 2001, 2001]);
    let (max, avg, back) = pools(x);
    assert_eq!(
        (max.dims()[2], avg.dims()[2], back.dims()[2]),
        (500, 500, 1000)
    );
    // the shipped photo's size through the same layers
    let y: Tensor<(U1, U1, U510, U510)> = c.forward(Photo::<U512>::zeros());
    let z: Grey<dim!(1025)> = ct.forward(Photo::<U512>::zeros());
    assert_eq!((y.dims()[3], z.dims()[3]), (510, 1025));
}
