//! The shape of the pair-comparison networks that compare feature maps part way
//! ([`super::merge_net`], [`super::cross_input_net`], [`super::norm_corr_net`]).
//!
//! All three share one layout on an [`EncoderConfig`]'s blocks: the first `merge_after` blocks are
//! the per-image towers, the comparison happens on their `(H >> merge_after, W >> merge_after)`
//! maps, and the remaining blocks (at least one) run on the comparison's output, followed by a
//! classifier `linear(F -> hidden) - ReLU - linear(hidden -> 1)`.

use serde::{Deserialize, Serialize};

use super::{EncoderConfig, ModelError};

/// How the intermediate-merging network joins the two towers' maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeOp {
    /// Concatenate along channels (`2C`): the later layers see both maps, order matters.
    Concat,
    /// Element-wise `|f - g|` (`C`): symmetric in the pair.
    AbsDiff,
}

/// Settings of the pair-comparison networks; the defaults are the ones the table used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct PairConfig {
    /// Encoder blocks in each tower before the comparison (the rest come after it) [default: 2].
    pub merge_after: usize,
    /// Intermediate merging: the two towers share their weights [default: true].
    pub tied: bool,
    /// Intermediate merging: how the maps are joined [default: concat].
    pub merge: MergeOp,
    /// Side of the neighbourhood (cross-input differences) or search window (normalized
    /// correlation), odd [default: 5, as both papers].
    pub window: usize,
    /// Side of the patches compared by normalized correlation, odd [default: 3].
    pub patch: usize,
    /// Output channels of the 1x1 patch-summary layer after a comparison [default: 32].
    pub summary: usize,
}

impl Default for PairConfig {
    fn default() -> Self {
        Self {
            merge_after: 2,
            tied: true,
            merge: MergeOp::Concat,
            window: 5,
            patch: 3,
            summary: 32,
        }
    }
}

impl PairConfig {
    /// Checks the settings against the encoder whose blocks the network splits.
    pub fn validate(&self, enc: &EncoderConfig) -> Result<(), ModelError> {
        let bad =
            |field: &'static str, reason: String| Err(ModelError::InvalidConfig { field, reason });
        enc.validate()?;
        if self.merge_after == 0 || self.merge_after >= enc.widths.len() {
            return bad(
                "merge_after",
                format!(
                    "{} blocks before the comparison: need 1..={} for widths {:?} (one block at least on each side)",
                    self.merge_after,
                    enc.widths.len() - 1,
                    enc.widths
                ),
            );
        }
        if self.window.is_multiple_of(2) {
            return bad("window", format!("must be odd, got {}", self.window));
        }
        if self.patch.is_multiple_of(2) {
            return bad("patch", format!("must be odd, got {}", self.patch));
        }
        if self.summary == 0 {
            return bad("summary", "must be at least 1".into());
        }
        Ok(())
    }
}
