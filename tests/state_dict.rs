//! State dicts with PyTorch: `tests/reference/lenet.safetensors` (PyTorch's `state_dict()` of
//! the W1 LeNet, saved with `safetensors.torch.save_file`) loads into a derived LeNet whose field
//! is named `net`, reproduces `model.json`'s logits, loss and every parameter gradient, and
//! round-trips; every malformed input is an error that names the file, the key and the shapes.

mod common;

use common::{assert_close, case};
use stensor::io::{self, StateDictError};
use stensor::loss::CrossEntropyLoss;
use stensor::nn::*;
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

type LeNetSeq<E> = (
    Conv2d<U1, U6, U5, U1, U2, U1, U1, Zeros, E>,
    Sigmoid,
    AvgPool2d<U2>,
    Conv2d<U6, U16, U5, U1, U0, U1, U1, Zeros, E>,
    Sigmoid,
    AvgPool2d<U2>,
    Flatten,
    Linear<U400, U120, E>,
    Sigmoid,
    Linear<U120, U84, E>,
    Sigmoid,
    Linear<U84, U10, E>,
);

/// PyTorch's `LeNet` with `self.net = nn.Sequential(...)`.
#[derive(Module)]
struct LeNet<E: Element> {
    net: LeNetSeq<E>,
}

impl<E: Element> LeNet<E> {
    fn new(seed: u64) -> Self {
        let mut r = Rng::seed(seed);
        LeNet {
            net: (
                Conv2d::new(&mut r),
                Sigmoid,
                AvgPool2d::new(),
                Conv2d::new(&mut r),
                Sigmoid,
                AvgPool2d::new(),
                Flatten::new(),
                Linear::new(&mut r),
                Sigmoid,
                Linear::new(&mut r),
                Sigmoid,
                Linear::new(&mut r),
            ),
        }
    }
}

fn reference() -> std::path::PathBuf {
    format!(
        "{}/tests/reference/lenet.safetensors",
        env!("CARGO_MANIFEST_DIR")
    )
    .into()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stensor-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn pytorch_state_dict_reproduces_the_reference_step() {
    let mut net = LeNet::<f32>::new(99);
    io::load(&mut net, reference()).unwrap();
    let c = case("model", "lenet_step");
    let x = c
        .tensor::<(U4, U1, U28, U28), f32>(&["inputs", "x"])
        .trace_no_grad();
    let target: Vec<usize> = c
        .data(&["inputs", "target"])
        .iter()
        .map(|&t| t as usize)
        .collect();
    let logits = net.net.forward(x);
    assert_close("logits", logits.as_slice(), &c.data(&["output"]));
    let loss = CrossEntropyLoss::default().forward(logits, &target);
    assert_close("loss", loss.as_slice(), &[c.0["loss"].as_f64().unwrap()]);
    let grads = loss.backward();
    let mut checked = 0;
    net.visit("", &mut |name, t| {
        let g = grads
            .by_id(t.id.unwrap())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        assert_close(&format!("grad {name}"), g, &c.data(&["grads", name]));
        checked += 1;
    });
    assert_eq!(checked, 10);
}

#[test]
fn names_are_pytorchs() {
    let net = LeNet::<f32>::new(0);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "net.0.weight",
            "net.0.bias",
            "net.3.weight",
            "net.3.bias",
            "net.7.weight",
            "net.7.bias",
            "net.9.weight",
            "net.9.bias",
            "net.11.weight",
            "net.11.bias"
        ]
    );
    assert_eq!(net.num_params(), 61706);
}

#[test]
fn save_load_round_trip_is_bit_identical() {
    let mut net = LeNet::<f32>::new(1);
    io::load(&mut net, reference()).unwrap();
    let path = scratch("lenet.safetensors");
    io::save(&net, &path).unwrap();
    // the file holds what PyTorch's does, tensor for tensor
    let ours = std::fs::read(&path).unwrap();
    let theirs = std::fs::read(reference()).unwrap();
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&ours).unwrap(),
        safetensors::SafeTensors::deserialize(&theirs).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    let mut names_b = b.names();
    names_b.sort();
    assert_eq!(names, names_b);
    for n in names {
        let (x, y) = (a.tensor(n).unwrap(), b.tensor(n).unwrap());
        assert_eq!(
            (x.dtype(), x.shape(), x.data()),
            (y.dtype(), y.shape(), y.data()),
            "{n}"
        );
    }
    let mut back = LeNet::<f32>::new(2);
    io::load(&mut back, &path).unwrap();
    let x = Tensor::<(U2, U1, U28, U28)>::rand_uniform(5, 0.0, 1.0);
    let (y1, y2) = (net.net.forward(x.clone()), back.net.forward(x));
    assert_eq!(
        y1.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        y2.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // no temporary file is left behind
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_training_step_updates_the_loaded_network_through_step() {
    let mut net = LeNet::<f32>::new(3);
    io::load(&mut net, reference()).unwrap();
    let before = net.net.0.weight.to_vec();
    let x = Tensor::<(U2, U1, U28, U28)>::rand_uniform(6, 0.0, 1.0).trace_no_grad();
    let grads = CrossEntropyLoss::default()
        .forward(net.net.forward(x), &[3, 7])
        .backward();
    let g = grads.get(&net.net.0.weight).unwrap().to_vec();
    SGD::new(0.9).step(&mut net, &grads);
    for ((a, b), g) in net.net.0.weight.to_vec().iter().zip(&before).zip(&g) {
        assert!((a - (b - 0.9 * g)).abs() < 1e-6);
    }
}

#[test]
fn mismatches_are_errors_naming_file_key_and_shapes() {
    let bytes = std::fs::read(reference()).unwrap();
    // a network with a different first layer
    #[derive(Module)]
    struct Wrong {
        net: (Conv2d<U1, U8, U5, U1, U2>,),
    }
    let mut w = Wrong {
        net: (Conv2d::new(&mut Rng::seed(0)),),
    };
    let before = w.net.0.weight.to_vec();
    let err = io::load_bytes(&mut w, &bytes, "lenet.safetensors").unwrap_err();
    // every problem at once: the two shapes, then the file's tensors the network lacks
    let text = err.to_string();
    assert!(text.starts_with("lenet.safetensors: 10 tensors do not match:\n  - tensor `net.0.weight` has shape [6, 1, 5, 5] in the file, but the network expects [8, 1, 5, 5]\n  - tensor `net.0.bias` has shape [6] in the file, but the network expects [8]\n  - unexpected tensor `net.11.bias` of shape [10]"), "{text}");
    assert_eq!(
        w.net.0.weight.to_vec(),
        before,
        "a failed strict load changes nothing"
    );
    // missing and unexpected keys
    #[derive(Module)]
    struct Extra {
        net: LeNetSeq<f32>,
        head: Linear<U10, U2>,
    }
    let mut e = Extra {
        net: LeNet::<f32>::new(0).net,
        head: Linear::new(&mut Rng::seed(0)),
    };
    let err = io::load_bytes(&mut e, &bytes, "f.safetensors").unwrap_err();
    let StateDictError::Mismatch { problems, .. } = &err else {
        panic!("every problem at once, got {err}")
    };
    assert!(
        matches!(&problems[0], StateDictError::Missing { key, expected, .. } if key == "head.weight" && expected == &vec![2, 10]),
        "{err}"
    );
    assert_eq!(err.to_string(), "f.safetensors: 2 tensors do not match:\n  - missing tensor `head.weight` (the network expects shape [2, 10], the file has none)\n  - missing tensor `head.bias` (the network expects shape [2], the file has none)");
    #[derive(Module)]
    struct Fewer {
        net: (Conv2d<U1, U6, U5, U1, U2>,),
    }
    let mut f = Fewer {
        net: (Conv2d::new(&mut Rng::seed(0)),),
    };
    let err = io::load_bytes(&mut f, &bytes, "f.safetensors").unwrap_err();
    assert!(
        err.to_string()
            .contains("unexpected tensor `net.11.bias` of shape [10]"),
        "{err}"
    );
    // dtype: the file is float32, the network float64
    let mut d = LeNet::<f64>::new(0);
    let err = io::load_bytes(&mut d, &bytes, "f.safetensors").unwrap_err();
    assert!(err.to_string().starts_with("f.safetensors: 10 tensors do not match:\n  - tensor `net.0.weight` (shape [6, 1, 5, 5]) is f32 in the file, but the network holds f64\n"), "{err}");
    // non-strict: load what matches, report the rest
    let report = io::load_bytes_non_strict(&mut e, &bytes, "f.safetensors").unwrap();
    assert_eq!(report.loaded.len(), 10);
    assert_eq!(report.problems.len(), 2);
}

#[test]
fn truncated_or_corrupt_files_are_errors_not_panics() {
    let bytes = std::fs::read(reference()).unwrap();
    let mut net = LeNet::<f32>::new(0);
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = io::load_bytes(&mut net, &bytes[..cut], "cut.safetensors").unwrap_err();
        assert!(
            matches!(err, StateDictError::Format { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err
            .to_string()
            .starts_with("cut.safetensors: not a valid safetensors file"));
    }
    let mut corrupt = bytes.clone();
    corrupt[12] = b'}';
    assert!(io::load_bytes(&mut net, &corrupt, "bad.safetensors").is_err());
    let mut huge_header = bytes.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(io::load_bytes(&mut net, &huge_header, "bad.safetensors").is_err());
    let err = io::load(&mut net, scratch("does-not-exist.safetensors")).unwrap_err();
    assert!(
        matches!(err, StateDictError::Io { .. })
            && err.to_string().contains("does-not-exist.safetensors")
    );
}

#[test]
fn saving_over_an_existing_file_replaces_it_whole() {
    let path = scratch("replace.safetensors");
    let a = LeNet::<f32>::new(10);
    let b = LeNet::<f32>::new(11);
    io::save(&a, &path).unwrap();
    io::save(&b, &path).unwrap();
    let mut c = LeNet::<f32>::new(12);
    io::load(&mut c, &path).unwrap();
    assert_eq!(c.net.7.weight.to_vec(), b.net.7.weight.to_vec());
    // a save into a folder that does not exist fails without touching anything
    let err = io::save(&a, scratch("missing-dir/x.safetensors")).unwrap_err();
    assert!(matches!(err, StateDictError::Io { .. }));
}

/// A temporary file that a killed save left behind goes at the next save to the same target;
/// a live process's, another target's and other files stay.
#[test]
#[cfg(target_os = "linux")]
fn a_save_removes_what_killed_saves_left_behind() {
    let dir = scratch("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("w.safetensors");
    // no process has this pid (Linux pids stop at 2^22)
    let dead = dir.join(".w.safetensors.4294967294.0.123.tmp");
    let live = dir.join(".w.safetensors.1.0.123.tmp"); // init's
    let other_target = dir.join(".x.safetensors.4294967294.0.123.tmp");
    let not_ours = dir.join(".w.safetensors.backup.tmp");
    for f in [&dead, &live, &other_target, &not_ours] {
        std::fs::write(f, b"partial").unwrap();
    }
    io::save(&LeNet::<f32>::new(1), &path).unwrap();
    assert!(!dead.exists());
    assert!(live.exists() && other_target.exists() && not_ours.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two threads save different networks to one path 100 times each while a third loads it:
/// every load sees one whole file, and no temporary file is left behind.
#[test]
fn concurrent_saves_to_one_path_never_show_a_partial_file() {
    let dir = scratch("concurrent");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.safetensors");
    let nets: Vec<Linear<U64, U32>> = (0..2).map(|s| Linear::new(&mut Rng::seed(s))).collect();
    io::save(&nets[0], &path).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for net in &nets {
            let path = &path;
            s.spawn(move || {
                for _ in 0..100 {
                    io::save(net, path).unwrap();
                }
            });
        }
        let reader = s.spawn(|| {
            let mut loads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || loads == 0 {
                let mut got = Linear::<U64, U32>::new(&mut Rng::seed(9));
                io::load(&mut got, &path).unwrap();
                let w = got.weight.to_vec();
                assert!(
                    nets.iter().any(|n| n.weight.to_vec() == w),
                    "a load saw neither network"
                );
                loads += 1;
            }
            loads
        });
        // the writers end when the scope's other threads do; let the reader run meanwhile
        std::thread::sleep(std::time::Duration::from_millis(200));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("net.safetensors")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A save keeps the target's permissions and writes through a symlink to its target.
#[cfg(unix)]
#[test]
fn a_save_keeps_permissions_and_writes_through_a_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("perm");
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("real.safetensors");
    let link = dir.join("link.safetensors");
    let net = Linear::<U2, U1>::new(&mut Rng::seed(3));
    io::save(&net, &real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let other = Linear::<U2, U1>::new(&mut Rng::seed(4));
    io::save(&other, &link).unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut got = Linear::<U2, U1>::new(&mut Rng::seed(5));
    io::load(&mut got, &real).unwrap();
    assert_eq!(got.weight.to_vec(), other.weight.to_vec());
    // a dangling link is an error, and nothing is created
    std::fs::remove_file(&real).unwrap();
    assert!(io::save(&other, &link).is_err());
    assert!(!real.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A safetensors file from a header written out and `data_len` zero bytes.
fn with_header(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

/// Every problem in one header entry is an error naming the file and that tensor.
#[test]
fn damaged_header_entries_are_errors_naming_the_tensor() {
    let ok_w = r#""weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}"#;
    let ok_b = r#""bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}"#;
    let good = with_header(&format!("{{{ok_w},{ok_b}}}"), 12);
    let mut fc = Linear::<U2, U1>::new(&mut Rng::seed(0));
    io::load_bytes(&mut fc, &good, "w.safetensors").unwrap();
    let cases = [
        (
            format!("{{{ok_w},{ok_b},{ok_w}}}"),
            "tensor `weight` appears twice in the header",
        ),
        (
            format!(r#"{{"weight":{{"dtype":"F33","shape":[1,2],"data_offsets":[0,8]}},{ok_b}}}"#),
            "tensor `weight`: unknown dtype `F33`",
        ),
        (
            format!(r#"{{{ok_w},"bias":{{"dtype":"F32","shape":[-1],"data_offsets":[8,12]}}}}"#),
            "tensor `bias`: a shape that is not a list of counts",
        ),
        (
            format!(
                r#"{{{ok_w},"bias":{{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[8,12]}}}}"#
            ),
            "tensor `bias`: shape [4294967296, 4294967296] whose element count overflows",
        ),
        (
            format!(r#"{{{ok_w},"bias":{{"dtype":"F32","shape":[1],"data_offsets":[12,8]}}}}"#),
            "tensor `bias`: offsets [12,8] that are not two increasing positions",
        ),
        (
            format!(r#"{{{ok_w},"bias":{{"dtype":"F32","shape":[2],"data_offsets":[8,12]}}}}"#),
            "tensor `bias`: shape [2] of 8 bytes, but offsets spanning 4",
        ),
    ];
    for (header, want) in cases {
        let before = fc.weight.to_vec();
        let e = io::load_bytes(&mut fc, &with_header(&header, 12), "w.safetensors").unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("w.safetensors") && e.contains(want),
            "{e} lacks {want}"
        );
        assert_eq!(
            fc.weight.to_vec(),
            before,
            "a failed load changed the network"
        );
    }
}

/// A field renamed between the file and the network (torchvision's `downsample` written as
/// `down`): the strict load lists every missing tensor with the file's name to use.
#[test]
fn a_missing_tensor_names_the_nearest_one_in_the_file() {
    #[derive(Module)]
    struct Block {
        conv: Conv2d<U2, U2, U1>,
        downsample: (Conv2d<U2, U2, U1>,),
    }
    #[derive(Module)]
    struct Renamed {
        conv: Conv2d<U2, U2, U1>,
        down: (Conv2d<U2, U2, U1>,),
    }
    let rng = &mut Rng::seed(0);
    let bytes = io::to_bytes(&Block {
        conv: Conv2d::new(rng),
        downsample: (Conv2d::new(rng),),
    });
    let mut r = Renamed {
        conv: Conv2d::new(rng),
        down: (Conv2d::new(rng),),
    };
    let before = r.conv.weight.to_vec();
    let err = io::load_bytes(&mut r, &bytes, "block.safetensors").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("missing tensor `down.0.weight` (the network expects shape [2, 2, 1, 1], the file has none); did you mean `downsample.0.weight`?"), "{text}");
    assert!(
        text.contains("unexpected tensor `downsample.0.bias`"),
        "{text}"
    );
    assert_eq!(
        r.conv.weight.to_vec(),
        before,
        "a failed strict load changes nothing"
    );
}

/// An in-memory state dict loads like a file, with the same checks.
#[test]
fn a_state_dict_map_loads_with_the_checks_of_a_file() {
    let src = Linear::<U3, U2>::new(&mut Rng::seed(1));
    let mut sd = io::StateDict::of(&src);
    let mut dst = Linear::<U3, U2>::new(&mut Rng::seed(2));
    io::load_state_dict(&mut dst, &sd).unwrap();
    assert_eq!(dst.weight.to_vec(), src.weight.to_vec());
    sd.insert("bias", vec![3], vec![0.0f32; 3]).unwrap();
    let err = io::load_state_dict(&mut dst, &sd).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<state dict>: tensor `bias` has shape [3] in the file, but the network expects [2]"
    );
}
