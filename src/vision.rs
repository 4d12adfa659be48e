//! Photos in and out, as torchvision does it: a PNG or JPEG file into a `Tensor<(C, H, W)>`
//! with `ToTensor`'s semantics (channels first, values scaled to `[0, 1]`), [`Normalize`] and
//! its inverse, a tensor back to an 8-bit picture ([`save_image`]), and [`make_grid`] with
//! torchvision's options. Behind the `vision` feature (the `image` crate, PNG and JPEG only).
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::vision::{read_image, save_image, Normalize};
//! let dir = std::env::temp_dir().join(format!("stensor-vision-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("ramp.png");
//! // a 2 x 3 picture: red rising along x, green along y (in steps of 8 bits: it round-trips)
//! let ramp = Tensor::<(U3, U2, U3)>::from_fn(|[c, y, x]| match c {
//!     0 => (x * 100) as f32 / 255.0,
//!     1 => y as f32,
//!     _ => 0.0,
//! });
//! save_image(&ramp, &path).unwrap();
//! let back = read_image::<U3, U2, U3>(&path).unwrap(); // PIL's convert('RGB') + ToTensor
//! assert_eq!(back.to_vec(), ramp.to_vec());
//! // a file of another size is an error naming the file and both sizes
//! let err = read_image::<U3, U4, U4>(&path).unwrap_err();
//! assert!(err.to_string().contains("ramp.png") && err.to_string().contains("2x3"));
//! // seed 000's `unsqueeze_(0)` and `Normalize`
//! let batch: Tensor<(U1, U3, U2, U3)> = back.unsqueeze::<0>();
//! let norm = Normalize::<U3>::new(&[0.5, 0.5, 0.5], &[0.25, 0.25, 0.25]).unwrap();
//! let x = norm.apply(&batch);
//! assert_eq!(x.as_slice()[0], -2.0);
//! assert_eq!(norm.invert(&x).to_vec(), batch.to_vec());
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Decoding never allocates more than 512 MiB for a file, whatever its header claims (the
//! `image` crate's default limit), and a static `H x W` is checked against the header before
//! any pixel is decoded.

use crate::shape::{ConstDim, Dim, Shape};
use crate::tensor::Tensor;
use std::fmt;
use std::path::{Path, PathBuf};
use typenum::{U1, U3, U4};

/// Why a picture could not be read, written or transformed.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::{read_image, ImageError};
/// let err = read_image::<U3, U8, U8>("/no/such/photo.png").unwrap_err();
/// assert!(matches!(&err, ImageError::Io { path, .. } if path.ends_with("photo.png")));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ImageError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a picture the PNG and JPEG decoders read (or encode to).
    Format {
        /// The file.
        path: PathBuf,
        /// What the codec said.
        message: String,
    },
    /// The picture's size is not the tensor type's static size.
    Size {
        /// The file.
        path: PathBuf,
        /// The size the type asks for, `(height, width)`.
        expected: (usize, usize),
        /// The picture's size, `(height, width)`.
        found: (usize, usize),
    },
    /// Arguments that do not fit: a mean or std list of the wrong length, a zero std, an
    /// empty batch.
    Invalid {
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ImageError::Format { path, message } => write!(f, "{}: {message}", path.display()),
            ImageError::Size {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: the picture is {}x{} (height x width), the tensor wants {}x{}; resize it \
                 (`read_image_resized`) or change the type",
                path.display(),
                found.0,
                found.1,
                expected.0,
                expected.1
            ),
            ImageError::Invalid { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for ImageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The channel counts a picture converts to, with PIL's `convert` modes: `U1` grey (`"L"`,
/// ITU-R 601-2 luma in PIL's integer arithmetic), `U3` RGB (`"RGB"`, alpha dropped), `U4` RGBA.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::Channels;
/// assert_eq!(<U1 as Channels>::pixel([255, 0, 0, 255]), [76, 0, 0, 0]);
/// assert_eq!(<U3 as Channels>::pixel([1, 2, 3, 4])[..3], [1, 2, 3]);
/// ```
#[diagnostic::on_unimplemented(
    message = "a picture has 1 (grey), 3 (RGB) or 4 (RGBA) channels, not `{Self}`",
    label = "the channel dimension of this picture"
)]
pub trait Channels: ConstDim {
    /// An RGBA pixel in this mode: the first `SIZE` values are used.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::vision::Channels;
    /// assert_eq!(<U4 as Channels>::pixel([9, 8, 7, 6]), [9, 8, 7, 6]);
    /// ```
    fn pixel(rgba: [u8; 4]) -> [u8; 4];
}

impl Channels for U1 {
    fn pixel([r, g, b, _]: [u8; 4]) -> [u8; 4] {
        // PIL's L = R * 299/1000 + G * 587/1000 + B * 114/1000, in its 16-bit fixed point
        let l = (u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16;
        [l as u8, 0, 0, 0]
    }
}

impl Channels for U3 {
    fn pixel(rgba: [u8; 4]) -> [u8; 4] {
        rgba
    }
}

impl Channels for U4 {
    fn pixel(rgba: [u8; 4]) -> [u8; 4] {
        rgba
    }
}

/// The resampling filter of [`read_image_resized`] (the `image` crate's; PIL's filters of the
/// same names weigh the same kernels but differ in their edge handling and antialiasing).
///
/// ```
/// use stensor::vision::Filter;
/// assert_ne!(Filter::Bilinear, Filter::Nearest);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The nearest pixel.
    Nearest,
    /// Linear in both directions (a triangle kernel).
    Bilinear,
    /// Catmull-Rom cubic.
    Bicubic,
    /// Lanczos with window 3.
    Lanczos3,
}

impl Filter {
    fn kind(self) -> image::imageops::FilterType {
        use image::imageops::FilterType as F;
        match self {
            Filter::Nearest => F::Nearest,
            Filter::Bilinear => F::Triangle,
            Filter::Bicubic => F::CatmullRom,
            Filter::Lanczos3 => F::Lanczos3,
        }
    }
}

fn format_error(path: &Path, e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::IoError(source) => ImageError::Io {
            path: path.to_path_buf(),
            source,
        },
        e => ImageError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    }
}

/// Opens `path` and checks its size against `want` (height, width) from the header, before
/// decoding, when given.
fn decode(path: &Path, want: Option<(usize, usize)>) -> Result<image::RgbaImage, ImageError> {
    use image::ImageDecoder;
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = image::ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    let decoder = reader.into_decoder().map_err(|e| format_error(path, e))?;
    let (w, h) = decoder.dimensions();
    let found = (h as usize, w as usize);
    if let Some(expected) = want.filter(|&e| e != found) {
        return Err(ImageError::Size {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| format_error(path, e))?;
    Ok(img.into_rgba8())
}

/// `ToTensor` of an RGBA picture in mode `C`: channels first, `value / 255`.
fn to_tensor<C: Channels, H: Dim, W: Dim>(img: &image::RgbaImage, h: H, w: W) -> Tensor<(C, H, W)> {
    let plane = h.size() * w.size();
    let mut data = vec![0.0f32; C::SIZE * plane];
    for (i, p) in img.pixels().enumerate() {
        for (c, &v) in C::pixel(p.0).iter().take(C::SIZE).enumerate() {
            data[c * plane + i] = f32::from(v) / 255.0;
        }
    }
    Tensor::from_vec_shaped((C::default(), h, w), data).expect("C x H x W values")
}

/// The picture at `path` (PNG or JPEG, any colour type) as a `C x H x W` tensor with
/// `ToTensor`'s semantics: `Image.open(path).convert(mode)` then `ToTensor()`, the mode from
/// `C` ([`Channels`]). A picture whose size is not `H x W` is an [`ImageError::Size`] naming
/// the file and both sizes; [`read_image_resized`] resizes instead, [`read_image_any`] takes
/// any size.
///
/// ```
/// use stensor::prelude::*;
/// let path = std::env::temp_dir().join(format!("stensor-read-doc-{}.png", std::process::id()));
/// stensor::vision::save_image(&Tensor::<(U1, U2, U2)>::full(1.0), &path).unwrap();
/// let rgb = stensor::vision::read_image::<U3, U2, U2>(&path).unwrap();
/// assert_eq!(rgb.to_vec(), vec![1.0; 12]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_image<C: Channels, H: ConstDim, W: ConstDim>(
    path: impl AsRef<Path>,
) -> Result<Tensor<(C, H, W)>, ImageError> {
    let img = decode(path.as_ref(), Some((H::SIZE, W::SIZE)))?;
    Ok(to_tensor(&img, H::default(), W::default()))
}

/// The picture at `path` at whatever size it has: `C x height x width`.
///
/// ```
/// use stensor::prelude::*;
/// let path = std::env::temp_dir().join(format!("stensor-any-doc-{}.png", std::process::id()));
/// stensor::vision::save_image(&Tensor::<(U3, U2, U5)>::zeros(), &path).unwrap();
/// let img = stensor::vision::read_image_any::<U1>(&path).unwrap();
/// assert_eq!(img.dims().to_vec(), [1, 2, 5]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_image_any<C: Channels>(
    path: impl AsRef<Path>,
) -> Result<Tensor<(C, usize, usize)>, ImageError> {
    let img = decode(path.as_ref(), None)?;
    let (h, w) = (img.height() as usize, img.width() as usize);
    Ok(to_tensor(&img, h, w))
}

/// The picture at `path` resized to `H x W` with `filter` (aspect ratio not kept, as
/// torchvision's `Resize((H, W))`), then as [`read_image`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::{read_image_resized, save_image, Filter};
/// let path = std::env::temp_dir().join(format!("stensor-resize-doc-{}.png", std::process::id()));
/// save_image(&Tensor::<(U3, U8, U8)>::full(0.5), &path).unwrap();
/// let small = read_image_resized::<U3, U4, U2>(&path, Filter::Bilinear).unwrap();
/// assert!(small.as_slice().iter().all(|&v| (v - 128.0 / 255.0).abs() < 1e-6));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_image_resized<C: Channels, H: ConstDim, W: ConstDim>(
    path: impl AsRef<Path>,
    filter: Filter,
) -> Result<Tensor<(C, H, W)>, ImageError> {
    let img = decode(path.as_ref(), None)?;
    let img = image::imageops::resize(&img, W::SIZE as u32, H::SIZE as u32, filter.kind());
    Ok(to_tensor(&img, H::default(), W::default()))
}

/// How [`resize`] samples: PyTorch's `F.interpolate` modes.
///
/// ```
/// use stensor::vision::Interpolation;
/// assert_ne!(Interpolation::Nearest, Interpolation::Bilinear);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// `mode="nearest"`: output pixel `i` takes input pixel `floor(i * in / out)`.
    Nearest,
    /// `mode="bilinear", align_corners=False`: pixel centres mapped, the four neighbours
    /// weighed, no antialiasing.
    Bilinear,
}

/// Source index and weight pairs of output positions `0..out` along an axis of `len` inputs.
fn taps(len: usize, out: usize, mode: Interpolation) -> Vec<[(usize, f32); 2]> {
    let scale = len as f32 / out as f32;
    (0..out)
        .map(|i| match mode {
            Interpolation::Nearest => {
                let j = ((i as f32 * scale) as usize).min(len - 1);
                [(j, 1.0), (j, 0.0)]
            }
            Interpolation::Bilinear => {
                let src = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
                let j0 = (src as usize).min(len - 1);
                let j1 = (j0 + 1).min(len - 1);
                let t = src - j0 as f32;
                [(j0, 1.0 - t), (j1, t)]
            }
        })
        .collect()
}

/// A `C x H0 x W0` picture or feature map resized to `C x H x W`, as PyTorch's
/// `F.interpolate(x, size=(H, W), mode=...)`: values kept as they are (no rounding to 8 bits,
/// no clamping). An empty input gives zeros.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::{resize, Interpolation};
/// let x = Tensor::<(U1, U2, U2)>::from_array([[[0.0, 1.0], [2.0, 3.0]]]);
/// let big: Tensor<(U1, U4, U4)> = resize(&x, Interpolation::Nearest);
/// assert_eq!(big.get([0, 3, 0]), Some(2.0));
/// let small: Tensor<(U1, U1, U1)> = resize(&x, Interpolation::Bilinear);
/// assert_eq!(small.item(), 1.5);
/// ```
pub fn resize<C: ConstDim, H: ConstDim, W: ConstDim, H0: Dim, W0: Dim>(
    x: &Tensor<(C, H0, W0)>,
    mode: Interpolation,
) -> Tensor<(C, H, W)> {
    let s = x.shape();
    let (h0, w0) = (s.1.size(), s.2.size());
    if h0 == 0 || w0 == 0 {
        return Tensor::zeros();
    }
    let (ty, tx) = (taps(h0, H::SIZE, mode), taps(w0, W::SIZE, mode));
    let mut out = Vec::with_capacity(C::SIZE * H::SIZE * W::SIZE);
    for plane in x.as_slice().chunks(h0 * w0) {
        for &[(y0, a0), (y1, a1)] in &ty {
            for &[(x0, b0), (x1, b1)] in &tx {
                let at = |y: usize, x: usize| plane[y * w0 + x];
                out.push(
                    a0 * (b0 * at(y0, x0) + b1 * at(y0, x1))
                        + a1 * (b0 * at(y1, x0) + b1 * at(y1, x1)),
                );
            }
        }
    }
    Tensor::from_vec(out).expect("C x H x W values")
}

/// Shapes laid out channels first with `C` channels: `(C, H, W)` and `(N, C, H, W)`, what
/// [`Normalize`] and [`save_image`] take.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::ChannelsFirst;
/// assert_eq!(<(usize, U3, U2, U2) as ChannelsFirst<U3>>::plane(&(5, U3::new(), U2::new(), U2::new())), (5, 4));
/// ```
#[diagnostic::on_unimplemented(
    message = "a picture is `(C, H, W)` or a batch `(N, C, H, W)` with its channels `{C}` first: `{Self}` is neither",
    label = "not a channels-first picture"
)]
pub trait ChannelsFirst<C: ConstDim>: Shape {
    /// The number of images and the values per channel plane.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::vision::ChannelsFirst;
    /// assert_eq!(ChannelsFirst::<U1>::plane(&(U1::new(), 3, 5)), (1, 15));
    /// ```
    fn plane(&self) -> (usize, usize);
    /// Height and width.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::vision::ChannelsFirst;
    /// assert_eq!(ChannelsFirst::<U3>::size(&(2, U3::new(), 4, 6)), (4, 6));
    /// ```
    fn size(&self) -> (usize, usize);
}

impl<C: ConstDim, H: Dim, W: Dim> ChannelsFirst<C> for (C, H, W) {
    fn plane(&self) -> (usize, usize) {
        (1, self.1.size() * self.2.size())
    }
    fn size(&self) -> (usize, usize) {
        (self.1.size(), self.2.size())
    }
}

impl<N: Dim, C: ConstDim, H: Dim, W: Dim> ChannelsFirst<C> for (N, C, H, W) {
    fn plane(&self) -> (usize, usize) {
        (self.0.size(), self.2.size() * self.3.size())
    }
    fn size(&self) -> (usize, usize) {
        (self.2.size(), self.3.size())
    }
}

/// torchvision's `Normalize(mean, std)` for `C` channels: `(x - mean[c]) / std[c]`, and its
/// inverse (seed 000's `transform_invert`).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::Normalize;
/// let n = Normalize::<U3>::new(&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225]).unwrap();
/// let x = n.apply(&Tensor::<(U3, U1, U1)>::from_array([[[0.485]], [[0.456 + 0.224]], [[0.406]]]));
/// assert!((x.as_slice()[1] - 1.0).abs() < 1e-6);
/// assert!(Normalize::<U3>::new(&[0.5; 2], &[0.5; 3]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize<C: ConstDim> {
    mean: Vec<f32>,
    std: Vec<f32>,
    channels: std::marker::PhantomData<C>,
}

impl<C: ConstDim> Normalize<C> {
    /// One mean and std per channel, or one for all (torchvision broadcasts a single value the
    /// same way). A list of another length or a std of zero is an error.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let n = stensor::vision::Normalize::<U3>::new(&[0.5], &[0.5]).unwrap();
    /// assert_eq!(n.apply(&Tensor::<(U3, U1, U1)>::ones()).to_vec(), [1.0; 3]);
    /// ```
    pub fn new(mean: &[f32], std: &[f32]) -> Result<Self, ImageError> {
        let spread = |v: &[f32], what: &str| match v.len() {
            1 => Ok(vec![v[0]; C::SIZE]),
            n if n == C::SIZE => Ok(v.to_vec()),
            n => Err(ImageError::Invalid {
                message: format!(
                    "Normalize: {n} values of {what} for {} channels (give {} or 1)",
                    C::SIZE,
                    C::SIZE
                ),
            }),
        };
        let (mean, std) = (spread(mean, "mean")?, spread(std, "std")?);
        if let Some(c) = std.iter().position(|&s| s == 0.0) {
            return Err(ImageError::Invalid {
                message: format!("Normalize: std of channel {c} is zero"),
            });
        }
        Ok(Normalize {
            mean,
            std,
            channels: std::marker::PhantomData,
        })
    }

    fn map<S: ChannelsFirst<C>>(
        &self,
        x: &Tensor<S>,
        f: impl Fn(f32, f32, f32) -> f32,
    ) -> Tensor<S> {
        let (_, plane) = x.shape().plane();
        let mut out = x.to_vec();
        for (i, chunk) in out.chunks_mut(plane.max(1)).enumerate() {
            let c = i % C::SIZE;
            let (m, s) = (self.mean[c], self.std[c]);
            chunk.iter_mut().for_each(|v| *v = f(*v, m, s));
        }
        Tensor::from_vec_shaped(x.shape(), out).expect("same shape")
    }

    /// `(x - mean) / std` per channel.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let n = stensor::vision::Normalize::<U1>::new(&[0.5], &[0.25]).unwrap();
    /// assert_eq!(n.apply(&Tensor::<(usize, U1, U1, U2)>::from_vec_shaped((1, U1::new(), U1::new(), U2::new()), vec![0.0, 1.0]).unwrap()).to_vec(), [-2.0, 2.0]);
    /// ```
    pub fn apply<S: ChannelsFirst<C>>(&self, x: &Tensor<S>) -> Tensor<S> {
        self.map(x, |v, m, s| (v - m) / s)
    }

    /// `x * std + mean` per channel: the picture before [`Normalize::apply`].
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let n = stensor::vision::Normalize::<U1>::new(&[0.5], &[0.25]).unwrap();
    /// assert_eq!(n.invert(&Tensor::<(U1, U1, U1)>::full(-2.0)).to_vec(), [0.0]);
    /// ```
    pub fn invert<S: ChannelsFirst<C>>(&self, x: &Tensor<S>) -> Tensor<S> {
        self.map(x, |v, m, s| v * s + m)
    }
}

/// A value in `[0, 1]` as 8 bits, as torchvision's `save_image`: `x * 255 + 0.5`, clamped to
/// `[0, 255]`, truncated (NaN gives 0).
fn to_byte(v: f32) -> u8 {
    (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
}

/// The pixels of a `C x H x W` picture given channels first as 8 bits, interleaved (`H x W x C`,
/// the layout of PNG rows and of `numpy` images): each value clamped to `[0, 1]` and rounded
/// as [`save_image`] does. `C` is 1 (grey) or 3 (RGB).
///
/// ```
/// use stensor::prelude::*;
/// let px = stensor::vision::to_pixels(&Tensor::<(U3, U1, U2)>::from_array([[[0.0, 1.0]], [[0.5, 2.0]], [[-1.0, 0.2]]]));
/// assert_eq!(px, [0, 128, 0, 255, 255, 51]);
/// ```
pub fn to_pixels<C: Channels, H: Dim, W: Dim>(x: &Tensor<(C, H, W)>) -> Vec<u8> {
    interleave(x.as_slice(), C::SIZE)
}

fn interleave(v: &[f32], channels: usize) -> Vec<u8> {
    let plane = v.len() / channels.max(1);
    let mut out = vec![0u8; v.len()];
    for (c, p) in v.chunks(plane.max(1)).enumerate() {
        for (i, &x) in p.iter().enumerate() {
            out[i * channels + c] = to_byte(x);
        }
    }
    out
}

/// Writes a picture (`C x H x W`) or a batch (`N x C x H x W`, laid out by [`make_grid`] with
/// its defaults) to `path` as 8 bits, torchvision's `save_image`: values clamped to `[0, 1]`,
/// scaled and rounded. The format follows the extension (`.png`, `.jpg`/`.jpeg`); one channel
/// is written as a grey picture (torchvision repeats it three times: the same pixels). The file
/// is written whole to a temporary name and renamed: a failed write leaves no half picture.
///
/// ```
/// use stensor::prelude::*;
/// let path = std::env::temp_dir().join(format!("stensor-save-doc-{}.png", std::process::id()));
/// stensor::vision::save_image(&Tensor::<(usize, U1, U4, U4)>::zeros_shaped((3, U1::new(), U4::new(), U4::new())), &path).unwrap();
/// // three 4x4 tiles in a row with 2 pixels of padding around each
/// let grid = stensor::vision::read_image_any::<U3>(&path).unwrap();
/// assert_eq!(grid.dims().to_vec(), [3, 2 + 4 + 2, 2 + 3 * (4 + 2)]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_image<C: Channels, S: ChannelsFirst<C>>(
    x: &Tensor<S>,
    path: impl AsRef<Path>,
) -> Result<(), ImageError> {
    save_image_with(x, path, &GridOptions::default())
}

/// [`save_image`] with [`make_grid`]'s options (torchvision's `save_image(tensor, fp,
/// **kwargs)`): a batch is laid out with them, and `normalize` applies to a single picture too.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::{read_image_any, save_image_with, GridOptions};
/// let path = std::env::temp_dir().join(format!("stensor-save-with-doc-{}.png", std::process::id()));
/// let batch = Tensor::<(U4, U3, U2, U2)>::zeros();
/// save_image_with(&batch, &path, &GridOptions { nrow: 2, padding: 1, ..Default::default() }).unwrap();
/// assert_eq!(read_image_any::<U3>(&path).unwrap().dims().to_vec(), [3, 7, 7]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_image_with<C: Channels, S: ChannelsFirst<C>>(
    x: &Tensor<S>,
    path: impl AsRef<Path>,
    options: &GridOptions,
) -> Result<(), ImageError> {
    let path = path.as_ref();
    // one picture (`C x H x W`, or a batch of one) is written as it is unless normalised
    let (n, _) = x.shape().plane();
    let (c, (h, w), values) = if n == 1 && !options.normalize {
        (C::SIZE, x.shape().size(), x.to_vec())
    } else {
        let (c, h, w, v) = grid_values(x.as_slice(), n, C::SIZE, x.shape().size(), options)?;
        (c, (h, w), v)
    };
    if c != 1 && c != 3 {
        return Err(ImageError::Invalid {
            message: format!("save_image: {c} channels (a picture has 1 or 3)"),
        });
    }
    let px = interleave(&values, c);
    let colour = if c == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let format = image::ImageFormat::from_path(path).map_err(|e| format_error(path, e))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::write_buffer_with_format(&mut bytes, &px, w as u32, h as u32, colour, format)
        .map_err(|e| format_error(path, e))?;
    crate::io::write_atomic(path, bytes.get_ref()).map_err(|source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// [`make_grid`]'s options, torchvision's names and defaults.
///
/// ```
/// let o = stensor::vision::GridOptions { nrow: 4, ..Default::default() };
/// assert_eq!((o.padding, o.normalize, o.pad_value), (2, false, 0.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GridOptions {
    /// Pictures per row (8).
    pub nrow: usize,
    /// Pixels of `pad_value` around each picture (2).
    pub padding: usize,
    /// Shift and scale to `[0, 1]` by `value_range`, or by the minimum and maximum (false).
    pub normalize: bool,
    /// The `(low, high)` mapped to `[0, 1]` when normalising, values clamped to it first
    /// (`None`: the data's minimum and maximum).
    pub value_range: Option<(f32, f32)>,
    /// Normalise each picture by its own range, not the batch's (false).
    pub scale_each: bool,
    /// The padding's value (0).
    pub pad_value: f32,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            nrow: 8,
            padding: 2,
            normalize: false,
            value_range: None,
            scale_each: false,
            pad_value: 0.0,
        }
    }
}

/// torchvision's `make_grid`: the `N` pictures side by side, `nrow` to a row, `padding`
/// pixels of `pad_value` around each, optionally normalised to `[0, 1]`. One-channel pictures
/// are repeated into three as torchvision does; a batch of one is returned without padding.
/// An empty batch is an error.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::vision::{make_grid, GridOptions};
/// let imgs = Tensor::<(usize, U1, U2, U2)>::from_fn_shaped((5, U1::new(), U2::new(), U2::new()), |[n, ..]| n as f32);
/// let grid = make_grid(&imgs, &GridOptions { nrow: 2, normalize: true, ..Default::default() }).unwrap();
/// // 3 rows of 2 tiles, each 2 + 2 pixels, plus the closing padding
/// assert_eq!(grid.dims().to_vec(), [3, 3 * 4 + 2, 2 * 4 + 2]);
/// assert_eq!(grid.get([0, 2, 6]), Some(0.25)); // picture 1 of 0..=4, scaled
/// ```
pub fn make_grid<N: Dim, C: Channels, H: Dim, W: Dim>(
    x: &Tensor<(N, C, H, W)>,
    options: &GridOptions,
) -> Result<Tensor<(usize, usize, usize)>, ImageError> {
    let s = x.shape();
    let (c, h, w, v) = grid_values(
        x.as_slice(),
        s.0.size(),
        C::SIZE,
        (s.2.size(), s.3.size()),
        options,
    )?;
    Ok(Tensor::from_vec_shaped((c, h, w), v).expect("grid size"))
}

/// `make_grid` on flat values: (channels, height, width, values).
fn grid_values(
    x: &[f32],
    n: usize,
    c: usize,
    (h, w): (usize, usize),
    o: &GridOptions,
) -> Result<(usize, usize, usize, Vec<f32>), ImageError> {
    if n == 0 {
        return Err(ImageError::Invalid {
            message: "make_grid: an empty batch has no grid".into(),
        });
    }
    let per = c * h * w;
    let mut imgs = x.to_vec();
    if o.normalize {
        let norm = |v: &mut [f32]| {
            let (lo, hi) = o.value_range.unwrap_or_else(|| {
                let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                (lo, hi)
            });
            let d = (hi - lo).max(1e-5);
            v.iter_mut().for_each(|x| *x = (x.clamp(lo, hi) - lo) / d);
        };
        if o.scale_each {
            imgs.chunks_mut(per.max(1)).for_each(norm);
        } else {
            norm(&mut imgs);
        }
    }
    // one channel becomes three, as torchvision's `torch.cat((t, t, t), 1)`
    let (imgs, c) = if c == 1 {
        let mut rgb = Vec::with_capacity(imgs.len() * 3);
        for p in imgs.chunks(h * w).take(n) {
            (0..3).for_each(|_| rgb.extend_from_slice(p));
        }
        (rgb, 3)
    } else {
        (imgs, c)
    };
    if n == 1 {
        return Ok((c, h, w, imgs));
    }
    let per = c * h * w;
    let xmaps = o.nrow.max(1).min(n);
    let ymaps = n.div_ceil(xmaps);
    let (th, tw) = (h + o.padding, w + o.padding);
    let (gh, gw) = (th * ymaps + o.padding, tw * xmaps + o.padding);
    let mut grid = vec![o.pad_value; c * gh * gw];
    for (k, img) in imgs.chunks(per).enumerate().take(n) {
        let (y, x) = (k / xmaps, k % xmaps);
        for ch in 0..c {
            for r in 0..h {
                let src = &img[(ch * h + r) * w..][..w];
                let dst = (ch * gh + y * th + o.padding + r) * gw + x * tw + o.padding;
                grid[dst..dst + w].copy_from_slice(src);
            }
        }
    }
    Ok((c, gh, gw, grid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use typenum::U2;

    #[test]
    fn grey_follows_pils_luma() {
        // PIL: Image.new('RGB', (1, 1), (10, 200, 30)).convert('L').getpixel((0, 0)) == 124
        assert_eq!(U1::pixel([10, 200, 30, 255])[0], 124);
        assert_eq!(U1::pixel([255, 255, 255, 0])[0], 255);
    }

    #[test]
    fn bytes_round_and_clamp_as_save_image() {
        assert_eq!(
            [-0.5, 0.0, 0.001, 0.002, 0.5, 1.0, 7.0, f32::NAN].map(to_byte),
            [0, 0, 0, 1, 128, 255, 255, 0]
        );
    }

    #[test]
    fn a_grid_of_one_has_no_padding_and_three_channels() {
        let x = Tensor::<(U1, U1, U2, U2)>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let g = make_grid(&x, &GridOptions::default()).unwrap();
        assert_eq!(g.dims().to_vec(), [3, 2, 2]);
        assert_eq!(g.to_vec()[8..], [1.0, 2.0, 3.0, 4.0]);
        let empty =
            Tensor::<(usize, U3, U2, U2)>::zeros_shaped((0, U3::new(), U2::new(), U2::new()));
        assert!(make_grid(&empty, &GridOptions::default()).is_err());
    }
}
