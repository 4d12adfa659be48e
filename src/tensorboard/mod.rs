//! TensorBoard logging: [`SummaryWriter`] writes event files that TensorBoard (and its
//! `EventAccumulator`) reads, with PyTorch's `torch.utils.tensorboard` names and conventions:
//! scalars, groups of scalars, images and image batches, histograms, text, and the model's
//! graph. Behind the `tensorboard` feature.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::tensorboard::SummaryWriter;
//! let dir = std::env::temp_dir().join(format!("stensor-tb-doc-{}", std::process::id()));
//! let mut w = SummaryWriter::new(&dir).unwrap();
//! for step in 0..3 {
//!     w.add_scalar("loss/train", 1.0 / (step + 1) as f64, step);
//! }
//! w.add_image("input", &Tensor::<(U3, U8, U8)>::full(0.5), 0);
//! w.add_histogram("weights", &[0.1, -0.3, 0.7], 0);
//! w.close().unwrap();
//! let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().file_name();
//! assert!(file.to_string_lossy().starts_with("events.out.tfevents."));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
//! Then `tensorboard --logdir DIR` shows them.
//!
//! The file format: each event is a TFRecord (its length as 8 bytes little-endian, the
//! length's masked CRC-32C, the serialised `tensorflow.Event`, the event's masked CRC-32C),
//! the first event naming the format version (`brain.Event:2`). The messages are `prost`
//! structs written in this crate (`proto.rs`).
//!
//! Writing never holds up training: the `add_*` calls encode their event on the caller's
//! thread (PNG compression for images included, as PyTorch does) and hand the bytes to a
//! writer thread, which appends them to a buffered file and flushes every `flush_secs` (120
//! by default, as PyTorch), on [`SummaryWriter::flush`], and on close or drop. A failed write
//! is kept and returned by the next `flush` or `close`.

mod proto;

use crate::nn::{layer_graph, LayerGraph, Module, Summarize, TensorType};
use crate::shape::{ConstDim, Dim};
use crate::tensor::Tensor;
use prost::Message;
use proto::{Event, Kind, What};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use typenum::{U1, U3};

/// Why a log could not be written.
///
/// ```
/// let err = stensor::tensorboard::SummaryWriter::new("/proc/no/such/dir").unwrap_err();
/// assert!(err.to_string().starts_with("/proc/no/such/dir"));
/// ```
#[derive(Debug)]
pub struct TensorBoardError {
    /// The file or folder.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

impl fmt::Display for TensorBoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for TensorBoardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The channel counts TensorBoard shows: `U1` (grey, shown as RGB as PyTorch writes it) and
/// `U3` (RGB).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::tensorboard::PictureChannels;
/// assert_eq!(<U1 as ConstDim>::SIZE + <U3 as ConstDim>::SIZE, 4);
/// fn takes<C: PictureChannels>() {}
/// takes::<U3>();
/// ```
#[diagnostic::on_unimplemented(
    message = "TensorBoard shows pictures of 1 (grey) or 3 (RGB) channels, not `{Self}`",
    label = "the channel dimension of this picture"
)]
pub trait PictureChannels: ConstDim {}
impl PictureChannels for U1 {}
impl PictureChannels for U3 {}

/// How [`SummaryWriter::add_histogram`] buckets its values.
///
/// ```
/// use stensor::tensorboard::Bins;
/// assert_eq!(Bins::default(), Bins::Tensorflow);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bins {
    /// PyTorch's default `bins="tensorflow"`: edges `±1e-12 * 1.1^k` up to `1e20` and 0,
    /// empty buckets at either end trimmed.
    #[default]
    Tensorflow,
    /// `n` buckets of equal width between the minimum and the maximum (`numpy.histogram`'s
    /// `bins=n`).
    Count(usize),
}

enum Msg {
    Record(Vec<u8>),
    Flush(mpsc::Sender<Result<(), TensorBoardError>>),
}

/// Writes TensorBoard event files into a folder: PyTorch's `SummaryWriter`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("stensor-tb-writer-doc-{}", std::process::id()));
/// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
/// w.add_text("notes", "lr 0.01, batch 64", 0);
/// w.flush().unwrap();
/// assert!(w.file().exists());
/// drop(w);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct SummaryWriter {
    dir: PathBuf,
    file: PathBuf,
    flush_secs: u64,
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// `add_scalars`' writers, one per sub-tag, in folders beside this one's file.
    children: BTreeMap<String, SummaryWriter>,
}

impl fmt::Debug for SummaryWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SummaryWriter")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// CRC-32C (Castagnoli), as TFRecord frames use: a byte-wise table, fast enough for logs.
fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            (0..8).fold(i as u32, |c, _| {
                if c & 1 == 1 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                }
            })
        })
    });
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// TFRecord's masked CRC: rotated and offset, so that a CRC of data holding CRCs stays strong.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its masked CRC, the data, the data's masked CRC.
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The writer thread: appends records, flushes on a timer, on request and at the end; keeps
/// the first error for the next request.
fn write_loop(file: fs::File, path: PathBuf, rx: mpsc::Receiver<Msg>, every: Duration) {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut failed: Option<std::io::Error> = None;
    let mut last = std::time::Instant::now();
    loop {
        let wait = every.saturating_sub(last.elapsed());
        match rx.recv_timeout(wait) {
            Ok(Msg::Record(bytes)) => {
                if failed.is_none() {
                    failed = out.write_all(&bytes).err();
                }
            }
            Ok(Msg::Flush(reply)) => {
                let r = match failed.take() {
                    Some(e) => Err(e),
                    None => out.flush(),
                };
                last = std::time::Instant::now();
                let _ = reply.send(r.map_err(|source| TensorBoardError {
                    path: path.clone(),
                    source,
                }));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if failed.is_none() {
                    failed = out.flush().err();
                }
                last = std::time::Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}

impl SummaryWriter {
    /// A writer into `logdir` (created if missing), flushing every 120 seconds.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-new-doc-{}", std::process::id()));
    /// let w = stensor::tensorboard::SummaryWriter::new(dir.join("runs/exp1")).unwrap();
    /// assert!(w.file().starts_with(&dir));
    /// drop(w);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn new(logdir: impl AsRef<Path>) -> Result<Self, TensorBoardError> {
        Self::with_options(logdir, 120, "")
    }

    /// A writer into `logdir` flushing every `flush_secs` seconds (at least 1), its file name
    /// ending in `filename_suffix` (PyTorch's arguments of the same names). The file is
    /// `events.out.tfevents.<seconds>.<host>.<pid>.<n><suffix>`, as PyTorch names it, and is
    /// created new: an existing log is never overwritten.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-opt-doc-{}", std::process::id()));
    /// let w = stensor::tensorboard::SummaryWriter::with_options(&dir, 5, ".run1").unwrap();
    /// assert!(w.file().to_string_lossy().ends_with(".run1"));
    /// drop(w);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn with_options(
        logdir: impl AsRef<Path>,
        flush_secs: u64,
        filename_suffix: &str,
    ) -> Result<Self, TensorBoardError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static UID: AtomicU64 = AtomicU64::new(0);
        let dir = logdir.as_ref().to_path_buf();
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TensorBoardError { path, source }
        };
        fs::create_dir_all(&dir).map_err(err(&dir))?;
        let (file, path) = loop {
            let name = format!(
                "events.out.tfevents.{:010}.{}.{}.{}{filename_suffix}",
                now() as u64,
                hostname(),
                std::process::id(),
                UID.fetch_add(1, Ordering::Relaxed)
            );
            let path = dir.join(name);
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(err(&path)(e)),
            }
        };
        let (tx, rx) = mpsc::channel();
        let every = Duration::from_secs(flush_secs.max(1));
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("stensor-tensorboard".into())
            .spawn(move || write_loop(file, thread_path, rx, every))
            .map_err(err(&path))?;
        let mut w = SummaryWriter {
            dir,
            file: path,
            flush_secs,
            tx: Some(tx),
            thread: Some(thread),
            children: BTreeMap::new(),
        };
        w.send(Event {
            wall_time: now(),
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        });
        Ok(w)
    }

    /// The event file this writer appends to.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-file-doc-{}", std::process::id()));
    /// let w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// assert_eq!(w.file().parent(), Some(dir.as_path()));
    /// drop(w);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The folder this writer logs into.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-dir-doc-{}", std::process::id()));
    /// let w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// assert_eq!(w.log_dir(), dir.as_path());
    /// drop(w);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn log_dir(&self) -> &Path {
        &self.dir
    }

    fn send(&mut self, event: Event) {
        if let Some(tx) = &self.tx {
            // the thread ends only when this side hangs up: a send cannot fail before
            let _ = tx.send(Msg::Record(record(&event.encode_to_vec())));
        }
    }

    fn value(&mut self, step: u64, value: proto::Value) {
        self.send(Event {
            wall_time: now(),
            step: step as i64,
            what: Some(What::Summary(proto::Summary { value: vec![value] })),
        });
    }

    /// Logs `value` under `tag` at `step` (stored as `f32`, as TensorBoard's scalars are).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-scalar-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_scalar("accuracy/test", 0.91, 10);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: u64) {
        self.value(
            step,
            proto::Value {
                tag: tag.into(),
                metadata: None,
                value: Some(Kind::SimpleValue(value as f32)),
            },
        );
    }

    /// Several scalars drawn on one chart: as PyTorch, each `(name, value)` goes to a writer
    /// of its own in the folder `<logdir>/<main_tag>_<name>` (slashes made `_`), under the tag
    /// `main_tag`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-scalars-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_scalars("loss", &[("train", 0.5), ("test", 0.7)], 1).unwrap();
    /// w.close().unwrap();
    /// assert!(dir.join("loss_train").is_dir() && dir.join("loss_test").is_dir());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_scalars(
        &mut self,
        main_tag: &str,
        values: &[(&str, f64)],
        step: u64,
    ) -> Result<(), TensorBoardError> {
        for &(name, v) in values {
            let folder = format!("{main_tag}_{name}").replace('/', "_");
            let child = match self.children.entry(folder) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let dir = self.dir.join(e.key());
                    e.insert(SummaryWriter::with_options(dir, self.flush_secs, "")?)
                }
            };
            child.add_scalar(main_tag, v, step);
        }
        Ok(())
    }

    fn image_value(&mut self, tag: &str, rgb: &[u8], h: usize, w: usize, step: u64) {
        let png = crate::io::png::encode_png(rgb, w, h, 3);
        self.value(
            step,
            proto::Value {
                tag: tag.into(),
                metadata: None,
                value: Some(Kind::Image(proto::Image {
                    height: h as i32,
                    width: w as i32,
                    colorspace: 3,
                    encoded_image_string: png,
                })),
            },
        );
    }

    /// One picture, channels first (`dataformats="CHW"`), values in `[0, 1]`: as PyTorch,
    /// scaled by 255, clipped and truncated to 8 bits, one channel repeated into three, stored
    /// as a PNG.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-image-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_image("feature map", &Tensor::<(U1, U4, U6)>::full(0.25), 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_image<C: PictureChannels, H: Dim, W: Dim>(
        &mut self,
        tag: &str,
        img: &Tensor<(C, H, W)>,
        step: u64,
    ) {
        let s = img.shape();
        let (h, w) = (s.1.size(), s.2.size());
        let rgb = chw_to_rgb(img.as_slice(), C::SIZE, h * w);
        self.image_value(tag, &rgb, h, w, step);
    }

    /// One picture, channels last (`dataformats="HWC"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-hwc-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_image_hwc("photo", &Tensor::<(U4, U6, U3)>::full(0.5), 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_image_hwc<H: Dim, W: Dim, C: PictureChannels>(
        &mut self,
        tag: &str,
        img: &Tensor<(H, W, C)>,
        step: u64,
    ) {
        let s = img.shape();
        let (h, w) = (s.0.size(), s.1.size());
        let chw = hwc_to_chw(img.as_slice(), C::SIZE, h * w);
        let rgb = chw_to_rgb(&chw, C::SIZE, h * w);
        self.image_value(tag, &rgb, h, w, step);
    }

    /// A batch of pictures, channels first (`dataformats="NCHW"`), tiled as PyTorch's
    /// `add_images` does: up to 8 to a row, no padding.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-images-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// let batch = Tensor::<(usize, U3, U8, U8)>::full_shaped((10, U3::new(), U8::new(), U8::new()), 0.5);
    /// w.add_images("inputs", &batch, 0); // a 16 x 64 mosaic
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_images<N: Dim, C: PictureChannels, H: Dim, W: Dim>(
        &mut self,
        tag: &str,
        imgs: &Tensor<(N, C, H, W)>,
        step: u64,
    ) {
        let s = imgs.shape();
        let (n, h, w) = (s.0.size(), s.2.size(), s.3.size());
        self.images(tag, imgs.as_slice(), n, C::SIZE, h, w, step);
    }

    /// A batch of pictures, channels last (`dataformats="NHWC"`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-nhwc-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_images_nhwc("inputs", &Tensor::<(U2, U8, U8, U1)>::full(0.5), 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_images_nhwc<N: Dim, H: Dim, W: Dim, C: PictureChannels>(
        &mut self,
        tag: &str,
        imgs: &Tensor<(N, H, W, C)>,
        step: u64,
    ) {
        let s = imgs.shape();
        let (n, h, w) = (s.0.size(), s.1.size(), s.2.size());
        let per = h * w * C::SIZE;
        let chw: Vec<f32> = imgs
            .as_slice()
            .chunks(per.max(1))
            .flat_map(|img| hwc_to_chw(img, C::SIZE, h * w))
            .collect();
        self.images(tag, &chw, n, C::SIZE, h, w, step);
    }

    #[allow(clippy::too_many_arguments)]
    fn images(&mut self, tag: &str, x: &[f32], n: usize, c: usize, h: usize, w: usize, step: u64) {
        // PyTorch's tensorboard `make_grid`: at most 8 columns, tiles edge to edge
        let cols = n.clamp(1, 8);
        let rows = n.div_ceil(cols);
        let (gh, gw) = (h * rows, w * cols);
        let mut canvas = vec![0.0f32; 3 * gh * gw];
        for (k, img) in x.chunks((c * h * w).max(1)).take(n).enumerate() {
            let (y, xx) = (k / cols, k % cols);
            for ch in 0..3 {
                let src_c = if c == 1 { 0 } else { ch };
                for r in 0..h {
                    let src = &img[(src_c * h + r) * w..][..w];
                    let dst = (ch * gh + y * h + r) * gw + xx * w;
                    canvas[dst..dst + w].copy_from_slice(src);
                }
            }
        }
        let rgb = chw_to_rgb(&canvas, 3, gh * gw);
        self.image_value(tag, &rgb, gh, gw, step);
    }

    /// A histogram of `values` under `tag` (PyTorch's `add_histogram`, default
    /// `bins="tensorflow"`; [`Self::add_histogram_bins`] chooses). Nothing is logged for no
    /// values, and non-finite values are left out of the buckets.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-hist-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_histogram("conv1.weight", &[0.1, -0.2, 0.05, 0.3], 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_histogram(&mut self, tag: &str, values: &[f32], step: u64) {
        self.add_histogram_bins(tag, values, Bins::Tensorflow, step);
    }

    /// A histogram with the given bucketing.
    ///
    /// ```
    /// use stensor::tensorboard::{Bins, SummaryWriter};
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-bins-doc-{}", std::process::id()));
    /// let mut w = SummaryWriter::new(&dir).unwrap();
    /// w.add_histogram_bins("activations", &[0.0, 0.5, 1.0, 1.0], Bins::Count(4), 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_histogram_bins(&mut self, tag: &str, values: &[f32], bins: Bins, step: u64) {
        if let Some(h) = histogram(values, bins) {
            self.value(
                step,
                proto::Value {
                    tag: tag.into(),
                    metadata: None,
                    value: Some(Kind::Histo(h)),
                },
            );
        }
    }

    /// A histogram of each of `model`'s parameters, under its name (PyTorch's
    /// `for name, p in model.named_parameters(): writer.add_histogram(name, p, step)`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-params-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_parameter_histograms(&Linear::<U4, U2>::new(&mut Rng::seed(0)), 0); // "weight", "bias"
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_parameter_histograms(&mut self, model: &impl Module, step: u64) {
        let mut found = vec![];
        model.visit("", &mut |name, t| {
            if t.kind == crate::nn::TensorKind::Parameter {
                let v: Vec<f32> = match t.values {
                    crate::tensor::Values::F32(v) => v.to_vec(),
                    crate::tensor::Values::F64(v) => v.iter().map(|&x| x as f32).collect(),
                    crate::tensor::Values::I64(v) => v.iter().map(|&x| x as f32).collect(),
                };
                found.push((name.to_string(), v));
            }
        });
        for (name, v) in found {
            self.add_histogram(&name, &v, step);
        }
    }

    /// Text (Markdown) under `tag`: as PyTorch, the text plugin's string tensor under the tag
    /// `<tag>/text_summary`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-text-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_text("config", "**lr** 0.01", 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_text(&mut self, tag: &str, text: &str, step: u64) {
        let value = proto::Value {
            tag: format!("{tag}/text_summary"),
            metadata: Some(proto::SummaryMetadata {
                plugin_data: Some(proto::PluginData {
                    plugin_name: "text".into(),
                    content: vec![],
                }),
            }),
            value: Some(Kind::Tensor(proto::TensorProto {
                dtype: 7,
                tensor_shape: Some(proto::TensorShapeProto {
                    dim: vec![proto::ShapeDim { size: 1 }],
                }),
                string_val: vec![text.as_bytes().to_vec()],
            })),
        };
        self.value(step, value);
    }

    /// The network's graph for input type `X`, from its types alone (nothing runs,
    /// [`crate::nn::layer_graph`]): a node per layer, scoped by its dotted name, with PyTorch's
    /// `IO Node`s for the input and output, and every edge labelled with the static shape it
    /// carries (`-1` where the size is known only at run time, the batch). A residual block
    /// (`#[module(residual)]`, `Residual`) shows its branch and its shortcut leaving the same
    /// input and an `Add` node joining them.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Linear, ReLU};
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-graph-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// let net = (Linear::<U4, U8>::new(&mut Rng::seed(0)), ReLU, Linear::<U8, U2>::new(&mut Rng::seed(1)));
    /// w.add_graph::<Tensor<(usize, U4)>, _>(&net);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn add_graph<X: TensorType, M: Summarize<X> + Module>(&mut self, model: &M) {
        let graph = graph_def(model.kind(), &layer_graph::<X, M>(model));
        self.send(Event {
            wall_time: now(),
            step: 0,
            what: Some(What::GraphDef(graph.encode_to_vec())),
        });
    }

    /// Writes everything logged so far to the file (and the `add_scalars` files), and
    /// returns the first write error since the last flush.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-flush-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// let before = std::fs::metadata(w.file()).unwrap().len();
    /// w.add_scalar("x", 1.0, 0);
    /// w.flush().unwrap();
    /// assert!(std::fs::metadata(w.file()).unwrap().len() > before);
    /// drop(w);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn flush(&mut self) -> Result<(), TensorBoardError> {
        for child in self.children.values_mut() {
            child.flush()?;
        }
        let Some(tx) = &self.tx else { return Ok(()) };
        let (reply, answer) = mpsc::channel();
        if tx.send(Msg::Flush(reply)).is_err() {
            return Ok(());
        }
        answer.recv().unwrap_or(Ok(()))
    }

    /// Flushes, closes the file and ends the writer thread (dropping the writer does the
    /// same, without the error).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("stensor-tb-close-doc-{}", std::process::id()));
    /// let mut w = stensor::tensorboard::SummaryWriter::new(&dir).unwrap();
    /// w.add_scalar("x", 1.0, 0);
    /// w.close().unwrap();
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn close(mut self) -> Result<(), TensorBoardError> {
        let r = self.flush();
        self.shut();
        r
    }

    fn shut(&mut self) {
        self.children.clear();
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SummaryWriter {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Channels-first values to interleaved RGB bytes, PyTorch's image conversion: `x * 255`,
/// clipped to `[0, 255]`, truncated; one channel repeated into three.
fn chw_to_rgb(x: &[f32], c: usize, plane: usize) -> Vec<u8> {
    let mut out = vec![0u8; plane * 3];
    for ch in 0..3 {
        let src = &x[(if c == 1 { 0 } else { ch }) * plane..][..plane];
        for (i, &v) in src.iter().enumerate() {
            // NaN saturates to 0
            out[i * 3 + ch] = (v * 255.0).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn hwc_to_chw(x: &[f32], c: usize, plane: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; c * plane];
    for (i, px) in x.chunks(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            out[ch * plane + i] = v;
        }
    }
    out
}

/// PyTorch's `bins="tensorflow"` edges: 0 and `±1e-12 * 1.1^k` below `1e20`.
fn tensorflow_edges() -> Vec<f64> {
    let mut pos = vec![];
    let mut v = 1e-12f64;
    while v < 1e20 {
        pos.push(v);
        v *= 1.1;
    }
    let mut edges: Vec<f64> = pos.iter().rev().map(|v| -v).collect();
    edges.push(0.0);
    edges.extend(pos);
    edges
}

/// PyTorch's `make_histogram`: `numpy.histogram` counts over `edges` (the last bucket closed),
/// then the empty buckets at both ends trimmed, keeping one empty bucket before the first
/// filled one.
fn histogram(values: &[f32], bins: Bins) -> Option<proto::HistogramProto> {
    let v: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| f64::from(x))
        .collect();
    if v.is_empty() {
        return None;
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let edges = match bins {
        Bins::Tensorflow => tensorflow_edges(),
        Bins::Count(n) => {
            let n = n.max(1);
            // numpy widens an empty range to [x - 0.5, x + 0.5]
            let (lo, hi) = if min == max {
                (min - 0.5, max + 0.5)
            } else {
                (min, max)
            };
            (0..=n)
                .map(|i| lo + (hi - lo) * i as f64 / n as f64)
                .collect()
        }
    };
    let nb = edges.len() - 1;
    let mut counts = vec![0f64; nb];
    for &x in &v {
        if x < edges[0] || x > edges[nb] {
            continue;
        }
        // the bucket whose half-open range holds x; the top edge goes to the last bucket
        let i = edges
            .partition_point(|&e| e <= x)
            .saturating_sub(1)
            .min(nb - 1);
        counts[i] += 1.0;
    }
    let first = counts.iter().position(|&c| c > 0.0)?;
    let last = counts.iter().rposition(|&c| c > 0.0)?;
    let (bucket, bucket_limit) = if first > 0 {
        (
            counts[first - 1..=last].to_vec(),
            edges[first..=last + 1].to_vec(),
        )
    } else {
        let mut b = vec![0.0];
        b.extend_from_slice(&counts[..=last]);
        (b, edges[..=last + 1].to_vec())
    };
    Some(proto::HistogramProto {
        min,
        max,
        num: v.len() as f64,
        sum: v.iter().sum(),
        sum_squares: v.iter().map(|x| x * x).sum(),
        bucket_limit,
        bucket,
    })
}

/// A shape as the summary prints it (`"(N, 3, 32, 32)"`) as TensorBoard's shape: a number per
/// dimension, `-1` for a runtime one.
fn shape_proto(s: &str) -> proto::TensorShapeProto {
    let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
    proto::TensorShapeProto {
        dim: inner
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| proto::ShapeDim {
                size: d.parse().unwrap_or(-1),
            })
            .collect(),
    }
}

fn node(
    name: String,
    op: &str,
    input: Vec<String>,
    shape: &str,
    text: Option<&str>,
) -> proto::NodeDef {
    let mut attr = std::collections::HashMap::new();
    attr.insert(
        "_output_shapes".to_string(),
        proto::AttrValue {
            value: Some(proto::Attr::List(proto::ListValue {
                shape: vec![shape_proto(shape)],
            })),
        },
    );
    if let Some(t) = text {
        attr.insert(
            "attr".to_string(),
            proto::AttrValue {
                value: Some(proto::Attr::S(t.as_bytes().to_vec())),
            },
        );
    }
    proto::NodeDef {
        name,
        op: op.into(),
        input,
        device: String::new(),
        attr,
    }
}

/// TensorBoard's graph of `g`: `input`, a node per layer (scoped under `root` by the dotted
/// name, the last part labelled with the layer's kind as PyTorch's tracer labels them,
/// `Conv2d[0]`), the residual sums, then `output`; each node's `_output_shapes` is the shape on
/// its outgoing edges.
fn graph_def(root: &str, g: &LayerGraph) -> proto::GraphDef {
    // (name, op) per node; the input is PyTorch's `IO Node`
    let labels: Vec<(String, &str)> = g
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if i == 0 {
                return ("input".to_string(), "IO Node");
            }
            let kind = n.layer.split('(').next().unwrap_or("Layer").trim();
            let mut parts: Vec<&str> = n.name.split('.').filter(|p| !p.is_empty()).collect();
            let last = parts.pop().map_or_else(|| i.to_string(), String::from);
            let scope: Vec<&str> = std::iter::once(root).chain(parts).collect();
            (format!("{}/{kind}[{last}]", scope.join("/")), kind)
        })
        .collect();
    let mut nodes: Vec<proto::NodeDef> = g
        .nodes()
        .iter()
        .zip(&labels)
        .map(|(n, (name, op))| {
            let inputs = n.inputs.iter().map(|&j| labels[j].0.clone()).collect();
            let text = Some(n.layer.as_str()).filter(|l| !l.is_empty());
            node(name.clone(), op, inputs, &n.output, text)
        })
        .collect();
    let tip = g.tip();
    let output = vec![labels[tip].0.clone()];
    nodes.push(node(
        "output".into(),
        "IO Node",
        output,
        &g.nodes()[tip].output,
        None,
    ));
    proto::GraphDef {
        node: nodes,
        versions: Some(proto::VersionDef { producer: 22 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // TensorFlow's masking of the CRC of nothing: rotate right 15 and add 0xa282ead8
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn records_frame_the_data_with_checked_lengths() {
        let r = record(b"abc");
        assert_eq!(r.len(), 8 + 4 + 3 + 4);
        assert_eq!(u64::from_le_bytes(r[..8].try_into().unwrap()), 3);
        assert_eq!(
            u32::from_le_bytes(r[8..12].try_into().unwrap()),
            masked_crc(&r[..8])
        );
        assert_eq!(&r[12..15], b"abc");
        assert_eq!(
            u32::from_le_bytes(r[15..].try_into().unwrap()),
            masked_crc(b"abc")
        );
    }

    #[test]
    fn histograms_trim_empty_buckets_as_pytorch() {
        // numpy.histogram([1, 2, 2, 5], bins=4) over [1, 5]: counts [1, 2, 0, 1]; PyTorch's
        // make_histogram gives bucket [0, 1, 2, 0, 1] with limits [1, 2, 3, 4, 5]
        let h = histogram(&[1.0, 2.0, 2.0, 5.0], Bins::Count(4)).unwrap();
        assert_eq!(h.bucket, [0.0, 1.0, 2.0, 0.0, 1.0]);
        assert_eq!(h.bucket_limit, [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            (h.min, h.max, h.num, h.sum, h.sum_squares),
            (1.0, 5.0, 4.0, 10.0, 34.0)
        );
        // tensorflow edges: 0.5 falls in one bucket; one empty bucket kept before it
        let h = histogram(&[0.5, f32::NAN], Bins::Tensorflow).unwrap();
        assert_eq!(h.bucket, [0.0, 1.0]);
        assert!(h.bucket_limit[0] <= 0.5 && 0.5 < h.bucket_limit[1]);
        assert!(histogram(&[], Bins::Tensorflow).is_none());
    }

    #[test]
    fn shapes_read_from_the_summary_keep_runtime_dims_unknown() {
        let s = shape_proto("(N, 3, 32, 32)");
        let d: Vec<i64> = s.dim.iter().map(|d| d.size).collect();
        assert_eq!(d, [-1, 3, 32, 32]);
    }

    /// The events of an event file, each record's two CRCs checked.
    fn read_events(path: &Path) -> Vec<Event> {
        let bytes = fs::read(path).unwrap();
        let (mut at, mut events) = (0, vec![]);
        while at < bytes.len() {
            let len_bytes = &bytes[at..at + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc(len_bytes));
            let data = &bytes[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(data));
            events.push(Event::decode(data).unwrap());
            at += 16 + len;
        }
        events
    }

    #[test]
    fn written_files_hold_every_event_in_order() {
        use crate::nn::{Linear, ReLU};
        use crate::tensor::Rng;
        use typenum::{U2, U4};
        let dir = std::env::temp_dir().join(format!("stensor-tb-test-{}", std::process::id()));
        let mut w = SummaryWriter::new(&dir).unwrap();
        for step in 0..100 {
            w.add_scalar("loss", step as f64, step);
        }
        w.add_image("grey", &Tensor::<(U1, U2, U4)>::full(0.5), 3);
        w.add_images_nhwc("nhwc", &Tensor::<(U2, U2, U2, U3)>::full(1.0), 4);
        w.add_text("note", "hello", 5);
        w.add_histogram("h", &[1.0, 2.0], 6);
        let net = (Linear::<U4, U2>::new(&mut Rng::seed(0)), ReLU);
        w.add_graph::<Tensor<(usize, U4)>, _>(&net);
        w.add_scalars("pair", &[("a", 1.0), ("b/c", 2.0)], 7)
            .unwrap();
        let file = w.file().to_path_buf();
        drop(w); // everything reaches the file on drop
        let events = read_events(&file);
        assert!(matches!(&events[0].what, Some(What::FileVersion(v)) if v == "brain.Event:2"));
        let scalars: Vec<(i64, f32)> = events
            .iter()
            .filter_map(|e| match &e.what {
                Some(What::Summary(s)) => match s.value[0].value {
                    Some(Kind::SimpleValue(v)) => Some((e.step, v)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(scalars, (0..100).map(|s| (s, s as f32)).collect::<Vec<_>>());
        let image = |tag: &str| {
            events.iter().find_map(|e| match &e.what {
                Some(What::Summary(s)) if s.value[0].tag == tag => match &s.value[0].value {
                    Some(Kind::Image(i)) => Some(i.clone()),
                    _ => None,
                },
                _ => None,
            })
        };
        let grey = image("grey").unwrap();
        assert_eq!((grey.height, grey.width, grey.colorspace), (2, 4, 3));
        let nhwc = image("nhwc").unwrap();
        assert_eq!((nhwc.height, nhwc.width), (2, 4));
        let graph = events
            .iter()
            .find_map(|e| match &e.what {
                Some(What::GraphDef(g)) => Some(proto::GraphDef::decode(g.as_slice()).unwrap()),
                _ => None,
            })
            .unwrap();
        let names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "input",
                "Sequential/Linear[0]",
                "Sequential/ReLU[1]",
                "output"
            ]
        );
        for folder in ["pair_a", "pair_b_c"] {
            let file = fs::read_dir(dir.join(folder))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            assert_eq!(read_events(&file).len(), 2, "{folder}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_folder_that_cannot_be_made_is_an_error_naming_it() {
        let file = std::env::temp_dir().join(format!("stensor-tb-file-{}", std::process::id()));
        fs::write(&file, b"a file, not a folder").unwrap();
        let err = SummaryWriter::new(file.join("logs")).unwrap_err();
        assert!(err.to_string().contains("stensor-tb-file-"), "{err}");
        fs::remove_file(&file).unwrap();
    }

    #[test]
    fn events_decode_back() {
        let e = Event {
            wall_time: 1.5,
            step: 7,
            what: Some(What::Summary(proto::Summary {
                value: vec![proto::Value {
                    tag: "x".into(),
                    metadata: None,
                    value: Some(Kind::SimpleValue(2.0)),
                }],
            })),
        };
        assert_eq!(Event::decode(e.encode_to_vec().as_slice()).unwrap(), e);
    }
}
