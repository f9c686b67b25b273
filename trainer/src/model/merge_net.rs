//! Intermediate merging (the pseudo-Siamese / Siamese-with-late-merge family of Zagoruyko and
//! Komodakis, "Learning to compare image patches via convolutional neural networks", CVPR 2015):
//! two towers, tied or untied, run the first `merge_after` blocks on each image; their feature maps
//! are merged (concatenated along channels, or `|f - g|`) and the remaining blocks run on the merged
//! map, then a classifier gives one same/different logit.
//!
//! ```text
//!  a ─ tower ─ f ─┐
//!                 ├─ merge (concat 2C | |f-g| C) ─ trunk blocks ─ fc ─ ReLU ─ fc ─ logit
//!  b ─ tower ─ g ─┘
//! ```
//!
//! Between the 2-channel net (merged at the input) and the hybrid net (merged after the last
//! layer). Inputs `a`, `b`: `(N, C, H, W)` in `[0, 1]`; output `(N,)` logits. Parameters:
//! `tower.*` (tied) or `tower_a.*`, `tower_b.*` (untied), `trunk.block{j}.*`, `fc1.*`, `fc2.*`.

use candle_core::{Result, Tensor};
use candle_nn::{Module, ModuleT, VarBuilder};

use super::pair_config::{MergeOp, PairConfig};
use super::pair_head::{channel_last, check_pair, stage, tied_pair, Classifier, Stage};
use super::{EncoderConfig, ModelError};

/// Towers - merge - trunk - classifier; see the module docs.
#[derive(Clone, Debug)]
pub struct MergeNet {
    enc: EncoderConfig,
    tower_a: Stage,
    /// `None` when the towers are tied.
    tower_b: Option<Stage>,
    merge: MergeOp,
    trunk: Stage,
    head: Classifier,
}

impl MergeNet {
    /// Same/different logits `(N,)` for the pairs `(a[i], b[i])`.
    pub fn forward_pair_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Result<Tensor> {
        check_pair(&self.enc, a, b)?;
        let (f, g) = match &self.tower_b {
            None => tied_pair(&self.tower_a, a, b, train)?,
            Some(tb) => (
                self.tower_a.forward_t(&channel_last(a)?, train)?,
                tb.forward_t(&channel_last(b)?, train)?,
            ),
        };
        let m = match self.merge {
            MergeOp::Concat => Tensor::cat(&[&f, &g], 3)?,
            MergeOp::AbsDiff => (f - g)?.abs()?,
        };
        self.head.forward(&self.trunk.forward_t(&m, train)?)
    }
}

/// A [`MergeNet`] on `enc`'s blocks split by `pair`, `hidden` classifier units; parameters under `vb`.
pub fn merge_net(
    enc: &EncoderConfig,
    pair: &PairConfig,
    hidden: usize,
    vb: VarBuilder,
) -> std::result::Result<MergeNet, ModelError> {
    pair.validate(enc)?;
    let k = pair.merge_after;
    let (tower_a, tower_b) = if pair.tied {
        (stage(enc, 0..k, enc.in_channels, vb.pp("tower"))?, None)
    } else {
        (
            stage(enc, 0..k, enc.in_channels, vb.pp("tower_a"))?,
            Some(stage(enc, 0..k, enc.in_channels, vb.pp("tower_b"))?),
        )
    };
    let c = enc.widths[k - 1];
    let c_merged = match pair.merge {
        MergeOp::Concat => 2 * c,
        MergeOp::AbsDiff => c,
    };
    let trunk = stage(enc, k..enc.widths.len(), c_merged, vb.pp("trunk"))?;
    let head = Classifier::build(enc.feature_len(), hidden, vb.clone())?;
    Ok(MergeNet {
        enc: enc.clone(),
        tower_a,
        tower_b,
        merge: pair.merge,
        trunk,
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::Device;
    use candle_nn::VarMap;

    fn logits(pair: &PairConfig, a: &Tensor, b: &Tensor) -> Vec<f32> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 5, &Device::Cpu);
        let net = merge_net(&EncoderConfig::reference(16, 12, 8), pair, 10, vb).unwrap();
        net.forward_pair_t(a, b, false).unwrap().to_vec1().unwrap()
    }

    #[test]
    fn abs_diff_is_symmetric_concat_and_untied_are_not() {
        let a = Tensor::rand(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap();
        let diff = PairConfig {
            merge: MergeOp::AbsDiff,
            ..PairConfig::default()
        };
        let (ab, ba) = (logits(&diff, &a, &b), logits(&diff, &b, &a));
        assert_eq!(ab.len(), 3);
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        let cat = PairConfig::default();
        assert_ne!(logits(&cat, &a, &b), logits(&cat, &b, &a));
        let untied = PairConfig {
            tied: false,
            merge: MergeOp::AbsDiff,
            ..PairConfig::default()
        };
        assert_ne!(logits(&untied, &a, &b), logits(&untied, &b, &a));
    }

    #[test]
    fn merge_point_must_leave_a_block_on_each_side() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let bad = PairConfig {
            merge_after: 3,
            ..PairConfig::default()
        };
        let err = merge_net(&EncoderConfig::reference(16, 12, 8), &bad, 10, vb)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("merge_after") && err.contains("1..=2"),
            "{err}"
        );
    }
}
