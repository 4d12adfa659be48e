//! Datasets for the seed experiments: image classification data read into typed tensors, and
//! a batch iterator; and for sequences, a dataset trait, a loader and padding.
//!
//! - [`read_idx`] / [`write_idx`]: the IDX format of MNIST and Fashion-MNIST, raw or `.gz`.
//! - [`ImageDataset`]: images of a static shape `C x H x W` (bytes, as stored) with their labels,
//!   loaded by [`ImageDataset::fashion_mnist`] (or `mnist`, same files), [`ImageDataset::cifar10`]
//!   (the binary version), [`ImageDataset::from_idx`] or [`ImageDataset::from_bytes`]. Every
//!   check a file can fail (truncated, wrong magic number, image size other than the type's,
//!   image and label counts that differ, a label out of range) is a [`DataError`] naming the file
//!   and what is wrong.
//! - [`Batches`]: the dataset in batches of `(Tensor<(B, C, H, W)>, labels)`, the batch size a
//!   type (`batches::<U256>()`, the last partial batch dropped since it cannot have that type)
//!   or a run-time number (`batches_of(256)`, a `usize` batch dimension, the partial batch kept
//!   unless dropped, as PyTorch's `DataLoader(drop_last=False)`); seeded shuffling; pixels
//!   scaled to `[0, 1]` like torchvision's `ToTensor`, optionally normalised.
//! - [`Dataset`] and [`DataLoader`]: `torch.utils.data`'s pair for items of any type (token
//!   sequences with labels), seeded shuffling, batching, a collate function; [`pad_ids`],
//!   [`pad_sequence`] and [`padding_mask`] turn variable-length sequences into
//!   `(usize, usize, ..)` batches with their lengths.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::data::{ImageDataset, Split};
//! // the Fashion-MNIST subset this repository ships (`--data DIR` in the examples for the rest)
//! let test = ImageDataset::fashion_mnist("data/fashion-mnist-subset", Split::Test).unwrap();
//! assert_eq!(test.classes(), 10);
//! let mut batches = test.batches::<U100>().shuffle(7);
//! let (x, y): (Tensor<(U100, U1, U28, U28)>, Vec<usize>) = batches.next().unwrap();
//! assert!(x.as_slice().iter().all(|p| (0.0..=1.0).contains(p)));
//! assert!(y.iter().all(|&l| l < 10));
//! ```
//!
//! Where to get the full data: Fashion-MNIST's four `*-ubyte.gz` files from
//! <https://github.com/zalandoresearch/fashion-mnist> (the `data/fashion` folder), MNIST's from
//! the same mirrors torchvision uses, CIFAR-10's binary version (`cifar-10-binary.tar.gz`,
//! unpacked) from <https://www.cs.toronto.edu/~kriz/cifar.html>.

mod idx;
mod sampler;
mod seq;

pub use idx::{read_idx, read_idx_with_limit, write_idx, IdxArray, IDX_DEFAULT_LIMIT};
pub use sampler::DistributedSampler;
pub use seq::{pad_ids, pad_sequence, padding_mask, DataLoader, Dataset};

use crate::shape::{ConstDim, Dim};
use crate::tensor::{Rng, Tensor};
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use typenum::{U1, U28, U3, U32};

/// Why a dataset could not be read: the file and what is wrong with it.
///
/// ```
/// use stensor::data::{ImageDataset, Split};
/// let err = ImageDataset::fashion_mnist("no/such/folder", Split::Train).unwrap_err();
/// assert!(err.to_string().starts_with("no/such/folder/train-images-idx3-ubyte"), "{err}");
/// ```
#[derive(Debug)]
pub struct DataError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: DataErrorKind,
}

/// What is wrong with a data file (see [`DataError`]).
///
/// ```
/// use stensor::data::{DataErrorKind, ImageDataset};
/// use stensor::prelude::*;
/// let err = ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 2], vec![0, 9], 3).unwrap_err();
/// assert!(matches!(err.kind, DataErrorKind::Label { index: 1, label: 9, classes: 3 }));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// Reading (or writing) the file failed.
    Io(std::io::Error),
    /// The file starts like gzip but does not decompress.
    Gzip(std::io::Error),
    /// The file ends before its header says it should.
    Truncated {
        /// The part that is short (`the header`, `data`).
        what: &'static str,
        /// The bytes expected.
        expected: usize,
        /// The bytes found.
        found: usize,
    },
    /// The file has more bytes than its header says.
    TrailingBytes {
        /// The bytes expected.
        expected: usize,
        /// The bytes found.
        found: usize,
    },
    /// The first four bytes are not an IDX magic number.
    BadMagic {
        /// They, big-endian.
        found: u32,
    },
    /// An IDX element type other than unsigned bytes.
    ElementType {
        /// Its code.
        code: u8,
    },
    /// Dimensions other than the tensor type's.
    Dims {
        /// What has them (`images`, `labels`).
        what: &'static str,
        /// The dimensions the type allows (`None`: any).
        expected: Vec<Option<usize>>,
        /// The dimensions found.
        found: Vec<usize>,
    },
    /// Image and label files of different lengths.
    Count {
        /// The number of images.
        images: usize,
        /// The number of labels.
        labels: usize,
        /// The label file.
        labels_path: PathBuf,
    },
    /// A header that declares more data than the reader's limit or than the file can hold,
    /// refused before any of it is read or allocated.
    TooLarge {
        /// The bytes of data the header declares (`usize::MAX` when their count overflows).
        declared: usize,
        /// The most the reader accepts: its limit, or what the file can hold.
        most: usize,
        /// Why that is the most (`the limit`, `a file of N bytes`, ...).
        why: String,
    },
    /// The memory for the data could not be allocated.
    OutOfMemory {
        /// The bytes asked for.
        bytes: usize,
    },
    /// A label that is not a class index.
    Label {
        /// The example's index.
        index: usize,
        /// Its label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
}

impl DataError {
    fn new(path: &Path, kind: DataErrorKind) -> Self {
        DataError {
            path: path.to_path_buf(),
            kind,
        }
    }
}

impl DataErrorKind {
    /// The errors about how much data a file holds or declares.
    fn fmt_size(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataErrorKind::Truncated {
                what: "data",
                expected,
                found,
            } => write!(
                f,
                "truncated: the header promises {expected} bytes of data, the file has {found}"
            ),
            DataErrorKind::Truncated {
                what,
                expected,
                found,
            } => write!(
                f,
                "truncated: {what} needs {expected} bytes, the file has {found}"
            ),
            DataErrorKind::TrailingBytes { expected, found } => write!(
                f,
                "the header promises {expected} byte(s) of data, the file has {found}"
            ),
            DataErrorKind::TooLarge {
                declared,
                most,
                why,
            } => {
                if *declared == usize::MAX {
                    write!(
                        f,
                        "the header declares more bytes of data than memory can address"
                    )
                } else {
                    write!(
                        f,
                        "the header declares {declared} bytes of data, more than the {most} that {why} allows"
                    )
                }
            }
            DataErrorKind::OutOfMemory { bytes } => {
                write!(f, "{bytes} bytes for the data could not be allocated")
            }
            _ => unreachable!("fmt_size is called for the size errors only"),
        }
    }
}

impl fmt::Display for DataErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims = |d: &[Option<usize>]| {
            let d: Vec<String> = d
                .iter()
                .map(|d| d.map_or("N".to_string(), |d| d.to_string()))
                .collect();
            format!("[{}]", d.join(", "))
        };
        match self {
            DataErrorKind::Io(e) => write!(f, "cannot be read or written: {e}"),
            DataErrorKind::Gzip(e) => write!(f, "is not a valid gzip file: {e}"),
            DataErrorKind::Truncated { .. }
            | DataErrorKind::TrailingBytes { .. }
            | DataErrorKind::TooLarge { .. }
            | DataErrorKind::OutOfMemory { .. } => self.fmt_size(f),
            DataErrorKind::BadMagic { found } => write!(
                f,
                "wrong magic number {found:#010x}: not an IDX file (0x0000080N, N dimensions)"
            ),
            DataErrorKind::ElementType { code } => write!(
                f,
                "element type {code:#04x} is not supported (only 0x08, unsigned bytes)"
            ),
            DataErrorKind::Dims {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what} of dimensions {found:?} do not fit the tensor type's {}",
                dims(expected)
            ),
            DataErrorKind::Count {
                images,
                labels,
                labels_path,
            } => write!(
                f,
                "{images} images but {labels} labels in {}",
                labels_path.display()
            ),
            DataErrorKind::Label {
                index,
                label,
                classes,
            } => write!(
                f,
                "label {label} of example {index} is not a class index (0..{classes})"
            ),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DataErrorKind::Io(e) | DataErrorKind::Gzip(e) => Some(e),
            _ => None,
        }
    }
}

/// Which part of a dataset: the training or the test images.
///
/// ```
/// use stensor::data::{ImageDataset, Split};
/// let test = ImageDataset::fashion_mnist("data/fashion-mnist-subset", Split::Test).unwrap();
/// assert_eq!(test.len(), 1000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// Labelled images of the static shape `C x H x W`, kept as the bytes the files store
/// (channel-major within an image) and turned into `f32` tensors batch by batch.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::data::ImageDataset;
/// // two 1x2x2 images, classes 0 and 1
/// let ds = ImageDataset::<U1, U2, U2>::from_bytes(vec![0, 255, 0, 255, 51, 51, 51, 51], vec![0, 1], 2).unwrap();
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.image(1).to_vec(), vec![0.2; 4]);
/// ```
#[derive(Clone, Debug)]
pub struct ImageDataset<C: ConstDim, H: ConstDim, W: ConstDim> {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: usize,
    shape: PhantomData<(C, H, W)>,
}

/// A pixel scaled to `[0, 1]`, as torchvision's `ToTensor` (a division, not a multiplication
/// by `1 / 255`, so the values are the same).
fn unit(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// The images of one example: `C * H * W` bytes.
fn image_len<C: ConstDim, H: ConstDim, W: ConstDim>() -> usize {
    C::SIZE * H::SIZE * W::SIZE
}

impl<C: ConstDim, H: ConstDim, W: ConstDim> ImageDataset<C, H, W> {
    /// From bytes in memory: `pixels` holds the images one after another (`C x H x W` each,
    /// row-major), `labels` one class index in `0..classes` per image. Mismatched lengths and
    /// labels out of range are errors (named `<memory>`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::data::ImageDataset;
    /// let err = ImageDataset::<U1, U2, U2>::from_bytes(vec![0; 8], vec![0, 5], 3).unwrap_err();
    /// assert_eq!(err.to_string(), "<memory>: label 5 of example 1 is not a class index (0..3)");
    /// ```
    pub fn from_bytes(pixels: Vec<u8>, labels: Vec<u8>, classes: usize) -> Result<Self, DataError> {
        let path = Path::new("<memory>");
        let per = image_len::<C, H, W>();
        if pixels.len() != labels.len() * per {
            return Err(DataError::new(
                path,
                DataErrorKind::Dims {
                    what: "pixels",
                    expected: vec![Some(labels.len() * per)],
                    found: vec![pixels.len()],
                },
            ));
        }
        Self::checked(pixels, labels, classes, path)
    }

    fn checked(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        classes: usize,
        labels_path: &Path,
    ) -> Result<Self, DataError> {
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= classes)
        {
            return Err(DataError::new(
                labels_path,
                DataErrorKind::Label {
                    index,
                    label,
                    classes,
                },
            ));
        }
        Ok(ImageDataset {
            pixels,
            labels,
            classes,
            shape: PhantomData,
        })
    }

    /// Reads an IDX image file (`[N, H, W]` when `C` is 1, or `[N, C, H, W]`) and its IDX label
    /// file (`[N]`), each raw or gzip-compressed. Images of another size than `C x H x W`, counts
    /// that differ and labels `>= classes` are errors naming the file.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::data::{write_idx, IdxArray, ImageDataset};
    /// let dir = std::env::temp_dir().join(format!("stensor-from-idx-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// write_idx(dir.join("img"), &IdxArray { dims: vec![3, 4, 4], data: vec![9; 48] }).unwrap();
    /// write_idx(dir.join("lab"), &IdxArray { dims: vec![2], data: vec![0, 1] }).unwrap();
    /// let err = ImageDataset::<U1, U4, U4>::from_idx(dir.join("img"), dir.join("lab"), 10).unwrap_err();
    /// assert!(err.to_string().ends_with(&format!(": 3 images but 2 labels in {}", dir.join("lab").display())));
    /// let err = ImageDataset::<U1, U28, U28>::from_idx(dir.join("img"), dir.join("lab"), 10).unwrap_err();
    /// assert!(err.to_string().ends_with("images of dimensions [3, 4, 4] do not fit the tensor type's [N, 28, 28]"));
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn from_idx(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        classes: usize,
    ) -> Result<Self, DataError> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let img = read_idx(images)?;
        // `[N, H, W]` for one channel (MNIST's files), `[N, C, H, W]` otherwise
        let expected: Vec<Option<usize>> = if C::SIZE == 1 && img.dims.len() != 4 {
            vec![None, Some(H::SIZE), Some(W::SIZE)]
        } else {
            vec![None, Some(C::SIZE), Some(H::SIZE), Some(W::SIZE)]
        };
        let fits = img.dims.len() == expected.len()
            && img.dims[1..]
                .iter()
                .zip(&expected[1..])
                .all(|(&d, &e)| Some(d) == e);
        if !fits {
            return Err(DataError::new(
                images,
                DataErrorKind::Dims {
                    what: "images",
                    expected,
                    found: img.dims,
                },
            ));
        }
        let lab = read_idx(labels)?;
        if lab.dims.len() != 1 {
            return Err(DataError::new(
                labels,
                DataErrorKind::Dims {
                    what: "labels",
                    expected: vec![Some(img.dims[0])],
                    found: lab.dims,
                },
            ));
        }
        if lab.dims[0] != img.dims[0] {
            return Err(DataError::new(
                images,
                DataErrorKind::Count {
                    images: img.dims[0],
                    labels: lab.dims[0],
                    labels_path: labels.to_path_buf(),
                },
            ));
        }
        Self::checked(img.data, lab.data, classes, labels)
    }

    /// The number of examples.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![1, 2, 3], vec![0, 0, 1], 2).unwrap();
    /// assert_eq!(ds.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert!(stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![], vec![], 2).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of classes (labels are `0..classes`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// assert_eq!(stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![], vec![], 7).unwrap().classes(), 7);
    /// ```
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The labels, one per example.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![1, 2], vec![1, 0], 2).unwrap();
    /// assert_eq!(ds.labels(), [1, 0]);
    /// ```
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of every image, as stored (`len() * C * H * W` bytes).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U2>::from_bytes(vec![1, 2], vec![1], 2).unwrap();
    /// assert_eq!(ds.pixels(), [1, 2]);
    /// ```
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Image `i` scaled to `[0, 1]`.
    ///
    /// # Panics
    /// If `i >= len()`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U2>::from_bytes(vec![0, 255], vec![1], 2).unwrap();
    /// assert_eq!(ds.image(0).to_vec(), vec![0.0, 1.0]);
    /// ```
    pub fn image(&self, i: usize) -> Tensor<(C, H, W)> {
        let n = image_len::<C, H, W>();
        let px = &self.pixels[i * n..(i + 1) * n];
        Tensor::from_vec(px.iter().map(|&p| unit(p)).collect())
            .expect("an image has C * H * W pixels")
    }

    /// The first `n` examples (all of them if there are fewer).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![1, 2, 3], vec![0, 1, 0], 2).unwrap();
    /// assert_eq!(ds.take(2).labels(), [0, 1]);
    /// ```
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        ImageDataset {
            pixels: self.pixels[..n * image_len::<C, H, W>()].to_vec(),
            labels: self.labels[..n].to_vec(),
            classes: self.classes,
            shape: PhantomData,
        }
    }

    /// The examples in batches of the static size `B`, in order (see [`Batches::shuffle`]); a
    /// last batch of fewer than `B` examples is dropped, since it cannot have the type.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 5], vec![0; 5], 2).unwrap();
    /// let sizes: Vec<usize> = ds.batches::<U2>().map(|(x, _)| x.dims()[0]).collect();
    /// assert_eq!(sizes, [2, 2]);
    /// ```
    pub fn batches<B: ConstDim>(&self) -> Batches<'_, B, C, H, W> {
        Batches::new(self, B::SIZE, true)
    }

    /// The examples in batches of `batch_size` (a run-time batch dimension), in order; the last
    /// partial batch is kept unless [`Batches::drop_last`] says otherwise (PyTorch's default).
    ///
    /// # Panics
    /// If `batch_size` is 0.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 5], vec![0; 5], 2).unwrap();
    /// let sizes: Vec<usize> = ds.batches_of(2).map(|(x, _)| x.dims()[0]).collect();
    /// assert_eq!(sizes, [2, 2, 1]);
    /// assert_eq!(ds.batches_of(2).drop_last(true).count(), 2);
    /// ```
    pub fn batches_of(&self, batch_size: usize) -> Batches<'_, usize, C, H, W> {
        assert!(batch_size > 0, "batch_size should be a positive integer");
        Batches::new(self, batch_size, false)
    }

    /// The examples at `indices`, in that order, in batches of `batch_size` (a sampler's
    /// shard: [`DistributedSampler::indices`]). An index past the dataset is an error.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 5], vec![0, 1, 2, 3, 4], 5).unwrap();
    /// let labels: Vec<Vec<usize>> = ds.batches_in(&[4, 0, 2], 2).unwrap().map(|(_, y)| y).collect();
    /// assert_eq!(labels, [vec![4, 0], vec![2]]);
    /// assert!(ds.batches_in(&[5], 2).is_err());
    /// ```
    pub fn batches_in(
        &self,
        indices: &[usize],
        batch_size: usize,
    ) -> Result<Batches<'_, usize, C, H, W>, crate::Error> {
        assert!(batch_size > 0, "batch_size should be a positive integer");
        if let Some(&i) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(crate::Error::Index {
                op: "ImageDataset::batches_in".into(),
                index: i as i64,
                size: self.len(),
            });
        }
        let mut b = Batches::new(self, batch_size, false);
        b.order = indices.to_vec();
        Ok(b)
    }
}

/// The IDX file `dir/name`, or `dir/name.gz` if only that exists (the `.gz` name is reported
/// when neither does, since that is how the datasets are distributed).
fn idx_file(dir: &Path, name: &str) -> PathBuf {
    let raw = dir.join(name);
    if raw.exists() {
        raw
    } else {
        dir.join(format!("{name}.gz"))
    }
}

impl ImageDataset<U1, U28, U28> {
    /// Fashion-MNIST (or MNIST: the same file names and format) from `dir`, which holds
    /// `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
    /// `t10k-images-idx3-ubyte[.gz]` and `t10k-labels-idx1-ubyte[.gz]`.
    ///
    /// ```
    /// use stensor::data::{ImageDataset, Split};
    /// let train = ImageDataset::fashion_mnist("data/fashion-mnist-subset", Split::Train).unwrap();
    /// assert_eq!(train.classes(), 10);
    /// assert!(train.len() >= 1000);
    /// ```
    pub fn fashion_mnist(dir: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        Self::from_idx(
            idx_file(dir, &format!("{prefix}-images-idx3-ubyte")),
            idx_file(dir, &format!("{prefix}-labels-idx1-ubyte")),
            10,
        )
    }

    /// MNIST from `dir`: the same files as [`ImageDataset::fashion_mnist`].
    ///
    /// ```
    /// use stensor::data::{ImageDataset, Split};
    /// assert!(ImageDataset::mnist("no/such/dir", Split::Test).is_err());
    /// ```
    pub fn mnist(dir: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        Self::fashion_mnist(dir, split)
    }

    /// The class names of Fashion-MNIST, by label.
    ///
    /// ```
    /// use stensor::data::ImageDataset;
    /// assert_eq!(ImageDataset::FASHION_CLASSES[9], "ankle boot");
    /// ```
    pub const FASHION_CLASSES: [&'static str; 10] = [
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ];
}

impl ImageDataset<U3, U32, U32> {
    /// CIFAR-10's binary version from `dir` (or `dir/cifar-10-batches-bin`): the training split
    /// is `data_batch_1.bin` .. `data_batch_5.bin`, the test split `test_batch.bin`; each record
    /// is a label byte and 3072 pixel bytes (red, green, blue planes of 32x32).
    ///
    /// ```
    /// use stensor::data::{ImageDataset, Split};
    /// let dir = std::env::temp_dir().join(format!("stensor-cifar-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let mut record = vec![3u8];
    /// record.extend(vec![128u8; 3072]);
    /// std::fs::write(dir.join("test_batch.bin"), [record.clone(), record].concat()).unwrap();
    /// let test = ImageDataset::cifar10(&dir, Split::Test).unwrap();
    /// assert_eq!((test.len(), test.labels()[1]), (2, 3));
    /// std::fs::write(dir.join("test_batch.bin"), vec![1u8; 3000]).unwrap();
    /// let err = ImageDataset::cifar10(&dir, Split::Test).unwrap_err();
    /// assert!(err.to_string().ends_with("truncated: a whole number of 3073-byte records needs 3073 bytes, the file has 3000"));
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn cifar10(dir: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        let mut dir = dir.as_ref().to_path_buf();
        if dir.join("cifar-10-batches-bin").is_dir() {
            dir.push("cifar-10-batches-bin");
        }
        let files: Vec<String> = match split {
            Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
            Split::Test => vec!["test_batch.bin".into()],
        };
        let (mut pixels, mut labels) = (vec![], vec![]);
        for name in files {
            read_cifar_batch(&dir.join(name), &mut pixels, &mut labels)?;
        }
        Self::checked(pixels, labels, 10, &dir)
    }
}

/// An iterator over a dataset in batches of `(images, labels)`: `images` is a
/// `Tensor<(B, C, H, W)>` scaled to `[0, 1]` (then normalised if asked), `labels` the class
/// indices. Made by [`ImageDataset::batches`] (static `B`) and [`ImageDataset::batches_of`]
/// (`B = usize`).
///
/// ```
/// use stensor::prelude::*;
/// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes((0..10).collect(), vec![0; 10], 1).unwrap();
/// let firsts: Vec<f32> = ds.batches::<U5>().shuffle(3).map(|(x, _)| x.as_slice()[0] * 255.0).collect();
/// assert_eq!(firsts.len(), 2);
/// // the same seed gives the same order
/// let again: Vec<f32> = ds.batches::<U5>().shuffle(3).map(|(x, _)| x.as_slice()[0] * 255.0).collect();
/// assert_eq!(firsts, again);
/// ```
#[derive(Clone, Debug)]
pub struct Batches<'a, B: Dim, C: ConstDim, H: ConstDim, W: ConstDim> {
    data: &'a ImageDataset<C, H, W>,
    order: Vec<usize>,
    next: usize,
    batch: usize,
    drop_last: bool,
    normalize: Option<(f32, f32)>,
    dim: PhantomData<B>,
}

impl<'a, B: Dim, C: ConstDim, H: ConstDim, W: ConstDim> Batches<'a, B, C, H, W> {
    fn new(data: &'a ImageDataset<C, H, W>, batch: usize, drop_last: bool) -> Self {
        Batches {
            data,
            order: (0..data.len()).collect(),
            next: 0,
            batch,
            drop_last,
            normalize: None,
            dim: PhantomData,
        }
    }

    /// Visits the examples in an order shuffled by `seed` (Fisher-Yates with this crate's
    /// [`Rng`]): the same seed, the same order, on every machine and version. Use a new seed
    /// per epoch (`seed + epoch`) for a new order.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 4], vec![0, 1, 2, 3], 4).unwrap();
    /// let labels: Vec<usize> = ds.batches_of(4).shuffle(1).next().unwrap().1;
    /// let mut sorted = labels.clone();
    /// sorted.sort();
    /// assert_eq!(sorted, [0, 1, 2, 3]);
    /// ```
    pub fn shuffle(mut self, seed: u64) -> Self {
        shuffle(&mut self.order, seed);
        self
    }

    /// Normalises the scaled pixels: `(p / 255 - mean) / std` (torchvision's `Normalize` after
    /// `ToTensor`, one mean and std for all channels).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![255], vec![0], 1).unwrap();
    /// let (x, _) = ds.batches::<U1>().normalize(0.5, 0.25).next().unwrap();
    /// assert_eq!(x.as_slice(), [2.0]);
    /// ```
    pub fn normalize(mut self, mean: f32, std: f32) -> Self {
        self.normalize = Some((mean, std));
        self
    }
}

impl<C: ConstDim, H: ConstDim, W: ConstDim> Batches<'_, usize, C, H, W> {
    /// Whether to drop the last batch when it has fewer than the batch size's examples (the
    /// default keeps it). Only run-time batches can choose: a static batch drops it always.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let ds = stensor::data::ImageDataset::<U1, U1, U1>::from_bytes(vec![0; 3], vec![0; 3], 1).unwrap();
    /// assert_eq!(ds.batches_of(2).drop_last(false).len(), 2);
    /// assert_eq!(ds.batches_of(2).drop_last(true).len(), 1);
    /// ```
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }
}

impl<B: Dim, C: ConstDim, H: ConstDim, W: ConstDim> Iterator for Batches<'_, B, C, H, W> {
    type Item = (Tensor<(B, C, H, W)>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.order.len() - self.next;
        let n = left.min(self.batch);
        if n == 0 || (n < self.batch && self.drop_last) {
            return None;
        }
        let idx = &self.order[self.next..self.next + n];
        self.next += n;
        let per = image_len::<C, H, W>();
        let mut x = Vec::with_capacity(n * per);
        for &i in idx {
            let px = &self.data.pixels[i * per..(i + 1) * per];
            // as torchvision: ToTensor divides by 255, Normalize subtracts and divides
            match self.normalize {
                Some((mean, std)) => x.extend(px.iter().map(|&p| (unit(p) - mean) / std)),
                None => x.extend(px.iter().map(|&p| unit(p))),
            }
        }
        let labels = idx.iter().map(|&i| self.data.labels[i] as usize).collect();
        let b = B::from_size(n).expect("a static batch is always full");
        let shape = (b, C::default(), H::default(), W::default());
        let x = Tensor::from_vec_shaped(shape, x).expect("n * C * H * W values");
        Some((x, labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = batches_left(self.order.len() - self.next, self.batch, self.drop_last);
        (n, Some(n))
    }
}

/// `order` shuffled by `seed` (Fisher-Yates): the same seed, the same order.
fn shuffle(order: &mut [usize], seed: u64) {
    let mut rng = Rng::seed(seed);
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
}

/// The batches of `batch` items that `left` items still make.
fn batches_left(left: usize, batch: usize, drop_last: bool) -> usize {
    if drop_last {
        left / batch
    } else {
        left.div_ceil(batch)
    }
}

impl<B: Dim, C: ConstDim, H: ConstDim, W: ConstDim> ExactSizeIterator for Batches<'_, B, C, H, W> {}

/// How many rows of `logits` have their largest value at the label's index (the first largest
/// on ties, as `torch.argmax`): the numerator of the accuracy.
///
/// # Panics
/// If `labels` has fewer entries than `logits` rows.
///
/// ```
/// use stensor::prelude::*;
/// let logits = Tensor::<(U3, U2)>::from_array([[0.1, 0.9], [2.0, -1.0], [0.5, 0.5]]);
/// assert_eq!(stensor::data::count_correct(&logits, &[1, 1, 0]), 2);
/// ```
pub fn count_correct<B: Dim, K: ConstDim, T: crate::autograd::TapeMode<f32>>(
    logits: &Tensor<(B, K), f32, T>,
    labels: &[usize],
) -> usize {
    logits
        .as_slice()
        .chunks_exact(K::SIZE.max(1))
        .zip(labels)
        .filter(|(row, &label)| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                // NaN is the largest value, as in torch.argmax
                if !row[best].is_nan() && (v.is_nan() || v > row[best]) {
                    best = j;
                }
            }
            best == label
        })
        .count()
}

/// One CIFAR-10 binary batch's records (a label byte, then 3072 pixel bytes) appended to
/// `pixels` and `labels`.
fn read_cifar_batch(
    path: &Path,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    const RECORD: usize = 1 + 3072;
    let err = |kind| DataError::new(path, kind);
    let io = |e| err(DataErrorKind::Io(e));
    let file = std::fs::File::open(path).map_err(io)?;
    let len = usize::try_from(file.metadata().map_err(io)?.len()).unwrap_or(usize::MAX);
    let truncated = |found| DataErrorKind::Truncated {
        what: "a whole number of 3073-byte records",
        expected: len.div_ceil(RECORD).max(1) * RECORD,
        found,
    };
    if len == 0 || len % RECORD != 0 {
        return Err(err(truncated(len)));
    }
    // Bounded as the IDX reader is: the pixels of all files read so far plus these stay under
    // the limit, and the memory is reserved before any is read (an `Err`, not an abort, when
    // it cannot be had).
    let records = len / RECORD;
    let total = pixels.len() + records * 3072;
    if total > IDX_DEFAULT_LIMIT {
        return Err(err(DataErrorKind::TooLarge {
            declared: total,
            most: IDX_DEFAULT_LIMIT,
            why: "the reader's limit".into(),
        }));
    }
    pixels
        .try_reserve_exact(records * 3072)
        .and_then(|_| labels.try_reserve_exact(records))
        .map_err(|_| {
            err(DataErrorKind::OutOfMemory {
                bytes: records * RECORD,
            })
        })?;
    // Records are read one at a time into the pixels' final place: no copy of the file.
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let start = labels.len();
    let mut label = [0u8];
    for r in 0..records {
        let short = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => err(truncated(r * RECORD)),
            _ => io(e),
        };
        reader.read_exact(&mut label).map_err(short)?;
        labels.push(label[0]);
        let at = pixels.len();
        pixels.resize(at + 3072, 0);
        reader.read_exact(&mut pixels[at..]).map_err(short)?;
    }
    match labels[start..].iter().position(|&l| l >= 10) {
        Some(i) => Err(err(DataErrorKind::Label {
            index: i,
            label: labels[start + i],
            classes: 10,
        })),
        None => Ok(()),
    }
}
