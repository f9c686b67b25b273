//! The quantization scheme, in one place so that post-training quantization, fake-quant training and
//! the model file agree to the bit: how a range becomes an activation [`Quant`], how weights and
//! biases become int8 and i32.
//!
//! - Input: the trainer feeds pixels `p / 255`; the model input is quantized with scale `1/255`
//!   and zero point -128, so `q = p - 128` exactly ([`INPUT_QUANT`]).
//! - ReLU outputs: asymmetric over `[0, max]`, scale `max / 255`, zero point -128
//!   ([`relu_quant`]); the fused ReLU is then the clamp at -128.
//! - Other activations (the linear layer's output): symmetric, scale `max|x| / 127`, zero point 0
//!   ([`symmetric_quant`]); the embedding must be symmetric in a model file.
//! - Weights: symmetric per output channel, scale `max|w| / 127`, values `round(w / scale)` in
//!   `-127..=127` ([`weight_scale`], [`quantize_weight`]).
//! - Biases: i32 with scale `input_scale * weight_scale` ([`quantize_bias`]).
//!
//! All arithmetic is f32, rounding half away from zero (`f32::round`, candle's `round`).

use siamedge_format::Quant;

/// Quantization of the model input: pixel `p / 255` is `p - 128`.
pub const INPUT_QUANT: Quant = Quant::new(1.0 / 255.0, -128);

/// Smallest range a scale is made from, so that a dead channel or tensor still gets a positive,
/// finite scale.
pub const MIN_RANGE: f32 = 1e-6;

/// Quantization of a ReLU output whose largest value is `max`: scale `max / 255`, zero point -128.
pub fn relu_quant(max: f32) -> Quant {
    Quant::new(max.max(MIN_RANGE) / 255.0, -128)
}

/// Symmetric quantization of a tensor with `max|x| = abs_max`: scale `abs_max / 127`, zero point 0.
pub fn symmetric_quant(abs_max: f32) -> Quant {
    Quant::new(abs_max.max(MIN_RANGE) / 127.0, 0)
}

/// The scale of one output channel's weights `w`: `max|w| / 127`.
pub fn weight_scale(w: &[f32]) -> f32 {
    w.iter().fold(0f32, |m, v| m.max(v.abs())).max(MIN_RANGE) / 127.0
}

/// `round(w / scale)` clamped to `-127..=127`.
pub fn quantize_weight(w: f32, scale: f32) -> i8 {
    (w / scale).round().clamp(-127.0, 127.0) as i8
}

/// `round(b / (input_scale * weight_scale))` as i32 (saturating).
pub fn quantize_bias(b: f32, input_scale: f32, weight_scale: f32) -> i32 {
    let q = (b / (input_scale * weight_scale)).round();
    q.clamp(i32::MIN as f32, i32::MAX as f32) as i32
}

/// `round(x / quant.scale) + zero_point` clamped to int8.
pub fn quantize_value(x: f32, quant: Quant) -> i8 {
    ((x / quant.scale).round() + f32::from(quant.zero_point)).clamp(-128.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_quantization_is_pixel_minus_128() {
        for p in 0..=255u8 {
            assert_eq!(
                i16::from(quantize_value(f32::from(p) / 255.0, INPUT_QUANT)),
                i16::from(p) - 128
            );
        }
    }

    #[test]
    fn scales_and_rounding() {
        assert_eq!(relu_quant(2.55), Quant::new(0.01, -128));
        assert_eq!(quantize_value(0.0, relu_quant(2.55)), -128);
        assert_eq!(quantize_value(2.55, relu_quant(2.55)), 127);
        assert_eq!(quantize_value(-1.0, symmetric_quant(1.27)), -100);
        let s = weight_scale(&[0.5, -1.27, 0.1]);
        assert_eq!(s, 0.01);
        assert_eq!(quantize_weight(-1.27, s), -127);
        assert_eq!(quantize_weight(0.005, s), 1);
        assert_eq!(quantize_bias(0.3, 0.1, 0.5), 6);
        assert!(weight_scale(&[0.0; 4]) > 0.0);
    }
}
