//! Classic verification baselines: the rows a learned encoder has to beat.
//!
//! What: five embeddings fitted on training identities only and compared with a fixed distance on
//! test pairs: raw pixels + L2 ([`raw`]), PCA keeping 95% of the variance + L2 ([`pca`]), the same
//! PCA whitened, i.e. Mahalanobis distance in PCA space ([`mahalanobis`]), Fisher LDA on PCA + L2
//! ([`lda`]) and a 32-bin grey-level histogram + L1 ([`histogram`]). [`protocol`] runs them on the
//! ORL folds and the MNIST open-set split of `shared/REFERENCE.md`; [`pipeline`] on any data set
//! as one report.
//!
//! Data layout: a `d x n` [`DMatrix<f64>`], one sample per column (contiguous), pixels divided by
//! 255 so values lie in `[0, 1]`. Embeddings come back the same way, `k x n`.
//!
//! When not: these are references for a report, not verifiers to ship; nothing here is tuned.

pub mod histogram;
pub mod lda;
pub mod mahalanobis;
pub mod pca;
pub mod pipeline;
pub mod protocol;
pub mod raw;

use std::fmt;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};

pub use histogram::GreyHistogram;
pub use lda::{FisherLda, Lda, LdaPca};
pub use mahalanobis::Mahalanobis;
pub use pca::{Keep, Pca};
pub use raw::RawPixels;

/// What can go wrong when fitting or applying a baseline.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// Samples have a different dimension than the model was fitted on.
    #[error("{what}: expected dimension {expected}, found {found}")]
    Dimension {
        /// Which input.
        what: &'static str,
        /// Expected rows.
        expected: usize,
        /// Found rows.
        found: usize,
    },
    /// Not enough samples (or classes) to fit.
    #[error("{what}: need at least {need}, found {found}")]
    TooFew {
        /// What is counted ("training samples", "classes").
        what: &'static str,
        /// Minimum.
        need: usize,
        /// Found.
        found: usize,
    },
    /// Labels and samples disagree in number.
    #[error("{found} labels for {expected} samples")]
    Labels {
        /// Samples.
        expected: usize,
        /// Labels.
        found: usize,
    },
    /// A sample holds a NaN or an infinity.
    #[error("{what}: sample {sample} holds a non-finite value")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Column index.
        sample: usize,
    },
    /// A parameter outside its range.
    #[error("{what} = {value} is outside {range}")]
    Parameter {
        /// Parameter name.
        what: &'static str,
        /// Rejected value.
        value: f64,
        /// Accepted range, in words.
        range: &'static str,
    },
    /// The data has no variance to keep.
    #[error("{what}: the training data has no variance")]
    NoVariance {
        /// Which fit.
        what: &'static str,
    },
    /// An eigen-decomposition did not converge.
    #[error("eigen-decomposition of a {size}x{size} matrix did not converge")]
    NoConvergence {
        /// Matrix size.
        size: usize,
    },
}

/// A distance between two embeddings; smaller means more alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Sum of absolute differences.
    L1,
    /// Euclidean distance.
    L2,
}

impl Distance {
    /// The distance between `a` and `b` (equal lengths).
    pub fn between(self, a: &[f64], b: &[f64]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        match self {
            Distance::L1 => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
            Distance::L2 => a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// The distance between columns `i` and `j` of `emb` (`k x n`).
    pub fn between_columns(self, emb: &DMatrix<f64>, i: usize, j: usize) -> f64 {
        self.between(emb.column(i).as_slice(), emb.column(j).as_slice())
    }
}

/// A fitted baseline: maps `d x n` samples to `k x n` embeddings compared with [`Distance`].
pub trait Embedder {
    /// Embeds each column of `x` (`d x n`, values in `[0, 1]`); fails on a wrong `d`.
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError>;
    /// The distance to compare embeddings with.
    fn distance(&self) -> Distance;
    /// What was fitted, in a few words (dimensions kept, variance explained).
    fn describe(&self) -> String;
}

/// The five baselines of `shared/REFERENCE.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Raw pixels, L2.
    RawL2,
    /// PCA keeping 95% of the variance, L2.
    PcaL2,
    /// PCA 95% whitened, L2 = Mahalanobis distance in PCA space.
    PcaWhitened,
    /// Fisher LDA on PCA, L2.
    LdaL2,
    /// 32-bin grey-level histogram, L1.
    HistogramL1,
}

impl Method {
    /// All methods, in the order of the reference table.
    pub const ALL: [Method; 5] = [
        Method::RawL2,
        Method::PcaL2,
        Method::PcaWhitened,
        Method::LdaL2,
        Method::HistogramL1,
    ];

    /// Short id: `raw-l2`, `pca-l2`, `pca-whitened`, `lda-l2`, `histogram-l1`.
    pub fn id(self) -> &'static str {
        match self {
            Method::RawL2 => "raw-l2",
            Method::PcaL2 => "pca-l2",
            Method::PcaWhitened => "pca-whitened",
            Method::LdaL2 => "lda-l2",
            Method::HistogramL1 => "histogram-l1",
        }
    }

    /// The name of the reference table's row.
    pub fn name(self) -> &'static str {
        match self {
            Method::RawL2 => "raw pixels, L2",
            Method::PcaL2 => "PCA (95% variance) + L2",
            Method::PcaWhitened => "PCA (95%) whitened = Mahalanobis",
            Method::LdaL2 => "Fisher LDA (on PCA) + L2",
            Method::HistogramL1 => "grey-level histogram, 32 bins, L1",
        }
    }

    /// Fits this method on training samples `x` (`d x n`, values in `[0, 1]`) with their identity
    /// `labels` (used by LDA only), with the reference settings: 95% variance, LDA on the PCA
    /// given by [`LdaPca::default`], 32 histogram bins.
    pub fn fit(self, x: &DMatrix<f64>, labels: &[u32]) -> Result<Box<dyn Embedder>, BaselineError> {
        check_samples("training samples", x, None)?;
        Ok(match self {
            Method::RawL2 => Box::new(RawPixels::new(x.nrows())),
            Method::PcaL2 => Box::new(Pca::fit(x, Keep::Variance(pca::REFERENCE_VARIANCE))?),
            Method::PcaWhitened => Box::new(Mahalanobis::fit(
                x,
                Keep::Variance(pca::REFERENCE_VARIANCE),
            )?),
            Method::LdaL2 => Box::new(FisherLda::fit(x, labels, LdaPca::default())?),
            Method::HistogramL1 => {
                Box::new(GreyHistogram::new(x.nrows(), histogram::REFERENCE_BINS)?)
            }
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.id() == s)
            .ok_or_else(|| {
                let ids: Vec<&str> = Method::ALL.iter().map(|m| m.id()).collect();
                format!("unknown baseline {s:?}; expected one of {}", ids.join(", "))
            })
    }
}

/// Fails unless `x` has `dim` rows (when given), at least one column, and only finite values.
pub(crate) fn check_samples(
    what: &'static str,
    x: &DMatrix<f64>,
    dim: Option<usize>,
) -> Result<(), BaselineError> {
    if let Some(expected) = dim {
        if x.nrows() != expected {
            return Err(BaselineError::Dimension {
                what,
                expected,
                found: x.nrows(),
            });
        }
    }
    if x.ncols() == 0 {
        return Err(BaselineError::TooFew {
            what,
            need: 1,
            found: 0,
        });
    }
    match x
        .column_iter()
        .position(|c| c.iter().any(|v| !v.is_finite()))
    {
        Some(sample) => Err(BaselineError::NonFinite { what, sample }),
        None => Ok(()),
    }
}

/// `x` with `mean` subtracted from every column.
pub(crate) fn centered(x: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut c = x.clone();
    for mut col in c.column_iter_mut() {
        col -= mean;
    }
    c
}

/// Eigen-decomposition of a symmetric matrix, eigenvalues sorted descending with their vectors.
pub(crate) fn sorted_symmetric_eigen(
    m: DMatrix<f64>,
) -> Result<(DVector<f64>, DMatrix<f64>), BaselineError> {
    let size = m.nrows();
    let eig = nalgebra::SymmetricEigen::try_new(m, f64::EPSILON, 100 * size.max(10))
        .ok_or(BaselineError::NoConvergence { size })?;
    let mut order: Vec<usize> = (0..size).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let values = DVector::from_iterator(size, order.iter().map(|&i| eig.eigenvalues[i]));
    let vectors = DMatrix::from_columns(
        &order
            .iter()
            .map(|&i| eig.eigenvectors.column(i))
            .collect::<Vec<_>>(),
    );
    Ok((values, vectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(Distance::L1.between(&[0.0, 1.0], &[3.0, -3.0]), 7.0);
        assert_eq!(Distance::L2.between(&[0.0, 1.0], &[3.0, -3.0]), 5.0);
    }

    #[test]
    fn method_ids_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.id().parse::<Method>(), Ok(m));
        }
        assert!("pca".parse::<Method>().is_err());
    }

    #[test]
    fn sorted_eigen_of_a_diagonal() {
        let (vals, vecs) =
            sorted_symmetric_eigen(DMatrix::from_diagonal(&DVector::from_vec(vec![
                1.0, 3.0, 2.0,
            ])))
            .unwrap();
        assert_eq!(vals.as_slice(), &[3.0, 2.0, 1.0]);
        assert_eq!(vecs[(1, 0)].abs(), 1.0);
    }

    #[test]
    fn rejects_non_finite_samples() {
        let x = DMatrix::from_column_slice(2, 2, &[0.0, 1.0, f64::NAN, 0.0]);
        assert!(matches!(
            Method::RawL2.fit(&x, &[0, 1]),
            Err(BaselineError::NonFinite { sample: 1, .. })
        ));
    }
}
