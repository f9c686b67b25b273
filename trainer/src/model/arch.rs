//! The architectures a run can train, behind one type: [`Model`] embeds images (Siamese CNN) or scores
//! pairs (2-channel, hybrid, intermediate merging, cross-input neighborhood differences, normalized
//! correlation). Every architecture can give a pair distance (smaller = more alike), which
//! is what evaluation consumes.

use candle_core::{Result, Tensor};
use candle_nn::{ModuleT, VarBuilder};
use serde::{Deserialize, Serialize};

use super::cross_input_net::{cross_input_net, CrossInputNet};
use super::encoder::{encoder, Encoder, EncoderConfig};
use super::hybrid::{hybrid_net, HybridNet};
use super::merge_net::{merge_net, MergeNet};
use super::norm_corr_net::{norm_corr_net, NormCorrNet};
use super::pair_config::PairConfig;
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
    /// Two towers (tied or not) merged part way by their feature maps, then shared blocks, one
    /// logit (Zagoruyko and Komodakis 2015).
    Merge,
    /// Cross-input neighborhood differences between the towers' maps, both ways, then patch
    /// summaries, one logit (Ahmed, Jones and Marks 2015).
    CrossInput,
    /// Normalized correlation of local patches over a search window, one logit (Subramaniam,
    /// Chatterjee and Mittal 2016).
    NormCorr,
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
    /// Hidden units of the pair networks' classifier (unused by the Siamese CNN and the 2-channel net).
    pub hidden: usize,
    /// Where and how the map-comparing networks (`Merge`, `CrossInput`, `NormCorr`) compare; unused
    /// by the others. Absent in runs saved before it existed: the default.
    #[serde(default)]
    pub pair: PairConfig,
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
    /// Intermediate-merging network.
    Merge(MergeNet),
    /// Cross-input neighborhood differences network.
    CrossInput(CrossInputNet),
    /// Normalized-correlation network.
    NormCorr(NormCorrNet),
}

impl Model {
    /// Builds the network of `cfg` with its parameters under `vb` (`encoder.*` for the Siamese CNN,
    /// `two_channel.*`, `hybrid.*`, `merge.*`, `cross_input.*`, `norm_corr.*` for the others).
    pub fn build(cfg: &ModelConfig, vb: VarBuilder) -> std::result::Result<Self, ModelError> {
        Ok(match cfg.arch {
            Arch::Cnn => Model::Siamese(encoder(&cfg.encoder, vb.pp("encoder"))?),
            Arch::TwoChannel => {
                Model::TwoChannel(two_channel_net(&cfg.encoder, vb.pp("two_channel"))?)
            }
            Arch::Hybrid => Model::Hybrid(hybrid_net(&cfg.encoder, cfg.hidden, vb.pp("hybrid"))?),
            Arch::Merge => Model::Merge(merge_net(
                &cfg.encoder,
                &cfg.pair,
                cfg.hidden,
                vb.pp("merge"),
            )?),
            Arch::CrossInput => Model::CrossInput(cross_input_net(
                &cfg.encoder,
                &cfg.pair,
                cfg.hidden,
                vb.pp("cross_input"),
            )?),
            Arch::NormCorr => Model::NormCorr(norm_corr_net(
                &cfg.encoder,
                &cfg.pair,
                cfg.hidden,
                vb.pp("norm_corr"),
            )?),
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
            Model::Merge(n) => Some(n.forward_pair_t(a, b, train)),
            Model::CrossInput(n) => Some(n.forward_pair_t(a, b, train)),
            Model::NormCorr(n) => Some(n.forward_pair_t(a, b, train)),
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
            _ => match self.pair_logits_t(a, b, false) {
                Some(l) => l?.neg(),
                None => candle_core::bail!("no pair logits"),
            },
        }
    }
}
