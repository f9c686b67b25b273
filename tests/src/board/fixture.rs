//! A stand-in face encoder for the board until the trainer ships `models/face-orl/model.sgm`:
//! the reference CNN's shape with seeded random weights, post-training quantized on calibration
//! images.
//!
//! Shape (REFERENCE.md's CNN at 56x46, 64-d): three blocks of conv3x3 (padding 1) + ReLU +
//! maxpool 2x2, widths 16, 32, 64 (56x46x1 -> 28x23x16 -> 14x11x32 -> 7x5x64), then dense
//! 2240 -> 64 and L2 normalization. 166 k int8 weights, 6.32 M MACs per inference, the same cost
//! as the trained model will have; untrained, so its embeddings are random features.
//!
//! Quantization: weights symmetric int8 per output channel (`scale = max|w| / 127`), biases 0;
//! the input `x = (p / 255 - 0.5) / 0.5` at scale 1/128; each ReLU output asymmetric
//! (`scale = max / 255`, zero point -128) and the dense output symmetric (`max|y| / 127`), the
//! maxima over the calibration images in a float forward pass.
//!
//! The decision: metric L2 between the L2-normalized embeddings, one operating point whose
//! threshold the caller places (the fixture is not calibrated on data; see
//! [`super::board_inputs`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_format::{
    Activation, DecisionSpec, EmbeddingSpec, InputSpec, LayerKind, LayerSpec, MetricSpec,
    ModelSpec, OperatingPoint, Quant, Shape, Task, Window,
};

use super::BoardError;

/// Input height and width (ORL at half size).
pub const HEIGHT: u16 = 56;
/// Input width.
pub const WIDTH: u16 = 46;
/// Block widths.
const WIDTHS: [u16; 3] = [16, 32, 64];
/// Embedding dimension.
pub const DIM: u16 = 64;

/// One float layer: OHWI / `[out][in]` weights.
struct FloatLayer {
    weights: Vec<f32>,
    out_c: usize,
}

/// The float network, NHWC activations.
pub struct FloatEncoder {
    convs: Vec<FloatLayer>,
    dense: FloatLayer,
}

fn uniform(rng: &mut ChaCha8Rng, n: usize, fan_in: usize) -> Vec<f32> {
    let a = (6.0 / fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-a..a)).collect()
}

/// `max|w|` of output channel `o` over `[out][rest]` weights.
fn channel_max(weights: &[f32], out_c: usize, o: usize) -> f32 {
    let per = weights.len() / out_c;
    weights[o * per..(o + 1) * per]
        .iter()
        .fold(0.0f32, |m, w| m.max(w.abs()))
}

impl FloatEncoder {
    /// He-uniform random weights from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut c_in = 1usize;
        let convs = WIDTHS
            .iter()
            .map(|&w| {
                let out_c = usize::from(w);
                let l = FloatLayer {
                    weights: uniform(&mut rng, out_c * 9 * c_in, 9 * c_in),
                    out_c,
                };
                c_in = out_c;
                l
            })
            .collect();
        let features = 7 * 5 * usize::from(WIDTHS[2]);
        let dense = FloatLayer {
            weights: uniform(&mut rng, usize::from(DIM) * features, features),
            out_c: usize::from(DIM),
        };
        Self { convs, dense }
    }

    /// Per-channel symmetric int8 weights and their scales, for every layer; then the float net
    /// uses the dequantized weights, so calibration sees what the int8 model computes.
    fn quantize_weights(&mut self) -> Vec<(Vec<i8>, Vec<f32>)> {
        self.convs
            .iter_mut()
            .chain(std::iter::once(&mut self.dense))
            .map(|l| {
                let per = l.weights.len() / l.out_c;
                let scales: Vec<f32> = (0..l.out_c)
                    .map(|o| (channel_max(&l.weights, l.out_c, o) / 127.0).max(f32::MIN_POSITIVE))
                    .collect();
                let q: Vec<i8> = l
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (w / scales[i / per]).round().clamp(-127.0, 127.0) as i8)
                    .collect();
                l.weights = q
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| f32::from(v) * scales[i / per])
                    .collect();
                (q, scales)
            })
            .collect()
    }

    /// The float forward pass of a normalized input (`HEIGHT x WIDTH`, values `x`): the maximum
    /// of each conv block's ReLU output and of `|dense output|`.
    fn ranges(&self, x: &[f32]) -> Vec<f32> {
        let (mut h, mut w, mut c) = (usize::from(HEIGHT), usize::from(WIDTH), 1usize);
        let mut act = x.to_vec();
        let mut maxima = Vec::new();
        for l in &self.convs {
            act = conv3x3_relu(&act, h, w, c, &l.weights, l.out_c);
            c = l.out_c;
            maxima.push(act.iter().fold(0.0f32, |m, v| m.max(*v)));
            (act, h, w) = maxpool2(&act, h, w, c);
        }
        let n = act.len();
        let y: Vec<f32> = (0..self.dense.out_c)
            .map(|o| {
                let row = &self.dense.weights[o * n..(o + 1) * n];
                row.iter().zip(&act).map(|(a, b)| a * b).sum()
            })
            .collect();
        maxima.push(y.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        maxima
    }
}

/// The normalized input of grey pixels `0.0..=255.0` (mean 0.5, std 0.5).
pub fn normalize(pixels: &[f32]) -> Vec<f32> {
    pixels.iter().map(|p| (p / 255.0 - 0.5) / 0.5).collect()
}

fn conv3x3_relu(x: &[f32], h: usize, w: usize, c: usize, k: &[f32], out_c: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; h * w * out_c];
    for y in 0..h {
        for xx in 0..w {
            for o in 0..out_c {
                let mut acc = 0.0f32;
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = (y + ky, xx + kx);
                        if iy == 0 || ix == 0 || iy > h || ix > w {
                            continue;
                        }
                        let px = &x[((iy - 1) * w + ix - 1) * c..][..c];
                        let kk = &k[((o * 3 + ky) * 3 + kx) * c..][..c];
                        acc += px.iter().zip(kk).map(|(a, b)| a * b).sum::<f32>();
                    }
                }
                out[(y * w + xx) * out_c + o] = acc.max(0.0);
            }
        }
    }
    out
}

fn maxpool2(x: &[f32], h: usize, w: usize, c: usize) -> (Vec<f32>, usize, usize) {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0f32; oh * ow * c];
    for y in 0..oh {
        for xx in 0..ow {
            for ch in 0..c {
                let at = |dy: usize, dx: usize| x[((2 * y + dy) * w + 2 * xx + dx) * c + ch];
                out[(y * ow + xx) * c + ch] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    (out, oh, ow)
}

/// The fixture model: `seed`'s random weights, activation ranges from `calibration` (grey
/// pixel images, `HEIGHT x WIDTH`), accepting at L2 distance `threshold` or less.
pub fn model_spec(
    seed: u64,
    calibration: &[Vec<f32>],
    threshold: f32,
) -> Result<ModelSpec, BoardError> {
    if calibration.is_empty() {
        return Err(BoardError::Invalid(
            "the fixture needs calibration images".into(),
        ));
    }
    let mut net = FloatEncoder::random(seed);
    let weights = net.quantize_weights();
    let mut maxima = vec![0.0f32; WIDTHS.len() + 1];
    for img in calibration {
        for (m, r) in maxima.iter_mut().zip(net.ranges(&normalize(img))) {
            *m = m.max(r);
        }
    }
    let relu_quant = |max: f32| Quant::new(max.max(1e-3) / 255.0, -128);
    let input_quant = Quant::new(1.0 / 128.0, 0);
    let mut layers = Vec::new();
    let (mut shape, mut quant) = (Shape::new(HEIGHT, WIDTH, 1), input_quant);
    for (i, (q, scales)) in weights.iter().take(WIDTHS.len()).enumerate() {
        let out = relu_quant(maxima[i]);
        let conv = LayerSpec::weighted(
            LayerKind::Conv2d(Window::new(3, 3, 1, 1).same(shape)),
            shape,
            quant,
            out,
            q.clone(),
            scales.clone(),
            vec![0; scales.len()],
        )?
        .with_activation(Activation::relu(out));
        let pool = LayerSpec::pool(
            LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)),
            conv.output,
            out,
        )?;
        (shape, quant) = (pool.output, out);
        layers.extend([conv, pool]);
    }
    let (q, scales) = &weights[WIDTHS.len()];
    let dense_quant = Quant::new(maxima[WIDTHS.len()].max(1e-3) / 127.0, 0);
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        shape,
        quant,
        dense_quant,
        q.clone(),
        scales.clone(),
        vec![0; scales.len()],
    )?;
    let l2 = LayerSpec::l2_normalize(dense.output, dense_quant);
    layers.extend([dense, l2]);
    let mut one = heapless::Vec::new();
    let _ = one.push(0.5f32);
    Ok(ModelSpec {
        task: Task::Face,
        input: InputSpec {
            width: WIDTH,
            height: HEIGHT,
            channels: 1,
            mean: one.clone(),
            std: one,
            quant: input_quant,
        },
        embedding: EmbeddingSpec {
            dim: DIM,
            scale: 1.0 / 128.0,
            l2_normalized: true,
            flip_average: false,
        },
        metric: MetricSpec::L2,
        decision: DecisionSpec::new(
            &[OperatingPoint {
                far: 1e-2,
                threshold,
            }],
            0,
            1.0,
        )?,
        arena_bytes: None,
        layers,
    })
}
