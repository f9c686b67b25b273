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
//! ranges. The loss is the float run's own ([`QatLoss`]), over P x K batches: CosFace keeps the
//! run's class weights and fine-tunes them too; batch-hard and semi-hard are themselves P x K
//! losses; contrastive and distance-logistic runs take every genuine pair of the batch and as many
//! impostor pairs drawn from it (balanced, as their float training); sampled-triplet runs use the
//! batch-hard triplet loss at their margin (the hardest triplets of the batch).
//!
//! In evaluation mode, [`QatEncoder::forward_t`] computes what the integer engine computes on the
//! converted model file, in f32: the input rounded to the input grid, each layer with its int8
//! weights and i32 biases, outputs rounded and clamped to their int8 grids, the L2 normalization
//! rounded to `1/128`. Differences come from the engine's fixed-point requantization only.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Module, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_format::{ModelSpec, Quant};

use crate::data::LabelledSet;
use crate::loss::{
    batch_hard_triplet_loss, batch_semi_hard_triplet_loss, contrastive_loss,
    distance_logistic_loss, CosFaceHead, LossKind,
};
use crate::model::batch_norm::BN_EPS;
use crate::model::conv::Conv2d;
use crate::model::encoder::l2_normalize;
use crate::model::max_pool::max_pool_2x2;
use crate::model::separable_block::DepthwiseConv3x3;
use crate::model::EncoderConfig;
use crate::sampler::{sample_pk, Augment};
use crate::train::{learning_rate, Optimizer, OptimizerConfig};

use super::calibrate::Calibration;
use super::fake_quant::{fake_quant_activation, fake_quant_bias, fake_quant_weight, RangeObserver};
use super::fold::{chw_to_hwc_rows, oihw_to_ohwi, FoldedEncoder, FoldedLayer};
use super::ptq::{build_spec, ModelMeta};
use super::scheme::INPUT_QUANT;
use super::QuantError;

/// How to fine-tune.
#[derive(Clone, Debug)]
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
    /// The loss.
    pub loss: QatLoss,
    /// Augmentation of the training images.
    pub augment: Augment,
    /// Weight of each batch maximum in the running activation ranges, in `(0, 1]`.
    pub range_momentum: f32,
    /// Seed of the batches and augmentation.
    pub seed: u64,
}

impl QatConfig {
    /// Fine-tuning defaults: AdamW at 1e-4 with cosine decay and 20 warm-up steps, 16 x 4 batches,
    /// batch-hard triplet loss at margin 0.5, face augmentation, range momentum 0.01, seed 0.
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
            loss: QatLoss::BatchHard { margin: 0.5 },
            augment: Augment::faces(),
            range_momentum: 0.01,
            seed: 0,
        }
    }
}

/// What QAT minimises over each P x K batch of fake-quantized embeddings; see the module docs.
#[derive(Clone, Debug)]
pub enum QatLoss {
    /// Batch-hard triplet loss at `margin` (batch-hard and sampled-triplet runs).
    BatchHard {
        /// Triplet margin (L2 distance).
        margin: f64,
    },
    /// Batch semi-hard triplet loss at `margin`.
    BatchSemiHard {
        /// Triplet margin (L2 distance).
        margin: f64,
    },
    /// Contrastive loss over the batch's genuine pairs and as many impostor pairs.
    Contrastive {
        /// Margin (L2 distance).
        margin: f64,
    },
    /// Distance-based logistic loss over the batch's genuine pairs and as many impostor pairs.
    Logistic {
        /// Margin (L2 distance).
        margin: f64,
    },
    /// CosFace with the float run's class weights, fine-tuned with the encoder.
    CosFace {
        /// The `(C, D)` class weights, trainable.
        weight: Var,
        /// Scale `s`.
        scale: f64,
        /// Cosine margin `m`.
        margin: f64,
        /// Training label -> row of `weight`.
        class_index: BTreeMap<u32, u32>,
    },
}

/// The float run's CosFace class weights, as the trainer names them (`vb.pp("cosface")`).
const COSFACE_WEIGHT: &str = "cosface.weight";

impl QatLoss {
    /// The loss of a float run trained with `kind` (margin `margin`; CosFace's `scale` and
    /// `cosine_margin`), with CosFace's class weights taken from `weights` (`cosface.weight`, one
    /// row per identity of `train`).
    pub fn for_run(
        kind: LossKind,
        margin: f64,
        scale: f64,
        cosine_margin: f64,
        weights: &HashMap<String, Tensor>,
        train: &LabelledSet,
    ) -> Result<Self, QuantError> {
        Ok(match kind {
            LossKind::BatchHard | LossKind::Triplet => QatLoss::BatchHard { margin },
            LossKind::BatchSemiHard => QatLoss::BatchSemiHard { margin },
            LossKind::Contrastive => QatLoss::Contrastive { margin },
            LossKind::Logistic => QatLoss::Logistic { margin },
            LossKind::Binary => {
                return Err(QuantError::Config {
                    field: "method",
                    reason: "the binary loss trains a pair-scoring network, which has no \
                             encoder to quantize"
                        .into(),
                })
            }
            LossKind::Cosface => {
                let name = COSFACE_WEIGHT;
                let w = weights
                    .get(name)
                    .ok_or_else(|| QuantError::MissingWeight { name: name.into() })?;
                let class_index = train.class_index();
                let rows = w.dim(0)?;
                if rows != class_index.len() {
                    return Err(QuantError::WeightShape {
                        name: name.into(),
                        expected: class_index.len() * w.dim(1)?,
                        found: w.elem_count(),
                    });
                }
                QatLoss::CosFace {
                    weight: Var::from_tensor(&w.to_dtype(DType::F32)?)?,
                    scale,
                    margin: cosine_margin,
                    class_index,
                }
            }
        })
    }

    /// Trainable variables of the loss itself (CosFace's class weights), by name.
    pub fn vars(&self) -> Vec<(String, Var)> {
        match self {
            QatLoss::CosFace { weight, .. } => vec![(COSFACE_WEIGHT.into(), weight.clone())],
            _ => Vec::new(),
        }
    }

    /// The loss of embeddings `e` `(B, D)` with `labels`; `rng` draws the impostor pairs.
    fn loss(&self, e: &Tensor, labels: &[u32], rng: &mut ChaCha8Rng) -> Result<Tensor, QuantError> {
        let train_err = crate::train::TrainError::from;
        Ok(match self {
            QatLoss::BatchHard { margin } => {
                batch_hard_triplet_loss(e, labels, *margin).map_err(train_err)?
            }
            QatLoss::BatchSemiHard { margin } => {
                batch_semi_hard_triplet_loss(e, labels, *margin).map_err(train_err)?
            }
            QatLoss::Contrastive { margin } | QatLoss::Logistic { margin } => {
                let (a, b, same) = balanced_pairs(labels, rng);
                if a.is_empty() {
                    return Err(QuantError::Config {
                        field: "qat-steps",
                        reason: format!(
                            "a batch of {} images has no genuine pair: K must be at least 2",
                            labels.len()
                        ),
                    });
                }
                let dev = e.device();
                let n = a.len();
                let ia = Tensor::from_vec(a, n, dev)?;
                let ib = Tensor::from_vec(b, n, dev)?;
                let d = crate::loss::distance::pair_distances(
                    &e.index_select(&ia, 0)?,
                    &e.index_select(&ib, 0)?,
                )?;
                let same = Tensor::from_vec(same, n, dev)?;
                if matches!(self, QatLoss::Logistic { .. }) {
                    distance_logistic_loss(&d, &same, *margin)?
                } else {
                    contrastive_loss(&d, &same, *margin)?
                }
            }
            QatLoss::CosFace {
                weight,
                scale,
                margin,
                class_index,
            } => {
                let rows = labels
                    .iter()
                    .map(|l| {
                        class_index
                            .get(l)
                            .copied()
                            .ok_or_else(|| QuantError::Config {
                                field: "run",
                                reason: format!("label {l} has no CosFace class weight"),
                            })
                    })
                    .collect::<Result<Vec<u32>, _>>()?;
                CosFaceHead::new(weight.as_tensor().clone(), *scale, *margin)
                    .loss(e, &rows)
                    .map_err(train_err)?
            }
        })
    }
}

/// Every genuine pair `(i, j)`, `i < j`, of a batch with `labels`, then as many impostor pairs drawn
/// uniformly (with replacement) from its impostor pairs: `(a, b, same)` with `same` 1 or 0.
fn balanced_pairs(labels: &[u32], rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
    let (mut a, mut b, mut same) = (Vec::new(), Vec::new(), Vec::new());
    let n = labels.len();
    for i in 0..n {
        for j in i + 1..n {
            if labels[i] == labels[j] {
                a.push(i as u32);
                b.push(j as u32);
                same.push(1.0);
            }
        }
    }
    let genuine = a.len();
    let has_impostor = labels.iter().any(|&l| l != labels[0]);
    if genuine == 0 || !has_impostor {
        return (a, b, same);
    }
    while a.len() < 2 * genuine {
        let (i, j) = (rng.random_range(0..n), rng.random_range(0..n));
        if labels[i] != labels[j] {
            a.push(i as u32);
            b.push(j as u32);
            same.push(0.0);
        }
    }
    (a, b, same)
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

/// Fine-tunes `enc` on `train` (training identities only) for `cfg.steps` steps of `cfg.loss` over
/// fake-quantized embeddings; `on_step(step, loss)` after each. Returns the losses. A non-finite
/// loss stops with an error before the update.
pub fn qat_finetune(
    enc: &QatEncoder,
    train: &LabelledSet,
    cfg: &QatConfig,
    mut on_step: impl FnMut(usize, f32),
) -> Result<Vec<f32>, QuantError> {
    let mut vars = enc.vars().to_vec();
    vars.extend(cfg.loss.vars());
    let mut opt = Optimizer::new(vars, cfg.optimizer.clone())?;
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
        let loss = cfg.loss.loss(&e, &batch.labels, &mut rng)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_pairs_take_every_genuine_pair_and_as_many_impostors() {
        let labels = [3, 3, 3, 7, 7, 9];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b, same) = balanced_pairs(&labels, &mut rng);
        // 3 pairs among the 3s, 1 among the 7s.
        assert_eq!(same.iter().filter(|&&s| s == 1.0).count(), 4);
        assert_eq!(same.len(), 8);
        for ((&i, &j), &s) in a.iter().zip(&b).zip(&same) {
            let genuine = labels[i as usize] == labels[j as usize];
            assert_eq!(genuine, s == 1.0, "({i}, {j})");
            if genuine {
                assert!(i < j);
            }
        }
        // No genuine pair, or no impostor: nothing to balance.
        assert!(balanced_pairs(&[1, 2, 3], &mut rng).0.is_empty());
        assert_eq!(balanced_pairs(&[4, 4, 4], &mut rng).0.len(), 3);
    }
}
