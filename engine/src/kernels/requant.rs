//! Fixed-point requantization, bit for bit TensorFlow Lite's (gemmlowp's) reference arithmetic.
//!
//! An accumulator `acc` (i32, scale `input_scale * weight_scale[ch]`) becomes an int8 output as
//! `clamp(MultiplyByQuantizedMultiplier(acc, multiplier, shift) + output_zero_point, min, max)`:
//!
//! 1. `left = max(shift, 0)`, `right = max(-shift, 0)`;
//! 2. `a = acc * 2^left` (wrapping i32);
//! 3. `h = SaturatingRoundingDoublingHighMul(a, multiplier)`: `(a * m + nudge) / 2^31` in i64 with
//!    `nudge = 2^30` for a non-negative product and `1 - 2^30` otherwise, the division truncating
//!    toward zero (so `a * m / 2^31` is rounded to nearest, ties toward +infinity: 1.5 -> 2,
//!    -1.5 -> -1); `i32::MAX` for `a = m = i32::MIN`;
//! 4. `RoundingDivideByPOT(h, right)`: an arithmetic right shift rounded to nearest, ties away
//!    from zero (`mask = 2^right - 1`, `threshold = mask / 2 + (h < 0)`, add one when
//!    `h & mask > threshold`).
//!
//! This is the "double rounding" form that TFLite and TFLite Micro use by default (not the
//! `TFLITE_SINGLE_ROUNDING` build option). A float model of it: `round_half_away(acc * real)`
//! except in rare ties, where the two roundings can differ from one rounding by one step.
//!
//! Every operation here wraps instead of trapping, so a kernel and its optimized twin agree even
//! on accumulators that overflowed (prepare rejects layers whose accumulators could).

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `round(a * b / 2^31)`, ties toward +infinity,
/// saturating the single overflow case `a = b = i32::MIN` to `i32::MAX`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab + nudge| < 2^62 + 2^30 and the quotient fits in i32 (|a*b| <= 2^62 for the non-saturated cases).
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero;
/// `exponent` in `0..=31`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let mask = (1u32 << exponent).wrapping_sub(1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier`: `acc * multiplier * 2^(shift - 31)`, rounded as the
/// module docs say; `shift` in `-31..=30` (positive: left).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(acc: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(acc.wrapping_shl(left), multiplier),
        right,
    )
}

/// One output channel's requantization, prepared: multiplier, shift split into its left and
/// right parts with the rounding mask of the right shift, output zero point and the activation
/// clamp. [`Requant::apply`] is [`multiply_by_quantized_multiplier`] bit for bit, in the fewest
/// instructions: the model's multipliers are never `i32::MIN` (they are in `[2^30, 2^31)` or 0),
/// so the doubling high multiply cannot saturate and is `(a * m + 2^30) >> 31` (the same value as
/// gemmlowp's nudge-and-truncate form for both signs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requant {
    /// Q31 multiplier, `[2^30, 2^31)` or 0 (never `i32::MIN`).
    pub multiplier: i32,
    /// `max(shift, 0)`.
    pub left: u32,
    /// `max(-shift, 0)`.
    pub right: u32,
    /// `2^right - 1`.
    pub mask: i32,
    /// `mask >> 1`.
    pub half_mask: i32,
    /// Output zero point.
    pub zero_point: i32,
    /// Lowest output value (activation clamp).
    pub min: i32,
    /// Highest output value (activation clamp).
    pub max: i32,
}

impl Requant {
    /// The requantization by `multiplier * 2^(shift - 31)` (`multiplier != i32::MIN`, `shift`
    /// in `-31..=30`), then `+ zero_point`, clamped to `[min, max]`.
    #[inline(always)]
    pub fn new(multiplier: i32, shift: i32, zero_point: i32, min: i32, max: i32) -> Self {
        let right = (-shift).clamp(0, 31) as u32;
        let mask = (1u32 << right).wrapping_sub(1) as i32;
        Self {
            // The one multiplier the fast form cannot take stands for -1.0, which no model has.
            multiplier: multiplier.max(-i32::MAX),
            left: shift.clamp(0, 31) as u32,
            right,
            mask,
            half_mask: mask >> 1,
            zero_point,
            min,
            max,
        }
    }

    /// The int8 output of accumulator `acc`.
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i8 {
        let a = acc.wrapping_shl(self.left);
        let high = ((i64::from(a) * i64::from(self.multiplier) + (1 << 30)) >> 31) as i32;
        let remainder = high & self.mask;
        let threshold = self.half_mask + ((high as u32) >> 31) as i32;
        let scaled = (high >> self.right) + i32::from(remainder > threshold);
        scaled
            .wrapping_add(self.zero_point)
            .clamp(self.min, self.max) as i8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straight i128 forms of the two gemmlowp primitives, written from their definitions.
    fn srdhm_ref(a: i32, b: i32) -> i32 {
        if a == i32::MIN && b == i32::MIN {
            return i32::MAX;
        }
        let p = i128::from(a) * i128::from(b);
        // floor(p / 2^31 + 1/2): nearest, ties toward +infinity.
        let d = 1i128 << 31;
        (p + d / 2).div_euclid(d) as i32
    }

    fn rdbpot_ref(x: i32, e: u32) -> i32 {
        let d = 1i128 << e;
        let x = i128::from(x);
        let q = (x.abs() * 2 + d) / (2 * d);
        (if x < 0 { -q } else { q }) as i32
    }

    #[test]
    fn gemmlowp_golden_values() {
        // Hand-checked: 3 * 2^30 / 2^31 = 1.5 -> 2; -1.5 -> -1 (ties toward +infinity).
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-4, 1 << 30), -2);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        // 1000 * 0.75 = 750; 1000 * 0.375 = 375.
        assert_eq!(multiply_by_quantized_multiplier(1000, 1610612736, 0), 750);
        assert_eq!(multiply_by_quantized_multiplier(1000, 1610612736, -1), 375);
        // Double rounding: 1001 * 0.375 = 375.375, but 1001 * 0.75 = 750.75 rounds to 751 first,
        // and 751 / 2 = 375.5 rounds away from zero to 376 (one rounding would give 375).
        assert_eq!(multiply_by_quantized_multiplier(1001, 1610612736, -1), 376);
        assert_eq!(multiply_by_quantized_multiplier(-5, 1 << 30, 2), -10);
    }

    #[test]
    fn prepared_requant_matches_the_tflite_form() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100_000 {
            let m = match next() % 8 {
                0 => 0,
                1 => i32::MAX,
                2 => 1 << 30,
                _ => (1 << 30) + (next() % (1 << 30)) as i32,
            };
            let shift = (next() % 62) as i32 - 31;
            let acc = match next() % 4 {
                0 => next() as i32,
                1 => i32::MIN,
                _ => (next() % 2_000_001) as i32 - 1_000_000,
            };
            let zp = (next() % 256) as i32 - 128;
            let rq = Requant::new(m, shift, zp, -128, 127);
            let expected = multiply_by_quantized_multiplier(acc, m, shift)
                .wrapping_add(zp)
                .clamp(-128, 127) as i8;
            assert_eq!(rq.apply(acc), expected, "{acc} {m} {shift}");
        }
    }

    #[test]
    fn matches_wide_definitions() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let a = next() as i32;
            let b = next() as i32;
            let e = (next() % 32) as u32;
            assert_eq!(saturating_rounding_doubling_high_mul(a, b), srdhm_ref(a, b));
            assert_eq!(rounding_divide_by_pot(a, e), rdbpot_ref(a, e), "{a} {e}");
        }
    }
}
