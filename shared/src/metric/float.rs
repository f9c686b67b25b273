//! Distances between f32 vectors: squared L2, L2, cosine, L1.
//!
//! Each function takes two slices of equal length (any length, including 0) and returns
//! [`FormatError::DimensionMismatch`] otherwise. Sums run in f32 over four interleaved lanes;
//! the rounding error is at most about `(n / 4 + 2) * 2^-24` times the sum of the absolute terms,
//! which the property tests check against an f64 reference.

use crate::error::FormatError;

/// Errors unless `a` and `b` have the same length.
pub(crate) fn same_len<T, U>(a: &[T], b: &[U]) -> Result<(), FormatError> {
    if a.len() == b.len() {
        Ok(())
    } else {
        Err(FormatError::DimensionMismatch {
            expected: a.len(),
            found: b.len(),
        })
    }
}

/// `Σ f(a_i, b_i)` over four lanes.
pub(crate) fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((acc, x), y) in acc.iter_mut().zip(x).zip(y) {
            *acc += f(*x, *y);
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| f(*x, *y)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Squared Euclidean distance `Σ (a_i - b_i)^2`, in squared units of the inputs; `>= 0`.
pub fn squared_l2(a: &[f32], b: &[f32]) -> Result<f32, FormatError> {
    same_len(a, b)?;
    Ok(lane_sum(a, b, |x, y| (x - y) * (x - y)))
}

/// Euclidean distance `sqrt(Σ (a_i - b_i)^2)`, in units of the inputs; `>= 0`.
pub fn l2(a: &[f32], b: &[f32]) -> Result<f32, FormatError> {
    squared_l2(a, b).map(libm::sqrtf)
}

/// Manhattan distance `Σ |a_i - b_i|`, in units of the inputs; `>= 0`.
pub fn l1(a: &[f32], b: &[f32]) -> Result<f32, FormatError> {
    same_len(a, b)?;
    Ok(lane_sum(a, b, |x, y| libm::fabsf(x - y)))
}

/// Cosine distance `1 - a·b / (|a| |b|)`, in `0.0..=2.0` (0: same direction, 1: orthogonal,
/// 2: opposite). When either vector is all zeros the direction is undefined and the distance is
/// `1.0`. The result is clamped into `0.0..=2.0` against rounding.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> Result<f32, FormatError> {
    same_len(a, b)?;
    let dot = lane_sum(a, b, |x, y| x * y);
    let na = lane_sum(a, a, |x, _| x * x);
    let nb = lane_sum(b, b, |x, _| x * x);
    Ok(cosine_from_sums(
        f64::from(dot),
        f64::from(na),
        f64::from(nb),
    ))
}

/// `1 - dot / sqrt(na * nb)` clamped into `0..=2`, or 1 when a norm is zero.
pub(crate) fn cosine_from_sums(dot: f64, na: f64, nb: f64) -> f32 {
    if na <= 0.0 || nb <= 0.0 {
        return 1.0;
    }
    let d = 1.0 - dot / (libm::sqrt(na) * libm::sqrt(nb));
    d.clamp(0.0, 2.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 0.0, 3.0, 8.0, 2.0];
        assert_eq!(squared_l2(&a, &b), Ok(29.0));
        assert_eq!(l1(&a, &b), Ok(9.0));
        assert_eq!(l2(&[0.0, 0.0], &[3.0, 4.0]), Ok(5.0));
        assert_eq!(cosine_distance(&[1.0, 0.0], &[0.0, 2.0]), Ok(1.0));
        assert_eq!(cosine_distance(&[1.0, 1.0], &[-2.0, -2.0]), Ok(2.0));
        assert_eq!(cosine_distance(&[3.0, 4.0], &[6.0, 8.0]), Ok(0.0));
        assert_eq!(cosine_distance(&[0.0, 0.0], &[6.0, 8.0]), Ok(1.0));
        assert_eq!(squared_l2(&[], &[]), Ok(0.0));
        assert_eq!(
            l1(&a, &b[..4]),
            Err(FormatError::DimensionMismatch {
                expected: 5,
                found: 4
            })
        );
    }
}
