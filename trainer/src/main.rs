//! `siamedge-train`: the host CLI that fetches data, trains, evaluates and exports Siamese encoders.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod alloc;
mod cli;

/// Learn similarity on a host, judge it as biometrics is judged, and export it for the device.
#[derive(Debug, Parser)]
#[command(name = "siamedge-train", version, about)]
struct Cli {
    /// More logging (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch, check and inspect the data sets (ORL faces, MNIST, Fashion-MNIST).
    Data(cli::data::DataArgs),
    /// Run the classic baselines (raw pixels, PCA, Mahalanobis, LDA, histogram) on the reference
    /// protocols and print the table beside which learned encoders are judged.
    Baseline(cli::baseline::BaselineArgs),
    /// Train a Siamese encoder (or a 2-channel / hybrid pair scorer) on ORL or MNIST, select it on
    /// validation identities and judge it on the held-out ones.
    Train(Box<cli::train::TrainArgs>),
    /// Quantize a trained run to the int8 model file (post-training or quantization-aware), with a
    /// report of the accuracy it costs.
    Quantize(Box<cli::quantize::QuantizeArgs>),
    /// Recompute a model file's thresholds for target false-accept rates on your own data.
    Calibrate(cli::calibrate::CalibrateArgs),
    /// Do thresholds chosen on one group of people hold on new people? Raw distances against
    /// cohort score normalisation (Z-norm, S-norm) over runs of a recipe.
    Transfer(cli::transfer::TransferArgs),
    /// Judge a trained run on its held-out identities beside the baselines: JSON and Markdown
    /// report, ROC/DET curves, distance histograms, training curves and an embedding map.
    Eval(cli::eval::EvalArgs),
    /// Training throughput of a recipe (images/s, ms per step by phase, peak RSS), with a PyTorch
    /// peer's result beside it (scripts/bench-train.sh runs both).
    Bench(cli::bench::BenchArgs),
    /// Export a trained run to models/NAME/: model.onnx, model.int8.onnx, model.sgm and the model
    /// card (card.json, CARD.md) with f32 and int8 (engine) results beside the baselines.
    Export(Box<cli::export::ExportArgs>),
    /// Write the QDQ ONNX graph (model.int8.onnx) of an int8 model file, without its run.
    Onnx(cli::onnx::OnnxArgs),
    /// The pretrained face-api.js pipeline (landmarks, alignment, descriptor; fetched with `data
    /// fetch face-api`): judged on ORL, exported to ONNX for the edge.
    #[command(name = "face-api")]
    FaceApi(cli::faceapi::FaceApiArgs),
}

fn main() -> Result<()> {
    alloc::keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        Command::Data(args) => cli::data::run(args, cli.verbose),
        Command::Baseline(args) => cli::baseline::run(args, cli.verbose),
        Command::Train(args) => cli::train::run(*args, cli.verbose),
        Command::Quantize(args) => cli::quantize::run(*args, cli.verbose),
        Command::Calibrate(args) => cli::calibrate::run(args, cli.verbose),
        Command::Transfer(args) => cli::transfer::run(args, cli.verbose),
        Command::Eval(args) => cli::eval::run(args, cli.verbose),
        Command::Bench(args) => cli::bench::run(args, cli.verbose),
        Command::Export(args) => cli::export::run(*args, cli.verbose),
        Command::Onnx(args) => cli::onnx::run(args, cli.verbose),
        Command::FaceApi(args) => cli::faceapi::run(args, cli.verbose),
    }
}
