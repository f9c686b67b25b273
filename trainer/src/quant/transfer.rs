//! Operating points on new people: does a threshold chosen on one group of people keep its
//! false-accept rate on another group the network never saw? Raw distances against
//! cohort-normalised scores ([`crate::eval::score_norm`]).
//!
//! Each run is quantized (post-training, as `export` does) and scored with its int8 embeddings on
//! the engine. The thresholds are chosen at each target FAR on all pairs of the run's
//! *calibration people*: its validation people when it kept some (the network never trained on
//! them), else its training people (what the shipped model did before: optimistic). They are then
//! applied to the run's test people. The cohort for Z-norm and S-norm is the run's training
//! people (never the calibration or test people of a validation run; an item's own identity is
//! left out of its cohort when they overlap). One run's transfer is one draw: the report's
//! summary is the spread over runs (folds x seeds).

use std::path::PathBuf;

use serde::Serialize;
use siamedge_format::{Metric, Model};

use super::int8::Int8Embedder;
use super::pipeline::{quantize_run, QuantizeOptions};
use super::thresholds::{int8_distance, int8_distances};
use super::QuantError;
use crate::data::LabelledSet;
use crate::eval::score_norm::{normalise, CohortStats, ScoreNorm};
use crate::eval::{
    all_pairs, at_threshold, choose_threshold, AtThreshold, Pair, Pairs, Roc, Spread, ThresholdRule,
};
use crate::protocol::{load_run, load_splits};

/// How a threshold is read off the calibration pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// The ROC point: the largest TAR with calibration FAR at most the target
    /// ([`ThresholdRule::Far`]).
    Empirical,
    /// A normal fit to the calibration impostor scores ([`ThresholdRule::NormalFar`]).
    NormalTail,
}

impl Estimator {
    /// Both, empirical first.
    pub const ALL: [Estimator; 2] = [Estimator::Empirical, Estimator::NormalTail];

    /// The rule at target FAR `far`.
    pub fn rule(self, far: f64) -> ThresholdRule {
        match self {
            Estimator::Empirical => ThresholdRule::Far(far),
            Estimator::NormalTail => ThresholdRule::NormalFar(far),
        }
    }

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Empirical => "empirical",
            Estimator::NormalTail => "normal tail",
        }
    }
}

/// One target FAR: the threshold from the calibration pairs, and what it does there and on test.
#[derive(Debug, Clone, Serialize)]
pub struct PointTransfer {
    /// How the threshold was read off the calibration pairs.
    pub estimator: Estimator,
    /// The FAR aimed at, fraction.
    pub target_far: f64,
    /// The score threshold (accept when `score <= threshold`).
    pub threshold: f64,
    /// FAR and TAR on the calibration pairs.
    pub calibration: AtThreshold,
    /// FAR and TAR on the test pairs, with 95% intervals.
    pub test: AtThreshold,
}

/// One scoring rule on one run.
#[derive(Debug, Clone, Serialize)]
pub struct NormTransfer {
    /// The scoring rule.
    pub norm: ScoreNorm,
    /// Test EER of the scores (threshold-free), fraction.
    pub test_eer: f64,
    /// Each estimator at each target FAR (estimator-major).
    pub points: Vec<PointTransfer>,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunTransfer {
    /// The run folder.
    pub run: PathBuf,
    /// Its test fold.
    pub fold: usize,
    /// Its seed.
    pub seed: u64,
    /// `"validation identities"` or `"training identities"`.
    pub calibrated_on: String,
    /// Calibration pairs `(genuine, impostor)`.
    pub calibration_pairs: (usize, usize),
    /// Cohort images (the training people's).
    pub cohort_images: usize,
    /// Raw, Z-norm, S-norm.
    pub norms: Vec<NormTransfer>,
}

/// One scoring rule and target FAR over a group of runs.
#[derive(Debug, Clone, Serialize)]
pub struct TransferSummary {
    /// Whose pairs chose the thresholds.
    pub calibrated_on: String,
    /// The scoring rule.
    pub norm: ScoreNorm,
    /// How the thresholds were read off the calibration pairs.
    pub estimator: Estimator,
    /// The FAR aimed at.
    pub target_far: f64,
    /// Test FAR over the runs.
    pub test_far: Spread,
    /// Test TAR over the runs.
    pub test_tar: Spread,
    /// Test EER over the runs.
    pub test_eer: Spread,
}

/// The whole study.
#[derive(Debug, Clone, Serialize)]
pub struct TransferReport {
    /// Every run.
    pub runs: Vec<RunTransfer>,
    /// Grouped by calibration people, scoring rule and target FAR.
    pub summary: Vec<TransferSummary>,
}

/// The study on `runs`, each quantized with `quant` (its `run` replaced by each run folder), at
/// target FARs `fars`.
pub fn transfer_study(
    runs: &[PathBuf],
    quant: &QuantizeOptions,
    fars: &[f64],
) -> Result<TransferReport, QuantError> {
    let runs = runs
        .iter()
        .map(|dir| {
            let opts = QuantizeOptions {
                run: dir.clone(),
                ..quant.clone()
            };
            run_transfer(&opts, fars)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let summary = summarise(&runs, fars);
    Ok(TransferReport { runs, summary })
}

/// Int8 embeddings of a set and their labels.
struct Embedded {
    emb: Vec<Vec<i8>>,
    labels: Vec<u32>,
}

impl Embedded {
    fn of(model: &Model<'_>, set: &LabelledSet) -> Result<Self, QuantError> {
        Ok(Self {
            emb: Int8Embedder::new(model).embed_set(set)?,
            labels: set.labels().to_vec(),
        })
    }
}

/// Distances between int8 embeddings in `metric` at `scale`.
struct Distance<'m> {
    metric: Metric<'m>,
    scale: f32,
}

impl Distance<'_> {
    /// Each item's cohort statistics (cohort images of the item's own label left out).
    fn cohort_stats(
        &self,
        set: &Embedded,
        cohort: &Embedded,
    ) -> Result<Vec<CohortStats>, QuantError> {
        set.emb
            .iter()
            .zip(&set.labels)
            .map(|(e, l)| {
                let d = cohort
                    .emb
                    .iter()
                    .zip(&cohort.labels)
                    .filter(|(_, cl)| *cl != l)
                    .map(|(c, _)| int8_distance(self.metric, self.scale, e, c))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(CohortStats::of(&d))
            })
            .collect()
    }

    /// The raw distances of `pairs` of `set`, `(genuine, impostor)`.
    fn raw(&self, set: &Embedded, pairs: &Pairs) -> Result<(Vec<f64>, Vec<f64>), QuantError> {
        int8_distances(self.metric, &set.emb, self.scale, pairs)
    }
}

/// `raw` distances of `pairs` (from [`Distance::raw`]) as scores under `norm`, `(genuine,
/// impostor)`.
fn scores(
    raw: &(Vec<f64>, Vec<f64>),
    stats: &[CohortStats],
    pairs: &Pairs,
    norm: ScoreNorm,
) -> (Vec<f64>, Vec<f64>) {
    let side = |d: &[f64], p: &[Pair]| -> Vec<f64> {
        d.iter()
            .zip(p)
            .map(|(&d, p)| normalise(norm, d, &stats[p.a], &stats[p.b]))
            .collect()
    };
    (side(&raw.0, &pairs.genuine), side(&raw.1, &pairs.impostor))
}

fn run_transfer(opts: &QuantizeOptions, fars: &[f64]) -> Result<RunTransfer, QuantError> {
    let (bytes, report) = quantize_run(opts, |_, _| {})?;
    let model = Model::decode(&bytes)?;
    let run = load_run(&opts.run)?;
    let splits = load_splits(&run, opts.cache.as_deref(), opts.limit)?;
    let calib_set = splits.validation.as_ref().unwrap_or(&splits.train);
    let cohort = Embedded::of(&model, &splits.train)?;
    let calib = Embedded::of(&model, calib_set)?;
    let test = Embedded::of(&model, &splits.test)?;
    let dist = Distance {
        metric: model.metric(),
        scale: model.embedding().scale,
    };
    let calib_pairs = all_pairs(calib_set.labels());
    let calib_stats = dist.cohort_stats(&calib, &cohort)?;
    let test_stats = dist.cohort_stats(&test, &cohort)?;
    let calib_raw = dist.raw(&calib, &calib_pairs)?;
    let test_raw = dist.raw(&test, &splits.test_pairs)?;
    let norms = ScoreNorm::ALL
        .iter()
        .map(|&norm| {
            let (cg, ci) = scores(&calib_raw, &calib_stats, &calib_pairs, norm);
            let (tg, ti) = scores(&test_raw, &test_stats, &splits.test_pairs, norm);
            let points = Estimator::ALL
                .iter()
                .flat_map(|&e| fars.iter().map(move |&far| (e, far)))
                .map(|(estimator, far)| {
                    let threshold = choose_threshold(&cg, &ci, estimator.rule(far))?;
                    Ok(PointTransfer {
                        estimator,
                        target_far: far,
                        threshold,
                        calibration: at_threshold(&cg, &ci, threshold)?,
                        test: at_threshold(&tg, &ti, threshold)?,
                    })
                })
                .collect::<Result<Vec<_>, QuantError>>()?;
            Ok(NormTransfer {
                norm,
                test_eer: Roc::new(&tg, &ti)?.eer().rate,
                points,
            })
        })
        .collect::<Result<Vec<_>, QuantError>>()?;
    Ok(RunTransfer {
        run: opts.run.clone(),
        fold: run.source.fold,
        seed: run.manifest.config.seed,
        calibrated_on: report.thresholds_from,
        calibration_pairs: (calib_pairs.genuine.len(), calib_pairs.impostor.len()),
        cohort_images: cohort.emb.len(),
        norms,
    })
}

fn summarise(runs: &[RunTransfer], fars: &[f64]) -> Vec<TransferSummary> {
    let mut groups: Vec<&str> = runs.iter().map(|r| r.calibrated_on.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut out = Vec::new();
    for group in groups {
        let members: Vec<&RunTransfer> = runs.iter().filter(|r| r.calibrated_on == group).collect();
        for (n, &norm) in ScoreNorm::ALL.iter().enumerate() {
            for (k, (estimator, far)) in Estimator::ALL
                .iter()
                .flat_map(|&e| fars.iter().map(move |&far| (e, far)))
                .enumerate()
            {
                let pick = |f: fn(&NormTransfer, usize) -> f64| -> Spread {
                    Spread::of(
                        &members
                            .iter()
                            .map(|r| f(&r.norms[n], k))
                            .collect::<Vec<_>>(),
                    )
                };
                out.push(TransferSummary {
                    calibrated_on: group.into(),
                    norm,
                    estimator,
                    target_far: far,
                    test_far: pick(|t, k| t.points[k].test.far.value),
                    test_tar: pick(|t, k| t.points[k].test.tar.value),
                    test_eer: pick(|t, _| t.test_eer),
                });
            }
        }
    }
    out
}
