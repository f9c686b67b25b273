//! The quantization pipeline: a finished training run to the int8 model file the firmware runs,
//! with a report of what quantization costs.
//!
//! Post-training quantization ([`QuantMethod::Ptq`], the quick path) calibrates activation ranges
//! on [`QuantizeOptions::calib_images`] training images; quantization-aware training
//! ([`QuantMethod::Qat`]) starts there and fine-tunes the fake-quantized, BN-folded encoder for
//! [`QuantizeOptions::qat_steps`] steps on the training identities with the run's own loss, saving
//! the fine-tuned weights as a checkpoint. Either way the operating points ([`OPERATING_FARS`],
//! the first the default) are measured with the int8 embeddings of the integer engine on all pairs
//! of the run's validation identities, which the network never trained on (on its training
//! identities when it kept none: optimistic thresholds).
//!
//! The report gives EER and TAR@FAR=1e-3 of the float model and of the int8 model (the firmware's
//! engine) on the run's training, validation and, for information, test identities, plus the
//! cosine similarity between f32 and int8 embeddings.
//!
//! With [`QuantizeOptions::flip_average`] the model file asks for flip averaging (format version
//! 3): the engine embeds each image and its mirror image and averages them in integers, so the
//! thresholds and the int8 numbers are flip-averaged, and the float numbers beside them are the
//! float counterpart (the mean of the two float embeddings, L2-normalized again; what `eval
//! --flip-tta` computes with the unfolded network).

use std::path::PathBuf;

use candle_core::Device;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use siamedge_engine::kernels::flip::mirror_columns;
use siamedge_format::{Metric, Model, Task};

use super::fold::{nhwc_image, Activation};
use super::int8::Int8Embedder;
use super::qat::{qat_finetune, qat_weights};
use super::thresholds::{calibrate_points, decision_spec, int8_distances, CalibratedPoint};
use super::{
    fold, quantize_ptq, FoldedEncoder, FoldedLayer, ModelMeta, QatConfig, QatEncoder, QatLoss,
    QuantError, RangeRule,
};
use crate::data::LabelledSet;
use crate::eval::{all_pairs, at_threshold, AtThreshold, Pairs, VerificationReport};
use crate::protocol::{load_run, load_splits, DataKind, OPERATING_FARS};

/// Quantization method. JSON spelling kebab-case (`"ptq"`, `"qat"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuantMethod {
    /// Post-training quantization: calibrate activation ranges, no training.
    Ptq,
    /// Quantization-aware fine-tuning from the float weights.
    Qat,
}

/// What to quantize and how.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeOptions {
    /// Run folder of a training run (summary.json, model.safetensors).
    pub run: PathBuf,
    /// Where the model file is meant to go (recorded in the report; [`quantize_run`] writes
    /// nothing there).
    pub out: PathBuf,
    /// Quantization method.
    pub method: QuantMethod,
    /// Training images that calibrate activation ranges (a seeded sample; at least 1).
    pub calib_images: usize,
    /// Percentile of |activation| that sets each range, in `(0, 100]` (100 = min/max).
    pub percentile: f64,
    /// QAT fine-tuning steps.
    pub qat_steps: usize,
    /// QAT peak learning rate.
    pub qat_lr: f64,
    /// Where the QAT weights go (`None`: `RUN/qat.safetensors`).
    pub qat_checkpoint: Option<PathBuf>,
    /// Task written into the model file (`None`: face for ORL, generic otherwise).
    pub task: Option<Task>,
    /// Data cache folder, replacing the run's.
    pub cache: Option<PathBuf>,
    /// MNIST runs: training images of digits 0-4, replacing the run's.
    pub limit: Option<usize>,
    /// Write a flip-average model (`embedding.flip_average`): every embedding is the integer
    /// average of the image's and its mirror image's, on every device (faces, not signatures).
    pub flip_average: bool,
}

impl QuantizeOptions {
    /// Post-training quantization of `run` with the defaults: 200 calibration images,
    /// percentile 99.99, the task from the data set.
    pub fn ptq(run: PathBuf) -> Self {
        Self {
            run,
            out: PathBuf::new(),
            method: QuantMethod::Ptq,
            calib_images: 200,
            percentile: 99.99,
            qat_steps: 300,
            qat_lr: 1e-4,
            qat_checkpoint: None,
            task: None,
            cache: None,
            limit: None,
            flip_average: false,
        }
    }
}

/// f32 against int8 on one set of identities.
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// Float model (BN folded; the trained weights for PTQ and QAT alike).
    pub f32: VerificationReport,
    /// Int8 model file on the integer engine.
    pub int8: VerificationReport,
    /// Mean cosine similarity of f32 and int8 embeddings of the same image.
    pub cosine_mean: f64,
    /// Smallest such cosine.
    pub cosine_min: f64,
    /// The int8 decisions at the model file's default threshold.
    pub int8_at_default_threshold: AtThreshold,
}

/// What `quantize` reports.
#[derive(Debug, Serialize)]
pub struct QuantizeReport {
    /// The run folder.
    pub run: PathBuf,
    /// The data protocol.
    pub protocol: String,
    /// Method used.
    pub method: QuantMethod,
    /// Calibration images.
    pub calib_images: usize,
    /// Percentile (100 = min/max).
    pub percentile: f64,
    /// QAT steps taken (0 for PTQ).
    pub qat_steps: usize,
    /// Whether the model flip-averages (then every number below is flip-averaged, f32 and int8).
    pub flip_average: bool,
    /// Operating points written, measured on the pairs of [`Self::thresholds_from`].
    pub operating_points: Vec<CalibratedPoint>,
    /// Whose pairs the operating points were calibrated on: `"validation identities"` when the run
    /// kept some (the network never trained on them; still, with a handful of people, another
    /// group's FAR at the same threshold can differ by an order of magnitude), else `"training
    /// identities"` (optimistic: the network has seen those people).
    pub thresholds_from: String,
    /// Training identities, all their images and pairs: where a quantization recipe (the
    /// percentile, PTQ or QAT) may be chosen without looking at test identities.
    pub train: Comparison,
    /// Validation identities (model selection side of the training identities).
    pub validation: Option<Comparison>,
    /// Test identities, for information.
    pub test: Comparison,
    /// The model file.
    pub model_file: PathBuf,
    /// Model file bytes.
    pub model_bytes: usize,
    /// Arena bytes the model asks for.
    pub arena_bytes: u32,
    /// The model id (hex).
    pub model_id: String,
}

/// [`QuantizeReport::thresholds_from`] of a run with validation identities.
pub const THRESHOLDS_FROM_VALIDATION: &str = "validation identities";
/// [`QuantizeReport::thresholds_from`] of a run without.
pub const THRESHOLDS_FROM_TRAINING: &str = "training identities";

/// f32 embeddings of every image of `set` with the folded float model; with `flip_average`, each
/// is the mean of the image's and its mirror image's (the engine's mirror,
/// [`mirror_columns`]), L2-normalized again when the encoder normalizes: the float counterpart
/// of a flip-average model file.
pub fn float_embeddings(
    folded: &FoldedEncoder,
    set: &LabelledSet,
    flip_average: bool,
) -> Result<Vec<Vec<f32>>, QuantError> {
    let s = set.shape();
    (0..set.len())
        .map(|i| {
            let image = nhwc_image(set.image(i), (s.channels, s.height, s.width));
            let e = folded.forward(&image)?;
            if !flip_average {
                return Ok(e);
            }
            let mut mirror = vec![0f32; image.len()];
            mirror_columns(&image, &mut mirror, s.width, s.channels);
            let sum: Vec<f32> = e
                .iter()
                .zip(folded.forward(&mirror)?)
                .map(|(a, b)| a + b)
                .collect();
            Ok(if folded.l2_normalized() {
                let d = sum.len();
                FoldedLayer::L2Normalize
                    .forward(&Activation {
                        shape: (1, 1, d),
                        data: sum,
                    })
                    .data
            } else {
                sum.iter().map(|v| 0.5 * v).collect()
            })
        })
        .collect()
}

/// Compares the float and int8 models on `pairs` of `set`.
pub fn compare(
    folded: &FoldedEncoder,
    model: &Model<'_>,
    set: &LabelledSet,
    pairs: &Pairs,
) -> Result<Comparison, QuantError> {
    let f = float_embeddings(folded, set, model.embedding().flip_average)?;
    let q = Int8Embedder::new(model).embed_set(set)?;
    let scale = model.embedding().scale;
    let deq: Vec<Vec<f32>> = q
        .iter()
        .map(|e| e.iter().map(|&v| f32::from(v) * scale).collect())
        .collect();
    let l2 = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (g, i) = pairs.distances(|a, b| l2(&f[a], &f[b]));
    let f32_report = VerificationReport::from_distances(&g, &i, &OPERATING_FARS)?;
    let (g, i) = int8_distances(model.metric(), &q, scale, pairs)?;
    let int8_report = VerificationReport::from_distances(&g, &i, &OPERATING_FARS)?;
    let threshold = f64::from(model.decision().default_point().threshold);
    let int8_at_default_threshold = at_threshold(&g, &i, threshold)?;
    let cos: Vec<f64> = f.iter().zip(&deq).map(|(a, b)| cosine(a, b)).collect();
    Ok(Comparison {
        f32: f32_report,
        int8: int8_report,
        cosine_mean: cos.iter().sum::<f64>() / cos.len().max(1) as f64,
        cosine_min: cos.iter().copied().fold(f64::INFINITY, f64::min),
        int8_at_default_threshold,
    })
}

/// Quantizes the run `args.run` as `args` say and measures the result: the model file's bytes
/// (not written: [`QuantizeReport::model_file`] names where they are meant to go) and the report.
/// For QAT, the fine-tuned weights are saved to the QAT checkpoint and `on_qat_step(step, loss)`
/// is called after every fine-tuning step.
pub fn quantize_run(
    args: &QuantizeOptions,
    on_qat_step: impl FnMut(usize, f32),
) -> Result<(Vec<u8>, QuantizeReport), QuantError> {
    let run = load_run(&args.run)?;
    let splits = load_splits(&run, args.cache.as_deref(), args.limit)?;
    let enc_cfg = run.config().model.encoder.clone();
    let folded = fold(&enc_cfg, &run.weights, "encoder")?;
    let rule = if args.percentile >= 100.0 {
        RangeRule::MinMax
    } else {
        RangeRule::Percentile(args.percentile)
    };
    let train = &splits.train;
    let mut idx: Vec<usize> = (0..train.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    idx.truncate(args.calib_images.max(1));
    let s = train.shape();
    let calib: Vec<Vec<f32>> = idx
        .iter()
        .map(|&i| nhwc_image(train.image(i), (s.channels, s.height, s.width)))
        .collect();
    let task = args.task.unwrap_or(match run.source.data {
        DataKind::Orl => Task::Face,
        _ => Task::Generic,
    });
    let margin = run.config().margin() as f32;
    let meta = ModelMeta::placeholder(task, margin)?;
    let (ptq_spec, calibration) =
        quantize_ptq(&folded, calib.iter().map(|v| v.as_slice()), rule, &meta)?;
    let mut spec = match args.method {
        QuantMethod::Ptq => ptq_spec,
        QuantMethod::Qat => {
            let qat = QatEncoder::from_weights(
                &enc_cfg,
                &run.weights,
                "encoder",
                &calibration,
                0.01,
                &Device::Cpu,
            )?;
            let mut cfg = QatConfig::new(args.qat_steps);
            cfg.optimizer.lr = args.qat_lr;
            cfg.loss = QatLoss::for_run(
                run.config().loss,
                run.config().margin(),
                run.config().cosface_scale,
                run.config().cosface_margin,
                &run.weights,
                train,
            )?;
            let c = run.config();
            cfg.augment = c.augment.clone();
            cfg.per_identity = c.per_identity;
            cfg.identities = (c.batch / c.per_identity).max(2);
            cfg.seed = c.seed;
            qat_finetune(&qat, train, &cfg, on_qat_step)?;
            let ckpt = args
                .qat_checkpoint
                .clone()
                .unwrap_or_else(|| args.run.join("qat.safetensors"));
            candle_core::safetensors::save(&qat_weights(&qat, &run.weights), &ckpt).map_err(
                |source| QuantError::Checkpoint {
                    path: ckpt.clone(),
                    source,
                },
            )?;
            qat.to_spec(&meta)?
        }
    };
    // The placeholder meta leaves the arena to the rule, which counts the flip-average keep
    // region.
    spec.embedding.flip_average = args.flip_average;
    // Operating points from the int8 embeddings of all pairs of the validation identities, which
    // the network never trained on; of the training identities when the run kept none.
    let (calib_set, thresholds_from) = match &splits.validation {
        Some(v) => (v, THRESHOLDS_FROM_VALIDATION),
        None => (train, THRESHOLDS_FROM_TRAINING),
    };
    let placeholder = spec.to_bytes()?;
    let model = Model::decode(&placeholder)?;
    let calib_emb = Int8Embedder::new(&model).embed_set(calib_set)?;
    let points = calibrate_points(
        Metric::L2,
        &calib_emb,
        model.embedding().scale,
        calib_set.labels(),
        &OPERATING_FARS,
    )?;
    spec.decision = decision_spec(&points, margin)?;
    let bytes = spec.to_bytes()?;
    let model = Model::decode(&bytes)?;
    let train_cmp = compare(&folded, &model, train, &all_pairs(train.labels()))?;
    let validation = match &splits.validation {
        Some(v) => Some(compare(&folded, &model, v, &all_pairs(v.labels()))?),
        None => None,
    };
    let test = compare(&folded, &model, &splits.test, &splits.test_pairs)?;
    let report = QuantizeReport {
        run: args.run.clone(),
        protocol: splits.protocol.clone(),
        method: args.method,
        calib_images: calibration.images,
        percentile: args.percentile.min(100.0),
        qat_steps: if args.method == QuantMethod::Qat {
            args.qat_steps
        } else {
            0
        },
        flip_average: args.flip_average,
        operating_points: points,
        thresholds_from: thresholds_from.into(),
        train: train_cmp,
        validation,
        test,
        model_file: args.out.clone(),
        model_bytes: bytes.len(),
        arena_bytes: model.arena_bytes(),
        model_id: hex::encode(model.id().as_bytes()),
    };
    Ok((bytes.clone(), report))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}
