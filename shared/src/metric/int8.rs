//! Exact integer sums over int8 vectors, the firmware's fast path.
//!
//! With `n <=` [`MAX_EMBEDDING_DIM`] (1024) elements the sums cannot overflow: `Σ (a-b)^2 <=
//! 1024 * 255^2 < 2^27`, `Σ |a-b| <= 1024 * 255`, `|Σ a b| <= 1024 * 128^2 = 2^24`. Longer inputs
//! return [`FormatError::CapacityExceeded`] rather than risk it. The results are exact; convert
//! them to real distances with the embedding scale (`squared_l2 = scale^2 * Σ (a-b)^2`,
//! `l1 = scale * Σ |a-b|`) with [`squared_l2_from_i8_sum`], [`l2_from_i8_sum`] and
//! [`l1_from_i8_sum`], the one formula [`Metric::distance_i8`](super::Metric::distance_i8) and
//! every other exact int8 path (e.g. a host's gallery index) share.

use super::float::same_len;
use crate::embedding::MAX_EMBEDDING_DIM;
use crate::error::FormatError;

fn check(a: &[i8], b: &[i8]) -> Result<(), FormatError> {
    same_len(a, b)?;
    if a.len() > MAX_EMBEDDING_DIM {
        return Err(FormatError::CapacityExceeded {
            what: "int8 metric inputs",
            capacity: MAX_EMBEDDING_DIM,
        });
    }
    Ok(())
}

/// `Σ (a_i - b_i)^2`, exact, in squared int8 steps.
pub fn squared_l2_i8(a: &[i8], b: &[i8]) -> Result<u32, FormatError> {
    check(a, b)?;
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = i32::from(*x) - i32::from(*y);
            d.unsigned_abs() * d.unsigned_abs()
        })
        .sum())
}

/// `Σ |a_i - b_i|`, exact, in int8 steps.
pub fn l1_i8(a: &[i8], b: &[i8]) -> Result<u32, FormatError> {
    check(a, b)?;
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| (i32::from(*x) - i32::from(*y)).unsigned_abs())
        .sum())
}

/// `Σ a_i b_i`, exact, in squared int8 steps.
pub fn dot_i8(a: &[i8], b: &[i8]) -> Result<i32, FormatError> {
    check(a, b)?;
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum())
}

/// Squared L2 between two int8 embeddings of one `scale` from their exact `sum = Σ (a-b)^2`:
/// `scale^2 * sum`, computed in f64 and rounded once to f32 (squared real units).
pub fn squared_l2_from_i8_sum(sum: u32, scale: f32) -> f32 {
    let s = f64::from(scale);
    (s * s * f64::from(sum)) as f32
}

/// L2 between two int8 embeddings of one `scale` from their exact `sum = Σ (a-b)^2`: the square
/// root of [`squared_l2_from_i8_sum`] (real units).
pub fn l2_from_i8_sum(sum: u32, scale: f32) -> f32 {
    libm::sqrtf(squared_l2_from_i8_sum(sum, scale))
}

/// L1 between two int8 embeddings of one `scale` from their exact `sum = Σ |a-b|`:
/// `scale * sum`, computed in f64 and rounded once to f32 (real units).
pub fn l1_from_i8_sum(sum: u32, scale: f32) -> f32 {
    (f64::from(scale) * f64::from(sum)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_do_not_overflow() {
        let a = [127i8; MAX_EMBEDDING_DIM];
        let b = [-128i8; MAX_EMBEDDING_DIM];
        assert_eq!(squared_l2_i8(&a, &b), Ok(1024 * 255 * 255));
        assert_eq!(l1_i8(&a, &b), Ok(1024 * 255));
        assert_eq!(dot_i8(&b, &b), Ok(1024 * 128 * 128));
        assert_eq!(dot_i8(&a, &b), Ok(-1024 * 127 * 128));
        assert_eq!(squared_l2_from_i8_sum(1024 * 255 * 255, 0.5), 16_646_400.0);
        assert_eq!(l2_from_i8_sum(25, 0.5), 2.5);
        assert_eq!(l1_from_i8_sum(7, 0.25), 1.75);
        let long = [0i8; MAX_EMBEDDING_DIM + 1];
        assert!(matches!(
            dot_i8(&long, &long),
            Err(FormatError::CapacityExceeded { .. })
        ));
        assert_eq!(
            l1_i8(&a[..2], &b[..3]),
            Err(FormatError::DimensionMismatch {
                expected: 2,
                found: 3
            })
        );
    }
}
