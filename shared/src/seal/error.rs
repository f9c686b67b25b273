//! [`SealError`]: why a record could not be sealed or opened.

use core::fmt;

use super::keys::KeyError;
use crate::error::FormatError;

/// Why sealing or opening a record failed. Every variant about a record names its subject.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum SealError {
    /// The key provider could not give the key or a nonce.
    Key(KeyError),
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
    /// The decrypted record of `subject`, or a template being sealed, is not a valid template.
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
    /// A caller's buffer is too short, or a template is longer than ChaCha20 encrypts; `what`
    /// says which.
    Buffer {
        /// Which buffer or limit.
        what: &'static str,
    },
}

impl From<KeyError> for SealError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(e) => write!(f, "key provider: {e}"),
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
            Self::Buffer { what } => write!(f, "sealing: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SealError {}
