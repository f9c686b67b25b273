//! The model file: the int8 encoder the firmware runs, with everything needed to use its output.
//!
//! [`Model::decode`] borrows from the file bytes (`&'static [u8]` in flash works) and needs no
//! allocator: layers are kept in a fixed-capacity vector of [`MAX_LAYERS`], their weights and
//! per-channel arrays stay borrowed slices of the file. Decoding checks the envelope, the model
//! id, and everything the firmware would otherwise trust: array lengths against shapes, the
//! shape and quantization chain from the input spec through every layer to the embedding spec,
//! bounds on every dimension, requantization multipliers against scales, the arena size. A
//! decoded [`Model`] is therefore safe to run without further checks.
//!
//! The model id is verified on every decode (SHA-256 over the body: about 20 to 50 cycles per
//! byte on a Cortex-M4, so under 0.1 s for a 200 KiB model at 168 MHz). A file whose id does not
//! match its body is rejected with [`FormatError::BadModelId`], so templates can trust the id.
//! Which bytes the id covers depends on the format version ([`body_id`]): versions 2 and 3 leave
//! the decision section out, so thresholds change without changing the id; version 1 files
//! (whole body hashed) still decode.
//!
//! Versions: 1 and 2 differ in the id rule only; version 3 adds one field,
//! `embedding.flip_average` ([`EmbeddingSpec::flip_average`]), after `embedding.l2_normalized`.
//! A version 1 or 2 file decodes with flip averaging off. [`ModelSpec`] writes the lowest version
//! that holds the model: 2 without flip averaging (the bytes and the id every earlier writer gave
//! the same model), 3 with it, which a version-2 reader refuses
//! ([`FormatError::UnsupportedVersion`]) instead of running it without the mirrored pass.
//!
//! Hosts build model files with `ModelSpec` (feature `alloc`), which computes multipliers, the
//! id and the CRC, and checks its own output with [`Model::decode`].
//!
//! Payload layout (postcard; see the crate README for the full table):
//! `id: [u8; 16]`, then the body: `task`, `input`, `embedding` (version 3: with
//! `flip_average: bool` last), `metric`, `decision`, `arena_bytes: u32`, `layers: varint count`
//! then each [`Layer`].

mod id;
mod layer;
#[cfg(feature = "alloc")]
mod spec;
mod validate;
mod window;

pub use id::body_id;
pub use layer::{Activation, Layer, LayerKind, Quant, Shape};
#[cfg(feature = "alloc")]
pub use spec::{LayerSpec, MetricSpec, ModelSpec};
pub use window::{Padding, Window};

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, DecisionSpec};
use crate::embedding::EmbeddingRef;
use crate::envelope;
use crate::error::FormatError;
use crate::kind::FileKind;
use crate::le::{LeF32Slice, LeI32Slice};
use crate::metric::Metric;
use crate::model_id::ModelId;
use crate::template::Template;
use crate::wire::Reader;

/// Most layers a model has.
pub const MAX_LAYERS: usize = 32;
/// Largest value of any dimension: shape sides and channels, kernel sizes, strides, dilations,
/// padding, depth multipliers.
pub const MAX_DIM: u16 = 4096;
/// Most elements (int8 bytes) in one activation tensor: 16 Mi.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 24;
/// Most input channels (gray, RGB, RGBA).
pub const MAX_INPUT_CHANNELS: usize = 4;
/// The first model format version with `embedding.flip_average` on the wire.
pub const FLIP_AVERAGE_VERSION: u16 = 3;

const KIND: FileKind = FileKind::Model;

/// What a model recognizes. Wire: varint tag 0, 1, 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Task {
    /// Face verification and identification.
    Face,
    /// Handwritten signature verification.
    Signature,
    /// Anything else.
    Generic,
}

/// The input image the model expects and how pixels become int8.
///
/// Level `p` (`0..=255`) of channel `ch` is normalized as `x = (p / 255 - mean[ch]) / std[ch]`
/// and quantized as `q = round(x / quant.scale) + quant.zero_point`, clamped to `-128..=127`:
/// [`InputSpec::quantize`], the rule of [`crate::preprocess`]. The image is NHWC,
/// `height x width x channels`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// Columns, `1..=MAX_DIM`.
    pub width: u16,
    /// Rows, `1..=MAX_DIM`.
    pub height: u16,
    /// Channels, `1..=MAX_INPUT_CHANNELS` (1 gray, 3 RGB).
    pub channels: u8,
    /// Per-channel mean of `p / 255`, `channels` finite values.
    pub mean: heapless::Vec<f32, MAX_INPUT_CHANNELS>,
    /// Per-channel standard deviation of `p / 255`, `channels` finite values `> 0`.
    pub std: heapless::Vec<f32, MAX_INPUT_CHANNELS>,
    /// Quantization of the normalized input (the first layer's input quantization).
    pub quant: Quant,
}

impl InputSpec {
    /// The input tensor's shape, `(height, width, channels)`.
    pub fn shape(&self) -> Shape {
        Shape::new(self.height, self.width, u16::from(self.channels))
    }
}

/// The embedding the model outputs: the last layer's `(1, 1, dim)` int8 output, symmetric
/// (zero point 0), or with `flip_average` the integer average of two such outputs, of the same
/// quantization. Wire: `dim: u16`, `scale: f32`, `l2_normalized: bool`, then from version 3
/// ([`FLIP_AVERAGE_VERSION`]) `flip_average: bool`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingSpec {
    /// Elements, `1..=MAX_EMBEDDING_DIM`.
    pub dim: u16,
    /// Real value of one int8 step, equal to the last layer's output scale.
    pub scale: f32,
    /// Whether the last layer is `L2Normalize` (then `scale` is `1/128`).
    pub l2_normalized: bool,
    /// Flip averaging: the embedding is the network's output on the input and on its mirror
    /// image (columns reversed), averaged in integers and L2-normalized again when
    /// `l2_normalized` (the rule is `siamedge_engine::kernels::flip`'s; every `Engine::invoke`
    /// applies it). Two inferences per embedding and [`Model::flip_keep_bytes`] more arena. Off
    /// in a model file of version 1 or 2.
    pub flip_average: bool,
}

/// [`EmbeddingSpec`]'s fields of every version (`flip_average` follows from version 3 on).
#[derive(Serialize, Deserialize)]
pub(crate) struct EmbeddingWire {
    dim: u16,
    scale: f32,
    l2_normalized: bool,
}

impl From<&EmbeddingSpec> for EmbeddingWire {
    fn from(e: &EmbeddingSpec) -> Self {
        Self {
            dim: e.dim,
            scale: e.scale,
            l2_normalized: e.l2_normalized,
        }
    }
}

/// A decoded, validated model borrowing from its file bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Model<'a> {
    version: u16,
    id: ModelId,
    task: Task,
    input: InputSpec,
    embedding: EmbeddingSpec,
    metric: Metric<'a>,
    decision: DecisionSpec,
    arena_bytes: u32,
    layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
}

/// The metric's wire form: a varint tag in [`Metric`]'s variant order, then for
/// `MahalanobisDiag` the diagonal as bytes (`4 * dim`, f32 little-endian).
#[derive(Serialize, Deserialize)]
pub(crate) enum MetricWire<'a> {
    SquaredL2,
    L2,
    Cosine,
    L1,
    #[serde(borrow)]
    MahalanobisDiag(&'a [u8]),
}

fn f32s<'a>(r: &mut Reader<'a>, name: &'static str) -> Result<LeF32Slice<'a>, FormatError> {
    let bytes: &'a [u8] = r.take(name)?;
    LeF32Slice::new(bytes).ok_or(FormatError::Malformed {
        at: r.field(name),
        reason: "an f32 array's byte length must be a multiple of 4",
    })
}

fn i32s<'a>(r: &mut Reader<'a>, name: &'static str) -> Result<LeI32Slice<'a>, FormatError> {
    let bytes: &'a [u8] = r.take(name)?;
    LeI32Slice::new(bytes).ok_or(FormatError::Malformed {
        at: r.field(name),
        reason: "an i32 array's byte length must be a multiple of 4",
    })
}

/// Reads `name` (a list of `channels` f32) into a fixed-capacity vector.
fn channel_values(
    r: &mut Reader<'_>,
    name: &'static str,
    channels: u8,
) -> Result<heapless::Vec<f32, MAX_INPUT_CHANNELS>, FormatError> {
    let values = f32s(r, name)?;
    if values.len() != usize::from(channels) {
        return Err(FormatError::Mismatch {
            at: r.field(name),
            expected: u64::from(channels),
            found: values.len() as u64,
        });
    }
    let mut out = heapless::Vec::new();
    for v in values.iter() {
        out.push(v).map_err(|_| FormatError::CapacityExceeded {
            what: "input channel values",
            capacity: MAX_INPUT_CHANNELS,
        })?;
    }
    Ok(out)
}

fn read_input(r: &mut Reader<'_>) -> Result<InputSpec, FormatError> {
    let width = r.take("input.width")?;
    let height = r.take("input.height")?;
    let channels: u8 = r.take("input.channels")?;
    crate::wire::check_range(
        r.field("input.channels"),
        i64::from(channels),
        1,
        MAX_INPUT_CHANNELS as i64,
    )?;
    let mean = channel_values(r, "input.mean", channels)?;
    let std = channel_values(r, "input.std", channels)?;
    let quant = r.take("input.quant")?;
    Ok(InputSpec {
        width,
        height,
        channels,
        mean,
        std,
        quant,
    })
}

/// The embedding section of a `version` file: the fields of every version, then
/// `flip_average` from [`FLIP_AVERAGE_VERSION`] on (off in older files).
pub(crate) fn read_embedding(
    r: &mut Reader<'_>,
    version: u16,
) -> Result<EmbeddingSpec, FormatError> {
    let w: EmbeddingWire = r.take("embedding")?;
    let flip_average = if version >= FLIP_AVERAGE_VERSION {
        r.take("embedding.flip_average")?
    } else {
        false
    };
    Ok(EmbeddingSpec {
        dim: w.dim,
        scale: w.scale,
        l2_normalized: w.l2_normalized,
        flip_average,
    })
}

fn read_layer<'a>(r: &mut Reader<'a>) -> Result<Layer<'a>, FormatError> {
    Ok(Layer {
        kind: r.take("kind")?,
        input: r.take("input")?,
        output: r.take("output")?,
        input_quant: r.take("input_quant")?,
        output_quant: r.take("output_quant")?,
        activation: r.take("activation")?,
        weights: r.take("weights")?,
        weight_scales: f32s(r, "weight_scales")?,
        bias: i32s(r, "bias")?,
        multipliers: i32s(r, "multipliers")?,
        shifts: r.take("shifts")?,
    })
}

impl<'a> Model<'a> {
    /// Decodes and validates a model file, borrowing from `bytes`. No allocation.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut r = Reader::new(KIND, env.payload);
        let stored: ModelId = r.take("id")?;
        let computed = body_id(env.version, r.rest())?;
        if stored != computed {
            return Err(FormatError::BadModelId { stored, computed });
        }
        let task = r.take("task")?;
        let input = read_input(&mut r)?;
        validate::check_input(&input)?;
        let embedding = read_embedding(&mut r, env.version)?;
        validate::check_embedding_spec(&embedding)?;
        let metric = match r.take::<MetricWire<'a>>("metric")? {
            MetricWire::SquaredL2 => Metric::SquaredL2,
            MetricWire::L2 => Metric::L2,
            MetricWire::Cosine => Metric::Cosine,
            MetricWire::L1 => Metric::L1,
            MetricWire::MahalanobisDiag(bytes) => {
                let diag = LeF32Slice::new(bytes).ok_or(FormatError::Malformed {
                    at: r.field("metric.diagonal"),
                    reason: "an f32 array's byte length must be a multiple of 4",
                })?;
                Metric::MahalanobisDiag(diag)
            }
        };
        validate::check_metric(&metric, &embedding)?;
        let decision = crate::decision::read_section(&mut r, KIND)?;
        let arena_bytes = r.take("arena_bytes")?;
        let count = r.take_count("layers", 1, MAX_LAYERS)?;
        let mut layers = heapless::Vec::new();
        for i in 0..count {
            r.set_index(Some(i as u32));
            let layer = read_layer(&mut r)?;
            validate::check_layer(i, &layer)?;
            layers
                .push(layer)
                .map_err(|_| FormatError::CapacityExceeded {
                    what: "model layers",
                    capacity: MAX_LAYERS,
                })?;
        }
        r.set_index(None);
        r.finish()?;
        let model = Model {
            version: env.version,
            id: stored,
            task,
            input,
            embedding,
            metric,
            decision,
            arena_bytes,
            layers,
        };
        validate::check_chain(&model)?;
        Ok(model)
    }

    /// The model's id (SHA-256 prefix of its body without the decision section, or of the whole
    /// body in a version-1 file; verified at decode).
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// The file's format version, `1..=FileKind::Model.version()` (which id rule it uses, and
    /// whether it can hold flip averaging).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// What the model recognizes.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The input it expects.
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// The embedding it outputs.
    pub fn embedding(&self) -> &EmbeddingSpec {
        &self.embedding
    }

    /// How its embeddings are compared.
    pub fn metric(&self) -> Metric<'a> {
        self.metric
    }

    /// Its operating points and score margin.
    pub fn decision(&self) -> &DecisionSpec {
        &self.decision
    }

    /// Bytes of RAM the firmware reserves for activations and scratch; at least
    /// [`min_arena_bytes`](Self::min_arena_bytes).
    pub fn arena_bytes(&self) -> u32 {
        self.arena_bytes
    }

    /// The arena rule checked at decode: the largest `input + output` activation size of any
    /// layer (bytes), since a layer reads one buffer while writing the other, plus
    /// [`flip_keep_bytes`](Self::flip_keep_bytes).
    pub fn min_arena_bytes(&self) -> u64 {
        min_arena_bytes(self.layers.iter().map(|l| (l.input, l.output))) + self.flip_keep_bytes()
    }

    /// Arena bytes a flip-average model keeps aside for its whole run (0 without flip
    /// averaging): the input tensor, for the mirrored pass, and the first pass's embedding,
    /// `input elements + embedding.dim` rounded up to a multiple of 8 so that the tensors after
    /// them keep the arena's 8-byte alignment.
    pub fn flip_keep_bytes(&self) -> u64 {
        flip_keep_bytes(self.input.shape(), &self.embedding)
    }

    /// The layers in execution order (1 to [`MAX_LAYERS`]).
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers
    }

    /// Verifies `probe` against `template` with this model's metric at its default operating
    /// point. Both must have been made by this model ([`FormatError::ModelMismatch`] otherwise).
    pub fn verify(
        &self,
        template: &Template,
        probe: EmbeddingRef<'_>,
    ) -> Result<Decision, FormatError> {
        self.decision.verify(self.id, &self.metric, template, probe)
    }
}

/// [`Model::flip_keep_bytes`] of a model with this input shape and embedding spec.
pub(crate) fn flip_keep_bytes(input: Shape, embedding: &EmbeddingSpec) -> u64 {
    if embedding.flip_average {
        (input.elements() + u64::from(embedding.dim)).next_multiple_of(8)
    } else {
        0
    }
}

/// `max(input + output elements)` over `(input, output)` shape pairs.
pub(crate) fn min_arena_bytes(pairs: impl Iterator<Item = (Shape, Shape)>) -> u64 {
    pairs
        .map(|(i, o)| i.elements() + o.elements())
        .max()
        .unwrap_or(0)
}
