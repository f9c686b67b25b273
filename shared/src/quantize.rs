//! Fixed-point requantization multipliers, gemmlowp/TFLite convention.
//!
//! An int8 layer accumulates in i32 and rescales each output channel by the real factor
//! `input_scale * weight_scale[ch] / output_scale`. The kernels apply it as a Q31 multiplier and a
//! power-of-two shift: `real ≈ multiplier * 2^-31 * 2^shift`, with `multiplier` in
//! `[2^30, 2^31)` (or 0) and `shift` in `-31..=30`. [`quantize_multiplier`] is TFLite's
//! `QuantizeMultiplier` bit for bit; the trainer's export uses it and the model decoder checks
//! every layer's multipliers against its scales with it.

/// Smallest shift a model may carry (a right shift by 31).
pub const MIN_SHIFT: i8 = -31;
/// Largest shift a model may carry (a left shift by 30).
pub const MAX_SHIFT: i8 = 30;

/// `2^31` as f64.
const Q31: f64 = 2_147_483_648.0;

/// The Q31 multiplier and shift of `real`: `real ≈ multiplier * 2^(shift - 31)`.
///
/// Matches TensorFlow Lite's `QuantizeMultiplier` (round half away from zero; a mantissa that
/// rounds up to `2^31` is halved and the shift incremented; a result below `2^-31` in magnitude,
/// that is `shift < -31`, flushes to `(0, 0)`). Where TFLite would abort, this saturates:
/// `|real| >= 2^30` and infinities give `(±i32::MAX, 30)`, NaN gives `(0, 0)`. Negative inputs
/// give negative multipliers, as in TFLite. The relative error of the pair is at most `2^-31`.
pub fn quantize_multiplier(real: f64) -> (i32, i8) {
    if real == 0.0 || real.is_nan() {
        return (0, 0);
    }
    let saturated = if real > 0.0 { i32::MAX } else { -i32::MAX };
    if real.is_infinite() {
        return (saturated, MAX_SHIFT);
    }
    let (mantissa, mut shift) = libm::frexp(real);
    // |mantissa| is in [0.5, 1), so |q| is in [2^30, 2^31] and fits an i64 exactly.
    let mut q = libm::round(mantissa * Q31) as i64;
    if q == 1 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < i32::from(MIN_SHIFT) {
        return (0, 0);
    }
    if shift > i32::from(MAX_SHIFT) {
        return (saturated, MAX_SHIFT);
    }
    match (i32::try_from(q), i8::try_from(shift)) {
        (Ok(q), Ok(s)) => (q, s),
        _ => (saturated, MAX_SHIFT),
    }
}

/// The real factor a multiplier and shift stand for: `multiplier * 2^(shift - 31)`.
pub fn multiplier_to_real(multiplier: i32, shift: i8) -> f64 {
    libm::scalbn(f64::from(multiplier), i32::from(shift) - 31)
}

/// Whether `(multiplier, shift)` is what [`quantize_multiplier`] makes of `real`, up to a relative
/// error of `1e-5` (room for an exporter that rounded the scales to f32 before or after
/// computing `real`). Rejects multipliers outside `[2^30, 2^31)`, shifts outside
/// [`MIN_SHIFT`]`..=`[`MAX_SHIFT`], and zero multipliers unless `real < 2^-31`.
pub(crate) fn requantization_matches(real: f64, multiplier: i32, shift: i8) -> bool {
    if !(real.is_finite() && real > 0.0 && (MIN_SHIFT..=MAX_SHIFT).contains(&shift)) {
        return false;
    }
    if multiplier == 0 {
        return shift == 0 && real < libm::scalbn(1.0, -31);
    }
    if multiplier < 1 << 30 {
        return false;
    }
    let approx = multiplier_to_real(multiplier, shift);
    libm::fabs(approx - real) <= real * 1e-5
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from TensorFlow Lite's `quantization_util_test.cc` (tests `QuantizeMultiplier`,
    /// `QuantizeMultiplierUnderflow`, `QuantizeMultiplierSmallerThanOneExp` and
    /// `QuantizeMultiplierGreaterThanOne`, which all go through `QuantizeMultiplier`).
    #[test]
    fn matches_tflite() {
        let golden: &[(f64, i32, i8)] = &[
            (-4.0, -1073741824, 3),
            (-2.0, -1073741824, 2),
            (-1.0, -1073741824, 1),
            (-0.5, -1073741824, 0),
            (-0.25, -1073741824, -1),
            (-0.125, -1073741824, -2),
            (0.0, 0, 0),
            (0.125, 1073741824, -2),
            (0.25, 1073741824, -1),
            (0.5, 1073741824, 0),
            (1.0, 1073741824, 1),
            (2.0, 1073741824, 2),
            (4.0, 1073741824, 3),
            (0.50 - 5e-9, 2147483627, -1),
            (0.50 - 1e-10, 1073741824, 0),
            (0.75, 1610612736, 0),
            (1.0 - 1e-9, 2147483646, 0),
            (1.0 + 1e-11, 1073741824, 1),
            (1.25, 1342177280, 1),
            (1.50, 1610612736, 1),
            (1.75, 1879048192, 1),
            (2.0 - 1e-9, 2147483647, 1),
            (2.0 - 1e-11, 1073741824, 2),
            // Underflow: ldexp(1.0f, -31), ldexp(1.0f, -32), ldexp(0.99f, -32), ldexp(1.0f, -33).
            (libm::scalbn(1.0, -31), 1073741824, -30),
            (libm::scalbn(1.0, -32), 1073741824, -31),
            (libm::scalbn(f64::from(0.99f32), -32), 0, 0),
            (libm::scalbn(1.0, -33), 0, 0),
        ];
        for &(real, q, s) in golden {
            assert_eq!(
                quantize_multiplier(real),
                (q, s),
                "quantize_multiplier({real:e})"
            );
        }
    }

    #[test]
    fn saturates_instead_of_aborting() {
        assert_eq!(quantize_multiplier(f64::INFINITY), (i32::MAX, 30));
        assert_eq!(quantize_multiplier(f64::NEG_INFINITY), (-i32::MAX, 30));
        assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
        assert_eq!(quantize_multiplier(libm::scalbn(1.0, 40)), (i32::MAX, 30));
        assert_eq!(quantize_multiplier(libm::scalbn(1.0, 29)), (1 << 30, 30));
    }

    #[test]
    fn round_trip_and_check() {
        for real in [1e-9, 3.7e-4, 0.0123, 0.5, 0.999_999, 3.0, 1234.5] {
            let (m, s) = quantize_multiplier(real);
            assert!(libm::fabs(multiplier_to_real(m, s) - real) <= real * libm::scalbn(1.0, -30));
            assert!(requantization_matches(real, m, s), "{real}");
            assert!(!requantization_matches(real * 1.001, m, s));
        }
        assert!(requantization_matches(1e-10, 0, 0));
        assert!(!requantization_matches(0.5, 1 << 29, 1));
        assert!(!requantization_matches(0.5, 1 << 30, 31));
    }
}
