//! The Siamese embedding CNN: a stack of conv blocks, a linear layer to `D`, optionally L2-normalised.
//! Both inputs of a pair (or all images of a batch) go through this one encoder, so the weights are
//! tied by construction.
//!
//! Input `(N, C, H, W)` f32, pixel values in `[0, 1]` (or standardised, as long as training and use
//! agree); output `(N, D)`, of unit L2 norm when `l2_normalize` is set. Each block halves `H` and `W`
//! (floor), so the linear layer sees `widths.last() * (H >> B) * (W >> B)` features for `B` blocks.
//!
//! Inside, the blocks run channel-last (`(N, H, W, C)`); the features are put back in PyTorch's order
//! before the linear layer. Parameter names under the encoder's path: `block{i}.conv.*` and `block{i}.bn.*` for standard
//! blocks, `block{i}.dw.*`, `block{i}.dw_bn.*`, `block{i}.pw.*`, `block{i}.pw_bn.*` for separable
//! ones, `fc.weight (D, F)`, `fc.bias (D)`; the flattening order of `F` is PyTorch's (`C`, then `H`,
//! then `W`).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, ModuleT, VarBuilder};
use serde::{Deserialize, Serialize};

use super::conv::linear;
use super::conv_block::{conv_block, ConvBlock};
use super::separable_block::{separable_block, SeparableBlock};
use super::ModelError;

/// The shape of an encoder; [`EncoderConfig::reference`] is REFERENCE.md's CNN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Input channels (1 for grey images).
    pub in_channels: usize,
    /// Input height in pixels.
    pub height: usize,
    /// Input width in pixels.
    pub width: usize,
    /// Output channels of each block, in order; one entry per block (each block halves H and W).
    pub widths: Vec<usize>,
    /// Embedding dimension `D`.
    pub embedding_dim: usize,
    /// Make every block after the first depthwise-separable (the first stays a full conv3x3, which is
    /// cheap on 1-2 input channels).
    pub separable: bool,
    /// Divide each embedding by its L2 norm.
    pub l2_normalize: bool,
}

impl EncoderConfig {
    /// REFERENCE.md's CNN: widths 16, 32, 64, full 3x3 convolutions, `dim`-d L2-normalised output.
    pub fn reference(height: usize, width: usize, dim: usize) -> Self {
        Self {
            in_channels: 1,
            height,
            width,
            widths: vec![16, 32, 64],
            embedding_dim: dim,
            separable: false,
            l2_normalize: true,
        }
    }

    /// A compact MCU-sized encoder: widths 8, 16, 32, 32, separable blocks after the first, `dim`-d
    /// L2-normalised output (8.7 k parameters and 0.47 M multiply-accumulates for 56x46 and D = 32,
    /// against 167 k and 6.3 M for the reference CNN at 56x46, D = 64).
    pub fn compact(height: usize, width: usize, dim: usize) -> Self {
        Self {
            in_channels: 1,
            height,
            width,
            widths: vec![8, 16, 32, 32],
            embedding_dim: dim,
            separable: true,
            l2_normalize: true,
        }
    }

    /// Checks that every size is positive and that the blocks leave at least one pixel.
    pub fn validate(&self) -> std::result::Result<(), ModelError> {
        let bad = |field: &'static str, reason: String| ModelError::InvalidConfig { field, reason };
        if self.in_channels == 0 {
            return Err(bad("in_channels", "must be at least 1".into()));
        }
        if self.embedding_dim == 0 {
            return Err(bad("embedding_dim", "must be at least 1".into()));
        }
        if self.widths.is_empty() || self.widths.contains(&0) {
            return Err(bad(
                "widths",
                format!("need one or more positive widths, got {:?}", self.widths),
            ));
        }
        let (h, w) = self.feature_hw();
        if h == 0 || w == 0 {
            return Err(bad(
                "widths",
                format!(
                    "{} blocks halve a {}x{} input to {h}x{w}: use fewer blocks or a larger input",
                    self.widths.len(),
                    self.height,
                    self.width
                ),
            ));
        }
        Ok(())
    }

    /// Height and width of the last block's output.
    pub fn feature_hw(&self) -> (usize, usize) {
        let b = self.widths.len() as u32;
        (
            self.height.checked_shr(b).unwrap_or(0),
            self.width.checked_shr(b).unwrap_or(0),
        )
    }

    /// Number of features the linear layer sees: `widths.last() * h * w` after the blocks.
    pub fn feature_len(&self) -> usize {
        let (h, w) = self.feature_hw();
        self.widths.last().copied().unwrap_or(0) * h * w
    }
}

/// One block of the tower.
#[derive(Clone, Debug)]
pub enum Block {
    /// conv3x3 - BN - ReLU - maxpool2.
    Standard(ConvBlock),
    /// depthwise 3x3 - BN - ReLU - pointwise - BN - ReLU - maxpool2.
    Separable(SeparableBlock),
}

impl ModuleT for Block {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Block::Standard(b) => b.forward_t(x, train),
            Block::Separable(b) => b.forward_t(x, train),
        }
    }
}

/// The embedding network; see the module docs for shapes and parameter names.
#[derive(Clone, Debug)]
pub struct Encoder {
    cfg: EncoderConfig,
    blocks: Vec<Block>,
    fc: Linear,
}

impl Encoder {
    /// An encoder from its layers; `cfg` must describe them (it is used for the input shape check and
    /// the normalisation flag).
    pub fn new(cfg: EncoderConfig, blocks: Vec<Block>, fc: Linear) -> Self {
        Self { cfg, blocks, fc }
    }

    /// The configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    /// The blocks, in order (for export).
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The final linear layer: weight `(D, F)`, bias `(D)` (for export).
    pub fn fc(&self) -> &Linear {
        &self.fc
    }

    /// The blocks' output flattened in PyTorch's order (`C`, then `H`, then `W`): `(N, F)` with
    /// `F = cfg.feature_len()`. Input `(N, C, H, W)`.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if (c, h, w) != (self.cfg.in_channels, self.cfg.height, self.cfg.width) {
            candle_core::bail!(
                "encoder input: expected (N, {}, {}, {}), found {:?}",
                self.cfg.in_channels,
                self.cfg.height,
                self.cfg.width,
                x.dims()
            )
        }
        // The blocks work channel-last (see `conv`); for one channel this is a free reshape.
        let mut x = x.permute((0, 2, 3, 1))?.contiguous()?;
        for block in &self.blocks {
            x = block.forward_t(&x, train)?;
        }
        x.permute((0, 3, 1, 2))?.flatten_from(1)
    }
}

/// Divides each row of `(N, D)` by its L2 norm (plus 1e-12 under the root).
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
    x.broadcast_div(&norm)
}

impl ModuleT for Encoder {
    /// `(N, C, H, W)` -> `(N, D)`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let e = self.fc.forward(&self.features_t(x, train)?)?;
        if self.cfg.l2_normalize {
            l2_normalize(&e)
        } else {
            Ok(e)
        }
    }
}

/// One block `c_in -> c_out` with its parameters under `vb`: depthwise-separable when `separable`,
/// else the standard conv3x3 block. Channel-last, halves `H` and `W`.
pub fn block(
    separable: bool,
    c_in: usize,
    c_out: usize,
    vb: VarBuilder,
) -> std::result::Result<Block, ModelError> {
    Ok(if separable {
        Block::Separable(separable_block(c_in, c_out, vb)?)
    } else {
        Block::Standard(conv_block(c_in, c_out, vb)?)
    })
}

/// An [`Encoder`] for `cfg` with its parameters under `vb`.
pub fn encoder(cfg: &EncoderConfig, vb: VarBuilder) -> std::result::Result<Encoder, ModelError> {
    cfg.validate()?;
    let mut blocks = Vec::with_capacity(cfg.widths.len());
    let mut c_in = cfg.in_channels;
    for (i, &c_out) in cfg.widths.iter().enumerate() {
        let vb = vb.pp(format!("block{i}"));
        blocks.push(block(cfg.separable && i > 0, c_in, c_out, vb)?);
        c_in = c_out;
    }
    let fc = linear(cfg.feature_len(), cfg.embedding_dim, vb.pp("fc"))?;
    Ok(Encoder::new(cfg.clone(), blocks, fc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn param_count(varmap: &VarMap, skip_running: bool) -> usize {
        varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| !(skip_running && k.contains("running_")))
            .map(|(_, v)| v.elem_count())
            .sum()
    }

    #[test]
    fn reference_cnn_has_the_reference_parameter_count_at_64x64() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let enc = encoder(&EncoderConfig::reference(64, 64, 64), vb).unwrap();
        // REFERENCE.md: 286 k parameters (285,504 without BN's affine terms; 224 with them).
        assert_eq!(param_count(&varmap, true), 285_728);
        let x = Tensor::rand(0f32, 1.0, (3, 1, 64, 64), &Device::Cpu).unwrap();
        let e = enc.forward_t(&x, false).unwrap();
        assert_eq!(e.dims(), &[3, 64]);
        let norms: Vec<f32> = e.sqr().unwrap().sum(1).unwrap().to_vec1().unwrap();
        for n in norms {
            assert!((n - 1.0).abs() < 1e-5, "squared norm {n}");
        }
    }

    #[test]
    fn compact_config_is_small_and_runs_at_56x46() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let cfg = EncoderConfig::compact(56, 46, 32);
        let enc = encoder(&cfg, vb).unwrap();
        // 96 + 248 + 752 + 1,440 in the blocks (BN affine included), 192 * 32 + 32 in the linear layer.
        assert_eq!(param_count(&varmap, true), 8_712);
        let x = Tensor::zeros((2, 1, 56, 46), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(enc.forward_t(&x, true).unwrap().dims(), &[2, 32]);
    }

    #[test]
    fn wrong_input_shape_and_too_many_blocks_are_reported() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let enc = encoder(&EncoderConfig::reference(56, 46, 8), vb.clone()).unwrap();
        let x = Tensor::zeros((2, 1, 64, 64), DType::F32, &Device::Cpu).unwrap();
        let err = enc.forward_t(&x, false).unwrap_err().to_string();
        assert!(err.contains("expected (N, 1, 56, 46)"), "{err}");
        let mut cfg = EncoderConfig::reference(8, 8, 8);
        cfg.widths = vec![4; 4];
        match encoder(&cfg, vb) {
            Err(ModelError::InvalidConfig { field, .. }) => assert_eq!(field, "widths"),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }
}
