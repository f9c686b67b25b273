//! Why a vectors file was refused.

use core::fmt;

/// Everything that can be wrong with a vectors file; each variant names the field and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VectorsError {
    /// The first four bytes are not `SGTV`.
    WrongMagic {
        /// The bytes found (zero-padded when the input is shorter).
        found: [u8; 4],
    },
    /// A version of 0 or newer than this reader.
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The newest this reader decodes.
        supported: u16,
    },
    /// The bytes end inside `field`.
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// The CRC-32 at the end does not match the bytes before it.
    BadCrc {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// A count, size or index outside its range.
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The item (enrollment capture, probe) it belongs to, if any.
        index: Option<u32>,
        /// The value found.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// The file's length is not what its header announces.
    Length {
        /// Bytes the header's counts give.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
    /// A reserved byte is not zero.
    Reserved {
        /// The field.
        field: &'static str,
    },
    /// A value given to the writer does not fit the format (host side).
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for VectorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorsError::WrongMagic { found } => {
                write!(f, "vectors: magic {found:02x?}, expected \"SGTV\"")
            }
            VectorsError::UnsupportedVersion { found, supported } => write!(
                f,
                "vectors: version {found}, this reader decodes 1..={supported}"
            ),
            VectorsError::Truncated {
                field,
                needed,
                available,
            } => write!(
                f,
                "vectors: field `{field}` needs {needed} bytes, {available} left"
            ),
            VectorsError::BadCrc { stored, computed } => write!(
                f,
                "vectors: CRC-32 {stored:#010x} stored, {computed:#010x} computed"
            ),
            VectorsError::OutOfRange {
                field,
                index,
                value,
                min,
                max,
            } => {
                write!(f, "vectors: field `{field}`")?;
                if let Some(i) = index {
                    write!(f, " of item {i}")?;
                }
                write!(f, " is {value}, allowed {min}..={max}")
            }
            VectorsError::Length { expected, found } => write!(
                f,
                "vectors: {found} bytes, the header's counts give {expected}"
            ),
            VectorsError::Reserved { field } => {
                write!(f, "vectors: reserved field `{field}` is not zero")
            }
            VectorsError::Invalid { field, reason } => {
                write!(f, "vectors: field `{field}`: {reason}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VectorsError {}
