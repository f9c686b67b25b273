//! `siamedge-train train`: learn a Siamese encoder (or a pair-scoring network) on ORL, MNIST or
//! your own images, select the model on validation identities carved out of the training
//! identities, and judge it on the held-out identities with REFERENCE.md's protocol.
//!
//! Every flag can also come from a TOML file (`--config FILE`) under the same name (`steps = 1500`,
//! `per-identity = 4`); a flag on the command line wins over the file, the file over the default, and
//! an unknown key in the file is an error that names it. `OUT/` receives the checkpoints
//! (`last.*`, `best.*`), the selected weights (`model.safetensors`) and `summary.json`. The
//! pipeline is [`siamedge_trainer::train::pipeline`]; this module parses flags, draws the progress
//! bar and handles Ctrl-C.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use siamedge_trainer::train::{Recipe, StepReport, TrainJob, TrainOutcome};

use super::choices::{ArchArg, DataArg, LossArg, MergeArg, OptimizerArg, ScheduleArg};

/// Arguments of `siamedge-train train`; each may also be a key of the `--config` file.
#[derive(Debug, Default, Clone, Args)]
pub struct TrainArgs {
    /// TOML file with any of these options (kebab-case keys); flags given here win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run folder: checkpoints, selected weights, summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in OUT from OUT/last.json with its own training config (the data flags
    /// --data, --fold, --cache, --val-people, --limit must match the first invocation).
    #[arg(long)]
    pub resume: bool,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Data set [default: orl].
    #[arg(long, value_enum)]
    pub data: Option<DataArg>,
    /// Root folder of a `folder` or `signature` data set.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Test fold: ORL 0..3, or 0..folds-1 for a folder or signature set [default: 0].
    #[arg(long)]
    pub fold: Option<usize>,
    /// Identity-disjoint folds of a folder or signature set [default: 4].
    #[arg(long)]
    pub folds: Option<usize>,
    /// Input height in pixels [default: 56 for ORL, 28 for MNIST].
    #[arg(long)]
    pub height: Option<usize>,
    /// Input width in pixels [default: 46 for ORL, 28 for MNIST].
    #[arg(long)]
    pub width: Option<usize>,
    /// Network [default: cnn].
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// Use the compact depthwise-separable encoder family (widths 8,16,32,32) instead of the
    /// reference CNN (16,32,64).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub compact: Option<bool>,
    /// Channel widths of the conv blocks, comma-separated (overrides --compact's).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// Depthwise-separable blocks after the first.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub separable: Option<bool>,
    /// Embedding dimension (hidden width of the 2-channel head) [default: 64].
    #[arg(long)]
    pub dim: Option<usize>,
    /// Hidden units of the pair networks' classifier [default: 64].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// merge, cross-input, norm-corr: encoder blocks before the comparison [default: 2].
    #[arg(long)]
    pub merge_after: Option<usize>,
    /// merge: the two towers share weights [default: true].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub tied: Option<bool>,
    /// merge: how the towers' maps are joined [default: concat].
    #[arg(long, value_enum)]
    pub merge: Option<MergeArg>,
    /// cross-input: neighbourhood side; norm-corr: search window side (odd) [default: 5].
    #[arg(long)]
    pub window: Option<usize>,
    /// norm-corr: patch side (odd) [default: 3].
    #[arg(long)]
    pub patch: Option<usize>,
    /// cross-input, norm-corr: channels of the 1x1 patch summary [default: 32].
    #[arg(long)]
    pub summary: Option<usize>,
    /// Loss [default: batch-hard for cnn, binary for the pair networks].
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// Margin of the contrastive, triplet and logistic losses [default: per loss].
    #[arg(long)]
    pub margin: Option<f64>,
    /// CosFace scale [default: 16].
    #[arg(long)]
    pub cosface_scale: Option<f64>,
    /// CosFace cosine margin [default: 0.25].
    #[arg(long)]
    pub cosface_margin: Option<f64>,
    /// Optimisation steps [default: 1500].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Images per step [default: 64].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Images per identity K in P x K batches [default: 4; 12 for MNIST's 5 classes].
    #[arg(long)]
    pub per_identity: Option<usize>,
    /// Optimiser [default: adamw].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Peak learning rate [default: 1e-3].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight decay [default: 1e-4].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// SGD momentum [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Learning-rate schedule after warm-up [default: cosine].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Warm-up steps [default: 50].
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Final learning rate of the cosine schedule as a fraction of --lr [default: 0.01].
    #[arg(long)]
    pub min_lr_ratio: Option<f64>,
    /// Maximal random shift in pixels [default: 4 for ORL, 2 for MNIST].
    #[arg(long)]
    pub crop_pad: Option<usize>,
    /// Random horizontal flips [default: true for ORL, false for MNIST].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub flip: Option<bool>,
    /// Brightness and contrast jitter, +- this fraction [default: 0.1 for ORL, 0 for MNIST].
    #[arg(long)]
    pub jitter: Option<f32>,
    /// Rotation jitter, +- this many degrees about the image centre [default: 0].
    #[arg(long)]
    pub rotate: Option<f32>,
    /// Scale jitter: zoom by a factor in 1 +- this [default: 0].
    #[arg(long)]
    pub scale: Option<f32>,
    /// Seed of initialisation, batches and augmentation [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Training identities held out for validation (model selection, early stopping); 0 for none
    /// [default: 5 for ORL, 0 for MNIST].
    #[arg(long)]
    pub val_people: Option<usize>,
    /// Steps between validations [default: 100].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Stop after this many validations without improvement; 0 never stops early [default: 0].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Steps between checkpoints [default: 250].
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Steps between lines of OUT/log.jsonl (validations and the last step are always logged)
    /// [default: 10].
    #[arg(long)]
    pub log_every: Option<usize>,
    /// MNIST: training images of digits 0-4 to use, in file order [default: 10000].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// The recipe these flags give (without `--config`'s file).
    pub fn recipe(&self) -> Recipe {
        Recipe {
            out: self.out.clone(),
            cache: self.cache.clone(),
            data: self.data.map(Into::into),
            data_dir: self.data_dir.clone(),
            fold: self.fold,
            folds: self.folds,
            height: self.height,
            width: self.width,
            arch: self.arch.map(Into::into),
            compact: self.compact,
            widths: self.widths.clone(),
            separable: self.separable,
            dim: self.dim,
            hidden: self.hidden,
            merge_after: self.merge_after,
            tied: self.tied,
            merge: self.merge.map(Into::into),
            window: self.window,
            patch: self.patch,
            summary: self.summary,
            loss: self.loss.map(Into::into),
            margin: self.margin,
            cosface_scale: self.cosface_scale,
            cosface_margin: self.cosface_margin,
            steps: self.steps,
            batch: self.batch,
            per_identity: self.per_identity,
            optimizer: self.optimizer.map(Into::into),
            lr: self.lr,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            schedule: self.schedule.map(Into::into),
            warmup: self.warmup,
            min_lr_ratio: self.min_lr_ratio,
            crop_pad: self.crop_pad,
            flip: self.flip,
            jitter: self.jitter,
            rotate: self.rotate,
            scale: self.scale,
            seed: self.seed,
            val_people: self.val_people,
            eval_every: self.eval_every,
            patience: self.patience,
            checkpoint_every: self.checkpoint_every,
            log_every: self.log_every,
            limit: self.limit,
        }
    }
}

fn progress_bar(total: usize, start: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_position(start as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Environment variable that sizes candle's pool for element-wise CPU ops.
const CANDLE_THREADS_ENV: &str = "CANDLE_NUM_THREADS";

/// The data flags a resumed run must repeat, as they were given.
fn resume_flags(args: &TrainArgs) -> String {
    let mut f = Vec::new();
    if let Some(c) = &args.config {
        f.push(format!("--config {}", c.display()));
    }
    if let Some(d) = args.data {
        f.push(format!(
            "--data {}",
            d.to_possible_value()
                .map_or("orl".into(), |v| v.get_name().to_string())
        ));
    }
    if let Some(d) = &args.data_dir {
        f.push(format!("--data-dir {}", d.display()));
    }
    if let Some(c) = &args.cache {
        f.push(format!("--cache {}", c.display()));
    }
    for (name, v) in [
        ("--fold", args.fold),
        ("--folds", args.folds),
        ("--val-people", args.val_people),
        ("--limit", args.limit),
    ] {
        if let Some(v) = v {
            f.push(format!("{name} {v}"));
        }
    }
    f.join(" ")
}

/// The flag the Ctrl-C handler raises, cleared for this run. The handler is installed once per
/// process: the first Ctrl-C raises the flag (the run checkpoints and exits at the end of the
/// step), a second one exits at once with status 130.
fn ctrl_c_flag() -> Result<Arc<AtomicBool>> {
    static FLAG: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
    let mut slot = FLAG.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = slot.as_ref() {
        f.store(false, Ordering::SeqCst);
        return Ok(f.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    ctrlc::set_handler(move || {
        if raised.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!(
            "\nCtrl-C: finishing this step and writing a checkpoint (Ctrl-C again to quit now)"
        );
    })
    .context("installing the Ctrl-C handler")?;
    *slot = Some(flag.clone());
    Ok(flag)
}

/// Runs `siamedge-train train`.
///
/// Unless `CANDLE_NUM_THREADS` is set, element-wise ops run on one thread (matrix products keep all
/// cores): candle's element-wise pool spin-waits on its workers, which on a 2-core machine shared with
/// other work cost up to a third of the throughput of the reference run.
pub fn run(args: TrainArgs, verbose: u8) -> Result<()> {
    if std::env::var_os(CANDLE_THREADS_ENV).is_none() {
        std::env::set_var(CANDLE_THREADS_ENV, "1");
    }
    let mut recipe = args.recipe();
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        recipe = recipe
            .merged_with_toml(&text)
            .with_context(|| format!("in {}", path.display()))?;
    }
    let job = TrainJob::prepare(&recipe, args.resume)?;
    if verbose > 0 {
        eprintln!(
            "{}; training on {} images of {} identities, validating on {} identities",
            job.splits().protocol,
            job.train_set().len(),
            job.train_set().classes().len(),
            job.validation_set().map_or(0, |v| v.classes().len())
        );
    }
    let out = job.out().to_path_buf();
    let stop = ctrl_c_flag()?;
    let bar = progress_bar(
        job.trainer().config().steps,
        job.trainer().step_index(),
        args.json && verbose == 0,
    );
    let mut last_eer: Option<f64> = None;
    let on_step = |r: &StepReport| {
        if r.validation_eer.is_some() {
            last_eer = r.validation_eer;
        }
        bar.set_position(r.step as u64);
        bar.set_message(format!(
            "loss {:.4}  lr {:.2e}  {:.0} img/s{}",
            r.loss,
            r.lr,
            r.images_per_second,
            last_eer.map_or(String::new(), |e| format!("  val EER {:.2}%", 100.0 * e))
        ));
    };
    let result = match job.run(Some(stop), on_step)? {
        TrainOutcome::Finished(s) => s,
        TrainOutcome::Interrupted { step, steps } => {
            bar.abandon();
            eprintln!(
                "interrupted: checkpoint of step {step} of {steps} written to {}; continue with\n  \
                 siamedge-train train --out {} --resume {}",
                out.join("last.json").display(),
                out.display(),
                resume_flags(&args)
            );
            std::process::exit(130);
        }
    };
    bar.finish();
    let path = out.join("summary.json");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        let t = &result.test;
        let tar = t.tar_at(1e-3);
        println!(
            "{}\nEER {:.2}% (95% CI {:.2}-{:.2}), TAR@FAR=1e-3 {} ({} of {} genuine at {} of {} \
             false accepts), AUC {:.4}; {} steps, {:.0} images/s, {:.0} s; summary in {}",
            result.manifest.protocol,
            100.0 * t.eer.rate,
            100.0 * t.eer.ci95.lower,
            100.0 * t.eer.ci95.upper,
            tar.map_or("n/a".to_string(), |p| format!(
                "{:.1}%",
                100.0 * p.point.tar.value
            )),
            tar.map_or(0, |p| p.point.tar.count),
            t.genuine_trials,
            tar.map_or(0, |p| p.point.far.count),
            t.impostor_trials,
            t.auc,
            result.manifest.steps,
            result.images_per_second,
            result.seconds,
            path.display()
        );
    }
    Ok(())
}
