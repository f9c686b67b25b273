//! `siamedge-train onnx`: write the QDQ ONNX graph (`model.int8.onnx`) of an int8 model file.
//!
//! The graph is a function of the model file alone, so a model folder can be brought up to the
//! current exporter (e.g. after a change of the graph's encoding or of the model file's version)
//! without the run that trained it; `--stamp model.onnx` re-pairs the folder's float graph with
//! the model file (its `siamedge.model_id` metadata). `export` writes the same files as part of a
//! whole folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamedge_format::Model;

use siamedge_trainer::export::{qdq_onnx, stamp_model_id, write_onnx};

/// Arguments of `siamedge-train onnx`.
#[derive(Debug, Clone, Args)]
pub struct OnnxArgs {
    /// The int8 model file (`model.sgm`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Where to write the QDQ graph (written atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The run the model came from, recorded in the graph's metadata (`siamedge.run`) as `export`
    /// records it.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Also set the `siamedge.model_id` metadata of these ONNX files (e.g. the folder's float
    /// `model.onnx`) to the model's id, keeping everything else; rewritten atomically. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub stamp: Vec<PathBuf>,
}

/// Runs `siamedge-train onnx`.
pub fn run(args: OnnxArgs, verbose: u8) -> Result<()> {
    let bytes =
        std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let model =
        Model::decode(&bytes).with_context(|| format!("decoding {}", args.model.display()))?;
    let meta: Vec<(&str, String)> = args
        .run
        .iter()
        .map(|r| ("siamedge.run", r.clone()))
        .collect();
    let graph = qdq_onnx(&model, &meta)
        .with_context(|| format!("building the QDQ graph of {}", args.model.display()))?;
    write_onnx(&args.out, &graph).with_context(|| format!("writing {}", args.out.display()))?;
    if verbose > 0 {
        eprintln!("wrote {} from {}", args.out.display(), args.model.display());
    }
    println!("{}", args.out.display());
    for path in &args.stamp {
        let onnx = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let stamped = stamp_model_id(&onnx, model.id())
            .with_context(|| format!("stamping {}", path.display()))?;
        siamedge_format::file::write_atomic(path, &stamped)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
