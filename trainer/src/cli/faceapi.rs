//! `siamedge-train face-api`: the pretrained face-api.js pipeline (landmarks, alignment,
//! descriptor), judged on the ORL protocol and exported to ONNX for the edge.
//!
//! `eval` runs [`siamedge_trainer::faceapi::orl::evaluate_orl`] (alignment variant chosen per fold
//! on training people) and prints a Markdown table; `--json FILE` keeps the full report (every
//! rate with its trial counts and 95 % interval).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use siamedge_trainer::data::DataCache;
use siamedge_trainer::faceapi::export::{export_folder, write_onnx_files};
use siamedge_trainer::faceapi::orl::{evaluate_orl, AlignedOrlReport};
use siamedge_trainer::faceapi::FaceApi;

/// Arguments of `siamedge-train face-api`.
#[derive(Debug, Args)]
pub struct FaceApiArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FaceApiCommand,
    /// Cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR", global = true)]
    pub cache: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum FaceApiCommand {
    /// The 4 ORL folds (all 4,950 test pairs each), variant chosen on each fold's training people.
    Eval {
        /// Write the full report as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Build a model folder (e.g. models/face-aligned): landmarks.onnx and recognition.onnx from
    /// the fetched weights, manifest.json, and (unless --onnx-only) the ORL evaluation as
    /// card.json and CARD.md, shipping the variant and thresholds chosen on --fold's training
    /// people.
    Export {
        /// Output folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Fold whose 30 training people choose the shipped variant and thresholds.
        #[arg(long, default_value_t = 0)]
        fold: usize,
        /// Only the ONNX files and manifest.json (seconds; no evaluation, no card).
        #[arg(long)]
        onnx_only: bool,
    },
}

fn cache(dir: &Option<PathBuf>) -> Result<DataCache> {
    Ok(match dir {
        Some(d) => DataCache::new(d.clone()),
        None => DataCache::from_env()?,
    })
}

/// Runs `siamedge-train face-api`.
pub fn run(args: FaceApiArgs, _verbose: u8) -> Result<()> {
    let cache = cache(&args.cache)?;
    let dev = candle_core::Device::Cpu;
    match args.command {
        FaceApiCommand::Eval { json } => {
            let api = FaceApi::load(&cache, &dev)?;
            let faces = siamedge_trainer::data::OrlFaces::load(&cache)
                .context("ORL is not cached (run `siamedge-train data fetch orl`)")?;
            let report = evaluate_orl(&api, &faces, &mut |m| eprintln!("{m}"))?;
            print_table(&report);
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
        FaceApiCommand::Export {
            out,
            fold,
            onnx_only,
        } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let set = siamedge_trainer::data::DataSet::FaceApi;
            siamedge_trainer::data::fetch::verify(&cache, set).context(
                "the face-api weights are not cached (run `siamedge-train data fetch face-api`)",
            )?;
            let weights = cache.dataset_dir(set);
            if onnx_only {
                let m = write_onnx_files(&weights, &out)?;
                for f in &m.onnx {
                    println!(
                        "{}: {} bytes, sha256 {}",
                        out.join(&f.name).display(),
                        f.bytes,
                        f.sha256
                    );
                }
                return Ok(());
            }
            let api = FaceApi::load(&cache, &dev)?;
            let faces = siamedge_trainer::data::OrlFaces::load(&cache)
                .context("ORL is not cached (run `siamedge-train data fetch orl`)")?;
            let report = evaluate_orl(&api, &faces, &mut |m| eprintln!("{m}"))?;
            print_table(&report);
            let card = export_folder(&weights, &report, fold, &out)?;
            println!(
                "wrote {} (variant {}, thresholds {})",
                out.display(),
                card.variant,
                card.thresholds
                    .iter()
                    .map(|t| format!("FAR {:.0e}: {:.4}", t.target_far, t.threshold))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
    }
}

fn print_table(report: &AlignedOrlReport) {
    println!("| fold | variant (chosen on training people) | train EER % | test EER % [95 % CI] | TAR@FAR=1e-3 % | AUC |");
    println!("|---|---|---|---|---|---|");
    for f in &report.folds {
        let best = f
            .variants
            .iter()
            .find(|v| v.variant == f.chosen)
            .map_or(0.0, |v| v.train_eer);
        let t = f
            .test
            .tar_at(1e-3)
            .map_or(f64::NAN, |t| 100.0 * t.point.tar.value);
        println!(
            "| {} | {} | {:.2} | {:.2} [{:.2}, {:.2}] | {:.1} | {:.4} |",
            f.fold,
            f.chosen,
            100.0 * best,
            100.0 * f.test.eer.rate,
            100.0 * f.test.eer.ci95.lower,
            100.0 * f.test.eer.ci95.upper,
            t,
            f.test.auc
        );
    }
    println!("mean test EER {:.2} %", 100.0 * report.mean_eer);
}
