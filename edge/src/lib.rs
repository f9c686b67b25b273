//! siamedge-edge: the runtime for Linux-class devices (a camera box, a checkout scanner).
//!
//! What is here now: the on-disk side of enrollment. [`GalleryFile`] keeps a
//! [`Gallery`](siamedge_format::Gallery) of templates in one `siamedge-format` file, loads it with
//! errors that name the path and the field, and replaces it atomically, so that a crash or a power
//! cut mid-write leaves either the old gallery or the new one, never a torn file (through
//! `siamedge_format::file::write_atomic`).
//!
//! Running the exported ONNX encoder (tract) to turn images into embeddings, and the `siamedge-edge`
//! CLI, come with the export work; this crate compares embeddings that it is given.
#![warn(missing_docs)]

pub mod error;
pub mod gallery_file;

pub use error::EdgeError;
pub use gallery_file::GalleryFile;
