//! siamedge-edge: the runtime for Linux-class devices (a camera box, a checkout scanner).
//!
//! What is here now: the on-disk side of enrollment. [`GalleryFile`] keeps a
//! [`Gallery`](siamedge_format::Gallery) of templates in one `siamedge-format` file, loads it with
//! errors that name the path and the field, and replaces it atomically, so that a crash or a power
//! cut mid-write leaves either the old gallery or the new one, never a torn file (through
//! `siamedge_format::file::write_atomic`).
//!
//! Turning images into embeddings: [`preprocess`] (decode, grey, area resize, normalize, as the
//! trainer does), [`runtime`] (the exported ONNX encoder on tract, paired with the model file for
//! the metric and thresholds), [`onnx_exact`] (rewrites the int8 layers of a QDQ graph into the
//! firmware engine's integer arithmetic, so tract's int8 embeddings are the device's bit for bit)
//! and [`onnx_fold`] (folds per-axis weight dequantization left over, which tract would otherwise
//! get wrong). The `siamedge-edge` binary enrolls, verifies, identifies and embeds
//! from the command line.
#![warn(missing_docs)]

pub mod error;
pub mod gallery_file;
pub mod onnx_exact;
pub mod onnx_fold;
pub mod preprocess;
pub mod runtime;

pub use error::EdgeError;
pub use gallery_file::GalleryFile;
pub use runtime::{OnnxEncoder, Runtime};
