//! Damaged files: valid state dicts, checkpoints, IDX files (raw and gzip) and CIFAR batches,
//! truncated, with bytes flipped, or with bytes spliced in, are read to an `Ok` or an `Err`,
//! never a panic; and a read never holds much more memory than the file is long (a counting
//! allocator measures each read's peak on its own thread).

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use stensor::data::{read_idx_with_limit, write_idx, IdxArray, ImageDataset, Split};
use stensor::io::{Checkpoint, CheckpointFile};
use stensor::nn::{BatchNorm1d, Forward, Linear};
use stensor::optim::{Optimizer, SGD};
use stensor::prelude::*;

/// Counts the bytes each thread holds, and the most it held since the last [`reset_peak`].
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: the allocator runs while thread-locals are torn down too
    let _ = HELD.try_with(|h| {
        let now = h.get() + delta;
        h.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY (of the test harness, not the library): forwards to the system allocator unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        // SAFETY: the caller's layout, passed on
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        // SAFETY: `p` came from `System` with this layout
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new as isize - l.size() as isize);
        // SAFETY: as above
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most this thread held while `f` ran, above what it held before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = HELD.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, (PEAK.with(Cell::get) - base).max(0) as usize)
}

/// A damage done to a valid file.
#[derive(Clone, Debug)]
enum Damage {
    /// Keep this share of the bytes.
    Truncate(f64),
    /// XOR the byte at this share of the length with this mask.
    Flip(f64, u8),
    /// Insert these bytes at this share of the length.
    Splice(f64, Vec<u8>),
    /// Copy a stretch over another (a header's digits into the data, and so on).
    Copy(f64, f64, usize),
    /// Set 8 bytes at this share to a large little-endian count.
    Count(f64, u64),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        (0.0..1.0f64, 1..=255u8).prop_map(|(a, m)| Damage::Flip(a, m)),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Damage::Splice(a, b)),
        (0.0..1.0f64, 0.0..1.0f64, 1..64usize).prop_map(|(a, b, n)| Damage::Copy(a, b, n)),
        (
            0.0..1.0f64,
            prop_oneof![Just(u64::MAX), Just(1 << 40), Just(1 << 31), any::<u64>()]
        )
            .prop_map(|(a, c)| Damage::Count(a, c)),
    ];
    prop::collection::vec(one, 1..4)
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    let at = |share: f64, len: usize| ((share * len as f64) as usize).min(len.saturating_sub(1));
    for d in damages {
        if bytes.is_empty() {
            break;
        }
        match d {
            Damage::Truncate(s) => bytes.truncate(at(*s, bytes.len())),
            Damage::Flip(s, m) => {
                let i = at(*s, bytes.len());
                bytes[i] ^= m;
            }
            Damage::Splice(s, b) => {
                let i = at(*s, bytes.len());
                bytes.splice(i..i, b.iter().copied());
            }
            Damage::Copy(from, to, n) => {
                let (f, t) = (at(*from, bytes.len()), at(*to, bytes.len()));
                let n = (*n).min(bytes.len() - f).min(bytes.len() - t);
                bytes.copy_within(f..f + n, t);
            }
            Damage::Count(s, c) => {
                let i = at(*s, bytes.len());
                for (k, b) in c.to_le_bytes().into_iter().enumerate() {
                    if let Some(x) = bytes.get_mut(i + k) {
                        *x = b;
                    }
                }
            }
        }
    }
    bytes
}

type Net = (Linear<U4, U3>, BatchNorm1d<U3>);

fn net() -> Net {
    (
        Linear::new(&mut stensor::tensor::Rng::seed(0)),
        BatchNorm1d::new(),
    )
}

fn checkpoint() -> Vec<u8> {
    let mut n = net();
    let mut opt = SGD::new(0.1).with_momentum(0.9);
    let grads = n
        .forward(Tensor::<(U2, U4)>::ones().trace())
        .sum()
        .backward();
    opt.step(&mut n, &grads);
    Checkpoint::new()
        .model(&n)
        .optimizer(&n, &opt)
        .value("epoch", 1)
        .to_bytes()
}

fn idx_bytes(dir: &Path) -> Vec<u8> {
    let path = dir.join("valid.idx");
    let array = IdxArray {
        dims: vec![5, 6, 7],
        data: (0..210).map(|i| i as u8).collect(),
    };
    write_idx(&path, &array).unwrap();
    std::fs::read(&path).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn cifar_bytes() -> Vec<u8> {
    (0..2 * 3073)
        .map(|i| if i % 3073 == 0 { 3 } else { i as u8 })
        .collect()
}

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "stensor-damaged-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads `bytes` in every way a user would; panics (failing the case) only if a reader does,
/// or holds more than `4 x` the file plus 1 MB.
fn read_all_ways(dir: &Path, bytes: &[u8], gz: &[u8], cifar: &[u8]) {
    let bound = |len: usize| 4 * len + (1 << 20);
    let (_, peak) = peak_of(|| {
        let mut n = net();
        let _ = stensor::io::load_bytes(&mut n, bytes, "damaged.safetensors");
        let _ = stensor::io::load_bytes_non_strict(&mut n, bytes, "damaged.safetensors");
        if let Ok(ck) = CheckpointFile::from_bytes(bytes.to_vec(), "damaged.ck") {
            let _ = ck.restore_model(&mut n);
            let _ = ck.restore_optimizer(&n, &mut SGD::<f32>::new(0.1));
            let _ = ck.value("epoch");
        }
    });
    assert!(
        peak <= bound(bytes.len()),
        "safetensors: held {peak} bytes for a file of {}",
        bytes.len()
    );
    for (name, data) in [("damaged.idx", bytes), ("damaged.idx.gz", gz)] {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        let (_, peak) = peak_of(|| read_idx_with_limit(&path, 1 << 20));
        assert!(
            peak <= bound(data.len().max(210)),
            "{name}: held {peak} bytes for {} bytes",
            data.len()
        );
    }
    let cifar_dir = dir.join("cifar");
    std::fs::create_dir_all(&cifar_dir).unwrap();
    std::fs::write(cifar_dir.join("test_batch.bin"), cifar).unwrap();
    let (_, peak) = peak_of(|| ImageDataset::cifar10(&cifar_dir, Split::Test));
    assert!(
        peak <= bound(cifar.len()),
        "cifar: held {peak} bytes for {}",
        cifar.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
    #[test]
    fn damaged_files_are_errors_never_panics(
        which in 0..3usize,
        damages in damage(),
    ) {
        let dir = folder();
        let valid = [checkpoint(), stensor::io::to_bytes(&net()), idx_bytes(&dir)];
        let bytes = apply(valid[which].clone(), &damages);
        let gz = apply(gzip(&idx_bytes(&dir)), &damages);
        let cifar = apply(cifar_bytes(), &damages);
        read_all_ways(&dir, &bytes, &gz, &cifar);
    }
}

#[test]
fn valid_files_read_back() {
    let dir = folder();
    let ck = CheckpointFile::from_bytes(checkpoint(), "ok.ck").unwrap();
    ck.restore_model(&mut net()).unwrap();
    let path = dir.join("ok.idx.gz");
    std::fs::write(&path, gzip(&idx_bytes(&dir))).unwrap();
    assert_eq!(read_idx_with_limit(&path, 1 << 20).unwrap().dims, [5, 6, 7]);
    let cifar_dir = dir.join("cifar-ok");
    std::fs::create_dir_all(&cifar_dir).unwrap();
    std::fs::write(cifar_dir.join("test_batch.bin"), cifar_bytes()).unwrap();
    assert_eq!(
        ImageDataset::cifar10(&cifar_dir, Split::Test)
            .unwrap()
            .len(),
        2
    );
    // and the harness sees a read's memory: the 6 KB dataset is counted
    let (_, peak) = peak_of(|| ImageDataset::cifar10(&cifar_dir, Split::Test).unwrap());
    assert!(peak >= 6144, "{peak}");
}
