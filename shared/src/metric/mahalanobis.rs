//! Mahalanobis distance: `sqrt((a - b)^T M (a - b))` for a weight matrix `M`, usually the
//! inverse covariance of the embeddings of one identity (within-class scatter).
//!
//! [`mahalanobis_diag`] takes only the diagonal of `M` (per-dimension inverse variances, the form
//! a model file carries); [`mahalanobis`] takes the full `d x d` matrix, row-major. `M` must be
//! positive semi-definite; a negative quadratic form (an indefinite `M`, or rounding) is clamped
//! to 0, so the distance is always `>= 0`.

use super::float::same_len;
use crate::error::FormatError;

/// `Σ w_i (a_i - b_i)^2` over four lanes; the three slices have one length.
fn weighted_sq_sum(a: &[f32], b: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = a
        .chunks_exact(4)
        .zip(b.chunks_exact(4))
        .zip(w.chunks_exact(4));
    for ((x, y), w) in chunks {
        for (((acc, x), y), w) in acc.iter_mut().zip(x).zip(y).zip(w) {
            *acc += w * (x - y) * (x - y);
        }
    }
    let done = a.len() - a.len() % 4;
    let tail: f32 = a
        .iter()
        .zip(b)
        .zip(w)
        .skip(done)
        .map(|((x, y), w)| w * (x - y) * (x - y))
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `Σ_j row_j (a_j - b_j)` over four lanes (one element of `M (a - b)`); one length.
fn row_times_diff(row: &[f32], a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = row
        .chunks_exact(4)
        .zip(a.chunks_exact(4))
        .zip(b.chunks_exact(4));
    for ((m, x), y) in chunks {
        for (((acc, m), x), y) in acc.iter_mut().zip(m).zip(x).zip(y) {
            *acc += m * (x - y);
        }
    }
    let done = a.len() - a.len() % 4;
    let tail: f32 = row
        .iter()
        .zip(a)
        .zip(b)
        .skip(done)
        .map(|((m, x), y)| m * (x - y))
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `sqrt(Σ w_i (a_i - b_i)^2)` with `w` the diagonal of `M` (inverse variances, `>= 0`), all three
/// of one length `d`. Units: those of the inputs times `sqrt(w)`.
pub fn mahalanobis_diag(a: &[f32], b: &[f32], w: &[f32]) -> Result<f32, FormatError> {
    same_len(a, b)?;
    same_len(a, w)?;
    Ok(libm::sqrtf(weighted_sq_sum(a, b, w).max(0.0)))
}

/// Like [`mahalanobis_diag`], with the diagonal given as an iterator of exactly `a.len()` values
/// (a model's borrowed little-endian diagonal).
pub(crate) fn mahalanobis_diag_iter(
    a: &[f32],
    b: &[f32],
    w: impl ExactSizeIterator<Item = f32>,
) -> Result<f32, FormatError> {
    same_len(a, b)?;
    if w.len() != a.len() {
        return Err(FormatError::DimensionMismatch {
            expected: a.len(),
            found: w.len(),
        });
    }
    let q: f32 = a
        .iter()
        .zip(b)
        .zip(w)
        .map(|((x, y), w)| w * (x - y) * (x - y))
        .sum();
    Ok(libm::sqrtf(q.max(0.0)))
}

/// One term `w * (p - r)^2` of the diagonal form between int8 values `a` (step `sa`) and `b`
/// (step `sb`), with `p = a * sa`, `r = b * sb` in f32. The int8 form is the f32 sum of these
/// terms in element order (see [`Metric::distance_i8`](super::Metric::distance_i8)), and the
/// distance [`mahalanobis_from_form`] of that sum.
pub fn mahalanobis_diag_i8_term(w: f32, a: i8, sa: f32, b: i8, sb: f32) -> f32 {
    let (p, r) = (f32::from(a) * sa, f32::from(b) * sb);
    w * (p - r) * (p - r)
}

/// The distance from a quadratic form `q = (a - b)^T M (a - b)`: `sqrt(max(q, 0))`.
pub fn mahalanobis_from_form(q: f32) -> f32 {
    libm::sqrtf(q.max(0.0))
}

/// `sqrt((a - b)^T M (a - b))` with `m` the `d x d` matrix `M` in row-major order
/// (`m[i * d + j] = M_ij`), `d = a.len() = b.len()`; `m.len()` must be `d * d`. Costs `d^2`
/// multiply-adds and no allocation.
pub fn mahalanobis(a: &[f32], b: &[f32], m: &[f32]) -> Result<f32, FormatError> {
    same_len(a, b)?;
    let d = a.len();
    let cells = d.saturating_mul(d);
    if m.len() != cells {
        return Err(FormatError::DimensionMismatch {
            expected: cells,
            found: m.len(),
        });
    }
    if d == 0 {
        return Ok(0.0);
    }
    let mut q = 0.0f32;
    for ((x, y), row) in a.iter().zip(b).zip(m.chunks_exact(d)) {
        q += (x - y) * row_times_diff(row, a, b);
    }
    Ok(libm::sqrtf(q.max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_and_full_agree() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [0.0, 2.0, 1.0, 4.0, 7.0];
        let w = [4.0, 1.0, 0.25, 2.0, 1.0];
        // 4*1 + 0 + 0.25*4 + 0 + 1*4 = 9
        assert_eq!(mahalanobis_diag(&a, &b, &w), Ok(3.0));
        let mut m = [0.0f32; 25];
        for (i, w) in w.iter().enumerate() {
            m[i * 5 + i] = *w;
        }
        assert_eq!(mahalanobis(&a, &b, &m), Ok(3.0));
        assert_eq!(mahalanobis_diag_iter(&a, &b, w.iter().copied()), Ok(3.0));
        // Off-diagonal: M = [[2, 1], [1, 2]], diff = (1, 1): q = 6.
        assert_eq!(
            mahalanobis(&[1.0, 1.0], &[0.0, 0.0], &[2.0, 1.0, 1.0, 2.0]),
            Ok(6.0f32.sqrt())
        );
        assert_eq!(
            mahalanobis(&[1.0, 1.0], &[0.0, 0.0], &[2.0, 1.0, 1.0]),
            Err(FormatError::DimensionMismatch {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            mahalanobis_diag(&a, &b, &w[..4]),
            Err(FormatError::DimensionMismatch {
                expected: 5,
                found: 4
            })
        );
        // An indefinite M gives a negative form, clamped to 0.
        assert_eq!(
            mahalanobis(&[1.0, 0.0], &[0.0, 0.0], &[-1.0, 0.0, 0.0, 1.0]),
            Ok(0.0)
        );
    }
}
