//! The run manifest: what `siamedge-train train` records of a run in `RUN/summary.json` so that
//! `eval`, `quantize` and `export` rebuild exactly its network and its split.
//!
//! `summary.json` is the manifest's fields followed by the run's results
//! ([`crate::train::TrainSummary`]); readers take the manifest and ignore the rest. A manifest
//! without `source` (runs older than the folder data sets) is ORL or MNIST: `fold` must then be
//! there for ORL, and a missing one is an error naming it, never fold 0.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataKind, DataSource, DEFAULT_FOLDS, MNIST_DEFAULT_LIMIT};
use crate::train::TrainConfig;

/// The manifest's file name inside a run folder.
pub const MANIFEST_FILE: &str = "summary.json";

/// Why a run manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file could not be read.
    #[error("reading {path} (is this a finished `siamedge-train train --out` folder?): {source}")]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a manifest: bad JSON, a field of the wrong type, or a missing field (serde
    /// names it: "missing field `config`").
    #[error("{path}: {source}")]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// serde's error, with the field and the line.
        source: serde_json::Error,
    },
    /// A field the run's data set needs is absent.
    #[error("{path}: missing field `{field}` ({why})")]
    MissingField {
        /// The manifest file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Why it is needed.
        why: &'static str,
    },
}

/// A run as `summary.json` records it: data, split, network and training configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Data set.
    pub data: DataKind,
    /// Test fold (`null` for MNIST).
    pub fold: Option<usize>,
    /// Where the data came from (absent in runs older than the folder data sets).
    pub source: Option<DataSource>,
    /// Training identities held out for validation, as asked.
    pub val_people: usize,
    /// The protocol of the test numbers, in one line.
    pub protocol: String,
    /// The run's configuration: network, loss, optimiser, augmentation, seed.
    pub config: TrainConfig,
    /// Training identities (validation ones excluded).
    pub train_identities: usize,
    /// Training images.
    pub train_images: usize,
    /// Validation identities carved out of the training identities (the highest-numbered ones).
    pub validation_identities: usize,
    /// Steps taken in the whole run.
    pub steps: usize,
}

impl RunManifest {
    /// Reads `dir/summary.json`.
    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        Self::from_json(&text, &path)
    }

    /// Parses a manifest from `json` (the text of `path`, named in errors).
    pub fn from_json(json: &[u8], path: &Path) -> Result<Self, ManifestError> {
        let m: RunManifest =
            serde_json::from_slice(json).map_err(|source| ManifestError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        m.data_source(path)?;
        Ok(m)
    }

    /// Where the run's data came from: `source`, or for older runs `data` and `fold` with the
    /// defaults of the time ([`DEFAULT_FOLDS`] folds, [`MNIST_DEFAULT_LIMIT`] MNIST images).
    /// `path` is the manifest, named in errors.
    pub fn data_source(&self, path: &Path) -> Result<DataSource, ManifestError> {
        if let Some(s) = &self.source {
            return Ok(s.clone());
        }
        let missing = |field, why| ManifestError::MissingField {
            path: path.to_path_buf(),
            field,
            why,
        };
        let fold = match (self.data, self.fold) {
            (DataKind::Mnist, _) => 0,
            (_, Some(k)) => k,
            (DataKind::Orl, None) => {
                return Err(missing(
                    "fold",
                    "an ORL run without `source` needs its test fold",
                ))
            }
            (_, None) => {
                return Err(missing(
                    "source",
                    "a folder or signature run needs its data source",
                ))
            }
        };
        Ok(DataSource {
            data: self.data,
            cache: None,
            data_dir: None,
            fold,
            folds: DEFAULT_FOLDS,
            limit: MNIST_DEFAULT_LIMIT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(source: Option<DataSource>, data: DataKind, fold: Option<usize>) -> RunManifest {
        RunManifest {
            data,
            fold,
            source,
            val_people: 5,
            protocol: "p".into(),
            config: TrainConfig::reference(56, 46, 64),
            train_identities: 25,
            train_images: 250,
            validation_identities: 5,
            steps: 10,
        }
    }

    fn json_without(m: &RunManifest, field: &str) -> Vec<u8> {
        let mut v = serde_json::to_value(m).unwrap();
        v.as_object_mut().unwrap().remove(field);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_manifest_round_trips_and_keeps_its_spellings() {
        let mut src = DataSource::new(DataKind::Orl);
        src.fold = 2;
        let m = manifest(Some(src.clone()), DataKind::Orl, Some(2));
        let json = serde_json::to_vec(&m).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(
            text.starts_with("{\"data\":\"orl\",\"fold\":2,\"source\":{"),
            "{text}"
        );
        let back = RunManifest::from_json(&json, Path::new("r/summary.json")).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.data_source(Path::new("x")).unwrap(), src);
    }

    #[test]
    fn a_missing_field_is_named_with_the_file() {
        let m = manifest(None, DataKind::Orl, Some(1));
        let err = RunManifest::from_json(&json_without(&m, "config"), Path::new("r/summary.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("r/summary.json") && err.contains("`config`"),
            "{err}"
        );
        let err = RunManifest::from_json(
            &json_without(&m, "validation_identities"),
            Path::new("r/summary.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`validation_identities`"), "{err}");
    }

    #[test]
    fn an_old_orl_run_without_a_fold_is_an_error_not_fold_0() {
        let m = manifest(None, DataKind::Orl, None);
        let err = RunManifest::from_json(&serde_json::to_vec(&m).unwrap(), Path::new("s.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `fold`"), "{err}");
        let old = manifest(None, DataKind::Orl, Some(3));
        assert_eq!(old.data_source(Path::new("s.json")).unwrap().fold, 3);
        let mnist = manifest(None, DataKind::Mnist, None);
        let s = mnist.data_source(Path::new("s.json")).unwrap();
        assert_eq!((s.data, s.limit), (DataKind::Mnist, MNIST_DEFAULT_LIMIT));
    }
}
