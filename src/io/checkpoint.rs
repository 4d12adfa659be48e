//! Training checkpoints: what PyTorch users save with
//! `torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler":
//! sched.state_dict(), "epoch": epoch}, path)`, as one safetensors file, written as safely
//! as [`super::save`] writes weights.
//!
//! The file holds the network's state dict under `model.` (`model.0.weight`, ...), the
//! optimizer's buffers as `optimizer.state.{number}.{name}` (PyTorch's names and numbering:
//! `optimizer.state.0.exp_avg`, with the parameter's shape) and its step counts as
//! `optimizer.state.{number}.step` (an `f64` scalar, exact to 2^53 steps); the metadata holds
//! `format`, `optimizer.param_groups` (PyTorch's JSON, `params` included), `scheduler`
//! (`last_epoch`, `_step_count`, `base_lrs`, `_last_lr`) and your own values. A run resumed from it takes the
//! same steps as one never stopped, to the bit (the test `resumed_training_is_bit_identical`
//! checks it).

use super::{copy_into, dtype_name, le_bytes, values_dtype, StateDictError};
use crate::nn::Module;
use crate::optim::{Hyper, LrScheduler, Optimizer, OptimizerState, ParamGroup, ParamState};
use crate::tensor::Element;
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The `format` metadata value of a checkpoint this version writes and reads.
const FORMAT: &str = "stensor.checkpoint.1";
/// Metadata names the checkpoint itself uses.
const RESERVED: [&str; 3] = ["format", "optimizer.param_groups", "scheduler"];

/// A checkpoint to write: build it from the parts of a training run, then
/// [`save`](Checkpoint::save) it. Read it back with [`CheckpointFile::load`].
///
/// ```
/// use stensor::prelude::*;
/// use stensor::io::{Checkpoint, CheckpointFile};
/// use stensor::nn::{Forward, Linear};
/// use stensor::optim::{Optimizer, SGD};
/// let path = std::env::temp_dir().join(format!("stensor-ck-{}.safetensors", std::process::id()));
/// let mut net = Linear::<U2, U1>::new(&mut Rng::seed(0));
/// let mut opt = SGD::new(0.1).with_momentum(0.9);
/// let grads = net.forward(Tensor::<(U3, U2)>::ones().trace()).sum().backward();
/// opt.step(&mut net, &grads);
/// Checkpoint::new().model(&net).optimizer(&net, &opt).value("epoch", 1).save(&path).unwrap();
///
/// // a new process: fresh network and optimizer, then the checkpoint
/// let ck = CheckpointFile::load(&path).unwrap();
/// let mut net2 = Linear::<U2, U1>::new(&mut Rng::seed(9));
/// let mut opt2 = SGD::new(0.5).with_momentum(0.9);
/// ck.restore_model(&mut net2).unwrap();
/// ck.restore_optimizer(&net2, &mut opt2).unwrap();
/// assert_eq!(net2.weight.to_vec(), net.weight.to_vec());
/// assert_eq!((opt2.options.lr, ck.value("epoch"), ck.value("missing")), (0.1, Some("1"), None));
/// assert_eq!(opt2.state_dict(&net2), opt.state_dict(&net));
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    tensors: Vec<super::Entry>,
    meta: HashMap<String, String>,
}

impl Checkpoint {
    /// An empty checkpoint.
    ///
    /// ```
    /// let bytes = stensor::io::Checkpoint::new().to_bytes();
    /// assert!(stensor::io::CheckpointFile::from_bytes(bytes, "empty.ck").is_ok());
    /// ```
    pub fn new() -> Self {
        Checkpoint::default()
    }

    /// Adds the network's parameters and buffers (its state dict) under `model.`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// let net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let ck = CheckpointFile::from_bytes(Checkpoint::new().model(&net).to_bytes(), "m.ck").unwrap();
    /// let mut other = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(1));
    /// ck.restore_model(&mut other).unwrap();
    /// assert_eq!(other.weight.to_vec(), net.weight.to_vec());
    /// ```
    pub fn model<M: Module>(mut self, net: &M) -> Self {
        self.tensors.extend(super::entries(net, "model."));
        self
    }

    /// Adds the optimizer's state for `net`'s parameters ([`Optimizer::state_dict`]).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// use stensor::optim::SGD;
    /// let net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let bytes = Checkpoint::new().optimizer(&net, &SGD::<f32>::new(0.3)).to_bytes();
    /// let mut opt = SGD::<f32>::new(0.1);
    /// CheckpointFile::from_bytes(bytes, "o.ck").unwrap().restore_optimizer(&net, &mut opt).unwrap();
    /// assert_eq!(opt.options.lr, 0.3);
    /// ```
    pub fn optimizer<M: Module, E: Element, O: Optimizer<E>>(mut self, net: &M, opt: &O) -> Self {
        let shapes = crate::optim::numbered_params(net);
        let state = opt.state_dict(net);
        for (number, st) in &state.state {
            let shape = &shapes[*number].1;
            for (name, values) in &st.buffers {
                let (dtype, data) = le_bytes(E::values(values));
                let key = format!("optimizer.state.{number}.{name}");
                self.tensors.push((key, dtype, shape.clone(), data));
            }
            if let Some(step) = st.step {
                let data = (step as f64).to_le_bytes().to_vec();
                let key = format!("optimizer.state.{number}.step");
                self.tensors.push((key, Dtype::F64, vec![], data));
            }
        }
        let groups: Vec<serde_json::Value> = state
            .param_groups
            .iter()
            .map(|g| {
                let mut obj: serde_json::Map<String, serde_json::Value> = g
                    .hyper
                    .iter()
                    .map(|(k, v)| (k.clone(), hyper_json(*v)))
                    .collect();
                obj.insert("params".into(), g.params.clone().into());
                obj.into()
            })
            .collect();
        self.meta.insert(
            "optimizer.param_groups".into(),
            serde_json::Value::from(groups).to_string(),
        );
        self
    }

    /// Adds the schedule's position ([`LrScheduler::state_dict`]).
    ///
    /// ```
    /// use stensor::optim::{StepLR, SGD};
    /// let s = StepLR::new(&mut SGD::<f32>::new(1.0), 2, 0.5);
    /// let bytes = stensor::io::Checkpoint::new().scheduler(&s).to_bytes();
    /// assert!(bytes.len() > 8);
    /// ```
    pub fn scheduler<S: LrScheduler>(mut self, sched: &S) -> Self {
        let st = sched.state_dict();
        let json = serde_json::json!({
            "last_epoch": st.last_epoch,
            "_step_count": st.last_epoch + 1,
            "base_lrs": [st.base_lr],
            "_last_lr": [st.last_lr],
        });
        self.meta.insert("scheduler".into(), json.to_string());
        self
    }

    /// Adds a value of your own (the epoch, a seed, a note) under `key`, written with
    /// `Display` and read back as text by [`CheckpointFile::value`].
    ///
    /// # Panics
    /// If `key` is one of the names the checkpoint itself uses (`format`,
    /// `optimizer.param_groups`, `scheduler`): a constant in the calling code.
    ///
    /// ```
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// let ck = CheckpointFile::from_bytes(Checkpoint::new().value("seed", 4).to_bytes(), "v.ck").unwrap();
    /// assert_eq!(ck.value("seed"), Some("4"));
    /// ```
    pub fn value(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        assert!(
            !RESERVED.contains(&key),
            "Checkpoint::value: `{key}` is a name the checkpoint uses itself ({RESERVED:?})"
        );
        self.meta.insert(key.into(), value.to_string());
        self
    }

    /// The checkpoint as safetensors bytes.
    ///
    /// ```
    /// let bytes = stensor::io::Checkpoint::new().value("epoch", 1).to_bytes();
    /// assert_eq!(&bytes[8..9], b"{"); // a safetensors header follows its length
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut meta = self.meta.clone();
        meta.insert("format".into(), FORMAT.into());
        super::serialize(&self.tensors, Some(meta))
    }

    /// Writes the checkpoint to `path` atomically, as [`super::save`] writes weights.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("stensor-cksave-{}.ck", std::process::id()));
    /// stensor::io::Checkpoint::new().value("epoch", 2).save(&path).unwrap();
    /// assert_eq!(stensor::io::CheckpointFile::load(&path).unwrap().value("epoch"), Some("2"));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StateDictError> {
        let path = path.as_ref();
        super::write_atomic(path, &self.to_bytes()).map_err(|source| StateDictError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn hyper_json(h: Hyper) -> serde_json::Value {
    match h {
        Hyper::Number(x) => x.into(),
        Hyper::Flag(b) => b.into(),
        Hyper::Pair(a, b) => vec![a, b].into(),
    }
}

/// A checkpoint read from a file (see [`Checkpoint`] for an example): restore each part into
/// a freshly built network, optimizer and schedule. Each `restore_` checks everything before
/// it changes anything, and its error names the file and the tensor or setting at fault.
///
/// ```
/// use stensor::io::{Checkpoint, CheckpointFile};
/// let bytes = Checkpoint::new().value("epoch", 3).to_bytes();
/// let ck = CheckpointFile::from_bytes(bytes, "run.ckpt")?;
/// assert_eq!(ck.value("epoch"), Some("3"));
/// # Ok::<(), stensor::io::StateDictError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    bytes: Vec<u8>,
    meta: HashMap<String, String>,
}

impl CheckpointFile {
    /// Reads and checks the checkpoint at `path` (its header entry by entry, as
    /// [`super::load`] does, and its `format`).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::CheckpointFile;
    /// let path = std::env::temp_dir().join(format!("stensor-notck-{}.safetensors", std::process::id()));
    /// stensor::io::save(&stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0)), &path).unwrap();
    /// let err = CheckpointFile::load(&path).unwrap_err();
    /// assert!(err.to_string().ends_with("is not a stensor checkpoint (no `format` stensor.checkpoint.1 in its metadata; weights alone load with stensor::io::load)"));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StateDictError> {
        let path = path.as_ref().to_path_buf();
        let bytes = super::read(&path)?;
        Self::from_bytes(bytes, path)
    }

    /// [`CheckpointFile::load`] from bytes in memory; `path` names them in errors.
    ///
    /// ```
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// let bytes = Checkpoint::new().value("epoch", 3).to_bytes();
    /// let ck = CheckpointFile::from_bytes(bytes, "run.ck").unwrap();
    /// assert_eq!(ck.value("epoch"), Some("3"));
    /// ```
    pub fn from_bytes(bytes: Vec<u8>, path: impl AsRef<Path>) -> Result<Self, StateDictError> {
        let path = path.as_ref().to_path_buf();
        let format = |message: String| StateDictError::Format {
            path: path.clone(),
            message,
        };
        super::check_header(&bytes).map_err(format)?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(StateDictError::Checkpoint {
                path,
                message: format!(
                    "is not a stensor checkpoint (no `format` {FORMAT} in its metadata; weights \
                     alone load with stensor::io::load)"
                ),
            });
        }
        Ok(CheckpointFile { path, bytes, meta })
    }

    fn file(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("checked when read")
    }

    fn error(&self, message: String) -> StateDictError {
        StateDictError::Checkpoint {
            path: self.path.clone(),
            message,
        }
    }

    /// The metadata entry `key` (the `part`'s state) read by `parse`.
    fn parsed<T>(
        &self,
        key: &str,
        part: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, StateDictError> {
        let text = self
            .meta
            .get(key)
            .ok_or_else(|| self.error(format!("holds no {part} state")))?;
        parse(text).map_err(|m| self.error(format!("`{key}` in the metadata: {m}")))
    }

    /// A value added with [`Checkpoint::value`].
    ///
    /// ```
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// let ck = CheckpointFile::from_bytes(Checkpoint::new().value("epoch", 3).to_bytes(), "v.ck").unwrap();
    /// assert_eq!((ck.value("epoch"), ck.value("format")), (Some("3"), None));
    /// ```
    pub fn value(&self, key: &str) -> Option<&str> {
        if RESERVED.contains(&key) {
            return None;
        }
        self.meta.get(key).map(String::as_str)
    }

    /// Loads the network's state dict (strictly, as [`super::load`]).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// let net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let ck = CheckpointFile::from_bytes(Checkpoint::new().model(&net).to_bytes(), "m.ck").unwrap();
    /// let mut wider = stensor::nn::Linear::<U3, U1>::new(&mut Rng::seed(0));
    /// assert!(ck.restore_model(&mut wider).is_err());
    /// ```
    pub fn restore_model<M: Module>(&self, net: &mut M) -> Result<(), StateDictError> {
        let report = super::load_impl(net, &self.file(), &self.path, true, "model.")?;
        super::strict_result(&self.path, report.problems)
    }

    /// The optimizer state the file holds, its buffers of element type `E`.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// use stensor::optim::SGD;
    /// let net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let bytes = Checkpoint::new().optimizer(&net, &SGD::<f32>::new(0.3)).to_bytes();
    /// let st = CheckpointFile::from_bytes(bytes, "o.ck").unwrap().optimizer_state::<f32>().unwrap();
    /// assert_eq!(st.param_groups[0].params, [0, 1]);
    /// ```
    pub fn optimizer_state<E: Element>(&self) -> Result<OptimizerState<E>, StateDictError> {
        let param_groups = self.parsed("optimizer.param_groups", "optimizer", parse_groups)?;
        let mut state: BTreeMap<usize, ParamState<E>> = BTreeMap::new();
        let file = self.file();
        let mut names = file.names();
        names.sort_unstable();
        for name in names {
            let Some(rest) = name.strip_prefix("optimizer.state.") else {
                continue;
            };
            let view = file.tensor(name).expect("a name the file lists");
            let bad = |m: &str| self.error(format!("tensor `{name}`: {m}"));
            let (number, buffer) = rest
                .split_once('.')
                .and_then(|(n, b)| Some((n.parse::<usize>().ok()?, b)))
                .ok_or_else(|| bad("not named optimizer.state.{number}.{buffer}"))?;
            let entry = state.entry(number).or_insert_with(|| ParamState {
                step: None,
                buffers: BTreeMap::new(),
            });
            if buffer == "step" {
                let step = match (view.dtype(), view.data()) {
                    (Dtype::F64, d) if view.shape().is_empty() => {
                        f64::from_le_bytes(d.try_into().expect("8 bytes, checked"))
                    }
                    _ => return Err(bad("a step count must be an f64 scalar")),
                };
                if !(step >= 0.0 && step.fract() == 0.0 && step < 2f64.powi(53)) {
                    return Err(bad(&format!("step count {step} is not a count")));
                }
                entry.step = Some(step as u64);
            } else {
                let mut values = vec![E::zero(); view.shape().iter().product()];
                let want = values_dtype(&E::values_mut(&mut values));
                if view.dtype() != want {
                    return Err(bad(&format!(
                        "is {} in the file, the optimizer holds {}",
                        dtype_name(view.dtype()),
                        dtype_name(want)
                    )));
                }
                copy_into(E::values_mut(&mut values), view.data());
                entry.buffers.insert(buffer.to_string(), values);
            }
        }
        Ok(OptimizerState {
            state,
            param_groups,
        })
    }

    /// Loads the optimizer's state for `net`'s parameters ([`Optimizer::load_state_dict`]:
    /// the hyper-parameters and every buffer, checked first).
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// use stensor::optim::{Adam, SGD};
    /// let net = stensor::nn::Linear::<U2, U1>::new(&mut Rng::seed(0));
    /// let bytes = Checkpoint::new().optimizer(&net, &SGD::<f32>::new(0.3)).to_bytes();
    /// let ck = CheckpointFile::from_bytes(bytes, "o.ck").unwrap();
    /// // an SGD checkpoint does not restore into Adam
    /// assert!(ck.restore_optimizer(&net, &mut Adam::<f32>::new(0.1)).is_err());
    /// ```
    pub fn restore_optimizer<M: Module, E: Element, O: Optimizer<E>>(
        &self,
        net: &M,
        opt: &mut O,
    ) -> Result<(), StateDictError> {
        let state = self.optimizer_state::<E>()?;
        opt.load_state_dict(net, &state)
            .map_err(|e| self.error(e.to_string()))
    }

    /// Moves the schedule to its saved position ([`LrScheduler::load_state_dict`]).
    ///
    /// ```
    /// use stensor::io::{Checkpoint, CheckpointFile};
    /// use stensor::optim::{LrScheduler, StepLR, SGD};
    /// let mut opt = SGD::<f32>::new(1.0);
    /// let mut s = StepLR::new(&mut opt, 1, 0.5);
    /// s.step(&mut opt);
    /// let ck = CheckpointFile::from_bytes(Checkpoint::new().scheduler(&s).to_bytes(), "s.ck").unwrap();
    /// let mut resumed = StepLR::new(&mut SGD::<f32>::new(1.0), 1, 0.5);
    /// ck.restore_scheduler(&mut resumed).unwrap();
    /// assert_eq!(resumed.epoch(), 1);
    /// ```
    pub fn restore_scheduler<S: LrScheduler>(&self, sched: &mut S) -> Result<(), StateDictError> {
        let st = self.parsed("scheduler", "scheduler", parse_scheduler)?;
        sched
            .load_state_dict(&st)
            .map_err(|e| self.error(e.to_string()))
    }
}

fn parse_groups(text: &str) -> Result<Vec<ParamGroup>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let groups = v.as_array().ok_or("not a list of groups")?;
    groups
        .iter()
        .map(|g| {
            let obj = g.as_object().ok_or("a group that is not an object")?;
            let mut hyper = BTreeMap::new();
            let mut params = None;
            for (k, v) in obj {
                if k == "params" {
                    let list: Option<Vec<usize>> = v.as_array().and_then(|a| {
                        a.iter()
                            .map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok()))
                            .collect()
                    });
                    params = Some(list.ok_or("`params` is not a list of parameter numbers")?);
                    continue;
                }
                let h = match v {
                    serde_json::Value::Bool(b) => Hyper::Flag(*b),
                    serde_json::Value::Number(n) => Hyper::Number(n.as_f64().ok_or("a number")?),
                    serde_json::Value::Array(a) => match a.as_slice() {
                        [x, y] => Hyper::Pair(
                            x.as_f64()
                                .ok_or(format!("`{k}` is not a pair of numbers"))?,
                            y.as_f64()
                                .ok_or(format!("`{k}` is not a pair of numbers"))?,
                        ),
                        _ => return Err(format!("`{k}` is not a pair of numbers")),
                    },
                    // PyTorch's `foreach: None` and the like: settings stensor has no use for
                    serde_json::Value::Null => continue,
                    other => return Err(format!("`{k}` has an unexpected value {other}")),
                };
                hyper.insert(k.clone(), h);
            }
            let params = params.ok_or("a group without `params`")?;
            Ok(ParamGroup { hyper, params })
        })
        .collect()
}

fn parse_scheduler(text: &str) -> Result<crate::optim::SchedulerState, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let last_epoch = v
        .get("last_epoch")
        .and_then(|x| x.as_u64())
        .and_then(|x| usize::try_from(x).ok())
        .ok_or("no `last_epoch` count")?;
    let rate = |key: &str| match v.get(key).and_then(|x| x.as_array()).map(Vec::as_slice) {
        Some([lr]) => lr.as_f64().ok_or(format!("`{key}` is not a number")),
        _ => Err(format!("`{key}` is not a list of one rate")),
    };
    Ok(crate::optim::SchedulerState {
        last_epoch,
        base_lr: rate("base_lrs")?,
        last_lr: rate("_last_lr")?,
    })
}
