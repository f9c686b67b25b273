//! `siamedge-train train`: learn a Siamese encoder (or a pair-scoring network) on ORL or MNIST, select
//! the model on validation identities carved out of the training identities, and judge it on the
//! held-out identities with REFERENCE.md's protocol.
//!
//! Every flag can also come from a TOML file (`--config FILE`) under the same name (`steps = 1500`,
//! `per-identity = 4`); a flag on the command line wins over the file, the file over the default, and
//! an unknown key in the file is an error that names it. `OUT/` receives the checkpoints
//! (`last.*`, `best.*`), the selected weights (`model.safetensors`) and `summary.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::splits::{DataSource, DEFAULT_FOLDS};
use crate::eval::VerificationReport;
use crate::loss::LossKind;
use crate::model::{Arch, EncoderConfig};
use crate::sampler::Augment;
use crate::train::checkpoint::{read_sidecar, BestValidation};
use crate::train::{
    run as run_training, split_validation, verify_pairs, OptimizerKind, RunOptions, Schedule,
    StepReport, TrainConfig, TrainLog, Trainer, LOG_FILE,
};

/// FARs at which the summary reports the TAR.
pub const FAR_TARGETS: [f64; 2] = [1e-3, 1e-2];

/// A data set to train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataArg {
    /// ORL faces, identity-disjoint fold `--fold` (test people 10k..10k+9).
    Orl,
    /// MNIST open set: train on digits 0-4 of the training split, test on digits 5-9 of the test split.
    Mnist,
    /// Your own images, `--data-dir DIR` with one sub-folder per identity (PNG, JPEG, PGM);
    /// identity-disjoint fold `--fold` of `--folds`.
    Folder,
    /// Your own signatures, `--data-dir DIR` with `WRITER/genuine/*` and `WRITER/forged/*`;
    /// writer-disjoint fold `--fold` of `--folds`, tested against skilled forgeries.
    Signature,
}

impl DataArg {
    /// Default `(height, width)`: 56x46 for faces (ORL, folders), 28x28 for digits, 64x128 for
    /// signatures.
    pub fn default_size(self) -> (usize, usize) {
        match self {
            DataArg::Orl | DataArg::Folder => (56, 46),
            DataArg::Mnist => (28, 28),
            DataArg::Signature => (64, 128),
        }
    }

    /// Default augmentation: faces get flips and jitter, digits small shifts, signatures shifts
    /// and jitter but never a flip.
    pub fn default_augment(self) -> Augment {
        match self {
            DataArg::Orl | DataArg::Folder => Augment::faces(),
            DataArg::Mnist => Augment::digits(),
            DataArg::Signature => Augment {
                hflip: false,
                ..Augment::faces()
            },
        }
    }

    /// Default validation identities carved out of the training ones.
    pub fn default_val_people(self) -> usize {
        match self {
            DataArg::Mnist => 0,
            _ => 5,
        }
    }
}

/// Arguments of `siamedge-train train`; each may also be a key of the `--config` file.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainArgs {
    /// TOML file with any of these options (kebab-case keys); flags given here win.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Run folder: checkpoints, selected weights, summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in OUT from OUT/last.json with its own training config (the data flags
    /// --data, --fold, --cache, --val-people, --limit must match the first invocation).
    #[arg(long)]
    #[serde(skip)]
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
    pub arch: Option<Arch>,
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
    /// Hidden units of the hybrid classifier [default: 64].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Loss [default: batch-hard for cnn, binary for two-channel and hybrid].
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
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
    pub optimizer: Option<OptimizerKind>,
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
    pub schedule: Option<Schedule>,
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
    #[serde(skip)]
    pub json: bool,
}

macro_rules! merge_fields {
    ($cli:ident, $file:ident, $($f:ident),*) => {
        $( if $cli.$f.is_none() { $cli.$f = $file.$f.take(); } )*
    };
}

impl TrainArgs {
    /// These flags over the keys of `file` (parsed TOML); unknown keys are an error naming them.
    pub fn merged_with_toml(mut self, text: &str) -> Result<Self> {
        let mut file: TrainArgs = toml::from_str(text).context("bad training config")?;
        merge_fields!(
            self,
            file,
            out,
            cache,
            data,
            data_dir,
            fold,
            folds,
            height,
            width,
            arch,
            compact,
            widths,
            separable,
            dim,
            hidden,
            loss,
            margin,
            cosface_scale,
            cosface_margin,
            steps,
            batch,
            per_identity,
            optimizer,
            lr,
            weight_decay,
            momentum,
            schedule,
            warmup,
            min_lr_ratio,
            crop_pad,
            flip,
            jitter,
            rotate,
            scale,
            seed,
            val_people,
            eval_every,
            patience,
            checkpoint_every,
            log_every,
            limit
        );
        Ok(self)
    }

    /// The run's configuration: flags, then defaults (which depend on the data set and network).
    pub fn train_config(&self) -> TrainConfig {
        let data = self.data.unwrap_or(DataArg::Orl);
        let (dh, dw) = data.default_size();
        let (h, w) = (self.height.unwrap_or(dh), self.width.unwrap_or(dw));
        let dim = self.dim.unwrap_or(64);
        let mut cfg = TrainConfig::reference(h, w, dim);
        let mut enc = if self.compact.unwrap_or(false) {
            EncoderConfig::compact(h, w, dim)
        } else {
            EncoderConfig::reference(h, w, dim)
        };
        if let Some(widths) = &self.widths {
            enc.widths = widths.clone();
        }
        if let Some(s) = self.separable {
            enc.separable = s;
        }
        cfg.model.encoder = enc;
        cfg.model.arch = self.arch.unwrap_or(Arch::Cnn);
        cfg.model.hidden = self.hidden.unwrap_or(64);
        cfg.loss = self.loss.unwrap_or(if cfg.model.arch.embeds() {
            LossKind::BatchHard
        } else {
            LossKind::Binary
        });
        cfg.margin = self.margin;
        cfg.cosface_scale = self.cosface_scale.unwrap_or(cfg.cosface_scale);
        cfg.cosface_margin = self.cosface_margin.unwrap_or(cfg.cosface_margin);
        cfg.steps = self.steps.unwrap_or(cfg.steps);
        cfg.batch = self.batch.unwrap_or(cfg.batch);
        // MNIST has 5 training classes: 5 x 12 images instead of 16 x 4.
        let per_identity = if data == DataArg::Mnist {
            12
        } else {
            cfg.per_identity
        };
        cfg.per_identity = self.per_identity.unwrap_or(per_identity);
        let o = &mut cfg.optimizer;
        o.kind = self.optimizer.unwrap_or(o.kind);
        o.lr = self.lr.unwrap_or(o.lr);
        o.weight_decay = self.weight_decay.unwrap_or(o.weight_decay);
        o.momentum = self.momentum.unwrap_or(o.momentum);
        o.schedule = self.schedule.unwrap_or(o.schedule);
        o.warmup_steps = self.warmup.unwrap_or(o.warmup_steps);
        o.min_lr_ratio = self.min_lr_ratio.unwrap_or(o.min_lr_ratio);
        let base = data.default_augment();
        let jitter = self.jitter.unwrap_or(base.brightness);
        cfg.augment = Augment {
            crop_pad: self.crop_pad.unwrap_or(base.crop_pad),
            hflip: self.flip.unwrap_or(base.hflip),
            brightness: jitter,
            contrast: jitter,
            rotate: self.rotate.unwrap_or(base.rotate),
            scale: self.scale.unwrap_or(base.scale),
        };
        cfg.seed = self.seed.unwrap_or(0);
        cfg
    }

    fn run_options(&self, out: &Path) -> RunOptions {
        RunOptions {
            checkpoint_dir: Some(out.to_path_buf()),
            checkpoint_every: self.checkpoint_every.unwrap_or(250),
            eval_every: self.eval_every.unwrap_or(100),
            patience: self.patience.unwrap_or(0),
            max_steps_this_call: None,
            stop: None,
        }
    }

    /// Where the data comes from, with the defaults filled in.
    pub fn data_source(&self) -> DataSource {
        DataSource {
            data: self.data.unwrap_or(DataArg::Orl),
            cache: self.cache.clone(),
            data_dir: self.data_dir.clone(),
            fold: self.fold.unwrap_or(0),
            folds: self.folds.unwrap_or(DEFAULT_FOLDS),
            limit: self.limit.unwrap_or(10_000),
        }
    }
}

/// What `summary.json` holds.
#[derive(Debug, Serialize)]
pub struct TrainSummary {
    /// Data set.
    pub data: DataArg,
    /// Test fold (absent for MNIST).
    pub fold: Option<usize>,
    /// Where the data came from: `eval` rebuilds the same split from it.
    pub source: DataSource,
    /// Training identities held out for validation.
    pub val_people: usize,
    /// The protocol of the test numbers, in one line.
    pub protocol: String,
    /// The run's configuration.
    pub config: TrainConfig,
    /// Training identities (validation ones excluded).
    pub train_identities: usize,
    /// Training images.
    pub train_images: usize,
    /// Validation identities (carved out of the training identities).
    pub validation_identities: usize,
    /// Steps taken in the whole run.
    pub steps: usize,
    /// Whether patience stopped the run early.
    pub stopped_early: bool,
    /// Best validation result; the evaluated weights are its weights.
    pub best_validation: Option<BestValidation>,
    /// Mean loss of the last 50 steps.
    pub final_loss: f32,
    /// Training images per second in this invocation (validation excluded).
    pub images_per_second: f64,
    /// Wall time of this invocation in seconds.
    pub seconds: f64,
    /// Metrics on the held-out identities.
    pub test: VerificationReport,
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
pub fn run(mut args: TrainArgs, verbose: u8) -> Result<()> {
    if std::env::var_os(CANDLE_THREADS_ENV).is_none() {
        std::env::set_var(CANDLE_THREADS_ENV, "1");
    }
    if let Some(path) = args.config.clone() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        args = args
            .merged_with_toml(&text)
            .with_context(|| format!("in {}", path.display()))?;
    }
    let Some(out) = args.out.clone() else {
        bail!("--out DIR is required (on the command line or as `out` in the config file)")
    };
    let started = Instant::now();
    let source = args.data_source();
    let data = source.data;
    let sidecar = out.join("last.json");
    let cfg = if args.resume {
        read_sidecar(&sidecar)
            .with_context(|| format!("resuming from {}", sidecar.display()))?
            .config
    } else {
        args.train_config()
    };
    let splits = source.load(cfg.model.encoder.height, cfg.model.encoder.width)?;
    let val_people = args.val_people.unwrap_or(data.default_val_people());
    let (train, val) = split_validation(&splits.train, val_people)?;
    let mut trainer = if args.resume {
        Trainer::resume(&sidecar, &train)
            .with_context(|| format!("resuming from {}", sidecar.display()))?
    } else {
        Trainer::new(cfg, &train)?
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    if verbose > 0 {
        eprintln!(
            "{}; training on {} images of {} identities, validating on {} identities",
            splits.protocol,
            train.len(),
            train.classes().len(),
            val.as_ref().map_or(0, |v| v.classes().len())
        );
    }
    let cfg = trainer.config().clone();
    let mut log = TrainLog::open(
        &out.join(LOG_FILE),
        trainer.step_index(),
        args.log_every.unwrap_or(10),
    )?;
    let stop = ctrl_c_flag()?;
    let bar = progress_bar(cfg.steps, trainer.step_index(), args.json && verbose == 0);
    let mut last_eer: Option<f64> = None;
    let mut log_error: Option<crate::train::TrainError> = None;
    let on_step = |r: &StepReport| {
        if r.validation_eer.is_some() {
            last_eer = r.validation_eer;
        }
        if let Err(e) = log.record(r, stop.load(Ordering::SeqCst)) {
            log_error.get_or_insert(e);
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
    let opts = RunOptions {
        stop: Some(stop.clone()),
        ..args.run_options(&out)
    };
    let summary =
        run_training(&mut trainer, &train, val.as_ref(), &opts, on_step).context("training")?;
    if let Some(e) = log_error {
        return Err(e).context("writing the training log");
    }
    if summary.interrupted {
        bar.abandon();
        eprintln!(
            "interrupted: checkpoint of step {} of {} written to {}; continue with\n  \
             siamedge-train train --out {} --resume {}",
            trainer.step_index(),
            cfg.steps,
            out.join("last.json").display(),
            out.display(),
            resume_flags(&args)
        );
        std::process::exit(130);
    }
    bar.finish();
    trainer
        .varmap()
        .save(out.join("model.safetensors"))
        .with_context(|| format!("writing {}", out.join("model.safetensors").display()))?;
    let test = verify_pairs(
        trainer.model(),
        &splits.test,
        &splits.test_pairs,
        &FAR_TARGETS,
        trainer.device(),
    )?;
    let losses = trainer.losses();
    let tail = &losses[losses.len().saturating_sub(50)..];
    let result = TrainSummary {
        data,
        fold: (data != DataArg::Mnist).then_some(source.fold),
        source: source.clone(),
        val_people,
        protocol: splits.protocol.clone(),
        config: cfg,
        train_identities: train.classes().len(),
        train_images: train.len(),
        validation_identities: val.as_ref().map_or(0, |v| v.classes().len()),
        steps: trainer.step_index(),
        stopped_early: summary.stopped_early,
        best_validation: summary.best,
        final_loss: tail.iter().sum::<f32>() / tail.len().max(1) as f32,
        images_per_second: summary.images_per_second,
        seconds: started.elapsed().as_secs_f64(),
        test,
    };
    let json = serde_json::to_string_pretty(&result)?;
    let path = out.join("summary.json");
    std::fs::write(&path, &json).with_context(|| format!("writing {}", path.display()))?;
    if args.json {
        println!("{json}");
    } else {
        let t = &result.test;
        let tar = t.tar_at(1e-3);
        println!(
            "{}\nEER {:.2}% (95% CI {:.2}-{:.2}), TAR@FAR=1e-3 {} ({} of {} genuine at {} of {} \
             false accepts), AUC {:.4}; {} steps, {:.0} images/s, {:.0} s; summary in {}",
            result.protocol,
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
            result.steps,
            result.images_per_second,
            result.seconds,
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_are_the_flag_names_and_flags_win() {
        let cli = TrainArgs {
            steps: Some(10),
            ..TrainArgs::default()
        };
        let merged = cli
            .merged_with_toml(
                "steps = 99\nper-identity = 8\nloss = \"contrastive\"\nwidths = [4, 8]\n",
            )
            .unwrap();
        assert_eq!(merged.steps, Some(10));
        assert_eq!(merged.per_identity, Some(8));
        let cfg = merged.train_config();
        assert_eq!(cfg.loss, LossKind::Contrastive);
        assert_eq!(cfg.model.encoder.widths, [4, 8]);
        assert_eq!(cfg.steps, 10);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = TrainArgs::default()
            .merged_with_toml("stepz = 3\n")
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("stepz"), "{msg}");
    }

    #[test]
    fn defaults_are_the_reference_run() {
        let cfg = TrainArgs::default().train_config();
        assert_eq!(cfg, TrainConfig::reference(56, 46, 64));
        let mnist = TrainArgs {
            data: Some(DataArg::Mnist),
            ..TrainArgs::default()
        }
        .train_config();
        assert_eq!(
            (mnist.model.encoder.height, mnist.augment.hflip),
            (28, false)
        );
    }
}
