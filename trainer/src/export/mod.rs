//! Export: the trained encoder as ONNX for the edge runtime (tract) and any other runtime.
//!
//! - [`onnx_float::float_onnx`]: the candle f32 encoder, batch normalisation folded, `model.onnx`;
//! - [`onnx_qdq::qdq_onnx`]: an int8 `siamedge-format` model file as a QDQ graph,
//!   `model.int8.onnx`;
//! - [`proto`]: the small graph builder both use, over the ONNX messages of [`onnx_pb`] (prost);
//! - [`stamp`]: the `siamedge.model_id` metadata that pairs both graphs with the model file.
//!
//! Both graphs take `image` f32 `(N, C, H, W)` with a symbolic batch `N` and give `embedding` f32
//! `(N, D)`; opset 13, IR version 8. `scripts/check-onnx.sh` proves that onnx's checker accepts
//! them and that onnxruntime and tract agree on them.

pub mod bundle;
pub mod card;
pub mod folds;
pub mod onnx_float;
pub mod onnx_pb;
pub mod onnx_qdq;
pub mod proto;
pub mod stamp;

use std::path::Path;

pub use bundle::{export_bundle, BundleError, ExportOptions};
pub use onnx_float::float_onnx;
pub use onnx_qdq::qdq_onnx;
pub use stamp::{model_id_of, stamp_model_id, MODEL_ID_KEY};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading a parameter tensor out of candle failed.
    #[error("reading the {what} parameters: {source}")]
    Candle {
        /// Which layer.
        what: &'static str,
        /// candle's error.
        source: candle_core::Error,
    },
    /// A parameter has the wrong number of elements.
    #[error("{what} `{field}`: expected {expected} values, found {found}")]
    Shape {
        /// Which layer.
        what: &'static str,
        /// Which parameter.
        field: &'static str,
        /// Elements the layer's shape needs.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// A model file layer that cannot be expressed as asked.
    #[error("model layer {index} ({kind}): {reason}")]
    Layer {
        /// Layer position.
        index: usize,
        /// Layer kind name.
        kind: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// An ONNX file could not be (re-)stamped with a model id.
    #[error("stamping the model id: {reason}")]
    Stamp {
        /// What is wrong with the file.
        reason: String,
    },
    /// Writing a file failed.
    #[error(transparent)]
    Write(#[from] siamedge_format::file::WriteError),
}

/// Writes `model` to `path` atomically (temporary file, fsync, rename).
pub fn write_onnx(path: &Path, model: &onnx_pb::ModelProto) -> Result<(), ExportError> {
    Ok(siamedge_format::file::write_atomic(
        path,
        &proto::to_bytes(model),
    )?)
}
