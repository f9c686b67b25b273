//! Data sets for training and evaluating Siamese encoders: ORL / AT&T faces, MNIST and
//! Fashion-MNIST, and the user's own images ([`folder`]: one sub-folder per identity;
//! [`signature`]: genuine and forged signatures per writer).
//!
//! What: fetching, caching and decoding the registry data sets is the `siamedge-data` crate
//! (candle-free, so the edge's `siamedge demo` uses it too); its modules are re-exported here under
//! their old paths ([`cache`], [`download`], [`fetch`], [`idx`], [`manifest`], [`mnist`], [`orl`],
//! [`pgm`], [`pickle`], [`repair`]), so `crate::data::orl::OrlFaces` and
//! `siamedge_trainer::data::fetch::fetch` keep working. [`fetch::fetch`] builds the cache;
//! [`OrlFaces::load`] and [`Mnist::load`] read it. What needs the trainer's types stays here:
//! [`LabelledSet`] (candle tensors, the sampler), [`folder`] and [`signature`] (the user's own
//! images, read through [`resize_area`]).
//!
//! When not: this module does no augmentation, normalisation or batching; it hands out `u8` images
//! and integer labels, plus [`resize_area`] for downscaling.

// `fetch` names both the module and `siamedge_data::fetch`, the function: one import brings both.
pub use siamedge_data::{cache, download, fetch, idx, manifest, mnist, orl, pgm, pickle, repair};

pub mod folder;
pub mod labelled_set;
pub mod resize;
pub mod signature;
pub mod synth_signature;

pub use cache::{DataCache, DataSet};
pub use fetch::{FetchReport, FetchStatus};
pub use folder::{FolderError, ImageFolder};
pub use idx::IdxArray;
pub use labelled_set::{ImageShape, LabelledSet};
pub use mnist::Mnist;
pub use orl::{OrlFaces, OrlFold};
pub use pgm::GrayImage;
pub use resize::resize_area;
pub use signature::SignatureSet;
