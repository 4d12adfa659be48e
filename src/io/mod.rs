//! State dicts: a network's named parameters and buffers saved and loaded as safetensors, with
//! PyTorch's names, so `safetensors.torch.save_file(model.state_dict(), path)` loads into the
//! matching `#[derive(Module)]` struct, and back.
//!
//! ```
//! use stensor::prelude::*;
//! use stensor::nn::{Linear, Module};
//! let dir = std::env::temp_dir().join(format!("stensor-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("fc.safetensors");
//! let fc = Linear::<U3, U2>::new(&mut Rng::seed(1));
//! stensor::io::save(&fc, &path).unwrap();
//! let mut other = Linear::<U3, U2>::new(&mut Rng::seed(2));
//! stensor::io::load(&mut other, &path).unwrap();
//! assert_eq!(other.weight.to_vec(), fc.weight.to_vec());
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Loading checks every tensor: a missing key, an unexpected key, a shape or a dtype mismatch
//! is an error naming the file, the key, and both the expected and the found shape (or dtype),
//! and strict loading changes nothing unless everything matches. A truncated or corrupt file is
//! an error, never a panic. Saving writes a temporary file in the same folder, syncs it and
//! renames it over the target, so a crash never leaves a half-written file.

use crate::nn::{Module, TensorMut};
use crate::tensor::{Values, ValuesMut};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a state dict could not be saved or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateDictError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt header, bad offsets).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The network has a tensor the file lacks.
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        key: String,
        /// The network's shape for it.
        expected: Vec<usize>,
    },
    /// The file has a tensor the network lacks.
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        key: String,
        /// The file's shape for it.
        found: Vec<usize>,
    },
    /// A tensor's shape differs.
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        key: String,
        /// The network's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor's element type differs.
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        key: String,
        /// The network's element type.
        expected: String,
        /// The file's element type.
        found: String,
        /// The shape (the same in both).
        shape: Vec<usize>,
    },
}

impl fmt::Display for StateDictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateDictError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StateDictError::Format { path, message } => {
                write!(f, "{}: not a valid safetensors file: {message}", path.display())
            }
            StateDictError::Missing { path, key, expected } => write!(
                f,
                "{}: missing tensor `{key}` (the network expects shape {expected:?}, the file has none)",
                path.display()
            ),
            StateDictError::Unexpected { path, key, found } => write!(
                f,
                "{}: unexpected tensor `{key}` of shape {found:?} (the network has no such tensor)",
                path.display()
            ),
            StateDictError::Shape { path, key, expected, found } => write!(
                f,
                "{}: tensor `{key}` has shape {found:?} in the file, but the network expects {expected:?}",
                path.display()
            ),
            StateDictError::Dtype { path, key, expected, found, shape } => write!(
                f,
                "{}: tensor `{key}` (shape {shape:?}) is {found} in the file, but the network holds {expected}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StateDictError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateDictError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What a non-strict load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Tensors loaded.
    pub loaded: Vec<String>,
    /// Everything that did not match (missing, unexpected, shape or dtype), not loaded.
    pub problems: Vec<StateDictError>,
}

fn dtype_name(d: Dtype) -> String {
    match d {
        Dtype::F32 => "f32".into(),
        Dtype::F64 => "f64".into(),
        Dtype::I64 => "i64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn le_bytes(v: Values<'_>) -> (Dtype, Vec<u8>) {
    match v {
        Values::F32(s) => (Dtype::F32, s.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Values::F64(s) => (Dtype::F64, s.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Values::I64(s) => (Dtype::I64, s.iter().flat_map(|x| x.to_le_bytes()).collect()),
    }
}

/// The network's state dict as safetensors bytes.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let bytes = stensor::io::to_bytes(&Linear::<U2, U1>::new(&mut Rng::seed(0)));
/// assert!(bytes.len() > 8);
/// ```
pub fn to_bytes<M: Module>(net: &M) -> Vec<u8> {
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![];
    net.visit("", &mut |name, t| {
        let (dtype, data) = le_bytes(t.values);
        entries.push((name.to_string(), dtype, t.dims.to_vec(), data));
    });
    let views: Vec<(String, TensorView<'_>)> = entries
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                TensorView::new(*d, s.clone(), b).expect("sizes agree"),
            )
        })
        .collect();
    safetensors::serialize(views, None).expect("serializing in-memory tensors")
}

/// Saves the network's parameters and buffers to `path` (safetensors, PyTorch's names),
/// atomically: a temporary file in the same folder is written, synced and renamed over `path`.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let path = std::env::temp_dir().join(format!("stensor-save-{}.safetensors", std::process::id()));
/// stensor::io::save(&Linear::<U2, U1>::new(&mut Rng::seed(0)), &path).unwrap();
/// assert!(path.exists());
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn save<M: Module>(net: &M, path: impl AsRef<Path>) -> Result<(), StateDictError> {
    let path = path.as_ref();
    let bytes = to_bytes(net);
    let io = |source| StateDictError::Io {
        path: path.to_path_buf(),
        source,
    };
    write_atomic(path, &bytes).map_err(io)
}

/// Writes `bytes` to `path` without ever leaving a half-written file: a temporary file in the
/// same folder is written, synced and renamed over `path` (removed again on failure).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Loads `path` into the network; every tensor must match (strict). On any mismatch nothing
/// is changed and the first problem is returned.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let bytes = stensor::io::to_bytes(&Linear::<U2, U1>::new(&mut Rng::seed(0)));
/// let mut wrong = Linear::<U3, U1>::new(&mut Rng::seed(0));
/// let err = stensor::io::load_bytes(&mut wrong, &bytes, "weights.safetensors").unwrap_err();
/// assert_eq!(err.to_string(), "weights.safetensors: tensor `weight` has shape [1, 2] in the file, but the network expects [1, 3]");
/// ```
pub fn load<M: Module>(net: &mut M, path: impl AsRef<Path>) -> Result<(), StateDictError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| StateDictError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(net, &bytes, path)
}

/// [`load`] from bytes in memory; `path` names them in errors.
pub fn load_bytes<M: Module>(
    net: &mut M,
    bytes: &[u8],
    path: impl AsRef<Path>,
) -> Result<(), StateDictError> {
    let report = load_impl(net, bytes, path.as_ref(), true)?;
    match report.problems.into_iter().next() {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

/// Loads what matches and reports the rest (PyTorch's `strict=False`, plus shape and dtype
/// mismatches reported instead of raised).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, Module};
/// let bytes = stensor::io::to_bytes(&(Linear::<U2, U2>::new(&mut Rng::seed(0)),));
/// let mut net = (Linear::<U2, U2>::new(&mut Rng::seed(1)), Linear::<U2, U1>::new(&mut Rng::seed(1)));
/// let report = stensor::io::load_non_strict(&mut net, &bytes, "partial.safetensors").unwrap();
/// assert_eq!(report.loaded, ["0.weight", "0.bias"]);
/// assert_eq!(report.problems.len(), 2); // 1.weight and 1.bias are missing
/// ```
pub fn load_non_strict<M: Module>(
    net: &mut M,
    bytes: &[u8],
    path: impl AsRef<Path>,
) -> Result<LoadReport, StateDictError> {
    load_impl(net, bytes, path.as_ref(), false)
}

fn copy_into(dst: ValuesMut<'_>, data: &[u8]) {
    match dst {
        ValuesMut::F32(d) => d
            .iter_mut()
            .zip(data.chunks_exact(4))
            .for_each(|(v, b)| *v = f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        ValuesMut::F64(d) => d
            .iter_mut()
            .zip(data.chunks_exact(8))
            .for_each(|(v, b)| *v = f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        ValuesMut::I64(d) => d
            .iter_mut()
            .zip(data.chunks_exact(8))
            .for_each(|(v, b)| *v = i64::from_le_bytes(b.try_into().expect("8 bytes"))),
    }
}

fn values_dtype(v: &ValuesMut<'_>) -> Dtype {
    match v {
        ValuesMut::F32(_) => Dtype::F32,
        ValuesMut::F64(_) => Dtype::F64,
        ValuesMut::I64(_) => Dtype::I64,
    }
}

fn load_impl<M: Module>(
    net: &mut M,
    bytes: &[u8],
    path: &Path,
    strict: bool,
) -> Result<LoadReport, StateDictError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| StateDictError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let in_file: BTreeMap<String, (Dtype, Vec<usize>)> = file
        .iter()
        .map(|(n, v)| (n.to_string(), (v.dtype(), v.shape().to_vec())))
        .collect();
    let p = || path.to_path_buf();
    // First pass: what matches, and every problem.
    let mut problems = vec![];
    let mut ok = BTreeSet::new();
    let mut seen = BTreeSet::new();
    net.visit_mut("", &mut |name, t: TensorMut<'_>| {
        seen.insert(name.to_string());
        let expected = t.dims.to_vec();
        match in_file.get(name) {
            None => problems.push(StateDictError::Missing {
                path: p(),
                key: name.into(),
                expected,
            }),
            Some((_, found)) if *found != expected => problems.push(StateDictError::Shape {
                path: p(),
                key: name.into(),
                expected,
                found: found.clone(),
            }),
            Some((dtype, _)) if *dtype != values_dtype(&t.values) => {
                problems.push(StateDictError::Dtype {
                    path: p(),
                    key: name.into(),
                    expected: dtype_name(values_dtype(&t.values)),
                    found: dtype_name(*dtype),
                    shape: expected,
                })
            }
            Some(_) => {
                ok.insert(name.to_string());
            }
        }
    });
    for (name, (_, found)) in &in_file {
        if !seen.contains(name) {
            problems.push(StateDictError::Unexpected {
                path: p(),
                key: name.clone(),
                found: found.clone(),
            });
        }
    }
    let mut report = LoadReport {
        loaded: vec![],
        problems,
    };
    if strict && !report.problems.is_empty() {
        return Ok(report);
    }
    // Second pass: copy what matches.
    net.visit_mut("", &mut |name, t| {
        if ok.contains(name) {
            let view = file.tensor(name).expect("listed above");
            copy_into(t.values, view.data());
            report.loaded.push(name.to_string());
        }
    });
    Ok(report)
}
