//! The reference int8 kernels: plain Rust, the same on every target, the arithmetic the host
//! integer reference executor and the trainer's fake-quant follow.
//!
//! Each kernel has two phases (tflite-micro's Prepare/Eval): `prepare` takes a validated
//! [`Layer`], checks what the format leaves to the engine (accumulator range), and keeps the
//! borrowed weights and per-channel parameters; `eval` reads the input tensor and writes the
//! output tensor, never allocates and never fails. Tensors are NHWC int8 slices of exactly the
//! layer's `input.elements()` and `output.elements()` bytes.

pub mod conv2d;
pub mod dense;
pub mod depthwise;
pub mod flip;
pub mod l2norm;
pub mod pool;
pub mod requant;

use siamedge_format::{Layer, Window};

use self::requant::Requant;
use super::error::EngineError;

/// A sliding window over an NHWC tensor, in `usize`, ready for the loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Input rows, columns, channels.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Output channels.
    pub out_c: usize,
    /// Window rows.
    pub kernel_h: usize,
    /// Window columns.
    pub kernel_w: usize,
    /// Step between windows, rows.
    pub stride_h: usize,
    /// Step between windows, columns.
    pub stride_w: usize,
    /// Spacing of taps, rows.
    pub dilation_h: usize,
    /// Spacing of taps, columns.
    pub dilation_w: usize,
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
}

impl Geometry {
    /// The geometry of `layer` sliding `window`.
    pub fn new(layer: &Layer<'_>, window: &Window) -> Self {
        Self {
            in_h: usize::from(layer.input.h),
            in_w: usize::from(layer.input.w),
            in_c: usize::from(layer.input.c),
            out_h: usize::from(layer.output.h),
            out_w: usize::from(layer.output.w),
            out_c: usize::from(layer.output.c),
            kernel_h: usize::from(window.kernel_h),
            kernel_w: usize::from(window.kernel_w),
            stride_h: usize::from(window.stride_h),
            stride_w: usize::from(window.stride_w),
            dilation_h: usize::from(window.dilation_h),
            dilation_w: usize::from(window.dilation_w),
            pad_top: usize::from(window.padding.top),
            pad_left: usize::from(window.padding.left),
        }
    }

    /// The input row of tap `k` of output row `o`, or `None` in the padding.
    #[inline(always)]
    pub fn in_row(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride_h + k * self.dilation_h)
            .checked_sub(self.pad_top)
            .filter(|&y| y < self.in_h)
    }

    /// The input column of tap `k` of output column `o`, or `None` in the padding.
    #[inline(always)]
    pub fn in_col(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride_w + k * self.dilation_w)
            .checked_sub(self.pad_left)
            .filter(|&x| x < self.in_w)
    }

    /// The taps `lo..hi` of a window axis that fall inside the input: output position `o`,
    /// `stride`, `dilation`, padding `pad`, `kernel` taps, input size `size`.
    #[inline(always)]
    pub fn valid_taps(
        o: usize,
        stride: usize,
        dilation: usize,
        pad: usize,
        kernel: usize,
        size: usize,
    ) -> (usize, usize) {
        let start = o * stride;
        // First tap k with start + k * dilation >= pad.
        let lo = pad.saturating_sub(start).div_ceil(dilation).min(kernel);
        // Taps with start + k * dilation < pad + size.
        let limit = pad + size;
        let hi = if start >= limit {
            0
        } else {
            (limit - start).div_ceil(dilation).min(kernel)
        };
        (lo, hi.max(lo))
    }
}

/// Per-output-channel requantization and bias, borrowed from the model bytes (little-endian
/// i32 arrays of any alignment, read word by word).
#[derive(Debug, Clone, Copy)]
pub struct Channels<'m> {
    bias: &'m [u8],
    multipliers: &'m [u8],
    shifts: &'m [i8],
    zero_point: i32,
    min: i32,
    max: i32,
}

/// Reads i32 `i` of a little-endian array (0 past the end, which a validated layer never
/// reaches).
#[inline(always)]
fn le_i32(bytes: &[u8], i: usize) -> i32 {
    match bytes.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl<'m> Channels<'m> {
    /// The bias and requantization of `layer`'s output channels.
    pub fn new(layer: &Layer<'m>) -> Self {
        Self {
            bias: layer.biases().as_bytes(),
            multipliers: layer.multipliers().as_bytes(),
            shifts: layer.shifts(),
            zero_point: i32::from(layer.output_quant.zero_point),
            min: i32::from(layer.activation.min),
            max: i32::from(layer.activation.max),
        }
    }

    /// Bias of channel `ch`.
    #[inline(always)]
    pub fn bias(&self, ch: usize) -> i32 {
        le_i32(self.bias, ch)
    }

    /// Requantization of channel `ch`.
    #[inline(always)]
    pub fn requant(&self, ch: usize) -> Requant {
        Requant::new(
            le_i32(self.multipliers, ch),
            i32::from(self.shifts.get(ch).copied().unwrap_or(0)),
            self.zero_point,
            self.min,
            self.max,
        )
    }

    /// `(bias, requantization)` of every channel in order.
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = (i32, Requant)> + '_ {
        (0..self.shifts.len()).map(
            #[inline(always)]
            move |ch| (self.bias(ch), self.requant(ch)),
        )
    }
}

/// Checks that no accumulator of a weighted layer can leave i32: for each of the `channels`
/// output channels, `|bias| + 255 * sum_abs_weights(ch)` must be at most `i32::MAX` (255 is the
/// largest `|x - input_zero_point|`). TFLite does not check and wraps; the engine refuses.
pub fn check_accumulators(
    layer_index: usize,
    layer: &Layer<'_>,
    channels: usize,
    sum_abs_weights: impl Fn(usize) -> u64,
) -> Result<(), EngineError> {
    for ch in 0..channels {
        let bias = u64::from(layer.bias(ch).unwrap_or(0).unsigned_abs());
        if bias + 255 * sum_abs_weights(ch) > i32::MAX as u64 {
            return Err(EngineError::Unsupported {
                layer: layer_index,
                kind: layer.kind.name(),
                reason: "an output channel's accumulator could overflow i32 (|bias| + 255 * sum |w| > 2^31 - 1)",
            });
        }
    }
    Ok(())
}

/// `sum |w|` over `weights`.
pub fn sum_abs(weights: impl Iterator<Item = i8>) -> u64 {
    weights.map(|w| u64::from(w.unsigned_abs())).sum()
}

/// Clamps every value of `data` to `[min, max]`: a layer without arithmetic (Reshape) that
/// carries an activation.
pub fn clamp(data: &mut [i8], min: i8, max: i8) {
    for v in data {
        *v = (*v).clamp(min, max);
    }
}
