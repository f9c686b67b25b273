//! The DSP path (feature `dsp`): packed dual-16-bit convolution and dense kernels for
//! Cortex-M4/M7, bit-exact with the reference kernels.
//!
//! - [`packed`]: `SXTB16`, `SXTAB16`, `SMLAD` as inline assembly on `target_arch = "arm"` with
//!   the feature, a portable emulation elsewhere;
//! - [`panel`]: the im2col operand layout, widened to i16 with the input offset applied;
//! - [`matmul`]: the convolution and dense kernels;
//! - [`conv_pool`]: a convolution fused with the 2x2 stride-2 max pool after it (the engine
//!   fuses such pairs on the DSP path: one requantization per pooled output, no conv output
//!   tensor, conv outputs the pool drops never computed);
//! - [`conv3x3_pool`]: the fused kernel for single-channel 3x3 convolutions (a grey image's
//!   first layer), from 4x4 input patches instead of a panel;
//! - [`requant`]: the fused kernels' per-channel requantization table (`SMMULR`, exact on each
//!   channel's proven accumulator range);
//! - [`depthwise`]: the depthwise kernel (depth multiplier 1, channels a multiple of 4; no
//!   scratch).
//!
//! The kernels need scratch for their panel between the layer's input and output in the arena
//! (`4 * (8 * (K / 4) + 4 * (K % 4)) + 3` bytes for a convolution with `K = kh * kw * in_c`,
//! `4 * (2 * (K / 4) + K % 4) + 3` for a dense layer of `K` inputs). A layer whose scratch does
//! not fit runs the reference kernel instead (same output); [`arena_bytes`] is the arena size
//! at which every layer gets its scratch, which an exporter can write as the model's
//! `arena_bytes`. A fused convolution + pool step needs the panel (or, for the 3x3 kernel, the
//! widened filters: `24 * out_c + 3` bytes) plus `32 * out_c` bytes of requantization table;
//! its scratch is larger than the unfused convolution's (its output is the pool's), and the
//! engine drops the table, then the 3x3 kernel, when they do not fit. Without the feature the
//! engine runs the reference kernels only and never fuses; the packed kernels stay callable
//! (the host tests compare them with the reference).

pub mod conv3x3_pool;
pub mod conv_pool;
pub mod depthwise;
pub mod matmul;
pub mod packed;
pub mod panel;
pub mod requant;

use siamedge_format::Model;

use super::plan::Op;

/// Scratch bytes the packed kernel of `op` needs (0 for layers without one).
pub fn scratch_bytes(op: &Op<'_>) -> usize {
    match op {
        Op::Conv2d(k) => matmul::conv_panel(k).scratch_bytes(),
        Op::ConvPool(k) => k.scratch_bytes(),
        Op::Dense(k) => matmul::dense_panel(k).scratch_bytes(),
        _ => 0,
    }
}

/// Arena bytes that give every layer of `model` the scratch of its packed kernel (after a
/// flip-average model's keep region, [`Model::flip_keep_bytes`]), and at least
/// [`needed_arena_bytes`](super::needed_arena_bytes). Layers that fail to prepare count as
/// needing no scratch (the engine reports their error).
pub fn arena_bytes(model: &Model<'_>) -> usize {
    let with_scratch = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let scratch = Op::prepare(i, layer).map_or(0, |op| scratch_bytes(&op));
            (layer.input.elements() + layer.output.elements()) as usize + scratch
        })
        .max()
        .unwrap_or(0);
    let keep = usize::try_from(model.flip_keep_bytes()).unwrap_or(usize::MAX);
    with_scratch
        .saturating_add(keep)
        .max(super::needed_arena_bytes(model))
}
