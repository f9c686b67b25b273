//! One optimisation step at a time, and the state a checkpoint needs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor, Var};
use candle_nn::{ModuleT, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::LabelledSet;
use crate::loss::{self, BatchKind, CosFaceHead, LossKind};
use crate::model::{seeded_var_builder, Model};
use crate::sampler::{sample_pairs, sample_pk, sample_triplets};

use super::checkpoint::{self, BestValidation, Checkpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
use super::config::TrainConfig;
use super::optim::Optimizer;
use super::schedule::learning_rate;
use super::TrainError;

/// ChaCha8 stream of the batch generator (stream 0 initialises the parameters).
const BATCH_STREAM: u64 = 1;

fn mismatch(reason: &str) -> TrainError {
    TrainError::Config {
        field: "loss",
        reason: reason.to_string(),
    }
}

/// Wall time of the phases of one [`Trainer::step_timed`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTimes {
    /// Sampling the batch, augmenting it and making its tensor.
    pub data: Duration,
    /// The network and the loss, up to the loss value.
    pub forward: Duration,
    /// `backward()`: every gradient.
    pub backward: Duration,
    /// The optimiser's update of every parameter.
    pub optimizer: Duration,
}

impl StepTimes {
    /// The whole step.
    pub fn total(&self) -> Duration {
        self.data + self.forward + self.backward + self.optimizer
    }
}

/// A batch drawn for one step: the images `(N, C, H, W)` and what the loss compares.
enum Batch {
    /// P x K images and their identities.
    Identities { x: Tensor, labels: Vec<u32> },
    /// The `n` first images against the `n` next; `same` is 1 for a genuine pair.
    Pairs { x: Tensor, n: usize, same: Tensor },
    /// Anchors, positives and negatives, `n` each.
    Triplets { x: Tensor, n: usize },
}

/// A network being trained, its optimiser, and the seeded generator of its batches.
pub struct Trainer {
    cfg: TrainConfig,
    device: Device,
    varmap: VarMap,
    model: Model,
    head: Option<CosFaceHead>,
    class_index: BTreeMap<u32, u32>,
    optimizer: Optimizer,
    rng: ChaCha8Rng,
    step: usize,
    losses: Vec<f32>,
    best: Option<BestValidation>,
    evals_since_best: usize,
    last_checkpoint: Option<PathBuf>,
}

impl Trainer {
    /// A fresh run of `cfg` on `train` (its identities are the classes of CosFace's head), parameters
    /// initialised from `cfg.seed`, on the CPU.
    pub fn new(cfg: TrainConfig, train: &LabelledSet) -> Result<Self, TrainError> {
        cfg.validate()?;
        let e = &cfg.model.encoder;
        let s = train.shape();
        if (s.channels, s.height, s.width) != (e.in_channels, e.height, e.width) {
            return Err(TrainError::ImageShape {
                expected: (e.in_channels, e.height, e.width),
                found: (s.channels, s.height, s.width),
            });
        }
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, cfg.seed, &device);
        let model = Model::build(&cfg.model, vb.clone())?;
        let class_index = train.class_index();
        let head = if cfg.loss == LossKind::Cosface {
            Some(loss::cosface_head(
                class_index.len(),
                e.embedding_dim,
                cfg.cosface_scale,
                cfg.cosface_margin,
                vb.pp("cosface"),
            )?)
        } else {
            None
        };
        let trainable: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(k, _)| !k.contains("running_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let optimizer = Optimizer::new(trainable, cfg.optimizer.clone())?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(BATCH_STREAM);
        Ok(Self {
            cfg,
            device,
            varmap,
            model,
            head,
            class_index,
            optimizer,
            rng,
            step: 0,
            losses: Vec::new(),
            best: None,
            evals_since_best: 0,
            last_checkpoint: None,
        })
    }

    /// Continues the run saved in the checkpoint at `path` (its sidecar or weights file) on the same
    /// training set; the configuration comes from the checkpoint.
    pub fn resume(path: &Path, train: &LabelledSet) -> Result<Self, TrainError> {
        let loaded = checkpoint::load_checkpoint(path, &Device::Cpu)?;
        let meta = loaded.meta;
        let mut t = Trainer::new(meta.config.clone(), train)?;
        let sidecar = checkpoint::sidecar_of(path);
        let bad = |reason: String| TrainError::Checkpoint {
            path: sidecar.clone(),
            reason,
        };
        t.set_weights(&loaded.weights)
            .map_err(|e| bad(e.to_string()))?;
        t.optimizer
            .load_state(&loaded.optimizer, meta.optimizer_steps)
            .map_err(|e| bad(e.to_string()))?;
        let pos: u128 = meta
            .rng_word_pos
            .parse()
            .map_err(|e| bad(format!("rng_word_pos {:?}: {e}", meta.rng_word_pos)))?;
        t.rng = ChaCha8Rng::seed_from_u64(meta.rng_seed);
        t.rng.set_stream(meta.rng_stream);
        t.rng.set_word_pos(pos);
        t.step = meta.step;
        t.losses = meta.losses;
        t.best = meta.best;
        t.evals_since_best = meta.evals_since_best;
        t.last_checkpoint = Some(sidecar);
        Ok(t)
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The network.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// All variables by name (weights, BatchNorm statistics, loss head).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The device tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Steps taken so far (the 0-based index of the next step).
    pub fn step_index(&self) -> usize {
        self.step
    }

    /// The loss of every step taken.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// Best validation result recorded so far.
    pub fn best(&self) -> Option<BestValidation> {
        self.best
    }

    /// Records the validation EER measured now; returns whether it is the best so far (ties keep the
    /// earlier one).
    pub fn record_validation(&mut self, eer: f64) -> bool {
        if self.best.is_none_or(|b| eer < b.validation_eer) {
            self.best = Some(BestValidation {
                step: self.step,
                validation_eer: eer,
            });
            self.evals_since_best = 0;
            true
        } else {
            self.evals_since_best += 1;
            false
        }
    }

    /// Validations since the best one.
    pub fn evals_since_best(&self) -> usize {
        self.evals_since_best
    }

    /// The sidecar of the last checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// Learning rate of the next step.
    pub fn current_lr(&self) -> f64 {
        learning_rate(&self.cfg.optimizer, self.step, self.cfg.steps)
    }

    /// One optimisation step on a fresh batch from `train`; returns its loss (before the update).
    ///
    /// A NaN or infinite loss is reported as [`TrainError::NonFiniteLoss`] before any update, so the
    /// weights stay those of the previous step.
    pub fn step(&mut self, train: &LabelledSet) -> Result<f32, TrainError> {
        self.step_timed(train).map(|(loss, _)| loss)
    }

    /// [`step`](Self::step), with the wall time of each of its phases (what
    /// `siamedge-train bench` reports). candle runs eagerly on the CPU, so each phase's time is
    /// its own work.
    pub fn step_timed(&mut self, train: &LabelledSet) -> Result<(f32, StepTimes), TrainError> {
        let t0 = Instant::now();
        let lr = self.current_lr();
        let batch = self.draw(train)?;
        let t1 = Instant::now();
        let loss = self.loss_of(&batch)?;
        let value = loss.to_scalar::<f32>()?;
        let t2 = Instant::now();
        if !value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                step: self.step,
                loss: value,
                last_checkpoint: self.last_checkpoint.clone(),
            });
        }
        let grads = loss.backward()?;
        let t3 = Instant::now();
        self.optimizer.step(&grads, lr)?;
        let t4 = Instant::now();
        self.step += 1;
        self.losses.push(value);
        Ok((
            value,
            StepTimes {
                data: t1 - t0,
                forward: t2 - t1,
                backward: t3 - t2,
                optimizer: t4 - t3,
            },
        ))
    }

    /// The next batch of the run: sampled from `train` with the run's generator and augmented.
    fn draw(&mut self, train: &LabelledSet) -> Result<Batch, TrainError> {
        let cfg = &self.cfg;
        let aug = &cfg.augment;
        let dev = &self.device;
        Ok(match cfg.loss.batch_kind() {
            BatchKind::Identities => {
                let k = cfg.per_identity;
                let b = sample_pk(train, cfg.batch / k, k, &mut self.rng)?;
                let x = train.augmented_batch(&b.indices, aug, &mut self.rng, dev)?;
                Batch::Identities {
                    x,
                    labels: b.labels,
                }
            }
            BatchKind::Pairs => {
                let n = cfg.batch / 2;
                let pairs = sample_pairs(train, n, &mut self.rng)?;
                let idx: Vec<usize> = pairs
                    .iter()
                    .map(|p| p.a)
                    .chain(pairs.iter().map(|p| p.b))
                    .collect();
                let same: Vec<f32> = pairs
                    .iter()
                    .map(|p| f32::from(u8::from(p.genuine)))
                    .collect();
                let same = Tensor::from_vec(same, n, dev)?;
                let x = train.augmented_batch(&idx, aug, &mut self.rng, dev)?;
                Batch::Pairs { x, n, same }
            }
            BatchKind::Triplets => {
                let n = cfg.batch / 3;
                let t = sample_triplets(train, n, &mut self.rng)?;
                let idx: Vec<usize> = t
                    .iter()
                    .map(|x| x.anchor)
                    .chain(t.iter().map(|x| x.positive))
                    .chain(t.iter().map(|x| x.negative))
                    .collect();
                let x = train.augmented_batch(&idx, aug, &mut self.rng, dev)?;
                Batch::Triplets { x, n }
            }
        })
    }

    /// The loss of `batch` under the current weights (the forward pass).
    fn loss_of(&self, batch: &Batch) -> Result<Tensor, TrainError> {
        let cfg = &self.cfg;
        let margin = cfg.margin();
        Ok(match batch {
            Batch::Identities { x, labels } => {
                let e = self.embed_t(x)?;
                match cfg.loss {
                    LossKind::BatchSemiHard => {
                        loss::batch_semi_hard_triplet_loss(&e, labels, margin)?
                    }
                    LossKind::Cosface => {
                        let labels: Vec<u32> = labels.iter().map(|l| self.class_index[l]).collect();
                        match &self.head {
                            Some(head) => head.loss(&e, &labels)?,
                            None => return Err(mismatch("CosFace without its class-weight head")),
                        }
                    }
                    _ => loss::batch_hard_triplet_loss(&e, labels, margin)?,
                }
            }
            Batch::Pairs { x, n, same } => {
                let n = *n;
                if cfg.loss == LossKind::Binary {
                    let (xa, xb) = (x.narrow(0, 0, n)?, x.narrow(0, n, n)?);
                    let logits = match self.model.pair_logits_t(&xa, &xb, true) {
                        Some(l) => l?,
                        None => {
                            return Err(mismatch("the binary loss needs a pair-scoring network"))
                        }
                    };
                    loss::binary_log_loss(&logits, same)?
                } else {
                    let e = self.embed_t(x)?;
                    let d =
                        loss::distance::pair_distances(&e.narrow(0, 0, n)?, &e.narrow(0, n, n)?)?;
                    if cfg.loss == LossKind::Logistic {
                        loss::distance_logistic_loss(&d, same, margin)?
                    } else {
                        loss::contrastive_loss(&d, same, margin)?
                    }
                }
            }
            Batch::Triplets { x, n } => {
                let n = *n;
                let e = self.embed_t(x)?;
                loss::triplet_margin_loss(
                    &e.narrow(0, 0, n)?,
                    &e.narrow(0, n, n)?,
                    &e.narrow(0, 2 * n, n)?,
                    margin,
                )?
            }
        })
    }

    fn embed_t(&self, x: &Tensor) -> Result<Tensor, TrainError> {
        match self.model.encoder() {
            Some(enc) => Ok(enc.forward_t(x, true)?),
            None => Err(mismatch("this loss needs the Siamese CNN's embeddings")),
        }
    }

    /// Copies of every variable, by name.
    pub fn weights(&self) -> Result<HashMap<String, Tensor>, TrainError> {
        let data = self.varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        let mut out = HashMap::with_capacity(data.len());
        for (k, v) in data.iter() {
            out.insert(k.clone(), v.as_tensor().copy()?);
        }
        Ok(out)
    }

    /// Overwrites every variable with the tensor of the same name in `weights`; all must be present
    /// with their shapes.
    pub fn set_weights(&self, weights: &HashMap<String, Tensor>) -> Result<(), TrainError> {
        let data = self.varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        for (k, v) in data.iter() {
            let w = weights
                .get(k)
                .ok_or_else(|| TrainError::MissingWeight { name: k.clone() })?;
            v.set(w)?;
        }
        Ok(())
    }

    /// Writes checkpoint `name` (see [`super::checkpoint`]) in `dir`; returns the sidecar
    /// path and remembers it as the last good checkpoint.
    pub fn save(&mut self, dir: &Path, name: &str) -> Result<PathBuf, TrainError> {
        let meta = Checkpoint {
            format: CHECKPOINT_FORMAT.to_string(),
            version: CHECKPOINT_VERSION,
            step: self.step,
            optimizer_steps: self.optimizer.steps_taken(),
            rng_seed: self.cfg.seed,
            rng_stream: self.rng.get_stream(),
            rng_word_pos: self.rng.get_word_pos().to_string(),
            weights_sha256: String::new(),
            optimizer_sha256: String::new(),
            config: self.cfg.clone(),
            losses: self.losses.clone(),
            best: self.best,
            evals_since_best: self.evals_since_best,
        };
        let path = checkpoint::save_checkpoint(
            dir,
            name,
            &self.weights()?,
            &self.optimizer.state()?,
            meta,
        )?;
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;

    fn tiny_set() -> LabelledSet {
        let (h, w) = (16, 12);
        let mut s = 7u32;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for c in 0..6u32 {
            for _ in 0..4 {
                pixels.extend((0..h * w).map(|i| {
                    s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ((i as u32 * (c + 1)) % 7) as f32 / 7.0 + (s >> 24) as f32 / 2560.0
                }));
                labels.push(c);
            }
        }
        LabelledSet::new(pixels, labels, ImageShape::grey(h, w)).unwrap()
    }

    #[test]
    fn timed_steps_are_the_same_steps() {
        let set = tiny_set();
        let mut cfg = TrainConfig::reference(16, 12, 8);
        cfg.batch = 12;
        cfg.per_identity = 2;
        cfg.steps = 3;
        let mut plain = Trainer::new(cfg.clone(), &set).unwrap();
        let mut timed = Trainer::new(cfg, &set).unwrap();
        for _ in 0..3 {
            let a = plain.step(&set).unwrap();
            let (b, t) = timed.step_timed(&set).unwrap();
            assert_eq!(a.to_bits(), b.to_bits());
            assert_eq!(t.total(), t.data + t.forward + t.backward + t.optimizer);
            assert!(t.forward > Duration::ZERO && t.backward > Duration::ZERO);
        }
        assert_eq!(plain.losses(), timed.losses());
    }
}
