//! `siamedge-train eval`: judge trained runs on their held-out identities beside the classic
//! baselines, with the JSON and Markdown report and the plots; the pipeline and the files it
//! writes are [`siamedge_trainer::eval::pipeline`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use siamedge_trainer::eval::pipeline::{evaluate_runs, EvalOptions};

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
    /// Keep at most N of the training identities' impostor trials for choosing the threshold (a
    /// seeded sample; all genuine trials stay) [default: all]. Pair networks score each trial
    /// with a full pass; the test trials are never sampled.
    #[arg(long, value_name = "N")]
    pub threshold_impostors: Option<usize>,
}

impl EvalArgs {
    /// The pipeline's options.
    pub fn options(&self) -> EvalOptions {
        EvalOptions {
            run: self.run.clone(),
            out: self.out.clone(),
            weights: self.weights.clone(),
            cache: self.cache.clone(),
            data_dir: self.data_dir.clone(),
            no_baselines: self.no_baselines,
            no_plots: self.no_plots,
            flip_tta: self.flip_tta,
            validation: self.validation,
            threshold_impostors: self.threshold_impostors,
        }
    }
}

/// Runs `siamedge-train eval`.
pub fn run(args: EvalArgs, verbose: u8) -> Result<()> {
    let outcome = evaluate_runs(&args.options())?;
    if verbose > 0 {
        eprintln!("{}", outcome.report.protocol);
    }
    if args.json {
        print!("{}", outcome.json);
    } else {
        print!("{}", outcome.markdown);
        eprintln!("wrote {}", outcome.files.len());
        for f in &outcome.files {
            eprintln!("  {}", f.display());
        }
    }
    Ok(())
}
