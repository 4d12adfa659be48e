//! The data module: IDX files raw and gzip-compressed, every malformed-file case an error
//! naming the file (never a panic), CIFAR-10 records, and the batch iterator's laws (every
//! example exactly once per epoch, the seed fixes the order, partial batches by choice).

use proptest::prelude::*;
use std::path::PathBuf;
use stensor::data::{read_idx, write_idx, DataErrorKind, IdxArray, ImageDataset, Split};
use stensor::prelude::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("stensor-data-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx(dims: &[usize], data: Vec<u8>) -> IdxArray {
    IdxArray {
        dims: dims.to_vec(),
        data,
    }
}

#[test]
fn the_shipped_subset_reads_the_same_raw_and_gzipped() {
    let dir = TempDir::new("raw");
    let gz = "data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz";
    let images = read_idx(gz).unwrap();
    assert_eq!(images.dims, [1000, 28, 28]);
    write_idx(dir.0.join("t10k-images-idx3-ubyte"), &images).unwrap();
    let labels = read_idx("data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz").unwrap();
    write_idx(dir.0.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let raw = ImageDataset::fashion_mnist(&dir.0, Split::Test).unwrap();
    let zipped = ImageDataset::fashion_mnist("data/fashion-mnist-subset", Split::Test).unwrap();
    assert_eq!(raw.pixels(), zipped.pixels());
    assert_eq!(raw.labels(), zipped.labels());
    // the official label order starts 9, 2, 1, 1, 6 (ankle boot, pullover, trouser, ...)
    assert_eq!(raw.labels()[..5], [9, 2, 1, 1, 6]);
}

/// Writes the test split into a folder with `images` and `labels` as given.
fn split_dir(tag: &str, images: &[u8], labels: &[u8]) -> TempDir {
    let dir = TempDir::new(tag);
    std::fs::write(dir.0.join("t10k-images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.0.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    dir
}

fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

fn load_err(dir: &TempDir) -> (String, DataErrorKind) {
    let e = ImageDataset::fashion_mnist(&dir.0, Split::Test).unwrap_err();
    (e.to_string(), e.kind)
}

#[test]
fn every_bad_file_is_an_error_that_names_it() {
    let img_name = "t10k-images-idx3-ubyte";
    let lab_name = "t10k-labels-idx1-ubyte";
    let good_images = [header(0x803, &[2, 28, 28]), vec![7; 2 * 784]].concat();
    let good_labels = [header(0x801, &[2]), vec![3, 4]].concat();

    // truncated image data
    let dir = split_dir("trunc", &good_images[..500], &good_labels);
    let (msg, kind) = load_err(&dir);
    assert!(matches!(kind, DataErrorKind::Truncated { .. }), "{msg}");
    assert!(
        msg.starts_with(&dir.0.join(img_name).display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("promises 1568 bytes of data, the file has 484"),
        "{msg}"
    );

    // wrong magic number (a label file where the images should be)
    let dir = split_dir("magic", &[0x12, 0x34, 0x56, 0x78, 0, 0], &good_labels);
    let (msg, kind) = load_err(&dir);
    assert!(
        matches!(kind, DataErrorKind::BadMagic { found: 0x1234_5678 }),
        "{msg}"
    );

    // images of another size than the tensor type's
    let small = [header(0x803, &[2, 14, 14]), vec![0; 2 * 196]].concat();
    let dir = split_dir("dims", &small, &good_labels);
    let (msg, _) = load_err(&dir);
    assert!(
        msg.ends_with("images of dimensions [2, 14, 14] do not fit the tensor type's [N, 28, 28]"),
        "{msg}"
    );

    // counts that differ
    let three = [header(0x801, &[3]), vec![1, 2, 3]].concat();
    let dir = split_dir("count", &good_images, &three);
    let (msg, kind) = load_err(&dir);
    assert!(
        matches!(
            kind,
            DataErrorKind::Count {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains(lab_name), "{msg}");

    // a label out of range, named with the label file
    let bad_label = [header(0x801, &[2]), vec![3, 10]].concat();
    let dir = split_dir("label", &good_images, &bad_label);
    let (msg, _) = load_err(&dir);
    assert_eq!(
        msg,
        format!(
            "{}: label 10 of example 1 is not a class index (0..10)",
            dir.0.join(lab_name).display()
        )
    );

    // a gzip file cut short
    let dir = TempDir::new("gz");
    let gz_path = dir.0.join(format!("{img_name}.gz"));
    write_idx(&gz_path, &idx(&[2, 28, 28], vec![7; 2 * 784])).unwrap();
    let bytes = std::fs::read(&gz_path).unwrap();
    std::fs::write(&gz_path, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.0.join(lab_name), &good_labels).unwrap();
    let (msg, kind) = load_err(&dir);
    assert!(matches!(kind, DataErrorKind::Gzip(_)), "{msg}");
    assert!(msg.starts_with(&gz_path.display().to_string()), "{msg}");

    // a missing file
    let dir = TempDir::new("missing");
    let (msg, kind) = load_err(&dir);
    assert!(matches!(kind, DataErrorKind::Io(_)), "{msg}");
    assert!(msg.starts_with(&dir.0.join(format!("{img_name}.gz")).display().to_string()));

    // and the good files load
    let dir = split_dir("good", &good_images, &good_labels);
    let ds = ImageDataset::fashion_mnist(&dir.0, Split::Test).unwrap();
    assert_eq!(ds.labels(), [3, 4]);
}

#[test]
fn cifar10_reads_every_training_batch_in_order() {
    let dir = TempDir::new("cifar");
    let sub = dir.0.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&sub).unwrap();
    for i in 1..=5u8 {
        let mut rec = vec![i];
        rec.extend((0..3072).map(|p| (p % 251) as u8 ^ i));
        std::fs::write(sub.join(format!("data_batch_{i}.bin")), &rec).unwrap();
    }
    let train = ImageDataset::cifar10(&dir.0, Split::Train).unwrap();
    assert_eq!(train.labels(), [1, 2, 3, 4, 5]);
    let img = train.image(2);
    // channel-major: the red plane first, pixel (c, h, w) at c*1024 + h*32 + w
    let byte = ((1024 + 3) % 251) as u8 ^ 3;
    assert_eq!(img[[1, 0, 3]], f32::from(byte) / 255.0);
    // a label byte of 10 in the third file
    let mut bad = vec![10u8];
    bad.extend(vec![0u8; 3072]);
    std::fs::write(sub.join("data_batch_3.bin"), &bad).unwrap();
    let err = ImageDataset::cifar10(&dir.0, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data_batch_3.bin: label 10 of example 0"),
        "{err}"
    );
}

/// A run-time batch of 1x1x2 images and its labels.
type Batch = (Tensor<(usize, U1, U1, U2)>, Vec<usize>);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each epoch visits every example exactly once, in batches of the asked size (the last one
    /// partial unless dropped); the same seed gives the same order.
    #[test]
    fn batches_partition_the_dataset(n in 0usize..60, batch in 1usize..17, seed in 0u64..1000, drop in any::<bool>()) {
        let labels: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let pixels: Vec<u8> = labels.iter().flat_map(|&l| [l, 255 - l]).collect();
        let ds = ImageDataset::<U1, U1, U2>::from_bytes(pixels, labels, 60).unwrap();
        let batches: Vec<Batch> =
            ds.batches_of(batch).shuffle(seed).drop_last(drop).collect();
        let full = n / batch;
        let expect = if drop || n % batch == 0 { full } else { full + 1 };
        prop_assert_eq!(batches.len(), expect);
        prop_assert_eq!(ds.batches_of(batch).drop_last(drop).len(), expect);
        let mut seen = vec![];
        for (x, y) in &batches {
            prop_assert_eq!(x.dims()[0], y.len());
            prop_assert!(y.len() == batch || (!drop && y.len() == n % batch));
            for (k, &label) in y.iter().enumerate() {
                // the pixels travel with their label, scaled to [0, 1]
                prop_assert_eq!(x[[k, 0, 0, 0]], label as f32 / 255.0);
                prop_assert_eq!(x[[k, 0, 0, 1]], (255 - label) as f32 / 255.0);
            }
            seen.extend(y.iter().copied());
        }
        let mut sorted = seen.clone();
        sorted.sort();
        prop_assert_eq!(sorted.len(), if drop { full * batch } else { n });
        sorted.dedup();
        prop_assert_eq!(sorted.len(), seen.len());
        if !drop {
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        }
        let again: Vec<Vec<usize>> = ds.batches_of(batch).shuffle(seed).drop_last(drop).map(|b| b.1).collect();
        prop_assert_eq!(again, batches.iter().map(|b| b.1.clone()).collect::<Vec<_>>());
    }

    /// A static batch size drops the partial batch and gives tensors of that type.
    #[test]
    fn static_batches_are_full(n in 0usize..40, seed in 0u64..100) {
        let ds = ImageDataset::<U1, U1, U1>::from_bytes(vec![0; n], vec![0; n], 1).unwrap();
        let got: Vec<Tensor<(U4, U1, U1, U1)>> = ds.batches::<U4>().shuffle(seed).map(|b| b.0).collect();
        prop_assert_eq!(got.len(), n / 4);
    }
}

#[test]
fn shuffling_changes_the_order_and_seeds_differ() {
    let ds = ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 100], (0..100).collect(), 100).unwrap();
    let order = |seed| ds.batches_of(100).shuffle(seed).next().unwrap().1;
    let plain: Vec<usize> = ds.batches_of(100).next().unwrap().1;
    assert_eq!(plain, (0..100).collect::<Vec<_>>());
    assert_ne!(order(1), plain);
    assert_ne!(order(1), order(2));
    assert_eq!(order(1), order(1));
}
