//! The pretrained face pipeline of face-api.js (`@vladmandic/face-api` 1.7.15, MIT; weights from
//! upstream face-api.js, the recognition net a port of dlib's ResNet): its two networks in candle,
//! loaded from the tfjs weight files that `siamedge-train data fetch` caches.
//!
//! - [`tfjs`]: the weight manifest and data files, dequantized.
//! - [`FaceLandmark68Net`]: 68 landmarks from a `[N, 112, 112, 3]` face region.
//! - [`FaceRecognitionNet`]: the 128-d descriptor of a `[N, 150, 150, 3]` aligned chip.
//!
//! The geometry between them (landmark input, refine box, similarity transform, chip) is
//! `siamedge_format::preprocess::align`, the one implementation the edge runs too.
//!
//! Both nets were checked against known answers (`trainer/tests/faceapi_nets.rs`: the outputs of
//! an independent numpy/ONNX port on ORL images and a synthetic pattern, within 1e-4).

pub mod export;
mod landmarks;
mod layers;
pub mod onnx;
pub mod orl;
pub mod pipeline;
mod recognition;
pub mod tfjs;

use std::path::{Path, PathBuf};

use candle_core::Device;
use thiserror::Error;

pub use landmarks::{FaceLandmark68Net, INPUT_SIDE as LANDMARK_SIDE, OUTPUTS as LANDMARK_OUTPUTS};
pub use layers::MEAN_RGB;
pub use recognition::{FaceRecognitionNet, CHIP_SIDE, DESCRIPTOR_DIM};
pub use tfjs::{TfjsError, TfjsWeights};

pub use siamedge_data::faceapi::{LANDMARK_MANIFEST, RECOGNITION_MANIFEST};

/// Why a face-api network could not be built or run.
#[derive(Debug, Error)]
pub enum FaceApiError {
    /// The weight files.
    #[error(transparent)]
    Weights(TfjsError),
    /// The alignment refused an image, box or buffer.
    #[error("face alignment: {0}")]
    Align(siamedge_format::preprocess::PreprocessError),
    /// An alignment failure of a kind added after this crate was written.
    #[error("{0}")]
    AlignOther(String),
    /// The cached weights are missing or not the pinned ones.
    #[error("face-api weights: {0} (run `siamedge-train data fetch face-api`)")]
    NotFetched(String),
    /// An input of the wrong size.
    #[error("{net} net: input is [N, {}, {}, {}], it takes [N, {}, {}, {}]", found[0], found[1], found[2], expected[0], expected[1], expected[2])]
    Input {
        /// "landmark" or "recognition".
        net: &'static str,
        /// `[H, W, C]` it takes.
        expected: [usize; 3],
        /// `[H, W, C]` given.
        found: [usize; 3],
    },
    /// A metric could not be computed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// The ORL faces.
    #[error("orl: {0}")]
    Orl(#[from] siamedge_data::orl::OrlError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Both networks.
pub struct FaceApi {
    /// 68 landmarks.
    pub landmarks: FaceLandmark68Net,
    /// The descriptor.
    pub recognition: FaceRecognitionNet,
    /// The folder the weights came from.
    pub dir: PathBuf,
    device: Device,
}

impl FaceApi {
    /// Loads both networks from the data cache's `face-api/` folder (`siamedge-train data fetch
    /// face-api`), after re-checking every file against its pinned sha256.
    pub fn load(cache: &siamedge_data::DataCache, dev: &Device) -> Result<Self, FaceApiError> {
        let set = siamedge_data::DataSet::FaceApi;
        siamedge_data::fetch::verify(cache, set)
            .map_err(|e| FaceApiError::NotFetched(e.to_string()))?;
        Self::load_dir(&cache.dataset_dir(set), dev)
    }

    /// Loads both networks from a folder holding the two manifests and their `.bin` files.
    pub fn load_dir(dir: &Path, dev: &Device) -> Result<Self, FaceApiError> {
        let lm = TfjsWeights::read(&dir.join(LANDMARK_MANIFEST))?;
        let rec = TfjsWeights::read(&dir.join(RECOGNITION_MANIFEST))?;
        Ok(Self {
            landmarks: FaceLandmark68Net::new(&lm, dev)?,
            recognition: FaceRecognitionNet::new(&rec, dev)?,
            dir: dir.to_path_buf(),
            device: dev.clone(),
        })
    }
}
