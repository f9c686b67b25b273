//! Reference int8 L2 normalization, correctly rounded.
//!
//! For each position (each `(y, x)`, over its `c` channels), with `d_i = q_i - zp_in` and
//! `S = sum d_i^2` (u32; at most `4096 * 255^2`):
//! `out_i = clamp(sign(d_i) * round(128 |d_i| / sqrt(S)), -128, 127)`, rounding half away from
//! zero, then the layer's activation clamp. Output scale `1/128`, zero point 0 (a unit vector's
//! components land in `[-128, 127]`, +1.0 saturating to 127); `S = 0` gives zeros.
//!
//! Exact in integers: `k = round(128 |d| / sqrt(S))` is `(m + 1) / 2` with `m = floor(sqrt(A /
//! S))` (both divisions floor) and `A = 65536 d^2`, because `m` is the largest integer with
//! `m^2 S <= A`, i.e. `floor(256 |d| / sqrt(S))`, and `(m + 1) / 2` counts the odd integers up to
//! it. One `u32` division and one integer square root per value (128 of them per embedding).
//!
//! Why not TensorFlow Lite's `L2Normalization` (a fixed-point Newton inverse square root): its
//! result sits up to a step away from the true quotient, which a float runtime executing the
//! QDQ graph (onnxruntime, tract) cannot reproduce; the correctly rounded quotient it can, in
//! f64, to the bit.

use siamedge_format::Layer;

/// `floor(sqrt(n))`, digit by digit (16 steps, no division).
pub fn isqrt(n: u32) -> u32 {
    let mut rest = n;
    let mut root = 0u32;
    let mut bit = 1u32 << 30;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if rest >= root + bit {
            rest -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// `sign(d) * round(128 |d| / sqrt(sum))` (half away from zero), for `|d| <= 255`,
/// `d^2 <= sum` and `sum > 0`.
pub fn normalized(d: i32, sum: u32) -> i32 {
    let a = 65_536 * d.unsigned_abs() * d.unsigned_abs();
    let k = ((isqrt(a / sum) + 1) / 2) as i32;
    if d < 0 {
        -k
    } else {
        k
    }
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
            let sum: u32 = x
                .iter()
                .map(|&v| (i32::from(v) - zp).unsigned_abs().pow(2))
                .sum();
            for (&v, o) in x.iter().zip(out.iter_mut()) {
                let q = if sum == 0 {
                    0
                } else {
                    normalized(i32::from(v) - zp, sum)
                };
                *o = (q.clamp(-128, 127) as i8).clamp(self.min, self.max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_the_floor_of_the_root() {
        for n in (0..70_000u32).chain([u32::MAX, u32::MAX - 1, 4_261_478_400, 1 << 31]) {
            let r = u64::from(isqrt(n));
            assert!(
                r * r <= u64::from(n) && (r + 1) * (r + 1) > u64::from(n),
                "{n}"
            );
        }
    }

    #[test]
    fn normalized_is_the_correctly_rounded_quotient() {
        // Every d against sums around and at perfect squares (where ties happen).
        for sum in [
            1u32,
            2,
            4,
            9,
            100,
            255 * 255,
            65_536,
            65_537,
            200_000,
            4096 * 65_025,
        ] {
            for d in -255i32..=255 {
                if (d * d) as u32 > sum {
                    continue;
                }
                let v = 128.0 * f64::from(d) / f64::from(sum).sqrt();
                assert_eq!(normalized(d, sum), v.round() as i32, "d {d} sum {sum}");
            }
        }
        // Ties: sum 256^2, odd d -> v = d / 2 exactly, rounded away from zero.
        assert_eq!(normalized(3, 65_536), 2);
        assert_eq!(normalized(-3, 65_536), -2);
    }
}
