//! Quantization: from a trained float encoder to the int8 model file the firmware runs.
//!
//! The path, and the public entry points (used by `siamedge-train quantize`, `calibrate` and
//! `export`):
//!
//! 1. [`fold()`]: a trained Siamese encoder's parameters (a run's `model.safetensors`, or a
//!    `VarMap`'s tensors) with BatchNorm folded into the convolutions, as a [`FoldedEncoder`] of
//!    plain f32 layers in the model file's layouts, with an f32 reference forward pass.
//! 2. Post-training quantization, [`quantize_ptq`]: [`calibrate()`] activation ranges on training
//!    images (min/max or a percentile), choose the activation quantizations, and [`build_spec`] a
//!    `siamedge_format::ModelSpec` under the [`scheme`] (int8 activations per tensor, int8 weights
//!    per output channel, i32 biases, Q31 requantization).
//! 3. Quantization-aware training, [`qat`]: fake-quant ([`fake_quant`]) of the folded weights and
//!    of every activation, with a straight-through estimator, fine-tuning from a float run;
//!    [`QatEncoder::to_spec`] converts the result to the same kind of spec.
//! 4. Operating points, [`thresholds`]: distance thresholds at target false-accept rates measured
//!    on training identities' pairs with the int8 embeddings of the model file ([`int8`] runs the
//!    firmware's integer engine on the host), written into the decision section.
//!
//! One call does it all for a finished run: [`pipeline::quantize_run`] (the model file's bytes and
//! a report of f32 against int8 EER), over the run and split that [`crate::protocol::load_run`]
//! rebuilds, so that calibration and thresholds only ever see training identities;
//! [`thresholds::recalibrate`] rewrites the thresholds of an existing file for other data.
//!
//! Not for: the pair-scoring networks (2-channel, hybrid), which have no embedding to store.

pub mod calibrate;
pub mod fake_quant;
pub mod fold;
pub mod int8;
pub mod pipeline;
pub mod ptq;
pub mod qat;
pub mod scheme;
pub mod thresholds;
pub mod transfer;

pub use calibrate::{calibrate, Calibration, RangeRule, TensorRange};
pub use fold::{fold, FoldedEncoder, FoldedLayer};
pub use pipeline::{quantize_run, QuantMethod, QuantizeOptions, QuantizeReport};
pub use ptq::{activation_quants, build_spec, quantize_ptq, quants_from_bounds, ModelMeta};
pub use qat::{QatConfig, QatEncoder, QatLoss};

/// Why quantization failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// A setting is unusable.
    #[error("quantization setting `{field}`: {reason}")]
    Config {
        /// The setting (as the CLI flag names it).
        field: &'static str,
        /// What is wrong and what would fit.
        reason: String,
    },
    /// The weights lack a variable of the encoder.
    #[error("weights lack the variable {name}")]
    MissingWeight {
        /// The variable's name.
        name: String,
    },
    /// A variable has the wrong number of elements for the encoder's configuration.
    #[error("variable {name} has {found} elements, the encoder needs {expected}")]
    WeightShape {
        /// The variable's name.
        name: String,
        /// Elements the configuration implies.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// An image does not have the encoder's input size.
    #[error("an image has {found} values, the encoder takes {expected}")]
    ImageSize {
        /// `h * w * c` of the encoder input.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A run folder is unusable.
    #[error(transparent)]
    Run(Box<crate::protocol::RunError>),
    /// The QAT weights could not be written.
    #[error("writing {path}: {source}")]
    Checkpoint {
        /// The weights file.
        path: std::path::PathBuf,
        /// candle's error.
        source: candle_core::Error,
    },
    /// The model file could not be built or read.
    #[error(transparent)]
    Format(#[from] siamedge_format::FormatError),
    /// The integer engine refused the model.
    #[error("integer engine: {0}")]
    Engine(String),
    /// The encoder configuration is invalid.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    /// Metrics could not be computed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl From<crate::protocol::RunError> for QuantError {
    fn from(e: crate::protocol::RunError) -> Self {
        Self::Run(Box::new(e))
    }
}
