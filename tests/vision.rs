//! `stensor::vision` against PIL, torchvision and PyTorch (`tests/reference/vision.json`, made
//! by `tests/reference/gen_vision.py`): `convert(mode)` + `ToTensor` of the shipped photo,
//! JPEG decoding, `make_grid` with each option, `Normalize`, `save_image`'s rounding; and the
//! errors a user meets (wrong size, missing file, not a picture), with no file lost.

use serde_json::Value;
use stensor::prelude::*;
use stensor::vision::*;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/vision.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

const PHOTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/images/astronaut.png");

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stensor-vision-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn check_photo<C: Channels>(mode: &str) {
    let r = &reference()[format!("to_tensor_{mode}")];
    let img = read_image::<C, U512, U512>(PHOTO).unwrap();
    let plane = 512 * 512;
    for (c, want) in floats(&r["channel_sums"]).iter().enumerate() {
        let got: f64 = img.as_slice()[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| f64::from(v))
            .sum();
        assert!(
            (got - f64::from(*want)).abs() < 1e-6 * plane as f64,
            "{mode} channel {c}: {got} vs {want}"
        );
    }
    for p in r["pixels"].as_array().unwrap() {
        let p = floats(p);
        let (c, y, x) = (p[0] as usize, p[1] as usize, p[2] as usize);
        assert_eq!(img.get([c, y, x]), Some(p[3]), "{mode} pixel {c},{y},{x}");
    }
}

#[test]
fn the_photo_reads_as_pil_and_to_tensor_read_it() {
    check_photo::<U3>("RGB");
    check_photo::<U1>("L");
    check_photo::<U4>("RGBA");
    // seed 000: `unsqueeze_(0)` gives the batch of one
    let x: Tensor<(U1, U3, U512, U512)> = read_image::<U3, U512, U512>(PHOTO)
        .unwrap()
        .unsqueeze::<0>();
    assert_eq!(x.dims().to_vec(), [1, 3, 512, 512]);
}

#[test]
fn jpeg_decodes_within_a_level_of_libjpeg() {
    let r = &reference()["jpeg"];
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/corner.jpg");
    let img = read_image::<U3, U32, U48>(path).unwrap();
    let want = floats(&r["values"]);
    // decoders differ in their inverse DCT's rounding and their chroma upsampling (libjpeg's
    // "fancy" triangle filter): a few levels of 255 at colour edges, under one on average
    let diffs: Vec<f32> = img
        .as_slice()
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs() * 255.0)
        .collect();
    let worst = diffs.iter().copied().fold(0.0, f32::max);
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    assert!(
        worst <= 4.5 && mean < 1.0,
        "worst {worst} levels, mean {mean}"
    );
}

#[test]
fn make_grid_matches_torchvision() {
    for case in reference()["make_grid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let shape: Vec<usize> = case["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let o = &case["options"];
        let opts = GridOptions {
            nrow: o["nrow"].as_u64().map_or(8, |v| v as usize),
            padding: o["padding"].as_u64().map_or(2, |v| v as usize),
            normalize: o["normalize"].as_bool().unwrap_or(false),
            value_range: o["value_range"]
                .as_array()
                .map(|r| (r[0].as_f64().unwrap() as f32, r[1].as_f64().unwrap() as f32)),
            scale_each: o["scale_each"].as_bool().unwrap_or(false),
            pad_value: o["pad_value"].as_f64().unwrap_or(0.0) as f32,
        };
        let input = floats(&case["input"]);
        let grid = if shape[1] == 1 {
            let x = Tensor::<(usize, U1, usize, usize)>::from_dims_vec(&shape, input).unwrap();
            make_grid(&x, &opts).unwrap()
        } else {
            let x = Tensor::<(usize, U3, usize, usize)>::from_dims_vec(&shape, input).unwrap();
            make_grid(&x, &opts).unwrap()
        };
        let want_shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(grid.dims().to_vec(), want_shape, "{name}");
        for (i, (a, b)) in grid
            .as_slice()
            .iter()
            .zip(floats(&case["grid"]))
            .enumerate()
        {
            assert!((a - b).abs() <= 1e-6, "{name} [{i}]: {a} vs {b}");
        }
    }
}

#[test]
fn normalize_and_its_inverse_match_torchvision() {
    let r = &reference()["normalize"];
    let x = Tensor::<(U3, U2, U3)>::from_vec(floats(&r["input"])).unwrap();
    let n = Normalize::<U3>::new(&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225]).unwrap();
    let y = n.apply(&x);
    for (a, b) in y.as_slice().iter().zip(floats(&r["output"])) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    for (a, b) in n.invert(&y).as_slice().iter().zip(x.as_slice()) {
        assert!((a - b).abs() <= 1e-6);
    }
    let err = Normalize::<U3>::new(&[0.5; 3], &[0.5, 0.0, 0.5]).unwrap_err();
    assert_eq!(err.to_string(), "Normalize: std of channel 1 is zero");
}

#[test]
fn saved_pictures_round_as_save_image() {
    let r = &reference()["save_bytes"];
    let v = floats(&r["input"]);
    let n = v.len();
    let x = Tensor::<(U1, U1, usize)>::from_dims_vec(&[1, 1, n], v).unwrap();
    let path = tmp("bytes.png");
    save_image(&x, &path).unwrap();
    let back = read_image_any::<U1>(&path).unwrap();
    let bytes: Vec<u64> = back
        .as_slice()
        .iter()
        .map(|&b| (b * 255.0).round() as u64)
        .collect();
    let want: Vec<u64> = r["bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(bytes, want);
    assert_eq!(
        to_pixels(&x),
        want.iter().map(|&b| b as u8).collect::<Vec<_>>()
    );
}

#[test]
fn a_photo_of_another_size_names_the_file_and_both_sizes() {
    let err = read_image::<U3, U32, U32>(PHOTO).unwrap_err();
    assert!(matches!(
        err,
        ImageError::Size {
            expected: (32, 32),
            found: (512, 512),
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("astronaut.png") && msg.contains("512x512") && msg.contains("32x32"),
        "{msg}"
    );
    // resized instead: the mean colour stays
    let small = read_image_resized::<U3, U32, U32>(PHOTO, Filter::Bilinear).unwrap();
    let big = read_image::<U3, U512, U512>(PHOTO).unwrap();
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    assert!((mean(small.as_slice()) - mean(big.as_slice())).abs() < 0.01);
}

#[test]
fn bad_files_are_errors_and_saving_loses_nothing() {
    let junk = tmp("junk.png");
    std::fs::write(&junk, b"not a picture at all").unwrap();
    let err = read_image::<U3, U2, U2>(&junk).unwrap_err();
    assert!(matches!(err, ImageError::Format { .. }), "{err}");
    assert!(err.to_string().contains("junk.png"));
    // a truncated PNG
    let cut = tmp("cut.png");
    std::fs::write(&cut, &std::fs::read(PHOTO).unwrap()[..5000]).unwrap();
    assert!(read_image::<U3, U512, U512>(&cut).is_err());
    // saving into a missing folder or an unknown format fails and leaves the old file
    let keep = tmp("keep.png");
    save_image(&Tensor::<(U3, U2, U2)>::zeros(), &keep).unwrap();
    let before = std::fs::read(&keep).unwrap();
    assert!(save_image(&Tensor::<(U3, U2, U2)>::ones(), tmp("x.unknown")).is_err());
    assert!(save_image(&Tensor::<(U3, U2, U2)>::ones(), "/no/such/dir/p.png").is_err());
    assert_eq!(std::fs::read(&keep).unwrap(), before);
}

#[test]
fn resize_matches_f_interpolate() {
    let r = &reference()["interpolate"];
    let x = Tensor::<(U2, U5, U7)>::from_vec(floats(&r["input"])).unwrap();
    for case in r["cases"].as_array().unwrap() {
        let mode = match case["mode"].as_str().unwrap() {
            "nearest" => Interpolation::Nearest,
            _ => Interpolation::Bilinear,
        };
        let got = if case["size"][0] == 3 {
            resize::<U2, U3, U4, _, _>(&x, mode).to_vec()
        } else {
            resize::<U2, U9, U11, _, _>(&x, mode).to_vec()
        };
        for (a, b) in got.iter().zip(floats(&case["output"])) {
            assert!(
                (a - b).abs() <= 1e-6,
                "{mode:?} {}: {a} vs {b}",
                case["size"]
            );
        }
    }
}

#[allow(dead_code)]
#[path = "../examples/seed000_image_layers.rs"]
mod seed000;

/// The `seed000_image_layers` example end to end: every picture written, each of the size the
/// seed's formulas give for the shipped 512x512 photo.
#[test]
fn seed_000_saves_every_layers_picture_at_its_size() {
    let out = tmp("seed000");
    seed000::layers(PHOTO, &out, 5).unwrap();
    for (name, h, w) in [
        ("input.png", 512, 512),
        ("conv2d.png", 510, 510),
        ("conv_transpose2d.png", 1025, 1025),
        ("maxpool2d.png", 256, 256),
        ("avgpool2d.png", 256, 256),
        ("maxunpool2d.png", 512, 512),
        ("relu.png", 510, 510),
        ("sigmoid.png", 510, 510),
        ("tanh.png", 510, 510),
        ("overview.jpg", 3 * 260 + 4, 3 * 260 + 4),
    ] {
        let img = read_image_any::<U3>(out.join(name)).unwrap();
        assert_eq!((img.dims()[1], img.dims()[2]), (h, w), "{name}");
    }
    // the input written back is the photo, to the 8 bits
    let a = read_image::<U3, U512, U512>(out.join("input.png")).unwrap();
    assert_eq!(
        a.to_vec(),
        read_image::<U3, U512, U512>(PHOTO).unwrap().to_vec()
    );
    // max unpooling keeps one pixel in four of each channel and zeroes the rest
    let u = read_image::<U3, U512, U512>(out.join("maxunpool2d.png")).unwrap();
    let zeros = u.as_slice().iter().filter(|&&v| v == 0.0).count();
    assert!(zeros >= 3 * (3 * 512 * 512 / 4), "{zeros}");
}
