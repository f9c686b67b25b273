//! The 2-channel network (Zagoruyko & Komodakis, "Learning to compare image patches via convolutional
//! neural networks", CVPR 2015): the two images of a pair are stacked as channels and one conv tower
//! looks at both from the first layer on; a small head gives one same/different logit.
//!
//! Inputs `a`, `b`: `(N, C, H, W)` each, values in `[0, 1]`; the tower sees `(N, 2C, H, W)`. Output
//! `(N,)` logits, positive for "same". The score is not symmetric in `a` and `b`; every pair is scored
//! once, in the order given. Parameters: `tower.*` (an [`Encoder`] with `2C` input channels, no L2
//! normalisation, `D` = the hidden width), `head.weight (1, D)`, `head.bias (1)`.

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, ModuleT, VarBuilder};

use super::conv::linear;
use super::encoder::{encoder, Encoder, EncoderConfig};
use super::ModelError;

/// Stacked-input conv tower - ReLU - linear -> 1 logit.
#[derive(Clone, Debug)]
pub struct TwoChannelNet {
    tower: Encoder,
    head: Linear,
}

impl TwoChannelNet {
    /// A network from its tower (with twice the image channels) and its `(1, D)` head.
    pub fn new(tower: Encoder, head: Linear) -> Self {
        Self { tower, head }
    }

    /// Same/different logits `(N,)` for the pairs `(a[i], b[i])`.
    pub fn forward_pair_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Result<Tensor> {
        let x = Tensor::cat(&[a, b], 1)?;
        let h = self.tower.forward_t(&x, train)?.relu()?;
        self.head.forward(&h)?.squeeze(1)
    }
}

/// A [`TwoChannelNet`] whose tower is `image_cfg` with doubled input channels, no L2 normalisation and
/// `image_cfg.embedding_dim` hidden units; parameters under `vb` (`tower.*`, `head.*`).
pub fn two_channel_net(
    image_cfg: &EncoderConfig,
    vb: VarBuilder,
) -> std::result::Result<TwoChannelNet, ModelError> {
    let mut cfg = image_cfg.clone();
    cfg.in_channels *= 2;
    cfg.l2_normalize = false;
    let tower = encoder(&cfg, vb.pp("tower"))?;
    let head = linear(cfg.embedding_dim, 1, vb.pp("head"))?;
    Ok(TwoChannelNet::new(tower, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::Device;
    use candle_nn::VarMap;

    #[test]
    fn one_logit_per_pair() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let net = two_channel_net(&EncoderConfig::reference(32, 24, 16), vb).unwrap();
        let a = Tensor::rand(0f32, 1.0, (5, 1, 32, 24), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1.0, (5, 1, 32, 24), &Device::Cpu).unwrap();
        assert_eq!(net.forward_pair_t(&a, &b, true).unwrap().dims(), &[5]);
        let w = varmap.data().lock().unwrap()["tower.block0.conv.weight"]
            .dims()
            .to_vec();
        assert_eq!(w, [16, 2, 3, 3]);
    }
}
