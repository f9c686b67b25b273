//! Running an exported encoder with tract: ONNX in, embeddings out, decisions from the model file.
//!
//! What: [`OnnxEncoder`] loads `model.onnx` (f32) or `model.int8.onnx` (QDQ) as written by
//! `siamedge-train export`, lowers its int8 layers to the engine's integer arithmetic
//! ([`crate::onnx_exact`], so tract's int8 embeddings are the firmware's bit for bit), folds the
//! constant per-axis dequantizations left ([`crate::onnx_fold`]), fixes the batch to 1 and
//! optimizes it with tract; `embed` maps one normalized `(1, C, H, W)` input to a `D`-vector of
//! f32. [`Runtime`] pairs it with the int8 model
//! file (`model.sgm`), which says how to preprocess images (size, mean, std), how the embedding is
//! quantized for templates (its scale), the metric, and the operating points: the edge box and the
//! firmware then store the same kind of template and decide with the same thresholds.
//!
//! Embeddings: the ONNX output is f32 ([`EmbeddingF32`]); templates and galleries hold int8
//! [`Embedding`]s quantized with the model file's embedding scale. For the QDQ graph the output is
//! already a multiple of that scale, so the int8 values are the ones the graph computed.
//!
//! When not: colour models, or graphs whose output is not `(N, D)`.

use std::path::{Path, PathBuf};

use siamedge_format::{
    DecisionSpec, Embedding, EmbeddingF32, EmbeddingSpec, InputSpec, LeF32Slice, Metric, Model,
    ModelId, Task,
};
use tract_onnx::pb::{tensor_shape_proto::dimension::Value, type_proto, ModelProto};
use tract_onnx::prelude::*;

use crate::error::EdgeError;
use crate::onnx_exact::{lower_to_integer, Lowered};
use crate::onnx_fold::fold_constant_dequantize;
use crate::preprocess::{load_gray, to_input, GrayImage};

/// A tract plan for an exported encoder, batch 1.
#[derive(Debug)]
pub struct OnnxEncoder {
    path: PathBuf,
    plan: TypedRunnableModel<TypedModel>,
    input: (usize, usize, usize),
    dim: usize,
    metadata: Vec<(String, String)>,
    folded: usize,
    lowered: Lowered,
}

fn onnx_err(path: &Path, e: impl std::fmt::Display) -> EdgeError {
    EdgeError::Onnx {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    }
}

fn fixed_dims(path: &Path, proto: &ModelProto, output: bool) -> Result<Vec<usize>, EdgeError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| onnx_err(path, "no graph"))?;
    let list = if output { &graph.output } else { &graph.input };
    let what = if output { "output" } else { "input" };
    let vi = list
        .first()
        .ok_or_else(|| onnx_err(path, format!("the graph has no {what}")))?;
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(onnx_err(
            path,
            format!("{what} `{}` is not a tensor", vi.name),
        ));
    };
    let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
    // Every dimension after the batch must be fixed.
    dims.iter()
        .skip(1)
        .map(|d| match d.value {
            Some(Value::DimValue(v)) if v > 0 => Ok(v as usize),
            _ => Err(EdgeError::Mismatch {
                path: path.to_path_buf(),
                reason: format!(
                    "{what} `{}` has a non-fixed dimension after the batch",
                    vi.name
                ),
            }),
        })
        .collect()
}

impl OnnxEncoder {
    /// Loads and optimizes the ONNX file at `path`.
    pub fn load(path: &Path) -> Result<Self, EdgeError> {
        let bytes = std::fs::read(path).map_err(|source| EdgeError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Loads an ONNX model from its bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, EdgeError> {
        use prost::Message;
        let mut proto = ModelProto::decode(bytes).map_err(|e| onnx_err(path, e))?;
        let lowered = lower_to_integer(&mut proto);
        let folded = fold_constant_dequantize(&mut proto).map_err(|e| onnx_err(path, e))?;
        let input = fixed_dims(path, &proto, false)?;
        let output = fixed_dims(path, &proto, true)?;
        let (input, dim) = match (input.as_slice(), output.as_slice()) {
            (&[c, h, w], &[d]) => ((c, h, w), d),
            _ => {
                return Err(EdgeError::Mismatch {
                    path: path.to_path_buf(),
                    reason: format!(
                        "expected input (N, C, H, W) and output (N, D), found {input:?} and {output:?} after the batch"
                    ),
                })
            }
        };
        let metadata = proto
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        let (c, h, w) = input;
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, c, h, w]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| onnx_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            plan,
            input,
            dim,
            metadata,
            folded,
            lowered,
        })
    }

    /// The ONNX file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Input `(C, H, W)`.
    pub fn input_shape(&self) -> (usize, usize, usize) {
        self.input
    }

    /// Embedding length `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// A `metadata_props` value of the file (e.g. `siamedge.model_id`).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The int8 layers lowered to integer operators at load (all zero for a float graph).
    pub fn lowered(&self) -> Lowered {
        self.lowered
    }

    /// How many constant `DequantizeLinear` nodes were folded at load (0 for a float graph).
    pub fn folded_dequantizations(&self) -> usize {
        self.folded
    }

    /// The embedding of one normalized input: `x` holds `C * H * W` f32 values, NCHW row-major.
    pub fn embed(&self, x: &[f32]) -> Result<Vec<f32>, EdgeError> {
        let (c, h, w) = self.input;
        let tensor = Tensor::from_shape(&[1, c, h, w], x).map_err(|e| EdgeError::Mismatch {
            path: self.path.clone(),
            reason: format!("input of {} values for (1, {c}, {h}, {w}): {e}", x.len()),
        })?;
        let out = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| onnx_err(&self.path, e))?;
        let first = out
            .first()
            .ok_or_else(|| onnx_err(&self.path, "the plan returned no output"))?;
        let view = first
            .as_slice::<f32>()
            .map_err(|e| onnx_err(&self.path, e))?;
        if view.len() != self.dim {
            return Err(EdgeError::Mismatch {
                path: self.path.clone(),
                reason: format!("output has {} values, expected {}", view.len(), self.dim),
            });
        }
        Ok(view.to_vec())
    }
}

/// An exported encoder with its model file: images in, embeddings and decisions out.
#[derive(Debug)]
pub struct Runtime {
    encoder: OnnxEncoder,
    model_path: PathBuf,
    model_bytes: Vec<u8>,
    id: ModelId,
    task: Task,
    input: InputSpec,
    embedding: EmbeddingSpec,
    decision: DecisionSpec,
    metric: MetricKind,
    /// Little-endian f32 inverse variances, for `MahalanobisDiag`; empty otherwise.
    diagonal: Vec<u8>,
}

impl Runtime {
    /// Loads `onnx` and the model file `model` (`model.sgm`) and checks that they agree: input
    /// size and channels, embedding length, and the model id when the ONNX file records one
    /// (`siamedge.model_id`, written into `model.int8.onnx`).
    pub fn load(onnx: &Path, model: &Path) -> Result<Self, EdgeError> {
        let encoder = OnnxEncoder::load(onnx)?;
        let model_bytes = std::fs::read(model).map_err(|source| EdgeError::Io {
            action: "reading",
            path: model.to_path_buf(),
            source,
        })?;
        let m = Model::decode(&model_bytes).map_err(|source| EdgeError::Format {
            path: model.to_path_buf(),
            source,
        })?;
        let spec = m.input();
        let want = (
            usize::from(spec.channels),
            usize::from(spec.height),
            usize::from(spec.width),
        );
        let mismatch = |reason: String| EdgeError::Mismatch {
            path: onnx.to_path_buf(),
            reason,
        };
        if encoder.input_shape() != want {
            return Err(mismatch(format!(
                "input (C, H, W) {:?}, but {} expects {want:?}",
                encoder.input_shape(),
                model.display()
            )));
        }
        if encoder.dim() != usize::from(m.embedding().dim) {
            return Err(mismatch(format!(
                "embedding length {}, but {} says {}",
                encoder.dim(),
                model.display(),
                m.embedding().dim
            )));
        }
        let id_hex = hex::encode(m.id().as_bytes());
        if let Some(recorded) = encoder.metadata("siamedge.model_id") {
            if recorded != id_hex {
                return Err(mismatch(format!(
                    "exported from model {recorded}, but {} is model {id_hex}",
                    model.display()
                )));
            }
        }
        let (metric, diagonal) = match m.metric() {
            Metric::SquaredL2 => (MetricKind::SquaredL2, Vec::new()),
            Metric::L2 => (MetricKind::L2, Vec::new()),
            Metric::Cosine => (MetricKind::Cosine, Vec::new()),
            Metric::L1 => (MetricKind::L1, Vec::new()),
            Metric::MahalanobisDiag(d) => (MetricKind::MahalanobisDiag, d.as_bytes().to_vec()),
        };
        let (id, task, input, embedding, decision) = (
            m.id(),
            m.task(),
            m.input().clone(),
            *m.embedding(),
            m.decision().clone(),
        );
        drop(m);
        Ok(Self {
            encoder,
            model_path: model.to_path_buf(),
            model_bytes,
            id,
            task,
            input,
            embedding,
            decision,
            metric,
            diagonal,
        })
    }

    /// The tract encoder.
    pub fn encoder(&self) -> &OnnxEncoder {
        &self.encoder
    }

    /// The model file's path.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// The model id every template of this runtime carries.
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// What the model recognizes.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The input spec (size, normalization).
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// The embedding spec (length, int8 scale, L2-normalized or not).
    pub fn embedding_spec(&self) -> &EmbeddingSpec {
        &self.embedding
    }

    /// The operating points (thresholds at FARs) and score margin.
    pub fn decision(&self) -> &DecisionSpec {
        &self.decision
    }

    /// The metric (a diagonal Mahalanobis metric borrows its weights from this runtime).
    pub fn metric(&self) -> Metric<'_> {
        match self.metric {
            MetricKind::SquaredL2 => Metric::SquaredL2,
            MetricKind::L2 => Metric::L2,
            MetricKind::Cosine => Metric::Cosine,
            MetricKind::L1 => Metric::L1,
            MetricKind::MahalanobisDiag => {
                Metric::MahalanobisDiag(LeF32Slice::new(&self.diagonal).unwrap_or(EMPTY))
            }
        }
    }

    /// The model file's bytes.
    pub fn model_bytes(&self) -> &[u8] {
        &self.model_bytes
    }

    /// The f32 embedding of a decoded grey image; `path` names it in errors.
    pub fn embed_gray(&self, img: &GrayImage, path: &Path) -> Result<EmbeddingF32, EdgeError> {
        let x = to_input(img, &self.input, path)?;
        Ok(EmbeddingF32 {
            model: self.id,
            values: self.encoder.embed(&x)?,
        })
    }

    /// The f32 embedding of the image file at `path` (PNG, JPEG, PGM).
    pub fn embed_path(&self, path: &Path) -> Result<EmbeddingF32, EdgeError> {
        self.embed_gray(&load_gray(path)?, path)
    }

    /// `e` quantized for templates with the model's embedding scale.
    pub fn quantize(&self, e: &EmbeddingF32) -> Result<Embedding, EdgeError> {
        e.quantize(self.embedding.scale)
            .map_err(|source| EdgeError::Format {
                path: self.model_path.clone(),
                source,
            })
    }
}

/// The metric's kind, kept apart from its borrowed weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricKind {
    SquaredL2,
    L2,
    Cosine,
    L1,
    MahalanobisDiag,
}

const EMPTY: LeF32Slice<'static> = match LeF32Slice::new(&[]) {
    Some(s) => s,
    None => panic!("an empty slice is a valid f32 array"),
};
