//! Whitened PCA: L2 between whitened PCA coordinates is the Mahalanobis distance in PCA space.
//!
//! Each kept PCA coordinate is divided by the standard deviation of the training data along its
//! axis (scikit-learn's `PCA(whiten=True)`), so every kept direction counts equally. When not: on
//! faces this lets the low-variance axes (noise, small shifts) weigh as much as the
//! identity-bearing ones; the reference row is markedly worse than plain PCA, which is the point
//! of having it.

use nalgebra::{DMatrix, DVector};

use super::pca::{Keep, Pca};
use super::{BaselineError, Distance, Embedder};

/// A PCA whose coordinates are scaled to unit training variance.
#[derive(Debug, Clone, PartialEq)]
pub struct Mahalanobis {
    pca: Pca,
    inv_sd: DVector<f64>,
}

impl Mahalanobis {
    /// Fits the PCA on `x` (`d x n`) keeping `keep` axes, then the per-axis scales.
    pub fn fit(x: &DMatrix<f64>, keep: Keep) -> Result<Self, BaselineError> {
        let pca = Pca::fit(x, keep)?;
        let inv_sd = pca.variances().map(|v| 1.0 / v.sqrt());
        Ok(Self { pca, inv_sd })
    }

    /// The underlying PCA.
    pub fn pca(&self) -> &Pca {
        &self.pca
    }
}

impl Embedder for Mahalanobis {
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        let mut z = self.pca.project(x)?;
        for mut col in z.column_iter_mut() {
            col.component_mul_assign(&self.inv_sd);
        }
        Ok(z)
    }

    fn distance(&self) -> Distance {
        Distance::L2
    }

    fn describe(&self) -> String {
        format!("whitened {}", self.pca.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::pca::tests::gaussian_in_subspace;

    #[test]
    fn whitened_training_data_has_identity_covariance() {
        let basis = DMatrix::from_fn(6, 2, |r, c| (r == c) as u8 as f64);
        let x = gaussian_in_subspace(&basis, &[10.0, 1.0], 0.01, 200, 7);
        let m = Mahalanobis::fit(&x, Keep::Components(2)).unwrap();
        let z = m.embed(&x).unwrap();
        let cov = &z * z.transpose() / 199.0;
        assert!((cov - DMatrix::<f64>::identity(2, 2)).abs().max() < 1e-9);
    }

    #[test]
    fn equals_mahalanobis_distance_in_pca_space() {
        // d^2 = sum_i (z_i(a) - z_i(b))^2 / var_i, computed from the PCA coordinates directly.
        let basis = DMatrix::from_fn(5, 3, |r, c| (r == c) as u8 as f64);
        let x = gaussian_in_subspace(&basis, &[3.0, 2.0, 1.0], 0.0, 50, 8);
        let m = Mahalanobis::fit(&x, Keep::Components(3)).unwrap();
        let z = m.pca().project(&x).unwrap();
        let w = m.embed(&x).unwrap();
        let v = m.pca().variances();
        let direct: f64 = (0..3)
            .map(|i| (z[(i, 4)] - z[(i, 9)]).powi(2) / v[i])
            .sum::<f64>()
            .sqrt();
        assert!((m.distance().between_columns(&w, 4, 9) - direct).abs() < 1e-12);
    }
}
