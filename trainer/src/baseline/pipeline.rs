//! The baseline pipeline: the classic baselines ([`super::Method`]) on the reference protocols or
//! the user's folders, every method on the same splits and pairs, as one [`BenchmarkReport`].
//!
//! ORL: the folds of `shared/REFERENCE.md` at any input size; MNIST: the open-set split with pairs
//! sampled with a stated seed; folder and signature sets: the identity-disjoint folds of
//! [`crate::protocol`], fitted on the training identities (signatures: forgeries too, as their own
//! classes).

use std::path::PathBuf;

use super::protocol::{
    mnist_open_set_split, mnist_protocol, orl_protocol, orl_split, run_methods, ProtocolError,
    Split,
};
use super::Method;
use crate::data::{DataCache, DataSet, Mnist, OrlFaces};
use crate::eval::report::{BenchmarkReport, FoldReport, REPORT_SCHEMA_VERSION};
use crate::eval::DEFAULT_PAIR_SEED;
use crate::protocol::{DataKind, DataSource, SplitError, DEFAULT_FOLDS, FAR_TARGETS, ORL_SIZE};

/// What to run and on which data.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOptions {
    /// Data set and protocol.
    pub data: DataKind,
    /// Root folder of a folder or signature set.
    pub data_dir: Option<PathBuf>,
    /// Identity-disjoint folds of a folder or signature set.
    pub n_folds: usize,
    /// Folds to run (ORL: fold k tests on people 10k..10k+9; folder and signature: those below
    /// `n_folds`); ignored for MNIST.
    pub folds: Vec<usize>,
    /// Input `(height, width)` in pixels (area resize).
    pub size: (usize, usize),
    /// Baselines to run (empty: all).
    pub methods: Vec<Method>,
    /// Seed of the sampled MNIST pairs (ChaCha8).
    pub seed: u64,
    /// Data cache folder (`None`: `$SIAMEDGE_DATA`, else `~/.cache/siamedge`).
    pub cache: Option<PathBuf>,
}

impl BaselineOptions {
    /// The reference protocol of `data`: ORL folds 0-3 at [`ORL_SIZE`], every method, the default
    /// pair seed and cache.
    pub fn reference(data: DataKind) -> Self {
        Self {
            data,
            data_dir: None,
            n_folds: DEFAULT_FOLDS,
            folds: vec![0, 1, 2, 3],
            size: ORL_SIZE,
            methods: Vec::new(),
            seed: DEFAULT_PAIR_SEED,
            cache: None,
        }
    }

    /// The methods to run: `methods`, or all of them when it is empty.
    pub fn methods(&self) -> Vec<Method> {
        if self.methods.is_empty() {
            Method::ALL.to_vec()
        } else {
            self.methods.clone()
        }
    }
}

/// Why the baselines could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineRunError {
    /// No fold to run.
    #[error("no fold to run: folds {folds:?} (of {n_folds} for a folder or signature set)")]
    NoFolds {
        /// The folds asked for.
        folds: Vec<usize>,
        /// Folds of a folder or signature set.
        n_folds: usize,
    },
    /// The data could not be loaded.
    #[error(transparent)]
    Split(Box<SplitError>),
    /// A split could not be built or a method failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

impl From<SplitError> for BaselineRunError {
    fn from(e: SplitError) -> Self {
        Self::Split(Box::new(e))
    }
}

/// The splits every method runs on.
#[derive(Debug, Clone)]
pub struct BaselineSplits {
    /// Data set id: `"orl"`, `"mnist"`, `"folder"`, `"signature"`.
    pub dataset: &'static str,
    /// The protocol in one line.
    pub protocol: String,
    /// Seed of sampled pairs, if any.
    pub pair_seed: Option<u64>,
    /// One split per fold.
    pub splits: Vec<Split>,
}

/// Loads the data of `opts` and builds its splits.
pub fn baseline_splits(opts: &BaselineOptions) -> Result<BaselineSplits, BaselineRunError> {
    let no_folds = || BaselineRunError::NoFolds {
        folds: opts.folds.clone(),
        n_folds: opts.n_folds,
    };
    let cache = || DataCache::resolve(opts.cache.as_deref()).map_err(SplitError::from);
    match opts.data {
        DataKind::Orl => {
            let cache = cache()?;
            let faces = OrlFaces::load(&cache).map_err(|source| SplitError::Orl {
                dir: cache.dataset_dir(DataSet::Orl),
                source,
            })?;
            if opts.folds.is_empty() {
                return Err(no_folds());
            }
            let splits = opts
                .folds
                .iter()
                .map(|&k| orl_split(&faces, k, opts.size))
                .collect::<Result<Vec<Split>, _>>()?;
            Ok(BaselineSplits {
                dataset: "orl",
                protocol: orl_protocol(&opts.folds, opts.size),
                pair_seed: None,
                splits,
            })
        }
        DataKind::Mnist => {
            let cache = cache()?;
            let mnist =
                Mnist::load(&cache, DataSet::Mnist).map_err(|source| SplitError::Mnist {
                    dir: cache.dataset_dir(DataSet::Mnist),
                    source,
                })?;
            Ok(BaselineSplits {
                dataset: "mnist",
                protocol: mnist_protocol(opts.seed),
                pair_seed: Some(opts.seed),
                splits: vec![mnist_open_set_split(&mnist, opts.seed)?],
            })
        }
        DataKind::Folder | DataKind::Signature => {
            let folds: Vec<usize> = opts
                .folds
                .iter()
                .copied()
                .filter(|&k| k < opts.n_folds)
                .collect();
            if folds.is_empty() {
                return Err(no_folds());
            }
            let mut protocol = String::new();
            let mut splits = Vec::new();
            for &k in &folds {
                let source = DataSource {
                    data_dir: opts.data_dir.clone(),
                    fold: k,
                    folds: opts.n_folds,
                    limit: 0,
                    ..DataSource::new(opts.data)
                };
                let s = source.load(opts.size.0, opts.size.1)?;
                if protocol.is_empty() {
                    protocol = s.protocol.clone();
                } else {
                    protocol.push_str(&format!("; fold {k}"));
                }
                splits.push(s.baseline_split(&k.to_string()));
            }
            Ok(BaselineSplits {
                dataset: opts.data.name(),
                protocol,
                pair_seed: None,
                splits,
            })
        }
    }
}

/// Runs every method of `opts` on every split of `splits` (from [`baseline_splits`]): one
/// report, the methods in order, each with one fold per split and the means.
/// `progress(method, fold)` is called after each method and fold.
pub fn run_baselines(
    opts: &BaselineOptions,
    splits: &BaselineSplits,
    progress: impl FnMut(Method, &FoldReport),
) -> Result<BenchmarkReport, BaselineRunError> {
    let reports = run_methods(&opts.methods(), &splits.splits, &FAR_TARGETS, progress)?;
    Ok(BenchmarkReport {
        schema_version: REPORT_SCHEMA_VERSION,
        dataset: splits.dataset.into(),
        protocol: splits.protocol.clone(),
        pair_seed: splits.pair_seed,
        far_targets: FAR_TARGETS.to_vec(),
        methods: reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(root: &std::path::Path) {
        for p in 0..4u8 {
            for i in 0..3u8 {
                let path = root.join(format!("p{p}/{i}.png"));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                image::GrayImage::from_fn(8, 4, |x, y| {
                    image::Luma([(40 * p).wrapping_add((x * y) as u8 + i)])
                })
                .save(path)
                .unwrap();
            }
        }
    }

    #[test]
    fn a_folder_gives_one_report_with_a_fold_per_split() {
        let dir = tempfile::tempdir().unwrap();
        folder(dir.path());
        let opts = BaselineOptions {
            data_dir: Some(dir.path().to_path_buf()),
            n_folds: 2,
            folds: vec![0, 1, 5],
            size: (4, 8),
            methods: vec![Method::RawL2],
            ..BaselineOptions::reference(DataKind::Folder)
        };
        let splits = baseline_splits(&opts).unwrap();
        assert_eq!((splits.dataset, splits.splits.len()), ("folder", 2));
        let mut calls = 0;
        let r = run_baselines(&opts, &splits, |_, _| calls += 1).unwrap();
        assert_eq!(calls, 2);
        assert_eq!(r.methods.len(), 1);
        let folds: Vec<&str> = r.methods[0].folds.iter().map(|f| f.fold.as_str()).collect();
        assert_eq!(folds, ["0", "1"]);
        // Two test identities of 3 images: 6 genuine and 9 impostor pairs.
        let v = &r.methods[0].folds[0].verification;
        assert_eq!((v.genuine_trials, v.impostor_trials), (6, 9));
    }

    #[test]
    fn no_fold_below_n_folds_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        folder(dir.path());
        let opts = BaselineOptions {
            data_dir: Some(dir.path().to_path_buf()),
            n_folds: 2,
            folds: vec![2, 3],
            ..BaselineOptions::reference(DataKind::Folder)
        };
        let err = baseline_splits(&opts).unwrap_err();
        assert!(
            matches!(err, BaselineRunError::NoFolds { n_folds: 2, .. }),
            "{err}"
        );
        assert_eq!(
            BaselineOptions::reference(DataKind::Orl).methods(),
            Method::ALL
        );
    }
}
