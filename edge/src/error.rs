//! The edge runtime's error type: every variant names the file it is about.

use std::path::PathBuf;

use siamedge_format::file::WriteError;
use siamedge_format::FormatError;

/// What went wrong in the edge runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// Reading, writing, syncing or renaming a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `"reading"`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file's bytes are not a valid siamedge file of the expected kind.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the decoder found wrong (kind, field, expected and found values).
        source: FormatError,
    },
    /// A gallery operation was refused (a duplicate subject, a template of another model...).
    #[error("gallery {path}: {source}")]
    Gallery {
        /// The gallery file.
        path: PathBuf,
        /// Why the gallery refused it.
        source: FormatError,
    },
    /// An image could not be decoded.
    #[error("image {path}: {source}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image could not be resized or quantized to the model input.
    #[error("image {path}: {source}")]
    Resize {
        /// The image file.
        path: PathBuf,
        /// Why the resize was refused.
        source: siamedge_format::preprocess::PreprocessError,
    },
    /// The engine refused a model file (a layer it cannot run) or an input.
    #[error("model {path}: {source}")]
    Engine {
        /// The model file.
        path: PathBuf,
        /// The engine's error (layer, kind, reason; or expected and found lengths).
        source: siamedge_engine::EngineError,
    },
    /// An ONNX file could not be parsed, optimized or run by tract.
    #[error("ONNX model {path}: {reason}")]
    Onnx {
        /// The ONNX file.
        path: PathBuf,
        /// tract's message (with its causes).
        reason: String,
    },
    /// The ONNX graph and the model file disagree, or the ONNX output is not an embedding.
    #[error("ONNX model {path}: {reason}")]
    Mismatch {
        /// The ONNX file.
        path: PathBuf,
        /// What disagrees, with both values.
        reason: String,
    },
    /// Something this runtime does not handle.
    #[error("{path}: unsupported: {what}")]
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is unsupported.
        what: String,
    },
    /// An image's header claims more pixels than the limit; refused before any pixel buffer is
    /// allocated (see [`MAX_PIXELS`](crate::preprocess::MAX_PIXELS)).
    #[error("image {path}: its header claims {width} x {height} = {pixels} pixels, over the limit of {limit} pixels")]
    TooManyPixels {
        /// The image file (or request body).
        path: PathBuf,
        /// Columns the header claims.
        width: u32,
        /// Rows the header claims.
        height: u32,
        /// `width * height`.
        pixels: u64,
        /// The limit in pixels.
        limit: u64,
    },
    /// The bytes are not an image of a supported format (PNG, JPEG, PGM/PPM).
    #[error("image {path}: not a PNG, JPEG or PGM/PPM image ({len} bytes, starting {start:?})")]
    NotAnImage {
        /// The file (or request body).
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// Its first bytes (at most 16), lossily as text.
        start: String,
    },
    /// A file of a model folder names another model than the folder's model file or pipeline
    /// file (or none): the folder mixes two exports ([`ModelBundle`](crate::ModelBundle)).
    #[error("{file} names model {found}, but {model} is model {expected}: the folder's files do not pair ({fix})")]
    Pairing {
        /// The file that names another model (an ONNX graph or the card).
        file: PathBuf,
        /// The id it names, 32 hex digits, or `"no model id"`.
        found: String,
        /// The model file's id, 32 hex digits.
        expected: String,
        /// The model file (or the pipeline file).
        model: PathBuf,
        /// How to fix the folder, in words: re-export it, or re-pair its files (the command).
        fix: &'static str,
    },
    /// A network file that a pipeline file names is not in its folder.
    #[error("{file}: no such file; the pipeline {pipeline} runs it (write the whole folder with `siamedge-train face-api export --out {dir}`)")]
    MissingNetwork {
        /// The missing ONNX file (`landmarks.onnx` or `recognition.onnx` beside the pipeline).
        file: PathBuf,
        /// The pipeline file (`pipeline.sgp`).
        pipeline: PathBuf,
        /// The folder.
        dir: PathBuf,
    },
    /// A network file is not the one its pipeline file names (another SHA-256): the folder mixes
    /// two exports, or the file was altered.
    #[error("{file} has SHA-256 {found}, but the pipeline file of {dir} (pipeline.sgp) names {expected}: the folder's files do not pair (re-export it with `siamedge-train face-api export --out {dir}`)")]
    NetworkMismatch {
        /// The ONNX file.
        file: PathBuf,
        /// Its SHA-256, 64 hex digits.
        found: String,
        /// The SHA-256 the pipeline names, 64 hex digits.
        expected: String,
        /// The folder of the ONNX file and its pipeline file.
        dir: PathBuf,
    },
    /// The face alignment refused an image: no usable landmarks (non-finite outputs, a refine box
    /// empty inside the image, a degenerate transform) or a buffer of the wrong size.
    #[error("image {path}: face alignment: {source}")]
    Align {
        /// The image file (or request body).
        path: PathBuf,
        /// What the alignment refused (which value or box, and its numbers).
        source: siamedge_format::preprocess::PreprocessError,
    },
}

impl From<WriteError> for EdgeError {
    fn from(e: WriteError) -> Self {
        EdgeError::Io {
            action: e.step,
            path: e.path,
            source: e.source,
        }
    }
}

/// The bytes of the file at `path`; an error is [`EdgeError::Io`] "reading" naming the path.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, EdgeError> {
    std::fs::read(path).map_err(|source| EdgeError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })
}
