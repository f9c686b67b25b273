//! Principal component analysis, fitted on training samples, compared with L2.
//!
//! Centres on the training mean and keeps the leading principal axes: as many as are needed for
//! the kept variance to exceed a fraction (scikit-learn's `PCA(n_components=0.95)` rule: the
//! smallest `k` whose cumulative explained-variance ratio is strictly above 0.95), or a fixed
//! count.
//! With fewer samples than dimensions (faces: 300 images of 2,576 pixels) the axes come from the
//! `n x n` Gram matrix of the centred samples (`u_i = Xc v_i / sqrt(lambda_i)`), otherwise from the
//! `d x d` covariance; both by a symmetric eigen-decomposition. Explained variances use `n - 1`.
//!
//! When not: the distances are the Euclidean distances between reconstructions, so PCA alone only
//! removes noise directions; it does not learn who is who (see [`super::lda`]).

use nalgebra::{DMatrix, DVector};

use super::{centered, check_samples, sorted_symmetric_eigen, BaselineError, Distance, Embedder};

/// The fraction of variance the reference keeps.
pub const REFERENCE_VARIANCE: f64 = 0.95;

/// How many principal axes to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// The fewest axes whose cumulative explained-variance ratio is strictly above this fraction,
    /// in `(0, 1)`.
    Variance(f64),
    /// Exactly this many axes, at least 1 and at most the rank of the centred training data.
    Components(usize),
    /// This many axes (at least 1), or the rank of the centred training data if it is smaller.
    UpTo(usize),
}

/// A fitted PCA: mean, orthonormal axes and the variance along each.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    mean: DVector<f64>,
    /// `k x d`: one axis per row (the transpose of the axes as columns), ready to multiply.
    axes_t: DMatrix<f64>,
    variances: DVector<f64>,
    total_variance: f64,
    rank: usize,
}

impl Pca {
    /// Fits on `x` (`d x n`, `n >= 2`, finite values).
    pub fn fit(x: &DMatrix<f64>, keep: Keep) -> Result<Self, BaselineError> {
        check_samples("PCA training samples", x, None)?;
        let (d, n) = x.shape();
        if n < 2 {
            return Err(BaselineError::TooFew {
                what: "PCA training samples",
                need: 2,
                found: n,
            });
        }
        let mean = x.column_mean();
        let xc = centered(x, &mean);
        let dof = (n - 1) as f64;
        let total_variance = xc.norm_squared() / dof;
        if total_variance == 0.0 {
            return Err(BaselineError::NoVariance { what: "PCA" });
        }
        let gram = n <= d;
        let (values, vectors) = if gram {
            sorted_symmetric_eigen(xc.transpose() * &xc)?
        } else {
            sorted_symmetric_eigen(&xc * xc.transpose())?
        };
        let tol = values[0].max(0.0) * (d.max(n) as f64) * f64::EPSILON;
        let rank = values
            .iter()
            .take_while(|&&v| v > tol)
            .count()
            .min(n - 1)
            .max(1);
        let variances_all: Vec<f64> = values.iter().take(rank).map(|v| v / dof).collect();
        let k = match keep {
            Keep::Variance(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(BaselineError::Parameter {
                        what: "PCA variance",
                        value: f,
                        range: "(0, 1)",
                    });
                }
                let mut cum = 0.0;
                variances_all
                    .iter()
                    .position(|v| {
                        cum += v;
                        cum / total_variance > f
                    })
                    .map_or(rank, |i| i + 1)
            }
            Keep::Components(k) => {
                if k == 0 || k > rank {
                    return Err(BaselineError::Parameter {
                        what: "PCA components",
                        value: k as f64,
                        range: "1 ..= rank of the centred training data",
                    });
                }
                k
            }
            Keep::UpTo(k) => {
                if k == 0 {
                    return Err(BaselineError::Parameter {
                        what: "PCA components",
                        value: 0.0,
                        range: ">= 1",
                    });
                }
                k.min(rank)
            }
        };
        let axes = if gram {
            let scaled = DMatrix::from_fn(n, k, |r, c| vectors[(r, c)] / values[c].sqrt());
            &xc * scaled
        } else {
            vectors.columns(0, k).into_owned()
        };
        Ok(Self {
            mean,
            axes_t: axes.transpose(),
            variances: DVector::from_vec(variances_all[..k].to_vec()),
            total_variance,
            rank,
        })
    }

    /// Number of axes kept, `k`.
    pub fn components(&self) -> usize {
        self.axes_t.nrows()
    }

    /// Input dimension `d`.
    pub fn input_dim(&self) -> usize {
        self.axes_t.ncols()
    }

    /// Variance of the training data along each kept axis (`k` values, descending, `n - 1`
    /// denominator): scikit-learn's `explained_variance_`.
    pub fn variances(&self) -> &DVector<f64> {
        &self.variances
    }

    /// Fraction of the total training variance the kept axes explain, in `(0, 1]`.
    pub fn explained_ratio(&self) -> f64 {
        self.variances.sum() / self.total_variance
    }

    /// Rank of the centred training data (axes with non-negligible variance).
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The kept axes, `k x d`, one unit-norm axis per row.
    pub fn axes(&self) -> &DMatrix<f64> {
        &self.axes_t
    }

    /// Coordinates of each column of `x` (`d x n`) on the kept axes, `k x n`.
    pub fn project(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        check_samples("PCA input", x, Some(self.input_dim()))?;
        Ok(&self.axes_t * centered(x, &self.mean))
    }
}

impl Embedder for Pca {
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        self.project(x)
    }

    fn distance(&self) -> Distance {
        Distance::L2
    }

    fn describe(&self) -> String {
        format!(
            "PCA {} of {} dims, {:.1}% of variance",
            self.components(),
            self.input_dim(),
            100.0 * self.explained_ratio()
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` samples in `d` dims: `scales[i] * N(0,1)` along orthonormal axes `basis` (`d x m`), plus
    /// `noise * N(0,1)` in every dim.
    pub(crate) fn gaussian_in_subspace(
        basis: &DMatrix<f64>,
        scales: &[f64],
        noise: f64,
        n: usize,
        seed: u64,
    ) -> DMatrix<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = move || -> f64 {
            // Box-Muller.
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let d = basis.nrows();
        DMatrix::from_fn(d, n, |_, _| noise * normal())
            + basis * DMatrix::from_fn(scales.len(), n, |i, _| scales[i] * normal())
    }

    fn orthonormal(d: usize, m: usize) -> DMatrix<f64> {
        let a = DMatrix::from_fn(d, m, |r, c| {
            ((r * 7 + c * 13) % 11) as f64 - 5.0 + (r == c) as u8 as f64
        });
        a.qr().q()
    }

    /// |cos| of the principal angles between span(a) and span(b) (both orthonormal columns).
    fn subspace_cosines(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Vec<f64> {
        (a.transpose() * b)
            .svd(false, false)
            .singular_values
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn recovers_a_known_subspace_both_ways() {
        let basis = orthonormal(20, 3);
        // n > d uses the covariance, n < d the Gram matrix.
        for (n, seed) in [(400, 1), (15, 2)] {
            let x = gaussian_in_subspace(&basis, &[5.0, 3.0, 2.0], 0.01, n, seed);
            let pca = Pca::fit(&x, Keep::Variance(0.95)).unwrap();
            assert_eq!(pca.components(), 3, "n = {n}");
            assert!(pca.explained_ratio() > 0.99);
            let axes = pca.axes().transpose();
            let gram = axes.transpose() * &axes;
            assert!(
                (gram - DMatrix::identity(3, 3)).abs().max() < 1e-9,
                "axes are orthonormal"
            );
            for c in subspace_cosines(&axes, &basis) {
                assert!(c > 0.999, "n = {n}: principal angle cosine {c}");
            }
            let v = pca.variances();
            assert!(v[0] >= v[1] && v[1] >= v[2]);
        }
    }

    #[test]
    fn gram_and_covariance_agree() {
        let basis = orthonormal(12, 4);
        let x = gaussian_in_subspace(&basis, &[4.0, 3.0, 2.0, 1.0], 0.1, 12, 3);
        let by_gram = Pca::fit(&x, Keep::Components(4)).unwrap();
        // 13 samples > 12 dims forces the covariance path; drop the last to compare on the same 12.
        let mut wider = x.clone().insert_column(12, 0.0);
        wider.set_column(12, &x.column_mean());
        let by_cov = Pca::fit(&wider, Keep::Components(4)).unwrap();
        // Adding the mean as a sample keeps the axes and scales the variances by 11/12.
        for i in 0..4 {
            let dot = by_gram.axes().row(i).dot(&by_cov.axes().row(i)).abs();
            assert!((dot - 1.0).abs() < 1e-9, "axis {i}: |cos| = {dot}");
            assert!((by_cov.variances()[i] - by_gram.variances()[i] * 11.0 / 12.0).abs() < 1e-9);
        }
    }

    // Golden values from scikit-learn 1.9.1:
    // import numpy as np; from sklearn.decomposition import PCA
    // X = np.array([[2., 0, 1], [0, 1, 3], [4, 1, 0], [3, 3, 3], [1, 0, 0]])
    // p = PCA(n_components=0.95).fit(X)
    // p.n_components_, p.explained_variance_, p.transform(X)[:, 0]
    // -> 2, [3.28357341, 2.89272241],
    //    [-0.73949555, 2.10375429, -1.93929862, 1.74275932, -1.16771944]
    const SKLEARN_COMPONENTS: usize = 2;
    const SKLEARN_VARIANCES: [f64; 2] = [3.283_573_41, 2.892_722_41];
    const SKLEARN_FIRST_COORD: [f64; 5] = [
        -0.739_495_55,
        2.103_754_29,
        -1.939_298_62,
        1.742_759_32,
        -1.167_719_44,
    ];

    #[test]
    fn matches_scikit_learn() {
        let x = DMatrix::from_row_slice(
            3,
            5,
            &[
                2.0, 0.0, 4.0, 3.0, 1.0, 0.0, 1.0, 1.0, 3.0, 0.0, 1.0, 3.0, 0.0, 3.0, 0.0,
            ],
        );
        let pca = Pca::fit(&x, Keep::Variance(0.95)).unwrap();
        assert_eq!(pca.components(), SKLEARN_COMPONENTS);
        for (a, b) in pca.variances().iter().zip(SKLEARN_VARIANCES) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
        let z = pca.project(&x).unwrap();
        for (j, b) in SKLEARN_FIRST_COORD.iter().enumerate() {
            assert!(
                (z[(0, j)].abs() - b.abs()).abs() < 1e-8,
                "{} vs {b}",
                z[(0, j)]
            );
        }
    }

    #[test]
    fn bad_parameters() {
        let x = DMatrix::from_column_slice(2, 3, &[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
        assert!(Pca::fit(&x, Keep::Variance(1.0)).is_err());
        assert!(Pca::fit(&x, Keep::Components(3)).is_err());
        assert!(Pca::fit(&DMatrix::zeros(2, 3), Keep::Variance(0.9)).is_err());
        assert!(Pca::fit(&DMatrix::zeros(2, 1), Keep::Variance(0.9)).is_err());
        let p = Pca::fit(&x, Keep::Components(2)).unwrap();
        assert!(p.project(&DMatrix::zeros(3, 1)).is_err());
    }
}
