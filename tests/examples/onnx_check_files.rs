//! Writes ONNX files from the exporters, inputs, and the reference outputs on them, for
//! `scripts/check_onnx.py` (onnx's checker, and onnxruntime against the reference). The
//! reference of a float graph is tract's output; of a QDQ graph, the int8 engine's (the definition
//! of the int8 math; tract misreads per-axis scales), on inputs that are exact multiples of the
//! input scale (so both quantize them to the same int8 tensor). Usage:
//! `cargo run -p siamedge-tests --example onnx_check_files -- OUT_DIR [MODEL_DIR...]`.
//!
//! Always written: a seeded compact encoder (batch-norm statistics warmed) as `float-compact.onnx`,
//! and the two fixture int8 models of `siamedge-format`'s tests as QDQ graphs. Each `MODEL_DIR`
//! (e.g. `models/face-orl`) adds its `model.onnx` and `model.int8.onnx`. `manifest.json` lists, per
//! graph, the input shape, the raw little-endian f32 input file, the reference output file and
//! which runtime made it, and for QDQ graphs the embedding scale (one int8 step).

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use candle_nn::{ModuleT, VarMap};
use siamedge_edge::OnnxEncoder;
use siamedge_engine::run_model;
use siamedge_format::Model;
use siamedge_trainer::export::{float_onnx, proto, qdq_onnx};
use siamedge_trainer::model::{encoder, seeded_var_builder, EncoderConfig};

const BATCH: usize = 6;

fn f32_file(path: &Path, v: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Records `onnx_bytes` with `BATCH` deterministic inputs and the reference outputs: for a QDQ
/// graph of `int8` (a model file), the engine's embedding times its scale on inputs `scale * (q -
/// zp)` of random int8 `q`; for a float graph, tract's output on inputs in `[lo, hi)`.
fn record(
    out: &Path,
    name: &str,
    onnx_bytes: &[u8],
    int8: Option<&Model<'_>>,
    (lo, hi): (f32, f32),
) -> Result<serde_json::Value> {
    let file = format!("{name}.onnx");
    std::fs::write(out.join(&file), onnx_bytes)?;
    let enc = OnnxEncoder::from_bytes(onnx_bytes, Path::new(&file))?;
    let (c, h, w) = enc.input_shape();
    let n = c * h * w;
    let mut inputs = Vec::with_capacity(BATCH * n);
    let mut outputs = Vec::new();
    let mut s = 12_345u32 ^ (name.len() as u32);
    let mut next = || {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        s >> 8
    };
    for _ in 0..BATCH {
        match int8 {
            Some(model) => {
                let quant = model.input().quant;
                // NHWC int8 for the engine, its exact real values NCHW for the graph.
                let q: Vec<i8> = (0..n).map(|_| next() as u8 as i8).collect();
                let mut x = vec![0f32; n];
                for (i, &v) in q.iter().enumerate() {
                    let (pixel, ch) = (i / c, i % c);
                    x[ch * h * w + pixel] =
                        quant.scale * (f32::from(v) - f32::from(quant.zero_point));
                }
                let scale = model.embedding().scale;
                outputs.extend(run_model(model, &q)?.iter().map(|&v| f32::from(v) * scale));
                inputs.extend(x);
            }
            None => {
                let x: Vec<f32> = (0..n)
                    .map(|_| lo + (hi - lo) * (next() as f32 / (1u32 << 24) as f32))
                    .collect();
                outputs.extend(enc.embed(&x)?);
                inputs.extend(x);
            }
        }
    }
    f32_file(&out.join(format!("{name}.in.f32")), &inputs)?;
    f32_file(&out.join(format!("{name}.reference.f32")), &outputs)?;
    Ok(serde_json::json!({
        "name": name,
        "onnx": file,
        "shape": [BATCH, c, h, w],
        "dim": enc.dim(),
        "input": format!("{name}.in.f32"),
        "reference": format!("{name}.reference.f32"),
        "reference_runtime": if int8.is_some() { "engine" } else { "tract" },
        "scale": int8.map(|m| m.embedding().scale),
    }))
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((out, model_dirs)) = args.split_first() else {
        anyhow::bail!("usage: onnx_check_files OUT_DIR [MODEL_DIR...]");
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut entries = Vec::new();

    let cfg = EncoderConfig::compact(56, 46, 32);
    let varmap = VarMap::new();
    let enc = encoder(&cfg, seeded_var_builder(&varmap, 3, &Device::Cpu))?;
    for _ in 0..3 {
        let x = Tensor::rand(0f32, 1.7, (8, 1, 56, 46), &Device::Cpu)?;
        enc.forward_t(&x, true)?;
    }
    let float = proto::to_bytes(&float_onnx(&enc, &[])?);
    entries.push(record(out, "float-compact", &float, None, (0.0, 1.0))?);

    let fixtures = [
        ("qdq-tiny", common::tiny_model_spec()?),
        ("qdq-every-kind", common::every_kind_spec()?),
    ];
    for (name, spec) in fixtures {
        let bytes = spec.to_bytes()?;
        let model = Model::decode(&bytes)?;
        let q = proto::to_bytes(&qdq_onnx(&model, &[])?);
        entries.push(record(out, name, &q, Some(&model), (-1.0, 1.0))?);
    }

    for dir in model_dirs {
        let tag = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let sgm = std::fs::read(dir.join("model.sgm"))
            .with_context(|| format!("reading {}", dir.join("model.sgm").display()))?;
        let model = Model::decode(&sgm)?;
        for (file, int8) in [("model.onnx", None), ("model.int8.onnx", Some(&model))] {
            let path = dir.join(file);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = format!("{tag}-{}", file.trim_end_matches(".onnx").replace('.', "-"));
            entries.push(record(out, &name, &bytes, int8, (0.0, 1.0))?);
        }
    }
    let manifest = serde_json::json!({ "graphs": entries });
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    println!("wrote {} graphs to {}", entries.len(), out.display());
    Ok(())
}
