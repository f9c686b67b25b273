//! `siamedge-train export`: one trained run folder in, one shippable model folder out
//! (`model.onnx`, `model.int8.onnx`, `model.sgm`, `card.json`, `CARD.md`); the pipeline and what
//! each file holds are [`siamedge_trainer::export::bundle`].
//!
//! The firmware board's test vectors (`vectors.bin`) are written by
//! `cargo run -p siamedge-tests --bin board-vectors` from this folder.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use siamedge_trainer::export::bundle::{export_bundle, ExportOptions};

/// Arguments of `siamedge-train export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A finished run folder (`siamedge-train train --out DIR`): summary.json, model.safetensors.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Name of the model folder, e.g. face-orl.
    #[arg(long)]
    pub name: String,
    /// Parent of the model folder.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub out: PathBuf,
    /// An int8 model file to ship (e.g. from quantization-aware training); without it the run is
    /// quantized here (post-training, calibrated on training images).
    #[arg(long, value_name = "FILE")]
    pub sgm: Option<PathBuf>,
    /// Percentile of |activation| used as the PTQ range (100 = min/max).
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// Training images used for PTQ calibration (at most).
    #[arg(long, default_value_t = 200)]
    pub calibration_images: usize,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The run's MNIST --limit, if it set one.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip the baselines in the card (faster).
    #[arg(long)]
    pub no_baselines: bool,
    /// Ship thresholds calibrated on the run's own training people. Refused without it: on new
    /// people their false-accept rate runs far from the target. Train with --val-people instead.
    #[arg(long)]
    pub force: bool,
    /// Runs of the same recipe on every fold and seed (comma-separated run folders): each is
    /// quantized like this one and judged on its own test people, into the card's `folds`.
    #[arg(long, value_name = "DIR,...", value_delimiter = ',')]
    pub fold_runs: Vec<PathBuf>,
    /// A line for the card's notes (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub note: Vec<String>,
    /// Print the card as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ExportArgs {
    /// The pipeline's options.
    pub fn options(&self) -> ExportOptions {
        ExportOptions {
            run: self.run.clone(),
            name: self.name.clone(),
            out: self.out.clone(),
            sgm: self.sgm.clone(),
            percentile: self.percentile,
            calibration_images: self.calibration_images,
            cache: self.cache.clone(),
            limit: self.limit,
            no_baselines: self.no_baselines,
            force: self.force,
            fold_runs: self.fold_runs.clone(),
            notes: self.note.clone(),
        }
    }
}

/// Runs `siamedge-train export`: the pipeline, then the card printed.
pub fn run(args: ExportArgs, _verbose: u8) -> Result<()> {
    let card = export_bundle(&args.options())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&card)?);
    } else {
        println!("{}", card.to_markdown());
        println!("wrote {}", args.out.join(&args.name).display());
    }
    Ok(())
}
