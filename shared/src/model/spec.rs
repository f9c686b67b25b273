//! Owned model description for hosts: build it (the trainer's export), encode it to a file.
//!
//! [`ModelSpec::to_bytes`] writes the payload, hashes the body (less its decision section) into
//! the model id ([`ModelId::of_model_body`]), seals the envelope, and then decodes its own output
//! with [`Model::decode`]: a spec that would give an invalid file is an error here, never a file
//! the firmware rejects later. It writes the lowest format version that holds the spec
//! ([`ModelSpec::version`]): 2, or 3 with flip averaging.

use alloc::vec::Vec;

use super::layer::{Activation, Layer, LayerKind, Quant, Shape};
use super::{
    flip_keep_bytes, min_arena_bytes, EmbeddingSpec, EmbeddingWire, InputSpec, MetricWire, Model,
    Task, FLIP_AVERAGE_VERSION,
};
use crate::decision::DecisionSpec;
use crate::envelope;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::le::{as_u8, f32_bytes, i32_bytes};
use crate::metric::Metric;
use crate::model_id::ModelId;
use crate::quantize::quantize_multiplier;
use crate::wire::{RawBytes, Sink, VecSink};

const KIND: FileKind = FileKind::Model;

/// Owned form of [`Metric`].
#[derive(Debug, Clone, PartialEq)]
pub enum MetricSpec {
    /// See [`Metric::SquaredL2`].
    SquaredL2,
    /// See [`Metric::L2`].
    L2,
    /// See [`Metric::Cosine`].
    Cosine,
    /// See [`Metric::L1`].
    L1,
    /// See [`Metric::MahalanobisDiag`]: one inverse variance per embedding dimension.
    MahalanobisDiag(Vec<f32>),
}

/// Owned form of [`Layer`]; the field meanings, layouts and units are [`Layer`]'s.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// What it computes.
    pub kind: LayerKind,
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Input quantization.
    pub input_quant: Quant,
    /// Output quantization.
    pub output_quant: Quant,
    /// Output clamp.
    pub activation: Activation,
    /// Int8 weights in the kind's layout.
    pub weights: Vec<i8>,
    /// Per-output-channel weight scales.
    pub weight_scales: Vec<f32>,
    /// Per-output-channel i32 biases.
    pub bias: Vec<i32>,
    /// Per-output-channel Q31 multipliers.
    pub multipliers: Vec<i32>,
    /// Per-output-channel shifts.
    pub shifts: Vec<i8>,
}

impl LayerSpec {
    fn plain(
        kind: LayerKind,
        input: Shape,
        output: Shape,
        input_quant: Quant,
        output_quant: Quant,
    ) -> Self {
        Self {
            kind,
            input,
            output,
            input_quant,
            output_quant,
            activation: Activation::NONE,
            weights: Vec::new(),
            weight_scales: Vec::new(),
            bias: Vec::new(),
            multipliers: Vec::new(),
            shifts: Vec::new(),
        }
    }

    /// A `Conv2d`, `DepthwiseConv2d` or `Dense` layer. The output has `weight_scales.len()`
    /// channels (for depthwise, that must be `input.c * depth_multiplier`), its shape follows
    /// from the kind, and the multipliers and shifts are computed from the scales. Lengths are
    /// checked when the model is encoded.
    pub fn weighted(
        kind: LayerKind,
        input: Shape,
        input_quant: Quant,
        output_quant: Quant,
        weights: Vec<i8>,
        weight_scales: Vec<f32>,
        bias: Vec<i32>,
    ) -> Result<Self, FormatError> {
        if !kind.has_weights() {
            return Err(FormatError::Malformed {
                at: Field::new(KIND, "kind"),
                reason: "this kind has no weights",
            });
        }
        let out_c = u16::try_from(weight_scales.len()).map_err(|_| FormatError::OutOfRange {
            at: Field::new(KIND, "weight_scales"),
            value: weight_scales.len() as i64,
            min: 1,
            max: i64::from(super::MAX_DIM),
        })?;
        let output = output_shape(kind, input, out_c)?;
        let mut spec = Self::plain(kind, input, output, input_quant, output_quant);
        spec.weights = weights;
        spec.weight_scales = weight_scales;
        spec.bias = bias;
        spec.requantize();
        Ok(spec)
    }

    /// A `MaxPool2d`, `AvgPool2d` or `GlobalAvgPool` layer keeping the quantization `quant`.
    pub fn pool(kind: LayerKind, input: Shape, quant: Quant) -> Result<Self, FormatError> {
        if !matches!(
            kind,
            LayerKind::MaxPool2d(_) | LayerKind::AvgPool2d(_) | LayerKind::GlobalAvgPool
        ) {
            return Err(FormatError::Malformed {
                at: Field::new(KIND, "kind"),
                reason: "not a pooling kind",
            });
        }
        let output = output_shape(kind, input, input.c)?;
        Ok(Self::plain(kind, input, output, quant, quant))
    }

    /// An `L2Normalize` layer (output quantization `1/128`, zero point 0).
    pub fn l2_normalize(input: Shape, input_quant: Quant) -> Self {
        Self::plain(
            LayerKind::L2Normalize,
            input,
            input,
            input_quant,
            Quant::new(1.0 / 128.0, 0),
        )
    }

    /// A `Reshape` from `input` to `output` (same element count) keeping `quant`.
    pub fn reshape(input: Shape, output: Shape, quant: Quant) -> Self {
        Self::plain(LayerKind::Reshape, input, output, quant, quant)
    }

    /// This layer with a fused activation clamp.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Recomputes `multipliers` and `shifts` from the scales with [`quantize_multiplier`]:
    /// `input_scale * weight_scale[ch] / output_scale` per channel.
    pub fn requantize(&mut self) {
        let (input, output) = (
            f64::from(self.input_quant.scale),
            f64::from(self.output_quant.scale),
        );
        let (m, s): (Vec<i32>, Vec<i8>) = self
            .weight_scales
            .iter()
            .map(|w| quantize_multiplier(input * f64::from(*w) / output))
            .unzip();
        self.multipliers = m;
        self.shifts = s;
    }

    fn from_layer(l: &Layer<'_>) -> Self {
        Self {
            kind: l.kind,
            input: l.input,
            output: l.output,
            input_quant: l.input_quant,
            output_quant: l.output_quant,
            activation: l.activation,
            weights: l.weights().to_vec(),
            weight_scales: l.weight_scales().iter().collect(),
            bias: l.biases().iter().collect(),
            multipliers: l.multipliers().iter().collect(),
            shifts: l.shifts().to_vec(),
        }
    }

    fn write(&self, sink: &mut VecSink) -> Result<(), FormatError> {
        sink.put(&self.kind)?;
        sink.put(&self.input)?;
        sink.put(&self.output)?;
        sink.put(&self.input_quant)?;
        sink.put(&self.output_quant)?;
        sink.put(&self.activation)?;
        sink.put(&RawBytes(as_u8(&self.weights)))?;
        sink.put(&RawBytes(&f32_bytes(&self.weight_scales)))?;
        sink.put(&RawBytes(&i32_bytes(&self.bias)))?;
        sink.put(&RawBytes(&i32_bytes(&self.multipliers)))?;
        sink.put(&RawBytes(as_u8(&self.shifts)))
    }
}

fn output_shape(kind: LayerKind, input: Shape, out_c: u16) -> Result<Shape, FormatError> {
    kind.output_shape(input, out_c)
        .ok_or(FormatError::Malformed {
            at: Field::new(KIND, "kind"),
            reason: "the window does not fit the input, or the output leaves u16",
        })
}

/// Everything a model file holds, owned; the trainer's export fills it in.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// What the model recognizes.
    pub task: Task,
    /// The input it expects.
    pub input: InputSpec,
    /// The embedding it outputs (`flip_average` makes a version-3 file).
    pub embedding: EmbeddingSpec,
    /// How embeddings are compared.
    pub metric: MetricSpec,
    /// Operating points and score margin.
    pub decision: DecisionSpec,
    /// Arena bytes; `None` writes [`ModelSpec::min_arena_bytes`].
    pub arena_bytes: Option<u32>,
    /// The layers in order.
    pub layers: Vec<LayerSpec>,
}

impl ModelSpec {
    /// The smallest arena a decoder accepts: the largest `input + output` of any layer, plus
    /// the flip-average keep region ([`Model::flip_keep_bytes`]) (bytes).
    pub fn min_arena_bytes(&self) -> u64 {
        min_arena_bytes(self.layers.iter().map(|l| (l.input, l.output)))
            + flip_keep_bytes(self.input.shape(), &self.embedding)
    }

    /// The format version [`to_bytes`](Self::to_bytes) writes: the lowest that holds this spec,
    /// 2 ([`FLIP_AVERAGE_VERSION`] with flip averaging). A spec without flip averaging thus has
    /// the bytes and id it had before version 3 existed.
    pub fn version(&self) -> u16 {
        if self.embedding.flip_average {
            FLIP_AVERAGE_VERSION
        } else {
            2
        }
    }

    /// The owned form of a decoded model; `to_bytes` gives the same file back.
    pub fn from_model(model: &Model<'_>) -> Self {
        Self {
            task: model.task(),
            input: model.input().clone(),
            embedding: *model.embedding(),
            metric: match model.metric() {
                Metric::SquaredL2 => MetricSpec::SquaredL2,
                Metric::L2 => MetricSpec::L2,
                Metric::Cosine => MetricSpec::Cosine,
                Metric::L1 => MetricSpec::L1,
                Metric::MahalanobisDiag(w) => MetricSpec::MahalanobisDiag(w.iter().collect()),
            },
            decision: model.decision().clone(),
            arena_bytes: Some(model.arena_bytes()),
            layers: model.layers().iter().map(LayerSpec::from_layer).collect(),
        }
    }

    /// The body of a file of [`version`](Self::version): every payload field after the id.
    fn body(&self) -> Result<Vec<u8>, FormatError> {
        let mut s = VecSink::new(KIND);
        s.put(&self.task)?;
        s.put(&self.input.width)?;
        s.put(&self.input.height)?;
        s.put(&self.input.channels)?;
        s.put(&RawBytes(&f32_bytes(&self.input.mean)))?;
        s.put(&RawBytes(&f32_bytes(&self.input.std)))?;
        s.put(&self.input.quant)?;
        s.put(&EmbeddingWire::from(&self.embedding))?;
        if self.version() >= FLIP_AVERAGE_VERSION {
            s.put(&self.embedding.flip_average)?;
        }
        let diagonal;
        s.put(&match &self.metric {
            MetricSpec::SquaredL2 => MetricWire::SquaredL2,
            MetricSpec::L2 => MetricWire::L2,
            MetricSpec::Cosine => MetricWire::Cosine,
            MetricSpec::L1 => MetricWire::L1,
            MetricSpec::MahalanobisDiag(w) => {
                diagonal = f32_bytes(w);
                MetricWire::MahalanobisDiag(&diagonal)
            }
        })?;
        s.put(&self.decision.margin())?;
        s.put(&u8::try_from(self.decision.default_index()).unwrap_or(u8::MAX))?;
        s.put(&(self.decision.points().len() as u32))?;
        for p in self.decision.points() {
            s.put(p)?;
        }
        let arena = self
            .arena_bytes
            .unwrap_or(u32::try_from(self.min_arena_bytes()).unwrap_or(u32::MAX));
        s.put(&arena)?;
        s.put(&u32::try_from(self.layers.len()).unwrap_or(u32::MAX))?;
        for layer in &self.layers {
            layer.write(&mut s)?;
        }
        Ok(s.into_bytes())
    }

    /// The id the encoded model will have: it names everything but the decision section, so two
    /// specs that differ only in operating points have the same id.
    pub fn id(&self) -> Result<ModelId, FormatError> {
        ModelId::of_model_body(self.version(), &self.body()?)
    }

    /// Encodes the model file at [`version`](Self::version) (id and CRC computed) and checks it
    /// by decoding it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        let (version, body) = (self.version(), self.body()?);
        let mut payload = Vec::with_capacity(body.len() + ModelId::LEN);
        payload.extend_from_slice(ModelId::of_model_body(version, &body)?.as_bytes());
        payload.extend_from_slice(&body);
        let file = envelope::seal_at(KIND, version, &payload)?;
        Model::decode(&file)?;
        Ok(file)
    }
}
