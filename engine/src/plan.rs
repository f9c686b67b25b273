//! The execution plan: one prepared step per layer, and where its tensors sit in the arena.
//!
//! Placement is ping-pong from both ends of the arena (tflite-micro's two-ended planner for a
//! chain): the model input sits at the front; each layer reads its input at one end and writes
//! its output at the other, so input and output never overlap as long as the arena holds
//! `input + output` bytes of every layer (the format's arena rule). Reshape writes nothing: its
//! output is its input's bytes where they are. What lies between the two tensors of a layer is
//! free for that layer's scratch (the DSP kernels use it when it is large enough).

use siamedge_format::{Layer, LayerKind};

use super::dsp::conv_pool::ConvPool;
use super::error::EngineError;
use super::host::Placed;
use super::kernels::conv2d::Conv2d;
use super::kernels::dense::Dense;
use super::kernels::depthwise::Depthwise;
use super::kernels::l2norm::L2Norm;
use super::kernels::pool::{GlobalAverage, Pool, Reduce};

/// An end of the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Starting at byte 0.
    Front,
    /// Ending at the last byte.
    Back,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Front => Side::Back,
            Side::Back => Side::Front,
        }
    }
}

/// What one step computes, prepared.
#[derive(Debug, Clone, Copy)]
pub enum Op<'m> {
    /// Convolution (also pointwise).
    Conv2d(Conv2d<'m>),
    /// Convolution fused with the 2x2 max pool after it (DSP path only; the pool's own step
    /// is then [`Op::Nothing`]).
    ConvPool(ConvPool<'m>),
    /// Depthwise convolution.
    Depthwise(Depthwise<'m>),
    /// Fully connected.
    Dense(Dense<'m>),
    /// Windowed maximum or average.
    Pool(Pool),
    /// Global average.
    GlobalAverage(GlobalAverage),
    /// L2 normalization.
    L2Norm(L2Norm),
    /// Reshape with an activation clamp, in place.
    Clamp {
        /// Lowest value.
        min: i8,
        /// Highest value.
        max: i8,
    },
    /// Reshape without activation: nothing to do.
    Nothing,
}

impl<'m> Op<'m> {
    /// Prepares layer `index` of a validated model.
    pub fn prepare(index: usize, layer: &Layer<'m>) -> Result<Self, EngineError> {
        Ok(match &layer.kind {
            LayerKind::Conv2d(w) => Op::Conv2d(Conv2d::prepare(index, layer, w)?),
            LayerKind::DepthwiseConv2d {
                window,
                depth_multiplier,
            } => Op::Depthwise(Depthwise::prepare(index, layer, window, *depth_multiplier)?),
            LayerKind::Dense => Op::Dense(Dense::prepare(index, layer)?),
            LayerKind::MaxPool2d(w) => Op::Pool(Pool::prepare(layer, w, Reduce::Max)),
            LayerKind::AvgPool2d(w) => Op::Pool(Pool::prepare(layer, w, Reduce::Average)),
            LayerKind::GlobalAvgPool => Op::GlobalAverage(GlobalAverage::prepare(layer)),
            LayerKind::L2Normalize => Op::L2Norm(L2Norm::prepare(layer)),
            LayerKind::Reshape => {
                let a = layer.activation;
                if a.min == i8::MIN && a.max == i8::MAX {
                    Op::Nothing
                } else {
                    Op::Clamp {
                        min: a.min,
                        max: a.max,
                    }
                }
            }
        })
    }

    /// Whether the output is the input's bytes (no new tensor).
    pub fn in_place(&self) -> bool {
        matches!(self, Op::Clamp { .. } | Op::Nothing)
    }

    /// Multiply-accumulates per inference (0 for layers without weights).
    pub fn macs(&self) -> u64 {
        match self {
            Op::Conv2d(k) => k.macs(),
            Op::ConvPool(k) => k.macs(),
            Op::Depthwise(k) => k.macs(),
            Op::Dense(k) => k.macs(),
            _ => 0,
        }
    }
}

/// One prepared layer and its tensors' places.
#[derive(Debug, Clone, Copy)]
pub struct Step<'m> {
    /// What it computes.
    pub op: Op<'m>,
    /// Where its input sits.
    pub input: Side,
    /// Input bytes.
    pub input_len: usize,
    /// Where its output goes (equal to `input` for in-place steps).
    pub output: Side,
    /// Output bytes.
    pub output_len: usize,
    /// Whether it runs its packed DSP kernel ([`Kernels::Packed`](crate::Kernels) and enough
    /// scratch).
    pub packed: bool,
    /// Where its packed weights and table sit in the host region when it runs the host SIMD
    /// kernels ([`Kernels::Simd`](crate::Kernels) and room in the arena).
    pub host: Option<Placed>,
}
