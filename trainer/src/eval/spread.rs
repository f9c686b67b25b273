//! Mean and spread of a handful of numbers: one result per seed, fold or run.

use serde::Serialize;

/// Mean and spread of a handful of numbers (seeds, or runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// How many numbers.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (`n - 1`; 0 for one number).
    pub sd: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Self {
            n,
            mean,
            sd: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_seeds() {
        let s = Spread::of(&[0.04, 0.05, 0.06]);
        assert_eq!(s.n, 3);
        assert!((s.mean - 0.05).abs() < 1e-12);
        assert!((s.sd - 0.01).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.04, 0.06));
        let one = Spread::of(&[0.3]);
        assert_eq!((one.mean, one.sd), (0.3, 0.0));
    }
}
