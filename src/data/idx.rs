//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number (two zero bytes, the
//! element type, the number of dimensions), one big-endian `u32` per dimension, then the
//! elements row-major. Files may be gzip-compressed (`.gz`, recognised by their first bytes,
//! not by their name).

use super::{DataError, DataErrorKind};
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, Read};
use std::path::Path;

/// The IDX element type code of unsigned bytes, the only one the datasets use.
const UBYTE: u8 = 0x08;

/// An IDX array of unsigned bytes: its dimensions and its elements, row-major.
///
/// ```
/// use stensor::data::{read_idx, write_idx, IdxArray};
/// let path = std::env::temp_dir().join(format!("stensor-idx-doc-{}", std::process::id()));
/// let array = IdxArray { dims: vec![2, 3], data: vec![0, 1, 2, 3, 4, 5] };
/// write_idx(&path, &array).unwrap();
/// assert_eq!(read_idx(&path).unwrap(), array);
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions (`[count, rows, cols]` for images, `[count]` for labels).
    pub dims: Vec<usize>,
    /// The elements, row-major; `dims.iter().product()` of them.
    pub data: Vec<u8>,
}

/// The most data [`read_idx`] accepts from one file: 2 GiB, twenty times the largest
/// MNIST-style file in use. [`read_idx_with_limit`] takes another.
///
/// ```
/// // Fashion-MNIST's training images, 60000 x 28 x 28 bytes, are well inside it
/// assert!(60_000 * 28 * 28 < stensor::data::IDX_DEFAULT_LIMIT);
/// ```
pub const IDX_DEFAULT_LIMIT: usize = 2 << 30;

/// Deflate's largest expansion: a gzip file of `n` bytes inflates to at most about `1032 n`.
const DEFLATE_MAX_RATIO: usize = 1032;

/// Reads an IDX file of unsigned bytes, raw or gzip-compressed (one member or several
/// concatenated, as `gzip` itself reads them), with at most [`IDX_DEFAULT_LIMIT`] bytes of
/// data.
///
/// The header is read first and bounds everything after it: a header that declares more data
/// than the limit, or than the file can hold (its length raw; deflate's largest expansion of
/// it compressed), is refused before anything is allocated; the data is inflated straight
/// into one buffer of exactly the declared size, allocated with `try_reserve` (a failed
/// allocation is an `Err`, not an abort), and never copied. A missing or unreadable file, a
/// gzip stream that does not decode, a wrong magic number, an element type other than
/// unsigned bytes, and a file shorter or longer than its header says are errors naming the
/// file; nothing panics on bad input.
///
/// ```
/// use stensor::data::read_idx;
/// let path = std::env::temp_dir().join(format!("stensor-idx-bad-{}", std::process::id()));
/// // the header of a 2x3 array, but only 4 of its 6 bytes
/// std::fs::write(&path, [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4]).unwrap();
/// let err = read_idx(&path).unwrap_err();
/// assert!(err.to_string().ends_with("truncated: the header promises 6 bytes of data, the file has 4"), "{err}");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    read_idx_with_limit(path, IDX_DEFAULT_LIMIT)
}

/// [`read_idx`] with at most `limit` bytes of data.
///
/// ```
/// use stensor::data::{read_idx_with_limit, write_idx, IdxArray};
/// let path = std::env::temp_dir().join(format!("stensor-idx-limit-{}", std::process::id()));
/// write_idx(&path, &IdxArray { dims: vec![2, 3], data: vec![0; 6] }).unwrap();
/// assert!(read_idx_with_limit(&path, 6).is_ok());
/// let err = read_idx_with_limit(&path, 5).unwrap_err();
/// assert!(err.to_string().ends_with("declares 6 bytes of data, more than the 5 that the reader's limit allows"), "{err}");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_idx_with_limit(path: impl AsRef<Path>, limit: usize) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let err = |kind| DataError::new(path, kind);
    let mut src = Source::open(path)?;
    let dims = src.read_dims()?;
    let header = 4 + 4 * dims.len();
    let numel = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .unwrap_or(usize::MAX);
    if numel > limit || numel == usize::MAX {
        return Err(err(DataErrorKind::TooLarge {
            declared: numel,
            most: limit,
            why: "the reader's limit".into(),
        }));
    }
    let holds = src.holds.saturating_sub(header);
    if numel > holds {
        return Err(err(if src.gzip {
            DataErrorKind::TooLarge {
                declared: numel,
                most: holds,
                why: format!("a gzip file of {} bytes", src.file_len),
            }
        } else {
            DataErrorKind::Truncated {
                what: "data",
                expected: numel,
                found: src.file_len - header,
            }
        }));
    }
    let data = src.read_data(numel)?;
    Ok(IdxArray { dims, data })
}

/// An IDX file being read, raw or gzip-compressed.
struct Source<'p> {
    path: &'p Path,
    reader: Box<dyn Read>,
    gzip: bool,
    file_len: usize,
    /// The most bytes the file can hold once decompressed.
    holds: usize,
}

impl<'p> Source<'p> {
    fn open(path: &'p Path) -> Result<Self, DataError> {
        let io = |e| DataError::new(path, DataErrorKind::Io(e));
        let file = std::fs::File::open(path).map_err(io)?;
        let file_len = usize::try_from(file.metadata().map_err(io)?.len()).unwrap_or(usize::MAX);
        let mut file = std::io::BufReader::new(file);
        let gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let (reader, holds): (Box<dyn Read>, _) = if gzip {
            let most = file_len.saturating_mul(DEFLATE_MAX_RATIO);
            (Box::new(MultiGzDecoder::new(file)), most)
        } else {
            (Box::new(file), file_len)
        };
        Ok(Source {
            path,
            reader,
            gzip,
            file_len,
            holds,
        })
    }

    fn err(&self, kind: DataErrorKind) -> DataError {
        DataError::new(self.path, kind)
    }

    /// A read error inside the gzip stream is a bad gzip file; in a raw file, an I/O error.
    fn bad(&self, e: std::io::Error) -> DataError {
        self.err(if self.gzip {
            DataErrorKind::Gzip(e)
        } else {
            DataErrorKind::Io(e)
        })
    }

    /// The magic number and the dims it announces.
    fn read_dims(&mut self) -> Result<Vec<usize>, DataError> {
        let mut head = [0u8; 4];
        let got = read_up_to(&mut self.reader, &mut head).map_err(|e| self.bad(e))?;
        let rank = check_magic(&head[..got]).map_err(|k| self.err(k))?;
        let mut dim_bytes = vec![0u8; 4 * rank];
        let got = read_up_to(&mut self.reader, &mut dim_bytes).map_err(|e| self.bad(e))?;
        if got < dim_bytes.len() {
            return Err(self.err(DataErrorKind::Truncated {
                what: "the header",
                expected: 4 + 4 * rank,
                found: 4 + got,
            }));
        }
        Ok(dim_bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect())
    }

    /// The `numel` data bytes, and an error if fewer or more follow the header.
    fn read_data(mut self, numel: usize) -> Result<Vec<u8>, DataError> {
        let mut data = Vec::new();
        data.try_reserve_exact(numel)
            .map_err(|_| self.err(DataErrorKind::OutOfMemory { bytes: numel }))?;
        let read = (&mut self.reader).take(numel as u64).read_to_end(&mut data);
        read.map_err(|e| self.bad(e))?;
        if data.len() < numel {
            return Err(self.err(DataErrorKind::Truncated {
                what: "data",
                expected: numel,
                found: data.len(),
            }));
        }
        // whatever follows is counted, not kept
        let extra = std::io::copy(&mut self.reader, &mut std::io::sink());
        let extra = extra.map_err(|e| self.bad(e))?;
        if extra > 0 {
            return Err(self.err(DataErrorKind::TrailingBytes {
                expected: numel,
                found: numel.saturating_add(usize::try_from(extra).unwrap_or(usize::MAX)),
            }));
        }
        Ok(data)
    }
}

/// Fills `buf` from `r` as far as `r` goes; the number of bytes read.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The rank an IDX magic number (the file's first four bytes, fewer if it is shorter)
/// declares, or why it is not one.
fn check_magic(head: &[u8]) -> Result<usize, DataErrorKind> {
    let [a, b, kind, rank] = *head else {
        return Err(DataErrorKind::Truncated {
            what: "the header",
            expected: 4,
            found: head.len(),
        });
    };
    if a != 0 || b != 0 || rank == 0 {
        return Err(DataErrorKind::BadMagic {
            found: u32::from_be_bytes([a, b, kind, rank]),
        });
    }
    if kind != UBYTE {
        return Err(DataErrorKind::ElementType { code: kind });
    }
    Ok(rank as usize)
}

/// Writes an IDX file of unsigned bytes (gzip-compressed when `path` ends in `.gz`), atomically:
/// a temporary file is written and renamed over `path`, so an existing file is never left
/// half-written.
///
/// ```
/// use stensor::data::{read_idx, write_idx, IdxArray};
/// let path = std::env::temp_dir().join(format!("stensor-idx-gz-{}.gz", std::process::id()));
/// let labels = IdxArray { dims: vec![4], data: vec![3, 1, 4, 1] };
/// write_idx(&path, &labels).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap()[..2], [0x1f, 0x8b]);
/// assert_eq!(read_idx(&path).unwrap().data, [3, 1, 4, 1]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn write_idx(path: impl AsRef<Path>, array: &IdxArray) -> Result<(), DataError> {
    let path = path.as_ref();
    let numel: usize = array.dims.iter().product();
    if numel != array.data.len() || array.dims.is_empty() || array.dims.len() > 255 {
        return Err(DataError::new(
            path,
            DataErrorKind::Dims {
                what: "IDX array",
                expected: array.dims.iter().map(|&d| Some(d)).collect(),
                found: vec![array.data.len()],
            },
        ));
    }
    let mut bytes = vec![0, 0, UBYTE, array.dims.len() as u8];
    for &d in &array.dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(&array.data);
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zipped = enc.write_all(&bytes).and_then(|()| enc.finish());
        bytes = zipped.map_err(|e| DataError::new(path, DataErrorKind::Gzip(e)))?;
    }
    crate::io::write_atomic(path, &bytes).map_err(|e| DataError::new(path, DataErrorKind::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// `bytes` in a fresh temporary file, read back with `limit`.
    fn read_bytes(name: &str, bytes: &[u8], limit: usize) -> Result<IdxArray, String> {
        let path = std::env::temp_dir().join(format!("stensor-idx-{name}-{}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let r = read_idx_with_limit(&path, limit).map_err(|e| e.to_string());
        std::fs::remove_file(&path).unwrap();
        r
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn every_malformed_header_is_an_error() {
        let ok = [0, 0, 8, 1, 0, 0, 0, 2, 7, 9];
        assert_eq!(read_bytes("ok", &ok, 100).unwrap().data, [7, 9]);
        assert_eq!(read_bytes("okgz", &gzip(&ok), 100).unwrap().data, [7, 9]);
        let cases: [(&[u8], &str); 7] = [
            (
                &[0, 0],
                "truncated: the header needs 4 bytes, the file has 2",
            ),
            (&[1, 0, 8, 1, 0, 0, 0, 0], "wrong magic number 0x01000801"),
            (&[0, 0, 8, 0], "wrong magic number 0x00000800"),
            (&[0, 0, 0x0d, 1, 0, 0, 0, 0], "element type 0x0d"),
            (
                &[0, 0, 8, 3, 0, 0, 0, 2],
                "truncated: the header needs 16 bytes, the file has 8",
            ),
            (
                &[0, 0, 8, 1, 0, 0, 0, 1, 5, 6],
                "1 byte(s) of data, the file has 2",
            ),
            (
                &[0, 0, 8, 2, 0, 0, 0, 9, 0, 0, 0, 9, 1],
                "promises 81 bytes of data, the file has 1",
            ),
        ];
        for (bytes, want) in cases {
            for (how, b) in [("raw", bytes.to_vec()), ("gzip", gzip(bytes))] {
                let e = read_bytes("bad", &b, 1000).unwrap_err();
                assert!(e.contains(want), "{how}: {e} lacks {want}");
            }
        }
    }

    #[test]
    fn a_header_declaring_more_than_the_limit_or_the_file_is_refused_unread() {
        // 4.98 M images of 28x28: 3.9 GB declared by a file of a few bytes
        let mut big = vec![0, 0, 8, 3];
        for d in [4_980_000u32, 28, 28] {
            big.extend_from_slice(&d.to_be_bytes());
        }
        big.extend_from_slice(&[0; 64]);
        let e = read_bytes("limit", &big, IDX_DEFAULT_LIMIT).unwrap_err();
        assert!(e.contains("declares 3904320000 bytes of data, more than the 2147483648 that the reader's limit allows"), "{e}");
        let e = read_bytes("holds", &gzip(&big), usize::MAX).unwrap_err();
        assert!(
            e.contains("declares 3904320000 bytes of data") && e.contains("that a gzip file of"),
            "{e}"
        );
        let e = read_bytes("raw", &big, usize::MAX).unwrap_err();
        assert!(
            e.contains("promises 3904320000 bytes of data, the file has 64"),
            "{e}"
        );
        // dimensions whose product overflows
        let mut over = vec![0, 0, 8, 3];
        for _ in 0..3 {
            over.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        let e = read_bytes("overflow", &over, usize::MAX).unwrap_err();
        assert!(
            e.contains("more bytes of data than memory can address"),
            "{e}"
        );
    }

    #[test]
    fn a_gzip_that_inflates_past_its_header_is_counted_not_kept() {
        // a 2x3 header followed by 64 MB of zeros: inflating all of it would take 64 MB
        let mut bytes = vec![0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.resize(bytes.len() + (64 << 20), 0);
        let e = read_bytes("bomb", &gzip(&bytes), 100).unwrap_err();
        assert!(
            e.contains("promises 6 byte(s) of data, the file has 67108864"),
            "{e}"
        );
    }

    #[test]
    fn concatenated_gzip_members_read_as_one_file() {
        let whole = [0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5];
        let mut two = gzip(&whole[..9]);
        two.extend(gzip(&whole[9..]));
        assert_eq!(
            read_bytes("members", &two, 100).unwrap().data,
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn a_damaged_gzip_stream_is_an_error_naming_gzip() {
        let mut z = gzip(&[0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
        let n = z.len();
        z.truncate(n - 6);
        let e = read_bytes("cut", &z, 100).unwrap_err();
        assert!(e.contains("gzip"), "{e}");
    }
}
