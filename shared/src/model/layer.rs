//! One int8 layer of a model file: its kind, shapes, quantization and borrowed parameters.
//!
//! Layout conventions (TFLite's):
//! - activations are NHWC with N = 1: element `(y, x, ch)` of a `Shape { h, w, c }` tensor is at
//!   index `(y * w + x) * c + ch`; each element is one int8;
//! - `Conv2d` weights are OHWI: `[out_c][kernel_h][kernel_w][in_c]`;
//! - `DepthwiseConv2d` weights are `[1][kernel_h][kernel_w][in_c * depth_multiplier]`, output
//!   channel `ic * depth_multiplier + m` reading input channel `ic`;
//! - `Dense` weights are `[out_c][in_h * in_w * in_c]`, the input flattened in NHWC order, and
//!   the output shape is `(1, 1, out_c)`.
//!
//! Quantization: a tensor's real value is `scale * (q - zero_point)`. Weights are symmetric per
//! output channel (`real = weight_scale[ch] * q`), biases are i32 with scale
//! `input_scale * weight_scale[ch]` and zero point 0, and each output channel is requantized with
//! a Q31 `multiplier[ch]` and `shift[ch]` standing for `input_scale * weight_scale[ch] /
//! output_scale` (see [`quantize_multiplier`](crate::quantize_multiplier)), then offset by the
//! output zero point and clamped to the [`Activation`] range.

use serde::{Deserialize, Serialize};

use super::window::Window;
use crate::le::{as_i8, LeF32Slice, LeI32Slice};

/// A tensor shape: height, width, channels (NHWC, batch 1), each `1..=MAX_DIM` in a valid model.
/// Wire: `h: u16`, `w: u16`, `c: u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Rows.
    pub h: u16,
    /// Columns.
    pub w: u16,
    /// Channels.
    pub c: u16,
}

impl Shape {
    /// A shape.
    pub const fn new(h: u16, w: u16, c: u16) -> Self {
        Self { h, w, c }
    }

    /// `h * w * c`: elements, which for int8 is also bytes.
    pub const fn elements(&self) -> u64 {
        self.h as u64 * self.w as u64 * self.c as u64
    }
}

/// Affine int8 quantization: `real = scale * (q - zero_point)`.
/// Wire: `scale: f32`, `zero_point: i8`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Real value of one step, finite and `> 0`.
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
}

impl Quant {
    /// A quantization.
    pub const fn new(scale: f32, zero_point: i8) -> Self {
        Self { scale, zero_point }
    }

    /// Bitwise equality (the kernels need the very same scale, not a close one).
    pub(crate) fn same(&self, other: &Quant) -> bool {
        self.scale.to_bits() == other.scale.to_bits() && self.zero_point == other.zero_point
    }
}

/// Fused activation as a clamp of the int8 output: `q = q.clamp(min, max)`, `min <= max`.
/// Wire: `min: i8`, `max: i8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// Lowest output value.
    pub min: i8,
    /// Highest output value.
    pub max: i8,
}

impl Activation {
    /// No activation: the full int8 range.
    pub const NONE: Activation = Activation {
        min: i8::MIN,
        max: i8::MAX,
    };

    /// ReLU for an output quantized with `output`: clamps below real 0.
    pub const fn relu(output: Quant) -> Activation {
        Activation {
            min: output.zero_point,
            max: i8::MAX,
        }
    }
}

/// What a layer computes. Wire: a varint tag (the variant's position, from 0), then the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LayerKind {
    /// 2-D convolution, OHWI weights, per-output-channel scales and requantization.
    Conv2d(Window),
    /// Depthwise 2-D convolution: output channel `ic * depth_multiplier + m` filters input
    /// channel `ic`; weights `[1][kh][kw][out_c]`.
    DepthwiseConv2d {
        /// The kernel window.
        window: Window,
        /// Output channels per input channel, `1..=MAX_DIM`.
        depth_multiplier: u16,
    },
    /// Fully connected: the NHWC-flattened input times `[out_c][in_elements]` weights; output
    /// `(1, 1, out_c)`.
    Dense,
    /// Maximum over each window (padded cells excluded); channels and quantization unchanged.
    MaxPool2d(Window),
    /// Average over each window, dividing by the number of real (unpadded) cells; channels and
    /// quantization unchanged.
    AvgPool2d(Window),
    /// Average over all positions: `(h, w, c)` to `(1, 1, c)`; quantization unchanged.
    GlobalAvgPool,
    /// Divides each position's channel vector by its L2 norm; output quantization is fixed at
    /// scale `1/128`, zero point 0 (TFLite's).
    L2Normalize,
    /// Reinterprets the shape, same elements in the same NHWC order (a no-op on the bytes; also
    /// serves as Flatten).
    Reshape,
}

impl LayerKind {
    /// Whether the layer has weights, biases and requantization parameters.
    pub const fn has_weights(&self) -> bool {
        matches!(
            self,
            LayerKind::Conv2d(_) | LayerKind::DepthwiseConv2d { .. } | LayerKind::Dense
        )
    }

    /// Lowercase name, e.g. `"conv2d"`.
    pub const fn name(&self) -> &'static str {
        match self {
            LayerKind::Conv2d(_) => "conv2d",
            LayerKind::DepthwiseConv2d { .. } => "depthwise_conv2d",
            LayerKind::Dense => "dense",
            LayerKind::MaxPool2d(_) => "max_pool2d",
            LayerKind::AvgPool2d(_) => "avg_pool2d",
            LayerKind::GlobalAvgPool => "global_avg_pool",
            LayerKind::L2Normalize => "l2_normalize",
            LayerKind::Reshape => "reshape",
        }
    }

    /// The output shape for `input`, with `out_channels` output channels for `Conv2d` and
    /// `Dense` (ignored by the others, whose channel count follows from the input). `None` when
    /// the window does not fit, a dimension leaves `u16`, or the kind is `Reshape` (whose output
    /// shape is free).
    pub fn output_shape(&self, input: Shape, out_channels: u16) -> Option<Shape> {
        let dims = |hw: Option<(u64, u64)>, c: u64| -> Option<Shape> {
            let (h, w) = hw?;
            Some(Shape::new(
                h.try_into().ok()?,
                w.try_into().ok()?,
                c.try_into().ok()?,
            ))
        };
        let c_in = u64::from(input.c);
        match self {
            LayerKind::Conv2d(win) => {
                dims(win.output_hw(input.h, input.w), u64::from(out_channels))
            }
            LayerKind::DepthwiseConv2d {
                window,
                depth_multiplier,
            } => dims(
                window.output_hw(input.h, input.w),
                c_in * u64::from(*depth_multiplier),
            ),
            LayerKind::Dense => Some(Shape::new(1, 1, out_channels)),
            LayerKind::MaxPool2d(win) | LayerKind::AvgPool2d(win) => {
                dims(win.output_hw(input.h, input.w), c_in)
            }
            LayerKind::GlobalAvgPool => Some(Shape::new(1, 1, input.c)),
            LayerKind::L2Normalize => Some(input),
            LayerKind::Reshape => None,
        }
    }
}

/// One decoded, validated layer, borrowing its parameters from the model bytes.
///
/// Per-output-channel arrays have `output.c` entries for layers with weights and none otherwise;
/// the accessors read them with `from_le_bytes`, so the bytes may sit at any alignment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer<'a> {
    /// What it computes.
    pub kind: LayerKind,
    /// Input tensor shape (the previous layer's output, or the model input for the first layer).
    pub input: Shape,
    /// Output tensor shape.
    pub output: Shape,
    /// Input quantization (the previous layer's output quantization).
    pub input_quant: Quant,
    /// Output quantization.
    pub output_quant: Quant,
    /// Output clamp.
    pub activation: Activation,
    pub(crate) weights: &'a [u8],
    pub(crate) weight_scales: LeF32Slice<'a>,
    pub(crate) bias: LeI32Slice<'a>,
    pub(crate) multipliers: LeI32Slice<'a>,
    pub(crate) shifts: &'a [u8],
}

impl<'a> Layer<'a> {
    /// The int8 weights in the kind's layout (see the module docs); empty without weights.
    pub fn weights(&self) -> &'a [i8] {
        as_i8(self.weights)
    }

    /// Per-output-channel weight scales (finite, `> 0`).
    pub fn weight_scales(&self) -> LeF32Slice<'a> {
        self.weight_scales
    }

    /// Weight scale of output channel `ch`.
    pub fn weight_scale(&self, ch: usize) -> Option<f32> {
        self.weight_scales.get(ch)
    }

    /// Per-output-channel i32 biases (scale `input_scale * weight_scale[ch]`, zero point 0).
    pub fn biases(&self) -> LeI32Slice<'a> {
        self.bias
    }

    /// Bias of output channel `ch`.
    pub fn bias(&self, ch: usize) -> Option<i32> {
        self.bias.get(ch)
    }

    /// Per-output-channel Q31 requantization multipliers, each in `[2^30, 2^31)` or 0.
    pub fn multipliers(&self) -> LeI32Slice<'a> {
        self.multipliers
    }

    /// Requantization multiplier of output channel `ch`.
    pub fn multiplier(&self, ch: usize) -> Option<i32> {
        self.multipliers.get(ch)
    }

    /// Per-output-channel requantization shifts, each in `-31..=30` (positive: left).
    pub fn shifts(&self) -> &'a [i8] {
        as_i8(self.shifts)
    }

    /// Requantization shift of output channel `ch`.
    pub fn shift(&self, ch: usize) -> Option<i8> {
        self.shifts().get(ch).copied()
    }

    /// `(multiplier, shift)` of output channel `ch`.
    pub fn requantization(&self, ch: usize) -> Option<(i32, i8)> {
        Some((self.multiplier(ch)?, self.shift(ch)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shapes() {
        let input = Shape::new(8, 8, 4);
        let conv = LayerKind::Conv2d(Window::new(3, 3, 1, 1));
        assert_eq!(conv.output_shape(input, 16), Some(Shape::new(6, 6, 16)));
        let dw = LayerKind::DepthwiseConv2d {
            window: Window::new(3, 3, 2, 2),
            depth_multiplier: 2,
        };
        assert_eq!(dw.output_shape(input, 0), Some(Shape::new(3, 3, 8)));
        assert_eq!(
            LayerKind::Dense.output_shape(input, 10),
            Some(Shape::new(1, 1, 10))
        );
        assert_eq!(
            LayerKind::GlobalAvgPool.output_shape(input, 0),
            Some(Shape::new(1, 1, 4))
        );
        assert_eq!(LayerKind::Reshape.output_shape(input, 0), None);
    }
}
