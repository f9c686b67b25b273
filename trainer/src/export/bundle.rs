//! The export pipeline: one trained run folder in, one shippable model folder out.
//!
//! Writes `OUT/NAME/`: `model.onnx` (the f32 encoder), `model.sgm` (the int8 model file: given with
//! [`ExportOptions::sgm`], or made here by post-training quantization calibrated on the run's training images,
//! with thresholds at FAR 1e-3 (the default point) and 1e-2 measured on pairs of training
//! identities with the int8 reference executor), `model.int8.onnx` (that model as a QDQ graph),
//! and the model card `card.json` + `CARD.md`: the held-out identities' EER, TAR and AUC with
//! 95% intervals for f32 (candle) and int8 on the engine (the firmware's kernels), beside the
//! classic baselines on the same split, and how closely int8 follows f32. How closely peers
//! (tract, onnxruntime) running the ONNX files follow these numbers is tested in `tests/`
//! (the parity tests), not measured here.
//!
//! The firmware board's test vectors (`vectors.bin`) are written by
//! `cargo run -p siamedge-tests --bin board-vectors` from this folder.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{ModuleT, VarBuilder};
use sha2::{Digest, Sha256};
use siamedge_format::preprocess::quantize_unit_image;
use siamedge_format::{FormatError, Metric, Model, Task};

use super::card::{
    macs, parameters, ArchitectureCard, DataCard, FileCard, ModelCard, ParityCard, ResultCard,
    ThresholdCard, CARD_SCHEMA_VERSION,
};
use super::{float_onnx, qdq_onnx, write_onnx, ExportError, MODEL_ID_KEY};
use crate::baseline::protocol::{mnist_open_set_split, orl_split, run_method, ProtocolError};
use crate::baseline::Method;
use crate::data::{DataCache, DataSet, Mnist, OrlFaces};
use crate::eval::{at_threshold, EvalError, Pairs, VerificationReport, DEFAULT_PAIR_SEED};
use crate::model::encoder;
use crate::protocol::RunSplits;
use crate::protocol::{load_run, load_splits, DataKind, SplitError, OPERATING_FARS};
use crate::quant::thresholds::{int8_distances, threshold_source, ThresholdSource};
use crate::quant::{quantize_run, QuantError, QuantizeOptions};

/// FARs at which the card reports the TAR.
const CARD_FARS: [f64; 2] = OPERATING_FARS;

/// What to export and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// A finished run folder (summary.json, model.safetensors).
    pub run: PathBuf,
    /// Name of the model folder, e.g. `face-orl`.
    pub name: String,
    /// Parent of the model folder.
    pub out: PathBuf,
    /// An int8 model file to ship (e.g. from quantization-aware training); `None`: the run is
    /// quantized here (post-training, calibrated on training images).
    pub sgm: Option<PathBuf>,
    /// Percentile of |activation| used as the PTQ range, in `(0, 100]` (100 = min/max).
    pub percentile: f64,
    /// Training images used for PTQ calibration (at most).
    pub calibration_images: usize,
    /// Data cache folder, replacing the run's.
    pub cache: Option<PathBuf>,
    /// MNIST runs: training images of digits 0-4, replacing the run's.
    pub limit: Option<usize>,
    /// Leave the baselines out of the card.
    pub no_baselines: bool,
    /// Ship thresholds measured on the run's own training people (refused otherwise: their
    /// false-accept rate on new people runs far above the target).
    pub force: bool,
    /// Runs of the same recipe (other folds and seeds) whose test results go into the card's
    /// `folds` ([`super::folds`]); empty: none.
    pub fold_runs: Vec<PathBuf>,
    /// Extra lines for the card's notes (history, caveats).
    pub notes: Vec<String>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file could not be read or a folder made.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The given model file does not decode.
    #[error("decoding {path}: {source}")]
    Sgm {
        /// The model file.
        path: PathBuf,
        /// Why.
        source: FormatError,
    },
    /// The given model file flip-averages, which the folder's ONNX graphs do not do.
    #[error(
        "{path}: a flip-average model file (embedding.flip_average): model.onnx and \
         model.int8.onnx embed each image once, so tract and onnxruntime would not give the \
         engine's embeddings; ship it as a model file alone (the engine runs it on the board and \
         the edge's int8 path) or export the plain model"
    )]
    FlipAverage {
        /// The model file.
        path: PathBuf,
    },
    /// The model file and the run disagree on the input size.
    #[error("the model file's input is {}x{}, the run's encoder takes {}x{}", model.0, model.1, run.0, run.1)]
    InputSize {
        /// `(height, width)` of the model file.
        model: (u16, u16),
        /// `(height, width)` of the run's encoder.
        run: (usize, usize),
    },
    /// The model file's thresholds were measured on the people the network trained on.
    #[error(
        "{}: the thresholds of the model file are calibrated on the run's training people, \
         whom the network has learned; on new people their false-accept rate runs far from the \
         target (face-orl's did: trained-people thresholds gave a test TAR of 52% at FAR 0). \
         Train with `--val-people N` (the project's default, 5) so quantize calibrates on \
         people held out of training, run `siamedge-train calibrate` on other people, or pass \
         --force to ship them anyway",
        run.display()
    )]
    TrainingThresholds {
        /// The run folder.
        run: PathBuf,
    },
    /// A fold run is not the shipped run's recipe.
    #[error(
        "{}: not the recipe of {} (the card's folds must be the shipped recipe: same data, \
         validation people and training configuration, any seed)",
        run.display(),
        shipped.display()
    )]
    OtherRecipe {
        /// The fold run.
        run: PathBuf,
        /// The shipped run.
        shipped: PathBuf,
    },
    /// The run's data set has no model card description (folder and signature runs).
    #[error("the card describes ORL and MNIST runs; this run's data set is {0}")]
    Data(DataKind),
    /// The integer engine refused the model.
    #[error("reference executor: {0}")]
    Engine(String),
    /// The run, its split or its quantization failed.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// The data could not be loaded.
    #[error(transparent)]
    Split(Box<SplitError>),
    /// A baseline failed.
    #[error(transparent)]
    Baseline(#[from] ProtocolError),
    /// An ONNX graph could not be built or written.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The model file could not be read.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] siamedge_format::file::WriteError),
    /// Metrics could not be computed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The encoder could not be built.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The card could not be serialized.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<SplitError> for BundleError {
    fn from(e: SplitError) -> Self {
        Self::Split(Box::new(e))
    }
}

/// Int8 reference-executor embeddings of every image of a set (`images[i]`: `p / 255` values,
/// NCHW = NHWC for grey), each quantized by the preprocessing contract
/// ([`quantize_unit_image`], the device's and the edge's rule).
fn engine_embeddings(model: &Model<'_>, images: &[&[f32]]) -> Result<Vec<Vec<i8>>, BundleError> {
    images
        .iter()
        .map(|x| {
            let mut q = vec![0i8; x.len()];
            quantize_unit_image(model.input(), x, &mut q)
                .map_err(|e| BundleError::Engine(e.to_string()))?;
            siamedge_engine::run_model(model, &q).map_err(|e| BundleError::Engine(format!("{e:?}")))
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    dot / (na * nb)
}

fn f32_distances(
    metric: Metric<'_>,
    emb: &[Vec<f32>],
    pairs: &Pairs,
) -> Result<(Vec<f64>, Vec<f64>), BundleError> {
    let mut err = None;
    let d = pairs.distances(|a, b| match metric.distance(&emb[a], &emb[b]) {
        Ok(d) => f64::from(d),
        Err(e) => {
            err = Some(e);
            f64::NAN
        }
    });
    match err {
        Some(e) => Err(BundleError::Format(e)),
        None => Ok(d),
    }
}

/// The int8 model file: `--sgm`, or PTQ of the run with thresholds from its validation identities
/// (training identities when it kept none). Returns the file and where it came from.
fn int8_model(args: &ExportOptions) -> Result<(Vec<u8>, String), BundleError> {
    if let Some(path) = &args.sgm {
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        let flip_average = Model::decode(&bytes)
            .map_err(|source| BundleError::Sgm {
                path: path.clone(),
                source,
            })?
            .embedding()
            .flip_average;
        if flip_average {
            return Err(BundleError::FlipAverage { path: path.clone() });
        }
        return Ok((bytes, format!("given with --sgm {}", path.display())));
    }
    // The same post-training quantization as `siamedge-train quantize` (its defaults), so the
    // shipped file is byte-identical to `quantize --run RUN --out FILE`.
    let (bytes, report) = quantize_run(&ptq_options(args, &args.run), |_, _| {})?;
    Ok((
        bytes,
        format!(
            "post-training quantization as `siamedge-train quantize --run {} --calib-images {} --percentile {}` ({} operating points on the {}' pairs)",
            args.run.display(),
            report.calib_images,
            report.percentile,
            report.operating_points.len(),
            report.thresholds_from
        ),
    ))
}

/// `export`'s post-training quantization options for `run`.
pub(super) fn ptq_options(args: &ExportOptions, run: &Path) -> QuantizeOptions {
    QuantizeOptions {
        calib_images: args.calibration_images,
        percentile: args.percentile,
        cache: args.cache.clone(),
        limit: args.limit,
        ..QuantizeOptions::ptq(run.to_path_buf())
    }
}

/// What the card says the thresholds of `model` were calibrated on, after measuring them again on
/// the run's sets ([`threshold_source`]); thresholds from training people are refused unless
/// `force`.
fn calibrated_on(
    args: &ExportOptions,
    model: &Model<'_>,
    splits: &RunSplits,
) -> Result<String, BundleError> {
    let source = threshold_source(model, splits.validation.as_ref(), &splits.train)?;
    Ok(match source {
        ThresholdSource::Validation => {
            "all pairs of the validation identities (held out of training)".into()
        }
        ThresholdSource::Training if !args.force => {
            return Err(BundleError::TrainingThresholds {
                run: args.run.clone(),
            })
        }
        ThresholdSource::Training => {
            "all pairs of training identities (optimistic: the network trained on them; shipped with --force)".into()
        }
        ThresholdSource::Other => {
            "data other than the run's (the given model file's; not the run's training or validation people)".into()
        }
    })
}

fn file_card(dir: &Path, name: &str, what: &str) -> Result<FileCard, BundleError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| BundleError::Io { path, source })?;
    Ok(FileCard {
        name: name.into(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        what: what.into(),
    })
}

/// Exports the run `args.run` into `args.out/args.name/` (see the module docs) and returns the
/// model card it wrote.
pub fn export_bundle(args: &ExportOptions) -> Result<ModelCard, BundleError> {
    let run = load_run(&args.run).map_err(QuantError::from)?;
    let splits = load_splits(&run, args.cache.as_deref(), args.limit).map_err(QuantError::from)?;
    let cfg = run.config().model.encoder.clone();
    let dir = args.out.join(&args.name);
    std::fs::create_dir_all(&dir).map_err(|source| BundleError::Io {
        path: dir.clone(),
        source,
    })?;
    let run_arg = args.run.display().to_string();
    let export_cmd = format!(
        "siamedge-train export --run {run_arg} --name {} --out {}{}{}{}",
        args.name,
        args.out.display(),
        match &args.sgm {
            Some(p) => format!(" --sgm {}", p.display()),
            None => format!(
                " --percentile {} --calibration-images {}",
                args.percentile, args.calibration_images
            ),
        },
        if args.fold_runs.is_empty() {
            String::new()
        } else {
            let runs: Vec<String> = args
                .fold_runs
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!(" --fold-runs {}", runs.join(","))
        },
        if args.force { " --force" } else { "" }
    );

    // f32: the candle encoder and its ONNX graph.
    let dev = Device::Cpu;
    let vb = VarBuilder::from_tensors(run.weights.clone(), DType::F32, &dev);
    let enc = encoder(&cfg, vb.pp("encoder"))?;
    let meta = [("siamedge.run", run_arg.clone())];

    // int8: the model file and its QDQ graph.
    let (sgm, sgm_origin) = int8_model(args)?;
    let model = Model::decode(&sgm)?;
    let calibrated_on = calibrated_on(args, &model, &splits)?;
    siamedge_format::file::write_atomic(&dir.join("model.sgm"), &sgm)?;
    if (
        usize::from(model.input().height),
        usize::from(model.input().width),
    ) != (cfg.height, cfg.width)
    {
        return Err(BundleError::InputSize {
            model: (model.input().height, model.input().width),
            run: (cfg.height, cfg.width),
        });
    }
    write_onnx(&dir.join("model.int8.onnx"), &qdq_onnx(&model, &meta)?)?;
    // The float graph names the model file it belongs to, as the QDQ graph does.
    let float_meta = [
        (MODEL_ID_KEY, hex::encode(model.id().as_bytes())),
        ("siamedge.run", run_arg.clone()),
    ];
    write_onnx(&dir.join("model.onnx"), &float_onnx(&enc, &float_meta)?)?;

    // Held-out embeddings on every runtime.
    let test = &splits.test;
    let images: Vec<&[f32]> = (0..test.len()).map(|i| test.image(i)).collect();
    let mut f32_emb = Vec::with_capacity(images.len());
    for chunk in images.chunks(64) {
        let flat: Vec<f32> = chunk.iter().flat_map(|x| x.iter().copied()).collect();
        let x = Tensor::from_vec(
            flat,
            (chunk.len(), cfg.in_channels, cfg.height, cfg.width),
            &dev,
        )?;
        let e = enc.forward_t(&x, false)?.to_vec2::<f32>()?;
        f32_emb.extend(e);
    }
    let scale = model.embedding().scale;
    let engine = engine_embeddings(&model, &images)?;
    let mut parity = ParityCard {
        images: images.len(),
        int8_vs_f32_min_cosine: 1.0,
    };
    for (e, f) in engine.iter().zip(&f32_emb) {
        let ef: Vec<f32> = e.iter().map(|&q| f32::from(q) * scale).collect();
        parity.int8_vs_f32_min_cosine = parity.int8_vs_f32_min_cosine.min(cosine(&ef, f));
    }

    let metric = model.metric();
    let pairs = &splits.test_pairs;
    let (fg, fi) = f32_distances(metric, &f32_emb, pairs)?;
    let (eg, ei) = int8_distances(metric, &engine, scale, pairs)?;
    let mut results = vec![
        ResultCard {
            method: "f32 (candle)".into(),
            baseline: false,
            verification: VerificationReport::from_distances(&fg, &fi, &CARD_FARS)?,
            command: export_cmd.clone(),
        },
        ResultCard {
            method: "int8 (reference executor = firmware kernels)".into(),
            baseline: false,
            verification: VerificationReport::from_distances(&eg, &ei, &CARD_FARS)?,
            command: export_cmd.clone(),
        },
    ];
    let thresholds = model
        .decision()
        .points()
        .iter()
        .map(|p| {
            Ok(ThresholdCard {
                far: f64::from(p.far),
                threshold: f64::from(p.threshold),
                calibrated_on: calibrated_on.clone(),
                test: Some(at_threshold(&eg, &ei, f64::from(p.threshold))?),
            })
        })
        .collect::<Result<Vec<_>, BundleError>>()?;

    // The recipe on every fold and seed.
    let (folds, fold_summary) = if args.fold_runs.is_empty() {
        (Vec::new(), None)
    } else {
        let (f, s) = super::folds::fold_table(args, &run, &args.fold_runs)?;
        (f, Some(s))
    };

    // Baselines on the same split.
    let cache = DataCache::resolve(args.cache.as_deref()).map_err(SplitError::from)?;
    let fold = run.source.fold;
    let (dataset, held_out, base_cmd) = match run.source.data {
        DataKind::Orl => (
            "ORL faces (AT&T Laboratories Cambridge), 40 people x 10 images, 92x112 grey",
            format!("people {}..{} (ORL fold {fold})", 10 * fold, 10 * fold + 9),
            "siamedge-train baseline --data orl".to_string(),
        ),
        DataKind::Mnist => (
            "MNIST handwritten digits (LeCun, Cortes, Burges), CC BY-SA 3.0",
            "digits 5-9 (open set: never seen in training)".to_string(),
            "siamedge-train baseline --data mnist".to_string(),
        ),
        other => return Err(BundleError::Data(other)),
    };
    if !args.no_baselines {
        let split = match run.source.data {
            DataKind::Mnist => {
                let m =
                    Mnist::load(&cache, DataSet::Mnist).map_err(|source| SplitError::Mnist {
                        dir: cache.dataset_dir(DataSet::Mnist),
                        source,
                    })?;
                mnist_open_set_split(&m, DEFAULT_PAIR_SEED)?
            }
            _ => {
                let faces = OrlFaces::load(&cache).map_err(|source| SplitError::Orl {
                    dir: cache.dataset_dir(DataSet::Orl),
                    source,
                })?;
                orl_split(&faces, fold, (cfg.height, cfg.width))?
            }
        };
        for method in Method::ALL {
            let (fold, _) = run_method(method, &split, &CARD_FARS)?;
            results.push(ResultCard {
                method: method.name().into(),
                baseline: true,
                verification: fold.verification,
                command: format!("{base_cmd} (fold {})", split.name),
            });
        }
    }

    let files = vec![
        file_card(
            &dir,
            "model.onnx",
            "f32 encoder, ONNX opset 13 (tract, onnxruntime)",
        )?,
        file_card(
            &dir,
            "model.int8.onnx",
            "int8 encoder as QDQ ONNX, per-channel weight scales",
        )?,
        file_card(
            &dir,
            "model.sgm",
            &format!(
                "int8 model file for the firmware (siamedge-format SGMD v{})",
                model.version()
            ),
        )?,
    ];
    let float_parameters: u64 = run
        .weights
        .iter()
        .filter(|(k, _)| k.starts_with("encoder.") && !k.contains("running_"))
        .map(|(_, v)| v.elem_count() as u64)
        .sum();
    let input = model.input();
    let card = ModelCard {
        schema_version: CARD_SCHEMA_VERSION,
        name: args.name.clone(),
        task: match model.task() {
            Task::Face => "face verification and identification".into(),
            Task::Signature => "handwritten signature verification".into(),
            Task::Generic => "generic similarity (verification of same/different class)".into(),
        },
        model_id: hex::encode(model.id().as_bytes()),
        data: DataCard {
            dataset: dataset.into(),
            protocol: splits.protocol.clone(),
            train_identities: format!(
                "{} images of {} identities",
                splits.train.len(),
                distinct(splits.train.labels())
            ),
            validation_identities: match &splits.validation {
                Some(v) => format!(
                    "{} identities held out of training ({} images); the operating points are calibrated on them",
                    distinct(v.labels()),
                    v.len()
                ),
                None => "none".into(),
            },
            held_out_identities: format!(
                "{held_out}: {} images, {} genuine and {} impostor pairs",
                test.len(),
                pairs.genuine.len(),
                pairs.impostor.len()
            ),
        },
        architecture: ArchitectureCard {
            description: format!(
                "{} blocks {:?}{}, fc {}{}",
                cfg.widths.len(),
                cfg.widths,
                if cfg.separable {
                    " (first conv3x3-BN-ReLU-maxpool, then depthwise-separable)"
                } else {
                    " of conv3x3-BN-ReLU-maxpool2"
                },
                cfg.embedding_dim,
                if cfg.l2_normalize { ", L2-normalized" } else { "" }
            ),
            input: (input.height, input.width, input.channels),
            normalization: format!(
                "x = (p / 255 - {:?}) / {:?}, area-averaged resize",
                input.mean.as_slice(),
                input.std.as_slice()
            ),
            float_parameters,
            int8_parameters: parameters(&model),
            macs: macs(&model),
            arena_bytes: model.arena_bytes(),
            embedding_dim: model.embedding().dim,
            embedding_bytes: model.embedding().dim,
            l2_normalized: model.embedding().l2_normalized,
            metric: metric.name().into(),
        },
        files,
        thresholds,
        results,
        parity,
        folds,
        fold_summary,
        commands: vec![
            "siamedge-train data fetch".into(),
            format!("siamedge-train train ... --out {run_arg}   # config in {run_arg}/summary.json"),
            export_cmd.clone(),
            "cargo run -p siamedge-tests --bin board-vectors   # vectors.bin for the firmware board".into(),
        ],
        notes: vec![
            format!("int8 model file: {sgm_origin}."),
            "Distances: the model metric over int8 embeddings for the int8 rows (as the device computes them), over f32 embeddings for the f32 row.".into(),
            "The int8 rows are the engine's (siamedge-engine on model.sgm: the firmware, siamedge-edge and the trainer give these numbers bit for bit on every target). How far peers running model.onnx and model.int8.onnx (tract, onnxruntime) may drift from them is bounded by the parity tests in tests/, not measured here.".into(),
            "Runtimes that reproduce the int8 numbers from model.int8.onnx: onnxruntime (CPU) at its default settings and with graph optimizations disabled, on x86 with or without VNNI (its 8-bit tensors are uint8 offset by 128, which onnxruntime's x86 kernels do not saturate), within scripts/check_onnx.py's bounds; tract 0.22 does not (it reads only the first of per-axis scales).".into(),
        ]
        .into_iter()
        .chain(args.notes.iter().cloned())
        .collect(),
    };
    let json = serde_json::to_string_pretty(&card)?;
    siamedge_format::file::write_atomic(&dir.join("card.json"), json.as_bytes())?;
    siamedge_format::file::write_atomic(&dir.join("CARD.md"), card.to_markdown().as_bytes())?;
    Ok(card)
}

fn distinct(labels: &[u32]) -> usize {
    let mut v = labels.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::ModelSpec;

    fn options(sgm: PathBuf) -> ExportOptions {
        ExportOptions {
            run: PathBuf::from("no-run"),
            name: "m".into(),
            out: PathBuf::from("no-out"),
            sgm: Some(sgm),
            percentile: 100.0,
            calibration_images: 1,
            cache: None,
            limit: None,
            no_baselines: true,
            force: false,
            fold_runs: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_flip_average_model_file_is_refused_and_a_plain_one_taken() {
        let dir = tempfile::tempdir().unwrap();
        let plain = siamedge_engine::doc_model().unwrap();
        let mut spec = ModelSpec::from_model(&Model::decode(&plain).unwrap());
        spec.embedding.flip_average = true;
        spec.arena_bytes = None;
        let flip = spec.to_bytes().unwrap();
        let (p, f) = (dir.path().join("plain.sgm"), dir.path().join("flip.sgm"));
        std::fs::write(&p, &plain).unwrap();
        std::fs::write(&f, &flip).unwrap();
        assert_eq!(int8_model(&options(p)).unwrap().0, plain);
        let err = int8_model(&options(f.clone())).unwrap_err();
        assert!(matches!(&err, BundleError::FlipAverage { path } if *path == f));
        assert!(err.to_string().contains("flip.sgm"), "{err}");
    }
}
