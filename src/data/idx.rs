//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number (two zero bytes, the
//! element type, the number of dimensions), one big-endian `u32` per dimension, then the
//! elements row-major. Files may be gzip-compressed (`.gz`, recognised by their first bytes,
//! not by their name).

use super::{DataError, DataErrorKind};
use flate2::read::GzDecoder;
use std::io::Read;
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

/// Reads an IDX file of unsigned bytes, raw or gzip-compressed.
///
/// A missing or unreadable file, a gzip stream that does not decode, a wrong magic number, an
/// element type other than unsigned bytes, and a file shorter or longer than its header says
/// are errors naming the file; nothing panics on bad input.
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
    let path = path.as_ref();
    let err = |kind| DataError::new(path, kind);
    let raw = std::fs::read(path).map_err(|e| err(DataErrorKind::Io(e)))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 2);
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| err(DataErrorKind::Gzip(e)))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(err)
}

/// Parses the bytes of an (uncompressed) IDX file.
fn parse_idx(bytes: &[u8]) -> Result<IdxArray, DataErrorKind> {
    if bytes.len() < 4 {
        return Err(DataErrorKind::Truncated {
            what: "the header",
            expected: 4,
            found: bytes.len(),
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (kind, rank) = (bytes[2], bytes[3] as usize);
    if bytes[0] != 0 || bytes[1] != 0 || rank == 0 {
        return Err(DataErrorKind::BadMagic { found: magic });
    }
    if kind != UBYTE {
        return Err(DataErrorKind::ElementType { code: kind });
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(DataErrorKind::Truncated {
            what: "the header",
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let numel = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .unwrap_or(usize::MAX); // more than any file holds: reported as truncated
    let found = bytes.len() - header;
    if found < numel {
        return Err(DataErrorKind::Truncated {
            what: "data",
            expected: numel,
            found,
        });
    }
    if found > numel {
        return Err(DataErrorKind::TrailingBytes {
            expected: numel,
            found,
        });
    }
    Ok(IdxArray {
        data: bytes[header..].to_vec(),
        dims,
    })
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

    #[test]
    fn every_malformed_header_is_an_error() {
        let ok = [0, 0, 8, 1, 0, 0, 0, 2, 7, 9];
        assert_eq!(parse_idx(&ok).unwrap().data, [7, 9]);
        let cases: [(&[u8], &str); 6] = [
            (&[0, 0], "truncated: the header needs 4 bytes"),
            (&[1, 0, 8, 1, 0, 0, 0, 0], "wrong magic number 0x01000801"),
            (&[0, 0, 8, 0], "wrong magic number 0x00000800"),
            (&[0, 0, 0x0d, 1, 0, 0, 0, 0], "element type 0x0d"),
            (
                &[0, 0, 8, 3, 0, 0, 0, 2],
                "truncated: the header needs 16 bytes",
            ),
            (
                &[0, 0, 8, 1, 0, 0, 0, 1, 5, 6],
                "1 byte(s) of data, the file has 2",
            ),
        ];
        for (bytes, want) in cases {
            let e = parse_idx(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }
}
