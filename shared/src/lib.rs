//! siamedge-format: the files and numbers every siamedge crate agrees on.
//!
//! - Files, each in the same [`envelope`] (magic, version, length, postcard payload, CRC-32):
//!   the int8 [`Model`] the firmware runs (decoded zero-copy from flash), [`Embedding`]s,
//!   enrolled [`Template`]s and, with `alloc`, `Gallery`s of templates; the [`Pipeline`] that
//!   makes two float ONNX networks around the face alignment a model for hosts.
//! - Comparing: [`metric`] (distances over f32 and exact integer sums over int8, the match
//!   probability) and [`decision`] (thresholds at chosen false-accept rates).
//! - Building, on hosts (`alloc`): `ModelSpec` writes model files; [`quantize_multiplier`] is
//!   TFLite's fixed-point requantization.
//! - Test fixtures: [`vectors`], the `SGTV` files of inputs, embeddings and decisions a board
//!   checks itself against.
//! - Feeding a model: [`preprocess`], the one area resize and input quantization that the
//!   trainer, the edge runtime and the firmware share.
//!
//! Everything works without an allocator (`--no-default-features`), except `Gallery`,
//! `ModelSpec`, `PipelineSpec`, `EmbeddingF32`, `preprocess::resize_area` and the `to_bytes` encoders. Decoders
//! take untrusted bytes: they return a [`FormatError`] naming the file kind, the field and the
//! values, and never panic (a fuzz target per decoder checks it). The wire layouts and the compatibility rule are in the
//! crate README.
//!
//! Features: `alloc`; `seal` ([`seal`]: ChaCha20-Poly1305 template records, no_std); `std` (implies `alloc`, adds `std::error::Error` and the atomic file
//! writer [`file::write_atomic`]); default `std`.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod crc;
pub mod decision;
pub mod embedding;
pub mod enroll_policy;
pub mod envelope;
pub mod error;
#[cfg(feature = "std")]
pub mod file;
#[cfg(feature = "alloc")]
pub mod gallery;
pub mod kind;
pub mod le;
pub mod metric;
pub mod model;
pub mod model_id;
pub mod pipeline;
pub mod preprocess;
pub mod quantize;
#[cfg(feature = "seal")]
pub mod seal;
pub mod template;
pub mod vectors;
mod wire;

pub use decision::{Decision, DecisionSpec, OperatingPoint, MAX_OPERATING_POINTS};
#[cfg(feature = "alloc")]
pub use embedding::EmbeddingF32;
pub use embedding::{Embedding, EmbeddingRef, MAX_EMBEDDING_DIM};
pub use enroll_policy::EnrollPolicy;
pub use error::{Field, FormatError};
#[cfg(feature = "alloc")]
pub use gallery::{Gallery, MAX_GALLERY_TEMPLATES};
pub use kind::FileKind;
pub use le::{LeF32Slice, LeI32Slice};
pub use metric::Metric;
pub use model::{
    Activation, EmbeddingSpec, InputSpec, Layer, LayerKind, Model, Padding, Quant, Shape, Task,
    Window, MAX_DIM, MAX_INPUT_CHANNELS, MAX_LAYERS, MAX_TENSOR_ELEMENTS,
};
#[cfg(feature = "alloc")]
pub use model::{LayerSpec, MetricSpec, ModelSpec};
pub use model_id::ModelId;
pub use pipeline::Pipeline;
#[cfg(feature = "alloc")]
pub use pipeline::PipelineSpec;
pub use quantize::{multiplier_to_real, quantize_multiplier};
pub use template::{Template, MAX_LABEL_LEN, MAX_TEMPLATE_EMBEDDINGS, MAX_TEMPLATE_VALUES};
