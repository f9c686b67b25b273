//! `siamedge-train bench`: training throughput of the shipped face architecture, with a PyTorch
//! peer beside it.
//!
//! Trains the reference CNN (conv3x3-BN-ReLU-maxpool x 3 with 16, 32, 64 channels, 64-d
//! L2-normalised embedding) at 56x46 on P x K batches (64 images: 16 identities x 4) with the
//! batch-hard triplet loss (margin 0.5) and AdamW, for `--warmup` untimed steps and then `--steps`
//! timed ones, and reports images per second. The images are seeded synthetic faces (40
//! identities x 10 images, a noisy prototype each), so the benchmark needs no data; augmentation is
//! off unless `--augment`, because the peer does none.
//!
//! The peer is `scripts/bench_torch.py`: the same network, batch, loss, optimiser and thread count
//! in PyTorch on the CPU; `--peer FILE` reads its JSON and prints both rows with the ratio.
//! `scripts/bench-train.sh` runs the two with the same thread count.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use siamedge_trainer::data::{ImageShape, LabelledSet};
use siamedge_trainer::sampler::Augment;
use siamedge_trainer::train::{TrainConfig, Trainer};

/// Arguments of `siamedge-train bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
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

/// One framework's throughput (also the JSON `scripts/bench_torch.py` writes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    /// `"candle"` or `"pytorch"`.
    pub framework: String,
    /// Framework version.
    pub version: String,
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
    /// Mean loss of the timed steps (a sanity check that both train the same problem).
    pub mean_loss: f64,
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
    let set = synthetic_faces(args.height, args.width)?;
    let mut cfg = TrainConfig::reference(args.height, args.width, 64);
    cfg.batch = args.batch;
    cfg.per_identity = args.per_identity;
    cfg.steps = args.warmup + args.steps;
    cfg.optimizer.warmup_steps = 0;
    cfg.augment = if args.augment {
        Augment::faces()
    } else {
        Augment::default()
    };
    let images = cfg.images_per_step();
    let mut trainer = Trainer::new(cfg, &set).context("building the benchmark run")?;
    for _ in 0..args.warmup {
        trainer.step(&set)?;
    }
    let mut ms = Vec::with_capacity(args.steps);
    let mut losses = 0.0f64;
    let start = Instant::now();
    for _ in 0..args.steps {
        let t = Instant::now();
        losses += f64::from(trainer.step(&set)?);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let seconds = start.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    Ok(BenchResult {
        framework: "candle".into(),
        version: "0.11".into(),
        threads: candle_core::utils::get_num_threads(),
        batch: images,
        steps: args.steps,
        images_per_second: (images * args.steps) as f64 / seconds.max(1e-9),
        median_ms_per_step: ms.get(ms.len() / 2).copied().unwrap_or(0.0),
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
        "reference CNN {}x{}, batch-hard, AdamW, batch {} ({} per identity), {} timed steps{}\n",
        args.height,
        args.width,
        ours.batch,
        args.per_identity,
        ours.steps,
        if args.augment {
            ", with augmentation"
        } else {
            ""
        }
    );
    println!("| framework | version | threads | images/s | median ms/step | mean loss |");
    println!("|---|---|---|---|---|---|");
    for r in std::iter::once(&ours).chain(peer.as_ref()) {
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.4} |",
            r.framework,
            r.version,
            r.threads,
            r.images_per_second,
            r.median_ms_per_step,
            r.mean_loss
        );
    }
    if let Some(p) = &peer {
        println!(
            "\ncandle / {} throughput ratio: {:.2}",
            p.framework,
            ours.images_per_second / p.images_per_second.max(1e-9)
        );
    }
    Ok(())
}
