//! Reference int8 fully connected layer (TFLite's `reference_integer_ops::FullyConnected`, per
//! channel).
//!
//! `out[o] = requant_o(bias[o] + sum_k w[o][k] * (in[k] - zp_in))` over the NHWC-flattened input
//! (`k` runs over `in_h * in_w * in_c`).

use siamedge_format::Layer;

use super::{check_accumulators, sum_abs, Channels};
use crate::error::EngineError;

/// A prepared dense layer: borrowed `[out_c][in_elements]` weights and per-channel parameters.
#[derive(Debug, Clone, Copy)]
pub struct Dense<'m> {
    /// Input elements (`in_h * in_w * in_c`).
    pub depth: usize,
    /// Output channels.
    pub out_c: usize,
    /// `[out_c][depth]` weights.
    pub weights: &'m [i8],
    /// Bias and requantization per output channel.
    pub channels: Channels<'m>,
    /// `-input_zero_point`.
    pub input_offset: i32,
}

impl<'m> Dense<'m> {
    /// Prepares layer `index`, a validated `Dense`.
    pub fn prepare(index: usize, layer: &Layer<'m>) -> Result<Self, EngineError> {
        let depth = layer.input.elements() as usize;
        let out_c = usize::from(layer.output.c);
        let weights = layer.weights();
        check_accumulators(index, layer, out_c, |o| {
            sum_abs(weights.iter().skip(o * depth).take(depth).copied())
        })?;
        Ok(Self {
            depth,
            out_c,
            weights,
            channels: Channels::new(layer),
            input_offset: -i32::from(layer.input_quant.zero_point),
        })
    }

    /// Multiply-accumulates per inference (`out_c * depth`).
    pub fn macs(&self) -> u64 {
        (self.out_c * self.depth) as u64
    }

    /// Computes `output` (`out_c`) from `input` (`depth`).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let filters = self.weights.chunks_exact(self.depth);
        for ((o, w), (bias, rq)) in output.iter_mut().zip(filters).zip(self.channels.iter()) {
            let mut acc = bias;
            for (&xi, &wi) in input.iter().zip(w) {
                acc = acc.wrapping_add((i32::from(xi) + self.input_offset) * i32::from(wi));
            }
            *o = rq.apply(acc);
        }
    }
}
