//! Seed 000: a photo through the layers of `torch.nn`, every result saved as a picture.
//!
//! The photo (`data/images/astronaut.png`, 512x512) is read as PIL's `convert('RGB')` and
//! torchvision's `ToTensor` read it, given a batch axis (`unsqueeze_(0)`), then sent through
//! `Conv2d(3, 1, 3)` and `ConvTranspose2d(3, 1, 3, stride=2)` (both with `xavier_normal_`
//! weights), `MaxPool2d((2, 2), stride=(2, 2))`, `AvgPool2d`, `MaxUnpool2d` with the max
//! pooling's indices, and ReLU / Sigmoid / Tanh of the convolution. Each result is turned back
//! into a picture as the seed's `transform_invert` does (clamped to `[0, 1]`, 8 bits, one
//! channel as grey) and saved next to the input; `overview.jpg` puts them all side by side.
//! The seed's `Linear(3, 4)` with set weights is printed too.
//!
//! ```text
//! cargo run --release --features vision --example seed000_image_layers
//! cargo run --release --features vision --example seed000_image_layers -- --out pictures --photo me.jpg
//! ```
//!
//! Options: `--out DIR` (default `runs/seed000_image_layers`), `--photo FILE` (PNG or JPEG,
//! resized to 512x512 if it is another size), `--seed N` (the convolutions' weights; default 5,
//! whose transposed convolution shows the photo: with many seeds its weights sum negative and
//! the clamped picture is black, as it is in PyTorch).

#[path = "common/mod.rs"]
mod common;

use stensor::nn::init::xavier_normal_;
use stensor::nn::*;
use stensor::prelude::*;
use stensor::vision::{
    read_image, read_image_resized, resize, save_image, save_image_with, Channels, Filter,
    GridOptions, ImageError, Interpolation,
};

type Photo = Tensor<(U1, U3, U512, U512)>;

fn main() {
    common::main_with(run);
}

/// The seed's output-size formulas: a convolution `(in - k + 2p) / s + 1`, a transposed one
/// `(in - 1) * s - 2p + k`.
fn conv_out(i: usize, k: usize, s: usize, p: usize) -> usize {
    (i + 2 * p - k) / s + 1
}
fn conv_t_out(i: usize, k: usize, s: usize, p: usize) -> usize {
    (i - 1) * s + k - 2 * p
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let flags = common::Flags::parse(&[
        (
            "out",
            "folder for the pictures (default runs/seed000_image_layers)",
        ),
        ("photo", "a PNG or JPEG (default data/images/astronaut.png)"),
        ("seed", "seed of the convolutions' weights (default 5)"),
    ])?;
    let out = std::path::PathBuf::from(
        flags
            .opt("out")
            .unwrap_or_else(|| "runs/seed000_image_layers".into()),
    );
    let photo = flags.opt("photo").unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/images/astronaut.png").into()
    });
    layers(&photo, &out, flags.get("seed", 5u64)?)
}

/// Seed 000 on the picture at `photo`, the pictures saved into `out` (created if missing).
pub fn layers(
    photo: &str,
    out: &std::path::Path,
    seed: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut rng = Rng::seed(seed);

    // Image.open(path).convert('RGB'), ToTensor(), unsqueeze_(0)
    let img = match read_image::<U3, U512, U512>(photo) {
        Err(ImageError::Size { found, .. }) => {
            println!("{photo} is {}x{}: resized to 512x512", found.0, found.1);
            read_image_resized::<U3, U512, U512>(photo, Filter::Bilinear)?
        }
        r => r?,
    };
    let x: Photo = img.unsqueeze::<0>();
    println!("input {photo}: {:?}", x.dims());
    // each result as a picture of its own (a batch of one is saved as that one picture), and
    // as a 256x256 tile of the overview
    let mut tiles: Vec<f32> = vec![];
    keep(out, &mut tiles, "input.png", &x)?;

    // nn.Conv2d(3, 1, 3) with xavier_normal_ weights
    let mut conv = Conv2d::<U3, U1, U3>::new(&mut rng);
    xavier_normal_(&mut conv.weight, 1.0, &mut rng);
    let conv_map = conv.forward(x.clone());
    report(&conv, "512x512", conv_map.dims(), conv_out(512, 3, 1, 0));
    keep(out, &mut tiles, "conv2d.png", &conv_map)?;

    // nn.ConvTranspose2d(3, 1, 3, stride=2)
    let mut conv_t = ConvTranspose2d::<U3, U1, U3, U2>::new(&mut rng);
    xavier_normal_(&mut conv_t.weight, 1.0, &mut rng);
    let y = conv_t.forward(x.clone());
    report(&conv_t, "512x512", y.dims(), conv_t_out(512, 3, 2, 0));
    keep(out, &mut tiles, "conv_transpose2d.png", &y)?;

    // nn.MaxPool2d((2, 2), stride=(2, 2)) with its indices, nn.AvgPool2d, nn.MaxUnpool2d
    let pool = MaxPool2d::<(U2, U2), (U2, U2)>::new();
    let (pooled, indices) = pool.forward_with_indices(x.clone());
    report(&pool, "512x512", pooled.dims(), conv_out(512, 2, 2, 0));
    keep(out, &mut tiles, "maxpool2d.png", &pooled)?;
    let avg = AvgPool2d::<(U2, U2), (U2, U2)>::new();
    let averaged = avg.forward(x.clone());
    report(&avg, "512x512", averaged.dims(), conv_out(512, 2, 2, 0));
    keep(out, &mut tiles, "avgpool2d.png", &averaged)?;
    let unpool = MaxUnpool2d::<(U2, U2), (U2, U2)>::new();
    let unpooled = unpool.forward(pooled, &indices);
    let unpool_size = conv_t_out(256, 2, 2, 0);
    report(&unpool, "256x256", unpooled.dims(), unpool_size);
    keep(out, &mut tiles, "maxunpool2d.png", &unpooled)?;

    // activations of the convolution's feature map
    for (name, a) in [
        ("relu", conv_map.clone().relu()),
        ("sigmoid", conv_map.clone().sigmoid()),
        ("tanh", conv_map.clone().tanh()),
    ] {
        keep(out, &mut tiles, &format!("{name}.png"), &a)?;
        println!("{name:<9} of the convolution: {:?}", a.dims());
    }

    // nn.Linear(3, 4) with the seed's weights [[1,1,1],[2,2,2],[3,3,3],[4,4,4]], bias 0.5
    let mut fc = Linear::<U3, U4>::new(&mut rng);
    fc.weight = Tensor::from_fn(|[o, _]: [usize; 2]| (o + 1) as f32);
    fc.bias = Some(Tensor::full(0.5));
    let y = fc.forward(Tensor::<(U1, U3)>::from_array([[1.0, 2.0, 3.0]]));
    println!("{}: [[1, 2, 3]] -> {:?}", show(&fc), y.to_vec());

    // all results side by side, 3 to a row
    let n = tiles.len() / (3 * 256 * 256);
    let batch = Tensor::<(usize, U3, U256, U256)>::from_vec_shaped(
        (n, U3::new(), U256::new(), U256::new()),
        tiles,
    )?;
    let options = GridOptions {
        nrow: 3,
        padding: 4,
        pad_value: 1.0,
        ..Default::default()
    };
    save_image_with(&batch, out.join("overview.jpg"), &options)?;
    println!(
        "saved input, conv2d, conv_transpose2d, maxpool2d, avgpool2d, maxunpool2d, relu, \
         sigmoid, tanh (.png) and overview.jpg (in that order, 3 to a row) to {}",
        out.display()
    );
    Ok(())
}

/// Saves a batch of one picture (one or three channels) as `out/name` and appends it to
/// `tiles` as a three-channel 256x256 tile of the overview.
fn keep<C: Channels, H: Dim, W: Dim>(
    out: &std::path::Path,
    tiles: &mut Vec<f32>,
    name: &str,
    t: &Tensor<(U1, C, H, W)>,
) -> Result<(), ImageError> {
    save_image(t, out.join(name))?;
    let small: Tensor<(C, U256, U256)> = resize(&t.clone().squeeze::<0>(), Interpolation::Bilinear);
    // a grey picture repeated into three channels, as make_grid does
    tiles.extend(small.as_slice().repeat(3 / C::SIZE));
    Ok(())
}

/// Prints a layer, its output size, and the seed's formula's size, which must agree.
fn report(layer: &impl Module, input: &str, dims: stensor::shape::Dims, formula: usize) {
    let (h, w) = (dims[2], dims[3]);
    assert_eq!((h, w), (formula, formula), "{}", show(layer));
    println!(
        "{:<60} {input} -> {h}x{w} (the seed's formula: {formula})",
        show(layer)
    );
}

/// A layer as PyTorch prints it: `Conv2d(3, 1, kernel_size=(3, 3), stride=(1, 1))`.
fn show(layer: &impl Module) -> String {
    format!("{}({})", layer.kind(), layer.extra_repr())
}
