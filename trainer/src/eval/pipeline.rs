//! The evaluation pipeline: judge a trained run on its held-out identities, beside the classic
//! baselines on the same split and the same trials, and draw the plots.
//!
//! Reads `RUN/summary.json` (data source, fold, network configuration) and `RUN/model.safetensors`,
//! rebuilds the run's split ([`crate::protocol`]), and writes into the report folder
//! (default `RUN/report/`; with several runs, the folds of one recipe, one report holds a fold
//! per run and the means, and no plots are drawn):
//!
//! | file | what |
//! |---|---|
//! | `report.json` | a [`BenchmarkReport`] (schema in [`crate::eval::report`], version [`REPORT_SCHEMA_VERSION`]): the model first (`method` = `"siamese-cnn"`, `"two-channel"`, `"hybrid"`, `"merge"`, `"cross-input"` or `"norm-corr"`), then `raw-l2`, `pca-l2`, `pca-whitened`, `lda-l2`, `histogram-l1`; each with one fold per run holding trial counts, AUC with its 95% interval, EER with its interval and operating point, TAR at FAR 1e-3, 1e-2 and 1e-1 with counts and intervals, `at_train_threshold` (accuracy, FAR, FRR and HTER on the test trials at the EER threshold chosen on the *training* identities' trials, never on the test trials) and `retrieval` (precision@1 and MAP@R over the test images, where [`crate::protocol::Splits::retrieval`] allows) |
//! | `report.md` | the same as Markdown tables |
//! | `roc.{png,svg}`, `det.{png,svg}` | ROC (TAR vs log FAR) and DET (log FRR vs log FAR) of the model and the baselines |
//! | `histogram.{png,svg}` | the model's genuine and impostor test distances with the training threshold |
//! | `curves.{png,svg}` | loss and validation EER over the steps, from `RUN/log.jsonl` (when present) |
//! | `embedding_map.{png,svg}` | the test embeddings projected on their first two principal components, coloured by identity (MNIST: test digits 5-9) |
//!
//! The baselines are fitted on the training identities' images (for signatures: genuine and forged
//! images of the training writers, forgeries as their own classes).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use candle_nn::VarMap;

use super::report::{FoldReport, MeanReport, MethodReport, TrainThreshold, REPORT_SCHEMA_VERSION};
use super::{
    at_threshold, retrieval_scores, BenchmarkReport, EvalError, Roc, ThresholdRule,
    VerificationReport,
};
use crate::baseline::protocol::{run_method_with_distances, ProtocolError};
use crate::baseline::Method;
use crate::model::{seeded_var_builder, Arch, Model, ModelError};
use crate::plot::{save_report_figures, PlotError, ReportFigures, RocCurve};
use crate::protocol::{
    validation_splits, DataKind, ManifestError, RunManifest, SplitError, Splits, FAR_TARGETS,
    MANIFEST_FILE, WEIGHTS_FILE,
};
use crate::train::{
    embed_with, pair_distances_with, read_log, TestTime, TrainConfig, TrainError, LOG_FILE,
};

/// What to judge and how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalOptions {
    /// Run folders of training runs (summary.json, model.safetensors, log.jsonl): one, or the
    /// folds of one recipe.
    pub run: Vec<PathBuf>,
    /// Report folder (`None`: the first run's `report/`).
    pub out: Option<PathBuf>,
    /// Weights to judge (`None`: `RUN/model.safetensors`); one run only.
    pub weights: Option<PathBuf>,
    /// Data cache, when it moved since training.
    pub cache: Option<PathBuf>,
    /// Root of a folder or signature data set, when it moved since training.
    pub data_dir: Option<PathBuf>,
    /// Leave the baselines out of the report.
    pub no_baselines: bool,
    /// Write no plots.
    pub no_plots: bool,
    /// Embed each image and its mirror image and average the two (two inferences per image).
    pub flip_tta: bool,
    /// Judge on the run's validation identities instead of its test identities (the threshold
    /// and the baselines then come from the remaining training identities).
    pub validation: bool,
    /// Keep at most this many of the training identities' impostor trials for the threshold (a
    /// seeded sample, [`crate::eval::pairs::Pairs::with_impostors_sampled`]); `None`: all. Pair networks score every
    /// trial with a full pass, and ORL's 30 training people give 43,500 impostor trials.
    pub threshold_impostors: Option<usize>,
}

/// What [`evaluate_runs`] wrote.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    /// The report (`report.json`).
    pub report: BenchmarkReport,
    /// `report.json`'s text.
    pub json: String,
    /// `report.md`'s text.
    pub markdown: String,
    /// Every file written, `report.json` first.
    pub files: Vec<PathBuf>,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalRunError {
    /// No run was given.
    #[error("no run to judge (--run DIR, one or more)")]
    NoRun,
    /// Weights were given for several runs.
    #[error("--weights names one run's weights: give one run with it")]
    WeightsOfSeveralRuns,
    /// The runs are not folds of one recipe.
    #[error(
        "{run} was trained with another recipe or data set than {first}: the runs of one report \
         must be folds of one recipe"
    )]
    NotOneRecipe {
        /// The odd run.
        run: PathBuf,
        /// The first run.
        first: PathBuf,
    },
    /// A run's manifest is unusable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A run's split could not be rebuilt.
    #[error(transparent)]
    Split(Box<SplitError>),
    /// The network could not be built.
    #[error("building the run's network: {0}")]
    Model(#[from] ModelError),
    /// The weights could not be loaded.
    #[error("loading the weights {path}: {source}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// candle's error.
        source: candle_core::Error,
    },
    /// A baseline failed.
    #[error("baseline on {run}: {source}")]
    Baseline {
        /// The run.
        run: PathBuf,
        /// Why.
        source: ProtocolError,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Metrics could not be computed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Embedding or the training log failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The report could not be serialized.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<SplitError> for EvalRunError {
    fn from(e: SplitError) -> Self {
        Self::Split(Box::new(e))
    }
}

/// The model's test distances and report, for the table and the plots.
struct ModelResult {
    report: MethodReport,
    genuine: Vec<f64>,
    impostor: Vec<f64>,
    threshold: f64,
    embeddings: Option<Vec<Vec<f32>>>,
}

fn model_id(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::Cnn => ("siamese-cnn", "Siamese CNN (candle)"),
        Arch::TwoChannel => ("two-channel", "2-channel net (candle)"),
        Arch::Hybrid => ("hybrid", "hybrid net (candle)"),
        Arch::Merge => ("merge", "intermediate-merging net (candle)"),
        Arch::CrossInput => (
            "cross-input",
            "cross-input neighborhood differences net (candle)",
        ),
        Arch::NormCorr => ("norm-corr", "normalized-correlation net (candle)"),
    }
}

/// The cost part of a report's detail: MACs per 1:1 decision and per 1:N over 10 people (see
/// [`crate::model::cost`]), and the cached-gallery variant for pair networks.
fn cost_note(m: &crate::model::ModelConfig) -> String {
    let c = crate::model::cost::cost(m);
    let mut s = format!(
        "; {} MACs per 1:1 decision, {} per 1:N over 10 people",
        c.one_to_one,
        c.one_to_n(m.arch, 10)
    );
    if !m.arch.embeds() && m.arch != crate::model::Arch::TwoChannel {
        s += &format!(
            " ({} with the gallery's tower outputs stored)",
            c.cached_one_to_n(10)
        );
    }
    s
}

/// Reads the run's network with the weights at `path`.
pub fn load_model(cfg: &TrainConfig, path: &Path, device: &Device) -> Result<Model, EvalRunError> {
    let mut varmap = VarMap::new();
    let model = Model::build(&cfg.model, seeded_var_builder(&varmap, cfg.seed, device))?;
    varmap.load(path).map_err(|source| EvalRunError::Weights {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(model)
}

fn evaluate_model(
    model: &Model,
    cfg: &TrainConfig,
    splits: &Splits,
    fold: &str,
    tt: TestTime,
    device: &Device,
) -> Result<ModelResult, EvalRunError> {
    let start = Instant::now();
    let (tg, ti) = pair_distances_with(
        model,
        &splits.threshold_set,
        &splits.threshold_pairs,
        tt,
        device,
    )?;
    let threshold = Roc::new(&tg, &ti)?.eer().at.threshold;
    let (genuine, impostor) =
        pair_distances_with(model, &splits.test, &splits.test_pairs, tt, device)?;
    let mut verification = VerificationReport::from_distances(&genuine, &impostor, &FAR_TARGETS)?;
    let embeddings = match model.encoder() {
        Some(enc) => Some(embed_with(enc, &splits.test, tt, device)?.to_vec2::<f32>()?),
        None => None,
    };
    if let (true, Some(e)) = (splits.retrieval, &embeddings) {
        verification.retrieval = Some(retrieval_scores(splits.test.labels(), |a, b| {
            e[a].iter()
                .zip(&e[b])
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        })?);
    }
    let folds = vec![FoldReport {
        fold: fold.to_string(),
        seconds: start.elapsed().as_secs_f64(),
        verification,
        at_train_threshold: Some(TrainThreshold {
            rule: ThresholdRule::Eer,
            test: at_threshold(&genuine, &impostor, threshold)?,
        }),
    }];
    let (id, name) = model_id(cfg.model.arch);
    let e = &cfg.model.encoder;
    Ok(ModelResult {
        report: MethodReport {
            method: id.into(),
            name: name.into(),
            detail: format!(
                "{:?} loss, widths {:?}{}, {}-d, {} steps{}",
                cfg.loss,
                e.widths,
                if e.separable { " separable" } else { "" },
                e.embedding_dim,
                cfg.steps,
                match tt {
                    TestTime::Plain => "",
                    TestTime::FlipAverage => ", flip-averaged (2 inferences per image)",
                }
            ) + &cost_note(&cfg.model),
            mean: MeanReport::of(&folds),
            folds,
        },
        genuine,
        impostor,
        threshold,
        embeddings,
    })
}

/// One run judged: the model's result, each baseline's fold and curve on the same split.
struct RunResult {
    dataset: &'static str,
    protocol: String,
    pair_seed: Option<u64>,
    config: TrainConfig,
    weights: PathBuf,
    splits: Splits,
    ours: ModelResult,
    baselines: Vec<(Method, FoldReport, String, RocCurve)>,
}

/// Reads `run`'s manifest and weights, rebuilds its split and judges the model (and the baselines
/// unless `no_baselines`) on it.
fn evaluate_run(run: &Path, args: &EvalOptions) -> Result<RunResult, EvalRunError> {
    let summary_path = run.join(MANIFEST_FILE);
    let info = RunManifest::read(run)?;
    let mut source = info.data_source(&summary_path)?;
    if args.cache.is_some() {
        source.cache = args.cache.clone();
    }
    if args.data_dir.is_some() {
        source.data_dir = args.data_dir.clone();
    }
    let cfg = info.config;
    let e = &cfg.model.encoder;
    let mut splits = source.load(e.height, e.width)?;
    let mut fold = if source.data == DataKind::Mnist {
        "open-set".to_string()
    } else {
        source.fold.to_string()
    };
    if args.validation {
        splits = validation_splits(splits, info.validation_identities)?;
        fold = format!("{fold} (validation)");
    }
    if let Some(n) = args.threshold_impostors {
        splits.threshold_pairs = std::mem::take(&mut splits.threshold_pairs)
            .with_impostors_sampled(n, crate::eval::pairs::DEFAULT_PAIR_SEED);
    }
    let tt = if args.flip_tta {
        TestTime::FlipAverage
    } else {
        TestTime::Plain
    };
    let device = Device::Cpu;
    let weights = args
        .weights
        .clone()
        .unwrap_or_else(|| run.join(WEIGHTS_FILE));
    let model = load_model(&cfg, &weights, &device)?;
    let ours = evaluate_model(&model, &cfg, &splits, &fold, tt, &device)?;
    let mut baselines = Vec::new();
    if !args.no_baselines {
        let split = splits.baseline_split(&fold);
        for m in Method::ALL {
            let (report, detail, (g, i)) = run_method_with_distances(m, &split, &FAR_TARGETS)
                .map_err(|source| EvalRunError::Baseline {
                    run: run.to_path_buf(),
                    source,
                })?;
            let c = curve(m.name(), &g, &i, false)?;
            baselines.push((m, report, detail, c));
        }
    }
    Ok(RunResult {
        dataset: source.data.name(),
        protocol: splits.protocol.clone(),
        pair_seed: splits.pair_seed,
        config: cfg,
        weights,
        splits,
        ours,
        baselines,
    })
}

/// Judges the runs of `args` (the folds of one recipe) and writes the report folder: one report
/// with every fold and the means; plots only for a single run.
pub fn evaluate_runs(args: &EvalOptions) -> Result<EvalOutcome, EvalRunError> {
    let Some(first_run) = args.run.first() else {
        return Err(EvalRunError::NoRun);
    };
    if args.run.len() > 1 && args.weights.is_some() {
        return Err(EvalRunError::WeightsOfSeveralRuns);
    }
    let mut results: Vec<RunResult> = Vec::with_capacity(args.run.len());
    for run in &args.run {
        let r = evaluate_run(run, args)?;
        if let Some(first) = results.first() {
            if r.config != first.config || r.dataset != first.dataset {
                return Err(EvalRunError::NotOneRecipe {
                    run: run.clone(),
                    first: first_run.clone(),
                });
            }
        }
        results.push(r);
    }
    let first = &results[0];
    let ours_folds: Vec<FoldReport> = results
        .iter()
        .flat_map(|r| r.ours.report.folds.clone())
        .collect();
    let mut methods = vec![MethodReport {
        mean: MeanReport::of(&ours_folds),
        folds: ours_folds,
        ..first.ours.report.clone()
    }];
    for (k, (m, _, detail, _)) in first.baselines.iter().enumerate() {
        let folds: Vec<FoldReport> = results.iter().map(|r| r.baselines[k].1.clone()).collect();
        methods.push(MethodReport {
            method: m.id().into(),
            name: m.name().into(),
            detail: detail.clone(),
            mean: MeanReport::of(&folds),
            folds,
        });
    }
    let protocol = results
        .iter()
        .map(|r| r.protocol.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let report = BenchmarkReport {
        schema_version: REPORT_SCHEMA_VERSION,
        dataset: first.dataset.into(),
        protocol,
        pair_seed: first.pair_seed,
        far_targets: FAR_TARGETS.to_vec(),
        methods,
    };
    let out = args.out.clone().unwrap_or_else(|| first_run.join("report"));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalRunError::Io { path, source }
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let json_path = out.join("report.json");
    std::fs::write(&json_path, &json).map_err(io(&json_path))?;
    let runs = args
        .run
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let weights = results
        .iter()
        .map(|r| format!("`{}`", r.weights.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut md = format!(
        "# Evaluation of {runs}\n\nWeights {weights}; {}. Accuracy columns use the EER threshold \
         chosen on each run's training identities' trials ({} genuine, {} impostor in {}), never \
         on the test trials.\n\n",
        first.ours.report.detail,
        first.splits.threshold_pairs.genuine.len(),
        first.splits.threshold_pairs.impostor.len(),
        first_run.display()
    );
    md.push_str(&report.to_markdown());
    md.push_str(&accuracy_table(&report));
    let mut files = vec![json_path, out.join("report.md")];
    if !args.no_plots && results.len() == 1 {
        let mut curves = vec![curve(
            &first.ours.report.name,
            &first.ours.genuine,
            &first.ours.impostor,
            true,
        )?];
        curves.extend(first.baselines.iter().map(|b| b.3.clone()));
        let log = first_run.join(LOG_FILE);
        let ours = &first.ours;
        files.extend(save_report_figures(
            ReportFigures {
                what: format!("{} fold {}", report.dataset, ours.report.folds[0].fold),
                model: &ours.report.name,
                curves,
                genuine: &ours.genuine,
                impostor: &ours.impostor,
                threshold: ours.threshold,
                log: if log.exists() {
                    Some(read_log(&log)?)
                } else {
                    None
                },
                embeddings: ours
                    .embeddings
                    .as_deref()
                    .map(|e| (e, first.splits.test.labels())),
            },
            &out,
        )?);
        md.push_str(
            "\n![ROC](roc.png) ![DET](det.png)\n\n![distances](histogram.png)\n\n\
             ![training curves](curves.png) ![embedding map](embedding_map.png)\n",
        );
    }
    std::fs::write(out.join("report.md"), &md).map_err(io(&out.join("report.md")))?;
    Ok(EvalOutcome {
        report,
        json,
        markdown: md,
        files,
    })
}

fn curve(name: &str, g: &[f64], i: &[f64], highlight: bool) -> Result<RocCurve, EvalRunError> {
    let roc = Roc::new(g, i)?;
    let eer = roc.eer().rate;
    Ok(RocCurve::from_roc(
        format!("{name} (EER {:.1}%)", 100.0 * eer),
        &roc,
        highlight,
    ))
}

/// Accuracy, FAR and FRR at the training threshold, and retrieval, per method.
fn accuracy_table(r: &BenchmarkReport) -> String {
    let mut s = String::from(
        "\n| method | threshold (train EER) | accuracy % [95% CI] | FAR % (FA/impostor) | FRR % \
         (FR/genuine) | HTER % | precision@1 % | MAP@R % |\n|---|---|---|---|---|---|---|---|\n",
    );
    for m in &r.methods {
        for f in &m.folds {
            let Some(t) = f.at_train_threshold else {
                continue;
            };
            let t = t.test;
            let ret = f.verification.retrieval;
            s.push_str(&format!(
                "| {} | {:.4} | {:.1} [{:.1}, {:.1}] | {:.2} ({}/{}) | {:.2} ({}/{}) | {:.2} | {} | {} |\n",
                m.name,
                t.threshold,
                100.0 * t.accuracy.value,
                100.0 * t.accuracy.ci95.lower,
                100.0 * t.accuracy.ci95.upper,
                100.0 * t.far.value,
                t.far.count,
                t.far.total,
                100.0 * t.frr.value,
                t.frr.count,
                t.frr.total,
                100.0 * t.hter,
                ret.map_or("-".into(), |x| format!("{:.1}", 100.0 * x.precision_at_1.value)),
                ret.map_or("-".into(), |x| format!("{:.1}", 100.0 * x.map_at_r)),
            ));
        }
    }
    s
}
