//! Reference int8 2-D convolution (TFLite's `reference_integer_ops::ConvPerChannel`), also
//! pointwise convolution (a 1x1 window).
//!
//! `out[y][x][o] = requant_o(bias[o] + sum_{ky,kx,i} w[o][ky][kx][i] * (in[iy][ix][i] - zp_in))`
//! with `iy = y * stride_h + ky * dilation_h - pad_top` (likewise `ix`); taps in the padding
//! contribute nothing (they stand for real 0, that is `zp_in`).

use siamedge_format::{Layer, Window};

use super::{check_accumulators, sum_abs, Channels, Geometry};
use crate::error::EngineError;

/// A prepared convolution: geometry, borrowed OHWI weights, per-channel parameters.
#[derive(Debug, Clone, Copy)]
pub struct Conv2d<'m> {
    /// The window over the input.
    pub geometry: Geometry,
    /// OHWI weights, `out_c * kernel_h * kernel_w * in_c`.
    pub weights: &'m [i8],
    /// Bias and requantization per output channel.
    pub channels: Channels<'m>,
    /// `-input_zero_point`.
    pub input_offset: i32,
}

impl<'m> Conv2d<'m> {
    /// Prepares layer `index`, a validated `Conv2d(window)`.
    pub fn prepare(index: usize, layer: &Layer<'m>, window: &Window) -> Result<Self, EngineError> {
        let geometry = Geometry::new(layer, window);
        let weights = layer.weights();
        let per_filter = geometry.kernel_h * geometry.kernel_w * geometry.in_c;
        check_accumulators(index, layer, geometry.out_c, |o| {
            sum_abs(
                weights
                    .iter()
                    .skip(o * per_filter)
                    .take(per_filter)
                    .copied(),
            )
        })?;
        Ok(Self {
            geometry,
            weights,
            channels: Channels::new(layer),
            input_offset: -i32::from(layer.input_quant.zero_point),
        })
    }

    /// Multiply-accumulates per inference, padding taps included (`out_h * out_w * out_c *
    /// kernel_h * kernel_w * in_c`).
    pub fn macs(&self) -> u64 {
        let g = &self.geometry;
        (g.out_h * g.out_w * g.out_c * g.kernel_h * g.kernel_w * g.in_c) as u64
    }

    /// Computes `output` (`out_h * out_w * out_c`) from `input` (`in_h * in_w * in_c`).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let g = &self.geometry;
        let per_filter = g.kernel_h * g.kernel_w * g.in_c;
        let mut pixels = output.chunks_exact_mut(g.out_c);
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let Some(out) = pixels.next() else { return };
                let filters = self.weights.chunks_exact(per_filter);
                for ((o, filter), (bias, rq)) in
                    out.iter_mut().zip(filters).zip(self.channels.iter())
                {
                    let mut acc = bias;
                    for ky in 0..g.kernel_h {
                        let Some(iy) = g.in_row(oy, ky) else { continue };
                        for kx in 0..g.kernel_w {
                            let Some(ix) = g.in_col(ox, kx) else { continue };
                            let at = (iy * g.in_w + ix) * g.in_c;
                            let x = &input[at..at + g.in_c];
                            let tap = (ky * g.kernel_w + kx) * g.in_c;
                            let w = &filter[tap..tap + g.in_c];
                            for (&xi, &wi) in x.iter().zip(w) {
                                acc = acc.wrapping_add(
                                    (i32::from(xi) + self.input_offset) * i32::from(wi),
                                );
                            }
                        }
                    }
                    *o = rq.apply(acc);
                }
            }
        }
    }
}
