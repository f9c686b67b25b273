//! Post-training quantization: a [`FoldedEncoder`] plus one [`Quant`] per layer output becomes a
//! `siamedge_format` [`ModelSpec`] (int8 weights per output channel, i32 biases, Q31 multipliers),
//! with the quantization [`scheme`](super::scheme).
//!
//! [`quantize_ptq`] is the quick path: calibrate on training images ([`calibrate`]), choose the
//! activation quantizations ([`activation_quants`]), build the spec ([`build_spec`]). The decision
//! section it gets is a placeholder until [`operating_points`](super::thresholds) measured with
//! the int8 model replace it.

use siamedge_format::{
    Activation, DecisionSpec, EmbeddingSpec, InputSpec, LayerKind, LayerSpec, MetricSpec,
    ModelSpec, OperatingPoint, Padding, Quant, Shape, Task, Window,
};

use super::calibrate::{calibrate, Calibration, RangeRule};
use super::fold::{FoldedEncoder, FoldedLayer};
use super::scheme::{
    quantize_bias, quantize_weight, relu_quant, symmetric_quant, weight_scale, INPUT_QUANT,
};
use super::QuantError;

/// What a model file says besides its layers.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelMeta {
    /// What the model recognizes.
    pub task: Task,
    /// How embeddings are compared (the trainer's encoders are trained for [`MetricSpec::L2`]).
    pub metric: MetricSpec,
    /// Operating points and score margin.
    pub decision: DecisionSpec,
    /// Arena bytes; `None` for the smallest that fits.
    pub arena_bytes: Option<u32>,
}

impl ModelMeta {
    /// L2 metric, a placeholder decision (one point at FAR 1e-3, threshold 0: accepts only
    /// identical embeddings) with score margin `margin`, the smallest arena.
    pub fn placeholder(task: Task, margin: f32) -> Result<Self, QuantError> {
        Ok(Self {
            task,
            metric: MetricSpec::L2,
            decision: DecisionSpec::new(
                &[OperatingPoint {
                    far: 1e-3,
                    threshold: 0.0,
                }],
                0,
                margin,
            )?,
            arena_bytes: None,
        })
    }
}

/// One output quantization per layer of `folded`: ReLU outputs asymmetric over `[0, bound]`,
/// other weighted outputs symmetric over `[-bound, bound]`, pools keep their input's, the L2
/// normalization gives `1/128`. `bounds[i]` is layer `i`'s range (ignored for pools and the L2
/// normalization).
pub fn quants_from_bounds(folded: &FoldedEncoder, bounds: &[Option<f32>]) -> Vec<Quant> {
    let mut prev = INPUT_QUANT;
    folded
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let bound = bounds.get(i).copied().flatten().unwrap_or(0.0);
            prev = match layer {
                FoldedLayer::MaxPool2 => prev,
                FoldedLayer::L2Normalize => Quant::new(1.0 / 128.0, 0),
                l if l.relu() => relu_quant(bound),
                _ => symmetric_quant(bound),
            };
            prev
        })
        .collect()
}

/// The activation quantizations that `calibration` gives (see [`quants_from_bounds`]).
pub fn activation_quants(folded: &FoldedEncoder, calibration: &Calibration) -> Vec<Quant> {
    let bounds: Vec<Option<f32>> = calibration
        .ranges
        .iter()
        .map(|r| r.map(|r| r.bound))
        .collect();
    quants_from_bounds(folded, &bounds)
}

/// Largest `|bias|` in steps of `input_scale * weight_scale` before the weight scale is widened.
const BIAS_STEPS: f32 = 16_777_216.0;

fn window(kernel: usize, padding: usize) -> Window {
    let (k, p) = (kernel as u16, padding as u16);
    let mut w = Window::new(k, k, 1, 1);
    w.padding = Padding {
        top: p,
        left: p,
        bottom: p,
        right: p,
    };
    w
}

fn dim(v: usize, field: &'static str) -> Result<u16, QuantError> {
    u16::try_from(v).map_err(|_| QuantError::Config {
        field,
        reason: format!("{v} does not fit a model file dimension"),
    })
}

/// Quantizes `rows` output channels of weights (`weight[ch]` by `at(ch, j)` for `j < per_row`) and
/// their biases for input scale `in_scale`: `(int8 weights in the same layout, scales, i32
/// biases)`.
fn quantize_channels(
    weight: &[f32],
    bias: &[f32],
    channels: usize,
    index: impl Fn(usize, usize) -> usize,
    per_channel: usize,
    in_scale: f32,
) -> (Vec<i8>, Vec<f32>, Vec<i32>) {
    let mut q = vec![0i8; weight.len()];
    let mut scales = Vec::with_capacity(channels);
    let mut biases = Vec::with_capacity(channels);
    for ch in 0..channels {
        let w: Vec<f32> = (0..per_channel).map(|j| weight[index(ch, j)]).collect();
        // A (nearly) dead channel with a sizeable bias would need a bias beyond i32 (which the
        // engine refuses): widen its scale so the bias stays within 2^24 steps.
        let s = weight_scale(&w).max(bias[ch].abs() / (in_scale * BIAS_STEPS));
        for j in 0..per_channel {
            q[index(ch, j)] = quantize_weight(weight[index(ch, j)], s);
        }
        scales.push(s);
        biases.push(quantize_bias(bias[ch], in_scale, s));
    }
    (q, scales, biases)
}

/// The model file spec of `folded` with layer output quantizations `quants` (one per layer, as
/// [`quants_from_bounds`] makes them) and `meta`. The input is quantized with
/// [`super::scheme::INPUT_QUANT`] (mean 0, std 1: the trainer's `p / 255`).
pub fn build_spec(
    folded: &FoldedEncoder,
    quants: &[Quant],
    meta: &ModelMeta,
) -> Result<ModelSpec, QuantError> {
    if quants.len() != folded.layers.len() {
        return Err(QuantError::Config {
            field: "quants",
            reason: format!(
                "{} quantizations for {} layers",
                quants.len(),
                folded.layers.len()
            ),
        });
    }
    let (h, w, c) = folded.input;
    let mut shape = Shape::new(dim(h, "height")?, dim(w, "width")?, dim(c, "channels")?);
    let mut in_q = INPUT_QUANT;
    let mut layers = Vec::with_capacity(folded.layers.len());
    for (layer, &out_q) in folded.layers.iter().zip(quants) {
        let act = if layer.relu() {
            Activation::relu(out_q)
        } else {
            Activation::NONE
        };
        let spec = match layer {
            FoldedLayer::Conv2d {
                in_c,
                out_c,
                kernel,
                padding,
                weight,
                bias,
                ..
            } => {
                let per = kernel * kernel * in_c;
                let (q, s, b) =
                    quantize_channels(weight, bias, *out_c, |o, j| o * per + j, per, in_q.scale);
                LayerSpec::weighted(
                    LayerKind::Conv2d(window(*kernel, *padding)),
                    shape,
                    in_q,
                    out_q,
                    q,
                    s,
                    b,
                )?
                .with_activation(act)
            }
            FoldedLayer::Depthwise {
                channels,
                kernel,
                padding,
                weight,
                bias,
                ..
            } => {
                let ch = *channels;
                let (q, s, b) = quantize_channels(
                    weight,
                    bias,
                    ch,
                    |c, j| j * ch + c,
                    kernel * kernel,
                    in_q.scale,
                );
                LayerSpec::weighted(
                    LayerKind::DepthwiseConv2d {
                        window: window(*kernel, *padding),
                        depth_multiplier: 1,
                    },
                    shape,
                    in_q,
                    out_q,
                    q,
                    s,
                    b,
                )?
                .with_activation(act)
            }
            FoldedLayer::MaxPool2 => {
                LayerSpec::pool(LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)), shape, in_q)?
            }
            FoldedLayer::Dense {
                in_len,
                out,
                weight,
                bias,
            } => {
                let n = *in_len;
                let (q, s, b) =
                    quantize_channels(weight, bias, *out, |o, j| o * n + j, n, in_q.scale);
                LayerSpec::weighted(LayerKind::Dense, shape, in_q, out_q, q, s, b)?
            }
            FoldedLayer::L2Normalize => LayerSpec::l2_normalize(shape, in_q),
        };
        shape = spec.output;
        in_q = spec.output_quant;
        layers.push(spec);
    }
    let mut mean = heapless::Vec::new();
    let mut std = heapless::Vec::new();
    for _ in 0..c {
        mean.push(0.0).map_err(|_| too_many_channels(c))?;
        std.push(1.0).map_err(|_| too_many_channels(c))?;
    }
    Ok(ModelSpec {
        task: meta.task,
        input: InputSpec {
            width: dim(w, "width")?,
            height: dim(h, "height")?,
            channels: u8::try_from(c).map_err(|_| too_many_channels(c))?,
            mean,
            std,
            quant: INPUT_QUANT,
        },
        embedding: EmbeddingSpec {
            dim: shape.c,
            scale: in_q.scale,
            l2_normalized: folded.l2_normalized(),
            flip_average: false,
        },
        metric: meta.metric.clone(),
        decision: meta.decision.clone(),
        arena_bytes: meta.arena_bytes,
        layers,
    })
}

fn too_many_channels(c: usize) -> QuantError {
    QuantError::Config {
        field: "in_channels",
        reason: format!(
            "{c} input channels; a model file takes 1..={}",
            siamedge_format::MAX_INPUT_CHANNELS
        ),
    }
}

/// Post-training quantization of `folded`: calibrate on `calibration_images` (NHWC, training
/// images only) with `rule`, then [`build_spec`]. Returns the spec and the calibration.
pub fn quantize_ptq<'a>(
    folded: &FoldedEncoder,
    calibration_images: impl IntoIterator<Item = &'a [f32]>,
    rule: RangeRule,
    meta: &ModelMeta,
) -> Result<(ModelSpec, Calibration), QuantError> {
    let calibration = calibrate(folded, calibration_images, rule)?;
    let quants = activation_quants(folded, &calibration);
    Ok((build_spec(folded, &quants, meta)?, calibration))
}
