//! `siamedge-train data`: fetch the data sets (and the pretrained face-api.js weights) into the
//! cache, inspect what is cached, and write a synthetic signature set.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use siamedge_trainer::data::download::Source;
use siamedge_trainer::data::fetch::{fetch, verify, FetchReport, FetchStatus};
use siamedge_trainer::data::mnist::{label_histogram, FASHION_CLASSES};
use siamedge_trainer::data::orl::{self, RepairRecord};
use siamedge_trainer::data::synth_signature::{write_folder, SignatureSynth};
use siamedge_trainer::data::{DataCache, DataSet, Mnist, OrlFaces};

/// Arguments of `siamedge-train data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// Subcommands of `siamedge-train data`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download the pinned archives, check their sha256, convert, repair and cache the data sets
    /// and the pretrained face-api.js weights (npm `@vladmandic/face-api@1.7.15`, through `npm
    /// pack`). A second run finds them cached and only re-checks the sha256 of the cached files.
    Fetch {
        /// Sets to fetch [default: all four].
        #[arg(value_enum)]
        sets: Vec<SetArg>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print counts, image size and label histogram of a cached data set (for ORL, the repaired
    /// files too; for face-api, its files with their sizes and sha256).
    Inspect {
        /// The data set.
        #[arg(value_enum)]
        set: SetArg,
        /// Print as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic signature set (sigma-lognormal writers: genuine signatures and skilled
    /// forgeries as 200 dpi grey scans) in the plain layout that `train --data signature
    /// --data-dir OUT` reads: OUT/wNNNN/genuine/gNN.png, OUT/wNNNN/forged/fNN.png. Deterministic
    /// under --seed; an existing OUT is refused.
    SynthSignatures {
        /// The new folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Writers [GPDS-like default: 300].
        #[arg(long, default_value_t = 300)]
        writers: u32,
        /// Genuine signatures per writer (GPDS: 24).
        #[arg(long, default_value_t = 24)]
        genuine: u32,
        /// Skilled forgeries per writer (GPDS: 30).
        #[arg(long, default_value_t = 30)]
        forgeries: u32,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// A data set on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetArg {
    /// ORL / AT&T faces (40 people x 10 images, 92x112).
    Orl,
    /// MNIST digits (70,000 images, 28x28).
    Mnist,
    /// Fashion-MNIST (70,000 images, 28x28).
    FashionMnist,
    /// Pretrained face-api.js weights (recognition ResNet-34, 68 landmarks), not training data.
    FaceApi,
}

impl From<SetArg> for DataSet {
    fn from(s: SetArg) -> DataSet {
        match s {
            SetArg::Orl => DataSet::Orl,
            SetArg::Mnist => DataSet::Mnist,
            SetArg::FashionMnist => DataSet::FashionMnist,
            SetArg::FaceApi => DataSet::FaceApi,
        }
    }
}

/// Runs `siamedge-train data`; `verbose` > 0 prints every step. A closed stdout (`| head`) ends the
/// output quietly.
pub fn run(args: DataArgs, verbose: u8) -> Result<()> {
    let cache = DataCache::resolve(args.cache.as_deref()).context("choosing the cache folder")?;
    let mut out = std::io::stdout().lock();
    let result = match args.command {
        DataCommand::Fetch { sets, json } => run_fetch(&mut out, &cache, &sets, json, verbose),
        DataCommand::Inspect { set, json } => run_inspect(&mut out, &cache, set.into(), json),
        DataCommand::SynthSignatures {
            out: dir,
            writers,
            genuine,
            forgeries,
            seed,
        } => {
            let synth = SignatureSynth {
                seed,
                genuine_per_writer: genuine,
                forgeries_per_writer: forgeries,
                ..SignatureSynth::default()
            };
            let bar = ProgressBar::new(u64::from(writers));
            let s = write_folder(&synth, &dir, writers, |done, _| {
                bar.set_position(u64::from(done))
            })
            .with_context(|| format!("writing the synthetic signature set {}", dir.display()))?;
            bar.finish_and_clear();
            writeln!(
                out,
                "wrote {}: {} writers x ({} genuine + {} skilled forgeries), {} images, {:.1} MB, seed {}",
                dir.display(),
                s.writers,
                s.genuine_per_writer,
                s.forgeries_per_writer,
                s.images,
                s.bytes as f64 / 1e6,
                s.seed
            )
            .map_err(Into::into)
        }
    };
    match result {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[derive(Serialize)]
struct FetchOutput<'a> {
    cache: &'a std::path::Path,
    seconds: f64,
    datasets: &'a [FetchReport],
}

fn run_fetch(
    out: &mut impl Write,
    cache: &DataCache,
    sets: &[SetArg],
    json: bool,
    verbose: u8,
) -> Result<()> {
    let start = Instant::now();
    let mut chosen: Vec<DataSet> = sets.iter().map(|&s| s.into()).collect();
    if chosen.is_empty() {
        chosen = DataSet::ALL.to_vec();
    }
    chosen.sort();
    chosen.dedup();
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut reports = Vec::with_capacity(chosen.len());
    for set in chosen {
        spinner.set_message(format!("{set}: checking the cache"));
        let mut log = |line: &str| {
            if verbose > 0 {
                if spinner.is_hidden() {
                    eprintln!("{line}");
                } else {
                    spinner.println(line);
                }
            }
            spinner.set_message(line.to_string());
        };
        let report = fetch(cache, set, &mut log)
            .with_context(|| format!("fetching {set} into {}", cache.root().display()))?;
        reports.push(report);
    }
    spinner.finish_and_clear();
    if json {
        let report = FetchOutput {
            cache: cache.root(),
            seconds: start.elapsed().as_secs_f64(),
            datasets: &reports,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(out, "cache {}", cache.root().display())?;
    for r in &reports {
        let status = match r.status {
            FetchStatus::Cached => "cached (sha256 re-checked)",
            FetchStatus::Rebuilt => "rebuilt from downloads/",
            FetchStatus::Fetched => "fetched",
        };
        let images = if r.dataset == DataSet::FaceApi.name() {
            "weights".to_string()
        } else {
            format!("{} images", r.images)
        };
        writeln!(
            out,
            "{:<14} {} ({}, sha256 {}…): {status}, {} files, {images}, {:.2} s",
            r.dataset,
            r.source,
            r.pin.registry,
            &r.pin.sha256[..12],
            r.files,
            r.seconds
        )?;
        if let Some(s) = &r.repairs {
            writeln!(out,
                "{:<14} repaired {} files with CR LF damage; {} ambiguous ({}) with {} CR LF pairs, {} kept as pixels",
                "",
                s.repaired,
                s.ambiguous,
                s.ambiguous_files.join(", "),
                s.ambiguous_pairs,
                s.kept_pairs
            )?;
        }
    }
    writeln!(out, "total {:.2} s", start.elapsed().as_secs_f64())?;
    Ok(())
}

#[derive(Serialize)]
struct Histogram {
    label: String,
    images: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    train: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<usize>,
}

#[derive(Serialize)]
struct Inspection {
    dataset: String,
    source: String,
    credit: String,
    images: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    train: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<usize>,
    width: usize,
    height: usize,
    classes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    folds: Option<usize>,
    histogram: Vec<Histogram>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repairs: Vec<RepairRecord>,
}

fn run_inspect(out: &mut impl Write, cache: &DataCache, set: DataSet, json: bool) -> Result<()> {
    let source = Source::of(set);
    let missing = || {
        format!(
            "reading {set} from {} (run `siamedge-train data fetch {set}` first)",
            cache.root().display()
        )
    };
    let ins = match set {
        DataSet::FaceApi => return inspect_weights(out, cache, set, json),
        DataSet::Orl => {
            let faces = OrlFaces::load(cache).with_context(missing)?;
            let histogram = faces
                .label_histogram()
                .into_iter()
                .enumerate()
                .map(|(p, n)| Histogram {
                    label: format!("s{}", p + 1),
                    images: n,
                    train: None,
                    test: None,
                })
                .collect();
            let (width, height) = faces.images.first().map_or((0, 0), |i| (i.width, i.height));
            Inspection {
                dataset: set.name().into(),
                source: source.label(),
                credit: source.credit.into(),
                images: faces.images.len(),
                train: None,
                test: None,
                width,
                height,
                classes: faces.people,
                folds: Some(orl::FOLDS),
                histogram,
                repairs: faces.repairs,
            }
        }
        DataSet::Mnist | DataSet::FashionMnist => {
            let data = Mnist::load(cache, set).with_context(missing)?;
            let (train, test) = (
                label_histogram(&data.train_labels),
                label_histogram(&data.test_labels),
            );
            let histogram = (0..train.len())
                .map(|l| Histogram {
                    label: if set == DataSet::FashionMnist {
                        format!("{l} {}", FASHION_CLASSES[l])
                    } else {
                        l.to_string()
                    },
                    images: train[l] + test[l],
                    train: Some(train[l]),
                    test: Some(test[l]),
                })
                .collect();
            Inspection {
                dataset: set.name().into(),
                source: source.label(),
                credit: source.credit.into(),
                images: data.train_len() + data.test_len(),
                train: Some(data.train_len()),
                test: Some(data.test_len()),
                width: data.width,
                height: data.height,
                classes: train.len(),
                folds: None,
                histogram,
                repairs: Vec::new(),
            }
        }
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&ins)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} from {} (credit: {})",
        ins.dataset, ins.source, ins.credit
    )?;
    if set == DataSet::Orl {
        writeln!(
            out,
            "images {} of {} people, {}x{} pixels",
            ins.images, ins.classes, ins.width, ins.height
        )?;
        writeln!(out, "images per person:")?;
        let counts: Vec<String> = ins
            .histogram
            .iter()
            .map(|h| format!("{:>4}:{}", h.label, h.images))
            .collect();
        for line in counts.chunks(10) {
            writeln!(out, "  {}", line.join(" "))?;
        }
        writeln!(out, "{} identity-disjoint folds: fold k tests on people s(10k+1)..s(10k+10), trains on the rest", orl::FOLDS)?;
        let ambiguous = ins.repairs.iter().filter(|r| r.is_ambiguous()).count();
        writeln!(
            out,
            "repaired {} files with CR LF damage, {} of them ambiguous:",
            ins.repairs.len(),
            ambiguous
        )?;
        for r in &ins.repairs {
            let detail = if r.is_ambiguous() {
                format!(
                    "; {} CR LF pairs, {} kept as pixels at {:?} ({} search over {} candidates, cost {} vs runner-up {})",
                    r.pairs,
                    r.kept,
                    r.kept_at,
                    r.resolution,
                    r.candidates,
                    r.cost,
                    r.runner_up_cost.map_or("-".to_string(), |c| c.to_string())
                )
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {:<10} {} bytes: removed {} CR from the header, {} from the pixels{detail}",
                r.file, r.damaged_bytes, r.header_crs, r.pixel_crs
            )?;
        }
    } else {
        writeln!(
            out,
            "images {} (train {}, test {}), {}x{} pixels, {} classes",
            ins.images,
            ins.train.unwrap_or(0),
            ins.test.unwrap_or(0),
            ins.width,
            ins.height,
            ins.classes
        )?;
        writeln!(out, "  {:<16} {:>6} {:>6}", "label", "train", "test")?;
        for h in &ins.histogram {
            writeln!(
                out,
                "  {:<16} {:>6} {:>6}",
                h.label,
                h.train.unwrap_or(0),
                h.test.unwrap_or(0)
            )?;
        }
    }
    Ok(())
}

/// `data inspect face-api`: the manifest of the cached weights, after re-checking their sha256.
fn inspect_weights(
    out: &mut impl Write,
    cache: &DataCache,
    set: DataSet,
    json: bool,
) -> Result<()> {
    let manifest = verify(cache, set).with_context(|| {
        format!(
            "reading {set} from {} (run `siamedge-train data fetch {set}` first)",
            cache.root().display()
        )
    })?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&manifest)?)?;
        return Ok(());
    }
    let source = &manifest.source;
    writeln!(
        out,
        "{} from {} {}@{} (credit: {})",
        manifest.dataset, source.registry, source.package, source.version, source.credit
    )?;
    writeln!(out, "folder {}", cache.dataset_dir(set).display())?;
    for f in &manifest.files {
        writeln!(
            out,
            "  {:<46} {:>9} bytes  sha256 {}",
            f.path, f.bytes, f.sha256
        )?;
    }
    Ok(())
}
