//! Running an encoder on the edge: the int8 model file on the engine, or a float ONNX on tract;
//! images in, embeddings and decisions out.
//!
//! What: [`Runtime`] pairs an encoder with the model file (`model.sgm`), which says how to
//! preprocess images (size, mean, std, input quantization), how embeddings are quantized for
//! templates (their scale), the metric, and the operating points, so the edge box and the firmware
//! store the same kind of template and decide with the same thresholds.
//! - [`Runtime::int8`]: the model file itself on `siamedge-engine` ([`Int8Encoder`]); its
//!   embeddings are the device's, bit for bit.
//! - [`Runtime::float`]: `model.onnx` (f32, as `siamedge-train export` writes it, or an
//!   imported float network) on tract ([`OnnxEncoder`]: batch fixed to 1, optimized); its f32
//!   embeddings are quantized with the model file's embedding scale for templates.
//! - [`Runtime::pipeline`]: a pipeline file (`pipeline.sgp`) instead of a model file: two ONNX
//!   networks around the face alignment on tract ([`PipelineEncoder`]); the pipeline file gives
//!   the template scale, metric, thresholds and model id, so enrollment, verification and
//!   identification work as with any model.
//!
//! When not: colour model files (a pipeline takes colour), or graphs whose output is not `(N, D)`.
//! The QDQ file (`model.int8.onnx`) is for peers (onnxruntime, onnx.checker); tract runs its
//! convolutions in float, so the edge runs int8 on the engine instead (see
//! `tests/tests/qdq_engine_parity.rs` for how far a peer's execution drifts).

use std::path::{Path, PathBuf};

use siamedge_format::{
    DecisionSpec, Embedding, EmbeddingF32, EmbeddingSpec, InputSpec, LeF32Slice, Metric, ModelId,
    Task,
};
use tract_onnx::pb::{tensor_shape_proto::dimension::Value, type_proto, ModelProto};
use tract_onnx::prelude::*;

use crate::error::EdgeError;
use crate::int8::Int8Encoder;
use crate::pipeline::PipelineEncoder;
use crate::preprocess::{
    decode_gray_limited, decode_rgb_limited, load_gray, load_rgb, to_input, GrayImage, RgbImage,
    MAX_PIXELS,
};

pub mod onnx_check;

/// A tract plan for a float ONNX encoder, batch 1.
#[derive(Debug)]
pub struct OnnxEncoder {
    path: PathBuf,
    plan: TypedRunnableModel<TypedModel>,
    input: (usize, usize, usize),
    dim: usize,
    metadata: Vec<(String, String)>,
}

fn onnx_err(path: &Path, e: impl std::fmt::Display) -> EdgeError {
    EdgeError::Onnx {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    }
}

/// Runs `f`, a call into tract, turning a panic inside it into [`EdgeError::Onnx`] that names
/// `path` and what tract was `doing`. tract 0.22 unwraps on some malformed graphs that
/// [`onnx_check`] cannot foresee (an axis out of range for a rank tract infers later, for one), so
/// every call into tract on an untrusted graph runs under this guard.
fn guard_tract<T>(path: &Path, doing: &str, f: impl FnOnce() -> T) -> Result<T, EdgeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        onnx_err(path, format!("tract panicked {doing}: {what}"))
    })
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
    /// Loads and optimizes the ONNX file at `path` (tract executes what the graph says: a QDQ
    /// graph's convolutions run in float).
    pub fn load(path: &Path) -> Result<Self, EdgeError> {
        let bytes = crate::error::read_file(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Loads an ONNX model from its bytes; `path` names it in errors.
    ///
    /// Untrusted bytes are fine: the graph is checked ([`onnx_check::check`]: node inputs that
    /// exist, tensors whose data match their dims, bounded dimensions) and the input bounded to
    /// `C * H * W <= 3 * MAX_PIXELS` before tract sees it, and tract's analysis (like every later
    /// run, [`embed`](Self::embed)) runs under `catch_unwind`; every failure is
    /// [`EdgeError::Onnx`] or [`EdgeError::Mismatch`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, EdgeError> {
        use prost::Message;
        let proto = ModelProto::decode(bytes).map_err(|e| onnx_err(path, e))?;
        onnx_check::check(&proto).map_err(|reason| onnx_err(path, reason))?;
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
        let values = (c as u64).saturating_mul(h as u64).saturating_mul(w as u64);
        if values > 3 * MAX_PIXELS {
            return Err(EdgeError::Mismatch {
                path: path.to_path_buf(),
                reason: format!(
                    "input (C, H, W) ({c}, {h}, {w}) is {values} values, over the limit of {}",
                    3 * MAX_PIXELS
                ),
            });
        }
        let build = || {
            tract_onnx::onnx()
                .model_for_proto_model(&proto)
                .and_then(|m| m.with_input_fact(0, f32::fact([1, c, h, w]).into()))
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
        };
        let plan =
            guard_tract(path, "analysing the graph", build)?.map_err(|e| onnx_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            plan,
            input,
            dim,
            metadata,
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

    /// The embedding of one normalized input: `x` holds `C * H * W` f32 values, NCHW row-major.
    pub fn embed(&self, x: &[f32]) -> Result<Vec<f32>, EdgeError> {
        let (c, h, w) = self.input;
        let tensor = Tensor::from_shape(&[1, c, h, w], x).map_err(|e| EdgeError::Mismatch {
            path: self.path.clone(),
            reason: format!("input of {} values for (1, {c}, {h}, {w}): {e}", x.len()),
        })?;
        let out = guard_tract(&self.path, "running the graph", || {
            self.plan.run(tvec!(tensor.into()))
        })?
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

/// The encoder a [`Runtime`] runs.
#[derive(Debug)]
pub enum Encoder {
    /// The model file on the engine (the device's int8 arithmetic).
    Int8,
    /// A float ONNX on tract (boxed: a tract plan is large).
    Float(Box<OnnxEncoder>),
    /// A pipeline file's two networks and the face alignment on tract (boxed).
    Pipeline(Box<PipelineEncoder>),
}

/// An encoder with its model file (or pipeline file): images in, embeddings and decisions out.
#[derive(Debug)]
pub struct Runtime {
    encoder: Encoder,
    /// The model file on the engine; `None` for a pipeline.
    model: Option<Int8Encoder>,
    /// The model file or the pipeline file.
    path: PathBuf,
    id: ModelId,
    task: Task,
    embedding: EmbeddingSpec,
    decision: DecisionSpec,
    /// The model's metric; a diagonal Mahalanobis metric's weights are in `diagonal`.
    metric: Metric<'static>,
    /// Little-endian f32 inverse variances, for `MahalanobisDiag`; empty otherwise.
    diagonal: Vec<u8>,
}

impl Runtime {
    /// The int8 model file `model` (`model.sgm`) on the engine.
    pub fn int8(model: &Path) -> Result<Self, EdgeError> {
        Self::new(Encoder::Int8, Int8Encoder::load(model)?)
    }

    /// The pipeline file `pipeline` (`pipeline.sgp`) with the two ONNX files beside it on tract
    /// ([`PipelineEncoder::load`]: each checked against the SHA-256 the pipeline names, and
    /// against the shapes it needs). Templates carry the pipeline's id and are quantized with its
    /// scale; decisions use its metric and operating points.
    pub fn pipeline(pipeline: &Path) -> Result<Self, EdgeError> {
        let enc = PipelineEncoder::load(pipeline)?;
        let p = enc.pipeline();
        Ok(Self {
            path: pipeline.to_path_buf(),
            id: p.id(),
            task: p.task(),
            embedding: *p.embedding(),
            decision: p.decision().clone(),
            metric: p.metric(),
            diagonal: Vec::new(),
            model: None,
            encoder: Encoder::Pipeline(Box::new(enc)),
        })
    }

    /// The float ONNX `onnx` on tract with its model file `model`, checked to agree: input size
    /// and channels, embedding length, and the model id when the ONNX file records one
    /// (`siamedge.model_id`).
    pub fn float(onnx: &Path, model: &Path) -> Result<Self, EdgeError> {
        let encoder = OnnxEncoder::load(onnx)?;
        let m = Int8Encoder::load(model)?;
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
        let id_hex = hex::encode(m.id().as_bytes());
        if let Some(recorded) = encoder.metadata("siamedge.model_id") {
            if recorded != id_hex {
                return Err(mismatch(format!(
                    "exported from model {recorded}, but {} is model {id_hex}",
                    model.display()
                )));
            }
        }
        if encoder.input_shape() != want {
            return Err(mismatch(format!(
                "input (C, H, W) {:?}, but {} expects {want:?}",
                encoder.input_shape(),
                model.display()
            )));
        }
        if encoder.dim() != m.dim() {
            return Err(mismatch(format!(
                "embedding length {}, but {} says {}",
                encoder.dim(),
                model.display(),
                m.dim()
            )));
        }
        Self::new(Encoder::Float(Box::new(encoder)), m)
    }

    fn new(encoder: Encoder, model: Int8Encoder) -> Result<Self, EdgeError> {
        let m = model.model()?;
        let (metric, diagonal) = match m.metric() {
            Metric::SquaredL2 => (Metric::SquaredL2, Vec::new()),
            Metric::L2 => (Metric::L2, Vec::new()),
            Metric::Cosine => (Metric::Cosine, Vec::new()),
            Metric::L1 => (Metric::L1, Vec::new()),
            Metric::MahalanobisDiag(d) => (Metric::MahalanobisDiag(EMPTY), d.as_bytes().to_vec()),
        };
        let (task, embedding, decision) = (m.task(), *m.embedding(), m.decision().clone());
        drop(m);
        Ok(Self {
            encoder,
            path: model.path().to_path_buf(),
            id: model.id(),
            model: Some(model),
            task,
            embedding,
            decision,
            metric,
            diagonal,
        })
    }

    /// The encoder it runs.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The model file on the engine (also the int8 encoder of [`Runtime::int8`]); `None` for
    /// [`Runtime::pipeline`], which has none.
    pub fn model(&self) -> Option<&Int8Encoder> {
        self.model.as_ref()
    }

    /// The file that names the model: the model file, or the pipeline file.
    pub fn model_path(&self) -> &Path {
        &self.path
    }

    /// The model id every template of this runtime carries (the model file's or the
    /// pipeline's).
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// What the model recognizes.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The input spec (size, normalization, quantization) of the model file; `None` for a
    /// pipeline, whose networks take the aligned face (NCHW RGB `0..=255`, 112x112 and 150x150).
    pub fn input(&self) -> Option<&InputSpec> {
        self.model.as_ref().map(Int8Encoder::input)
    }

    /// Whether images are decoded in colour for this runtime: a pipeline's networks take RGB
    /// (a grey image works too, replicated to the three channels); the model files take grey.
    pub fn colour(&self) -> bool {
        matches!(self.encoder, Encoder::Pipeline(_))
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
            Metric::MahalanobisDiag(_) => {
                Metric::MahalanobisDiag(LeF32Slice::new(&self.diagonal).unwrap_or(EMPTY))
            }
            m => m,
        }
    }

    /// The bytes of the file that names the model (the model file, or the pipeline file).
    pub fn model_bytes(&self) -> &[u8] {
        match (&self.encoder, &self.model) {
            (Encoder::Pipeline(p), _) => p.bytes(),
            (_, Some(m)) => m.bytes(),
            (_, None) => &[],
        }
    }

    /// The model file on the engine, or [`EdgeError::Unsupported`] naming the pipeline file
    /// (unreachable: every runtime but a pipeline's has one).
    fn int8_model(&self) -> Result<&Int8Encoder, EdgeError> {
        self.model.as_ref().ok_or_else(|| EdgeError::Unsupported {
            path: self.path.clone(),
            what: "an int8 model file in a pipeline runtime".into(),
        })
    }

    /// The template embedding of a decoded grey image: the engine's int8 output for
    /// [`Runtime::int8`], the f32 output quantized with the model's embedding scale for
    /// [`Runtime::float`] and [`Runtime::pipeline`]. `path` names the image in errors.
    pub fn embed_gray(&self, img: &GrayImage, path: &Path) -> Result<Embedding, EdgeError> {
        match &self.encoder {
            Encoder::Int8 => self.int8_model()?.embed_image(img, path),
            Encoder::Float(_) | Encoder::Pipeline(_) => {
                self.quantize(&self.embed_gray_f32(img, path)?)
            }
        }
    }

    /// The f32 embedding of a decoded grey image: the float graph's or the pipeline's output, or
    /// the int8 embedding times its scale.
    pub fn embed_gray_f32(&self, img: &GrayImage, path: &Path) -> Result<EmbeddingF32, EdgeError> {
        let values = match &self.encoder {
            Encoder::Int8 => {
                let e = self.int8_model()?.embed_image(img, path)?;
                e.values()
                    .iter()
                    .map(|&v| f32::from(v) * e.scale())
                    .collect()
            }
            Encoder::Float(enc) => enc.embed(&to_input(img, self.int8_model()?.input(), path)?)?,
            Encoder::Pipeline(enc) => enc.embed(img.view(path)?, path)?,
        };
        Ok(EmbeddingF32 {
            model: self.id(),
            values,
        })
    }

    /// The template embedding of a decoded colour image: a pipeline aligns and embeds it in
    /// colour; the model files take its grey version (ITU-R 601 luma, as the decoder's grey
    /// conversion). `path` names the image in errors.
    pub fn embed_rgb(&self, img: &RgbImage, path: &Path) -> Result<Embedding, EdgeError> {
        match &self.encoder {
            Encoder::Pipeline(enc) => {
                let values = enc.embed(img.view(path)?, path)?;
                self.quantize(&EmbeddingF32 {
                    model: self.id(),
                    values,
                })
            }
            Encoder::Int8 | Encoder::Float(_) => {
                let grey = image::DynamicImage::ImageRgb8(
                    image::RgbImage::from_raw(
                        img.width as u32,
                        img.height as u32,
                        img.pixels.clone(),
                    )
                    .ok_or_else(|| EdgeError::Unsupported {
                        path: path.to_path_buf(),
                        what: format!(
                            "an RGB image of {} bytes for {}x{} pixels",
                            img.pixels.len(),
                            img.width,
                            img.height
                        ),
                    })?,
                )
                .to_luma8();
                let grey = GrayImage {
                    width: img.width,
                    height: img.height,
                    pixels: grey.into_raw(),
                };
                self.embed_gray(&grey, path)
            }
        }
    }

    /// The template embedding of the image file at `path` (PNG, JPEG, PGM/PPM), decoded in
    /// colour for a pipeline ([`Runtime::colour`]) and in grey otherwise.
    pub fn embed_path(&self, path: &Path) -> Result<Embedding, EdgeError> {
        if self.colour() {
            self.embed_rgb(&load_rgb(path)?, path)
        } else {
            self.embed_gray(&load_gray(path)?, path)
        }
    }

    /// The template embedding of an encoded image (a request body): decoded with the pixel limit
    /// `max_pixels` checked on its header ([`decode_gray_limited`], or [`decode_rgb_limited`] for
    /// a pipeline), then embedded. `name` names the image in errors.
    pub fn embed_encoded(
        &self,
        bytes: &[u8],
        name: &Path,
        max_pixels: u64,
    ) -> Result<Embedding, EdgeError> {
        if self.colour() {
            self.embed_rgb(&decode_rgb_limited(bytes, name, max_pixels)?, name)
        } else {
            self.embed_gray(&decode_gray_limited(bytes, name, max_pixels)?, name)
        }
    }

    /// `e` quantized for templates with the model's embedding scale.
    pub fn quantize(&self, e: &EmbeddingF32) -> Result<Embedding, EdgeError> {
        e.quantize(self.embedding.scale)
            .map_err(|source| EdgeError::Format {
                path: self.path.clone(),
                source,
            })
    }
}

const EMPTY: LeF32Slice<'static> = match LeF32Slice::new(&[]) {
    Some(s) => s,
    None => panic!("an empty slice is a valid f32 array"),
};
