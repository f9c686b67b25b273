//! The card's `folds`: what the shipped recipe does across folds and seeds.
//!
//! Each run of the recipe (one test fold, one seed) is quantized exactly as `export` quantizes the
//! shipped run ([`super::bundle::ptq_options`]: the same PTQ, thresholds from the run's validation
//! people) and judged on its own test people: f32 (candle) and int8 (the engine) EER and TAR at the
//! card's FARs, and each shipped operating point's FAR and TAR on the test people (the
//! *transfer*: did a threshold chosen on people the network never saw keep its FAR on other new
//! people?). Runs are grouped by fold (`folds[k].int8.eer` is the mean over that fold's seeds);
//! [`FoldSummary`] gives the 4-fold mean per seed and its mean and spread over seeds.
//!
//! All runs must be the same recipe as the shipped run: the same data set, validation people and
//! training configuration, the seed aside.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use siamedge_format::Model;

use super::bundle::{BundleError, ExportOptions};
use crate::eval::{at_threshold, AtThreshold, Pairs, Spread, VerificationReport};
use crate::protocol::{load_run, load_splits, Run, OPERATING_FARS};
use crate::quant::int8::Int8Embedder;
use crate::quant::quantize_run;
use crate::quant::thresholds::int8_distances;

/// A shipped operating point of one run, on that run's test people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointOnTest {
    /// The FAR aimed at, fraction.
    pub target_far: f64,
    /// The model file's threshold (chosen on the run's validation people).
    pub threshold: f64,
    /// FAR, TAR and FRR on the test pairs at that threshold, with 95% intervals.
    pub test: AtThreshold,
}

/// One run (fold, seed) of the recipe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldRun {
    /// The run folder.
    pub run: String,
    /// Its seed.
    pub seed: u64,
    /// The f32 encoder (candle) on the test people.
    pub f32: VerificationReport,
    /// The int8 model file on the engine on the test people.
    pub int8: VerificationReport,
    /// Whose pairs the thresholds came from (`"validation identities"`).
    pub thresholds_from: String,
    /// Each operating point of the int8 model file on the test people.
    pub operating_points: Vec<PointOnTest>,
}

/// EER and TAR of one runtime over a fold's seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedStats {
    /// Mean test EER over the seeds, fraction.
    pub eer: f64,
    /// Its spread over the seeds.
    pub eer_spread: Spread,
    /// Mean test TAR at each of the card's FARs (`(far, tar)`), the threshold set on the test
    /// pairs (a property of the scores, not an operating point).
    pub tar_at_far: Vec<(f64, f64)>,
}

/// An operating point across a fold's seeds (or all runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSpread {
    /// The FAR aimed at.
    pub target_far: f64,
    /// Test FAR at the shipped threshold.
    pub test_far: Spread,
    /// Test TAR at the shipped threshold.
    pub test_tar: Spread,
}

/// One test fold: `folds[k].f32.eer`, `folds[k].int8.eer` (means over seeds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldCard {
    /// The test fold.
    pub fold: usize,
    /// Seeds trained.
    pub seeds: Vec<u64>,
    /// f32 (candle).
    pub f32: SeedStats,
    /// int8 on the engine.
    pub int8: SeedStats,
    /// The int8 operating points on the test people, over the seeds.
    pub operating_points: Vec<PointSpread>,
    /// Every run.
    pub runs: Vec<FoldRun>,
}

/// All folds at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldSummary {
    /// Folds covered.
    pub folds: Vec<usize>,
    /// Seeds that cover every fold (the per-seed means use these).
    pub seeds: Vec<u64>,
    /// The f32 mean EER over the folds, one per seed, and their spread.
    pub f32_mean_eer: Spread,
    /// The int8 mean EER over the folds, one per seed, and their spread.
    pub int8_mean_eer: Spread,
    /// Each operating point over every run (fold x seed): test FAR and TAR.
    pub operating_points: Vec<PointSpread>,
}

/// The fold table of the recipe of `shipped` from `runs`, quantized with `args`' PTQ options;
/// TAR at [`OPERATING_FARS`] (the quantize report's).
pub fn fold_table(
    args: &ExportOptions,
    shipped: &Run,
    runs: &[PathBuf],
) -> Result<(Vec<FoldCard>, FoldSummary), BundleError> {
    let fars = &OPERATING_FARS;
    let mut by_fold: BTreeMap<usize, Vec<FoldRun>> = BTreeMap::new();
    for dir in runs {
        let (fold, r) = fold_run(args, shipped, dir)?;
        by_fold.entry(fold).or_default().push(r);
    }
    let cards: Vec<FoldCard> = by_fold
        .into_iter()
        .map(|(fold, mut runs)| {
            runs.sort_by_key(|r| r.seed);
            fold_card(fold, runs, fars)
        })
        .collect();
    let summary = summary(&cards);
    Ok((cards, summary))
}

fn same_recipe(shipped: &Run, run: &Run) -> bool {
    let (a, b) = (&shipped.manifest, &run.manifest);
    let mut ca = a.config.clone();
    ca.seed = b.config.seed;
    a.data == b.data && a.val_people == b.val_people && ca == b.config
}

fn fold_run(
    args: &ExportOptions,
    shipped: &Run,
    dir: &Path,
) -> Result<(usize, FoldRun), BundleError> {
    let run = load_run(dir).map_err(crate::quant::QuantError::from)?;
    if !same_recipe(shipped, &run) {
        return Err(BundleError::OtherRecipe {
            run: dir.to_path_buf(),
            shipped: args.run.clone(),
        });
    }
    let (bytes, report) = quantize_run(&super::bundle::ptq_options(args, dir), |_, _| {})?;
    let model = Model::decode(&bytes)?;
    let splits = load_splits(&run, args.cache.as_deref(), args.limit)
        .map_err(crate::quant::QuantError::from)?;
    let (g, i) = test_distances(&model, &splits.test, &splits.test_pairs)?;
    let operating_points = model
        .decision()
        .points()
        .iter()
        .map(|p| {
            Ok(PointOnTest {
                target_far: crate::quant::thresholds::far_as_given(p.far),
                threshold: f64::from(p.threshold),
                test: at_threshold(&g, &i, f64::from(p.threshold))?,
            })
        })
        .collect::<Result<Vec<_>, BundleError>>()?;
    Ok((
        run.source.fold,
        FoldRun {
            run: dir.display().to_string(),
            seed: run.manifest.config.seed,
            f32: report.test.f32,
            int8: report.test.int8,
            thresholds_from: report.thresholds_from,
            operating_points,
        },
    ))
}

/// Int8 distances of `pairs` of `set` with `model` on the engine, `(genuine, impostor)`.
fn test_distances(
    model: &Model<'_>,
    set: &crate::data::LabelledSet,
    pairs: &Pairs,
) -> Result<(Vec<f64>, Vec<f64>), BundleError> {
    let emb = Int8Embedder::new(model).embed_set(set)?;
    Ok(int8_distances(
        model.metric(),
        &emb,
        model.embedding().scale,
        pairs,
    )?)
}

fn seed_stats(reports: &[&VerificationReport], fars: &[f64]) -> SeedStats {
    let eers: Vec<f64> = reports.iter().map(|r| r.eer.rate).collect();
    let eer_spread = Spread::of(&eers);
    let tar_at_far = fars
        .iter()
        .enumerate()
        .map(|(k, &far)| {
            let tars: Vec<f64> = reports
                .iter()
                .filter_map(|r| r.tar_at_far.get(k).map(|t| t.point.tar.value))
                .collect();
            (far, Spread::of(&tars).mean)
        })
        .collect();
    SeedStats {
        eer: eer_spread.mean,
        eer_spread,
        tar_at_far,
    }
}

fn point_spreads<'a>(runs: impl Iterator<Item = &'a FoldRun> + Clone) -> Vec<PointSpread> {
    let Some(first) = runs.clone().next() else {
        return Vec::new();
    };
    (0..first.operating_points.len())
        .map(|k| {
            let pts: Vec<&PointOnTest> = runs
                .clone()
                .filter_map(|r| r.operating_points.get(k))
                .collect();
            PointSpread {
                target_far: first.operating_points[k].target_far,
                test_far: Spread::of(&pts.iter().map(|p| p.test.far.value).collect::<Vec<_>>()),
                test_tar: Spread::of(&pts.iter().map(|p| p.test.tar.value).collect::<Vec<_>>()),
            }
        })
        .collect()
}

fn fold_card(fold: usize, runs: Vec<FoldRun>, fars: &[f64]) -> FoldCard {
    let f32: Vec<&VerificationReport> = runs.iter().map(|r| &r.f32).collect();
    let int8: Vec<&VerificationReport> = runs.iter().map(|r| &r.int8).collect();
    FoldCard {
        fold,
        seeds: runs.iter().map(|r| r.seed).collect(),
        f32: seed_stats(&f32, fars),
        int8: seed_stats(&int8, fars),
        operating_points: point_spreads(runs.iter()),
        runs,
    }
}

/// The per-seed means over the folds, for the seeds every fold has.
fn summary(cards: &[FoldCard]) -> FoldSummary {
    let seeds: Vec<u64> = cards.first().map_or_else(Vec::new, |c| {
        c.seeds
            .iter()
            .copied()
            .filter(|s| cards.iter().all(|c| c.seeds.contains(s)))
            .collect()
    });
    let per_seed = |side: fn(&FoldRun) -> f64| -> Vec<f64> {
        seeds
            .iter()
            .map(|s| {
                let v: Vec<f64> = cards
                    .iter()
                    .filter_map(|c| c.runs.iter().find(|r| r.seed == *s).map(side))
                    .collect();
                Spread::of(&v).mean
            })
            .collect()
    };
    FoldSummary {
        folds: cards.iter().map(|c| c.fold).collect(),
        f32_mean_eer: Spread::of(&per_seed(|r| r.f32.eer.rate)),
        int8_mean_eer: Spread::of(&per_seed(|r| r.int8.eer.rate)),
        operating_points: point_spreads(cards.iter().flat_map(|c| c.runs.iter())),
        seeds,
    }
}
