//! siamedge-trainer: data, models, losses, training, evaluation and export of Siamese encoders on
//! candle. The `siamedge-train` binary is a thin clap front end over these modules.
#![warn(missing_docs)]

pub mod baseline;
pub mod cli;
pub mod data;
pub mod eval;
pub mod export;
pub mod loss;
pub mod model;
pub mod plot;
pub mod quant;
pub mod sampler;
pub mod train;
