//! The idx format of MNIST and Fashion-MNIST: a reader (plain or gzipped) and a writer, for
//! unsigned-byte arrays.
//!
//! Layout: two zero bytes, a type code (`0x08` = unsigned byte, the only one supported), the number
//! of dimensions `n`, then `n` big-endian `u32` sizes, then the data in row-major order, nothing after.
//! A gzipped file (starting `1f 8b`) is decompressed first; the decompressed size is read from the
//! header and capped, so a hostile file cannot make the reader allocate more than it declares.
//!
//! When not: other element types (`0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64) are
//! rejected with [`IdxError::UnsupportedType`].

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use thiserror::Error;

/// Type code of unsigned bytes.
pub const TYPE_U8: u8 = 0x08;

/// The most data bytes the reader accepts (1 GiB).
pub const MAX_DATA_BYTES: usize = 1 << 30;

/// An n-dimensional array of bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Sizes, outermost first (images: `[count, rows, cols]`; labels: `[count]`).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Why an idx file was rejected.
#[derive(Debug, Error)]
pub enum IdxError {
    /// Fewer bytes than the header needs.
    #[error("truncated header: needs {needed} bytes, found {found}")]
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The first two bytes are not zero.
    #[error("bad magic: expected 00 00 TT NN, found {found:02x?}")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A type code other than `0x08`.
    #[error("unsupported element type 0x{code:02x} (only 0x08, unsigned byte)")]
    UnsupportedType {
        /// The type code found.
        code: u8,
    },
    /// Zero dimensions.
    #[error("an idx array needs at least one dimension")]
    NoDims,
    /// The sizes multiply to more than [`MAX_DATA_BYTES`].
    #[error("dimensions {dims:?} describe more than {MAX_DATA_BYTES} bytes")]
    TooLarge {
        /// The sizes found.
        dims: Vec<usize>,
    },
    /// The data is not `product(dims)` bytes.
    #[error("dimensions {dims:?} need {expected} data bytes, found {found}")]
    WrongLength {
        /// The sizes found.
        dims: Vec<usize>,
        /// `product(dims)`.
        expected: usize,
        /// Data bytes present (counted up to `expected + 1` for gzipped input).
        found: usize,
    },
    /// `IdxArray::data.len()` does not match its dims when writing or building.
    #[error("array with dims {dims:?} holds {found} bytes, needs {expected}")]
    Inconsistent {
        /// The sizes.
        dims: Vec<usize>,
        /// `product(dims)`.
        expected: usize,
        /// `data.len()`.
        found: usize,
    },
    /// The gzip stream is corrupt.
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    /// Reading the file failed, or the file content was rejected.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: Box<IdxError>,
    },
    /// Opening or reading a file failed.
    #[error("{0}")]
    Io(std::io::Error),
}

impl IdxArray {
    /// An array from sizes and data; fails unless `data.len()` is the product of `dims`.
    pub fn new(dims: Vec<usize>, data: Vec<u8>) -> Result<Self, IdxError> {
        let expected = element_count(&dims)?;
        if expected != data.len() {
            return Err(IdxError::Inconsistent {
                dims,
                expected,
                found: data.len(),
            });
        }
        Ok(IdxArray { dims, data })
    }

    /// The file bytes (plain, not gzipped).
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdxError> {
        let expected = element_count(&self.dims)?;
        if expected != self.data.len()
            || self.dims.len() > 255
            || self.dims.iter().any(|&d| d > u32::MAX as usize)
        {
            return Err(IdxError::Inconsistent {
                dims: self.dims.clone(),
                expected,
                found: self.data.len(),
            });
        }
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&[0, 0, TYPE_U8, self.dims.len() as u8]);
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Parses idx bytes, gzipped (`1f 8b ...`) or plain.
pub fn read_idx(bytes: &[u8]) -> Result<IdxArray, IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_gz(GzDecoder::new(bytes))
    } else {
        let dims = parse_header(bytes)?;
        let offset = 4 + 4 * dims.len();
        let expected = element_count(&dims)?;
        let found = bytes.len() - offset;
        if found != expected {
            return Err(IdxError::WrongLength {
                dims,
                expected,
                found,
            });
        }
        Ok(IdxArray {
            dims,
            data: bytes[offset..].to_vec(),
        })
    }
}

/// Reads and parses an idx file (gzipped or plain); errors name the file.
pub fn read_idx_file(path: &Path) -> Result<IdxArray, IdxError> {
    let in_file = |e: IdxError| IdxError::File {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let bytes = std::fs::read(path).map_err(|e| in_file(IdxError::Io(e)))?;
    read_idx(&bytes).map_err(in_file)
}

fn read_gz(mut r: impl Read) -> Result<IdxArray, IdxError> {
    let mut head = [0u8; 4];
    let got = read_up_to(&mut r, &mut head)?;
    if got < 4 {
        return Err(IdxError::Truncated {
            needed: 4,
            found: got,
        });
    }
    let mut header = head.to_vec();
    header.resize(4 + 4 * usize::from(head[3]), 0);
    let got = 4 + read_up_to(&mut r, &mut header[4..])?;
    if got < header.len() {
        return Err(IdxError::Truncated {
            needed: header.len(),
            found: got,
        });
    }
    let dims = parse_header(&header)?;
    let expected = element_count(&dims)?;
    let mut data = Vec::new();
    r.take(expected as u64 + 1)
        .read_to_end(&mut data)
        .map_err(IdxError::Gzip)?;
    if data.len() != expected {
        return Err(IdxError::WrongLength {
            dims,
            expected,
            found: data.len(),
        });
    }
    Ok(IdxArray { dims, data })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, IdxError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(IdxError::Gzip(e)),
        }
    }
    Ok(n)
}

/// Checks the magic and returns the sizes; `bytes` must hold at least the whole header.
fn parse_header(bytes: &[u8]) -> Result<Vec<usize>, IdxError> {
    if bytes.len() < 4 {
        return Err(IdxError::Truncated {
            needed: 4,
            found: bytes.len(),
        });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxError::BadMagic { found: magic });
    }
    if magic[2] != TYPE_U8 {
        return Err(IdxError::UnsupportedType { code: magic[2] });
    }
    let n = usize::from(magic[3]);
    if n == 0 {
        return Err(IdxError::NoDims);
    }
    let needed = 4 + 4 * n;
    if bytes.len() < needed {
        return Err(IdxError::Truncated {
            needed,
            found: bytes.len(),
        });
    }
    Ok(bytes[4..needed]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect())
}

fn element_count(dims: &[usize]) -> Result<usize, IdxError> {
    if dims.is_empty() {
        return Err(IdxError::NoDims);
    }
    dims.iter()
        .try_fold(1usize, |acc, &d| {
            acc.checked_mul(d).filter(|&p| p <= MAX_DATA_BYTES)
        })
        .ok_or_else(|| IdxError::TooLarge {
            dims: dims.to_vec(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    #[test]
    fn golden_bytes_and_round_trip() {
        let a = IdxArray::new(vec![2, 1, 3], vec![1, 2, 3, 4, 5, 6]).unwrap();
        let bytes = a.to_bytes().unwrap();
        assert_eq!(
            bytes,
            [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(read_idx(&bytes).unwrap(), a);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&bytes).unwrap();
        assert_eq!(read_idx(&gz.finish().unwrap()).unwrap(), a);
    }

    #[test]
    fn typed_errors() {
        assert!(matches!(
            read_idx(&[0, 0, 8]),
            Err(IdxError::Truncated {
                needed: 4,
                found: 3
            })
        ));
        assert!(matches!(
            read_idx(&[1, 0, 8, 1, 0, 0, 0, 0]),
            Err(IdxError::BadMagic { .. })
        ));
        assert!(matches!(
            read_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 0]),
            Err(IdxError::UnsupportedType { code: 0x0d })
        ));
        assert!(matches!(read_idx(&[0, 0, 8, 0]), Err(IdxError::NoDims)));
        assert!(matches!(
            read_idx(&[0, 0, 8, 2, 0, 0, 0, 1]),
            Err(IdxError::Truncated {
                needed: 12,
                found: 8
            })
        ));
        assert!(matches!(
            read_idx(&[0, 0, 8, 1, 0, 0, 0, 2, 9]),
            Err(IdxError::WrongLength {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            read_idx(&[0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(IdxError::TooLarge { .. })
        ));
        assert!(matches!(
            read_idx(&[0x1f, 0x8b, 8, 0, 1, 2]),
            Err(IdxError::Gzip(_) | IdxError::Truncated { .. })
        ));
        assert!(matches!(
            IdxArray::new(vec![2, 2], vec![0; 3]),
            Err(IdxError::Inconsistent { .. })
        ));
    }

    #[test]
    fn trailing_gz_data_is_rejected() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&[0, 0, 8, 1, 0, 0, 0, 1, 7, 7]).unwrap();
        assert!(matches!(
            read_idx(&gz.finish().unwrap()),
            Err(IdxError::WrongLength {
                expected: 1,
                found: 2,
                ..
            })
        ));
    }
}
