//! The pipeline file (`pipeline.sgp`, magic `SGPL`): a model made of two float ONNX networks
//! around the one face alignment ([`crate::preprocess::align`]), described so that a runtime uses
//! it like a model file: the same templates, metric and decisions.
//!
//! What it names: the SHA-256 of the landmark network (`landmarks.onnx`: NCHW f32
//! `(N, 3, 112, 112)` RGB `0..=255` -> `(N, 136)` raw landmark outputs) and of the recognition
//! network (`recognition.onnx`: `(N, 3, 150, 150)` -> `(N, dim)` raw descriptor), both beside the
//! pipeline file ([`Network::file_name`]); the [`AlignVariant`] that turns an image into the chip
//! with the landmark network; the int8 scale of template embeddings; the metric; the operating
//! points. A runtime refuses ONNX files whose SHA-256 is not the one named ([`Pipeline::matches`]).
//!
//! Its [`ModelId`], which every template made through it carries, is the first 16 bytes of
//! SHA-256 over `b"SGPL"` and the body less its decision section ([`body_id`]): any change of
//! network, alignment, task, embedding scale or metric gives a new id, so templates of two
//! pipelines (or of a pipeline and an int8 model: the magic separates the hashes) are never
//! compared; recalibrating the thresholds keeps it, as for model files of version 2.
//!
//! When not: for the int8 models the firmware runs (those are [`crate::Model`] files). Nothing
//! here runs a network; the decoder needs no allocator and never panics.
//!
//! Payload (postcard, version 1):
//!
//! | field | type | meaning |
//! | --- | --- | --- |
//! | id | `[u8; 16]` | [`body_id`] of the body (every field below) |
//! | task | enum | 0 Face, 1 Signature, 2 Generic |
//! | align | str | [`AlignVariant::name`], e.g. `"eyes2-edge-refine"` |
//! | landmarks | `[u8; 32]` | SHA-256 of `landmarks.onnx` |
//! | recognition | `[u8; 32]` | SHA-256 of `recognition.onnx` |
//! | embedding.dim | u16 | descriptor length `1..=1024` (the recognition output's `D`) |
//! | embedding.scale | f32 | real value of one int8 template step, finite `> 0`, zero point 0 |
//! | metric | enum | 0 SquaredL2, 1 L2, 2 Cosine, 3 L1 (no weighted metric) |
//! | decision | section | as in a model file: `margin: f32`, `default: u8`, 1 to 8 `(far: f32, threshold: f32)` |

#[cfg(feature = "alloc")]
mod spec;
#[cfg(all(test, feature = "alloc"))]
mod tests;

#[cfg(feature = "alloc")]
pub use spec::PipelineSpec;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decision::{self, Decision, DecisionSpec};
use crate::embedding::{EmbeddingRef, MAX_EMBEDDING_DIM};
use crate::envelope;
use crate::error::FormatError;
use crate::kind::FileKind;
use crate::metric::Metric;
use crate::model::{EmbeddingSpec, Task};
use crate::model_id::ModelId;
use crate::preprocess::align::{AlignVariant, CHIP_SIDE, LANDMARK_OUTPUTS, LANDMARK_SIDE};
use crate::template::Template;
use crate::wire::{check_range, check_scale, Reader};

const KIND: FileKind = FileKind::Pipeline;

/// The pipeline file's name in a model folder.
pub const PIPELINE_FILE: &str = "pipeline.sgp";

/// Descriptor length of face-api.js's recognition network (dlib's ResNet), values.
pub const FACE_API_DIM: u16 = 128;

/// Int8 template step for face-api.js descriptors: `1/200`, so `-128..=127` covers raw values
/// `-0.640..=0.635`, the `|v| <= ~0.6` the descriptor keeps to. On ORL's 400 images (edge
/// pipeline, eyes2-edge-refine) the largest `|v|` is 0.486 (99.9th percentile 0.430): nothing
/// clips, and over all 79,800 pairs the Euclidean distance between int8 templates differs from
/// the f32 one by 0.0021 rms, 0.0087 at most (1/128: 0.0033 and 0.0148), against a gap of about
/// 0.1 between same-person (`< 0.5`) and different-person (`> 0.6`) distances.
pub const FACE_API_SCALE: f32 = 1.0 / 200.0;

/// The two networks of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// The landmark network: NCHW `(N, 3, 112, 112)` RGB `0..=255` -> `(N, 136)`.
    Landmarks,
    /// The recognition network: NCHW `(N, 3, 150, 150)` RGB `0..=255` -> `(N, dim)`.
    Recognition,
}

impl Network {
    /// Both, in file order (landmarks first).
    pub const ALL: [Network; 2] = [Network::Landmarks, Network::Recognition];

    /// The ONNX file's name beside the pipeline file: `"landmarks.onnx"`, `"recognition.onnx"`.
    pub const fn file_name(self) -> &'static str {
        match self {
            Network::Landmarks => "landmarks.onnx",
            Network::Recognition => "recognition.onnx",
        }
    }

    /// Lowercase name: `"landmarks"`, `"recognition"`.
    pub const fn name(self) -> &'static str {
        match self {
            Network::Landmarks => "landmarks",
            Network::Recognition => "recognition",
        }
    }

    /// The input's side in pixels (the input is `(N, 3, side, side)`): 112 and 150.
    pub const fn input_side(self) -> usize {
        match self {
            Network::Landmarks => LANDMARK_SIDE,
            Network::Recognition => CHIP_SIDE,
        }
    }

    /// The output's length per image: 136 landmark values, or the pipeline's embedding `dim`.
    pub fn output_len(self, dim: u16) -> usize {
        match self {
            Network::Landmarks => LANDMARK_OUTPUTS,
            Network::Recognition => usize::from(dim),
        }
    }
}

/// SHA-256 of `bytes`, as a pipeline file names an ONNX file.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The metric's wire form: a varint tag, the same tags as a model file's parameterless metrics.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum MetricWire {
    SquaredL2,
    L2,
    Cosine,
    L1,
}

impl MetricWire {
    fn metric(self) -> Metric<'static> {
        match self {
            MetricWire::SquaredL2 => Metric::SquaredL2,
            MetricWire::L2 => Metric::L2,
            MetricWire::Cosine => Metric::Cosine,
            MetricWire::L1 => Metric::L1,
        }
    }
}

/// The fields before the decision section, read without checking their values.
struct Head<'a> {
    task: Task,
    align: &'a str,
    landmarks: [u8; 32],
    recognition: [u8; 32],
    dim: u16,
    scale: f32,
    metric: MetricWire,
}

fn read_head<'a>(r: &mut Reader<'a>) -> Result<Head<'a>, FormatError> {
    Ok(Head {
        task: r.take("task")?,
        align: r.take("align")?,
        landmarks: r.take("landmarks")?,
        recognition: r.take("recognition")?,
        dim: r.take("embedding.dim")?,
        scale: r.take("embedding.scale")?,
        metric: r.take("metric")?,
    })
}

/// Byte range `start..end` of the decision section within a pipeline `body` (the payload after
/// the id); reads the field boundaries only. A body that ends early or holds an unknown tag is
/// [`FormatError::Malformed`] naming the field; a point count outside `1..=8` is
/// [`FormatError::OutOfRange`].
fn decision_span(body: &[u8]) -> Result<(usize, usize), FormatError> {
    let mut r = Reader::new(KIND, body);
    read_head(&mut r)?;
    let start = body.len() - r.rest().len();
    decision::skip_section(&mut r)?;
    Ok((start, body.len() - r.rest().len()))
}

/// The id of a pipeline file of format `version` whose body (payload after the id) is `body`:
/// the first 16 bytes of SHA-256 over `b"SGPL"`, the body's bytes before the decision section
/// and those after it (none in a valid version-1 file). The decoder, the writer
/// ([`PipelineSpec`]) and the test and fuzz helpers that reseal pipeline bytes all call it.
/// Errors: [`FormatError::UnsupportedVersion`]; a body whose fields up to the end of the decision
/// section cannot be read ([`FormatError::Malformed`], [`FormatError::OutOfRange`]).
pub fn body_id(version: u16, body: &[u8]) -> Result<ModelId, FormatError> {
    if version != 1 {
        return Err(FormatError::UnsupportedVersion {
            kind: KIND,
            found: version,
            supported: KIND.version(),
        });
    }
    let (start, end) = decision_span(body)?;
    let before = body.get(..start).unwrap_or_default();
    let after = body.get(end..).unwrap_or_default();
    Ok(ModelId::digest_parts(&[&KIND.magic(), before, after]))
}

/// A decoded, validated pipeline file (owned, fixed size: no allocator).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    version: u16,
    id: ModelId,
    task: Task,
    align: AlignVariant,
    landmarks: [u8; 32],
    recognition: [u8; 32],
    embedding: EmbeddingSpec,
    metric: Metric<'static>,
    decision: DecisionSpec,
}

impl Pipeline {
    /// Decodes and validates a pipeline file: envelope, id (recomputed, [`FormatError::BadModelId`]
    /// on a mismatch), then each field (`align` a known [`AlignVariant`] name, `embedding.dim` in
    /// `1..=1024`, `embedding.scale` finite `> 0`, a known metric, the decision section's rules),
    /// and no byte after the last. Errors name the field; untrusted bytes never panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut r = Reader::new(KIND, env.payload);
        let stored: ModelId = r.take("id")?;
        let computed = body_id(env.version, r.rest())?;
        if stored != computed {
            return Err(FormatError::BadModelId { stored, computed });
        }
        let head = read_head(&mut r)?;
        let align = AlignVariant::from_name(head.align).ok_or(FormatError::Malformed {
            at: r.field("align"),
            reason: "not an alignment variant (eyes2-edge-refine, eyes2-edge-whole, \
                     dlib33-edge-refine)",
        })?;
        check_range(
            r.field("embedding.dim"),
            i64::from(head.dim),
            1,
            MAX_EMBEDDING_DIM as i64,
        )?;
        check_scale(r.field("embedding.scale"), head.scale)?;
        let decision = decision::read_section(&mut r, KIND)?;
        r.finish()?;
        Ok(Self {
            version: env.version,
            id: stored,
            task: head.task,
            align,
            landmarks: head.landmarks,
            recognition: head.recognition,
            embedding: EmbeddingSpec {
                dim: head.dim,
                scale: head.scale,
                l2_normalized: false,
                flip_average: false,
            },
            metric: head.metric.metric(),
            decision,
        })
    }

    /// The id every template of this pipeline carries (verified at decode).
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// The file's format version, `1..=FileKind::Pipeline.version()`.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// What the pipeline recognizes.
    pub fn task(&self) -> Task {
        self.task
    }

    /// How an image becomes the recognition network's chip.
    pub fn align(&self) -> AlignVariant {
        self.align
    }

    /// The SHA-256 the pipeline names for `network`'s ONNX file.
    pub fn sha256(&self, network: Network) -> &[u8; 32] {
        match network {
            Network::Landmarks => &self.landmarks,
            Network::Recognition => &self.recognition,
        }
    }

    /// Whether `onnx` (an ONNX file's bytes) is the one the pipeline names for `network`.
    pub fn matches(&self, network: Network, onnx: &[u8]) -> bool {
        sha256(onnx) == *self.sha256(network)
    }

    /// The template embeddings: `dim` values, int8 with step `scale`; `l2_normalized` is always
    /// false (the descriptor is raw).
    pub fn embedding(&self) -> &EmbeddingSpec {
        &self.embedding
    }

    /// How embeddings are compared (never a weighted metric).
    pub fn metric(&self) -> Metric<'static> {
        self.metric
    }

    /// The operating points (thresholds in the metric's units) and score margin.
    pub fn decision(&self) -> &DecisionSpec {
        &self.decision
    }

    /// Verifies `probe` against `template` with this pipeline's metric at its default operating
    /// point. Both must carry this pipeline's id ([`FormatError::ModelMismatch`] otherwise).
    pub fn verify(
        &self,
        template: &Template,
        probe: EmbeddingRef<'_>,
    ) -> Result<Decision, FormatError> {
        self.decision.verify(self.id, &self.metric, template, probe)
    }
}
