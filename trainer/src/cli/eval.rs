//! `siamedge-train eval`: judge a trained run on its held-out identities, beside the classic
//! baselines on the same split and the same trials, and draw the plots.
//!
//! Reads `RUN/summary.json` (data source, fold, network configuration) and `RUN/model.safetensors`,
//! rebuilds the run's split ([`super::splits`]), and writes into the report folder
//! (default `RUN/report/`; with several `--run`, the folds of one recipe, one report holds a fold
//! per run and the means, and no plots are drawn):
//!
//! | file | what |
//! |---|---|
//! | `report.json` | a [`BenchmarkReport`] (schema in [`crate::eval::report`], version [`REPORT_SCHEMA_VERSION`]): the model first (`method` = `"siamese-cnn"`, `"two-channel"` or `"hybrid"`), then `raw-l2`, `pca-l2`, `pca-whitened`, `lda-l2`, `histogram-l1`; each with one fold per run holding trial counts, AUC with its 95% interval, EER with its interval and operating point, TAR at FAR 1e-3, 1e-2 and 1e-1 with counts and intervals, `at_train_threshold` (accuracy, FAR, FRR and HTER on the test trials at the EER threshold chosen on the *training* identities' trials, never on the test trials) and `retrieval` (precision@1 and MAP@R over the test images, where [`Splits::retrieval`] allows) |
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

use anyhow::{bail, Context, Result};
use candle_core::Device;
use candle_nn::VarMap;
use clap::Args;
use serde::Deserialize;

use super::splits::{DataSource, Splits, DEFAULT_FOLDS};
use super::train::DataArg;
use crate::baseline::protocol::{run_method_with_distances, FAR_TARGETS};
use crate::baseline::Method;
use crate::eval::all_pairs;
use crate::eval::report::{
    FoldReport, MeanReport, MethodReport, TrainThreshold, REPORT_SCHEMA_VERSION,
};
use crate::eval::{
    at_threshold, retrieval_scores, BenchmarkReport, Roc, ThresholdRule, VerificationReport,
};
use crate::model::{seeded_var_builder, Arch, Model};
use crate::plot::{
    self, CurvesFigure, DetFigure, EmbeddingFigure, HistogramFigure, RocCurve, RocFigure,
};
use crate::train::{
    embed_with, pair_distances_with, read_log, split_validation, TestTime, TrainConfig, LOG_FILE,
};

/// Arguments of `siamedge-train eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder written by `siamedge-train train` (summary.json, model.safetensors, log.jsonl).
    /// Repeat it for the folds of one recipe (`--run runs/face-f0 --run runs/face-f1 ...`): one
    /// report with every fold and the means, the baselines on each run's split; plots only for a
    /// single run.
    #[arg(long, value_name = "DIR", required = true)]
    pub run: Vec<PathBuf>,
    /// Report folder [default: (first) RUN/report].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Weights to judge [default: RUN/model.safetensors].
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Data cache, when it moved since training.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Root of a folder or signature data set, when it moved since training.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Leave the baselines out of the report.
    #[arg(long)]
    pub no_baselines: bool,
    /// Write no plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Print the JSON report on stdout instead of the Markdown summary.
    #[arg(long)]
    pub json: bool,
    /// Embed each image and its mirror image and average the two (two inferences per image):
    /// faces only, whose training flips.
    #[arg(long)]
    pub flip_tta: bool,
    /// Judge on the run's validation identities (the `val-people` highest-numbered training
    /// identities, which it did not train on) instead of its test identities: the threshold and
    /// the baselines come from the remaining training identities. For choosing recipes without
    /// looking at the test identities.
    #[arg(long)]
    pub validation: bool,
}

/// What `eval` needs from `summary.json` (older summaries without `source` are ORL or MNIST).
#[derive(Debug, Deserialize)]
struct RunInfo {
    data: DataArg,
    fold: Option<usize>,
    #[serde(default)]
    source: Option<DataSource>,
    config: TrainConfig,
    /// Training identities held out for validation (the highest-numbered ones).
    #[serde(default)]
    validation_identities: usize,
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
    }
}

/// Reads the run's network with the weights at `path`.
pub fn load_model(cfg: &TrainConfig, path: &Path, device: &Device) -> Result<Model> {
    let mut varmap = VarMap::new();
    let model = Model::build(&cfg.model, seeded_var_builder(&varmap, cfg.seed, device))
        .context("building the run's network")?;
    varmap
        .load(path)
        .with_context(|| format!("loading the weights {}", path.display()))?;
    Ok(model)
}

fn evaluate_model(
    model: &Model,
    cfg: &TrainConfig,
    splits: &Splits,
    fold: &str,
    tt: TestTime,
    device: &Device,
) -> Result<ModelResult> {
    let start = Instant::now();
    let (tg, ti) = pair_distances_with(
        model,
        &splits.threshold_set,
        &splits.threshold_pairs,
        tt,
        device,
    )?;
    let threshold = Roc::new(&tg, &ti)
        .context("training-identity trials")?
        .eer()
        .at
        .threshold;
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
            ),
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

/// Reads `run`'s summary and weights, rebuilds its split and judges the model (and the baselines
/// unless `--no-baselines`) on it.
fn evaluate_run(run: &Path, args: &EvalArgs, verbose: u8) -> Result<RunResult> {
    let summary_path = run.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).with_context(|| {
        format!(
            "reading {} (is {} a finished `siamedge-train train` run?)",
            summary_path.display(),
            run.display()
        )
    })?;
    let info: RunInfo = serde_json::from_str(&text)
        .with_context(|| format!("reading {}", summary_path.display()))?;
    let mut source = info.source.unwrap_or(DataSource {
        data: info.data,
        cache: None,
        data_dir: None,
        fold: info.fold.unwrap_or(0),
        folds: DEFAULT_FOLDS,
        limit: 10_000,
    });
    if args.cache.is_some() {
        source.cache = args.cache.clone();
    }
    if args.data_dir.is_some() {
        source.data_dir = args.data_dir.clone();
    }
    let cfg = info.config;
    let e = &cfg.model.encoder;
    let mut splits = source.load(e.height, e.width)?;
    let mut fold = if source.data == DataArg::Mnist {
        "open-set".to_string()
    } else {
        source.fold.to_string()
    };
    if args.validation {
        splits = validation_splits(splits, info.validation_identities)
            .with_context(|| format!("--validation on {}", summary_path.display()))?;
        fold = format!("{fold} (validation)");
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
        .unwrap_or_else(|| run.join("model.safetensors"));
    let model = load_model(&cfg, &weights, &device)?;
    if verbose > 0 {
        eprintln!("{}", splits.protocol);
    }
    let ours = evaluate_model(&model, &cfg, &splits, &fold, tt, &device)?;
    let mut baselines = Vec::new();
    if !args.no_baselines {
        let split = splits.baseline_split(&fold);
        for m in Method::ALL {
            let (report, detail, (g, i)) = run_method_with_distances(m, &split, &FAR_TARGETS)
                .with_context(|| format!("baseline {m} on {}", run.display()))?;
            if verbose > 0 {
                eprintln!("{m}: {detail}");
            }
            let c = curve(m.name(), &g, &i, false)?;
            baselines.push((m, report, detail, c));
        }
    }
    Ok(RunResult {
        dataset: data_id(source.data),
        protocol: splits.protocol.clone(),
        pair_seed: splits.pair_seed,
        config: cfg,
        weights,
        splits,
        ours,
        baselines,
    })
}

/// Runs `siamedge-train eval`.
pub fn run(args: EvalArgs, verbose: u8) -> Result<()> {
    let Some(first_run) = args.run.first() else {
        bail!("--run DIR is required (one or more)");
    };
    if args.run.len() > 1 && args.weights.is_some() {
        bail!("--weights names one run's weights: give one --run with it");
    }
    let mut results: Vec<RunResult> = Vec::with_capacity(args.run.len());
    for run in &args.run {
        let r = evaluate_run(run, &args, verbose)?;
        if let Some(first) = results.first() {
            if r.config != first.config || r.dataset != first.dataset {
                bail!(
                    "{} was trained with another recipe or data set than {}: the runs of one \
                     report must be folds of one recipe",
                    run.display(),
                    first_run.display()
                );
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
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let json_path = out.join("report.json");
    std::fs::write(&json_path, &json)
        .with_context(|| format!("writing {}", json_path.display()))?;
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
        files.extend(draw_plots(
            first_run,
            &out,
            &report,
            &first.ours,
            curves,
            &first.splits,
        )?);
        md.push_str(
            "\n![ROC](roc.png) ![DET](det.png)\n\n![distances](histogram.png)\n\n\
             ![training curves](curves.png) ![embedding map](embedding_map.png)\n",
        );
    }
    std::fs::write(out.join("report.md"), &md)
        .with_context(|| format!("writing {}", out.join("report.md").display()))?;
    if args.json {
        print!("{json}");
    } else {
        print!("{md}");
        eprintln!("wrote {}", files.len());
        for f in &files {
            eprintln!("  {}", f.display());
        }
    }
    Ok(())
}

/// Most images a validation set may have: its trials are all pairs.
const MAX_VALIDATION_IMAGES: usize = 5_000;

/// `splits` with the run's `val_people` validation identities as the test identities and the rest
/// of its training identities for the threshold and the baselines; all pairs of each.
fn validation_splits(splits: Splits, val_people: usize) -> Result<Splits> {
    if val_people == 0 {
        bail!("the run kept no validation identities (`val-people` is 0 in its config)");
    }
    let (rest, val) = split_validation(&splits.threshold_set, val_people)?;
    let Some(val) = val else {
        bail!("the run kept no validation identities");
    };
    if val.len() > MAX_VALIDATION_IMAGES {
        bail!(
            "{} validation images: more than {MAX_VALIDATION_IMAGES}, too many for all pairs",
            val.len()
        );
    }
    let protocol = format!(
        "{} | validation identities: {} images of {} identities, all pairs; threshold and \
         baselines from the other {} training identities",
        splits.protocol,
        val.len(),
        val.classes().len(),
        rest.classes().len()
    );
    Ok(Splits {
        train: rest.clone(),
        threshold_pairs: all_pairs(rest.labels()),
        threshold_set: rest,
        test_pairs: all_pairs(val.labels()),
        test: val,
        retrieval: splits.retrieval,
        pair_seed: splits.pair_seed,
        protocol,
    })
}

fn data_id(d: DataArg) -> &'static str {
    match d {
        DataArg::Orl => "orl",
        DataArg::Mnist => "mnist",
        DataArg::Folder => "folder",
        DataArg::Signature => "signature",
    }
}

fn curve(name: &str, g: &[f64], i: &[f64], highlight: bool) -> Result<RocCurve> {
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

fn draw_plots(
    run: &Path,
    out: &Path,
    report: &BenchmarkReport,
    ours: &ModelResult,
    curves: Vec<RocCurve>,
    splits: &Splits,
) -> Result<Vec<PathBuf>> {
    let what = format!("{} fold {}", report.dataset, ours.report.folds[0].fold);
    let mut files = Vec::new();
    let size = (900, 650);
    files.extend(plot::save(
        &RocFigure {
            title: format!("ROC, {what} (test identities)"),
            curves: curves.clone(),
        },
        &out.join("roc"),
        size,
    )?);
    files.extend(plot::save(
        &DetFigure {
            title: format!("DET, {what} (test identities)"),
            curves,
        },
        &out.join("det"),
        size,
    )?);
    files.extend(plot::save(
        &HistogramFigure {
            title: format!("{}: test distances, {what}", ours.report.name),
            genuine: ours.genuine.clone(),
            impostor: ours.impostor.clone(),
            threshold: Some(ours.threshold),
        },
        &out.join("histogram"),
        size,
    )?);
    let log = run.join(LOG_FILE);
    if log.exists() {
        let records = read_log(&log)?;
        if !records.is_empty() {
            files.extend(plot::save(
                &CurvesFigure {
                    title: format!("training, {what}"),
                    records,
                },
                &out.join("curves"),
                size,
            )?);
        }
    }
    if let Some(e) = &ours.embeddings {
        let Some(points) = plot::embedding_map::project_2d(e) else {
            bail!("no test embeddings to map");
        };
        files.extend(plot::save(
            &EmbeddingFigure {
                title: format!("test embeddings (PCA to 2-D), {what}"),
                points,
                labels: splits.test.labels().to_vec(),
            },
            &out.join("embedding_map"),
            (800, 700),
        )?);
    }
    Ok(files)
}
