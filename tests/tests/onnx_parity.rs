//! One model, one answer on every runtime: the candle encoder and its exported `model.onnx` on
//! tract; the QDQ graph of the int8 model file loads and runs on tract (its drift from the engine
//! is bounded in `qdq_engine_parity.rs`); the edge runtime's preprocessing and the trainer's.
//!
//! Real ORL faces are used where the data is cached (`siamedge-train data fetch`); without it
//! those tests skip with a message, and fail under `SIAMEDGE_REQUIRE_DATA=1` (CI).

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{ModuleT, VarMap};
use siamedge_edge::preprocess::{load_gray, to_input};
use siamedge_edge::OnnxEncoder;
use siamedge_format::{InputSpec, Model, Quant};
use siamedge_tests::skip::or_skip_data;
use siamedge_trainer::data::{DataCache, DataSet, OrlFaces};
use siamedge_trainer::export::{float_onnx, proto, qdq_onnx};
use siamedge_trainer::model::{encoder, seeded_var_builder, Encoder, EncoderConfig};

/// ORL at the training size, or `None` (skip) when not cached; panics under
/// `SIAMEDGE_REQUIRE_DATA=1`.
fn orl() -> Option<(OrlFaces, DataCache)> {
    let loaded = DataCache::from_env()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            OrlFaces::load(&c)
                .map(|f| (f, c))
                .map_err(|e| e.to_string())
        });
    or_skip_data("ORL", loaded)
}

/// The input spec training uses: grey, `p / 255`.
fn unit_spec(height: u16, width: u16) -> InputSpec {
    InputSpec {
        width,
        height,
        channels: 1,
        mean: heapless::Vec::from_slice(&[0.0]).unwrap(),
        std: heapless::Vec::from_slice(&[1.0]).unwrap(),
        quant: Quant::new(1.0 / 255.0, -128),
    }
}

/// An encoder with seeded weights whose batch-norm running statistics have moved away from
/// (0, 1) through a few training-mode passes, so that folding them is exercised.
fn warmed_encoder(cfg: &EncoderConfig, seed: u64) -> (Encoder, VarMap) {
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, seed, &Device::Cpu);
    let enc = encoder(cfg, vb).unwrap();
    for _ in 0..3 {
        let x = Tensor::rand(0f32, 1.0, (8, 1, cfg.height, cfg.width), &Device::Cpu).unwrap();
        enc.forward_t(&(x * 1.7).unwrap(), true).unwrap();
    }
    (enc, varmap)
}

fn candle_embed(enc: &Encoder, x: &[f32]) -> Vec<f32> {
    let cfg = enc.config();
    let t = Tensor::from_slice(x, (1, 1, cfg.height, cfg.width), &Device::Cpu).unwrap();
    enc.forward_t(&t, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn tract_float(enc: &Encoder) -> OnnxEncoder {
    let proto = float_onnx(enc, &[]).unwrap();
    OnnxEncoder::from_bytes(&proto::to_bytes(&proto), Path::new("model.onnx")).unwrap()
}

/// Random inputs when no data is cached; the parity bound is the same.
#[test]
fn candle_and_tract_float_agree_on_random_inputs() {
    for cfg in [
        EncoderConfig::reference(56, 46, 64),
        EncoderConfig::compact(56, 46, 32),
        EncoderConfig {
            l2_normalize: false,
            ..EncoderConfig::compact(32, 24, 16)
        },
    ] {
        let (enc, _vm) = warmed_encoder(&cfg, 7);
        let rt = tract_float(&enc);
        assert_eq!(rt.input_shape(), (1, cfg.height, cfg.width));
        assert_eq!(rt.dim(), cfg.embedding_dim);
        for i in 0..4 {
            let x: Vec<f32> = Tensor::rand(0f32, 1.0, cfg.height * cfg.width, &Device::Cpu)
                .unwrap()
                .to_vec1()
                .unwrap();
            let (a, b) = (candle_embed(&enc, &x), rt.embed(&x).unwrap());
            let d = max_abs_diff(&a, &b);
            assert!(d <= 1e-4, "{cfg:?} input {i}: max abs difference {d}");
        }
    }
}

/// The bound on real faces: every one of the 400 ORL images through the reference CNN
/// and the compact encoder, read and preprocessed by the edge runtime from the cached PGM files.
#[test]
fn candle_and_tract_float_agree_on_orl_faces_within_1e_4() {
    let Some((faces, cache)) = orl() else { return };
    let dir = cache.dataset_dir(DataSet::Orl);
    let spec = unit_spec(56, 46);
    for cfg in [
        EncoderConfig::reference(56, 46, 64),
        EncoderConfig::compact(56, 46, 32),
    ] {
        let (enc, _vm) = warmed_encoder(&cfg, 11);
        let rt = tract_float(&enc);
        let mut worst = 0f32;
        for (i, &person) in faces.labels.iter().enumerate() {
            let path = dir.join(siamedge_trainer::data::orl::file_name(
                person,
                (i % 10 + 1) as u32,
            ));
            let x = to_input(&load_gray(&path).unwrap(), &spec, &path).unwrap();
            worst = worst.max(max_abs_diff(
                &candle_embed(&enc, &x),
                &rt.embed(&x).unwrap(),
            ));
        }
        eprintln!("{cfg:?}: max abs difference over 400 faces {worst:e}");
        assert!(worst <= 1e-4, "max abs difference {worst}");
    }
}

/// The edge runtime reads and resizes a face exactly as the trainer's data pipeline does.
#[test]
fn edge_preprocessing_matches_the_trainer_bit_for_bit() {
    let Some((faces, cache)) = orl() else { return };
    let dir = cache.dataset_dir(DataSet::Orl);
    let set = siamedge_trainer::train::datasets::orl_set(&faces, &[0, 57, 399], 56, 46).unwrap();
    let spec = unit_spec(56, 46);
    for (k, i) in [0usize, 57, 399].into_iter().enumerate() {
        let path = dir.join(siamedge_trainer::data::orl::file_name(
            faces.labels[i],
            (i % 10 + 1) as u32,
        ));
        let edge = to_input(&load_gray(&path).unwrap(), &spec, &path).unwrap();
        let trainer = set.image(k);
        assert_eq!(edge, trainer, "image {i} ({})", path.display());
    }
}

/// Every layer kind of the model format through the QDQ writer and tract as it loads the file:
/// the graph loads, records the model id, and its outputs are exact multiples of the embedding
/// scale (the graph ends in the int8 embedding).
#[test]
fn qdq_graph_of_every_layer_kind_runs_on_tract() {
    for spec in [
        common::every_kind_spec().unwrap(),
        common::tiny_model_spec().unwrap(),
    ] {
        let bytes = spec.to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let proto = qdq_onnx(&model, &[]).unwrap();
        let rt =
            OnnxEncoder::from_bytes(&proto::to_bytes(&proto), Path::new("m.int8.onnx")).unwrap();
        assert_eq!(rt.dim(), usize::from(model.embedding().dim));
        assert_eq!(
            rt.metadata("siamedge.model_id"),
            Some(hex::encode(model.id().as_bytes()).as_str())
        );
        let n = model.input().shape().elements() as usize;
        let scale = model.embedding().scale;
        for seed in 0..5u32 {
            let x: Vec<f32> = (0..n)
                .map(|i| (((i as u32 * 37 + seed * 101) % 255) as f32 / 255.0 - 0.5) * 2.0)
                .collect();
            let e = rt.embed(&x).unwrap();
            assert_eq!(e.len(), usize::from(model.embedding().dim));
            for v in &e {
                let q = v / scale;
                assert!(
                    (q - q.round()).abs() < 1e-3 && q.abs() <= 128.5,
                    "{v} / {scale}"
                );
            }
        }
    }
}
