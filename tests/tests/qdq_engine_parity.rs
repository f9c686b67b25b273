//! The integer reference executor (the firmware's kernels, `siamedge_engine`) and tract
//! on the QDQ export of the same model file give the same embeddings and the same decision on
//! every test pair: bit for bit, because `siamedge_edge::onnx_exact` lowers every int8 layer to
//! the engine's integer arithmetic before tract runs the graph.
//!
//! Fixture models cover every layer kind; a post-training-quantized compact encoder (seeded, batch
//! norm statistics warmed on faces, calibrated on ORL fold 0's training people) covers the shipped
//! architecture on real held-out faces (skips without the data, fails under
//! `SIAMEDGE_REQUIRE_DATA=1`).

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{ModuleT, VarMap};
use siamedge_edge::OnnxEncoder;
use siamedge_engine::run_model;
use siamedge_format::{Model, Task};
use siamedge_trainer::data::{DataCache, OrlFaces};
use siamedge_trainer::eval::all_pairs;
use siamedge_trainer::export::{proto, qdq_onnx, quantize_input};
use siamedge_trainer::model::{encoder, seeded_var_builder, EncoderConfig};
use siamedge_trainer::quant::thresholds::{calibrate_points, decision_spec, int8_distances};
use siamedge_trainer::quant::{fold, quantize_ptq, ModelMeta, RangeRule};
use siamedge_trainer::train::orl_set;

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

/// tract's int8 embedding of the NHWC int8 input `q` (the graph takes NCHW floats).
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

fn qdq(model: &Model<'_>) -> OnnxEncoder {
    let proto = qdq_onnx(model, &[]).unwrap();
    OnnxEncoder::from_bytes(&proto::to_bytes(&proto), Path::new("model.int8.onnx")).unwrap()
}

#[test]
fn engine_and_tract_agree_on_every_layer_kind() {
    for (name, spec) in [
        ("tiny", common::tiny_model_spec().unwrap()),
        ("every kind", common::every_kind_spec().unwrap()),
    ] {
        let bytes = spec.to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let rt = qdq(&model);
        let lowered = rt.lowered();
        let matmuls = model
            .layers()
            .iter()
            .filter(|l| !l.weights().is_empty())
            .count();
        assert_eq!(lowered.matmul, matmuls, "{name}: {lowered:?}");
        assert_eq!(lowered.left_in_float, 0, "{name}: {lowered:?}");
        let n = model.input().shape().elements() as usize;
        let (mut worst, mut same, mut total) = (1f64, 0usize, 0usize);
        let mut s = 99u32;
        for _ in 0..50 {
            let q: Vec<i8> = (0..n)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 24) as u8 as i8
                })
                .collect();
            let e = run_model(&model, &q).unwrap();
            let t = tract_int8(&rt, &model, &q);
            worst = worst.min(cosine(&e, &t));
            same += e.iter().zip(&t).filter(|(a, b)| a == b).count();
            total += e.len();
            assert_eq!(
                e, t,
                "{name}: every layer is lowered, so tract is bit-exact"
            );
        }
        eprintln!("{name}: {lowered:?}; min cosine {worst:.6}, {same}/{total} values identical");
        assert!(worst >= 0.999, "{name}: min cosine {worst}");
    }
}

#[test]
fn engine_and_tract_agree_on_held_out_faces() {
    let loaded = DataCache::from_env()
        .map_err(|e| e.to_string())
        .and_then(|c| OrlFaces::load(&c).map_err(|e| e.to_string()));
    let faces = match loaded {
        Ok(f) => f,
        Err(e) if std::env::var("SIAMEDGE_REQUIRE_DATA").as_deref() == Ok("1") => {
            panic!("SIAMEDGE_REQUIRE_DATA=1 but ORL is not loadable: {e}")
        }
        Err(e) => {
            eprintln!("skipping: ORL is not cached ({e})");
            return;
        }
    };
    let fold0 = faces.fold(0).unwrap();
    let train = orl_set(&faces, &fold0.train, 56, 46).unwrap();
    let test = orl_set(&faces, &fold0.test, 56, 46).unwrap();

    let cfg = EncoderConfig::compact(56, 46, 32);
    let varmap = VarMap::new();
    let enc = encoder(
        &cfg,
        seeded_var_builder(&varmap, 5, &Device::Cpu).pp("encoder"),
    )
    .unwrap();
    for chunk in (0..train.len()).collect::<Vec<_>>().chunks(60) {
        let flat: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| train.image(i).to_vec())
            .collect();
        let x = Tensor::from_vec(flat, (chunk.len(), 1, 56, 46), &Device::Cpu).unwrap();
        enc.forward_t(&x, true).unwrap();
    }
    let weights: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let folded = fold(&cfg, &weights, "encoder").unwrap();
    let images: Vec<&[f32]> = (0..train.len())
        .step_by(2)
        .map(|i| train.image(i))
        .collect();
    let meta = ModelMeta::placeholder(Task::Face, 0.5).unwrap();
    let (mut spec, _) = quantize_ptq(
        &folded,
        images.iter().copied(),
        RangeRule::Percentile(99.99),
        &meta,
    )
    .unwrap();
    let draft = spec.to_bytes().unwrap();
    let model = Model::decode(&draft).unwrap();
    let embed = |set: &siamedge_trainer::data::LabelledSet| -> Vec<Vec<i8>> {
        (0..set.len())
            .map(|i| run_model(&model, &quantize_input(model.input().quant, set.image(i))).unwrap())
            .collect()
    };
    let points = calibrate_points(
        model.metric(),
        &embed(&train),
        model.embedding().scale,
        train.labels(),
        &[1e-3, 1e-2],
    )
    .unwrap();
    spec.decision = decision_spec(&points, 0.5).unwrap();
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let rt = qdq(&model);
    let matmuls = model
        .layers()
        .iter()
        .filter(|l| !l.weights().is_empty())
        .count();
    assert_eq!(
        rt.lowered(),
        siamedge_edge::onnx_exact::Lowered {
            matmul: matmuls,
            l2: 1,
            avg_pool: 0,
            left_in_float: 0
        }
    );

    let engine: Vec<Vec<i8>> = (0..test.len())
        .map(|i| run_model(&model, &quantize_input(model.input().quant, test.image(i))).unwrap())
        .collect();
    let tract: Vec<Vec<i8>> = (0..test.len())
        .map(|i| {
            tract_int8(
                &rt,
                &model,
                &quantize_input(model.input().quant, test.image(i)),
            )
        })
        .collect();
    let worst = engine
        .iter()
        .zip(&tract)
        .map(|(a, b)| cosine(a, b))
        .fold(1.0, f64::min);
    let pairs = all_pairs(test.labels());
    let scale = model.embedding().scale;
    let (eg, ei) = int8_distances(model.metric(), &engine, scale, &pairs).unwrap();
    let (tg, ti) = int8_distances(model.metric(), &tract, scale, &pairs).unwrap();
    let mut flips = 0;
    for p in model.decision().points() {
        let t = f64::from(p.threshold);
        flips += eg
            .iter()
            .zip(&tg)
            .chain(ei.iter().zip(&ti))
            .filter(|(a, b)| (**a <= t) != (**b <= t))
            .count();
    }
    eprintln!(
        "100 held-out faces: min cosine {worst:.6}; {} pairs x {} points, {flips} decisions differ",
        eg.len() + ei.len(),
        model.decision().points().len()
    );
    assert!(worst >= 0.999, "min cosine {worst}");
    // Every layer lowered to the engine's arithmetic: the same embeddings, so the same decisions.
    assert_eq!(
        engine, tract,
        "tract's int8 embeddings differ from the engine's"
    );
    assert_eq!(
        flips, 0,
        "{flips} decisions differ between the engine and tract"
    );
}
