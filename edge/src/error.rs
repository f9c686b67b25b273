//! The edge runtime's error type: every variant names the file it is about.

use std::path::PathBuf;

use siamedge_format::file::WriteError;
use siamedge_format::FormatError;

/// What went wrong in the edge runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// Reading, writing, syncing or renaming a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `"reading"`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file's bytes are not a valid siamedge file of the expected kind.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the decoder found wrong (kind, field, expected and found values).
        source: FormatError,
    },
    /// A gallery operation was refused (a duplicate subject, a template of another model...).
    #[error("gallery {path}: {source}")]
    Gallery {
        /// The gallery file.
        path: PathBuf,
        /// Why the gallery refused it.
        source: FormatError,
    },
}

impl From<WriteError> for EdgeError {
    fn from(e: WriteError) -> Self {
        EdgeError::Io {
            action: e.step,
            path: e.path,
            source: e.source,
        }
    }
}
