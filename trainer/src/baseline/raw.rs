//! Raw pixels compared with L2: the embedding is the image itself.
//!
//! Fits nothing. It is the floor every other row of the table has to clear.

use nalgebra::DMatrix;

use super::{check_samples, BaselineError, Distance, Embedder};

/// The identity embedding of `dim`-pixel images, compared with L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPixels {
    dim: usize,
}

impl RawPixels {
    /// For images of `dim` pixels.
    pub fn new(dim: usize) -> Self {
        Self { dim }
    }
}

impl Embedder for RawPixels {
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        check_samples("raw pixels", x, Some(self.dim))?;
        Ok(x.clone())
    }

    fn distance(&self) -> Distance {
        Distance::L2
    }

    fn describe(&self) -> String {
        format!("{} pixels", self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_l2() {
        let x = DMatrix::from_column_slice(2, 2, &[0.0, 0.0, 0.6, 0.8]);
        let r = RawPixels::new(2);
        let e = r.embed(&x).unwrap();
        assert_eq!(e, x);
        assert!((r.distance().between_columns(&e, 0, 1) - 1.0).abs() < 1e-15);
        assert!(r.embed(&DMatrix::zeros(3, 1)).is_err());
    }
}
