//! The edge runtime end to end: image files -> preprocessing -> the QDQ export on tract -> int8
//! template in a gallery file -> verify and identify, against the firmware's reference executor
//! and the model file's own decision on the same images.

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use siamedge_edge::preprocess::{load_gray, to_input};
use siamedge_edge::{EdgeError, GalleryFile, Runtime};
use siamedge_engine::run_model;
use siamedge_format::{Model, Template};
use siamedge_trainer::export::{proto, qdq_onnx, quantize_input, write_onnx};

/// A binary PGM (P5) of `w x h` pixels.
fn pgm(dir: &Path, name: &str, w: usize, h: usize, px: impl Fn(usize) -> u8) -> PathBuf {
    let mut bytes = format!("P5\n{w} {h}\n255\n").into_bytes();
    bytes.extend((0..w * h).map(px));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn images_to_decisions_match_the_firmware_path() {
    let dir = tempfile::tempdir().unwrap();
    let sgm = common::tiny_model_bytes().unwrap();
    let model = Model::decode(&sgm).unwrap();
    std::fs::write(dir.path().join("model.sgm"), &sgm).unwrap();
    write_onnx(
        &dir.path().join("model.int8.onnx"),
        &qdq_onnx(&model, &[]).unwrap(),
    )
    .unwrap();
    let rt = Runtime::load(
        &dir.path().join("model.int8.onnx"),
        &dir.path().join("model.sgm"),
    )
    .unwrap();
    assert_eq!(rt.id(), model.id());

    // 8x8 images, area-resized to the model's 4x4.
    let images: Vec<PathBuf> = (0..6)
        .map(|k| {
            pgm(dir.path(), &format!("{k}.pgm"), 8, 8, |i| {
                ((i * (7 + 13 * k) + 31 * k) % 256) as u8
            })
        })
        .collect();
    let mut embeddings = Vec::new();
    for p in &images {
        let edge = rt.quantize(&rt.embed_path(p).unwrap()).unwrap();
        let x = to_input(&load_gray(p).unwrap(), model.input(), p).unwrap();
        let engine = run_model(&model, &quantize_input(model.input().quant, &x)).unwrap();
        for (a, b) in edge.values().iter().zip(&engine) {
            assert!(
                (i16::from(*a) - i16::from(*b)).abs() <= 1,
                "{p:?}: {edge:?} vs {engine:?}"
            );
        }
        embeddings.push(edge);
    }

    let mut gallery = GalleryFile::create(dir.path().join("g.sgg"), rt.id()).unwrap();
    for (subject, e) in embeddings.iter().enumerate().take(3) {
        gallery
            .enroll(Template::new(subject as u32, e.as_ref()).unwrap())
            .unwrap();
    }
    let gallery = GalleryFile::open(dir.path().join("g.sgg")).unwrap();
    for e in &embeddings {
        for subject in 0..3u32 {
            let edge = gallery
                .verify(subject, e.as_ref(), &rt.metric(), rt.decision())
                .unwrap()
                .unwrap();
            let device = model
                .verify(gallery.gallery().get(subject).unwrap(), e.as_ref())
                .unwrap();
            assert_eq!(edge, device);
        }
        assert!(gallery
            .identify(e.as_ref(), &rt.metric(), rt.decision())
            .unwrap()
            .is_some());
    }
}

#[test]
fn a_model_file_of_another_model_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = common::tiny_model_bytes().unwrap();
    let other = common::every_kind_spec().unwrap().to_bytes().unwrap();
    let model = Model::decode(&tiny).unwrap();
    std::fs::write(dir.path().join("other.sgm"), &other).unwrap();
    let onnx = dir.path().join("tiny.int8.onnx");
    std::fs::write(&onnx, proto::to_bytes(&qdq_onnx(&model, &[]).unwrap())).unwrap();
    let err = Runtime::load(&onnx, &dir.path().join("other.sgm")).unwrap_err();
    assert!(matches!(err, EdgeError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("tiny.int8.onnx"), "{err}");
    let missing = Runtime::load(&onnx, &dir.path().join("missing.sgm")).unwrap_err();
    assert!(missing.to_string().contains("missing.sgm"), "{missing}");
}
