//! The architectures a run can train, behind one type: [`Model`] embeds images (Siamese CNN) or scores
//! pairs (2-channel, hybrid). Every architecture can give a pair distance (smaller = more alike), which
//! is what evaluation consumes.

use candle_core::{Result, Tensor};
use candle_nn::{ModuleT, VarBuilder};
use serde::{Deserialize, Serialize};

use super::encoder::{encoder, Encoder, EncoderConfig};
use super::hybrid::{hybrid_net, HybridNet};
use super::two_channel::{two_channel_net, TwoChannelNet};
use super::ModelError;

/// Which network to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// Siamese embedding CNN (tied weights) with the given [`EncoderConfig`].
    Cnn,
    /// 2-channel network: both images stacked as channels, one logit.
    TwoChannel,
    /// Shared towers, then a small classifier over the pair's features, one logit.
    Hybrid,
}

impl Arch {
    /// Whether the network maps one image to an embedding (rather than a pair to a logit).
    pub fn embeds(self) -> bool {
        matches!(self, Arch::Cnn)
    }
}

/// Everything needed to build a [`Model`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The architecture.
    pub arch: Arch,
    /// The encoder (for `Cnn`), the shared tower (for `Hybrid`), or the image side of the 2-channel
    /// tower (for `TwoChannel`, whose input channels are doubled).
    pub encoder: EncoderConfig,
    /// Hidden units of the hybrid classifier (unused by the others).
    pub hidden: usize,
}

/// A trainable network.
#[derive(Clone, Debug)]
pub enum Model {
    /// Siamese embedding CNN.
    Siamese(Encoder),
    /// 2-channel network.
    TwoChannel(TwoChannelNet),
    /// Hybrid network.
    Hybrid(HybridNet),
}

impl Model {
    /// Builds the network of `cfg` with its parameters under `vb` (`encoder.*` for the Siamese CNN,
    /// `two_channel.*`, `hybrid.*` for the others).
    pub fn build(cfg: &ModelConfig, vb: VarBuilder) -> std::result::Result<Self, ModelError> {
        Ok(match cfg.arch {
            Arch::Cnn => Model::Siamese(encoder(&cfg.encoder, vb.pp("encoder"))?),
            Arch::TwoChannel => {
                Model::TwoChannel(two_channel_net(&cfg.encoder, vb.pp("two_channel"))?)
            }
            Arch::Hybrid => Model::Hybrid(hybrid_net(&cfg.encoder, cfg.hidden, vb.pp("hybrid"))?),
        })
    }

    /// The embedding network, for the Siamese CNN.
    pub fn encoder(&self) -> Option<&Encoder> {
        match self {
            Model::Siamese(e) => Some(e),
            _ => None,
        }
    }

    /// Same/different logits `(N,)` for pairs `(a[i], b[i])` (`(N, C, H, W)` each), for the
    /// pair-scoring networks; `None` for the Siamese CNN.
    pub fn pair_logits_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Option<Result<Tensor>> {
        match self {
            Model::Siamese(_) => None,
            Model::TwoChannel(n) => Some(n.forward_pair_t(a, b, train)),
            Model::Hybrid(n) => Some(n.forward_pair_t(a, b, train)),
        }
    }

    /// Distances `(N,)` for pairs `(a[i], b[i])` in evaluation mode: the L2 distance between embeddings
    /// for the Siamese CNN, minus the logit for the pair-scoring networks (so smaller = more alike for
    /// all).
    pub fn pair_distances(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Model::Siamese(e) => {
                let ea = e.forward_t(a, false)?;
                let eb = e.forward_t(b, false)?;
                crate::loss::distance::pair_distances(&ea, &eb)
            }
            Model::TwoChannel(n) => n.forward_pair_t(a, b, false)?.neg(),
            Model::Hybrid(n) => n.forward_pair_t(a, b, false)?.neg(),
        }
    }
}
