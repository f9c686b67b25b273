//! The ONNX pipeline on tract: an image in, the recognition network's raw descriptor out.
//!
//! What: [`PipelineEncoder`] loads a pipeline file (`pipeline.sgp`,
//! [`siamedge_format::Pipeline`]) and the two ONNX files beside it, refusing files whose SHA-256
//! is not the one the pipeline names ([`EdgeError::NetworkMismatch`]) or that are missing
//! ([`EdgeError::MissingNetwork`], with the command that writes the folder), and checks their
//! shapes: landmarks `(N, 3, 112, 112) -> (N, 136)`, recognition `(N, 3, 150, 150) -> (N, dim)`.
//! [`PipelineEncoder::embed`] runs the one face alignment
//! ([`siamedge_format::preprocess::align::align_face`]) with the landmark network as its
//! landmark closure (once or twice, as the variant says; NHWC transposed to NCHW for tract),
//! then the recognition network on the 150x150 chip: `dim` f32 values (128 for face-api.js), not
//! normalized, compared by the pipeline's metric.
//!
//! Cost per image (face-api.js): the recognition network (about 0.27 GMAC) and one or two landmark
//! passes, on tract in f32; see the edge README for the times. [`crate::Runtime::pipeline`] pairs
//! it with the pipeline's template scale, metric and thresholds.
//!
//! When not: images with several faces or a small face in a large frame. The alignment starts
//! from the whole image (the landmark network's first pass), as the ORL study did on its
//! 92x112 face crops; there is no face detector in front of it.

use std::path::{Path, PathBuf};

use siamedge_format::pipeline::{sha256, Network};
use siamedge_format::preprocess::align::{
    align_face, AlignError, Aligned, CHIP_LEN, LANDMARK_INPUT_LEN, LANDMARK_OUTPUTS,
};
use siamedge_format::preprocess::ImageRef;
use siamedge_format::Pipeline;

use crate::error::EdgeError;
use crate::runtime::OnnxEncoder;

/// A pipeline file with its two networks ready on tract.
#[derive(Debug)]
pub struct PipelineEncoder {
    path: PathBuf,
    bytes: Vec<u8>,
    pipeline: Pipeline,
    landmarks: OnnxEncoder,
    recognition: OnnxEncoder,
}

/// `x` (`side * side * 3` values, NHWC) as NCHW `(3, side, side)`.
fn nchw(x: &[f32], side: usize) -> Vec<f32> {
    let plane = side * side;
    let mut out = vec![0.0; 3 * plane];
    for (i, px) in x.chunks_exact(3).enumerate() {
        for (c, v) in px.iter().enumerate() {
            out[c * plane + i] = *v;
        }
    }
    out
}

impl PipelineEncoder {
    /// Reads the pipeline file at `path` and loads the networks it names from its folder
    /// ([`Network::file_name`]). Errors: [`EdgeError::Io`] and [`EdgeError::Format`] for the
    /// pipeline file; [`EdgeError::MissingNetwork`], [`EdgeError::NetworkMismatch`] (checked
    /// before tract sees the bytes), [`EdgeError::Onnx`] and [`EdgeError::Mismatch`] (a shape
    /// other than the pipeline's) for the networks.
    pub fn load(path: &Path) -> Result<Self, EdgeError> {
        let bytes = crate::error::read_file(path)?;
        let pipeline = Pipeline::decode(&bytes).map_err(|source| EdgeError::Format {
            path: path.to_path_buf(),
            source,
        })?;
        let load = |network: Network| -> Result<OnnxEncoder, EdgeError> {
            let file = network_path(path, network);
            let onnx = read_network(path, &pipeline, network)?;
            let encoder = OnnxEncoder::from_bytes(&onnx, &file)?;
            let side = network.input_side();
            let want = (
                (3, side, side),
                network.output_len(pipeline.embedding().dim),
            );
            let found = (encoder.input_shape(), encoder.dim());
            if found != want {
                return Err(EdgeError::Mismatch {
                    path: file,
                    reason: format!(
                        "the {} network's input (C, H, W) and output length are {found:?}, but \
                         {} needs {want:?}",
                        network.name(),
                        path.display()
                    ),
                });
            }
            Ok(encoder)
        };
        let landmarks = load(Network::Landmarks)?;
        let recognition = load(Network::Recognition)?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            pipeline,
            landmarks,
            recognition,
        })
    }

    /// The pipeline file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pipeline file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The decoded pipeline (alignment, template scale, metric, operating points, id).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// One of the networks on tract.
    pub fn network(&self, network: Network) -> &OnnxEncoder {
        match network {
            Network::Landmarks => &self.landmarks,
            Network::Recognition => &self.recognition,
        }
    }

    /// The landmark network's 136 raw outputs for one NHWC `[112, 112, 3]` input (levels
    /// `0..=255`): the closure the alignment calls.
    pub fn landmarks_raw(&self, input: &[f32]) -> Result<[f32; LANDMARK_OUTPUTS], EdgeError> {
        let side = Network::Landmarks.input_side();
        let out = self.landmarks.embed(&nchw(input, side))?;
        let mut raw = [0.0; LANDMARK_OUTPUTS];
        if out.len() != raw.len() {
            return Err(EdgeError::Mismatch {
                path: self.landmarks.path().to_path_buf(),
                reason: format!("{} outputs, expected {LANDMARK_OUTPUTS}", out.len()),
            });
        }
        raw.copy_from_slice(&out);
        Ok(raw)
    }

    /// The aligned chip of `img` (grey or RGB): `CHIP_LEN` values, NHWC `[150, 150, 3]`, levels
    /// `0..=255`, and what the alignment used. `name` names the image in errors
    /// ([`EdgeError::Align`] when the alignment refuses it).
    pub fn chip(&self, img: ImageRef<'_>, name: &Path) -> Result<(Vec<f32>, Aligned), EdgeError> {
        let mut scratch = vec![0.0; LANDMARK_INPUT_LEN];
        let mut chip = vec![0.0; CHIP_LEN];
        let aligned = align_face(
            img,
            self.pipeline.align(),
            &mut scratch,
            &mut |x: &[f32]| self.landmarks_raw(x),
            &mut chip,
        )
        .map_err(|e| match e {
            AlignError::Landmarks(e) => e,
            AlignError::Preprocess(source) => EdgeError::Align {
                path: name.to_path_buf(),
                source,
            },
            other => EdgeError::Unsupported {
                path: name.to_path_buf(),
                what: format!("{other}"),
            },
        })?;
        Ok((chip, aligned))
    }

    /// The raw descriptor of `img` (grey or RGB, any size within the decoder's pixel limit):
    /// the pipeline's `dim` f32 values. `name` names the image in errors.
    pub fn embed(&self, img: ImageRef<'_>, name: &Path) -> Result<Vec<f32>, EdgeError> {
        let (chip, _) = self.chip(img, name)?;
        self.recognition
            .embed(&nchw(&chip, Network::Recognition.input_side()))
    }
}

/// The folder of the pipeline file `pipeline` (`.` for a bare file name).
fn folder(pipeline: &Path) -> PathBuf {
    match pipeline.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `network`'s file beside the pipeline file `pipeline`.
pub fn network_path(pipeline: &Path, network: Network) -> PathBuf {
    folder(pipeline).join(network.file_name())
}

/// The bytes of `network`'s file beside the pipeline file `path`, checked against the SHA-256
/// that `pipeline` (its decoded content) names. Errors: [`EdgeError::MissingNetwork`],
/// [`EdgeError::Io`], [`EdgeError::NetworkMismatch`].
pub fn read_network(
    path: &Path,
    pipeline: &Pipeline,
    network: Network,
) -> Result<Vec<u8>, EdgeError> {
    let file = network_path(path, network);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EdgeError::MissingNetwork {
                file,
                pipeline: path.to_path_buf(),
                dir: folder(path),
            })
        }
        Err(source) => {
            return Err(EdgeError::Io {
                action: "reading",
                path: file,
                source,
            })
        }
    };
    let found = sha256(&bytes);
    if found != *pipeline.sha256(network) {
        return Err(EdgeError::NetworkMismatch {
            file,
            found: hex::encode(found),
            expected: hex::encode(pipeline.sha256(network)),
            dir: folder(path),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhwc_to_nchw() {
        // 2x2 pixels, channel c of pixel i is 10 * i + c.
        let x: Vec<f32> = (0..4)
            .flat_map(|i| (0..3).map(move |c| (10 * i + c) as f32))
            .collect();
        assert_eq!(
            nchw(&x, 2),
            [0.0, 10.0, 20.0, 30.0, 1.0, 11.0, 21.0, 31.0, 2.0, 12.0, 22.0, 32.0]
        );
    }
}
