//! Embedding latency (batch 1) and throughput (batch 32) of the edge's encoders on one thread:
//! the int8 model file on the engine (reference kernels, and the host SIMD kernels on every
//! instruction set this CPU has) and the float graph on tract. Prints a table, or JSON rows with
//! `--json` (what `scripts/bench-edge.sh` reads to put onnxruntime beside them).
//!
//! `cargo run --release -p siamedge-edge --example bench -- [--model models/face-orl] [--json]`
//!
//! Inputs are preprocessed once up front (a deterministic 92x112 grey test pattern per batch
//! item, through the one preprocessing contract), so the numbers are the encoders' alone. The
//! engine runs one input at a time (batch 32 = 32 runs on one prepared engine, as the edge
//! serves a stream); tract's plan is fixed to batch 1 likewise. Latency: the median of many
//! single runs; throughput: images/s over repeated batches.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use siamedge_edge::preprocess::{to_input, to_int8, GrayImage};
use siamedge_edge::{Int8Encoder, OnnxEncoder};
use siamedge_engine::host::Isa;
use siamedge_engine::Kernels;

const BATCH: usize = 32;

/// A 92x112 grey test pattern, different per `k`.
fn image(k: usize) -> GrayImage {
    let (width, height) = (92, 112);
    let pixels = (0..width * height)
        .map(|i| {
            let (x, y) = (i % width, i / width);
            ((x * (3 + k) + y * (5 + 2 * k) + (x * y) / (7 + k)) % 256) as u8
        })
        .collect();
    GrayImage {
        width,
        height,
        pixels,
    }
}

/// The median of `runs` timings of `f`, after a warm-up.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..runs.min(20) {
        f();
    }
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

/// Images per second of `batch` (one call = one batch of `BATCH` images), over at least 1 s.
fn throughput(mut batch: impl FnMut()) -> f64 {
    batch();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(1) || n < 3 {
        batch();
        n += 1;
    }
    (n * BATCH) as f64 / start.elapsed().as_secs_f64()
}

struct Row {
    runtime: String,
    batch1_ms: f64,
    batch32_ips: f64,
}

fn engine_row(sgm: &Path, kernels: Kernels, inputs: &[Vec<i8>]) -> Result<Row> {
    let enc = Int8Encoder::load(sgm)?.with_kernels(kernels);
    let mut arena = Vec::new();
    let mut engine = enc.engine(&mut arena)?;
    let runs = if kernels == Kernels::Reference {
        50
    } else {
        2000
    };
    let mut sink = 0i32;
    let batch1 = median(runs, || {
        sink += i32::from(engine.run(&inputs[0]).map(|e| e[0]).unwrap_or(0));
    });
    let ips = throughput(|| {
        for x in inputs {
            sink += i32::from(engine.run(x).map(|e| e[0]).unwrap_or(0));
        }
    });
    std::hint::black_box(sink);
    let name = match kernels {
        Kernels::Simd(isa) => format!("int8 engine, {} kernels", isa.name()),
        Kernels::Packed => "int8 engine, packed (dsp emulation)".into(),
        Kernels::Reference => "int8 engine, reference kernels".into(),
    };
    Ok(Row {
        runtime: name,
        batch1_ms: batch1.as_secs_f64() * 1e3,
        batch32_ips: ips,
    })
}

fn tract_row(onnx: &Path, inputs: &[Vec<f32>]) -> Result<Row> {
    let enc = OnnxEncoder::load(onnx)?;
    let mut sink = 0f32;
    let batch1 = median(500, || {
        sink += enc.embed(&inputs[0]).map(|e| e[0]).unwrap_or(0.0);
    });
    let ips = throughput(|| {
        for x in inputs {
            sink += enc.embed(x).map(|e| e[0]).unwrap_or(0.0);
        }
    });
    std::hint::black_box(sink);
    Ok(Row {
        runtime: "f32 tract (model.onnx)".into(),
        batch1_ms: batch1.as_secs_f64() * 1e3,
        batch32_ips: ips,
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let dir = args
        .iter()
        .position(|a| a == "--model")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("models/face-orl"), PathBuf::from);
    let (sgm, onnx) = (dir.join("model.sgm"), dir.join("model.onnx"));
    let enc = Int8Encoder::load(&sgm).with_context(|| format!("loading {}", sgm.display()))?;
    let path = Path::new("test-pattern");
    let images: Vec<GrayImage> = (0..BATCH).map(image).collect();
    let int8: Vec<Vec<i8>> = images
        .iter()
        .map(|img| to_int8(img, enc.input(), path))
        .collect::<Result<_, _>>()?;
    let float: Vec<Vec<f32>> = images
        .iter()
        .map(|img| to_input(img, enc.input(), path))
        .collect::<Result<_, _>>()?;

    let mut rows = vec![engine_row(&sgm, Kernels::Reference, &int8)?];
    for isa in Isa::all_available() {
        rows.push(engine_row(&sgm, Kernels::Simd(isa), &int8)?);
    }
    rows.push(tract_row(&onnx, &float)?);

    if json {
        for r in &rows {
            println!(
                "{}",
                serde_json::json!({
                    "runtime": r.runtime,
                    "batch1_ms": r.batch1_ms,
                    "batch32_images_per_s": r.batch32_ips,
                })
            );
        }
        return Ok(());
    }
    let model = enc.model()?;
    let mut arena = Vec::new();
    let macs = enc.engine(&mut arena)?.macs();
    println!(
        "{}: {}x{}x{} input, {} MACs, one thread",
        dir.display(),
        model.input().height,
        model.input().width,
        model.input().channels,
        macs
    );
    println!(
        "{:<40} {:>12} {:>18}",
        "runtime", "batch 1 ms", "batch 32 images/s"
    );
    for r in &rows {
        println!(
            "{:<40} {:>12.3} {:>18.0}",
            r.runtime, r.batch1_ms, r.batch32_ips
        );
    }
    Ok(())
}
