//! `siamedge bench`: how fast this model runs on this machine, one thread.
//!
//! - Embedding: latency at batch 1 (median of many single runs) and images/s at batch 32 for the
//!   int8 model file on the engine (reference kernels, and the host SIMD kernels of every
//!   instruction set this CPU has) and the float graph on tract. Inputs are preprocessed once up
//!   front (a deterministic 92x112 grey test pattern per batch item, through the one
//!   preprocessing contract), so the numbers are the encoders' alone. The engine runs one input
//!   at a time (batch 32 = 32 runs on one prepared engine, as the edge serves a stream); tract's
//!   plan is fixed to batch 1 likewise.
//! - 1:N search: probe latency (median) over galleries of random templates of the model's
//!   embedding size, exact top-5 with the model's metric.
//!
//! - A pipeline folder (`pipeline.sgp`): the landmark and recognition networks on tract one
//!   image at a time, the alignment's geometry alone (landmark outputs replayed), and the whole
//!   pipeline, image to template (two landmark passes for the refining variants, the chip, the
//!   recognition network, quantization), each as the median of a few runs and images/s over at
//!   least 2 s of one-at-a-time runs; then the 1:N search.
//!
//! `scripts/bench-edge.sh` reads `--json` and puts onnxruntime beside the embedding rows;
//! `scripts/bench-identify.sh` puts numpy and faiss beside the search. A benchmark: the numbers
//! depend on the machine and its load, and nothing fails on them.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use siamedge_edge::bundle::{FolderKind, ModelBundle};
use siamedge_edge::index::GalleryIndex;
use siamedge_edge::preprocess::{to_input, to_int8, GrayImage};
use siamedge_edge::{Encoder, Int8Encoder, OnnxEncoder, PipelineEncoder, Runtime};
use siamedge_engine::host::Isa;
use siamedge_engine::Kernels;
use siamedge_format::pipeline::Network;
use siamedge_format::preprocess::align::{align_face, CHIP_LEN, LANDMARK_INPUT_LEN};
use siamedge_format::{Embedding, Template};

use super::{print, Common};

const BATCH: usize = 32;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Gallery sizes for the 1:N search (0 to skip it).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub gallery_sizes: Vec<usize>,
    /// Skip the reference kernels (slow; they are the bit-exact yardstick, not a product path).
    #[arg(long)]
    pub no_reference: bool,
}

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

/// The median of `runs` timings of `f`, after a warm-up of `runs.min(20)` runs.
fn median(runs: usize, f: impl FnMut()) -> Duration {
    median_after(runs.min(20), runs, f)
}

/// The median of `runs` timings of `f`, after `warm_up` untimed runs.
fn median_after(warm_up: usize, runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warm_up {
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

#[derive(Serialize)]
struct EmbedRow {
    runtime: String,
    batch1_ms: f64,
    batch32_images_per_s: f64,
}

#[derive(Serialize)]
struct SearchRow {
    templates: usize,
    probe_ms: f64,
    probes_per_s: f64,
    bytes_per_template: f64,
}

fn engine_row(enc: &Int8Encoder, kernels: Kernels, inputs: &[Vec<i8>]) -> Result<EmbedRow> {
    let enc = enc.clone().with_kernels(kernels);
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
    let runtime = match kernels {
        Kernels::Simd(isa) => format!("int8 engine, {} kernels", isa.name()),
        Kernels::Packed => "int8 engine, packed (dsp emulation)".into(),
        Kernels::Reference => "int8 engine, reference kernels".into(),
    };
    Ok(EmbedRow {
        runtime,
        batch1_ms: batch1.as_secs_f64() * 1e3,
        batch32_images_per_s: ips,
    })
}

fn tract_row(enc: &OnnxEncoder, inputs: &[Vec<f32>]) -> EmbedRow {
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
    EmbedRow {
        runtime: "f32 tract (model.onnx)".into(),
        batch1_ms: batch1.as_secs_f64() * 1e3,
        batch32_images_per_s: ips,
    }
}

/// SplitMix64: deterministic random int8 values.
fn random_i8(state: &mut u64, out: &mut [i8]) {
    for v in out {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        *v = (z >> 56) as u8 as i8;
    }
}

fn search_row(rt: &Runtime, n: usize) -> Result<SearchRow> {
    let dim = rt.embedding_spec().dim as usize;
    let scale = rt.embedding_spec().scale;
    let mut index = GalleryIndex::for_runtime(rt)?;
    let mut state = 0x5eed_u64;
    let mut values = vec![0i8; dim];
    for subject in 0..n as u32 {
        random_i8(&mut state, &mut values);
        let e = Embedding::new(rt.id(), scale, &values)?;
        index.upsert(&Template::new(subject, e.as_ref())?)?;
    }
    let probes: Vec<Embedding> = (0..16)
        .map(|_| {
            random_i8(&mut state, &mut values);
            Embedding::new(rt.id(), scale, &values)
        })
        .collect::<Result<_, _>>()?;
    let runs = (2_000_000 / n.max(1)).clamp(20, 2000);
    let mut k = 0;
    let mut sink = 0u32;
    let t = median(runs, || {
        let hits = index.search(probes[k % probes.len()].as_ref(), 5);
        sink = sink.wrapping_add(hits.map(|h| h[0].subject).unwrap_or(0));
        k += 1;
    });
    std::hint::black_box(sink);
    let ms = t.as_secs_f64() * 1e3;
    Ok(SearchRow {
        templates: n,
        probe_ms: ms,
        probes_per_s: 1e3 / ms,
        bytes_per_template: index.memory_bytes() as f64 / n as f64,
    })
}

pub fn run(common: &Common, args: &BenchArgs) -> Result<()> {
    let bundle = common.bundle()?;
    if bundle.kind() == FolderKind::Pipeline {
        return run_pipeline(common, args, &bundle);
    }
    let rt = bundle.runtime_int8()?;
    let enc = rt
        .model()
        .context("an int8 runtime has its model file on the engine")?;
    let path = std::path::Path::new("test-pattern");
    let images: Vec<GrayImage> = (0..BATCH).map(image).collect();
    let int8: Vec<Vec<i8>> = images
        .iter()
        .map(|img| to_int8(img, enc.input(), path))
        .collect::<Result<_, _>>()?;
    let float: Vec<Vec<f32>> = images
        .iter()
        .map(|img| to_input(img, enc.input(), path))
        .collect::<Result<_, _>>()?;

    let mut embed = Vec::new();
    if !args.no_reference {
        embed.push(engine_row(enc, Kernels::Reference, &int8)?);
    }
    for isa in Isa::all_available() {
        embed.push(engine_row(enc, Kernels::Simd(isa), &int8)?);
    }
    let onnx = bundle.dir().join("model.onnx");
    if onnx.exists() {
        embed.push(tract_row(&OnnxEncoder::load(&onnx)?, &float));
    }
    let mut search = Vec::new();
    for &n in args.gallery_sizes.iter().filter(|&&n| n > 0) {
        search.push(search_row(&rt, n)?);
    }
    let mut arena = Vec::new();
    let macs = enc.engine(&mut arena)?.macs();

    #[derive(Serialize)]
    struct Report<'a> {
        model: String,
        macs: u64,
        threads: usize,
        embed: &'a [EmbedRow],
        search: &'a [SearchRow],
    }
    let report = Report {
        model: rt.id().to_string(),
        macs: macs as u64,
        threads: 1,
        embed: &embed,
        search: &search,
    };
    print(common.json, &report, || {
        let i = enc.input();
        let mut s = format!(
            "{} (model {}): {}x{}x{} input, {} MACs, one thread\n{:<40} {:>12} {:>18}",
            bundle.dir().display(),
            rt.id(),
            i.height,
            i.width,
            i.channels,
            macs,
            "embedding",
            "batch 1 ms",
            "batch 32 images/s"
        );
        for r in &embed {
            s.push_str(&format!(
                "\n{:<40} {:>12.3} {:>18.0}",
                r.runtime, r.batch1_ms, r.batch32_images_per_s
            ));
        }
        s.push_str(&search_table(&search, 40, 18));
        s
    })
}

#[derive(Serialize)]
struct PipelineRow {
    step: String,
    batch1_ms: f64,
    images_per_s: f64,
}

/// A row for `f` (one image per call): the median of `runs` after one warm-up, and images/s over
/// at least 2 s.
fn pipeline_row(step: String, runs: usize, mut f: impl FnMut()) -> PipelineRow {
    let t = median_after(1, runs, &mut f);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(2) || n < 3 {
        f();
        n += 1;
    }
    PipelineRow {
        step,
        batch1_ms: t.as_secs_f64() * 1e3,
        images_per_s: n as f64 / start.elapsed().as_secs_f64(),
    }
}

/// `bench` on a pipeline folder (see the module docs).
fn run_pipeline(common: &Common, args: &BenchArgs, bundle: &ModelBundle) -> Result<()> {
    let rt = bundle.runtime_pipeline()?;
    let Encoder::Pipeline(enc) = rt.encoder() else {
        anyhow::bail!("{}: not a pipeline runtime", bundle.dir().display());
    };
    let enc: &PipelineEncoder = enc;
    let name = std::path::Path::new("test-pattern");
    let img = image(0);
    let view = img.view(name)?;
    // The whole pipeline once: it must accept the test pattern before anything is timed.
    let (chip, _) = enc.chip(view, name)?;
    let mut scratch = vec![0.0; LANDMARK_INPUT_LEN];
    let mut replay = Vec::new();
    let mut out = vec![0.0; CHIP_LEN];
    align_face(
        view,
        rt_align(enc),
        &mut scratch,
        &mut |x: &[f32]| {
            let raw = enc.landmarks_raw(x)?;
            replay.push(raw);
            Ok::<_, siamedge_edge::EdgeError>(raw)
        },
        &mut out,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let passes = replay.len();
    let landmark_input: Vec<f32> = scratch.clone();
    let mut sink = 0f32;
    let mut rows = Vec::new();
    for network in Network::ALL {
        let net = enc.network(network);
        let (c, h, w) = net.input_shape();
        let x: Vec<f32> = match network {
            Network::Landmarks => landmark_input.clone(),
            Network::Recognition => chip.clone(),
        };
        debug_assert_eq!(x.len(), c * h * w);
        rows.push(pipeline_row(
            format!("{}, tract ({h}x{w})", network.file_name()),
            5,
            || sink += net.embed(&x).map(|e| e[0]).unwrap_or(0.0),
        ));
    }
    rows.push(pipeline_row(
        format!("alignment geometry ({passes} passes, no network)"),
        20,
        || {
            let mut k = 0;
            let r = align_face(
                view,
                rt_align(enc),
                &mut scratch,
                &mut |_: &[f32]| {
                    k += 1;
                    Ok::<_, ()>(replay[(k - 1) % replay.len()])
                },
                &mut out,
            );
            sink += r.map(|a| a.points[0][0] as f32).unwrap_or(0.0);
        },
    ));
    rows.push(pipeline_row(
        format!("whole pipeline, image -> template ({})", rt_align(enc)),
        5,
        || {
            sink += rt
                .embed_gray(&img, name)
                .map(|e| f32::from(e.values()[0]))
                .unwrap_or(0.0);
        },
    ));
    std::hint::black_box(sink);
    let mut search = Vec::new();
    for &n in args.gallery_sizes.iter().filter(|&&n| n > 0) {
        search.push(search_row(&rt, n)?);
    }

    #[derive(Serialize)]
    struct Report<'a> {
        model: String,
        pipeline: bool,
        threads: usize,
        embed: &'a [PipelineRow],
        search: &'a [SearchRow],
    }
    let report = Report {
        model: rt.id().to_string(),
        pipeline: true,
        threads: 1,
        embed: &rows,
        search: &search,
    };
    print(common.json, &report, || {
        let mut s = format!(
            "{} (pipeline {}): a {}x{} grey test pattern, one thread\n{:<52} {:>12} {:>10}",
            bundle.dir().display(),
            rt.id(),
            img.width,
            img.height,
            "step",
            "batch 1 ms",
            "images/s"
        );
        for r in &rows {
            s.push_str(&format!(
                "\n{:<52} {:>12.1} {:>10.2}",
                r.step, r.batch1_ms, r.images_per_s
            ));
        }
        s.push_str(&search_table(&search, 52, 10));
        s
    })
}

/// The pipeline's alignment variant.
fn rt_align(enc: &PipelineEncoder) -> siamedge_format::preprocess::align::AlignVariant {
    enc.pipeline().align()
}

/// The 1:N search rows as text (empty without rows), the first column `name` characters wide and
/// the rate column `rate` wide, to line up with the embedding table above it.
fn search_table(search: &[SearchRow], name: usize, rate: usize) -> String {
    if search.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\n\n{:<name$} {:>12} {:>rate$} {:>10}",
        "1:N exact top-5 (random templates)", "probe ms", "probes/s", "B/templ."
    );
    for r in search {
        s.push_str(&format!(
            "\n{:<name$} {:>12.3} {:>rate$.0} {:>10.1}",
            format!("{} templates", r.templates),
            r.probe_ms,
            r.probes_per_s,
            r.bytes_per_template
        ));
    }
    s
}
