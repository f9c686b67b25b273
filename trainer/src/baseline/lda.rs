//! Fisher linear discriminant analysis, on PCA coordinates, compared with L2.
//!
//! [`Lda`] finds the `C - 1` directions that maximise between-class over within-class scatter,
//! scaled so that the within-class covariance is the identity along them (scikit-learn 1.9's
//! `LinearDiscriminantAnalysis(solver="svd").transform`): whiten the pooled within-class
//! covariance (`n` denominator, as scikit-learn 1.9; older releases used `n - C`, which only
//! rescales every distance and changes no rate), then take the leading left singular vectors of
//! the whitened class means weighted by `sqrt(n_c / (C - 1))`. [`FisherLda`] runs a PCA first
//! ("Fisherfaces"), because with fewer images than pixels the within-class covariance of raw
//! pixels is singular.
//!
//! When not: LDA learns the training identities' differences; with few training classes (30 on an
//! ORL fold, 5 digits on MNIST) it keeps only `C - 1` dimensions, which may not carry the test
//! identities' differences (the MNIST open-set row shows it).

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};

use super::pca::{Keep, Pca, REFERENCE_VARIANCE};
use super::{centered, check_samples, sorted_symmetric_eigen, BaselineError, Distance, Embedder};

/// Relative tolerance below which a within-class variance or a between-class singular value counts
/// as zero.
const RANK_TOL: f64 = 1e-10;

/// A fitted linear discriminant projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Lda {
    mean: DVector<f64>,
    /// `k x p`: one discriminant direction per row.
    scalings_t: DMatrix<f64>,
}

impl Lda {
    /// Fits on `z` (`p x n`) with one label per column; needs at least two classes and more samples
    /// than classes. Keeps `min(C - 1, rank)` directions.
    pub fn fit(z: &DMatrix<f64>, labels: &[u32]) -> Result<Self, BaselineError> {
        check_samples("LDA training samples", z, None)?;
        let (p, n) = z.shape();
        if labels.len() != n {
            return Err(BaselineError::Labels {
                expected: n,
                found: labels.len(),
            });
        }
        let mut classes: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &l) in labels.iter().enumerate() {
            classes.entry(l).or_default().push(i);
        }
        let c = classes.len();
        if c < 2 {
            return Err(BaselineError::TooFew {
                what: "LDA classes",
                need: 2,
                found: c,
            });
        }
        if n <= c {
            return Err(BaselineError::TooFew {
                what: "LDA training samples (more than classes)",
                need: c + 1,
                found: n,
            });
        }
        let mean = z.column_mean();
        let mut within = z.clone();
        let mut between = DMatrix::zeros(p, c);
        for (k, members) in classes.values().enumerate() {
            let mut mu = DVector::zeros(p);
            for &i in members {
                mu += z.column(i);
            }
            mu /= members.len() as f64;
            for &i in members {
                let mut col = within.column_mut(i);
                col -= &mu;
            }
            let weight = (members.len() as f64 / (c - 1) as f64).sqrt();
            between.set_column(k, &((&mu - &mean) * weight));
        }
        let sw = &within * within.transpose() / n as f64;
        let (values, vectors) = sorted_symmetric_eigen(sw)?;
        if values[0] <= 0.0 {
            return Err(BaselineError::NoVariance {
                what: "LDA within-class",
            });
        }
        let r = values
            .iter()
            .take_while(|&&v| v > values[0] * RANK_TOL)
            .count();
        let whiten = DMatrix::from_fn(p, r, |i, j| vectors[(i, j)] / values[j].sqrt());
        let m = whiten.transpose() * between;
        let svd = m.svd(true, false);
        let u = svd.u.ok_or(BaselineError::NoConvergence { size: r })?;
        let s = &svd.singular_values;
        if s.is_empty() || s[0] <= 0.0 {
            return Err(BaselineError::NoVariance {
                what: "LDA between-class",
            });
        }
        let k = s
            .iter()
            .take_while(|&&v| v > s[0] * RANK_TOL)
            .count()
            .min(c - 1);
        let scalings = whiten * u.columns(0, k);
        Ok(Self {
            mean,
            scalings_t: scalings.transpose(),
        })
    }

    /// Number of discriminant directions kept, `k`.
    pub fn components(&self) -> usize {
        self.scalings_t.nrows()
    }

    /// Input dimension `p`.
    pub fn input_dim(&self) -> usize {
        self.scalings_t.ncols()
    }

    /// Discriminant coordinates of each column of `z` (`p x n`), `k x n`.
    pub fn project(&self, z: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        check_samples("LDA input", z, Some(self.input_dim()))?;
        Ok(&self.scalings_t * centered(z, &self.mean))
    }
}

/// Which PCA runs before the LDA.
///
/// On the ORL folds (56x46) the 95% PCA reproduces the reference row (EER 10.9 / 12.0 / 6.6 /
/// 10.4); Fisherfaces' `N - C` = 270 axes keeps 99.7% of the variance and overfits the 30
/// training people (EER 30.3 / 40.3 / 34.4 / 29.3, the same with scikit-learn).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LdaPca {
    /// Belhumeur's Fisherfaces: `N - C` axes (training samples minus classes), capped at the rank,
    /// so that the within-class covariance in PCA space is invertible.
    NMinusC,
    /// The PCA that keeps this fraction of the variance, as the PCA row.
    Variance(f64),
}

impl Default for LdaPca {
    /// The PCA keeping 95% of the variance, the one that reproduces the reference row.
    fn default() -> Self {
        LdaPca::Variance(REFERENCE_VARIANCE)
    }
}

/// PCA, then LDA on the PCA coordinates; compared with L2.
#[derive(Debug, Clone, PartialEq)]
pub struct FisherLda {
    pca: Pca,
    lda: Lda,
}

impl FisherLda {
    /// Fits the PCA chosen by `pca` on `x` (`d x n`), then the LDA on its coordinates.
    pub fn fit(x: &DMatrix<f64>, labels: &[u32], pca: LdaPca) -> Result<Self, BaselineError> {
        if labels.len() != x.ncols() {
            return Err(BaselineError::Labels {
                expected: x.ncols(),
                found: labels.len(),
            });
        }
        let keep = match pca {
            LdaPca::Variance(f) => Keep::Variance(f),
            LdaPca::NMinusC => {
                let classes = labels
                    .iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                Keep::UpTo(x.ncols().saturating_sub(classes).max(1))
            }
        };
        let pca = Pca::fit(x, keep)?;
        let lda = Lda::fit(&pca.project(x)?, labels)?;
        Ok(Self { pca, lda })
    }

    /// The PCA stage.
    pub fn pca(&self) -> &Pca {
        &self.pca
    }

    /// The LDA stage.
    pub fn lda(&self) -> &Lda {
        &self.lda
    }
}

impl Embedder for FisherLda {
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        self.lda.project(&self.pca.project(x)?)
    }

    fn distance(&self) -> Distance {
        Distance::L2
    }

    fn describe(&self) -> String {
        format!(
            "LDA {} dims on {}",
            self.lda.components(),
            self.pca.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::pca::tests::gaussian_in_subspace;

    #[test]
    fn separates_two_gaussian_classes() {
        // Two classes in 5 dims: huge within-class spread along axis 0, a small mean shift along
        // axis 1. L2 on raw coordinates is dominated by axis 0; LDA must pick axis 1.
        let basis = DMatrix::from_fn(5, 5, |r, c| (r == c) as u8 as f64);
        let scales = [10.0, 0.3, 0.3, 0.3, 0.3];
        let mut x = gaussian_in_subspace(&basis, &scales, 0.0, 200, 11);
        let labels: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
        for (j, &l) in labels.iter().enumerate() {
            x[(1, j)] += if l == 1 { 1.5 } else { -1.5 };
        }
        let lda = Lda::fit(&x, &labels).unwrap();
        assert_eq!(lda.components(), 1);
        let dir = lda.scalings_t.row(0).normalize();
        assert!(dir[1].abs() > 0.99, "direction {dir}");
        let z = lda.project(&x).unwrap();
        // Along the direction, class means are far apart in units of within-class spread (1).
        let mean_of = |l: u32| {
            labels
                .iter()
                .enumerate()
                .filter(|(_, &m)| m == l)
                .map(|(j, _)| z[(0, j)])
                .sum::<f64>()
                / 100.0
        };
        assert!((mean_of(0) - mean_of(1)).abs() > 8.0);
    }

    // Golden values from scikit-learn 1.9.1:
    // import numpy as np; from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as L
    // X = np.array([[1., 2, 0, 1], [2, 1, 1, 0], [0, 1, 2, 2], [3, 3, 1, 1], [2, 0, 0, 1],
    //               [1, 1, 1, 3], [4, 2, 3, 1], [5, 4, 2, 2], [4, 3, 4, 0], [6, 3, 3, 2],
    //               [0, 5, 1, 4], [1, 6, 0, 5]])
    // y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    // np.abs(L().fit(X, y).transform(X)).round(10)
    const SKLEARN_X: [[f64; 4]; 12] = [
        [1., 2., 0., 1.],
        [2., 1., 1., 0.],
        [0., 1., 2., 2.],
        [3., 3., 1., 1.],
        [2., 0., 0., 1.],
        [1., 1., 1., 3.],
        [4., 2., 3., 1.],
        [5., 4., 2., 2.],
        [4., 3., 4., 0.],
        [6., 3., 3., 2.],
        [0., 5., 1., 4.],
        [1., 6., 0., 5.],
    ];
    const SKLEARN_ABS_TRANSFORM: [[f64; 2]; 12] = [
        [1.970_361_540_7, 1.214_805_948_7],
        [2.230_119_494_5, 0.762_982_591_5],
        [0.525_965_217, 0.193_660_463_5],
        [0.642_132_491_4, 0.818_472_488_1],
        [2.585_917_249_6, 1.485_254_149_6],
        [0.351_427_557_9, 1.845_637_131_7],
        [0.423_319_364_3, 0.601_011_870_7],
        [1.361_784_439, 0.700_976_636_4],
        [0.779_117_119_4, 1.647_224_870_4],
        [1.777_714_366_2, 2.275_915_657_6],
        [1.703_743_447_7, 1.670_640_132_1],
        [2.260_244_814_6, 0.601_008_951_7],
    ];

    #[test]
    fn matches_scikit_learn() {
        let x = DMatrix::from_fn(4, 12, |r, c| SKLEARN_X[c][r]);
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        let lda = Lda::fit(&x, &labels).unwrap();
        let z = lda.project(&x).unwrap();
        assert_eq!(z.shape(), (2, 12));
        for j in 0..12 {
            for i in 0..2 {
                let want = SKLEARN_ABS_TRANSFORM[j][i];
                assert!(
                    (z[(i, j)].abs() - want).abs() < 1e-8,
                    "({i}, {j}): {} vs {want}",
                    z[(i, j)]
                );
            }
        }
    }

    #[test]
    fn fisher_lda_pca_choices() {
        let basis = DMatrix::from_fn(30, 6, |r, c| (r == c * 5) as u8 as f64);
        let x = gaussian_in_subspace(&basis, &[5.0, 4.0, 3.0, 2.0, 1.0, 0.5], 0.01, 24, 12);
        let labels: Vec<u32> = (0..24).map(|i| (i / 6) as u32).collect();
        let f = FisherLda::fit(&x, &labels, LdaPca::NMinusC).unwrap();
        assert_eq!(f.pca().components(), 20);
        assert_eq!(f.lda().components(), 3);
        assert_eq!(f.embed(&x).unwrap().shape(), (3, 24));
        let f = FisherLda::fit(&x, &labels, LdaPca::default()).unwrap();
        assert!(f.pca().components() <= 6);
    }

    #[test]
    fn needs_classes_and_labels() {
        let x = DMatrix::from_fn(2, 4, |r, c| (r + c) as f64);
        assert!(matches!(
            Lda::fit(&x, &[0, 0, 0, 0]),
            Err(BaselineError::TooFew { .. })
        ));
        assert!(matches!(
            Lda::fit(&x, &[0, 1]),
            Err(BaselineError::Labels { .. })
        ));
        assert!(matches!(
            Lda::fit(&x, &[0, 1, 2, 3]),
            Err(BaselineError::TooFew { .. })
        ));
    }
}
