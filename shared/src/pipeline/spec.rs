//! Owned pipeline description for hosts: the trainer's export fills it in and writes the file.
//!
//! [`PipelineSpec::to_bytes`] writes the payload, hashes the body (less its decision section)
//! into the id ([`super::body_id`]), seals the envelope, and decodes its own output with
//! [`Pipeline::decode`]: a spec that would give an invalid file is an error here, never a file a
//! runtime refuses later.

use alloc::vec::Vec;

use super::{body_id, sha256, MetricWire, Pipeline, FACE_API_DIM, FACE_API_SCALE, KIND};
use crate::decision::{self, DecisionSpec};
use crate::envelope;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::metric::Metric;
use crate::model::Task;
use crate::model_id::ModelId;
use crate::preprocess::align::AlignVariant;
use crate::wire::{Sink, VecSink};

/// Everything a pipeline file holds, owned. Field meanings and units are [`Pipeline`]'s.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    /// What the pipeline recognizes.
    pub task: Task,
    /// How an image becomes the recognition network's chip.
    pub align: AlignVariant,
    /// SHA-256 of `landmarks.onnx` ([`sha256`] of its bytes).
    pub landmarks_sha256: [u8; 32],
    /// SHA-256 of `recognition.onnx`.
    pub recognition_sha256: [u8; 32],
    /// Descriptor length, `1..=1024` values (the recognition output's `D`).
    pub dim: u16,
    /// Real value of one int8 template step, finite and `> 0`.
    pub scale: f32,
    /// `SquaredL2`, `L2`, `Cosine` or `L1` (a weighted metric is refused).
    pub metric: Metric<'static>,
    /// Operating points (thresholds in the metric's units) and score margin.
    pub decision: DecisionSpec,
}

impl PipelineSpec {
    /// The face-api.js pipeline over the given ONNX files' bytes (hashed here): task face,
    /// [`FACE_API_DIM`] values, step [`FACE_API_SCALE`], Euclidean distance ([`Metric::L2`]) on
    /// the raw descriptors, the alignment `align` and the operating points `decision`.
    pub fn face_api(
        landmarks_onnx: &[u8],
        recognition_onnx: &[u8],
        align: AlignVariant,
        decision: DecisionSpec,
    ) -> Self {
        Self {
            task: Task::Face,
            align,
            landmarks_sha256: sha256(landmarks_onnx),
            recognition_sha256: sha256(recognition_onnx),
            dim: FACE_API_DIM,
            scale: FACE_API_SCALE,
            metric: Metric::L2,
            decision,
        }
    }

    /// The owned form of a decoded pipeline; `to_bytes` gives the same file back.
    pub fn from_pipeline(p: &Pipeline) -> Self {
        Self {
            task: p.task(),
            align: p.align(),
            landmarks_sha256: p.landmarks,
            recognition_sha256: p.recognition,
            dim: p.embedding().dim,
            scale: p.embedding().scale,
            metric: p.metric(),
            decision: p.decision().clone(),
        }
    }

    /// The body: every payload field after the id.
    fn body(&self) -> Result<Vec<u8>, FormatError> {
        let metric = match self.metric {
            Metric::SquaredL2 => MetricWire::SquaredL2,
            Metric::L2 => MetricWire::L2,
            Metric::Cosine => MetricWire::Cosine,
            Metric::L1 => MetricWire::L1,
            Metric::MahalanobisDiag(_) => {
                return Err(FormatError::Malformed {
                    at: Field::new(KIND, "metric"),
                    reason: "a pipeline's metric takes no weights (squared L2, L2, cosine or L1)",
                })
            }
        };
        let mut s = VecSink::new(FileKind::Pipeline);
        s.put(&self.task)?;
        s.put(self.align.name())?;
        s.put(&self.landmarks_sha256)?;
        s.put(&self.recognition_sha256)?;
        s.put(&self.dim)?;
        s.put(&self.scale)?;
        s.put(&metric)?;
        decision::write_section(&self.decision, &mut s)?;
        Ok(s.into_bytes())
    }

    /// The id the encoded pipeline will have: it names everything but the decision section, so
    /// two specs that differ only in operating points have the same id. Errors as
    /// [`to_bytes`](Self::to_bytes) for a weighted metric.
    pub fn id(&self) -> Result<ModelId, FormatError> {
        body_id(KIND.version(), &self.body()?)
    }

    /// Encodes the pipeline file at the current format version (id and CRC computed) and checks
    /// it by decoding it: an out-of-range `dim`, a bad `scale` or a weighted metric is the
    /// decoder's [`FormatError`] naming the field.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        let body = self.body()?;
        let mut payload = Vec::with_capacity(body.len() + ModelId::LEN);
        payload.extend_from_slice(body_id(KIND.version(), &body)?.as_bytes());
        payload.extend_from_slice(&body);
        let file = envelope::seal(KIND, &payload)?;
        Pipeline::decode(&file)?;
        Ok(file)
    }
}
