//! How far peers' execution of the exported graphs drifts from the engine.
//!
//! The engine (`siamedge-engine`, the firmware's kernels) is the definition of the int8 math; the
//! edge runs int8 models on it. The standard QDQ file (`model.int8.onnx`) is for peers: tract runs
//! it here exactly as it loads it (no rewrite), executing the convolutions in float between
//! QuantizeLinear/DequantizeLinear pairs, so its int8 embeddings may differ from the engine's by
//! rounding. tract 0.22's `DequantizeLinear` reads only the first of per-axis scales, so it is a
//! faithful peer only for per-tensor weight scales: the fixtures are measured in that form (and
//! a test pins that per-channel scales are misread, which is why the edge does not run int8 on
//! tract). onnxruntime's execution of the per-channel files, shipped ones included, is checked
//! against the engine by `scripts/check-onnx.sh`. On the shipped face model the int8 engine is
//! bounded against the float graph on tract instead (ORL fold 0's held-out faces; skips without
//! the data, fails under `SIAMEDGE_REQUIRE_DATA=1`).
//!
//! Measured (tract 0.22.5): the tiny fixture with per-tensor scales is bit-exact; with per-channel
//! scales tract is 23 steps off on it (cosine 0.707). The every-kind fixture (dilated
//! "same"-padded depthwise, padded AveragePool, GlobalAveragePool, L2 normalization) with
//! per-tensor scales: 98.5 % of values identical, but up to 22 steps apart, min cosine 0.877.
//! Why, layer by layer: every layer's int8 output is within one step of the engine's, and the
//! graph's L2 normalization gives the engine's bytes exactly from the same input; but the
//! fixture's Dense output (scale 0.07) is a short vector, `||q - zp||` of 4 to 12 steps, so one
//! step of rounding difference before it (a requantization tie of the depthwise convolution, in
//! float on tract, in fixed point on the engine) moves the normalized embedding by up to
//! `128 / ||q - zp||` steps: 2 of the 50 inputs, by 22 and 14. Embeddings of trained models are
//! not that short (the shipped face model: at most 3 steps against its float graph, below).
//! Before the averages were exported as the engine rounds them (`onnx_qdq`'s
//! `rounded_average`), only 84.5 % were identical on this fixture (ties of the average pools
//! rounded the other way, a step off each).
//! The shipped face model's int8 embeddings vs its float graph's: at most 3 steps, min cosine
//! 0.99651, 14 of 9900 decisions (4950 pairs x 2 operating points) differ.

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use siamedge_edge::preprocess::{load_gray, to_input, to_int8};
use siamedge_edge::OnnxEncoder;
use siamedge_engine::{run_model, Engine, Kernels};
use siamedge_format::{LayerSpec, Model, ModelSpec};
use siamedge_tests::skip::or_skip_data;
use siamedge_trainer::data::{DataCache, OrlFaces};
use siamedge_trainer::eval::all_pairs;
use siamedge_trainer::export::{proto, qdq_onnx};
use siamedge_trainer::quant::thresholds::int8_distances;

/// Largest int8-step difference tract may show on any embedding value of the per-tensor tiny
/// fixture, the smallest cosine between tract's and the engine's embedding of one input, and the
/// smallest fraction of identical values.
const FIXTURE_MAX_STEPS: i32 = 1;
const FIXTURE_MIN_COSINE: f64 = 0.999;
const FIXTURE_MIN_IDENTICAL: f64 = 0.99;
/// The same on the every-kind fixture: one step of rounding difference before its L2
/// normalization of a short vector becomes up to ~30 steps after it (see the module docs), so the
/// step and cosine bounds are loose and the fraction of identical values is the tight one.
const EVERY_KIND_MAX_STEPS: i32 = 24;
const EVERY_KIND_MIN_COSINE: f64 = 0.85;
const EVERY_KIND_MIN_IDENTICAL: f64 = 0.97;
/// Largest int8-step difference between the shipped face model's int8 embedding (engine) and its
/// float graph's embedding in int8 steps (tract on `model.onnx`), on held-out faces.
const FACE_MAX_STEPS: i32 = 4;
/// Smallest cosine between the two.
const FACE_MIN_COSINE: f64 = 0.996;
/// Share of the decisions (test pairs x operating points) that may flip between them. How many
/// flip depends on how many distances lie near the thresholds: model `a4fa0d80` (thresholds from
/// held-out people, test FAR 2.3 % and TAR 93 % at its 1e-3 point, in the overlap of genuine and
/// impostor distances) flips 28 of 9,900 (0.28 %); its predecessor, whose thresholds sat where no
/// impostor lay (FAR 0), flipped at most 20.
const FACE_MAX_FLIP_RATE: f64 = 0.004;

fn cosine(a: &[i8], b: &[i8]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let n = |v: &[i8]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if n(a) == 0.0 && n(b) == 0.0 {
        return 1.0;
    }
    dot / (n(a) * n(b))
}

/// tract's int8 embedding of the NHWC int8 input `q`: the graph takes NCHW floats, given the
/// input's exact real values, and its output is divided by the embedding scale.
fn tract_int8(rt: &OnnxEncoder, model: &Model<'_>, q: &[i8]) -> Vec<i8> {
    let s = model.input().shape();
    let (h, w, c) = (usize::from(s.h), usize::from(s.w), usize::from(s.c));
    let quant = model.input().quant;
    let mut x = vec![0f32; q.len()];
    for y in 0..h {
        for xx in 0..w {
            for ch in 0..c {
                let v = q[(y * w + xx) * c + ch];
                x[(ch * h + y) * w + xx] =
                    quant.scale * (f32::from(v) - f32::from(quant.zero_point));
            }
        }
    }
    let scale = model.embedding().scale;
    rt.embed(&x)
        .unwrap()
        .iter()
        .map(|v| (v / scale).round().clamp(-128.0, 127.0) as i8)
        .collect()
}

/// The drift between two sets of embeddings of the same inputs.
#[derive(Debug, Default)]
struct Drift {
    max_steps: i32,
    min_cosine: f64,
    same: usize,
    values: usize,
}

impl Drift {
    fn of(engine: &[Vec<i8>], tract: &[Vec<i8>]) -> Self {
        let mut d = Drift {
            min_cosine: 1.0,
            ..Drift::default()
        };
        for (e, t) in engine.iter().zip(tract) {
            assert_eq!(e.len(), t.len());
            d.min_cosine = d.min_cosine.min(cosine(e, t));
            for (a, b) in e.iter().zip(t) {
                d.max_steps = d.max_steps.max((i32::from(*a) - i32::from(*b)).abs());
                d.same += usize::from(a == b);
                d.values += 1;
            }
        }
        d
    }
}

/// Random int8 inputs of `model`.
fn inputs(model: &Model<'_>, count: usize) -> Vec<Vec<i8>> {
    let n = model.input().shape().elements() as usize;
    let mut s = 99u32;
    (0..count)
        .map(|_| {
            (0..n)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 24) as u8 as i8
                })
                .collect()
        })
        .collect()
}

/// The engine's and tract's (on the QDQ graph of `spec`) embeddings of 50 random inputs.
fn engine_and_tract(spec: &ModelSpec) -> Drift {
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let proto = qdq_onnx(&model, &[]).unwrap();
    let rt =
        OnnxEncoder::from_bytes(&proto::to_bytes(&proto), Path::new("model.int8.onnx")).unwrap();
    let inputs = inputs(&model, 50);
    let engine: Vec<Vec<i8>> = inputs
        .iter()
        .map(|q| run_model(&model, q).unwrap())
        .collect();
    let tract: Vec<Vec<i8>> = inputs.iter().map(|q| tract_int8(&rt, &model, q)).collect();
    Drift::of(&engine, &tract)
}

/// `spec` with every weighted layer's weight scales set to its first channel's (the same
/// weights; multipliers and shifts recomputed).
fn per_tensor(spec: &ModelSpec) -> ModelSpec {
    let mut s = spec.clone();
    for l in s.layers.iter_mut().filter(|l| !l.weight_scales.is_empty()) {
        let scales = vec![l.weight_scales[0]; l.weight_scales.len()];
        let rebuilt = LayerSpec::weighted(
            l.kind.clone(),
            l.input,
            l.input_quant,
            l.output_quant,
            l.weights.clone(),
            scales,
            l.bias.clone(),
        )
        .unwrap();
        *l = rebuilt.with_activation(l.activation);
    }
    s
}

fn fixtures() -> [(&'static str, ModelSpec); 2] {
    [
        ("tiny", common::tiny_model_spec().unwrap()),
        ("every kind", common::every_kind_spec().unwrap()),
    ]
}

#[test]
fn tract_on_per_tensor_qdq_files_stays_near_the_engine_on_every_layer_kind() {
    for ((name, spec), (steps, cosine, identical)) in fixtures().into_iter().zip([
        (FIXTURE_MAX_STEPS, FIXTURE_MIN_COSINE, FIXTURE_MIN_IDENTICAL),
        (
            EVERY_KIND_MAX_STEPS,
            EVERY_KIND_MIN_COSINE,
            EVERY_KIND_MIN_IDENTICAL,
        ),
    ]) {
        let d = engine_and_tract(&per_tensor(&spec));
        eprintln!("{name}, per-tensor weight scales: {d:?}");
        assert!(d.max_steps <= steps, "{name}: {d:?}");
        assert!(d.min_cosine >= cosine, "{name}: {d:?}");
        assert!(
            d.same as f64 >= identical * d.values as f64,
            "{name}: {d:?}"
        );
    }
}

/// tract 0.22 applies channel 0's weight scale to every channel: the per-channel QDQ file is not
/// a faithful peer on tract. When a tract upgrade fixes it, this fails: then tighten the test
/// above to per-channel files.
#[test]
fn tract_misreads_per_channel_weight_scales() {
    let (name, spec) = ("tiny", common::tiny_model_spec().unwrap());
    let d = engine_and_tract(&spec);
    eprintln!("{name}, per-channel weight scales: {d:?}");
    assert!(
        d.max_steps > FIXTURE_MAX_STEPS,
        "{name}: tract now follows per-channel scales: {d:?}"
    );
}

/// ORL and its folder, or `None` (skip) when not cached; panics under `SIAMEDGE_REQUIRE_DATA=1`.
fn orl() -> Option<(OrlFaces, PathBuf)> {
    let loaded = DataCache::from_env()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            let dir = c.dataset_dir(siamedge_trainer::data::DataSet::Orl);
            OrlFaces::load(&c)
                .map(|f| (f, dir))
                .map_err(|e| e.to_string())
        });
    or_skip_data("ORL", loaded)
}

#[test]
fn the_shipped_int8_model_stays_near_its_float_graph_on_held_out_faces() {
    let Some((faces, dir)) = orl() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl");
    let bytes = std::fs::read(root.join("model.sgm")).unwrap();
    let model = Model::decode(&bytes).unwrap();
    let float = OnnxEncoder::load(&root.join("model.onnx")).unwrap();
    let test = faces.fold(0).unwrap().test;
    let mut arena = vec![0i8; Kernels::best().arena_bytes(&model)];
    let mut engine = Engine::with_kernels(&model, &mut arena, Kernels::best()).unwrap();
    let scale = model.embedding().scale;
    let (mut int8, mut f32_steps) = (Vec::new(), Vec::new());
    for &i in &test {
        let path = dir.join(siamedge_trainer::data::orl::file_name(
            faces.labels[i],
            (i % 10 + 1) as u32,
        ));
        let img = load_gray(&path).unwrap();
        let q = to_int8(&img, model.input(), &path).unwrap();
        int8.push(engine.run(&q).unwrap().to_vec());
        let x = to_input(&img, model.input(), &path).unwrap();
        // The float embedding in int8 steps (rounded: the template a float encoder stores).
        f32_steps.push(
            float
                .embed(&x)
                .unwrap()
                .iter()
                .map(|v| (v / scale).round().clamp(-128.0, 127.0) as i8)
                .collect::<Vec<i8>>(),
        );
    }
    let d = Drift::of(&int8, &f32_steps);

    let labels: Vec<u32> = test.iter().map(|&i| faces.labels[i]).collect();
    let pairs = all_pairs(&labels);
    let (eg, ei) = int8_distances(model.metric(), &int8, scale, &pairs).unwrap();
    let (fg, fi) = int8_distances(model.metric(), &f32_steps, scale, &pairs).unwrap();
    let mut flips = 0;
    for p in model.decision().points() {
        let t = f64::from(p.threshold);
        flips += eg
            .iter()
            .zip(&fg)
            .chain(ei.iter().zip(&fi))
            .filter(|(a, b)| (**a <= t) != (**b <= t))
            .count();
    }
    eprintln!(
        "{} held-out faces, int8 engine vs f32 tract: {d:?}; {} pairs x {} points, {flips} decisions differ",
        test.len(),
        eg.len() + ei.len(),
        model.decision().points().len()
    );
    assert_eq!(test.len(), 100);
    assert!(d.max_steps <= FACE_MAX_STEPS, "{d:?}");
    assert!(d.min_cosine >= FACE_MIN_COSINE, "{d:?}");
    let decisions = (eg.len() + ei.len()) * model.decision().points().len();
    assert!(
        flips as f64 <= FACE_MAX_FLIP_RATE * decisions as f64,
        "{flips} of {decisions} decisions differ"
    );
}
