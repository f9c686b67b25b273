//! Reference int8 L2 normalization, bit for bit TensorFlow Lite's
//! `reference_integer_ops::L2Normalization`.
//!
//! For each position (each `(y, x)`, over its `c` channels), with `d_i = q_i - zp_in`:
//! 1. `s = sum d_i^2` (i32; at most `4096 * 255^2`, no overflow);
//! 2. `(m, e) = GetInvSqrtQuantizedMultiplierExp(s, -1)`: `m * 2^(e - 31) ≈ 1 / sqrt(s)`,
//!    computed in fixed point exactly as TFLite does (normalize `s` by powers of 4 into
//!    `[2^27, 2^29)`, five Newton-Raphson steps `x <- 1.5 x - (s/2) x^3` in gemmlowp Q3.28 from
//!    `x = 1`, times `sqrt(2)/2` in Q0.31); `s <= 1` gives `(i32::MAX, 0)`;
//! 3. `out_i = clamp(MultiplyByQuantizedMultiplier(d_i, m, e + 7), -128, 127)`: output scale
//!    `1/128`, zero point 0 (so a unit vector's components land in `[-128, 127]`, +1.0 saturating
//!    to 127);
//! 4. then the layer's activation clamp.

use siamedge_format::Layer;

use super::requant::{
    multiply_by_quantized_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<exponent>` for a positive `exponent`: a left
/// shift saturating to the i32 range.
fn saturating_shl(x: i32, exponent: u32) -> i32 {
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// gemmlowp's `Rescale` from `from_int_bits` to `to_int_bits` integer bits (Q format change).
fn rescale(x: i32, from_int_bits: i32, to_int_bits: i32) -> i32 {
    let exponent = from_int_bits - to_int_bits;
    match exponent {
        0 => x,
        e if e > 0 => saturating_shl(x, e as u32),
        e => rounding_divide_by_pot(x, (-e) as u32),
    }
}

/// TFLite's `GetInvSqrtQuantizedMultiplierExp(input, reverse_shift = -1)`: a Q31 multiplier
/// and a left shift whose product approximates `1 / sqrt(input)`. `input >= 0`.
pub fn inv_sqrt_multiplier(input: i32) -> (i32, i32) {
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift: i32 = 11;
    while input >= (1 << 29) {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() - 1;
    let left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= left_shift_bit_pairs as i32;
    input <<= 2 * left_shift_bit_pairs;
    // F3 = FixedPoint<i32, 3> (Q3.28), F0 = Q0.31; a product of Qa and Qb is Q(a+b).
    let fixedpoint_input = input >> 1;
    let half_input = rounding_divide_by_pot(fixedpoint_input, 1);
    let half_three: i32 = (1 << 28) + (1 << 27);
    let mut x: i32 = 1 << 28;
    for _ in 0..5 {
        let x2 = saturating_rounding_doubling_high_mul(x, x); // Q6
        let x3 = rescale(saturating_rounding_doubling_high_mul(x2, x), 9, 3);
        let a = saturating_rounding_doubling_high_mul(half_three, x); // Q6
        let b = saturating_rounding_doubling_high_mul(half_input, x3); // Q6
        x = rescale(a.wrapping_sub(b), 6, 3);
    }
    let half_sqrt_2: i32 = 1_518_500_250;
    let mut multiplier = saturating_rounding_doubling_high_mul(x, half_sqrt_2);
    if shift < 0 {
        multiplier = multiplier.wrapping_shl((-shift) as u32);
        shift = 0;
    }
    (multiplier, -shift)
}

/// A prepared L2 normalization over the channels of each position.
#[derive(Debug, Clone, Copy)]
pub struct L2Norm {
    /// Channels per position.
    pub depth: usize,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Activation clamp, lowest value.
    pub min: i8,
    /// Activation clamp, highest value.
    pub max: i8,
}

impl L2Norm {
    /// Prepares a validated `L2Normalize` layer.
    pub fn prepare(layer: &Layer<'_>) -> Self {
        Self {
            depth: usize::from(layer.input.c),
            input_zero_point: i32::from(layer.input_quant.zero_point),
            min: layer.activation.min,
            max: layer.activation.max,
        }
    }

    /// Computes `output` from `input` (same shape).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let zp = self.input_zero_point;
        for (x, out) in input
            .chunks_exact(self.depth)
            .zip(output.chunks_exact_mut(self.depth))
        {
            let sum: i32 = x
                .iter()
                .map(|&v| (i32::from(v) - zp) * (i32::from(v) - zp))
                .sum();
            let (multiplier, shift) = inv_sqrt_multiplier(sum);
            for (&v, o) in x.iter().zip(out.iter_mut()) {
                let q = multiply_by_quantized_multiplier(i32::from(v) - zp, multiplier, shift + 7)
                    .clamp(-128, 127) as i8;
                *o = q.clamp(self.min, self.max);
            }
        }
    }
}
