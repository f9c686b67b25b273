//! The normalized-correlation network (Subramaniam, Chatterjee and Mittal, NIPS 2016).
//!
//! ```text
//!  a ─ tied tower ─ f ─┐
//!                      ├─ NC(p x p patches of f, s x s search in g) ─ 1x1 summary ─ ReLU ─ trunk ─ fc ─ ReLU ─ fc ─ logit
//!  b ─ tied tower ─ g ─┘
//! ```
//!
//! The comparison ([`super::norm_corr`]) divides out each patch's mean and spread, so it does not
//! move when one image is brighter or more contrasted than the other; the search window lets a part
//! match a little off its place ("inexact matching").
//!
//! Inputs `a`, `b`: `(N, C, H, W)` in `[0, 1]`; output `(N,)` logits. Parameters: `tower.*`,
//! `summary.*`, `trunk.block{j}.*`, `fc1.*`, `fc2.*`.

use candle_core::{Result, Tensor};
use candle_nn::{Module, ModuleT, VarBuilder};

use super::norm_corr::{normalized_correlation, NC_EPS};
use super::pair_config::PairConfig;
use super::pair_head::{check_pair, stage, tied_pair, Classifier, Stage, Summary};
use super::{EncoderConfig, ModelError};

/// Tied tower - normalized correlation - summary - trunk - classifier; see the module docs.
#[derive(Clone, Debug)]
pub struct NormCorrNet {
    enc: EncoderConfig,
    patch: usize,
    window: usize,
    tower: Stage,
    summary: Summary,
    trunk: Stage,
    head: Classifier,
}

impl NormCorrNet {
    /// Same/different logits `(N,)` for the pairs `(a[i], b[i])`.
    pub fn forward_pair_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Result<Tensor> {
        check_pair(&self.enc, a, b)?;
        let (f, g) = tied_pair(&self.tower, a, b, train)?;
        let c = normalized_correlation(&f, &g, self.patch, self.window, NC_EPS)?;
        let t = self.trunk.forward_t(&self.summary.forward(&c)?, train)?;
        self.head.forward(&t)
    }
}

/// A [`NormCorrNet`] on `enc`'s blocks split by `pair`, `hidden` classifier units; parameters under
/// `vb`.
pub fn norm_corr_net(
    enc: &EncoderConfig,
    pair: &PairConfig,
    hidden: usize,
    vb: VarBuilder,
) -> std::result::Result<NormCorrNet, ModelError> {
    pair.validate(enc)?;
    let k = pair.merge_after;
    let c = enc.widths[k - 1];
    Ok(NormCorrNet {
        enc: enc.clone(),
        patch: pair.patch,
        window: pair.window,
        tower: stage(enc, 0..k, enc.in_channels, vb.pp("tower"))?,
        summary: Summary::build(
            pair.window * pair.window * c,
            pair.summary,
            vb.pp("summary"),
        )?,
        trunk: stage(enc, k..enc.widths.len(), pair.summary, vb.pp("trunk"))?,
        head: Classifier::build(enc.feature_len(), hidden, vb)?,
    })
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
        let vb = seeded_var_builder(&varmap, 2, &Device::Cpu);
        let net = norm_corr_net(
            &EncoderConfig::reference(16, 12, 8),
            &PairConfig::default(),
            10,
            vb,
        )
        .unwrap();
        let a = Tensor::rand(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap();
        let l: Vec<f32> = net
            .forward_pair_t(&a, &b, false)
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(l.len(), 3);
        assert!(l.iter().all(|v| v.is_finite()));
    }
}
