//! Writes the model file and test vectors that a firmware board embeds
//! (`firmware/boards/qemu-mps2-an386`, via `SIAMEDGE_BOARD_MODEL` and `SIAMEDGE_BOARD_VECTORS`).
//!
//! With `--model`, the vectors are for that model (e.g. the shipped `models/face-orl/model.sgm`);
//! without it, the untrained fixture encoder (the reference CNN's shape) is written to
//! `--model-out` first. Images: ORL fold `--fold`'s held-out faces when the data has been
//! fetched, else synthetic faces (an error instead when `SIAMEDGE_REQUIRE_DATA=1`). The vectors
//! hold images derived from ORL: keep them out of the repository.
//!
//! With `--flip-average`, the model (given or fixture) gets flip averaging (a version-3 file of
//! another id, written to `--model-out`) and the vectors hold its two-pass embeddings.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use siamedge_format::Model;
use siamedge_tests::board::{self, faces, fixture, Scenario};

/// Write a model's test vectors for the firmware boards.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Model file to write vectors for; without it, the fixture encoder is written to
    /// `--model-out` and used.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where to write the fixture model (when `--model` is not given), or the flip-average model
    /// (with `--flip-average`).
    #[arg(long, required_unless_present = "model")]
    model_out: Option<PathBuf>,
    /// Where to write the vectors.
    #[arg(long)]
    out: PathBuf,
    /// Data cache (default `$SIAMEDGE_DATA` or `~/.cache/siamedge`).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// ORL fold whose held-out people are enrolled and probed (0..4).
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Use synthetic faces even when the ORL data is there.
    #[arg(long)]
    synthetic: bool,
    /// Seed of the fixture's weights.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Turn on flip averaging in the model (embed each image and its mirror image, average).
    #[arg(long)]
    flip_average: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.flip_average && args.model_out.is_none() {
        bail!("--flip-average makes a new model file: name it with --model-out");
    }
    let given = match &args.model {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let (height, width) = match &given {
        Some(bytes) => {
            let m = Model::decode(bytes).context("decoding the model")?;
            (usize::from(m.input().height), usize::from(m.input().width))
        }
        None => (usize::from(fixture::HEIGHT), usize::from(fixture::WIDTH)),
    };
    let (faces, scenario) = if args.synthetic {
        (faces::synthetic(height, width), Scenario::SYNTHETIC)
    } else {
        match faces::orl(args.cache.as_deref(), args.fold, height, width) {
            Ok(f) => (f, Scenario::orl(args.fold)),
            Err(e) if std::env::var("SIAMEDGE_REQUIRE_DATA").as_deref() == Ok("1") => {
                bail!("SIAMEDGE_REQUIRE_DATA=1 but the ORL faces are not loadable: {e}")
            }
            Err(e) => {
                eprintln!("note: ORL faces not loadable ({e}); using synthetic faces");
                (faces::synthetic(height, width), Scenario::SYNTHETIC)
            }
        }
    };
    let inputs = board::board_inputs_with(
        given.as_deref(),
        &faces,
        scenario,
        args.seed,
        args.flip_average,
    )?;
    let written = given.is_none() || args.flip_average;
    if let (true, Some(path)) = (written, &args.model_out) {
        siamedge_format::file::write_atomic(path, &inputs.model)
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "model: {}{}, {} bytes -> {}",
            match &args.model {
                Some(p) => p.display().to_string(),
                None => format!("fixture encoder (seed {})", args.seed),
            },
            if args.flip_average {
                " with flip averaging"
            } else {
                ""
            },
            inputs.model.len(),
            path.display()
        );
    }
    siamedge_format::file::write_atomic(&args.out, &inputs.vectors)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let [genuine, impostor] = inputs.probes;
    println!(
        "vectors: {} images ({}), {} MACs per inference, genuine {} at {:.4}, impostor {} at {:.4} -> {}",
        4,
        faces.source.name(),
        inputs.macs,
        if genuine.accept { "ACCEPT" } else { "REJECT" },
        genuine.distance,
        if impostor.accept { "ACCEPT" } else { "REJECT" },
        impostor.distance,
        args.out.display()
    );
    Ok(())
}
