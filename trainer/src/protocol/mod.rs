//! The evaluation protocol, in one place: which identities a run trains, validates and is judged
//! on, how many trials, and the constants of shared/REFERENCE.md. `train` builds its split here,
//! `eval`, `quantize` and `export` rebuild the same split here from the run's manifest
//! ([`RunManifest`], `summary.json`), and the baselines take the same constants.
//!
//! | data set    | training identities                 | test trials                                    |
//! |-------------|-------------------------------------|------------------------------------------------|
//! | `orl`       | the 30 people outside fold `k`      | all 4,950 pairs of fold `k`'s 10 people        |
//! | `mnist`     | digits 0-4 of the training split    | [`MNIST_PAIRS`] + [`MNIST_PAIRS`] sampled pairs of test digits 5-9 |
//! | `folder`    | identities outside fold `k` of `n`  | all pairs of fold `k`'s identities             |
//! | `signature` | writers outside fold `k` of `n`     | genuine/genuine and genuine/skilled-forgery pairs of fold `k`'s writers |
//!
//! Validation identities (model selection, early stopping, quantization thresholds) are the
//! highest-numbered training identities ([`crate::train::split_validation`]); the test identities
//! are only touched by the final evaluation.
//!
//! When not: the baselines' matrices over the same splits are [`crate::baseline::protocol`].

pub mod manifest;
pub mod run;
pub mod splits;

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::sampler::Augment;

pub use manifest::{ManifestError, RunManifest, MANIFEST_FILE};
pub use run::{load_run, load_splits, Run, RunError, RunSplits, WEIGHTS_FILE};
pub use splits::{validation_splits, DataSource, SplitError, Splits};

/// Target FARs of every report, the first one in the summary tables: 1e-3 (4.5 false accepts of
/// 4,500 ORL impostor pairs), 1e-2, 1e-1.
pub const FAR_TARGETS: [f64; 3] = [1e-3, 1e-2, 1e-1];
/// The operating points of a model: the FARs whose thresholds a model file carries (the first is
/// its default), and the TARs a training summary and a model card report.
pub const OPERATING_FARS: [f64; 2] = [1e-3, 1e-2];
/// The reference ORL input size, `(height, width)`: 112x92 area-resized to the exact 2x2 mean.
pub const ORL_SIZE: (usize, usize) = (56, 46);
/// MNIST open set: digits of the training split fitted on.
pub const MNIST_TRAIN_DIGITS: Range<u8> = 0..5;
/// MNIST open set: digits of the test split that form the test pairs.
pub const MNIST_TEST_DIGITS: Range<u8> = 5..10;
/// MNIST open set: sampled genuine pairs, and as many impostor pairs (REFERENCE.md); also the
/// pairs of each kind sampled from any set above [`MAX_ALL_PAIRS_IMAGES`] images.
pub const MNIST_PAIRS: usize = 20_000;
/// MNIST: training images of digits 0-4 a run uses unless told otherwise, in file order.
pub const MNIST_DEFAULT_LIMIT: usize = 10_000;
/// Above this many images, a set's pairs are sampled ([`MNIST_PAIRS`] of each kind) instead of
/// taking all of them.
pub const MAX_ALL_PAIRS_IMAGES: usize = 2_000;
/// Identity-disjoint folds of a folder or signature set unless told otherwise (ORL has 4).
pub const DEFAULT_FOLDS: usize = 4;
/// Most images a validation set may have when it is judged on all its pairs.
pub const MAX_VALIDATION_IMAGES: usize = 5_000;

/// A data set a run trains on. The JSON / TOML spelling is kebab-case (`"orl"`, `"mnist"`,
/// `"folder"`, `"signature"`), as `summary.json` and the recipes store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// ORL faces, identity-disjoint fold `k` of 4 (test people `10k..10k+9`).
    Orl,
    /// MNIST open set: train on digits 0-4 of the training split, test on digits 5-9 of the test
    /// split.
    Mnist,
    /// The user's images, one sub-folder per identity (PNG, JPEG, PGM); identity-disjoint fold
    /// `k` of `n`.
    Folder,
    /// The user's signatures, `WRITER/genuine/*` and `WRITER/forged/*`; writer-disjoint fold `k`
    /// of `n`, tested against skilled forgeries.
    Signature,
}

impl DataKind {
    /// The JSON / TOML name: `"orl"`, `"mnist"`, `"folder"`, `"signature"`.
    pub fn name(self) -> &'static str {
        match self {
            DataKind::Orl => "orl",
            DataKind::Mnist => "mnist",
            DataKind::Folder => "folder",
            DataKind::Signature => "signature",
        }
    }

    /// Default input `(height, width)` in pixels: [`ORL_SIZE`] for faces (ORL, folders), 28x28
    /// for digits, 64x128 for signatures.
    pub fn default_size(self) -> (usize, usize) {
        match self {
            DataKind::Orl | DataKind::Folder => ORL_SIZE,
            DataKind::Mnist => (28, 28),
            DataKind::Signature => (64, 128),
        }
    }

    /// Default augmentation: faces get flips and jitter, digits small shifts, signatures shifts
    /// and jitter but never a flip.
    pub fn default_augment(self) -> Augment {
        match self {
            DataKind::Orl | DataKind::Folder => Augment::faces(),
            DataKind::Mnist => Augment::digits(),
            DataKind::Signature => Augment {
                hflip: false,
                ..Augment::faces()
            },
        }
    }

    /// Default validation identities carved out of the training ones: 5, none for MNIST (5
    /// training classes).
    pub fn default_val_people(self) -> usize {
        match self {
            DataKind::Mnist => 0,
            _ => 5,
        }
    }

    /// Images per identity K in P x K batches unless told otherwise: 12 for MNIST's 5 classes,
    /// else `reference`.
    pub fn default_per_identity(self, reference: usize) -> usize {
        match self {
            DataKind::Mnist => 12,
            _ => reference,
        }
    }
}

impl std::fmt::Display for DataKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_kinds_keep_their_json_spelling() {
        for (k, s) in [
            (DataKind::Orl, "\"orl\""),
            (DataKind::Mnist, "\"mnist\""),
            (DataKind::Folder, "\"folder\""),
            (DataKind::Signature, "\"signature\""),
        ] {
            assert_eq!(serde_json::to_string(&k).unwrap(), s);
            assert_eq!(serde_json::from_str::<DataKind>(s).unwrap(), k);
            assert_eq!(format!("\"{k}\""), s);
        }
    }

    #[test]
    fn defaults_follow_the_reference_protocol() {
        assert_eq!(DataKind::Orl.default_size(), (56, 46));
        assert_eq!(DataKind::Mnist.default_size(), (28, 28));
        assert_eq!(DataKind::Mnist.default_val_people(), 0);
        assert_eq!(DataKind::Folder.default_val_people(), 5);
        assert!(!DataKind::Signature.default_augment().hflip);
        assert_eq!(DataKind::Mnist.default_per_identity(4), 12);
        assert_eq!(DataKind::Orl.default_per_identity(4), 4);
    }
}
