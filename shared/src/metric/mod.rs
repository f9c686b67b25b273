//! Distances between embeddings, and the match probability derived from a distance.
//!
//! [`Metric`] is what a model file says its embeddings are compared with; its methods compare f32
//! slices ([`Metric::distance`]) or int8 embeddings ([`Metric::distance_i8`], which also refuses
//! embeddings of two different models). The free functions are the building blocks: f32 slices
//! ([`squared_l2`], [`l2`], [`cosine_distance`], [`l1`], [`mahalanobis`], [`mahalanobis_diag`]),
//! exact integer sums over int8 slices ([`squared_l2_i8`], [`l1_i8`], [`dot_i8`]), the one
//! conversion of those sums to real distances ([`squared_l2_from_i8_sum`], [`l2_from_i8_sum`],
//! [`l1_from_i8_sum`], [`cosine_from_i8_sums`], and per term for the diagonal Mahalanobis form,
//! [`mahalanobis_diag_i8_term`] and [`mahalanobis_from_form`]) and [`logistic_probability`]. None allocates or panics; a length mismatch is
//! [`FormatError::DimensionMismatch`].

mod float;
mod int8;
mod mahalanobis;
mod probability;

pub use float::{cosine_distance, l1, l2, squared_l2};
pub use int8::{
    dot_i8, l1_from_i8_sum, l1_i8, l2_from_i8_sum, squared_l2_from_i8_sum, squared_l2_i8,
};
pub use mahalanobis::{
    mahalanobis, mahalanobis_diag, mahalanobis_diag_i8_term, mahalanobis_from_form,
};
pub use probability::logistic_probability;

use crate::embedding::EmbeddingRef;
use crate::error::FormatError;
use crate::le::LeF32Slice;
use float::cosine_from_sums;
use mahalanobis::mahalanobis_diag_iter;

/// Cosine distance between two int8 embeddings from their exact sums `dot = Σ a b`,
/// `na = Σ a^2`, `nb = Σ b^2` and steps `sa`, `sb`: `1 - dot sa sb / (|a| |b|)` in f64, clamped
/// into `0..=2`, rounded once to f32; 1 when either norm is zero.
pub fn cosine_from_i8_sums(dot: i32, na: i32, nb: i32, sa: f32, sb: f32) -> f32 {
    let (sa, sb) = (f64::from(sa), f64::from(sb));
    cosine_from_sums(
        f64::from(dot) * sa * sb,
        f64::from(na) * sa * sa,
        f64::from(nb) * sb * sb,
    )
}

/// How two embeddings are compared. Every distance is `>= 0`, and 0 for identical inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric<'a> {
    /// `Σ (a_i - b_i)^2` (squared units).
    SquaredL2,
    /// `sqrt(Σ (a_i - b_i)^2)`.
    L2,
    /// `1 - a·b / (|a| |b|)`, in `0..=2`.
    Cosine,
    /// `Σ |a_i - b_i|`.
    L1,
    /// `sqrt(Σ w_i (a_i - b_i)^2)` with `w` the diagonal of the inverse covariance, one finite
    /// value `>= 0` per embedding dimension, borrowed as little-endian f32 bytes.
    MahalanobisDiag(LeF32Slice<'a>),
}

impl Metric<'_> {
    /// Lowercase name, e.g. `"squared_l2"`.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::SquaredL2 => "squared_l2",
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::L1 => "l1",
            Metric::MahalanobisDiag(_) => "mahalanobis_diag",
        }
    }

    /// The distance between two f32 vectors of equal length (for `MahalanobisDiag`, also the
    /// diagonal's length).
    pub fn distance(&self, a: &[f32], b: &[f32]) -> Result<f32, FormatError> {
        match self {
            Metric::SquaredL2 => squared_l2(a, b),
            Metric::L2 => l2(a, b),
            Metric::Cosine => cosine_distance(a, b),
            Metric::L1 => l1(a, b),
            Metric::MahalanobisDiag(w) => mahalanobis_diag_iter(a, b, w.iter()),
        }
    }

    /// The distance between the real values of two int8 embeddings (`scale * q`).
    ///
    /// Errors: [`FormatError::ModelMismatch`] when they come from different models (`expected`
    /// is `a`'s model), [`FormatError::DimensionMismatch`] when their lengths differ, and
    /// [`FormatError::CapacityExceeded`] past [`MAX_EMBEDDING_DIM`](crate::MAX_EMBEDDING_DIM)
    /// elements. With equal scales, squared L2, L2 and L1 come from exact integer sums times the
    /// scale, and cosine always does; other cases sum the real values in f32.
    pub fn distance_i8(
        &self,
        a: EmbeddingRef<'_>,
        b: EmbeddingRef<'_>,
    ) -> Result<f32, FormatError> {
        if a.model != b.model {
            return Err(FormatError::ModelMismatch {
                expected: a.model,
                found: b.model,
            });
        }
        let (x, y) = (a.values, b.values);
        // Checks the lengths and the element bound once for every arm.
        let dot = dot_i8(x, y)?;
        let (sa, sb) = (a.scale, b.scale);
        let same_scale = sa == sb;
        let reals = || {
            x.iter()
                .zip(y)
                .map(|(p, r)| (f32::from(*p) * sa, f32::from(*r) * sb))
        };
        let squared = || -> Result<f32, FormatError> {
            if same_scale {
                Ok(squared_l2_from_i8_sum(squared_l2_i8(x, y)?, sa))
            } else {
                Ok(reals().map(|(p, r)| (p - r) * (p - r)).sum())
            }
        };
        match self {
            Metric::SquaredL2 => squared(),
            Metric::L2 => squared().map(libm::sqrtf),
            Metric::L1 => {
                if same_scale {
                    Ok(l1_from_i8_sum(l1_i8(x, y)?, sa))
                } else {
                    Ok(reals().map(|(p, r)| libm::fabsf(p - r)).sum())
                }
            }
            Metric::Cosine => Ok(cosine_from_i8_sums(
                dot,
                dot_i8(x, x)?,
                dot_i8(y, y)?,
                sa,
                sb,
            )),
            Metric::MahalanobisDiag(w) => {
                if w.len() != x.len() {
                    return Err(FormatError::DimensionMismatch {
                        expected: x.len(),
                        found: w.len(),
                    });
                }
                let q: f32 = x
                    .iter()
                    .zip(y)
                    .zip(w.iter())
                    .map(|((p, r), w)| mahalanobis_diag_i8_term(w, *p, sa, *r, sb))
                    .sum();
                Ok(mahalanobis_from_form(q))
            }
        }
    }
}
