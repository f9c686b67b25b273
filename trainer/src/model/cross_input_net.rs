//! The cross-input neighborhood differences network (Ahmed, Jones and Marks, CVPR 2015).
//!
//! ```text
//!  a ─ tied tower ─ f ─┬─ K(f,g) = f - N[g] ─ ReLU ─ 1x1 summary ─ ReLU ─ trunk_ab ─┐
//!                      │                                                         ├─ cat ─ fc ─ ReLU ─ fc ─ logit
//!  b ─ tied tower ─ g ─┴─ K(g,f) = g - N[f] ─ ReLU ─ 1x1 summary ─ ReLU ─ trunk_ba ─┘
//! ```
//!
//! `N[g]` is the `k x k` neighbourhood of each position ([`super::neighborhood_diff`]); the paper's
//! `k x k` stride-`k` "patch summary" convolution over the tiled differences is the 1x1 summary over
//! the `k^2 C` channels here, and its "across-patch" 3x3 convolution + pooling is the trunk's
//! blocks. As in the paper, the two directions have their own summary and trunk weights.
//!
//! Inputs `a`, `b`: `(N, C, H, W)` in `[0, 1]`; output `(N,)` logits. Parameters: `tower.*`,
//! `summary_ab.*`, `summary_ba.*`, `trunk_ab.block{j}.*`, `trunk_ba.block{j}.*`, `fc1.*`, `fc2.*`.

use candle_core::{Result, Tensor};
use candle_nn::{Module, ModuleT, VarBuilder};

use super::neighborhood_diff::neighborhood_differences;
use super::pair_config::PairConfig;
use super::pair_head::{check_pair, stage, tied_pair, Classifier, Stage, Summary};
use super::{EncoderConfig, ModelError};

/// Tied tower - differences both ways - summaries - trunks - classifier; see the module docs.
#[derive(Clone, Debug)]
pub struct CrossInputNet {
    enc: EncoderConfig,
    window: usize,
    tower: Stage,
    summary_ab: Summary,
    summary_ba: Summary,
    trunk_ab: Stage,
    trunk_ba: Stage,
    head: Classifier,
}

impl CrossInputNet {
    /// Same/different logits `(N,)` for the pairs `(a[i], b[i])`.
    pub fn forward_pair_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Result<Tensor> {
        check_pair(&self.enc, a, b)?;
        let (f, g) = tied_pair(&self.tower, a, b, train)?;
        let kab = neighborhood_differences(&f, &g, self.window)?.relu()?;
        let kba = neighborhood_differences(&g, &f, self.window)?.relu()?;
        let ab = self
            .trunk_ab
            .forward_t(&self.summary_ab.forward(&kab)?, train)?;
        let ba = self
            .trunk_ba
            .forward_t(&self.summary_ba.forward(&kba)?, train)?;
        let feats = Tensor::cat(&[ab.flatten_from(1)?, ba.flatten_from(1)?], 1)?;
        self.head.forward(&feats)
    }
}

/// A [`CrossInputNet`] on `enc`'s blocks split by `pair`, `hidden` classifier units; parameters
/// under `vb`.
pub fn cross_input_net(
    enc: &EncoderConfig,
    pair: &PairConfig,
    hidden: usize,
    vb: VarBuilder,
) -> std::result::Result<CrossInputNet, ModelError> {
    pair.validate(enc)?;
    let k = pair.merge_after;
    let c = enc.widths[k - 1];
    let diffs = pair.window * pair.window * c;
    let rest = k..enc.widths.len();
    Ok(CrossInputNet {
        enc: enc.clone(),
        window: pair.window,
        tower: stage(enc, 0..k, enc.in_channels, vb.pp("tower"))?,
        summary_ab: Summary::build(diffs, pair.summary, vb.pp("summary_ab"))?,
        summary_ba: Summary::build(diffs, pair.summary, vb.pp("summary_ba"))?,
        trunk_ab: stage(enc, rest.clone(), pair.summary, vb.pp("trunk_ab"))?,
        trunk_ba: stage(enc, rest, pair.summary, vb.pp("trunk_ba"))?,
        head: Classifier::build(2 * enc.feature_len(), hidden, vb)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::Device;
    use candle_nn::VarMap;

    #[test]
    fn one_logit_per_pair_and_parameters_named() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 1, &Device::Cpu);
        let net = cross_input_net(
            &EncoderConfig::reference(16, 12, 8),
            &PairConfig::default(),
            10,
            vb,
        )
        .unwrap();
        let a = Tensor::rand(0f32, 1.0, (4, 1, 16, 12), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1.0, (4, 1, 16, 12), &Device::Cpu).unwrap();
        assert_eq!(net.forward_pair_t(&a, &b, true).unwrap().dims(), &[4]);
        let data = varmap.data().lock().unwrap();
        // 5x5 window over the tower's 32 channels -> 800 inputs to each 32-channel summary.
        assert_eq!(data["summary_ab.weight"].dims(), &[32, 800]);
        assert_eq!(data["trunk_ba.block0.conv.weight"].dims(), &[64, 32, 3, 3]);
        // Two directions x 64 channels x a 2x1 map.
        assert_eq!(data["fc1.weight"].dims(), &[10, 2 * 64 * 2]);
        let err = net
            .forward_pair_t(&a, &a.narrow(0, 0, 2).unwrap(), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pair input"), "{err}");
    }
}
