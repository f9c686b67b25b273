//! `manifest.json`, written last into each cached data set folder: where the data came from, the
//! files with their sizes and sha256, and (ORL) the repairs. The face-api weights' folder has one
//! too, with `images` 0.
//!
//! The file starts with `"format": "siamedge-data-manifest"` and `"version": 1`; a reader refuses
//! any other format or version, and `fetch` then rebuilds the folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cache::{write_atomic, CacheError};
use super::orl::RepairRecord;

/// File name of the manifest inside a data set folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Value of the `format` field.
pub const MANIFEST_FORMAT: &str = "siamedge-data-manifest";
/// Current `version`.
pub const MANIFEST_VERSION: u32 = 1;

/// Where a data set came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// "pypi", "debian" or "npm".
    pub registry: String,
    /// Package name.
    pub package: String,
    /// Pinned version.
    pub version: String,
    /// File name of the downloaded archive.
    pub archive: String,
    /// sha256 of the archive.
    pub sha256: String,
    /// Who to credit for the data.
    pub credit: String,
}

/// One produced file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path relative to the data set folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
}

/// The content of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Always [`MANIFEST_VERSION`].
    pub version: u32,
    /// "orl", "mnist", "fashion-mnist" or "face-api".
    pub dataset: String,
    /// Where it came from.
    pub source: SourceRecord,
    /// The files of the data set (not counting the manifest).
    pub files: Vec<FileRecord>,
    /// Number of images (0 for the face-api weights).
    pub images: usize,
    /// ORL only: the files that had the CR LF damage and how each was repaired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<RepairRecord>,
}

/// Why a manifest could not be read or written.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// Reading or writing failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The JSON does not parse or lacks fields.
    #[error("{path}: {source}")]
    Json {
        /// The manifest file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Another format or version.
    #[error("{path}: format {format:?} version {version}, expected {MANIFEST_FORMAT:?} version {MANIFEST_VERSION}")]
    Version {
        /// The manifest file.
        path: PathBuf,
        /// `format` found.
        format: String,
        /// `version` found.
        version: u32,
    },
}

impl Manifest {
    /// Reads `<dir>/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(CacheError::io("reading", &path))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json {
            path: path.clone(),
            source,
        })?;
        if m.format != MANIFEST_FORMAT || m.version != MANIFEST_VERSION {
            return Err(ManifestError::Version {
                path,
                format: m.format,
                version: m.version,
            });
        }
        Ok(m)
    }

    /// Writes `<dir>/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|source| ManifestError::Json {
            path: path.clone(),
            source,
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)?;
        Ok(())
    }
}
