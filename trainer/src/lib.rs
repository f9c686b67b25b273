//! siamedge-trainer: data, models, losses, training, evaluation and export of Siamese encoders on
//! candle.
//!
//! The pipelines are library functions over plain option structs: [`train::pipeline`] (a
//! [`train::Recipe`] to a run folder), [`eval::pipeline`], [`quant::pipeline`] and
//! [`export::bundle`], over the one evaluation [`protocol`] and its run manifest. The
//! `siamedge-train` binary (`src/main.rs`, `src/cli/`) is a thin clap front end over them.
#![warn(missing_docs)]

pub mod baseline;
pub mod data;
pub mod eval;
pub mod export;
pub mod faceapi;
pub mod loss;
pub mod model;
pub mod plot;
pub mod protocol;
pub mod quant;
pub mod sampler;
pub mod train;
