//! Quantization-aware training: the encoder with BatchNorm folded into its convolutions and every
//! weight and activation fake-quantized ([`fake_quant`](super::fake_quant)), fine-tuned from a float
//! run, then converted to a model file ([`QatEncoder::to_spec`]).
//!
//! The recipe ("freeze BN, then fine-tune"): starting from a converged float checkpoint, BN's
//! running statistics are frozen from the first QAT step, and each convolution computes with the
//! folded weights `w gamma / sqrt(var + eps)` and bias `(b - mean) gamma / sqrt(var + eps) + beta`
//! (`w`, `b`, `gamma`, `beta` trainable; the statistics constant), exactly the weights that the
//! model file will hold. Activation ranges start from a post-training calibration and follow an
//! exponential moving average of batch maxima during training; evaluation uses the running
//! ranges. The loss is the batch-hard triplet loss over P x K batches.
//!
//! In evaluation mode, [`QatEncoder::forward_t`] computes what the integer engine computes on the
//! converted model file, in f32: the input rounded to the input grid, each layer with its int8
//! weights and i32 biases, outputs rounded and clamped to their int8 grids, the L2 normalization
//! rounded to `1/128`. Differences come from the engine's fixed-point requantization only.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use siamedge_format::{ModelSpec, Quant};

use crate::loss::batch_hard_triplet_loss;
use crate::model::batch_norm::BN_EPS;
use crate::model::conv::Conv2d;
use crate::model::encoder::l2_normalize;
use crate::model::max_pool::max_pool_2x2;
use crate::model::separable_block::DepthwiseConv3x3;
use crate::model::EncoderConfig;
use crate::sampler::{sample_pk, Augment, LabelledSet};
use crate::train::{learning_rate, Optimizer, OptimizerConfig};

use super::calibrate::Calibration;
use super::fake_quant::{
    fake_quant_activation, fake_quant_bias, fake_quant_weight, RangeObserver,
};
use super::fold::{chw_to_hwc_rows, oihw_to_ohwi, FoldedEncoder, FoldedLayer};
use super::ptq::{build_spec, ModelMeta};
use super::scheme::INPUT_QUANT;
use super::QuantError;

/// How to fine-tune.
#[derive(Clone, Debug, PartialEq)]
pub struct QatConfig {
    /// Optimisation steps.
    pub steps: usize,
    /// Optimiser (its `lr` is the peak learning rate of the fine-tuning, typically a tenth of the
    /// float run's).
    pub optimizer: OptimizerConfig,
    /// Identities per batch (P).
    pub identities: usize,
    /// Images per identity (K).
    pub per_identity: usize,
    /// Triplet margin.
    pub margin: f64,
    /// Augmentation of the training images.
    pub augment: Augment,
    /// Weight of each batch maximum in the running activation ranges, in `(0, 1]`.
    pub range_momentum: f32,
    /// Seed of the batches and augmentation.
    pub seed: u64,
}

impl QatConfig {
    /// Fine-tuning defaults: AdamW at 1e-4 with cosine decay and 20 warm-up steps, 16 x 4 batches,
    /// margin 0.5, face augmentation, range momentum 0.01, seed 0.
    pub fn new(steps: usize) -> Self {
        Self {
            steps,
            optimizer: OptimizerConfig {
                lr: 1e-4,
                warmup_steps: 20.min(steps / 10),
                ..OptimizerConfig::default()
            },
            identities: 16,
            per_identity: 4,
            margin: 0.5,
            augment: Augment::faces(),
            range_momentum: 0.01,
            seed: 0,
        }
    }
}

/// A convolution with BN folded in (frozen statistics) and an output range.
#[derive(Debug)]
struct QatConv {
    weight: Var,
    bias: Option<Var>,
    gamma: Var,
    beta: Var,
    mean: Tensor,
    var: Tensor,
    depthwise: bool,
    padding: usize,
    out: RangeObserver,
}

impl QatConv {
    /// Folded weight (PyTorch layout) and bias.
    fn folded(&self) -> candle_core::Result<(Tensor, Tensor)> {
        let s = self.gamma.as_tensor().div(&(&self.var + BN_EPS)?.sqrt()?)?;
        let o = s.dim(0)?;
        let w = self
            .weight
            .as_tensor()
            .broadcast_mul(&s.reshape((o, 1, 1, 1))?)?;
        let centred = match &self.bias {
            Some(b) => b.as_tensor().sub(&self.mean)?,
            None => self.mean.neg()?,
        };
        let b = centred.mul(&s)?.add(self.beta.as_tensor())?;
        Ok((w, b))
    }
}

#[derive(Debug)]
enum QatLayer {
    Conv(QatConv),
    Pool,
}

/// The fake-quantized, BN-folded encoder; see the module docs.
#[derive(Debug)]
pub struct QatEncoder {
    cfg: EncoderConfig,
    layers: Vec<QatLayer>,
    fc_weight: Var,
    fc_bias: Var,
    fc_out: RangeObserver,
    vars: Vec<(String, Var)>,
}

fn get(
    weights: &HashMap<String, Tensor>,
    name: String,
    dev: &Device,
) -> Result<Tensor, QuantError> {
    weights
        .get(&name)
        .ok_or(QuantError::MissingWeight { name })?
        .to_dtype(DType::F32)?
        .to_device(dev)
        .map_err(Into::into)
}

impl QatEncoder {
    /// The encoder of `cfg` from the float weights under `prefix` (as [`fold`](super::fold())
    /// takes them), activation ranges starting at `calibration`'s bounds, on `device`.
    pub fn from_weights(
        cfg: &EncoderConfig,
        weights: &HashMap<String, Tensor>,
        prefix: &str,
        calibration: &Calibration,
        range_momentum: f32,
        device: &Device,
    ) -> Result<Self, QuantError> {
        cfg.validate()?;
        let p = |s: String| {
            if prefix.is_empty() {
                s
            } else {
                format!("{prefix}.{s}")
            }
        };
        let mut vars = Vec::new();
        let mut var = |name: String| -> Result<Var, QuantError> {
            let v = Var::from_tensor(&get(weights, name.clone(), device)?)?;
            vars.push((name, v.clone()));
            Ok(v)
        };
        // The calibration's bounds, in the folded layer order (conv/dw, [pw], pool per block).
        let mut bounds = calibration.ranges.iter().flatten().map(|r| r.bound);
        let mut next_bound = || bounds.next().unwrap_or(1.0);
        let mut layers = Vec::new();
        for b in 0..cfg.widths.len() {
            let mut conv = |path: &str, bn: &str, bias: bool, depthwise: bool, padding| {
                Ok::<_, QuantError>(QatLayer::Conv(QatConv {
                    weight: var(p(format!("block{b}.{path}.weight")))?,
                    bias: if bias {
                        Some(var(p(format!("block{b}.{path}.bias")))?)
                    } else {
                        None
                    },
                    gamma: var(p(format!("block{b}.{bn}.weight")))?,
                    beta: var(p(format!("block{b}.{bn}.bias")))?,
                    mean: get(weights, p(format!("block{b}.{bn}.running_mean")), device)?,
                    var: get(weights, p(format!("block{b}.{bn}.running_var")), device)?,
                    depthwise,
                    padding,
                    out: RangeObserver::new(next_bound(), range_momentum, true),
                }))
            };
            if cfg.separable && b > 0 {
                layers.push(conv("dw", "dw_bn", false, true, 1)?);
                layers.push(conv("pw", "pw_bn", false, false, 0)?);
            } else {
                layers.push(conv("conv", "bn", true, false, 1)?);
            }
            layers.push(QatLayer::Pool);
        }
        let fc_weight = var(p("fc.weight".into()))?;
        let fc_bias = var(p("fc.bias".into()))?;
        let (d, f) = fc_weight.dims2()?;
        if (d, f) != (cfg.embedding_dim, cfg.feature_len()) {
            return Err(QuantError::WeightShape {
                name: p("fc.weight".into()),
                expected: cfg.embedding_dim * cfg.feature_len(),
                found: d * f,
            });
        }
        Ok(Self {
            cfg: cfg.clone(),
            layers,
            fc_weight,
            fc_bias,
            fc_out: RangeObserver::new(next_bound(), range_momentum, false),
            vars,
        })
    }

    /// The trainable variables by name (the float run's names).
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// The configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    /// `(N, C, H, W)` pixels in `[0, 1]` -> `(N, D)` fake-quantized embeddings. Training mode
    /// updates the running activation ranges first.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut x = fake_quant_activation(&x.permute((0, 2, 3, 1))?.contiguous()?, INPUT_QUANT)?;
        let mut in_scale = INPUT_QUANT.scale;
        for layer in &self.layers {
            x = match layer {
                QatLayer::Pool => max_pool_2x2(&x)?,
                QatLayer::Conv(c) => {
                    let (w, b) = c.folded()?;
                    let (wq, ws) = fake_quant_weight(&w)?;
                    let bq = fake_quant_bias(&b, in_scale, &ws)?;
                    let y = if c.depthwise {
                        DepthwiseConv3x3::new(wq).forward(&x)?.broadcast_add(&bq)?
                    } else {
                        Conv2d::new(wq, Some(bq), c.padding).forward(&x)?
                    }
                    .relu()?;
                    if train {
                        c.out.observe(&y)?;
                    }
                    let q = c.out.quant();
                    in_scale = q.scale;
                    fake_quant_activation(&y, q)?
                }
            };
        }
        let features = x.permute((0, 3, 1, 2))?.flatten_from(1)?;
        let (wq, ws) = fake_quant_weight(self.fc_weight.as_tensor())?;
        let bq = fake_quant_bias(self.fc_bias.as_tensor(), in_scale, &ws)?;
        let y = features.matmul(&wq.t()?)?.broadcast_add(&bq)?;
        if train {
            self.fc_out.observe(&y)?;
        }
        let y = fake_quant_activation(&y, self.fc_out.quant())?;
        if self.cfg.l2_normalize {
            fake_quant_activation(&l2_normalize(&y)?, Quant::new(1.0 / 128.0, 0))
        } else {
            Ok(y)
        }
    }

    /// The folded float weights, as [`fold`](super::fold()) would give them for these parameters.
    pub fn to_folded(&self) -> Result<FoldedEncoder, QuantError> {
        let mut layers = Vec::new();
        for layer in &self.layers {
            layers.push(match layer {
                QatLayer::Pool => FoldedLayer::MaxPool2,
                QatLayer::Conv(c) => {
                    let (w, b) = c.folded()?;
                    let (o, i, k, _) = w.dims4()?;
                    let wv: Vec<f32> = w.flatten_all()?.to_vec1()?;
                    let bias: Vec<f32> = b.to_vec1()?;
                    if c.depthwise {
                        let mut hwc = vec![0f32; wv.len()];
                        for ch in 0..o {
                            for t in 0..k * k {
                                hwc[t * o + ch] = wv[ch * k * k + t];
                            }
                        }
                        FoldedLayer::Depthwise {
                            channels: o,
                            kernel: k,
                            padding: c.padding,
                            weight: hwc,
                            bias,
                            relu: true,
                        }
                    } else {
                        FoldedLayer::Conv2d {
                            in_c: i,
                            out_c: o,
                            kernel: k,
                            padding: c.padding,
                            weight: oihw_to_ohwi(&wv, o, i, k, &vec![1.0; o]),
                            bias,
                            relu: true,
                        }
                    }
                }
            });
        }
        let (h, w) = self.cfg.feature_hw();
        let c = self.cfg.widths.last().copied().unwrap_or(0);
        let (d, f) = self.fc_weight.dims2()?;
        let fc: Vec<f32> = self.fc_weight.as_tensor().flatten_all()?.to_vec1()?;
        layers.push(FoldedLayer::Dense {
            in_len: f,
            out: d,
            weight: chw_to_hwc_rows(&fc, d, (c, h, w)),
            bias: self.fc_bias.as_tensor().to_vec1()?,
        });
        if self.cfg.l2_normalize {
            layers.push(FoldedLayer::L2Normalize);
        }
        Ok(FoldedEncoder {
            input: (self.cfg.height, self.cfg.width, self.cfg.in_channels),
            layers,
        })
    }

    /// The running range bound of each folded layer's output (`None` for pools and the L2
    /// normalization), for [`quants_from_bounds`](super::quants_from_bounds).
    pub fn bounds(&self) -> Vec<Option<f32>> {
        let mut out: Vec<Option<f32>> = self
            .layers
            .iter()
            .map(|l| match l {
                QatLayer::Conv(c) => Some(c.out.bound()),
                QatLayer::Pool => None,
            })
            .collect();
        out.push(Some(self.fc_out.bound()));
        if self.cfg.l2_normalize {
            out.push(None);
        }
        out
    }

    /// The model file spec of the fine-tuned encoder: its folded weights quantized with its own
    /// running activation ranges; [`forward_t`](Self::forward_t) in evaluation mode mirrors it.
    pub fn to_spec(&self, meta: &ModelMeta) -> Result<ModelSpec, QuantError> {
        let folded = self.to_folded()?;
        let quants = super::quants_from_bounds(&folded, &self.bounds());
        build_spec(&folded, &quants, meta)
    }
}

/// Fine-tunes `enc` on `train` (training identities only) for `cfg.steps` steps of the batch-hard
/// triplet loss over fake-quantized embeddings; `on_step(step, loss)` after each. Returns the
/// losses. A non-finite loss stops with an error before the update.
pub fn qat_finetune(
    enc: &QatEncoder,
    train: &LabelledSet,
    cfg: &QatConfig,
    mut on_step: impl FnMut(usize, f32),
) -> Result<Vec<f32>, QuantError> {
    let mut opt = Optimizer::new(enc.vars().to_vec(), cfg.optimizer.clone())?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let dev = enc.fc_weight.device().clone();
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let lr = learning_rate(&cfg.optimizer, step, cfg.steps);
        let batch = sample_pk(train, cfg.identities, cfg.per_identity, &mut rng)
            .map_err(crate::train::TrainError::from)?;
        let x = train
            .augmented_batch(&batch.indices, &cfg.augment, &mut rng, &dev)
            .map_err(crate::train::TrainError::from)?;
        let e = enc.forward_t(&x, true)?;
        let loss = batch_hard_triplet_loss(&e, &batch.labels, cfg.margin)
            .map_err(crate::train::TrainError::from)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(crate::train::TrainError::NonFiniteLoss {
                step,
                loss: value,
                last_checkpoint: None,
            }
            .into());
        }
        opt.step(&loss.backward()?, lr)?;
        losses.push(value);
        on_step(step + 1, value);
    }
    Ok(losses)
}

/// The fine-tuned weights under the float run's names (BN statistics unchanged), to save as a
/// checkpoint or to fold again.
pub fn qat_weights(
    enc: &QatEncoder,
    float_weights: &HashMap<String, Tensor>,
) -> HashMap<String, Tensor> {
    let mut out = float_weights.clone();
    for (name, v) in enc.vars() {
        out.insert(name.clone(), v.as_tensor().detach());
    }
    out
}
