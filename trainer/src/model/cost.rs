//! Multiply-accumulates (MACs) of a decision, per architecture, counted from the configuration.
//!
//! Counted: every convolution (`H W C_in C_out 9` for a 3x3 at its input resolution; depthwise
//! `H W C 9` plus pointwise `H W C_in C_out` for a separable block), every linear layer
//! (`in * out`), the normalized correlation's patch products (`s^2 p^2 C H W`, its dominant term)
//! and the final distance of two `D`-d embeddings (`D`). Not counted: batch norm, ReLU, pooling,
//! the neighbourhood subtractions (`k^2 C H W` subtractions, no multiply).
//!
//! A **Siamese encoder** embeds the probe once and compares it with stored templates: a 1:1
//! decision costs one embedding plus one distance, 1:N one embedding plus `N` distances. A **pair
//! network** has no template: every decision runs the pair through the network, so 1:N costs `N`
//! pair passes. Where its towers are tied and run before any comparison, the gallery's tower
//! outputs could be stored instead (a "template" of `H' W' C` floats); [`Cost::cached_one_to_n`]
//! counts that variant.

use super::pair_config::MergeOp;
use super::{Arch, EncoderConfig, ModelConfig};

/// The cost of one network's decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// MACs of one 1:1 decision (probe against one enrolled person).
    pub one_to_one: u64,
    /// MACs of the part of a pair pass that needs both images (after the towers). Equal to
    /// `one_to_one` for networks that merge at the input.
    pub per_extra_pair: u64,
    /// MACs that depend on the probe alone (its embedding or its tower).
    pub probe_only: u64,
}

impl Cost {
    /// MACs of a 1:N identification over `n` enrolled people, without caching anything of the
    /// gallery but templates (for the Siamese encoder): `n` full pair passes for a pair network.
    pub fn one_to_n(&self, arch: Arch, n: u64) -> u64 {
        if arch.embeds() {
            self.probe_only + n * self.per_extra_pair
        } else {
            n * self.one_to_one
        }
    }

    /// MACs of a 1:N identification when the gallery's tower outputs are stored: the probe's tower
    /// once, then `n` times the part after the towers.
    pub fn cached_one_to_n(&self, n: u64) -> u64 {
        self.probe_only + n * self.per_extra_pair
    }
}

/// MACs of blocks `range` of `enc` on an `h x w` map of `c_in` channels; returns the MACs and the
/// output `(h, w, c)`.
fn blocks(
    enc: &EncoderConfig,
    range: std::ops::Range<usize>,
    (mut h, mut w, mut c): (usize, usize, usize),
) -> (u64, (usize, usize, usize)) {
    let mut macs = 0u64;
    for i in range {
        let c_out = enc.widths[i];
        let hw = (h * w) as u64;
        macs += if enc.separable && i > 0 {
            hw * c as u64 * 9 + hw * (c * c_out) as u64
        } else {
            hw * (c * c_out * 9) as u64
        };
        (h, w, c) = (h / 2, w / 2, c_out);
    }
    (macs, (h, w, c))
}

/// The cost of `cfg`'s decisions.
pub fn cost(cfg: &ModelConfig) -> Cost {
    let e = &cfg.encoder;
    let input = (e.height, e.width, e.in_channels);
    let all = 0..e.widths.len();
    let hidden = cfg.hidden as u64;
    let feats = e.feature_len() as u64;
    let classifier = |f: u64| f * hidden + hidden;
    match cfg.arch {
        Arch::Cnn => {
            let (m, _) = blocks(e, all, input);
            let d = e.embedding_dim as u64;
            let embed = m + feats * d;
            Cost {
                one_to_one: embed + d,
                per_extra_pair: d,
                probe_only: embed,
            }
        }
        Arch::TwoChannel => {
            let (m, _) = blocks(e, all, (e.height, e.width, 2 * e.in_channels));
            let pass = m + feats * e.embedding_dim as u64 + e.embedding_dim as u64;
            Cost {
                one_to_one: pass,
                per_extra_pair: pass,
                probe_only: 0,
            }
        }
        Arch::Hybrid => {
            let (m, _) = blocks(e, all, input);
            let d = e.embedding_dim as u64;
            let tower = m + feats * d;
            let after = classifier(2 * d);
            Cost {
                one_to_one: 2 * tower + after,
                per_extra_pair: after,
                probe_only: tower,
            }
        }
        Arch::Merge | Arch::CrossInput | Arch::NormCorr => {
            let p = &cfg.pair;
            let k = p.merge_after;
            let (tower, (h, w, c)) = blocks(e, 0..k, input);
            let rest = k..e.widths.len();
            let after = match cfg.arch {
                Arch::Merge => {
                    let cm = if p.merge == MergeOp::Concat { 2 * c } else { c };
                    blocks(e, rest, (h, w, cm)).0 + classifier(feats)
                }
                Arch::CrossInput => {
                    let hw = (h * w) as u64;
                    let summary = hw * (p.window * p.window * c * p.summary) as u64;
                    let trunk = blocks(e, rest, (h, w, p.summary)).0;
                    2 * (summary + trunk) + classifier(2 * feats)
                }
                _ => {
                    let hw = (h * w) as u64;
                    let s2 = (p.window * p.window) as u64;
                    let nc = s2 * (p.patch * p.patch) as u64 * c as u64 * hw;
                    let summary = hw * s2 * (c * p.summary) as u64;
                    nc + summary + blocks(e, rest, (h, w, p.summary)).0 + classifier(feats)
                }
            };
            Cost {
                one_to_one: 2 * tower + after,
                per_extra_pair: after,
                probe_only: tower,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pair_config::PairConfig;

    fn cfg(arch: Arch) -> ModelConfig {
        ModelConfig {
            arch,
            encoder: EncoderConfig::reference(56, 46, 64),
            hidden: 64,
            pair: PairConfig::default(),
        }
    }

    #[test]
    fn siamese_embeds_once_pair_nets_pay_per_person() {
        // Reference CNN at 56x46: 56*46*1*16*9 + 28*23*16*32*9 + 14*11*32*64*9 = 370,944 +
        // 2,967,552 + 2,838,528 = 6,177,024 conv MACs, + 64*7*5*64 = 143,360 linear.
        let s = cost(&cfg(Arch::Cnn));
        assert_eq!(s.probe_only, 6_177_024 + 143_360);
        assert_eq!(s.one_to_one, s.probe_only + 64);
        assert_eq!(s.one_to_n(Arch::Cnn, 10), s.probe_only + 640);
        for arch in [
            Arch::TwoChannel,
            Arch::Hybrid,
            Arch::Merge,
            Arch::CrossInput,
            Arch::NormCorr,
        ] {
            let c = cost(&cfg(arch));
            assert_eq!(c.one_to_n(arch, 10), 10 * c.one_to_one, "{arch:?}");
            assert!(
                c.one_to_n(arch, 10) > 5 * s.one_to_n(Arch::Cnn, 10),
                "{arch:?}"
            );
            assert!(c.cached_one_to_n(10) <= c.one_to_n(arch, 10));
        }
    }
}
