//! A finished training run read back for quantization and export: its manifest (`summary.json`),
//! its selected weights (`model.safetensors`), and its data split rebuilt the same way (training
//! identities minus the validation ones, validation identities, test identities with the run's
//! test pairs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::manifest::{ManifestError, RunManifest, MANIFEST_FILE};
use super::splits::{DataSource, SplitError};
use crate::data::LabelledSet;
use crate::eval::Pairs;
use crate::model::Arch;
use crate::train::{split_validation, TrainConfig, TrainError};

/// The selected weights' file name inside a run folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Why a run could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The manifest is unreadable or lacks a field.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The run's network has no embedding (2-channel or hybrid pair scorers).
    #[error(
        "{path}: the network is {arch:?}; only the Siamese CNN (arch cnn) has embeddings to \
         quantize and export"
    )]
    NotAnEncoder {
        /// The manifest.
        path: PathBuf,
        /// The run's network.
        arch: Arch,
    },
    /// The weights could not be read.
    #[error("{path}: {source}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// candle's error.
        source: candle_core::Error,
    },
    /// The split could not be rebuilt.
    #[error(transparent)]
    Split(Box<SplitError>),
    /// The validation identities could not be carved out.
    #[error(transparent)]
    Train(#[from] TrainError),
}

impl From<SplitError> for RunError {
    fn from(e: SplitError) -> Self {
        Self::Split(Box::new(e))
    }
}

/// A Siamese CNN run read back.
#[derive(Debug)]
pub struct Run {
    /// The run folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: RunManifest,
    /// Where its data came from.
    pub source: DataSource,
    /// The selected weights (`model.safetensors`), by variable name.
    pub weights: HashMap<String, Tensor>,
}

impl Run {
    /// The run's training configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.manifest.config
    }
}

/// Reads `dir/summary.json` and `dir/model.safetensors`. Only Siamese CNN runs load: the pair
/// scorers have no embedding to quantize or export.
pub fn load_run(dir: &Path) -> Result<Run, RunError> {
    let path = dir.join(MANIFEST_FILE);
    let manifest = RunManifest::read(dir)?;
    if manifest.config.model.arch != Arch::Cnn {
        return Err(RunError::NotAnEncoder {
            path,
            arch: manifest.config.model.arch,
        });
    }
    let source = manifest.data_source(&path)?;
    let wpath = dir.join(WEIGHTS_FILE);
    let weights = candle_core::safetensors::load(&wpath, &Device::Cpu).map_err(|source| {
        RunError::Weights {
            path: wpath,
            source,
        }
    })?;
    Ok(Run {
        dir: dir.to_path_buf(),
        manifest,
        source,
        weights,
    })
}

/// A run's data: training identities (validation ones removed), validation identities, test
/// identities and the test pairs. Images are f32 in `[0, 1]` at the run's input size.
#[derive(Debug)]
pub struct RunSplits {
    /// Training identities' images, the validation identities excluded.
    pub train: LabelledSet,
    /// Validation identities' images (carved out of the training identities), if any.
    pub validation: Option<LabelledSet>,
    /// Test identities' images.
    pub test: LabelledSet,
    /// The run's test pairs (all pairs for ORL, the seeded sample for MNIST).
    pub test_pairs: Pairs,
    /// The protocol, in one line.
    pub protocol: String,
}

/// Rebuilds the split of `run` at its input size; `cache` replaces the data cache folder and
/// `mnist_limit` the MNIST image count of its manifest when given.
pub fn load_splits(
    run: &Run,
    cache: Option<&Path>,
    mnist_limit: Option<usize>,
) -> Result<RunSplits, RunError> {
    let mut source = run.source.clone();
    if let Some(c) = cache {
        source.cache = Some(c.to_path_buf());
    }
    if let Some(l) = mnist_limit {
        source.limit = l;
    }
    let e = &run.manifest.config.model.encoder;
    let splits = source.load(e.height, e.width)?;
    let (train, validation) = split_validation(&splits.train, run.manifest.validation_identities)?;
    Ok(RunSplits {
        train,
        validation,
        test: splits.test,
        test_pairs: splits.test_pairs,
        protocol: splits.protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DataKind;

    fn write_summary(dir: &Path, value: serde_json::Value) {
        std::fs::write(dir.join(MANIFEST_FILE), value.to_string()).unwrap();
    }

    fn manifest() -> serde_json::Value {
        serde_json::to_value(RunManifest {
            data: DataKind::Orl,
            fold: Some(2),
            source: None,
            val_people: 5,
            protocol: "p".into(),
            config: TrainConfig::reference(56, 46, 64),
            train_identities: 25,
            train_images: 250,
            validation_identities: 5,
            steps: 10,
        })
        .unwrap()
    }

    #[test]
    fn a_run_folder_names_its_missing_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_run(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("summary.json") && err.contains("finished"),
            "{err}"
        );

        let mut m = manifest();
        m.as_object_mut().unwrap().remove("fold");
        write_summary(dir.path(), m);
        let err = load_run(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("summary.json") && err.contains("`fold`"),
            "{err}"
        );

        write_summary(dir.path(), manifest());
        let err = load_run(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");

        let mut m = manifest();
        m["config"]["model"]["arch"] = "two-channel".into();
        write_summary(dir.path(), m);
        let err = load_run(dir.path()).unwrap_err();
        assert!(matches!(err, RunError::NotAnEncoder { .. }), "{err}");
    }
}
