//! Training: a [`Trainer`] holds the network, its optimiser and the seeded batch generator and takes
//! one step at a time; [`run()`] drives it to the end with checkpoints, validation-based model selection
//! and early stopping; [`evaluate`] scores held-out identities with [`crate::eval`].
//!
//! A run is decided by its [`TrainConfig`] and the training set: the same config and data give the
//! same per-step losses and weights, and a run resumed from a checkpoint continues exactly as the
//! uninterrupted run would have (the checkpoint holds weights, BatchNorm statistics, optimiser moments
//! and the generator's stream position).
//!
//! Validation identities must be carved out of the training identities ([`split_validation`]); the
//! test identities are only touched by the final evaluation.

pub mod checkpoint;
pub mod config;
pub mod datasets;
pub mod evaluate;
pub mod log;
pub mod optim;
pub mod pipeline;
pub mod recipe;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
pub use config::{default_margin, OptimizerConfig, OptimizerKind, Schedule, TrainConfig};
pub use datasets::{mnist_set, orl_set, MnistSplit};
pub use evaluate::{
    all_pair_distances, embed, embed_with, mirror, pair_distances, pair_distances_with,
    split_validation, verify, verify_pairs, TestTime,
};
pub use log::{read_log, LogRecord, TrainLog, LOG_FILE};
pub use optim::Optimizer;
pub use pipeline::{train_recipe, TrainJob, TrainOutcome, TrainRunError, TrainSummary};
pub use recipe::{Recipe, RecipeError};
pub use run::{run, RunOptions, RunSummary, StepReport};
pub use schedule::learning_rate;
pub use trainer::{StepTimes, Trainer};

use std::path::PathBuf;

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is unusable.
    #[error("train config `{field}`: {reason}")]
    Config {
        /// The field (as in the TOML config and the CLI flag).
        field: &'static str,
        /// What is wrong and what would fit.
        reason: String,
    },
    /// The training images do not have the shape the network takes.
    #[error("images are {found:?} (C, H, W) but the network takes {expected:?}")]
    ImageShape {
        /// `(C, H, W)` of the network's input.
        expected: (usize, usize, usize),
        /// `(C, H, W)` of the images.
        found: (usize, usize, usize),
    },
    /// The loss became NaN or infinite; the weights on disk are those of `last_checkpoint`.
    #[error("loss is {loss} at step {step}; training stopped. Last good checkpoint: {}", last_checkpoint.as_ref().map_or_else(|| "none written".to_string(), |p| p.display().to_string()))]
    NonFiniteLoss {
        /// The 0-based step whose loss was not finite.
        step: usize,
        /// The loss value.
        loss: f32,
        /// The sidecar of the last checkpoint written or resumed from, if any.
        last_checkpoint: Option<PathBuf>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A checkpoint is malformed, corrupted, or from another format version.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The sidecar or weights file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A set of weights lacks a variable of the network.
    #[error("weights lack the variable {name}")]
    MissingWeight {
        /// The variable's name.
        name: String,
    },
    /// The network could not be built.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// A loss could not be computed.
    #[error(transparent)]
    Loss(#[from] crate::loss::LossError),
    /// A batch could not be drawn.
    #[error(transparent)]
    Sampler(#[from] crate::sampler::SamplerError),
    /// Metrics could not be computed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
