//! The template store's one error type, [`StoreError`], generic over the flash driver's error.
//!
//! A variant carries what a person needs to act: the subject, the record length and the limit,
//! the field of a record that is wrong. The flash driver's own error is kept whole in
//! [`StoreError::Flash`]. The enum is `#[non_exhaustive]`: keep a catch-all arm.

use core::fmt;

use sequential_storage::map::MapConfigError;
use siamedge_format::FormatError;

use super::crypto::KeyError;

/// Everything that can go wrong in the template store. `E` is the flash driver's error type.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError<E> {
    /// The flash driver failed (a bus error, a write outside the chip, power lost mid-write).
    Flash(E),
    /// The flash range given to the store is unusable: `reason` says why (not aligned to the
    /// erase size, fewer than two pages, past the end of the chip).
    Config {
        /// First byte of the range.
        start: u32,
        /// One past the last byte of the range.
        end: u32,
        /// The chip's erase size in bytes.
        erase_size: usize,
        /// What is wrong with the range.
        reason: &'static str,
    },
    /// No room for the record of `subject` (`item_len` bytes on flash with its header), even
    /// after reclaiming superseded records: delete a subject first.
    Full {
        /// The subject whose record did not fit.
        subject: u32,
        /// Bytes the record needs on flash, header and padding included.
        item_len: usize,
    },
    /// The record of `subject` is larger than one flash page can hold; a record never spans
    /// pages, so use a flash range with larger pages (or fewer embeddings per template).
    RecordTooBig {
        /// The subject whose record did not fit.
        subject: u32,
        /// Bytes the record needs on flash, header and padding included.
        item_len: usize,
        /// The most a page of this flash holds, in the same units.
        max: usize,
    },
    /// The store's page structure is damaged beyond what its automatic repair fixes.
    Corrupted,
    /// The record of `subject` was written but does not read back: the flash is damaged
    /// (corrupted by something other than this store, or worn out). The previous template of
    /// the subject, if any, may be what `get` returns; erase the store and enroll again.
    NotReadBack {
        /// The subject whose record was written.
        subject: u32,
    },
    /// The record of `subject` failed authentication: its ciphertext, tag, subject binding or
    /// model binding was changed, or it was sealed under another key. It is not used.
    Tampered {
        /// The subject whose record was rejected.
        subject: u32,
    },
    /// The record of `subject` is malformed before any decryption: `field` holds `value`.
    BadRecord {
        /// The subject whose record was rejected.
        subject: u32,
        /// The record field: `"version"` or `"length"`.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// The decrypted record of `subject`, or a template being stored, is not a valid template.
    Template {
        /// The subject concerned.
        subject: u32,
        /// What the template decoder or encoder said.
        error: FormatError,
    },
    /// An authenticated record of `subject` holds a template whose `field` (`"subject"` or
    /// `"model"`) differs from the record's key or header: the writer was faulty.
    Mismatch {
        /// The subject (the record's key).
        subject: u32,
        /// The disagreeing field.
        field: &'static str,
    },
    /// `enroll` of a subject that is already enrolled (use `update`).
    AlreadyEnrolled {
        /// The subject.
        subject: u32,
    },
    /// `update`, `delete` of a subject that is not enrolled.
    NotEnrolled {
        /// The subject.
        subject: u32,
    },
    /// The key provider could not give the key or a nonce.
    Key(KeyError),
    /// `list` found more subjects than the output's capacity.
    ListFull {
        /// The capacity of the output list.
        capacity: usize,
    },
    /// The storage layer reported an error this store never expects (a buffer size or a
    /// logic error inside `sequential-storage`); `what` names it.
    Internal {
        /// Which internal error.
        what: &'static str,
    },
}

impl<E> StoreError<E> {
    /// A `Config` error for `range` on a flash with `erase_size`.
    pub(crate) fn config(
        range: &core::ops::Range<u32>,
        erase_size: usize,
        e: MapConfigError,
    ) -> Self {
        let reason = match e {
            MapConfigError::StartRangeNotAtPageBoundary => {
                "start is not a multiple of the erase size"
            }
            MapConfigError::EndRangeNotAtPageBoundary => "end is not a multiple of the erase size",
            MapConfigError::RangeTooSmall => "the range holds fewer than two pages",
            MapConfigError::PagesTooSmall => "a page is too small for the storage headers",
            MapConfigError::WordSizeTooLarge => "the flash word is larger than 32 bytes",
        };
        Self::Config {
            start: range.start,
            end: range.end,
            erase_size,
            reason,
        }
    }

    /// Maps a `sequential-storage` error; `subject` and `item_len` describe the record being
    /// written (for `Full` and `RecordTooBig`), `page_max` is the largest item a page holds.
    pub(crate) fn from_map(
        e: sequential_storage::Error<E>,
        subject: u32,
        item_len: usize,
        page_max: usize,
    ) -> Self {
        use sequential_storage::Error as M;
        match e {
            M::Storage { value, .. } => Self::Flash(value),
            M::FullStorage => Self::Full { subject, item_len },
            M::ItemTooBig => Self::RecordTooBig {
                subject,
                item_len,
                max: page_max,
            },
            M::Corrupted { .. } => Self::Corrupted,
            M::LogicBug { .. } => Self::Internal { what: "logic bug" },
            M::BufferTooBig => Self::Internal {
                what: "buffer too big",
            },
            M::BufferTooSmall(_) => Self::Internal {
                what: "buffer too small",
            },
            M::SerializationError(_) => Self::Internal {
                what: "key or value serialization",
            },
            _ => Self::Internal {
                what: "unknown storage error",
            },
        }
    }
}

impl<E> From<KeyError> for StoreError<E> {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

impl<E: fmt::Debug> fmt::Display for StoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flash(e) => write!(f, "flash error: {e:?}"),
            Self::Config {
                start,
                end,
                erase_size,
                reason,
            } => write!(
                f,
                "flash range {start:#x}..{end:#x} (erase size {erase_size}): {reason}"
            ),
            Self::Full { subject, item_len } => write!(
                f,
                "template store full: no room for subject {subject}'s record of {item_len} bytes"
            ),
            Self::RecordTooBig {
                subject,
                item_len,
                max,
            } => write!(
                f,
                "record of subject {subject} needs {item_len} bytes, a flash page holds at most {max}"
            ),
            Self::Corrupted => write!(f, "template store corrupted beyond repair"),
            Self::NotReadBack { subject } => write!(
                f,
                "record of subject {subject} was written but does not read back (damaged flash)"
            ),
            Self::Tampered { subject } => write!(
                f,
                "record of subject {subject} failed authentication (tampered or wrong key)"
            ),
            Self::BadRecord {
                subject,
                field,
                value,
            } => write!(f, "record of subject {subject}: bad {field} {value}"),
            Self::Template { subject, error } => {
                write!(f, "template of subject {subject}: {error}")
            }
            Self::Mismatch { subject, field } => write!(
                f,
                "record of subject {subject} holds a template with another {field}"
            ),
            Self::AlreadyEnrolled { subject } => write!(f, "subject {subject} is already enrolled"),
            Self::NotEnrolled { subject } => write!(f, "subject {subject} is not enrolled"),
            Self::Key(e) => write!(f, "key provider: {e}"),
            Self::ListFull { capacity } => {
                write!(f, "more subjects than the list's capacity of {capacity}")
            }
            Self::Internal { what } => write!(f, "storage layer: {what}"),
        }
    }
}

#[cfg(any(test, feature = "std"))]
impl<E: fmt::Debug> std::error::Error for StoreError<E> {}
