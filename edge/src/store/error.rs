//! [`StoreError`]: everything the template store can refuse, each naming the store's path and
//! what is wrong with it.

use std::path::PathBuf;

use siamedge_format::seal::SealError;
use siamedge_format::{FormatError, ModelId};

/// Why a store operation failed. Every variant names the store (`path`); an operation that fails
/// changes nothing (its transaction is rolled back).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file next to the store (a gallery file, a key file) failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The step: "reading", "writing", ...
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite failed (locked past the busy timeout, disk full, read-only file, ...).
    #[error("store {path}: {what}: {source}")]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// The statement or step that failed.
        what: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a siamedge store: not an SQLite database (garbage, truncated), or one
    /// without the store's tables, or SQLite's integrity check failed.
    #[error("store {path} is corrupt or not a siamedge store: {reason}")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The store was written by a newer siamedge (schema `found`, this build reads `supported`).
    #[error("store {path} has schema version {found}; this build reads up to {supported}")]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// The schema version in the store.
        found: i64,
        /// The newest schema this build reads.
        supported: i64,
    },
    /// The key does not open the store (its key check failed authentication).
    #[error("store {path}: wrong key (the store's key check does not authenticate under it)")]
    WrongKey {
        /// The store file.
        path: PathBuf,
    },
    /// The store is encrypted and no key was given (`--key-file` or `SIAMEDGE_KEY`).
    #[error("store {path} is encrypted: give its key (--key-file or SIAMEDGE_KEY)")]
    KeyRequired {
        /// The store file.
        path: PathBuf,
    },
    /// A key was given for a plaintext store: refused, so that a key is never believed to
    /// protect templates it does not (`rekey` encrypts a plaintext store).
    #[error("store {path} is plaintext (created with --insecure-plaintext) but a key was given; rekey it to encrypt it")]
    NotEncrypted {
        /// The store file.
        path: PathBuf,
    },
    /// A template (or gallery) of another model than the store's.
    #[error("store {path} holds templates of model {expected}, got one of model {found}")]
    ModelMismatch {
        /// The store file.
        path: PathBuf,
        /// The store's model.
        expected: ModelId,
        /// The model of what was given.
        found: ModelId,
    },
    /// `put` with [`Put::New`](super::Put::New) of an enrolled subject.
    #[error("store {path}: subject {subject} is already enrolled (use replace)")]
    Duplicate {
        /// The store file.
        path: PathBuf,
        /// The subject.
        subject: u32,
    },
    /// The stored record of `subject` is unreadable: `field` is wrong (failed authentication,
    /// malformed header, undecodable template). Other subjects are unaffected.
    #[error("store {path}: record of subject {subject}: {field}: {detail}")]
    BadRecord {
        /// The store file.
        path: PathBuf,
        /// The subject whose row is bad.
        subject: u32,
        /// The part of the record: "authentication", "version", "length", "template", ...
        field: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A template being stored cannot be encoded, or a gallery file cannot be decoded.
    #[error("{path}: {error}")]
    Format {
        /// The store or gallery file.
        path: PathBuf,
        /// The format error.
        error: FormatError,
    },
    /// The OS random source or the key failed while sealing.
    #[error("store {path}: sealing: {error}")]
    Seal {
        /// The store file.
        path: PathBuf,
        /// What the sealer said.
        error: SealError,
    },
    /// A key file or `SIAMEDGE_KEY` is not a key.
    #[error("key {source_name}: {reason}")]
    BadKey {
        /// The key file's path, or `SIAMEDGE_KEY`.
        source_name: String,
        /// What is wrong (length, characters).
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Sqlite`] for `path` at step `what`; "not a database" and corruption codes
    /// become [`StoreError::Corrupt`].
    pub(crate) fn sqlite(path: &std::path::Path, what: &'static str, e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            if matches!(f.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) {
                return Self::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("{what}: {}", msg.clone().unwrap_or_else(|| f.to_string())),
                };
            }
        }
        Self::Sqlite {
            path: path.to_path_buf(),
            what,
            source: e,
        }
    }

    /// A record error of `subject` from the sealer.
    pub(crate) fn record(path: &std::path::Path, subject: u32, e: SealError) -> Self {
        let field = match &e {
            SealError::Tampered { .. } => "authentication (tampered, or sealed under another key)",
            SealError::BadRecord { field, .. } => field,
            SealError::Template { .. } => "template",
            SealError::Mismatch { field, .. } => field,
            SealError::Key(_) | SealError::Buffer { .. } => {
                return Self::Seal {
                    path: path.to_path_buf(),
                    error: e,
                }
            }
            _ => "record",
        };
        Self::BadRecord {
            path: path.to_path_buf(),
            subject,
            field,
            detail: e.to_string(),
        }
    }
}
