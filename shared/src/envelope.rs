//! The envelope every siamedge file shares: magic, version, length, payload, CRC.
//!
//! ```text
//! offset  size  field
//! 0       4     magic             b"SGMD" model, b"SGEM" embedding, b"SGTP" template, b"SGGL" gallery,
//!                                 b"SGPL" pipeline
//! 4       2     version           u16 little-endian, 1 ..= FileKind::version()
//! 6       4     payload length    u32 little-endian, bytes
//! 10      n     payload           postcard, layout per kind (see the crate README)
//! 10+n    4     CRC-32            u32 little-endian, IEEE (see `crc`), over bytes 0 .. 10+n
//! ```
//!
//! A file is exactly `14 + n` bytes: a reader rejects anything before or after. The decoders of
//! each kind call [`open`] first; use it directly only to inspect files of unknown kind
//! ([`identify`]) or to build test inputs (`seal`, with `alloc`).
//!
//! Compatibility: a reader accepts versions `1..=` its own; any change of the bytes a writer
//! produces is a new version. Golden tests pin the bytes of every kind.

use crate::crc::crc32;
use crate::error::FormatError;
use crate::kind::FileKind;
use crate::wire::{Payload, SliceSink};

/// Bytes before the payload: magic (4), version (2), payload length (4).
pub const HEADER_LEN: usize = 10;
/// Bytes after the payload: the CRC-32.
pub const CRC_LEN: usize = 4;
/// Bytes an envelope adds to its payload.
pub const OVERHEAD: usize = HEADER_LEN + CRC_LEN;

/// A checked envelope: the file's kind and version, and its payload (borrowed from the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The file kind (the one asked for).
    pub kind: FileKind,
    /// The format version, `1..=kind.version()`.
    pub version: u16,
    /// The payload bytes, whose CRC has been checked.
    pub payload: &'a [u8],
}

/// The kind of the file `bytes` starts with, by its magic; `None` when the magic is unknown.
/// Checks nothing else.
pub fn identify(bytes: &[u8]) -> Option<FileKind> {
    let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    FileKind::from_magic(magic)
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Checks the envelope of a `kind` file and returns its payload.
///
/// The checks run in this order, and the first that fails is returned: magic
/// ([`FormatError::WrongMagic`]), header present and version `1..=kind.version()`
/// ([`FormatError::Truncated`], [`FormatError::UnsupportedVersion`]), length
/// ([`FormatError::Truncated`], [`FormatError::TrailingBytes`]), CRC ([`FormatError::BadCrc`]).
pub fn open(kind: FileKind, bytes: &[u8]) -> Result<Envelope<'_>, FormatError> {
    let truncated = |needed: usize| FormatError::Truncated {
        kind,
        needed,
        available: bytes.len(),
    };
    let seen = bytes.len().min(4);
    if bytes.get(..seen) != kind.magic().get(..seen) {
        let mut found = [0u8; 4];
        for (dst, src) in found.iter_mut().zip(bytes) {
            *dst = *src;
        }
        return Err(FormatError::WrongMagic {
            expected: kind,
            found,
        });
    }
    let (Some(version), Some(len)) = (read_u16(bytes, 4), read_u32(bytes, 6)) else {
        return Err(truncated(OVERHEAD));
    };
    if version == 0 || version > kind.version() {
        return Err(FormatError::UnsupportedVersion {
            kind,
            found: version,
            supported: kind.version(),
        });
    }
    let payload_len = usize::try_from(len).unwrap_or(usize::MAX);
    let body_len = payload_len.saturating_add(HEADER_LEN);
    let needed = body_len.saturating_add(CRC_LEN);
    if bytes.len() < needed {
        return Err(truncated(needed));
    }
    if bytes.len() > needed {
        return Err(FormatError::TrailingBytes {
            kind,
            extra: bytes.len() - needed,
        });
    }
    let (Some(body), Some(stored)) = (bytes.get(..body_len), read_u32(bytes, body_len)) else {
        return Err(truncated(needed));
    };
    let computed = crc32(body);
    if stored != computed {
        return Err(FormatError::BadCrc {
            kind,
            stored,
            computed,
        });
    }
    let payload = body.get(HEADER_LEN..).unwrap_or_default();
    Ok(Envelope {
        kind,
        version,
        payload,
    })
}

/// Writes the header (at `kind.version()`) and CRC around a payload already written at
/// `buf[HEADER_LEN..][..payload_len]` and returns the whole file, `buf[..OVERHEAD + payload_len]`.
pub(crate) fn seal_in_place(
    kind: FileKind,
    buf: &mut [u8],
    payload_len: usize,
) -> Result<&mut [u8], FormatError> {
    seal_in_place_at(kind, kind.version(), buf, payload_len)
}

/// [`seal_in_place`] at format `version` (a model file is written at the lowest version that
/// holds it).
pub(crate) fn seal_in_place_at(
    kind: FileKind,
    version: u16,
    buf: &mut [u8],
    payload_len: usize,
) -> Result<&mut [u8], FormatError> {
    let len = u32::try_from(payload_len).map_err(|_| FormatError::OutOfRange {
        at: crate::error::Field::new(kind, "payload length"),
        value: i64::try_from(payload_len).unwrap_or(i64::MAX),
        min: 0,
        max: i64::from(u32::MAX),
    })?;
    let total = payload_len.saturating_add(OVERHEAD);
    let available = buf.len();
    let file = buf.get_mut(..total).ok_or(FormatError::BufferTooSmall {
        needed: total,
        available,
    })?;
    // `file` is exactly HEADER_LEN + payload_len + CRC_LEN bytes long, so the split and the
    // fixed ranges below are in bounds.
    let (body, crc) = file.split_at_mut(HEADER_LEN + payload_len);
    body[..4].copy_from_slice(&kind.magic());
    body[4..6].copy_from_slice(&version.to_le_bytes());
    body[6..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    crc.copy_from_slice(&crc32(body).to_le_bytes());
    Ok(file)
}

/// Encodes `value` as a complete file into `buf` and returns the file's bytes (a prefix of `buf`).
pub(crate) fn encode_to_slice<'b, P: Payload>(
    value: &P,
    buf: &'b mut [u8],
) -> Result<&'b [u8], FormatError> {
    let payload_len = value.payload_len()?;
    let needed = payload_len.saturating_add(OVERHEAD);
    if buf.len() < needed {
        return Err(FormatError::BufferTooSmall {
            needed,
            available: buf.len(),
        });
    }
    let payload =
        buf.get_mut(HEADER_LEN..HEADER_LEN + payload_len)
            .ok_or(FormatError::BufferTooSmall {
                needed,
                available: 0,
            })?;
    let mut sink = SliceSink::new(payload);
    value.write(&mut sink)?;
    let written = sink.len();
    if written != payload_len {
        return Err(FormatError::Mismatch {
            at: crate::error::Field::new(P::KIND, "payload length"),
            expected: payload_len as u64,
            found: written as u64,
        });
    }
    seal_in_place(P::KIND, buf, payload_len).map(|file| &*file)
}

/// Encodes `value` as a complete file into a new vector.
#[cfg(feature = "alloc")]
pub(crate) fn encode_to_vec<P: Payload>(value: &P) -> Result<alloc::vec::Vec<u8>, FormatError> {
    let mut sink = crate::wire::VecSink::new(P::KIND);
    value.write(&mut sink)?;
    seal(P::KIND, &sink.into_bytes())
}

/// Wraps `payload` into a complete `kind` file (header at `kind.version()`, payload, CRC). The
/// payload is not checked: use this to build files for tests and fuzzing, and the typed encoders
/// otherwise.
#[cfg(feature = "alloc")]
pub fn seal(kind: FileKind, payload: &[u8]) -> Result<alloc::vec::Vec<u8>, FormatError> {
    seal_at(kind, kind.version(), payload)
}

/// [`seal`] at format `version`, which is not checked (a version outside `1..=kind.version()`
/// makes a file that [`open`] refuses).
#[cfg(feature = "alloc")]
pub fn seal_at(
    kind: FileKind,
    version: u16,
    payload: &[u8],
) -> Result<alloc::vec::Vec<u8>, FormatError> {
    let mut file = alloc::vec![0u8; payload.len().saturating_add(OVERHEAD)];
    if let Some(dst) = file.get_mut(HEADER_LEN..HEADER_LEN + payload.len()) {
        dst.copy_from_slice(payload);
    }
    let len = seal_in_place_at(kind, version, &mut file, payload.len())?.len();
    file.truncate(len);
    Ok(file)
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    fn file(kind: FileKind, payload: &[u8]) -> alloc::vec::Vec<u8> {
        seal(kind, payload).unwrap_or_default()
    }

    extern crate alloc;

    #[test]
    fn golden_envelope() {
        let f = file(FileKind::Embedding, &[1, 2, 3]);
        // python3 -c 'import zlib; print(hex(zlib.crc32(b"SGEM\x01\x00\x03\x00\x00\x00\x01\x02\x03")))'
        assert_eq!(
            f,
            [b'S', b'G', b'E', b'M', 1, 0, 3, 0, 0, 0, 1, 2, 3, 0x2e, 0x2d, 0xfa, 0xbf]
        );
        let env = open(FileKind::Embedding, &f);
        assert_eq!(
            env,
            Ok(Envelope {
                kind: FileKind::Embedding,
                version: 1,
                payload: &[1, 2, 3]
            })
        );
        assert_eq!(identify(&f), Some(FileKind::Embedding));
    }

    #[test]
    fn rejections() {
        let f = file(FileKind::Template, &[9; 5]);
        assert_eq!(
            open(FileKind::Gallery, &f),
            Err(FormatError::WrongMagic {
                expected: FileKind::Gallery,
                found: *b"SGTP"
            })
        );
        assert_eq!(
            open(FileKind::Template, &f[..3]),
            Err(FormatError::Truncated {
                kind: FileKind::Template,
                needed: 14,
                available: 3
            })
        );
        assert_eq!(
            open(FileKind::Gallery, &f[..3]),
            Err(FormatError::WrongMagic {
                expected: FileKind::Gallery,
                found: *b"SGT\0"
            })
        );
        assert_eq!(
            open(FileKind::Template, &f[..f.len() - 1]),
            Err(FormatError::Truncated {
                kind: FileKind::Template,
                needed: 19,
                available: 18
            })
        );
        let mut long = f.clone();
        long.push(0);
        assert_eq!(
            open(FileKind::Template, &long),
            Err(FormatError::TrailingBytes {
                kind: FileKind::Template,
                extra: 1
            })
        );
        let mut newer = f.clone();
        newer[4] = 2;
        assert_eq!(
            open(FileKind::Template, &newer),
            Err(FormatError::UnsupportedVersion {
                kind: FileKind::Template,
                found: 2,
                supported: 1
            })
        );
        newer[4] = 0;
        assert!(matches!(
            open(FileKind::Template, &newer),
            Err(FormatError::UnsupportedVersion { found: 0, .. })
        ));
        let mut flipped = f.clone();
        flipped[12] ^= 0x10;
        assert!(matches!(
            open(FileKind::Template, &flipped),
            Err(FormatError::BadCrc { .. })
        ));
        let mut huge = f;
        huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            open(FileKind::Template, &huge),
            Err(FormatError::Truncated { available: 19, .. })
        ));
    }

    #[test]
    fn empty_input_is_truncated() {
        assert_eq!(
            open(FileKind::Model, &[]),
            Err(FormatError::Truncated {
                kind: FileKind::Model,
                needed: 14,
                available: 0
            })
        );
    }
}
