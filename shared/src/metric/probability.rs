//! The probability that two samples match, from their distance (Vo & Hays, "Generalization in
//! Metric Learning: Should the Embedding Layer be the Embedding Layer?", 2019).
//!
//! `p(D) = (1 + e^-m) / (1 + e^(D - m))` for a distance `D >= 0` and a margin `m` (the contrastive
//! margin the encoder was trained with): `p(0) = 1`, `p(m) = (1 + e^-m) / 2`, and `p` falls to 0
//! as `D` grows. It is a score shown to people and logged; accept/reject decisions use the
//! distance threshold (see [`decision`](crate::decision)).

/// `p = (1 + e^-m) / (1 + e^(D - m))`, in `0.0..=1.0`.
///
/// Negative distances are treated as 0, an infinite distance gives 0, and NaN gives NaN. The
/// margin should be finite (model files guarantee it). Computed in f64 with musl's `exp`
/// (through `libm`, so identical on hosts and MCUs) in a form that cannot overflow, then rounded
/// to f32: the result is within 1 ulp of the exact value (the property tests check a relative
/// error of `1e-6` against a separate f64 formula).
pub fn logistic_probability(distance: f32, margin: f32) -> f32 {
    if distance.is_nan() || margin.is_nan() {
        return f32::NAN;
    }
    // Infinities become huge finite values so that no exponent below is inf - inf.
    let d = f64::from(distance.max(0.0)).min(1e300);
    let m = f64::from(margin).clamp(-1e300, 1e300);
    // p = (1 + e^a) / (1 + e^b) with a = -m, b = d - m >= a. Scale both by e^-k, k = max(b, 0),
    // so that every exponent is <= 0 and the denominator is >= 1.
    let (a, b) = (-m, d - m);
    let k = b.max(0.0);
    let num = libm::exp(-k) + libm::exp(a - k);
    let den = libm::exp(-k) + libm::exp(b - k);
    ((num / den) as f32).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points() {
        assert_eq!(logistic_probability(0.0, 1.0), 1.0);
        assert_eq!(logistic_probability(0.0, 0.0), 1.0);
        // python3 -c 'import math; m=2.0; print((1+math.exp(-m))/2, (1+math.exp(-m))/(1+math.exp(3-m)))'
        let m = logistic_probability(2.0, 2.0);
        assert!((m - 0.567_667_6).abs() < 1e-7, "{m}");
        let p = logistic_probability(3.0, 2.0);
        assert!((p - 0.305_338_7).abs() < 1e-7, "{p}");
        assert_eq!(logistic_probability(1e30, 2.0), 0.0);
        assert_eq!(logistic_probability(f32::INFINITY, 2.0), 0.0);
        assert_eq!(logistic_probability(-1.0, 2.0), 1.0);
        assert!(logistic_probability(f32::NAN, 2.0).is_nan());
        assert_eq!(logistic_probability(0.5, -1e30), 1.0);
        assert_eq!(logistic_probability(0.5, 1e30), 1.0);
    }
}
