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
//! an error, never a panic. Saving writes a temporary file of its own (created exclusively, with
//! the target's permissions) in the same folder, syncs it and renames it over the target, then
//! syncs the folder: a crash or a concurrent save never leaves a half-written file, and a
//! target that is a symlink is written through (the link stays).
//!
//! A service that only runs a trained network builds it straight from the file:
//! [`load_new`] (or [`load_new_bytes`], [`build_from_state_dict`]) makes the network from its
//! type and the file's names ([`crate::nn::Build`]), with no random initialisation first.

mod checkpoint;
#[cfg(any(feature = "plot", feature = "tensorboard"))]
pub(crate) mod png;

pub use checkpoint::{Checkpoint, CheckpointFile};

use crate::nn::{Build, Module, TensorMut};
use crate::shape::Shape;
use crate::tensor::{Element, Indices, Tensor, Values, ValuesMut};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a state dict could not be saved or loaded.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::io::StateDictError;
/// use stensor::nn::Linear;
/// let bytes = stensor::io::to_bytes(&Linear::<U3, U2>::new(&mut Rng::seed(0)));
/// let err = stensor::io::load_bytes(&mut Linear::<U4, U2>::new(&mut Rng::seed(0)), &bytes, "fc.safetensors").unwrap_err();
/// assert!(matches!(&err, StateDictError::Shape { key, expected, found, .. } if key == "weight" && expected == &[2, 4] && found == &[2, 3]));
/// assert!(err.to_string().contains("fc.safetensors"));
/// ```
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
        /// The file's name closest to `key` among those the network lacks, if one is close
        /// (a field renamed: `down` for `downsample`).
        nearest: Option<String>,
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
    /// A checkpoint is not one, or its optimizer or schedule state does not fit
    /// ([`CheckpointFile`]).
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// More than one tensor does not match: each problem, in the network's order then the
    /// file's extras.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Every problem (`Missing`, `Unexpected`, `Shape` or `Dtype`).
        problems: Vec<StateDictError>,
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
            StateDictError::Missing { path, key, expected, nearest } => {
                write!(
                    f,
                    "{}: missing tensor `{key}` (the network expects shape {expected:?}, the file has none)",
                    path.display()
                )?;
                match nearest {
                    Some(n) => write!(f, "; did you mean `{n}`?"),
                    None => Ok(()),
                }
            }
            StateDictError::Mismatch { path, problems } => {
                write!(f, "{}: {} tensors do not match:", path.display(), problems.len())?;
                let prefix = format!("{}: ", path.display());
                for p in problems {
                    let line = p.to_string();
                    write!(f, "\n  - {}", line.strip_prefix(&prefix).unwrap_or(&line))?;
                }
                Ok(())
            }
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
            StateDictError::Checkpoint { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
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
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let bytes = stensor::io::to_bytes(&Linear::<U2, U2>::new(&mut Rng::seed(0)));
/// let r = stensor::io::load_bytes_non_strict(&mut Linear::<U2, U2>::new(&mut Rng::seed(1)), &bytes, "m").unwrap();
/// assert_eq!((r.loaded.len(), r.problems.len()), (2, 0));
/// ```
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
    serialize(&entries(net, ""), None)
}

/// A tensor to write: name, dtype, shape, little-endian bytes.
type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

/// The network's parameters and buffers as entries named `{prefix}{name}`.
fn entries<M: Module>(net: &M, prefix: &str) -> Vec<Entry> {
    let mut out = vec![];
    net.visit("", &mut |name, t| {
        let (dtype, data) = le_bytes(t.values);
        out.push((format!("{prefix}{name}"), dtype, t.dims.to_vec(), data));
    });
    out
}

/// Safetensors bytes of `entries`, with `meta` as the header's metadata.
fn serialize(
    entries: &[Entry],
    meta: Option<std::collections::HashMap<String, String>>,
) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = entries
        .iter()
        .map(|(n, d, s, b)| {
            let view = TensorView::new(*d, s.clone(), b).expect("sizes agree");
            (n.as_str(), view)
        })
        .collect();
    safetensors::serialize(views, meta).expect("serializing in-memory tensors")
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

/// Writes `bytes` to `path` so that a reader, another thread or process saving to the same
/// path, or a kill at any moment never sees or leaves a half-written file:
///
/// - a temporary file with a name no other save uses (`.{name}.{pid}.{thread-unique
///   counter}.{clock}.tmp`) is created in the target's folder exclusively (`create_new`, so a
///   file or symlink planted at that name makes it try another name, never write through it);
/// - it takes the permissions of the target if one exists, is written and synced, then renamed
///   over the target; the folder is synced so the rename survives a power cut;
/// - on any error it is removed; one a kill left behind is removed by the next successful save
///   to the same target, once its process has gone (Linux; its name says whose it was);
/// - a target that is a symlink is written through: the file the link points to is replaced,
///   the link stays (a dangling link is an error).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let kept = fs::metadata(&target).ok().map(|m| m.permissions());
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut f) = {
        let mut tries = 0;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let tmp = target.with_file_name(format!(
                ".{file_name}.{}.{}.{nanos}.tmp",
                std::process::id(),
                SAVES.fetch_add(1, Ordering::Relaxed)
            ));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    };
    let write = || -> std::io::Result<()> {
        if let Some(p) = kept {
            f.set_permissions(p)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)?;
        sync_folder(&target);
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    remove_stale_temporaries(&target, &file_name);
    Ok(())
}

/// Removes the temporary files that saves to `target` left behind when their process was
/// killed: exactly the names [`write_atomic`] makes for this target, whose process no longer
/// runs (Linux: no `/proc/{pid}`). Another process's save in progress, this process's own
/// saves, and every other file are left alone; a pid reused by a live process only delays the
/// removal. Best effort: an error here does not fail the save that succeeded.
fn remove_stale_temporaries(target: &Path, file_name: &str) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Some(dir) = target.parent() else { return };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{file_name}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(fields) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        let parts: Vec<&str> = fields.split('.').collect();
        let ours = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let Some(pid) = ours.then(|| parts[0].parse::<u32>().ok()).flatten() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Syncs the folder holding `path`, so a rename into it is on disk. Best effort: where a
/// folder cannot be opened or synced (not Unix), the rename stands as the system keeps it.
fn sync_folder(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Loads `path` into the network; every tensor must match (strict). On any mismatch nothing
/// is changed and the error names every problem ([`StateDictError::Mismatch`] when there are
/// several), a missing name with the file's nearest one.
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
    let bytes = read(path)?;
    load_bytes(net, &bytes, path)
}

/// [`load`] from bytes in memory; `path` names them in errors.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::Linear;
/// let a = Linear::<U2, U1>::new(&mut Rng::seed(0));
/// let mut b = Linear::<U2, U1>::new(&mut Rng::seed(1));
/// stensor::io::load_bytes(&mut b, &stensor::io::to_bytes(&a), "in-memory")?;
/// assert_eq!(b.weight.to_vec(), a.weight.to_vec());
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
pub fn load_bytes<M: Module>(
    net: &mut M,
    bytes: &[u8],
    path: impl AsRef<Path>,
) -> Result<(), StateDictError> {
    let path = path.as_ref();
    load_strict(net, &parse(bytes, path)?, path)
}

/// The bytes of the file at `path`, or an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, StateDictError> {
    fs::read(path).map_err(|source| StateDictError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every tensor of `net` from the parsed file `st`, strictly: every problem reported.
fn load_strict<M: Module>(
    net: &mut M,
    st: &SafeTensors<'_>,
    path: &Path,
) -> Result<(), StateDictError> {
    let report = load_impl(net, st, path, true, "")?;
    strict_result(path, report.problems)
}

/// A strict load's outcome: nothing wrong, the one problem, or all of them.
pub(crate) fn strict_result(
    path: &Path,
    mut problems: Vec<StateDictError>,
) -> Result<(), StateDictError> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(StateDictError::Mismatch {
            path: path.to_path_buf(),
            problems,
        }),
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
/// let path = std::env::temp_dir().join("stensor-partial.safetensors");
/// std::fs::write(&path, &bytes).unwrap();
/// let report = stensor::io::load_non_strict(&mut net, &path).unwrap();
/// assert_eq!(report.loaded, ["0.weight", "0.bias"]);
/// assert_eq!(report.problems.len(), 2); // 1.weight and 1.bias are missing
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_non_strict<M: Module>(
    net: &mut M,
    path: impl AsRef<Path>,
) -> Result<LoadReport, StateDictError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_bytes_non_strict(net, &bytes, path)
}

/// [`load_non_strict`] from bytes in memory; `path` names them in errors.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Linear, Module};
/// let bytes = stensor::io::to_bytes(&(Linear::<U2, U2>::new(&mut Rng::seed(0)),));
/// let mut net = (Linear::<U2, U2>::new(&mut Rng::seed(1)), Linear::<U2, U1>::new(&mut Rng::seed(1)));
/// let report = stensor::io::load_bytes_non_strict(&mut net, &bytes, "partial.safetensors").unwrap();
/// assert_eq!(report.loaded, ["0.weight", "0.bias"]);
/// ```
pub fn load_bytes_non_strict<M: Module>(
    net: &mut M,
    bytes: &[u8],
    path: impl AsRef<Path>,
) -> Result<LoadReport, StateDictError> {
    let path = path.as_ref();
    load_impl(net, &parse(bytes, path)?, path, false, "")
}

/// The network of type `M` built straight from the safetensors file at `path`, with no random
/// initialisation and no `Rng`: its structure from its type, which optional tensors it has (a
/// bias, a norm's affine pair or running statistics) from the names in the file, PyTorch's
/// defaults for the settings no state dict holds ([`crate::nn::Build`]); then every tensor
/// loaded strictly, with [`load`]'s checks and errors.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{Build, Conv2d, Forward, Linear, Module};
/// type Net = (Conv2d<U1, U2, U3>, Linear<U2, U1>);
/// let trained: Net = (Conv2d::without_bias(&mut Rng::seed(0)), Linear::new(&mut Rng::seed(1)));
/// let path = std::env::temp_dir().join("stensor-load-new.safetensors");
/// stensor::io::save(&trained, &path)?;
/// let served: Net = stensor::io::load_new(&path)?;
/// assert!(served.0.bias.is_none());
/// assert_eq!(served.1.weight.to_vec(), trained.1.weight.to_vec());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
pub fn load_new<M: Build>(path: impl AsRef<Path>) -> Result<M, StateDictError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_new_bytes(&bytes, path)
}

/// [`load_new`] from bytes in memory; `path` names them in errors.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::nn::{BatchNorm1d, Linear};
/// let bytes = stensor::io::to_bytes(&BatchNorm1d::<U3>::new().affine(false));
/// let bn: BatchNorm1d<U3> = stensor::io::load_new_bytes(&bytes, "bn.safetensors")?;
/// assert!(bn.weight.is_none() && bn.track_running_stats);
/// // a file for another network is refused with the strict load's errors
/// let err = stensor::io::load_new_bytes::<Linear<U3, U3>>(&bytes, "bn.safetensors").unwrap_err();
/// assert!(err.to_string().contains("missing"), "{err}");
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
pub fn load_new_bytes<M: Build>(bytes: &[u8], path: impl AsRef<Path>) -> Result<M, StateDictError> {
    let path = path.as_ref();
    let st = parse(bytes, path)?;
    let mut net = M::build(&st.names(), "");
    load_strict(&mut net, &st, path)?;
    Ok(net)
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

/// The header's entries in file order, a key given twice refused (JSON objects allow it;
/// a map would keep the last silently).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of tensors")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Entries, A::Error> {
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    if !seen.insert(k.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "tensor `{k}` appears twice in the header"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Reads a safetensors header entry by entry before the `safetensors` crate parses the file,
/// so that every problem in one entry is reported with the tensor's name: a key given twice,
/// an unknown dtype, a shape that is not a list of counts or whose element count overflows,
/// offsets that are not two increasing positions inside the data, or that do not span the
/// shape's bytes. Problems with the file as a whole (too short, a header length past its end)
/// are left to `safetensors`, whose messages say them.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Ok(());
    };
    let Some(header) = usize::try_from(u64::from_le_bytes(*len))
        .ok()
        .and_then(|n| rest.get(..n))
    else {
        return Ok(());
    };
    let data_len = rest.len() - header.len();
    let entries: Entries =
        serde_json::from_slice(header).map_err(|e| format!("the header is not valid: {e}"))?;
    for (name, v) in &entries.0 {
        if name == "__metadata__" {
            continue;
        }
        let bad = |what: &str| format!("tensor `{name}`: {what} in the header");
        let size = match v.get("dtype").and_then(|d| d.as_str()) {
            Some("F64" | "I64" | "U64") => 8,
            Some("F32" | "I32" | "U32") => 4,
            Some("F16" | "BF16" | "I16" | "U16") => 2,
            Some("I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2") => 1,
            Some(other) => return Err(bad(&format!("unknown dtype `{other}`"))),
            None => return Err(bad("no dtype")),
        };
        let shape: Option<Vec<u64>> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect());
        let shape = shape.ok_or_else(|| bad("a shape that is not a list of counts"))?;
        let bytes_needed = shape
            .iter()
            .try_fold(size as u64, |n, &d| n.checked_mul(d))
            .ok_or_else(|| bad(&format!("shape {shape:?} whose element count overflows")))?;
        let offsets: Option<Vec<u64>> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect());
        let (begin, end) = match offsets.as_deref() {
            Some(&[b, e]) if b <= e && e <= data_len as u64 => (b, e),
            _ => {
                return Err(bad(&format!(
                    "offsets {} that are not two increasing positions inside the {data_len} bytes of data",
                    v.get("data_offsets").map_or("(none)".into(), |o| o.to_string())
                )))
            }
        };
        if end - begin != bytes_needed {
            return Err(bad(&format!(
                "shape {shape:?} of {bytes_needed} bytes, but offsets spanning {}",
                end - begin
            )));
        }
    }
    Ok(())
}

/// The file's tensors after the checks of [`check_header`] and of `safetensors` itself.
fn parse<'b>(bytes: &'b [u8], path: &Path) -> Result<SafeTensors<'b>, StateDictError> {
    let format = |message: String| StateDictError::Format {
        path: path.to_path_buf(),
        message,
    };
    check_header(bytes).map_err(format)?;
    SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))
}

/// Loads the tensors of `file` whose names start with `prefix` (the prefix removed) into
/// `net`: every problem found first, nothing copied when `strict` and there is one.
fn load_impl<M: Module>(
    net: &mut M,
    file: &SafeTensors<'_>,
    path: &Path,
    strict: bool,
    prefix: &str,
) -> Result<LoadReport, StateDictError> {
    let in_file: BTreeMap<String, (Dtype, Vec<usize>)> = file
        .iter()
        .filter_map(|(n, v)| {
            Some((
                n.strip_prefix(prefix)?.to_string(),
                (v.dtype(), v.shape().to_vec()),
            ))
        })
        .collect();
    // First pass: what matches, and every problem.
    let (problems, ok) = compare(net, &in_file, path);
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
            let view = file
                .tensor(&format!("{prefix}{name}"))
                .expect("listed above");
            copy_into(t.values, view.data());
            report.loaded.push(name.to_string());
        }
    });
    Ok(report)
}

/// The network's tensors against the file's (`name -> (dtype, shape)`): every problem
/// (missing ones with the nearest unused name of the file), and the names that match.
fn compare<M: Module>(
    net: &mut M,
    in_file: &BTreeMap<String, (Dtype, Vec<usize>)>,
    path: &Path,
) -> (Vec<StateDictError>, BTreeSet<String>) {
    let p = || path.to_path_buf();
    let (mut problems, mut ok, mut seen) = (vec![], BTreeSet::new(), BTreeSet::new());
    net.visit_mut("", &mut |name, t: TensorMut<'_>| {
        seen.insert(name.to_string());
        let (key, expected) = (name.to_string(), t.dims.to_vec());
        match in_file.get(name) {
            None => problems.push(StateDictError::Missing {
                path: p(),
                key,
                expected,
                nearest: None,
            }),
            Some((_, found)) if *found != expected => problems.push(StateDictError::Shape {
                path: p(),
                key,
                expected,
                found: found.clone(),
            }),
            Some((dtype, _)) if *dtype != values_dtype(&t.values) => {
                problems.push(StateDictError::Dtype {
                    path: p(),
                    key,
                    expected: dtype_name(values_dtype(&t.values)),
                    found: dtype_name(*dtype),
                    shape: expected,
                })
            }
            Some(_) => {
                ok.insert(key);
            }
        }
    });
    let extras: Vec<&str> = in_file
        .keys()
        .filter(|n| !seen.contains(*n))
        .map(String::as_str)
        .collect();
    for problem in &mut problems {
        if let StateDictError::Missing { key, nearest, .. } = problem {
            *nearest = nearest_name(key, &extras);
        }
    }
    for name in extras {
        problems.push(StateDictError::Unexpected {
            path: p(),
            key: name.to_string(),
            found: in_file[name].1.clone(),
        });
    }
    (problems, ok)
}

/// The name in `candidates` closest to `key` by edit distance, if it is close: within half of
/// `key`'s length (a renamed field or a layer index off by one, not an unrelated tensor).
fn nearest_name(key: &str, candidates: &[&str]) -> Option<String> {
    let best = candidates
        .iter()
        .map(|c| (edit_distance(key, c), *c))
        .min()?;
    (best.0 <= key.len() / 2).then(|| best.1.to_string())
}

/// Levenshtein distance over bytes (state-dict names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let swap = prev[j] + usize::from(ca != cb);
            cur[j + 1] = swap.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A state dict in memory: tensor names with their dims and values, as PyTorch's
/// `state_dict()` dict of tensors; loads into a network with every check a file gets
/// ([`load_state_dict`]).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::io::StateDict;
/// use stensor::nn::Linear;
/// let mut sd = StateDict::new();
/// sd.insert("weight", vec![1, 2], vec![0.5f32, -1.0])?;
/// sd.insert("bias", vec![1], vec![2.0f32])?;
/// let mut fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
/// stensor::io::load_state_dict(&mut fc, &sd)?;
/// assert_eq!(fc.weight.to_vec(), vec![0.5, -1.0]);
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
#[derive(Clone, Debug)]
pub struct StateDict {
    entries: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
    /// The file the tensors came from, named in errors (`<state dict>` when built in memory).
    source: PathBuf,
}

impl Default for StateDict {
    fn default() -> Self {
        StateDict {
            entries: BTreeMap::new(),
            source: PathBuf::from("<state dict>"),
        }
    }
}

impl StateDict {
    /// An empty state dict.
    ///
    /// ```
    /// assert!(stensor::io::StateDict::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A network's parameters and buffers (a copy, under their dotted names).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::BatchNorm1d;
    /// let sd = stensor::io::StateDict::of(&BatchNorm1d::<U3>::new());
    /// assert_eq!(sd.names(), ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]);
    /// ```
    pub fn of<M: Module>(net: &M) -> Self {
        let entries = entries(net, "")
            .into_iter()
            .map(|(n, d, s, b)| (n, (d, s, b)))
            .collect();
        StateDict {
            entries,
            ..Self::default()
        }
    }

    /// Adds (or replaces) tensor `name` of shape `dims` with `values` (`f32`, `f64`), an error
    /// if their number is not the product of `dims`.
    ///
    /// ```
    /// let mut sd = stensor::io::StateDict::new();
    /// assert!(sd.insert("w", vec![2, 2], vec![1.0f64; 3]).is_err());
    /// sd.insert("w", vec![2, 2], vec![1.0f64; 4]).unwrap();
    /// assert_eq!(sd.len(), 1);
    /// ```
    pub fn insert<E: Element>(
        &mut self,
        name: &str,
        dims: Vec<usize>,
        values: Vec<E>,
    ) -> Result<(), StateDictError> {
        let want: usize = dims.iter().product();
        if want != values.len() {
            return Err(StateDictError::Format {
                path: PathBuf::from("<state dict>"),
                message: format!(
                    "tensor `{name}` of shape {dims:?} needs {want} values, {} given",
                    values.len()
                ),
            });
        }
        let (dtype, bytes) = le_bytes(E::values(&values));
        self.entries.insert(name.to_string(), (dtype, dims, bytes));
        Ok(())
    }

    /// Every tensor of the safetensors file at `path` (`F32`, `F64` and `I64` ones: weights,
    /// and the token ids or labels PyTorch saves as `int64`), to read by name with
    /// [`tensor`](StateDict::tensor) and [`indices`](StateDict::indices). Errors name the file
    /// (and the tensor, where one is wrong).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::StateDict;
    /// let path = std::env::temp_dir().join(format!("stensor-ids-{}.safetensors", std::process::id()));
    /// let mut sd = StateDict::new();
    /// sd.insert_indices("input_ids", &Indices::<(U2, U3)>::from_array([[101, 7, 102], [101, 102, 0]]));
    /// sd.save(&path)?;
    /// let back = StateDict::read(&path)?;
    /// let ids: Indices<(usize, usize)> = back.indices("input_ids")?;
    /// assert_eq!(ids.to_vec(), vec![101, 7, 102, 101, 102, 0]);
    /// std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), stensor::io::StateDictError>(())
    /// ```
    pub fn read(path: impl AsRef<Path>) -> Result<Self, StateDictError> {
        let path = path.as_ref();
        Self::from_bytes(&read(path)?, path)
    }

    /// [`read`](StateDict::read) from bytes in memory; `path` names them in errors.
    ///
    /// ```
    /// use stensor::io::StateDict;
    /// let err = StateDict::from_bytes(b"not safetensors", "ids.safetensors").unwrap_err();
    /// assert!(err.to_string().starts_with("ids.safetensors: not a valid safetensors file"), "{err}");
    /// ```
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self, StateDictError> {
        let path = path.as_ref();
        let st = parse(bytes, path)?;
        let mut entries = BTreeMap::new();
        for (name, view) in st.iter() {
            match view.dtype() {
                Dtype::F32 | Dtype::F64 | Dtype::I64 => {
                    let entry = (view.dtype(), view.shape().to_vec(), view.data().to_vec());
                    entries.insert(name.to_string(), entry);
                }
                other => {
                    return Err(StateDictError::Format {
                        path: path.to_path_buf(),
                        message: format!(
                            "tensor `{name}` is {other:?}; stensor reads F32, F64 and I64 tensors"
                        ),
                    })
                }
            }
        }
        Ok(StateDict {
            entries,
            source: path.to_path_buf(),
        })
    }

    /// Writes the tensors to `path` as a safetensors file (atomically, as [`save`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("stensor-sd-{}.safetensors", std::process::id()));
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert("w", vec![1], vec![0.5f32]).unwrap();
    /// sd.save(&path).unwrap();
    /// assert_eq!(stensor::io::StateDict::read(&path).unwrap().names(), ["w"]);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StateDictError> {
        let path = path.as_ref();
        write_atomic(path, &self.to_bytes()).map_err(|source| StateDictError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Adds (or replaces) index tensor `name`, stored as `I64` as PyTorch stores `int64`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert_indices("labels", &Indices::<(U3,)>::from_array([2, 0, 1]));
    /// assert_eq!(sd.names(), ["labels"]);
    /// ```
    pub fn insert_indices<S: Shape, T>(&mut self, name: &str, ids: &Indices<S, T>) {
        let (dtype, bytes) = le_bytes(Values::I64(ids.as_slice()));
        self.entries
            .insert(name.to_string(), (dtype, ids.dims().to_vec(), bytes));
    }

    /// Tensor `name` as indices of shape `S` (runtime dims take the file's sizes), or an error
    /// naming the file, the tensor and both shapes (`Missing`, `Shape`, `Dtype` when it is
    /// not `I64`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert_indices("ids", &Indices::<(U2, U2)>::full(1));
    /// assert!(sd.indices::<(usize, U2)>("ids").is_ok());
    /// let err = sd.indices::<(usize, U3)>("ids").unwrap_err();
    /// assert_eq!(err.to_string(), "<state dict>: tensor `ids` has shape [2, 2] in the file, but the network expects [2, 3]");
    /// ```
    pub fn indices<S: Shape>(&self, name: &str) -> Result<Indices<S>, StateDictError> {
        let (dims, bytes) = self.entry::<S>(name, Dtype::I64)?;
        let values = bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Ok(Indices::from_dims_vec(&dims, values).expect("dims checked against the shape"))
    }

    /// Tensor `name` as a tensor of shape `S` and element `E` (runtime dims take the file's
    /// sizes), or an error naming the file, the tensor and both shapes or element types.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert("x", vec![3, 2], vec![0.5f32; 6]).unwrap();
    /// let x: Tensor<(usize, U2)> = sd.tensor("x")?;
    /// assert_eq!(x.dims(), [3, 2]);
    /// let err = sd.tensor::<(usize, U2), f64>("x").unwrap_err();
    /// assert_eq!(err.to_string(), "<state dict>: tensor `x` (shape [3, 2]) is f32 in the file, but the network holds f64");
    /// # Ok::<(), stensor::io::StateDictError>(())
    /// ```
    pub fn tensor<S: Shape, E: Element>(&self, name: &str) -> Result<Tensor<S, E>, StateDictError> {
        let mut zero = [E::zero()];
        let dtype = values_dtype(&E::values_mut(&mut zero));
        let (dims, bytes) = self.entry::<S>(name, dtype)?;
        let mut values = vec![E::zero(); bytes.len() / std::mem::size_of::<E>()];
        copy_into(E::values_mut(&mut values), bytes);
        Ok(Tensor::from_dims_vec(&dims, values).expect("dims checked against the shape"))
    }

    /// The dims and bytes of tensor `name`, checked to be of `dtype` and to fit `S`.
    fn entry<S: Shape>(
        &self,
        name: &str,
        dtype: Dtype,
    ) -> Result<(Vec<usize>, &[u8]), StateDictError> {
        let path = self.source.clone();
        let statics = S::static_dims();
        let Some((found_dtype, dims, bytes)) = self.entries.get(name) else {
            let names: Vec<&str> = self.names();
            return Err(StateDictError::Missing {
                path,
                key: name.to_string(),
                // a runtime dim has no expected size: 0 stands for it
                expected: statics[..S::RANK].iter().map(|d| d.unwrap_or(0)).collect(),
                nearest: nearest_name(name, &names),
            });
        };
        if S::from_dims(dims).is_none() {
            let expected = (0..S::RANK)
                .map(|k| statics[k].unwrap_or_else(|| dims.get(k).copied().unwrap_or(0)))
                .collect();
            return Err(StateDictError::Shape {
                path,
                key: name.to_string(),
                expected,
                found: dims.clone(),
            });
        }
        if *found_dtype != dtype {
            return Err(StateDictError::Dtype {
                path,
                key: name.to_string(),
                expected: dtype_name(dtype),
                found: dtype_name(*found_dtype),
                shape: dims.clone(),
            });
        }
        Ok((dims.clone(), bytes))
    }

    /// Removes tensor `name`; whether it was there.
    ///
    /// ```
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert("w", vec![1], vec![0.0f32]).unwrap();
    /// assert!(sd.remove("w") && !sd.remove("w") && sd.is_empty());
    /// ```
    pub fn remove(&mut self, name: &str) -> bool {
        self.entries.remove(name).is_some()
    }

    /// The tensor names, sorted.
    ///
    /// ```
    /// let mut sd = stensor::io::StateDict::new();
    /// sd.insert("b", vec![1], vec![0.0f32]).unwrap();
    /// sd.insert("a", vec![1], vec![0.0f32]).unwrap();
    /// assert_eq!(sd.names(), ["a", "b"]);
    /// ```
    pub fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// The number of tensors.
    ///
    /// ```
    /// assert_eq!(stensor::io::StateDict::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    ///
    /// ```
    /// assert!(stensor::io::StateDict::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state dict as safetensors bytes (what [`save`] writes for a network).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::Linear;
    /// let fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// assert_eq!(stensor::io::StateDict::of(&fc).to_bytes(), stensor::io::to_bytes(&fc));
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .map(|(n, (d, s, b))| (n.clone(), *d, s.clone(), b.clone()))
            .collect();
        serialize(&entries, None)
    }
}

impl crate::nn::Names for StateDict {
    fn contains_name(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }
}

/// [`load_new`] from an in-memory [`StateDict`] (a name -> tensor map).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::io::StateDict;
/// use stensor::nn::Linear;
/// let mut sd = StateDict::new();
/// sd.insert("weight", vec![1, 2], vec![0.5f32, -1.0])?;
/// let fc: Linear<U2, U1> = stensor::io::build_from_state_dict(&sd)?;
/// assert_eq!((fc.weight.to_vec(), fc.bias.is_none()), (vec![0.5, -1.0], true));
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
pub fn build_from_state_dict<M: Build>(sd: &StateDict) -> Result<M, StateDictError> {
    let mut net = M::build(sd, "");
    load_state_dict(&mut net, sd)?;
    Ok(net)
}

/// Loads an in-memory [`StateDict`] into the network, strictly, with the checks and errors of
/// [`load`] (named `<state dict>` in them).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::io::StateDict;
/// use stensor::nn::Linear;
/// let a = Linear::<U3, U2>::new(&mut Rng::seed(0));
/// let mut b = Linear::<U3, U2>::new(&mut Rng::seed(1));
/// stensor::io::load_state_dict(&mut b, &StateDict::of(&a))?;
/// assert_eq!(b.bias.unwrap().to_vec(), a.bias.unwrap().to_vec());
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
pub fn load_state_dict<M: Module>(net: &mut M, sd: &StateDict) -> Result<(), StateDictError> {
    load_bytes(net, &sd.to_bytes(), "<state dict>")
}
