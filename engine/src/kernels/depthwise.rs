//! Reference int8 depthwise convolution (TFLite's `reference_integer_ops::DepthwiseConvPerChannel`).
//!
//! Output channel `o = i * depth_multiplier + m` filters input channel `i` alone:
//! `out[y][x][o] = requant_o(bias[o] + sum_{ky,kx} w[ky][kx][o] * (in[iy][ix][i] - zp_in))`, with
//! `iy`, `ix` and padding as in [`conv2d`](super::conv2d).

use siamedge_format::{Layer, Window};

use super::{check_accumulators, sum_abs, Channels, Geometry};
use crate::error::EngineError;

/// A prepared depthwise convolution: geometry, borrowed `[kh][kw][out_c]` weights, per-channel
/// parameters.
#[derive(Debug, Clone, Copy)]
pub struct Depthwise<'m> {
    /// The window over the input.
    pub geometry: Geometry,
    /// Output channels per input channel.
    pub depth_multiplier: usize,
    /// `[kernel_h][kernel_w][out_c]` weights.
    pub weights: &'m [i8],
    /// Bias and requantization per output channel.
    pub channels: Channels<'m>,
    /// `-input_zero_point`.
    pub input_offset: i32,
}

impl<'m> Depthwise<'m> {
    /// Prepares layer `index`, a validated `DepthwiseConv2d { window, depth_multiplier }`.
    pub fn prepare(
        index: usize,
        layer: &Layer<'m>,
        window: &Window,
        depth_multiplier: u16,
    ) -> Result<Self, EngineError> {
        let geometry = Geometry::new(layer, window);
        let weights = layer.weights();
        let out_c = geometry.out_c;
        check_accumulators(index, layer, out_c, |o| {
            sum_abs(weights.iter().skip(o).step_by(out_c).copied())
        })?;
        Ok(Self {
            geometry,
            depth_multiplier: usize::from(depth_multiplier),
            weights,
            channels: Channels::new(layer),
            input_offset: -i32::from(layer.input_quant.zero_point),
        })
    }

    /// Multiply-accumulates per inference, padding taps included.
    pub fn macs(&self) -> u64 {
        let g = &self.geometry;
        (g.out_h * g.out_w * g.out_c * g.kernel_h * g.kernel_w) as u64
    }

    /// Computes `output` (`out_h * out_w * out_c`) from `input` (`in_h * in_w * in_c`).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let g = &self.geometry;
        let mut pixels = output.chunks_exact_mut(g.out_c);
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let Some(out) = pixels.next() else { return };
                for (oc, o) in out.iter_mut().enumerate() {
                    let ic = oc / self.depth_multiplier;
                    let mut acc = self.channels.bias(oc);
                    for ky in 0..g.kernel_h {
                        let Some(iy) = g.in_row(oy, ky) else { continue };
                        for kx in 0..g.kernel_w {
                            let Some(ix) = g.in_col(ox, kx) else { continue };
                            let x = i32::from(input[(iy * g.in_w + ix) * g.in_c + ic]);
                            let w = i32::from(self.weights[(ky * g.kernel_w + kx) * g.out_c + oc]);
                            acc = acc.wrapping_add((x + self.input_offset) * w);
                        }
                    }
                    *o = self.channels.requant(oc).apply(acc);
                }
            }
        }
    }
}
