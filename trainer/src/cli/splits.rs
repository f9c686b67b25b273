//! The train/test split of every data set the CLI knows, built the same way by `train` and `eval`
//! (and by `baseline` for the user's folders), so that a run is judged on exactly the identities
//! and pairs it was trained for.
//!
//! | `--data`    | training identities                 | test trials                                    |
//! |-------------|-------------------------------------|------------------------------------------------|
//! | `orl`       | the 30 people outside fold `k`      | all 4,950 pairs of fold `k`'s 10 people        |
//! | `mnist`     | digits 0-4 of the training split    | 20,000 + 20,000 sampled pairs of test digits 5-9 |
//! | `folder`    | identities outside fold `k` of `n`  | all pairs of fold `k`'s identities             |
//! | `signature` | writers outside fold `k` of `n`     | genuine/genuine and genuine/skilled-forgery pairs of fold `k`'s writers |
//!
//! Training pairs (for choosing a threshold, never the test pairs) are built the same way over the
//! training identities; above [`MAX_ALL_PAIRS_IMAGES`] images they are sampled instead.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use nalgebra::DMatrix;

use super::train::DataArg;
use crate::baseline::protocol::Split;
use crate::data::{DataCache, DataSet, ImageFolder, Mnist, OrlFaces, SignatureSet};
use crate::eval::{all_pairs, sample_pairs, Pairs, DEFAULT_PAIR_SEED};
use crate::sampler::LabelledSet;
use crate::train::{mnist_set, orl_set, MnistSplit};

/// Sampled MNIST open-set pairs of each kind (REFERENCE.md).
pub const MNIST_TEST_PAIRS: usize = 20_000;
/// Above this many images, training pairs are sampled ([`MNIST_TEST_PAIRS`] of each kind) instead
/// of taking all of them.
pub const MAX_ALL_PAIRS_IMAGES: usize = 2_000;
/// Default number of identity-disjoint folds of a folder or signature set.
pub const DEFAULT_FOLDS: usize = 4;

/// Where the data of a run comes from: enough to rebuild its split (kept in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// Data set.
    pub data: DataArg,
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

/// A split at a network's input size.
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

fn pairs_of(set: &LabelledSet) -> Result<(Pairs, bool)> {
    if set.len() <= MAX_ALL_PAIRS_IMAGES {
        Ok((all_pairs(set.labels()), false))
    } else {
        Ok((
            sample_pairs(
                set.labels(),
                MNIST_TEST_PAIRS,
                MNIST_TEST_PAIRS,
                DEFAULT_PAIR_SEED,
            )?,
            true,
        ))
    }
}

impl DataSource {
    /// Loads the data and builds the split at `height x width`.
    pub fn load(&self, height: usize, width: usize) -> Result<Splits> {
        let (h, w) = (height, width);
        let dir = || -> Result<&PathBuf> {
            match &self.data_dir {
                Some(d) => Ok(d),
                None => bail!("--data {:?} needs --data-dir DIR", self.data),
            }
        };
        match self.data {
            DataArg::Orl => {
                let cache =
                    DataCache::resolve(self.cache.as_deref()).context("locating the data cache")?;
                let faces = OrlFaces::load(&cache).with_context(|| {
                    format!(
                        "loading ORL from {} (run `siamedge-train data fetch orl`)",
                        cache.dataset_dir(DataSet::Orl).display()
                    )
                })?;
                let k = self.fold;
                let fold = faces.fold(k).with_context(|| format!("ORL fold {k}"))?;
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
            DataArg::Mnist => {
                let cache =
                    DataCache::resolve(self.cache.as_deref()).context("locating the data cache")?;
                let m = Mnist::load(&cache, DataSet::Mnist).with_context(|| {
                    format!(
                        "loading MNIST from {} (run `siamedge-train data fetch mnist`)",
                        cache.dataset_dir(DataSet::Mnist).display()
                    )
                })?;
                let limit = self.limit;
                let train = mnist_set(&m, MnistSplit::Train, 0..5, limit, h, w)?;
                let test = mnist_set(&m, MnistSplit::Test, 5..10, usize::MAX, h, w)?;
                let sample = |s: &LabelledSet| {
                    sample_pairs(
                        s.labels(),
                        MNIST_TEST_PAIRS,
                        MNIST_TEST_PAIRS,
                        DEFAULT_PAIR_SEED,
                    )
                };
                Ok(Splits {
                    threshold_pairs: sample(&train)?,
                    test_pairs: sample(&test)?,
                    threshold_set: train.clone(),
                    train,
                    test,
                    retrieval: false,
                    pair_seed: Some(DEFAULT_PAIR_SEED),
                    protocol: format!(
                        "MNIST open set: train digits 0-4 ({limit} images max), test digits 5-9 of \
                         the test split, {MNIST_TEST_PAIRS} genuine + {MNIST_TEST_PAIRS} impostor \
                         pairs, seed {DEFAULT_PAIR_SEED}, {h}x{w}"
                    ),
                })
            }
            DataArg::Folder => {
                let root = dir()?;
                let f = ImageFolder::load(root, h, w)
                    .with_context(|| format!("loading the image folder {}", root.display()))?;
                let fold = f.fold(self.fold, self.folds)?;
                let train = f.set(&fold.train)?;
                let test = f.set(&fold.test)?;
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
            DataArg::Signature => {
                let root = dir()?;
                let s = SignatureSet::load(root, h, w)
                    .with_context(|| format!("loading the signatures in {}", root.display()))?;
                let fold = s.fold(self.fold, self.folds)?;
                let test_pairs = s.pairs(&fold.test);
                if test_pairs.genuine.is_empty() || test_pairs.impostor.is_empty() {
                    bail!(
                        "signature fold {}: the test writers give {} genuine and {} forgery \
                         trials; both are needed (two genuine signatures and one forgery per writer)",
                        self.fold,
                        test_pairs.genuine.len(),
                        test_pairs.impostor.len()
                    );
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
                    train: s.genuine_set(&fold.train)?,
                    threshold_set: s.set(&fold.train)?,
                    threshold_pairs: s.pairs(&fold.train),
                    test: s.set(&fold.test)?,
                    test_pairs,
                    retrieval: false,
                    pair_seed: None,
                })
            }
        }
    }
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

    fn source(data: DataArg, dir: &std::path::Path, fold: usize) -> DataSource {
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
        let s = source(DataArg::Signature, dir.path(), 0)
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
        let s = source(DataArg::Folder, dir.path(), 1).load(4, 8).unwrap();
        assert_eq!(s.train.classes(), [0, 1]);
        assert_eq!(s.test.classes(), [2, 3]);
        assert_eq!(
            (s.test_pairs.genuine.len(), s.test_pairs.impostor.len()),
            (6, 9)
        );
        assert!(source(DataArg::Folder, dir.path(), 2).load(4, 8).is_err());
        let err = DataSource {
            data_dir: None,
            ..source(DataArg::Folder, dir.path(), 0)
        }
        .load(4, 8)
        .err()
        .unwrap();
        assert!(err.to_string().contains("--data-dir"), "{err}");
    }
}
