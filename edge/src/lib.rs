//! siamedge-edge: the runtime for Linux-class devices (a camera box, a checkout scanner).
//!
//! - [`GalleryFile`]: a [`Gallery`](siamedge_format::Gallery) of templates in one
//!   `siamedge-format` file, loaded with errors that name the path and the field, replaced
//!   atomically (a crash or a power cut mid-write leaves the old gallery or the new one).
//! - [`preprocess`]: images to encoder inputs through the one preprocessing contract (decode,
//!   grey, area resize; int8 for the engine, normalized f32 for float graphs).
//! - [`int8`]: int8 models on `siamedge-engine` from the model file (`model.sgm`), the device's
//!   embeddings bit for bit.
//! - [`pipeline`]: the ONNX pipeline (`pipeline.sgp`: a landmark network, the face alignment,
//!   a recognition network) on tract, for the pretrained face-api.js models.
//! - [`bundle`]: a model folder whose files (model file or pipeline file, ONNX graphs, card)
//!   name one model.
//! - [`runtime`]: an encoder (int8 on the engine, a float ONNX or a pipeline on tract) paired
//!   with the model or pipeline file for the metric and thresholds.
//!
//! The `siamedge-edge` binary (feature `cli`, on by default) enrolls, verifies, identifies and
//! embeds from the command line; the library needs neither clap nor anyhow.
#![warn(missing_docs)]

pub mod bundle;
pub mod error;
pub mod gallery_file;
pub mod index;
pub mod int8;
pub mod pipeline;
pub mod preprocess;
pub mod runtime;
#[cfg(feature = "service")]
pub mod service;
pub mod store;

pub use bundle::ModelBundle;
pub use error::EdgeError;
pub use gallery_file::GalleryFile;
pub use index::{GalleryIndex, Hit, IndexError};
pub use int8::Int8Encoder;
pub use pipeline::PipelineEncoder;
pub use runtime::{Encoder, OnnxEncoder, Runtime};
