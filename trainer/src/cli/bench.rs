//! `siamedge-train bench`: training throughput of a recipe, with a PyTorch peer beside it.
//!
//! Trains either the reference CNN (conv3x3-BN-ReLU-maxpool x 3 with 16, 32, 64 channels, 64-d
//! L2-normalised embedding, 56x46, P x K = 16 x 4, batch-hard triplet margin 0.5, AdamW) or, with
//! `--config FILE`, the recipe of a `train --config` file (the shipped face recipe:
//! `models/face-orl/train.toml`, its blocks, input size, P x K batch, loss head and optimiser), for
//! `--warmup` untimed steps and then `--steps` timed ones. It reports images per second, the
//! median milliseconds per step split into data (sampling, augmentation, the batch tensor),
//! forward (network and loss), backward and optimiser, and the process's peak RSS. The images are
//! seeded synthetic faces (40 identities x 10 images, a noisy prototype each), so the benchmark
//! needs no data. Augmentation is off without `--config` unless `--augment`; with `--config` it is
//! the recipe's.
//!
//! The peer is `scripts/bench_torch.py`: the same network, batch, loss, optimiser, augmentation
//! and thread count in PyTorch on the CPU; `--peer FILE` reads its JSON and prints both rows with
//! the ratio. `scripts/bench-train.sh` runs the two, at 1 and 2 threads.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use siamedge_trainer::data::{ImageShape, LabelledSet};
use siamedge_trainer::sampler::Augment;
use siamedge_trainer::train::{Recipe, StepTimes, TrainConfig, Trainer};

/// Arguments of `siamedge-train bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A `train --config` recipe file to bench (e.g. models/face-orl/train.toml) instead of the
    /// reference CNN; its input size, network, loss, batch, optimiser and augmentation are used
    /// (the size flags and `--augment` are then ignored).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Timed training steps.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed steps first (allocations, thread pools).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Threads for matrix products and element-wise ops (sets RAYON_NUM_THREADS and
    /// CANDLE_NUM_THREADS) [default: as the environment says].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Images per identity in a batch.
    #[arg(long, default_value_t = 4)]
    pub per_identity: usize,
    /// Input height.
    #[arg(long, default_value_t = 56)]
    pub height: usize,
    /// Input width.
    #[arg(long, default_value_t = 46)]
    pub width: usize,
    /// Apply the face augmentation (shift, flip, jitter) to every batch, as `train` does.
    #[arg(long)]
    pub augment: bool,
    /// JSON written by `scripts/bench_torch.py`, shown beside candle's row with the ratio.
    #[arg(long, value_name = "FILE")]
    pub peer: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Median milliseconds of each phase of a step.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PhaseMs {
    /// Sampling, augmentation, the batch tensor.
    pub data: f64,
    /// Network and loss.
    pub forward: f64,
    /// Gradients.
    pub backward: f64,
    /// Parameter update.
    pub optimizer: f64,
}

/// One framework's throughput (also the JSON `scripts/bench_torch.py` writes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    /// `"candle"` or `"pytorch"`.
    pub framework: String,
    /// Framework version.
    pub version: String,
    /// What was trained: `"reference"` or the recipe file's name.
    #[serde(default)]
    pub recipe: String,
    /// Threads it was allowed.
    pub threads: usize,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Images per second over the timed steps.
    pub images_per_second: f64,
    /// Median milliseconds per step.
    pub median_ms_per_step: f64,
    /// Median milliseconds of each phase (each phase's own median, so they need not add up to
    /// the step's).
    #[serde(default)]
    pub phase_ms: Option<PhaseMs>,
    /// Peak resident set of the process, MiB (Linux `VmHWM`; `ru_maxrss` for the peer).
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
    /// Mean loss of the timed steps (a sanity check that both train the same problem).
    pub mean_loss: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The process's peak resident set in MiB, from `/proc/self/status` (`None` off Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The configuration `args` bench: the recipe file's, or the reference CNN's.
pub fn bench_config(args: &BenchArgs) -> Result<(TrainConfig, String)> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let recipe = Recipe::default()
                .merged_with_toml(&text)
                .with_context(|| format!("in {}", path.display()))?;
            recipe.train_config()
        }
        None => {
            let mut cfg = TrainConfig::reference(args.height, args.width, 64);
            cfg.batch = args.batch;
            cfg.per_identity = args.per_identity;
            cfg.augment = if args.augment {
                Augment::faces()
            } else {
                Augment::default()
            };
            cfg
        }
    };
    cfg.steps = args.warmup + args.steps;
    cfg.optimizer.warmup_steps = 0;
    let name = args
        .config
        .as_ref()
        .map_or_else(|| "reference".to_string(), |p| p.display().to_string());
    Ok((cfg, name))
}

/// 40 identities x 10 grey images of `h x w`: a uniform random prototype per identity plus
/// +-0.15 noise per image, clamped to `[0, 1]`, from ChaCha8 seed 7.
pub fn synthetic_faces(h: usize, w: usize) -> Result<LabelledSet> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut pixels = Vec::with_capacity(400 * h * w);
    let mut labels = Vec::with_capacity(400);
    for c in 0..40u32 {
        let proto: Vec<f32> = (0..h * w).map(|_| rng.random::<f32>()).collect();
        for _ in 0..10 {
            pixels.extend(
                proto
                    .iter()
                    .map(|p| (p + 0.3 * (rng.random::<f32>() - 0.5)).clamp(0.0, 1.0)),
            );
            labels.push(c);
        }
    }
    Ok(LabelledSet::new(pixels, labels, ImageShape::grey(h, w))?)
}

/// Runs the candle side of the benchmark.
pub fn bench_candle(args: &BenchArgs) -> Result<BenchResult> {
    let (cfg, recipe) = bench_config(args)?;
    let e = &cfg.model.encoder;
    let set = synthetic_faces(e.height, e.width)?;
    let images = cfg.images_per_step();
    let mut trainer = Trainer::new(cfg, &set).context("building the benchmark run")?;
    for _ in 0..args.warmup {
        trainer.step(&set)?;
    }
    let mut times: Vec<StepTimes> = Vec::with_capacity(args.steps);
    let mut losses = 0.0f64;
    let start = Instant::now();
    for _ in 0..args.steps {
        let (loss, t) = trainer.step_timed(&set)?;
        losses += f64::from(loss);
        times.push(t);
    }
    let seconds = start.elapsed().as_secs_f64();
    let ms = |f: fn(&StepTimes) -> std::time::Duration| {
        median(times.iter().map(|t| f(t).as_secs_f64() * 1e3).collect())
    };
    Ok(BenchResult {
        framework: "candle".into(),
        version: "0.11".into(),
        recipe,
        threads: candle_core::utils::get_num_threads(),
        batch: images,
        steps: args.steps,
        images_per_second: (images * args.steps) as f64 / seconds.max(1e-9),
        median_ms_per_step: ms(|t| t.total()),
        phase_ms: Some(PhaseMs {
            data: ms(|t| t.data),
            forward: ms(|t| t.forward),
            backward: ms(|t| t.backward),
            optimizer: ms(|t| t.optimizer),
        }),
        peak_rss_mib: peak_rss_mib(),
        mean_loss: losses / args.steps.max(1) as f64,
    })
}

/// Runs `siamedge-train bench`.
pub fn run(args: BenchArgs, _verbose: u8) -> Result<()> {
    if let Some(t) = args.threads {
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", t.to_string());
    }
    anyhow::ensure!(args.steps > 0, "--steps must be at least 1");
    let ours = bench_candle(&args)?;
    let peer: Option<BenchResult> = match &args.peer {
        Some(p) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("parsing {}", p.display()))?,
        ),
        None => None,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "candle": ours, "peer": peer }))?
        );
        return Ok(());
    }
    println!(
        "{}, batch {}, {} timed steps after {} untimed\n",
        if args.config.is_some() {
            format!("recipe {}", ours.recipe)
        } else {
            format!(
                "reference CNN {}x{}, batch-hard, AdamW{}",
                args.height,
                args.width,
                if args.augment {
                    ", with augmentation"
                } else {
                    ""
                }
            )
        },
        ours.batch,
        ours.steps,
        args.warmup,
    );
    println!("| framework | version | threads | images/s | median ms/step | data | forward | backward | optimizer | peak RSS MiB | mean loss |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in std::iter::once(&ours).chain(peer.as_ref()) {
        let p = r.phase_ms.unwrap_or_default();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.4} |",
            r.framework,
            r.version,
            r.threads,
            r.images_per_second,
            r.median_ms_per_step,
            p.data,
            p.forward,
            p.backward,
            p.optimizer,
            r.peak_rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
            r.mean_loss
        );
    }
    if let Some(p) = &peer {
        anyhow::ensure!(
            p.batch == ours.batch && p.threads == ours.threads,
            "the peer ran batch {} on {} thread(s), candle batch {} on {}: not the same run",
            p.batch,
            p.threads,
            ours.batch,
            ours.threads
        );
        println!(
            "\ncandle / {} throughput ratio: {:.2}",
            p.framework,
            ours.images_per_second / p.images_per_second.max(1e-9)
        );
    }
    Ok(())
}
