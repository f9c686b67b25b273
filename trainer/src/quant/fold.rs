//! BatchNorm folding: a trained [`Encoder`](crate::model::Encoder)'s parameters turned into plain f32
//! layers in the model file's layouts, with a pure-Rust f32 forward pass (the float reference of the
//! quantizer).
//!
//! In evaluation mode a block computes `BN(conv(x) + b)`, with `BN(y) = gamma (y - mean) /
//! sqrt(var + eps) + beta`. Folding gives one convolution: per output channel `s = gamma /
//! sqrt(var + eps)`, weights `w s`, bias `(b - mean) s + beta` (`b = 0` for the bias-free depthwise
//! and pointwise convolutions). Layouts are those of `siamedge_format` ([`Layer`]'s module docs):
//! NHWC activations, OHWI convolution weights, depthwise weights `[kh][kw][c]`, and the linear layer
//! over the NHWC-flattened features (the trainer's `fc.weight` reads PyTorch's `C, H, W` order and
//! is permuted here).
//!
//! [`Layer`]: siamedge_format::Layer

use std::collections::HashMap;

use candle_core::Tensor;

use crate::model::batch_norm::BN_EPS;
use crate::model::EncoderConfig;

use super::QuantError;

/// One folded layer; weights in the model file's layouts, biases in real units.
#[derive(Clone, Debug, PartialEq)]
pub enum FoldedLayer {
    /// `K x K` convolution, stride 1, zero padding `padding` on every side, BN folded in, then an
    /// optional ReLU. Weights OHWI `[out_c][k][k][in_c]`.
    Conv2d {
        /// Input channels.
        in_c: usize,
        /// Output channels.
        out_c: usize,
        /// Kernel side.
        kernel: usize,
        /// Zero padding on each side.
        padding: usize,
        /// `out_c * kernel * kernel * in_c` weights.
        weight: Vec<f32>,
        /// `out_c` biases.
        bias: Vec<f32>,
        /// ReLU after the convolution.
        relu: bool,
    },
    /// Depthwise `K x K` convolution (one filter per channel, multiplier 1), stride 1, zero padding
    /// `padding`, BN folded in, optional ReLU. Weights `[k][k][channels]`.
    Depthwise {
        /// Channels (in and out).
        channels: usize,
        /// Kernel side.
        kernel: usize,
        /// Zero padding on each side.
        padding: usize,
        /// `kernel * kernel * channels` weights.
        weight: Vec<f32>,
        /// `channels` biases.
        bias: Vec<f32>,
        /// ReLU after the convolution.
        relu: bool,
    },
    /// 2x2 max pooling, stride 2, floor (odd last rows and columns dropped).
    MaxPool2,
    /// Fully connected over the NHWC-flattened input: weights `[out][in_len]`.
    Dense {
        /// Input elements (`h * w * c` of the previous output).
        in_len: usize,
        /// Outputs.
        out: usize,
        /// `out * in_len` weights.
        weight: Vec<f32>,
        /// `out` biases.
        bias: Vec<f32>,
    },
    /// Divides the vector by its L2 norm (`sqrt(sum x^2 + 1e-12)`, as the trainer does).
    L2Normalize,
}

/// A BN-folded encoder: plain f32 layers, NHWC, batch 1.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedEncoder {
    /// Input `(height, width, channels)`.
    pub input: (usize, usize, usize),
    /// The layers in order.
    pub layers: Vec<FoldedLayer>,
}

/// An NHWC activation: `(h, w, c)` and `h * w * c` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Activation {
    /// `(h, w, c)`.
    pub shape: (usize, usize, usize),
    /// Values, NHWC order.
    pub data: Vec<f32>,
}

fn tensor(
    weights: &HashMap<String, Tensor>,
    name: &str,
    len: usize,
) -> Result<Vec<f32>, QuantError> {
    let t = weights.get(name).ok_or_else(|| QuantError::MissingWeight {
        name: name.to_string(),
    })?;
    let v: Vec<f32> = t
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    if v.len() != len {
        return Err(QuantError::WeightShape {
            name: name.to_string(),
            expected: len,
            found: v.len(),
        });
    }
    Ok(v)
}

/// Per-channel BN scale `gamma / sqrt(var + eps)` and shift `beta - mean * scale` of the BN at
/// `path` (`(C)` each).
fn bn_affine(
    weights: &HashMap<String, Tensor>,
    path: &str,
    c: usize,
) -> Result<(Vec<f32>, Vec<f32>), QuantError> {
    let gamma = tensor(weights, &format!("{path}.weight"), c)?;
    let beta = tensor(weights, &format!("{path}.bias"), c)?;
    let mean = tensor(weights, &format!("{path}.running_mean"), c)?;
    let var = tensor(weights, &format!("{path}.running_var"), c)?;
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + BN_EPS as f32).sqrt())
        .collect();
    let shift = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
    Ok((scale, shift))
}

/// OIHW (PyTorch) to OHWI, each output channel multiplied by `scale[o]`.
pub(crate) fn oihw_to_ohwi(w: &[f32], out_c: usize, in_c: usize, k: usize, scale: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    for o in 0..out_c {
        for i in 0..in_c {
            for y in 0..k {
                for x in 0..k {
                    out[((o * k + y) * k + x) * in_c + i] =
                        w[((o * in_c + i) * k + y) * k + x] * scale[o];
                }
            }
        }
    }
    out
}

/// Folds the Siamese encoder of `cfg` whose parameters are in `weights` under `prefix` (`"encoder"`
/// for a trainer run, whose variables are `encoder.block0.conv.weight` and so on; `""` for none).
///
/// Errors: a missing variable or one of the wrong size is named.
pub fn fold(
    cfg: &EncoderConfig,
    weights: &HashMap<String, Tensor>,
    prefix: &str,
) -> Result<FoldedEncoder, QuantError> {
    cfg.validate()?;
    let p = |s: String| {
        if prefix.is_empty() {
            s
        } else {
            format!("{prefix}.{s}")
        }
    };
    let mut layers = Vec::new();
    let mut c_in = cfg.in_channels;
    for (b, &c_out) in cfg.widths.iter().enumerate() {
        if cfg.separable && b > 0 {
            let dw = tensor(weights, &p(format!("block{b}.dw.weight")), c_in * 9)?;
            let (s, t) = bn_affine(weights, &p(format!("block{b}.dw_bn")), c_in)?;
            let mut w = vec![0f32; 9 * c_in];
            for c in 0..c_in {
                for k in 0..9 {
                    w[k * c_in + c] = dw[c * 9 + k] * s[c];
                }
            }
            layers.push(FoldedLayer::Depthwise {
                channels: c_in,
                kernel: 3,
                padding: 1,
                weight: w,
                bias: t,
                relu: true,
            });
            let pw = tensor(weights, &p(format!("block{b}.pw.weight")), c_out * c_in)?;
            let (s, t) = bn_affine(weights, &p(format!("block{b}.pw_bn")), c_out)?;
            layers.push(FoldedLayer::Conv2d {
                in_c: c_in,
                out_c: c_out,
                kernel: 1,
                padding: 0,
                weight: oihw_to_ohwi(&pw, c_out, c_in, 1, &s),
                bias: t,
                relu: true,
            });
        } else {
            let w = tensor(weights, &p(format!("block{b}.conv.weight")), c_out * c_in * 9)?;
            let cb = tensor(weights, &p(format!("block{b}.conv.bias")), c_out)?;
            let (s, t) = bn_affine(weights, &p(format!("block{b}.bn")), c_out)?;
            layers.push(FoldedLayer::Conv2d {
                in_c: c_in,
                out_c: c_out,
                kernel: 3,
                padding: 1,
                weight: oihw_to_ohwi(&w, c_out, c_in, 3, &s),
                bias: (0..c_out).map(|o| cb[o] * s[o] + t[o]).collect(),
                relu: true,
            });
        }
        layers.push(FoldedLayer::MaxPool2);
        c_in = c_out;
    }
    let (h, w) = cfg.feature_hw();
    let f = cfg.feature_len();
    let d = cfg.embedding_dim;
    let fc = tensor(weights, &p("fc.weight".into()), d * f)?;
    let fb = tensor(weights, &p("fc.bias".into()), d)?;
    layers.push(FoldedLayer::Dense {
        in_len: f,
        out: d,
        weight: chw_to_hwc_rows(&fc, d, (c_in, h, w)),
        bias: fb,
    });
    if cfg.l2_normalize {
        layers.push(FoldedLayer::L2Normalize);
    }
    Ok(FoldedEncoder {
        input: (cfg.height, cfg.width, cfg.in_channels),
        layers,
    })
}

/// Rows of `rows x (c * h * w)` weights reading a `C, H, W` flattening, reordered to read the
/// `H, W, C` flattening of the same tensor.
pub fn chw_to_hwc_rows(w: &[f32], rows: usize, (c, h, wd): (usize, usize, usize)) -> Vec<f32> {
    let f = c * h * wd;
    let mut out = vec![0f32; rows * f];
    for r in 0..rows {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..wd {
                    out[r * f + (y * wd + x) * c + ch] = w[r * f + (ch * h + y) * wd + x];
                }
            }
        }
    }
    out
}

impl FoldedLayer {
    /// The output of this layer for `x` (shapes must fit; the encoder's own layers always do).
    pub fn forward(&self, x: &Activation) -> Activation {
        let (h, w, c) = x.shape;
        match self {
            FoldedLayer::Conv2d {
                in_c,
                out_c,
                kernel: k,
                padding: p,
                weight,
                bias,
                relu,
            } => {
                let (oh, ow) = (h + 2 * p + 1 - k, w + 2 * p + 1 - k);
                let mut out = vec![0f32; oh * ow * out_c];
                for oy in 0..oh {
                    for ox in 0..ow {
                        for o in 0..*out_c {
                            let mut acc = bias[o];
                            for ky in 0..*k {
                                let Some(y) = (oy + ky).checked_sub(*p).filter(|&y| y < h) else {
                                    continue;
                                };
                                for kx in 0..*k {
                                    let Some(xx) = (ox + kx).checked_sub(*p).filter(|&v| v < w)
                                    else {
                                        continue;
                                    };
                                    let xi = &x.data[(y * w + xx) * c..][..*in_c];
                                    let wi = &weight[((o * k + ky) * k + kx) * in_c..][..*in_c];
                                    acc += xi.iter().zip(wi).map(|(a, b)| a * b).sum::<f32>();
                                }
                            }
                            out[(oy * ow + ox) * out_c + o] = if *relu { acc.max(0.0) } else { acc };
                        }
                    }
                }
                Activation {
                    shape: (oh, ow, *out_c),
                    data: out,
                }
            }
            FoldedLayer::Depthwise {
                channels,
                kernel: k,
                padding: p,
                weight,
                bias,
                relu,
            } => {
                let (oh, ow) = (h + 2 * p + 1 - k, w + 2 * p + 1 - k);
                let mut out = vec![0f32; oh * ow * channels];
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..*channels {
                            let mut acc = bias[ch];
                            for ky in 0..*k {
                                for kx in 0..*k {
                                    let (y, xx) = (oy + ky, ox + kx);
                                    if y < *p || xx < *p || y - p >= h || xx - p >= w {
                                        continue;
                                    }
                                    acc += x.data[((y - p) * w + xx - p) * c + ch]
                                        * weight[(ky * k + kx) * channels + ch];
                                }
                            }
                            out[(oy * ow + ox) * channels + ch] =
                                if *relu { acc.max(0.0) } else { acc };
                        }
                    }
                }
                Activation {
                    shape: (oh, ow, *channels),
                    data: out,
                }
            }
            FoldedLayer::MaxPool2 => {
                let (oh, ow) = (h / 2, w / 2);
                let mut out = vec![0f32; oh * ow * c];
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..c {
                            let at = |y: usize, xx: usize| x.data[(y * w + xx) * c + ch];
                            out[(oy * ow + ox) * c + ch] = at(2 * oy, 2 * ox)
                                .max(at(2 * oy, 2 * ox + 1))
                                .max(at(2 * oy + 1, 2 * ox))
                                .max(at(2 * oy + 1, 2 * ox + 1));
                        }
                    }
                }
                Activation {
                    shape: (oh, ow, c),
                    data: out,
                }
            }
            FoldedLayer::Dense {
                in_len,
                out,
                weight,
                bias,
            } => {
                let data = (0..*out)
                    .map(|o| {
                        bias[o]
                            + weight[o * in_len..][..*in_len]
                                .iter()
                                .zip(&x.data)
                                .map(|(a, b)| a * b)
                                .sum::<f32>()
                    })
                    .collect();
                Activation {
                    shape: (1, 1, *out),
                    data,
                }
            }
            FoldedLayer::L2Normalize => {
                let norm = (x.data.iter().map(|v| v * v).sum::<f32>() + 1e-12).sqrt();
                Activation {
                    shape: x.shape,
                    data: x.data.iter().map(|v| v / norm).collect(),
                }
            }
        }
    }

    /// Whether the layer ends in a ReLU (its output is never negative).
    pub fn relu(&self) -> bool {
        matches!(
            self,
            FoldedLayer::Conv2d { relu: true, .. } | FoldedLayer::Depthwise { relu: true, .. }
        )
    }
}

impl FoldedEncoder {
    /// Every layer's output for one NHWC image (`h * w * c` values, the trainer's pixel scale):
    /// element `i` is layer `i`'s output.
    pub fn trace(&self, image: &[f32]) -> Result<Vec<Activation>, QuantError> {
        let (h, w, c) = self.input;
        if image.len() != h * w * c {
            return Err(QuantError::ImageSize {
                expected: h * w * c,
                found: image.len(),
            });
        }
        let mut x = Activation {
            shape: self.input,
            data: image.to_vec(),
        };
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            x = layer.forward(&x);
            out.push(x.clone());
        }
        Ok(out)
    }

    /// The embedding of one NHWC image (`h * w * c` values): `D` values.
    pub fn forward(&self, image: &[f32]) -> Result<Vec<f32>, QuantError> {
        Ok(self
            .trace(image)?
            .pop()
            .map(|a| a.data)
            .unwrap_or_default())
    }

    /// The embedding dimension.
    pub fn embedding_dim(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| match l {
                FoldedLayer::Dense { out, .. } => Some(*out),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Whether the output is L2-normalized.
    pub fn l2_normalized(&self) -> bool {
        matches!(self.layers.last(), Some(FoldedLayer::L2Normalize))
    }
}

/// Image `i` of a `(N, C, H, W)` set as NHWC values (a copy; the same slice for one channel).
pub fn nhwc_image(chw: &[f32], (c, h, w): (usize, usize, usize)) -> Vec<f32> {
    if c == 1 {
        return chw.to_vec();
    }
    let mut out = vec![0f32; chw.len()];
    for ch in 0..c {
        for p in 0..h * w {
            out[p * c + ch] = chw[ch * h * w + p];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{encoder, seeded_var_builder};
    use candle_core::{Device, Tensor};
    use candle_nn::{ModuleT, VarMap};

    /// Sets every BN's running statistics and affine terms to seeded non-trivial values, so that
    /// folding is actually exercised.
    fn perturb_bn(varmap: &VarMap) {
        let data = varmap.data().lock().unwrap();
        for (i, (name, var)) in data.iter().enumerate() {
            let n = var.elem_count();
            let seed = i as f32;
            let vals: Vec<f32> = (0..n)
                .map(|j| ((j as f32 + 1.0) * 0.37 + seed).sin())
                .collect();
            let vals: Vec<f32> = if name.ends_with("running_var") {
                vals.iter().map(|v| 0.5 + v.abs()).collect()
            } else if name.contains("bn.") || name.contains("_bn.") {
                vals.iter().map(|v| 0.2 * v + if name.ends_with("weight") { 1.0 } else { 0.0 }).collect()
            } else {
                continue;
            };
            var.set(&Tensor::from_vec(vals, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
    }

    fn weights(varmap: &VarMap) -> HashMap<String, Tensor> {
        varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    }

    fn check(cfg: EncoderConfig) {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let enc = encoder(&cfg, seeded_var_builder(&varmap, 3, &dev).pp("encoder")).unwrap();
        perturb_bn(&varmap);
        let folded = fold(&cfg, &weights(&varmap), "encoder").unwrap();
        let x = Tensor::rand(0f32, 1.0, (3, 1, cfg.height, cfg.width), &dev).unwrap();
        let want: Vec<Vec<f32>> = enc.forward_t(&x, false).unwrap().to_vec2().unwrap();
        let imgs: Vec<Vec<f32>> = x.flatten_from(1).unwrap().to_vec2().unwrap();
        for (img, want) in imgs.iter().zip(&want) {
            let got = folded.forward(img).unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-5, "folded {g} vs candle {w}");
            }
        }
    }

    #[test]
    fn folded_forward_matches_candle_eval_mode() {
        check(EncoderConfig::compact(20, 18, 8));
        let mut cfg = EncoderConfig::reference(13, 11, 6);
        cfg.widths = vec![4, 6];
        check(cfg.clone());
        cfg.l2_normalize = false;
        check(cfg);
    }

    #[test]
    fn missing_and_misshapen_weights_are_named() {
        let cfg = EncoderConfig::compact(16, 16, 4);
        let varmap = VarMap::new();
        encoder(&cfg, seeded_var_builder(&varmap, 0, &Device::Cpu)).unwrap();
        let mut w = weights(&varmap);
        match fold(&cfg, &w, "encoder") {
            Err(QuantError::MissingWeight { name }) => assert_eq!(name, "encoder.block0.conv.weight"),
            other => panic!("{other:?}"),
        }
        w.insert("fc.bias".into(), Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap());
        match fold(&cfg, &w, "") {
            Err(QuantError::WeightShape { name, expected, found }) => {
                assert_eq!((name.as_str(), expected, found), ("fc.bias", 4, 3))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chw_to_hwc_permutes_columns() {
        // One row over c=2, h=1, w=2: CHW order [c0x0, c0x1, c1x0, c1x1] -> HWC [c0x0, c1x0, c0x1, c1x1].
        assert_eq!(
            chw_to_hwc_rows(&[1.0, 2.0, 3.0, 4.0], 1, (2, 1, 2)),
            [1.0, 3.0, 2.0, 4.0]
        );
    }
}
