//! The one error type of the crate: what went wrong, in which file kind, at which field.
//!
//! Every decoder, encoder and metric returns [`FormatError`]. A variant carries what a person
//! needs to act on it: the file kind, the field, the expected and the found values. The enum is
//! `#[non_exhaustive]`: match the variants you handle and keep a catch-all arm.

use core::fmt;

use crate::kind::FileKind;
use crate::model_id::ModelId;

/// Where in a file a problem was found: the file kind, the item (a model's layer, a template's
/// embedding, a gallery's template) when the field belongs to one, and the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The kind of file being decoded or encoded.
    pub kind: FileKind,
    /// Index of the item the field belongs to (0-based), or `None` for a file-level field.
    pub index: Option<u32>,
    /// The field's name as it appears in the wire layout (see the crate README), e.g. `"weights"`.
    pub name: &'static str,
}

impl Field {
    /// A file-level field.
    pub const fn new(kind: FileKind, name: &'static str) -> Self {
        Self {
            kind,
            index: None,
            name,
        }
    }

    /// A field of item `index` (a layer, an embedding, a template).
    pub const fn item(kind: FileKind, index: u32, name: &'static str) -> Self {
        Self {
            kind,
            index: Some(index),
            name,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(
                f,
                "{} {} {} field `{}`",
                self.kind,
                self.kind.item_name(),
                i,
                self.name
            ),
            None => write!(f, "{} field `{}`", self.kind, self.name),
        }
    }
}

/// Everything that can go wrong while decoding, encoding or comparing siamedge data.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FormatError {
    /// The first four bytes are not the magic of the expected file kind.
    WrongMagic {
        /// The kind the caller asked to decode.
        expected: FileKind,
        /// The first four bytes found (zero-padded when the input is shorter).
        found: [u8; 4],
    },
    /// The file's format version is newer than this reader, or 0 (never written).
    UnsupportedVersion {
        /// The file kind.
        kind: FileKind,
        /// The version stored in the file.
        found: u16,
        /// The newest version this reader accepts (it accepts `1..=supported`).
        supported: u16,
    },
    /// The input ends before the length its header announces (bytes).
    Truncated {
        /// The file kind.
        kind: FileKind,
        /// Bytes the file needs (header + payload + CRC), saturating at `usize::MAX`.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Bytes follow the end of the file (after the CRC) or the end of the payload's last field.
    TrailingBytes {
        /// The file kind.
        kind: FileKind,
        /// How many bytes are left over.
        extra: usize,
    },
    /// The CRC-32 stored at the end does not match the one computed over header and payload.
    BadCrc {
        /// The file kind.
        kind: FileKind,
        /// The CRC stored in the file.
        stored: u32,
        /// The CRC computed over the bytes before it.
        computed: u32,
    },
    /// A number outside its allowed range: an absurd dimension or count, a zero stride, a shift
    /// the kernels cannot apply, an index past the end of its list.
    OutOfRange {
        /// Where.
        at: Field,
        /// The value found.
        value: i64,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// A length or a shape component that must equal another one does not (for example a weight
    /// array whose length is not `out_c * kh * kw * in_c`, or a layer whose input shape is not
    /// the previous layer's output shape).
    Mismatch {
        /// Where.
        at: Field,
        /// The value the rest of the file implies.
        expected: u64,
        /// The value found.
        found: u64,
    },
    /// A field that cannot be decoded, or whose value is not allowed (a non-finite scale, an
    /// unknown enum tag, invalid UTF-8, a payload that ends inside a field).
    Malformed {
        /// Where.
        at: Field,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// The model id stored in a model or pipeline file is not the hash of its body: the file was
    /// altered after it was written, or written by a broken encoder.
    BadModelId {
        /// The id stored in the file.
        stored: ModelId,
        /// The id computed from the body.
        computed: ModelId,
    },
    /// Data made by one model was compared with, or added to, data made by another.
    ModelMismatch {
        /// The model id of the template, gallery or left operand.
        expected: ModelId,
        /// The model id of the other side.
        found: ModelId,
    },
    /// A gallery already holds a template with this subject id.
    DuplicateSubject {
        /// The subject id found twice.
        subject: u32,
    },
    /// Two vectors that a metric compares, or an embedding and the template it joins, differ in
    /// length (number of elements).
    DimensionMismatch {
        /// Length of the left operand (or of the template's embeddings).
        expected: usize,
        /// Length of the right operand.
        found: usize,
    },
    /// The caller's output buffer is shorter than the encoding (bytes).
    BufferTooSmall {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A fixed-capacity container is full.
    CapacityExceeded {
        /// What is full, e.g. `"template embeddings"`.
        what: &'static str,
        /// Its capacity (items).
        capacity: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongMagic { expected, found } => write!(
                f,
                "not a {expected} file: magic {:?}, expected {:?}",
                Magic(*found),
                Magic(expected.magic())
            ),
            Self::UnsupportedVersion { kind, found, supported } => write!(
                f,
                "{kind} file has format version {found}; this reader reads versions 1 to {supported}"
            ),
            Self::Truncated { kind, needed, available } => {
                write!(f, "{kind} file is truncated: needs {needed} bytes, has {available}")
            }
            Self::TrailingBytes { kind, extra } => {
                write!(f, "{kind} file has {extra} unexpected trailing bytes")
            }
            Self::BadCrc { kind, stored, computed } => write!(
                f,
                "{kind} file is corrupt: stored CRC-32 {stored:#010x}, computed {computed:#010x}"
            ),
            Self::OutOfRange { at, value, min, max } => {
                write!(f, "{at} is {value}, outside {min}..={max}")
            }
            Self::Mismatch { at, expected, found } => {
                write!(f, "{at} is {found}, expected {expected}")
            }
            Self::Malformed { at, reason } => write!(f, "{at}: {reason}"),
            Self::BadModelId { stored, computed } => write!(
                f,
                "the file names itself model {stored} but its body hashes to {computed}"
            ),
            Self::ModelMismatch { expected, found } => write!(
                f,
                "made by model {found}, but model {expected} was expected"
            ),
            Self::DuplicateSubject { subject } => {
                write!(f, "the gallery already holds subject {subject}")
            }
            Self::DimensionMismatch { expected, found } => {
                write!(f, "dimension mismatch: {expected} elements against {found}")
            }
            Self::BufferTooSmall { needed, available } => {
                write!(f, "output buffer too small: needs {needed} bytes, has {available}")
            }
            Self::CapacityExceeded { what, capacity } => {
                write!(f, "{what} are full (capacity {capacity})")
            }
        }
    }
}

/// Prints a magic as text, a `.` for each byte that is not printable ASCII.
struct Magic([u8; 4]);

impl fmt::Debug for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            let c = if b.is_ascii_graphic() { b as char } else { '.' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::string::ToString;

    #[test]
    fn display_names_the_field_and_values() {
        let e = FormatError::Mismatch {
            at: Field::item(FileKind::Model, 2, "weights"),
            expected: 864,
            found: 863,
        };
        assert_eq!(
            e.to_string(),
            "model layer 2 field `weights` is 863, expected 864"
        );
        let e = FormatError::WrongMagic {
            expected: FileKind::Template,
            found: *b"SGEM",
        };
        assert_eq!(
            e.to_string(),
            "not a template file: magic SGEM, expected SGTP"
        );
    }
}
