//! `siamedge-train quantize`: a trained run to the int8 model file the firmware runs, with a report
//! of what quantization costs.
//!
//! Post-training quantization (`--method ptq`, the quick path) calibrates activation ranges on
//! `--calib-images` training images; quantization-aware training (`--method qat`) starts there and
//! fine-tunes the fake-quantized, BN-folded encoder for `--qat-steps` steps on the training
//! identities with the run's own loss, saving the fine-tuned weights as a checkpoint. Either way the
//! operating points (FAR 1e-3, the default, and 1e-2) are measured with the int8 embeddings of the
//! integer engine on all pairs of the run's validation identities, which the network never trained
//! on (on its training identities when it kept none: optimistic thresholds), and the file is
//! written atomically.
//!
//! The report gives EER and TAR@FAR=1e-3 of the float model and of the int8 model (the firmware's
//! engine) on the run's validation identities and, for information, on its test identities, plus
//! the cosine similarity between f32 and int8 embeddings.

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::Device;
use clap::{Args, ValueEnum};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use siamedge_format::{Metric, Model, Task};

use crate::eval::{all_pairs, at_threshold, AtThreshold, Pairs, VerificationReport};
use crate::quant::fold::nhwc_image;
use crate::quant::int8::Int8Embedder;
use crate::quant::qat::{qat_finetune, qat_weights};
use crate::quant::run_dir::{load_run, load_splits};
use crate::quant::thresholds::{calibrate_points, decision_spec, CalibratedPoint, DEFAULT_FARS};
use crate::quant::{
    fold, quantize_ptq, FoldedEncoder, ModelMeta, QatConfig, QatEncoder, QatLoss, RangeRule,
};
use crate::sampler::LabelledSet;

/// Quantization method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Post-training quantization: calibrate activation ranges, no training.
    Ptq,
    /// Quantization-aware fine-tuning from the float weights.
    Qat,
}

/// What the model recognizes (written into the model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// Faces.
    Face,
    /// Handwritten signatures.
    Signature,
    /// Anything else (digits).
    Generic,
}

/// Arguments of `siamedge-train quantize`.
#[derive(Debug, Clone, Args)]
pub struct QuantizeArgs {
    /// Run folder of `siamedge-train train` (summary.json, model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Model file to write (`.sgm`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Quantization method.
    #[arg(long, value_enum, default_value = "ptq")]
    pub method: Method,
    /// Training images used to calibrate activation ranges (a seeded sample).
    #[arg(long, default_value_t = 200)]
    pub calib_images: usize,
    /// Percentile of |activation| that sets each range (100 = min/max).
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// QAT fine-tuning steps.
    #[arg(long, default_value_t = 300)]
    pub qat_steps: usize,
    /// QAT peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub qat_lr: f64,
    /// Where the QAT weights go [default: RUN/qat.safetensors].
    #[arg(long, value_name = "FILE")]
    pub qat_checkpoint: Option<PathBuf>,
    /// Task written into the model file [default: face for ORL, generic for MNIST].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// MNIST runs: the run's --limit [default: 10000].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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
    pub method: Method,
    /// Calibration images.
    pub calib_images: usize,
    /// Percentile (100 = min/max).
    pub percentile: f64,
    /// QAT steps taken (0 for PTQ).
    pub qat_steps: usize,
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

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

/// f32 embeddings of every image of `set` with the folded float model.
pub fn float_embeddings(folded: &FoldedEncoder, set: &LabelledSet) -> Result<Vec<Vec<f32>>> {
    let s = set.shape();
    (0..set.len())
        .map(|i| Ok(folded.forward(&nhwc_image(set.image(i), (s.channels, s.height, s.width)))?))
        .collect()
}

/// Compares the float and int8 models on `pairs` of `set`.
pub fn compare(
    folded: &FoldedEncoder,
    model: &Model<'_>,
    set: &LabelledSet,
    pairs: &Pairs,
) -> Result<Comparison> {
    let f = float_embeddings(folded, set)?;
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
    let f32_report = VerificationReport::from_distances(&g, &i, &[1e-3, 1e-2])?;
    let (g, i) = crate::quant::thresholds::int8_distances(model.metric(), &q, scale, pairs)?;
    let int8_report = VerificationReport::from_distances(&g, &i, &[1e-3, 1e-2])?;
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

/// Runs `siamedge-train quantize`: [`quantize_run`], writes the model file atomically, prints the
/// report.
pub fn run(args: QuantizeArgs, verbose: u8) -> Result<()> {
    let (bytes, report) = quantize_run(&args, verbose)?;
    siamedge_format::file::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Quantizes the run `args.run` as `args` say and measures the result: the model file's bytes
/// (not written) and the report. For QAT, the fine-tuned weights are saved to the QAT checkpoint.
/// `verbose > 0` keeps the QAT progress bar even with `--json`.
pub fn quantize_run(args: &QuantizeArgs, verbose: u8) -> Result<(Vec<u8>, QuantizeReport)> {
    let run = load_run(&args.run)?;
    let splits = load_splits(&run, args.cache.as_deref(), args.limit)?;
    let enc_cfg = run.config.model.encoder.clone();
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
    let task = match (args.task, run.data) {
        (Some(TaskArg::Face), _) => Task::Face,
        (Some(TaskArg::Signature), _) => Task::Signature,
        (Some(TaskArg::Generic), _) => Task::Generic,
        (None, crate::quant::run_dir::RunData::Orl { .. }) => Task::Face,
        (None, _) => Task::Generic,
    };
    let margin = run.config.margin() as f32;
    let meta = ModelMeta::placeholder(task, margin)?;
    let (ptq_spec, calibration) =
        quantize_ptq(&folded, calib.iter().map(|v| v.as_slice()), rule, &meta)?;
    let mut spec = match args.method {
        Method::Ptq => ptq_spec,
        Method::Qat => {
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
                run.config.loss,
                run.config.margin(),
                run.config.cosface_scale,
                run.config.cosface_margin,
                &run.weights,
                train,
            )?;
            cfg.augment = run.config.augment.clone();
            cfg.per_identity = run.config.per_identity;
            cfg.identities = (run.config.batch / run.config.per_identity).max(2);
            cfg.seed = run.config.seed;
            let bar = indicatif::ProgressBar::new(cfg.steps as u64);
            if args.json && verbose == 0 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            qat_finetune(&qat, train, &cfg, |step, loss| {
                bar.set_position(step as u64);
                bar.set_message(format!("QAT loss {loss:.4}"));
            })?;
            bar.finish_and_clear();
            let ckpt = args
                .qat_checkpoint
                .clone()
                .unwrap_or_else(|| args.run.join("qat.safetensors"));
            candle_core::safetensors::save(&qat_weights(&qat, &run.weights), &ckpt)
                .with_context(|| format!("writing {}", ckpt.display()))?;
            qat.to_spec(&meta)?
        }
    };
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
        &DEFAULT_FARS,
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
        qat_steps: if args.method == Method::Qat {
            args.qat_steps
        } else {
            0
        },
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

fn print_report(r: &QuantizeReport) {
    println!(
        "{} -> {} ({} bytes, arena {} bytes, id {})",
        r.run.display(),
        r.model_file.display(),
        r.model_bytes,
        r.arena_bytes,
        &r.model_id[..16]
    );
    println!(
        "{:?}, {} calibration images, percentile {}{}; {}",
        r.method,
        r.calib_images,
        r.percentile,
        if r.qat_steps > 0 {
            format!(", {} QAT steps", r.qat_steps)
        } else {
            String::new()
        },
        r.protocol
    );
    for p in &r.operating_points {
        println!(
            "  threshold {:.4} at FAR {:.0e} on {} ({} of {} impostor, TAR {:.1}%)",
            p.threshold,
            p.target_far,
            r.thresholds_from,
            p.far.count,
            p.far.total,
            100.0 * p.tar.value
        );
    }
    println!("| identities | EER f32 % | EER int8 % | TAR@1e-3 f32 % | TAR@1e-3 int8 % | cosine mean | cosine min |");
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str, c: &Comparison| {
        let tar = |v: &VerificationReport| {
            v.tar_at(1e-3)
                .map_or(f64::NAN, |t| 100.0 * t.point.tar.value)
        };
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.1} | {:.4} | {:.4} |",
            100.0 * c.f32.eer.rate,
            100.0 * c.int8.eer.rate,
            tar(&c.f32),
            tar(&c.int8),
            c.cosine_mean,
            c.cosine_min
        );
    };
    row("training", &r.train);
    if let Some(v) = &r.validation {
        row("validation", v);
    }
    row("test (information)", &r.test);
    let at = |name: &str, c: &Comparison| {
        let a = &c.int8_at_default_threshold;
        println!(
            "  int8 at the default threshold on {name}: FAR {:.2}% ({} of {}), TAR {:.1}% ({} of {})",
            100.0 * a.far.value,
            a.far.count,
            a.far.total,
            100.0 * a.tar.value,
            a.tar.count,
            a.tar.total
        );
    };
    if let Some(v) = &r.validation {
        at("validation", v);
    }
    at("test", &r.test);
}
