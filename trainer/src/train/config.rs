//! The configuration of a training run: everything that decides its result, serialised into every
//! checkpoint so that a resumed run continues the same run.

use serde::{Deserialize, Serialize};

use crate::loss::{BatchKind, LossKind};
use crate::model::{Arch, EncoderConfig, ModelConfig};
use crate::sampler::Augment;

use super::TrainError;

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, candle-nn's update rule.
    Adamw,
    /// SGD with heavy-ball momentum and coupled (L2) weight decay, PyTorch's update rule.
    Sgd,
}

/// Learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Linear warm-up, then cosine decay to `min_lr_ratio * lr` at the last step.
    Cosine,
    /// Linear warm-up, then constant.
    Constant,
}

/// Optimiser hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Update rule.
    pub kind: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Weight decay (decoupled for AdamW, L2 for SGD).
    pub weight_decay: f64,
    /// AdamW's first-moment decay.
    pub beta1: f64,
    /// AdamW's second-moment decay.
    pub beta2: f64,
    /// AdamW's denominator epsilon.
    pub eps: f64,
    /// SGD's momentum.
    pub momentum: f64,
    /// Schedule after warm-up.
    pub schedule: Schedule,
    /// Steps of linear warm-up from `lr / warmup_steps` to `lr`.
    pub warmup_steps: usize,
    /// Final learning rate of the cosine schedule, as a fraction of `lr`.
    pub min_lr_ratio: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adamw,
            lr: 1e-3,
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum: 0.9,
            schedule: Schedule::Cosine,
            warmup_steps: 50,
            min_lr_ratio: 0.01,
        }
    }
}

/// A training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The network.
    pub model: ModelConfig,
    /// The loss; it decides the batch arrangement.
    pub loss: LossKind,
    /// Margin of the contrastive, triplet and logistic losses (`None`: [`default_margin`]).
    pub margin: Option<f64>,
    /// CosFace's scale `s`.
    pub cosface_scale: f64,
    /// CosFace's cosine margin `m`.
    pub cosface_margin: f64,
    /// Optimisation steps in the whole run.
    pub steps: usize,
    /// Images per step (P x K for identity batches, `2n` for pairs, `3n` for triplets).
    pub batch: usize,
    /// Images per identity `K` in identity batches; `P = batch / K`.
    pub per_identity: usize,
    /// Optimiser and schedule.
    pub optimizer: OptimizerConfig,
    /// Training augmentation.
    pub augment: Augment,
    /// Seed of parameter initialisation (ChaCha8 stream 0) and of batches and augmentation (stream 1).
    pub seed: u64,
}

/// The margin a loss uses when none is given: 1.0 for contrastive and logistic (distances of unit
/// vectors lie in `[0, 2]`), 0.5 for the triplet losses (with 0.2 the batch-hard loss of the reference
/// run on ORL fold 0 fell to 1e-4 and the held-out EER was 6.1%; with 0.5 it was 4.9%), 0 for losses
/// without one.
pub fn default_margin(loss: LossKind) -> f64 {
    match loss {
        LossKind::Contrastive | LossKind::Logistic => 1.0,
        LossKind::Triplet | LossKind::BatchHard | LossKind::BatchSemiHard => 0.5,
        LossKind::Binary | LossKind::Cosface => 0.0,
    }
}

impl TrainConfig {
    /// REFERENCE.md's run: the reference CNN (`dim`-d) on `height x width` grey faces, batch-hard
    /// triplet loss, 1,500 steps of 64 images (16 people x 4), AdamW at 1e-3 with a cosine schedule,
    /// face augmentation, seed 0.
    pub fn reference(height: usize, width: usize, dim: usize) -> Self {
        Self {
            model: ModelConfig {
                arch: Arch::Cnn,
                encoder: EncoderConfig::reference(height, width, dim),
                hidden: 64,
                pair: crate::model::pair_config::PairConfig::default(),
            },
            loss: LossKind::BatchHard,
            margin: None,
            cosface_scale: 16.0,
            cosface_margin: 0.25,
            steps: 1500,
            batch: 64,
            per_identity: 4,
            optimizer: OptimizerConfig::default(),
            augment: Augment::faces(),
            seed: 0,
        }
    }

    /// The margin in force.
    pub fn margin(&self) -> f64 {
        self.margin.unwrap_or_else(|| default_margin(self.loss))
    }

    /// Images each step actually uses (the batch rounded down to whole pairs, triplets or identities).
    pub fn images_per_step(&self) -> usize {
        match self.loss.batch_kind() {
            BatchKind::Pairs => self.batch / 2 * 2,
            BatchKind::Triplets => self.batch / 3 * 3,
            BatchKind::Identities => self.batch / self.per_identity.max(1) * self.per_identity,
        }
    }

    /// Checks that the loss fits the architecture and every size is usable.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |field: &'static str, reason: String| Err(TrainError::Config { field, reason });
        let embeds = self.model.arch.embeds();
        if embeds && !self.loss.needs_embeddings() {
            return bad(
                "loss",
                format!(
                    "{:?} needs a pair-scoring architecture (two-channel, hybrid, merge, cross-input, norm-corr)",
                    self.loss
                ),
            );
        }
        if !embeds && self.loss != LossKind::Binary {
            return bad(
                "loss",
                format!(
                    "{:?} scores pairs: train it with the binary loss",
                    self.model.arch
                ),
            );
        }
        if self.steps == 0 {
            return bad("steps", "must be at least 1".into());
        }
        match self.loss.batch_kind() {
            BatchKind::Pairs if self.batch < 2 => {
                return bad("batch", "pairs need at least 2 images".into())
            }
            BatchKind::Triplets if self.batch < 3 => {
                return bad("batch", "triplets need at least 3 images".into())
            }
            BatchKind::Identities if self.per_identity < 2 => {
                return bad(
                    "per_identity",
                    "mining needs at least 2 images per identity".into(),
                )
            }
            BatchKind::Identities if self.batch / self.per_identity < 2 => {
                return bad(
                    "batch",
                    format!(
                        "{} images of {} per identity is fewer than 2 identities",
                        self.batch, self.per_identity
                    ),
                )
            }
            _ => {}
        }
        let o = &self.optimizer;
        if !(o.lr > 0.0 && o.lr.is_finite()) {
            return bad("lr", format!("must be positive and finite, got {}", o.lr));
        }
        if !(0.0..=1.0).contains(&o.min_lr_ratio) {
            return bad(
                "min_lr_ratio",
                format!("must be in [0, 1], got {}", o.min_lr_ratio),
            );
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return bad("beta1", "betas must be in [0, 1)".into());
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad("momentum", format!("must be in [0, 1), got {}", o.momentum));
        }
        Ok(())
    }
}
