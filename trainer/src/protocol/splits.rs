//! A run's split at a network's input size: [`DataSource`] (what `summary.json` keeps of where the
//! data came from) loads the data and builds [`Splits`] the same way for `train`, `eval`,
//! `quantize`, `export` and the folder baselines, so that a run is judged on exactly the identities
//! and pairs it was trained for (the table is in [`crate::protocol`]).
//!
//! Training pairs (for choosing a threshold, never the test pairs) are built the same way over the
//! training identities; above [`MAX_ALL_PAIRS_IMAGES`] images they are sampled instead.

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::{
    DataKind, MAX_ALL_PAIRS_IMAGES, MAX_VALIDATION_IMAGES, MNIST_DEFAULT_LIMIT, MNIST_PAIRS,
    MNIST_TEST_DIGITS, MNIST_TRAIN_DIGITS,
};
use crate::baseline::protocol::Split;
use crate::data::cache::CacheError;
use crate::data::mnist::MnistError;
use crate::data::orl::OrlError;
use crate::data::{
    DataCache, DataSet, FolderError, ImageFolder, LabelledSet, Mnist, OrlFaces, SignatureSet,
};
use crate::eval::{all_pairs, sample_pairs, EvalError, Pairs, DEFAULT_PAIR_SEED};
use crate::train::{mnist_set, orl_set, split_validation, MnistSplit, TrainError};

/// Why a split could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// The data cache could not be located.
    #[error("locating the data cache: {0}")]
    Cache(#[from] CacheError),
    /// The ORL faces could not be read, or the fold does not exist.
    #[error("loading ORL from {dir} (run `siamedge-train data fetch orl`): {source}")]
    Orl {
        /// The ORL folder of the cache.
        dir: PathBuf,
        /// Why.
        source: OrlError,
    },
    /// MNIST could not be read.
    #[error("loading MNIST from {dir} (run `siamedge-train data fetch mnist`): {source}")]
    Mnist {
        /// The MNIST folder of the cache.
        dir: PathBuf,
        /// Why.
        source: MnistError,
    },
    /// A folder or signature set could not be read, or the fold does not exist.
    #[error("loading the {data} set in {root}: {source}")]
    Folder {
        /// Which kind of set.
        data: DataKind,
        /// Its root folder.
        root: PathBuf,
        /// Why.
        source: FolderError,
    },
    /// A folder or signature set was asked for without its root folder.
    #[error("the {data} data set needs its root folder (`data-dir`, --data-dir DIR)")]
    NoDataDir {
        /// Which kind of set.
        data: DataKind,
    },
    /// A signature fold lacks genuine or forgery trials.
    #[error(
        "signature fold {fold}: the test writers give {genuine} genuine and {forgery} forgery \
         trials; both are needed (two genuine signatures and one forgery per writer)"
    )]
    NoSignatureTrials {
        /// The fold.
        fold: usize,
        /// Genuine/genuine pairs.
        genuine: usize,
        /// Genuine/forged pairs.
        forgery: usize,
    },
    /// Validation identities were asked for where there are none, or too many images.
    #[error("validation identities: {0}")]
    Validation(String),
    /// Images could not be resized or gathered into a set.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Pairs could not be sampled.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// Where the data of a run comes from: enough to rebuild its split (kept in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// Data set.
    pub data: DataKind,
    /// Data cache folder for ORL and MNIST (`None`: `$SIAMEDGE_DATA`, else `~/.cache/siamedge`).
    pub cache: Option<PathBuf>,
    /// Root folder of a `folder` or `signature` data set.
    pub data_dir: Option<PathBuf>,
    /// Test fold.
    pub fold: usize,
    /// Number of folds of a `folder` or `signature` set (ORL has 4).
    pub folds: usize,
    /// MNIST: training images of digits 0-4 used, in file order.
    pub limit: usize,
}

/// A split at a network's input size. Images are f32 in `[0, 1]`, `(C, H, W)` per image.
#[derive(Debug, Clone)]
pub struct Splits {
    /// What the network trains on (signatures: genuine ones only).
    pub train: LabelledSet,
    /// The training identities' images for choosing a threshold (signatures: forgeries too).
    pub threshold_set: LabelledSet,
    /// Trials over `threshold_set`.
    pub threshold_pairs: Pairs,
    /// Test images.
    pub test: LabelledSet,
    /// Trials over `test`.
    pub test_pairs: Pairs,
    /// Whether retrieval scores are meaningful and affordable on `test`.
    pub retrieval: bool,
    /// Seed of sampled pairs, if any were sampled.
    pub pair_seed: Option<u64>,
    /// One line describing the split, trials and size.
    pub protocol: String,
}

/// A labelled set as a `d x n` matrix of pixel values, one image per column.
pub fn matrix(set: &LabelledSet) -> DMatrix<f64> {
    let d = set.shape().len();
    DMatrix::from_fn(d, set.len(), |r, c| f64::from(set.image(c)[r]))
}

impl Splits {
    /// The same images and trials as a baseline [`Split`] named `name`: the baselines fit on
    /// `threshold_set` (the training identities) and choose their threshold on its pairs.
    pub fn baseline_split(&self, name: &str) -> Split {
        Split {
            name: name.to_string(),
            train: matrix(&self.threshold_set),
            train_labels: self.threshold_set.labels().to_vec(),
            train_pairs: self.threshold_pairs.clone(),
            test: matrix(&self.test),
            test_labels: self.test.labels().to_vec(),
            test_pairs: self.test_pairs.clone(),
            retrieval: self.retrieval,
        }
    }
}

/// Seeded sample of [`MNIST_PAIRS`] genuine and as many impostor pairs over `labels`.
fn sampled(labels: &[u32]) -> Result<Pairs, EvalError> {
    sample_pairs(labels, MNIST_PAIRS, MNIST_PAIRS, DEFAULT_PAIR_SEED)
}

/// All pairs of `set`, or a seeded sample above [`MAX_ALL_PAIRS_IMAGES`] images (`true`).
fn pairs_of(set: &LabelledSet) -> Result<(Pairs, bool), EvalError> {
    if set.len() <= MAX_ALL_PAIRS_IMAGES {
        Ok((all_pairs(set.labels()), false))
    } else {
        Ok((sampled(set.labels())?, true))
    }
}

impl DataSource {
    /// A source with the defaults of `data`: fold 0, [`super::DEFAULT_FOLDS`] folds,
    /// [`MNIST_DEFAULT_LIMIT`] MNIST images, the default cache, no root folder.
    pub fn new(data: DataKind) -> Self {
        Self {
            data,
            cache: None,
            data_dir: None,
            fold: 0,
            folds: super::DEFAULT_FOLDS,
            limit: MNIST_DEFAULT_LIMIT,
        }
    }

    /// Loads the data and builds the split at `height x width` pixels.
    pub fn load(&self, height: usize, width: usize) -> Result<Splits, SplitError> {
        let (h, w) = (height, width);
        let dir = || -> Result<&Path, SplitError> {
            self.data_dir
                .as_deref()
                .ok_or(SplitError::NoDataDir { data: self.data })
        };
        match self.data {
            DataKind::Orl => {
                let cache = DataCache::resolve(self.cache.as_deref())?;
                let orl = |source| SplitError::Orl {
                    dir: cache.dataset_dir(DataSet::Orl),
                    source,
                };
                let faces = OrlFaces::load(&cache).map_err(orl)?;
                let k = self.fold;
                let fold = faces.fold(k).map_err(orl)?;
                let train = orl_set(&faces, &fold.train, h, w)?;
                let test = orl_set(&faces, &fold.test, h, w)?;
                Ok(Splits {
                    threshold_pairs: all_pairs(train.labels()),
                    threshold_set: train.clone(),
                    test_pairs: all_pairs(test.labels()),
                    train,
                    test,
                    retrieval: true,
                    pair_seed: None,
                    protocol: format!(
                        "ORL fold {k}: test people {}..{} (all 4,950 pairs), {h}x{w} area-resized",
                        fold.test_people.start,
                        fold.test_people.end - 1
                    ),
                })
            }
            DataKind::Mnist => {
                let cache = DataCache::resolve(self.cache.as_deref())?;
                let m =
                    Mnist::load(&cache, DataSet::Mnist).map_err(|source| SplitError::Mnist {
                        dir: cache.dataset_dir(DataSet::Mnist),
                        source,
                    })?;
                let limit = self.limit;
                let train = mnist_set(&m, MnistSplit::Train, MNIST_TRAIN_DIGITS, limit, h, w)?;
                let test = mnist_set(&m, MnistSplit::Test, MNIST_TEST_DIGITS, usize::MAX, h, w)?;
                Ok(Splits {
                    threshold_pairs: sampled(train.labels())?,
                    test_pairs: sampled(test.labels())?,
                    threshold_set: train.clone(),
                    train,
                    test,
                    retrieval: false,
                    pair_seed: Some(DEFAULT_PAIR_SEED),
                    protocol: format!(
                        "MNIST open set: train digits 0-4 ({limit} images max), test digits 5-9 of \
                         the test split, {MNIST_PAIRS} genuine + {MNIST_PAIRS} impostor \
                         pairs, seed {DEFAULT_PAIR_SEED}, {h}x{w}"
                    ),
                })
            }
            DataKind::Folder => {
                let root = dir()?;
                let bad = |source| SplitError::Folder {
                    data: self.data,
                    root: root.to_path_buf(),
                    source,
                };
                let f = ImageFolder::load(root, h, w).map_err(bad)?;
                let fold = f.fold(self.fold, self.folds).map_err(bad)?;
                let train = f.set(&fold.train).map_err(bad)?;
                let test = f.set(&fold.test).map_err(bad)?;
                let (threshold_pairs, s1) = pairs_of(&train)?;
                let (test_pairs, s2) = pairs_of(&test)?;
                Ok(Splits {
                    protocol: format!(
                        "image folder {}: fold {} of {} tests on identities {}..{} of {} ({} \
                         images, {} genuine + {} impostor pairs{}), {h}x{w} area-resized",
                        root.display(),
                        self.fold,
                        self.folds,
                        fold.test_identities.start,
                        fold.test_identities.end - 1,
                        f.identities.len(),
                        test.len(),
                        test_pairs.genuine.len(),
                        test_pairs.impostor.len(),
                        if s2 { ", sampled" } else { "" }
                    ),
                    retrieval: test.len() <= MAX_ALL_PAIRS_IMAGES,
                    pair_seed: (s1 || s2).then_some(DEFAULT_PAIR_SEED),
                    threshold_set: train.clone(),
                    threshold_pairs,
                    train,
                    test,
                    test_pairs,
                })
            }
            DataKind::Signature => {
                let root = dir()?;
                let bad = |source| SplitError::Folder {
                    data: self.data,
                    root: root.to_path_buf(),
                    source,
                };
                let s = SignatureSet::load(root, h, w).map_err(bad)?;
                let fold = s.fold(self.fold, self.folds).map_err(bad)?;
                let test_pairs = s.pairs(&fold.test);
                if test_pairs.genuine.is_empty() || test_pairs.impostor.is_empty() {
                    return Err(SplitError::NoSignatureTrials {
                        fold: self.fold,
                        genuine: test_pairs.genuine.len(),
                        forgery: test_pairs.impostor.len(),
                    });
                }
                Ok(Splits {
                    protocol: format!(
                        "signatures {}: fold {} of {} tests on writers {}..{} of {}, skilled \
                         forgeries: {} genuine/genuine and {} genuine/forged pairs, {h}x{w}",
                        root.display(),
                        self.fold,
                        self.folds,
                        fold.test_writers.start,
                        fold.test_writers.end - 1,
                        s.writers.len(),
                        test_pairs.genuine.len(),
                        test_pairs.impostor.len()
                    ),
                    train: s.genuine_set(&fold.train).map_err(bad)?,
                    threshold_set: s.set(&fold.train).map_err(bad)?,
                    threshold_pairs: s.pairs(&fold.train),
                    test: s.set(&fold.test).map_err(bad)?,
                    test_pairs,
                    retrieval: false,
                    pair_seed: None,
                })
            }
        }
    }
}

/// `splits` with the run's `val_people` validation identities as the test identities and the rest
/// of its training identities for the threshold and the baselines; all pairs of each. For choosing
/// recipes without looking at the test identities.
pub fn validation_splits(splits: Splits, val_people: usize) -> Result<Splits, SplitError> {
    if val_people == 0 {
        return Err(SplitError::Validation(
            "the run kept none (`val-people` is 0 in its config)".into(),
        ));
    }
    let (rest, val) = split_validation(&splits.threshold_set, val_people)?;
    let Some(val) = val else {
        return Err(SplitError::Validation("the run kept none".into()));
    };
    if val.len() > MAX_VALIDATION_IMAGES {
        return Err(SplitError::Validation(format!(
            "{} images: more than {MAX_VALIDATION_IMAGES}, too many for all pairs",
            val.len()
        )));
    }
    let protocol = format!(
        "{} | validation identities: {} images of {} identities, all pairs; threshold and \
         baselines from the other {} training identities",
        splits.protocol,
        val.len(),
        val.classes().len(),
        rest.classes().len()
    );
    Ok(Splits {
        train: rest.clone(),
        threshold_pairs: all_pairs(rest.labels()),
        threshold_set: rest,
        test_pairs: all_pairs(val.labels()),
        test: val,
        retrieval: splits.retrieval,
        pair_seed: splits.pair_seed,
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &std::path::Path, v: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(8, 4, |x, _| image::Luma([v.wrapping_add(x as u8)]))
            .save(path)
            .unwrap();
    }

    fn source(data: DataKind, dir: &std::path::Path, fold: usize) -> DataSource {
        DataSource {
            data,
            cache: None,
            data_dir: Some(dir.to_path_buf()),
            fold,
            folds: 2,
            limit: 0,
        }
    }

    #[test]
    fn signature_splits_train_on_genuine_and_test_against_forgeries() {
        let dir = tempfile::tempdir().unwrap();
        for w in 0..4u8 {
            for i in 0..3 {
                png(&dir.path().join(format!("w{w}/genuine/{i}.png")), 10 * w);
            }
            for i in 0..2 {
                png(&dir.path().join(format!("w{w}/forged/{i}.png")), 200);
            }
        }
        let s = source(DataKind::Signature, dir.path(), 0)
            .load(4, 8)
            .unwrap();
        assert_eq!(s.train.len(), 6, "genuine signatures of writers 2 and 3");
        assert_eq!(s.train.classes(), [2, 3]);
        assert_eq!(s.threshold_set.len(), 10);
        assert_eq!(s.test.len(), 10);
        // Two writers x (3 genuine pairs, 3 x 2 genuine/forged pairs).
        assert_eq!(
            (s.test_pairs.genuine.len(), s.test_pairs.impostor.len()),
            (6, 12)
        );
        assert!(!s.retrieval);
        let b = s.baseline_split("0");
        assert_eq!((b.train.nrows(), b.train.ncols()), (32, 10));
    }

    #[test]
    fn folder_splits_are_identity_disjoint_with_all_pairs() {
        let dir = tempfile::tempdir().unwrap();
        for p in 0..4u8 {
            for i in 0..3 {
                png(&dir.path().join(format!("p{p}/{i}.png")), 50 * p);
            }
        }
        let s = source(DataKind::Folder, dir.path(), 1).load(4, 8).unwrap();
        assert_eq!(s.train.classes(), [0, 1]);
        assert_eq!(s.test.classes(), [2, 3]);
        assert_eq!(
            (s.test_pairs.genuine.len(), s.test_pairs.impostor.len()),
            (6, 9)
        );
        assert!(source(DataKind::Folder, dir.path(), 2).load(4, 8).is_err());
        let err = DataSource {
            data_dir: None,
            ..source(DataKind::Folder, dir.path(), 0)
        }
        .load(4, 8)
        .err()
        .unwrap();
        assert!(err.to_string().contains("--data-dir"), "{err}");
    }
}
