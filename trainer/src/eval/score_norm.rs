//! Score normalisation against a cohort: distances made comparable across templates.
//!
//! Deployed biometric systems often do not compare a raw distance with one global threshold:
//! each enrolled template is first compared with a *cohort* of people who are not enrolled, and
//! its distances are expressed relative to how far that template usually is from strangers. A
//! template that sits close to everyone (a "lamb") then gets a stricter effective threshold.
//!
//! - **Z-norm** (zero normalisation): `z = (d - mu_t) / sigma_t`, with `mu_t` and `sigma_t` the
//!   mean and standard deviation of the enrolled template `t`'s distances to the cohort.
//! - **S-norm** (symmetric): the mean of the Z-norms of both sides of the pair,
//!   `((d - mu_a) / sigma_a + (d - mu_b) / sigma_b) / 2`.
//!
//! A normalised score is still "lower is more alike": accept when it is `<= threshold`, and
//! thresholds are chosen on normalised calibration pairs exactly as for raw distances. Scores may
//! be negative.

use serde::Serialize;

/// How a pair's distance is turned into the score that meets the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreNorm {
    /// The distance itself.
    Raw,
    /// Z-norm on the pair's first item (the enrolled template).
    Z,
    /// S-norm: the mean of both items' Z-norms.
    S,
}

impl ScoreNorm {
    /// Every variant, raw first.
    pub const ALL: [ScoreNorm; 3] = [ScoreNorm::Raw, ScoreNorm::Z, ScoreNorm::S];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            ScoreNorm::Raw => "raw distance",
            ScoreNorm::Z => "Z-norm",
            ScoreNorm::S => "S-norm",
        }
    }
}

/// One item's distances to the cohort, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CohortStats {
    /// Mean distance to the cohort (metric units).
    pub mean: f64,
    /// Standard deviation of those distances (population; floored at `1e-9` so a degenerate
    /// cohort cannot divide by zero).
    pub sd: f64,
}

impl CohortStats {
    /// The mean and standard deviation of `distances` (at least one).
    pub fn of(distances: &[f64]) -> Self {
        let n = distances.len().max(1) as f64;
        let mean = distances.iter().sum::<f64>() / n;
        let var = distances.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            sd: var.sqrt().max(1e-9),
        }
    }

    /// `(d - mean) / sd`.
    pub fn z(&self, d: f64) -> f64 {
        (d - self.mean) / self.sd
    }
}

/// The score of a pair at distance `d` between items with cohort statistics `a` (the enrolled
/// template) and `b` (the probe).
pub fn normalise(norm: ScoreNorm, d: f64, a: &CohortStats, b: &CohortStats) -> f64 {
    match norm {
        ScoreNorm::Raw => d,
        ScoreNorm::Z => a.z(d),
        ScoreNorm::S => 0.5 * (a.z(d) + b.z(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohort_statistics_and_scores() {
        let s = CohortStats::of(&[1.0, 2.0, 3.0]);
        assert!((s.mean - 2.0).abs() < 1e-12);
        assert!((s.sd - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.z(2.0), 0.0);
        let flat = CohortStats::of(&[0.5, 0.5]);
        assert!(flat.z(0.4).is_finite());
        let (a, b) = (
            CohortStats { mean: 1.0, sd: 0.5 },
            CohortStats { mean: 2.0, sd: 1.0 },
        );
        assert_eq!(normalise(ScoreNorm::Raw, 1.5, &a, &b), 1.5);
        assert_eq!(normalise(ScoreNorm::Z, 1.5, &a, &b), 1.0);
        assert_eq!(normalise(ScoreNorm::S, 1.5, &a, &b), 0.25);
        // S-norm is symmetric, Z-norm is not.
        assert_eq!(
            normalise(ScoreNorm::S, 1.5, &a, &b),
            normalise(ScoreNorm::S, 1.5, &b, &a)
        );
        assert_ne!(
            normalise(ScoreNorm::Z, 1.5, &a, &b),
            normalise(ScoreNorm::Z, 1.5, &b, &a)
        );
    }

    #[test]
    fn a_lamb_gets_a_stricter_effective_threshold() {
        // Template A sits close to everyone (cohort mean 0.6), B far (1.2); both at raw distance
        // 0.7 from a stranger. Raw scores tie; Z-norm puts A's stranger near A's cohort (not
        // alike), B's stranger well below B's cohort (alike).
        let a = CohortStats::of(&[0.5, 0.6, 0.7]);
        let b = CohortStats::of(&[1.1, 1.2, 1.3]);
        assert!(a.z(0.7) > b.z(0.7));
    }
}
