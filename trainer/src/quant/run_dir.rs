//! A finished training run (`siamedge-train train --out DIR`) read back for quantization: its
//! configuration, data set and fold from `summary.json`, its selected weights from
//! `model.safetensors`, and its data splits rebuilt the same way (training identities minus the
//! validation ones, validation identities, test identities with the run's test pairs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::data::{DataCache, DataSet, Mnist, OrlFaces};
use crate::eval::{all_pairs, sample_pairs, Pairs, DEFAULT_PAIR_SEED};
use crate::model::Arch;
use crate::sampler::LabelledSet;
use crate::train::{mnist_set, orl_set, split_validation, MnistSplit, TrainConfig};

use super::QuantError;

/// Sampled MNIST open-set test pairs of each kind (the trainer's protocol).
pub const MNIST_TEST_PAIRS: usize = 20_000;
/// MNIST training images of digits 0-4 a run uses unless told otherwise (the trainer's default).
pub const MNIST_DEFAULT_LIMIT: usize = 10_000;

/// The data set of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunData {
    /// ORL faces, identity-disjoint fold `k`.
    Orl {
        /// The fold, 0..4.
        fold: usize,
    },
    /// MNIST open set (train digits 0-4, test digits 5-9).
    Mnist,
}

/// A training run read back.
#[derive(Debug)]
pub struct Run {
    /// The run folder.
    pub dir: PathBuf,
    /// Data set and fold.
    pub data: RunData,
    /// The run's training configuration.
    pub config: TrainConfig,
    /// Training identities held out for validation.
    pub validation_identities: usize,
    /// The selected weights (`model.safetensors`), by variable name.
    pub weights: HashMap<String, Tensor>,
}

fn bad(path: &Path, reason: impl Into<String>) -> QuantError {
    QuantError::Run {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads `dir/summary.json` and `dir/model.safetensors`. Only Siamese CNN runs can be quantized.
pub fn load_run(dir: &Path) -> Result<Run, QuantError> {
    let summary = dir.join("summary.json");
    let text = std::fs::read(&summary)
        .map_err(|e| bad(&summary, format!("{e} (is this a finished `train --out` folder?)")))?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(&summary, e.to_string()))?;
    let config: TrainConfig = serde_json::from_value(v["config"].clone())
        .map_err(|e| bad(&summary, format!("`config`: {e}")))?;
    if config.model.arch != Arch::Cnn {
        return Err(bad(
            &summary,
            format!(
                "the network is {:?}; only the Siamese CNN (arch cnn) has embeddings to quantize",
                config.model.arch
            ),
        ));
    }
    let data = match v["data"].as_str() {
        Some("orl") => RunData::Orl {
            fold: v["fold"].as_u64().unwrap_or(0) as usize,
        },
        Some("mnist") => RunData::Mnist,
        other => return Err(bad(&summary, format!("unknown `data` {other:?}"))),
    };
    let validation_identities = v["validation_identities"].as_u64().unwrap_or(0) as usize;
    let wpath = dir.join("model.safetensors");
    let weights = candle_core::safetensors::load(&wpath, &Device::Cpu)
        .map_err(|e| bad(&wpath, e.to_string()))?;
    Ok(Run {
        dir: dir.to_path_buf(),
        data,
        config,
        validation_identities,
        weights,
    })
}

/// A run's data: training identities (validation ones removed), validation identities, test
/// identities and the test pairs.
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

/// Rebuilds the splits of `run` from the data cache (`cache`, or the default); `mnist_limit` is
/// the run's `--limit` (default [`MNIST_DEFAULT_LIMIT`]).
pub fn load_splits(
    run: &Run,
    cache: Option<&Path>,
    mnist_limit: Option<usize>,
) -> Result<RunSplits, QuantError> {
    let cache = DataCache::resolve(cache).map_err(|e| bad(Path::new("cache"), e.to_string()))?;
    let e = &run.config.model.encoder;
    let (h, w) = (e.height, e.width);
    let (train, test, test_pairs, protocol) = match run.data {
        RunData::Orl { fold } => {
            let dir = cache.dataset_dir(DataSet::Orl);
            let faces = OrlFaces::load(&cache).map_err(|e| bad(&dir, e.to_string()))?;
            let f = faces.fold(fold).map_err(|e| bad(&dir, e.to_string()))?;
            let test = orl_set(&faces, &f.test, h, w)?;
            let pairs = all_pairs(test.labels());
            (
                orl_set(&faces, &f.train, h, w)?,
                test,
                pairs,
                format!(
                    "ORL fold {fold}: test people {}..{}, {h}x{w}",
                    f.test_people.start,
                    f.test_people.end - 1
                ),
            )
        }
        RunData::Mnist => {
            let dir = cache.dataset_dir(DataSet::Mnist);
            let m = Mnist::load(&cache, DataSet::Mnist).map_err(|e| bad(&dir, e.to_string()))?;
            let limit = mnist_limit.unwrap_or(MNIST_DEFAULT_LIMIT);
            let test = mnist_set(&m, MnistSplit::Test, 5..10, usize::MAX, h, w)?;
            let pairs = sample_pairs(
                test.labels(),
                MNIST_TEST_PAIRS,
                MNIST_TEST_PAIRS,
                DEFAULT_PAIR_SEED,
            )?;
            (
                mnist_set(&m, MnistSplit::Train, 0..5, limit, h, w)?,
                test,
                pairs,
                format!("MNIST open set: train digits 0-4 ({limit} images), test digits 5-9"),
            )
        }
    };
    let (train, validation) = split_validation(&train, run.validation_identities)?;
    Ok(RunSplits {
        train,
        validation,
        test,
        test_pairs,
        protocol,
    })
}
