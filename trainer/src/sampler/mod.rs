//! Batches for similarity learning, drawn from a labelled image set with a caller-owned seeded
//! generator (ChaCha8 in training): balanced genuine/impostor pairs, triplets, and P x K identity
//! batches, plus light augmentation (random crop with zero padding, horizontal flip, brightness and
//! contrast jitter).
//!
//! Every function takes `&mut R: Rng` and draws from it in a fixed order, so a seed and a stream
//! position determine every batch; the trainer saves that position in its checkpoints.
//!
//! When not: for evaluation pairs (all pairs of the held-out people, or seeded samples of them) use
//! [`crate::eval::pairs`].

pub mod augment;
pub mod pairs;
pub mod pk;
pub mod triplets;

pub use augment::Augment;

use crate::data::ImageShape;
pub use pairs::{sample_pairs, PairIndex};
pub use pk::{sample_pk, PkBatch};
pub use triplets::{sample_triplets, TripletIndex};

/// Why a batch could not be drawn, or a set not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamplerError {
    /// Pixels and labels disagree with the image shape.
    #[error(
        "{pixels} pixels and {labels} labels do not make whole {shape:?} images, one label each"
    )]
    ShapeMismatch {
        /// Pixel count given.
        pixels: usize,
        /// Label count given.
        labels: usize,
        /// Shape of one image.
        shape: ImageShape,
    },
    /// Too few identities for the request.
    #[error("need {needed} identities with at least {per_class} images each, the set has {found}")]
    TooFewClasses {
        /// Identities the request needs.
        needed: usize,
        /// Images each of them needs.
        per_class: usize,
        /// Identities that qualify.
        found: usize,
    },
    /// An index is outside the set.
    #[error("image index {index} is outside a set of {len}")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Images in the set.
        len: usize,
    },
}
