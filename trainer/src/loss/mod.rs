//! Losses for similarity learning, one per file: contrastive, triplet margin, batch-hard and
//! batch-semi-hard triplet (online mining over a P x K batch), Vo & Hays' distance-based logistic,
//! binary log-loss for pair-scoring networks, and CosFace.
//!
//! All take candle tensors and return a scalar tensor (mean over the batch) that can be
//! back-propagated. Distances are Euclidean ([`distance`]); pair targets are f32 tensors, 1.0 for
//! genuine (same identity), 0.0 for impostor.

pub mod batch_hard;
pub mod batch_semi_hard;
pub mod binary;
pub mod contrastive;
pub mod cosface;
pub mod distance;
pub mod distance_logistic;
pub(crate) mod mining;
pub mod triplet;

pub use batch_hard::batch_hard_triplet_loss;
pub use batch_semi_hard::batch_semi_hard_triplet_loss;
pub use binary::binary_log_loss;
pub use contrastive::contrastive_loss;
pub use cosface::{cosface_head, CosFaceHead};
pub use distance_logistic::distance_logistic_loss;
pub use triplet::triplet_margin_loss;

use serde::{Deserialize, Serialize};

/// Which loss a run trains with; it also decides how batches are drawn (see
/// [`LossKind::batch_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Contrastive loss on balanced genuine/impostor pairs.
    Contrastive,
    /// Triplet margin loss on sampled triplets.
    Triplet,
    /// Batch-hard triplet loss on P x K batches.
    BatchHard,
    /// Batch semi-hard triplet loss on P x K batches.
    BatchSemiHard,
    /// Vo & Hays' distance-based logistic loss on balanced pairs.
    Logistic,
    /// Binary log-loss on pair logits (the pair-scoring networks).
    Binary,
    /// CosFace with a learnable class-weight matrix on P x K batches.
    Cosface,
}

/// How a loss wants its batch of images arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchKind {
    /// `n` pairs, half genuine: images `2n`.
    Pairs,
    /// `n` triplets (anchor, positive, negative): images `3n`.
    Triplets,
    /// P identities x K images each, with labels.
    Identities,
}

impl LossKind {
    /// The batch arrangement this loss trains on.
    pub fn batch_kind(self) -> BatchKind {
        match self {
            LossKind::Contrastive | LossKind::Logistic | LossKind::Binary => BatchKind::Pairs,
            LossKind::Triplet => BatchKind::Triplets,
            LossKind::BatchHard | LossKind::BatchSemiHard | LossKind::Cosface => {
                BatchKind::Identities
            }
        }
    }

    /// Whether the loss needs embeddings (all but `Binary`, which needs pair logits).
    pub fn needs_embeddings(self) -> bool {
        !matches!(self, LossKind::Binary)
    }
}

/// Why a loss could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    /// Labels and embeddings disagree on the batch size.
    #[error("{labels} labels for {embeddings} embeddings")]
    LabelCount {
        /// Rows of the embedding matrix.
        embeddings: usize,
        /// Labels given.
        labels: usize,
    },
    /// No anchor in the batch has both a positive and a negative.
    #[error("no triplet in a batch of {batch} images from {classes} identities: need at least 2 identities, one with 2+ images")]
    NoTriplet {
        /// Batch size.
        batch: usize,
        /// Distinct labels in the batch.
        classes: usize,
    },
    /// A label is not a class of the head.
    #[error("label {label} is outside the head's {classes} classes")]
    ClassOutOfRange {
        /// The offending label.
        label: u32,
        /// Classes of the head.
        classes: usize,
    },
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
