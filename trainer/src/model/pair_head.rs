//! The parts the map-comparing pair networks share: a [`Stage`] of encoder blocks (the towers before
//! the comparison, the trunk after it), the 1x1 [`Summary`] of a comparison's many channels, and the
//! [`Classifier`] that turns the trunk's features into one same/different logit.
//!
//! Maps are channel-last `(N, H, W, C)` f32; every block halves `H` and `W` (floor).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, ModuleT, VarBuilder};

use super::conv::linear;
use super::encoder::{block, Block};
use super::{EncoderConfig, ModelError};

/// Encoder blocks in a row, channel-last: `(N, H, W, C_in)` -> `(N, H >> B, W >> B, C_last)`.
#[derive(Clone, Debug)]
pub struct Stage {
    blocks: Vec<Block>,
}

impl Stage {
    /// A stage from its blocks.
    pub fn new(blocks: Vec<Block>) -> Self {
        Self { blocks }
    }
}

impl ModuleT for Stage {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            x = b.forward_t(&x, train)?;
        }
        Ok(x)
    }
}

/// Blocks `range` of `enc` (their widths, `enc.separable` after block 0), the first taking `c_in`
/// channels; parameters `block{i}.*` under `vb` with `i` counted from the stage's start.
pub fn stage(
    enc: &EncoderConfig,
    range: std::ops::Range<usize>,
    c_in: usize,
    vb: VarBuilder,
) -> std::result::Result<Stage, ModelError> {
    let mut c = c_in;
    let mut blocks = Vec::with_capacity(range.len());
    for (j, i) in range.enumerate() {
        let c_out = enc.widths[i];
        blocks.push(block(
            enc.separable && i > 0,
            c,
            c_out,
            vb.pp(format!("block{j}")),
        )?);
        c = c_out;
    }
    Ok(Stage::new(blocks))
}

/// `(N, C, H, W)` -> `(N, H, W, C)`, contiguous (what the blocks take).
pub fn channel_last(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 2, 3, 1))?.contiguous()
}

/// 1x1 convolution + ReLU over a channel-last map: `(N, H, W, C_in)` -> `(N, H, W, C_out)`.
/// Parameters `weight (C_out, C_in)`, `bias (C_out)`.
#[derive(Clone, Debug)]
pub struct Summary {
    fc: Linear,
}

impl Summary {
    /// A summary from its layer: weight `(C_out, C_in)`, bias `(C_out)`.
    pub fn new(fc: Linear) -> Self {
        Self { fc }
    }

    /// `c_in -> c_out` with its parameters under `vb`.
    pub fn build(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc: linear(c_in, c_out, vb)?,
        })
    }
}

impl Module for Summary {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        let y = self.fc.forward(&x.reshape((n * h * w, c))?)?.relu()?;
        y.reshape((n, h, w, ()))
    }
}

/// `linear(F -> hidden) - ReLU - linear(hidden -> 1)`: `(N, F)` -> `(N,)` logits, positive for
/// "same". Parameters `fc1.*`, `fc2.*`.
#[derive(Clone, Debug)]
pub struct Classifier {
    fc1: Linear,
    fc2: Linear,
}

impl Classifier {
    /// `features -> hidden -> 1` with its parameters under `vb`.
    pub fn build(
        features: usize,
        hidden: usize,
        vb: VarBuilder,
    ) -> std::result::Result<Self, ModelError> {
        if hidden == 0 {
            return Err(ModelError::InvalidConfig {
                field: "hidden",
                reason: "the classifier needs at least 1 hidden unit".into(),
            });
        }
        Ok(Self {
            fc1: linear(features, hidden, vb.pp("fc1"))?,
            fc2: linear(hidden, 1, vb.pp("fc2"))?,
        })
    }
}

impl Module for Classifier {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.forward(&x.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&h)?.squeeze(1)
    }
}

/// Runs a tied tower on both halves of a pair in one batch (so batch norm sees both):
/// `(N, C, H, W)` twice -> two channel-last maps.
pub fn tied_pair(tower: &Stage, a: &Tensor, b: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
    let n = a.dim(0)?;
    let m = tower.forward_t(&channel_last(&Tensor::cat(&[a, b], 0)?)?, train)?;
    Ok((m.narrow(0, 0, n)?, m.narrow(0, n, n)?))
}

/// Checks that both halves of a pair are `(N, C, H, W)` as `enc` states.
pub fn check_pair(enc: &EncoderConfig, a: &Tensor, b: &Tensor) -> Result<()> {
    for x in [a, b] {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (enc.in_channels, enc.height, enc.width) || a.dim(0)? != b.dim(0)? {
            candle_core::bail!(
                "pair input: expected two (N, {}, {}, {}) batches, found {:?} and {:?}",
                enc.in_channels,
                enc.height,
                enc.width,
                a.dims(),
                b.dims()
            )
        }
    }
    Ok(())
}
