//! One model, one template, one answer: the firmware's verifier (zero-copy model, no allocator)
//! and the edge runtime's gallery file decide every probe the same way, and both refuse a template
//! made by another model.

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use siamedge_edge::GalleryFile;
use siamedge_firmware::Verifier;
use siamedge_format::{Embedding, EmbeddingRef, FormatError, Model, ModelId, Template};

/// Deterministic int8 vectors spread over the whole range (a small LCG; no RNG crate needed).
fn vectors(n: usize, dim: usize, seed: u32) -> Vec<Vec<i8>> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 24) as u8 as i8
                })
                .collect()
        })
        .collect()
}

#[test]
fn firmware_and_edge_agree_on_every_decision() {
    let bytes = common::tiny_model_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let id = model.id();
    let dim = usize::from(model.embedding().dim);
    let scale = model.embedding().scale;

    let dir = tempfile::tempdir().unwrap();
    let mut gallery = GalleryFile::create(dir.path().join("people.sgg"), id).unwrap();
    let enrolled = vectors(5, dim, 1);
    let mut templates = Vec::new();
    for (subject, values) in enrolled.iter().enumerate() {
        let t = Template::new(
            subject as u32,
            EmbeddingRef {
                model: id,
                scale,
                values,
            },
        )
        .unwrap();
        gallery.enroll(t.clone()).unwrap();
        templates.push(t);
    }
    let gallery = GalleryFile::open(gallery.path()).unwrap();

    let firmware = Verifier::new(&model);
    let strict = firmware.at_far(1e-3).unwrap();
    let mut accepted = 0;
    for (k, probe) in vectors(64, dim, 2).iter().chain(&enrolled).enumerate() {
        let probe = Embedding::new(id, scale, probe).unwrap();
        for t in &templates {
            let on_device = firmware.verify(t, probe.as_ref()).unwrap();
            let on_edge = gallery
                .verify(
                    t.subject(),
                    probe.as_ref(),
                    &model.metric(),
                    model.decision(),
                )
                .unwrap()
                .unwrap();
            assert_eq!(on_device, on_edge, "probe {k}, subject {}", t.subject());
            assert_eq!(on_device, model.verify(t, probe.as_ref()).unwrap());
            accepted += usize::from(on_device.accept);
        }
        let (index, device_best) = strict
            .identify(&templates, probe.as_ref())
            .unwrap()
            .unwrap();
        let point = strict.operating_point();
        let (subject, edge_best) = gallery
            .identify(probe.as_ref(), &model.metric(), model.decision())
            .unwrap()
            .unwrap();
        assert_eq!(templates[index].subject(), subject, "probe {k}");
        assert_eq!(device_best.distance, edge_best.distance);
        assert_eq!(device_best.accept, edge_best.distance <= point.threshold);
    }
    // Every enrolled vector must accept its own template (distance 0), so the decisions above
    // cover both verdicts.
    assert!(accepted >= enrolled.len(), "accepted {accepted}");
}

#[test]
fn a_template_of_another_model_is_refused_everywhere() {
    let bytes = common::tiny_model_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let other = ModelId([0xAB; 16]);
    let values = [1i8, 2, 3];
    let foreign = Template::new(
        9,
        EmbeddingRef {
            model: other,
            scale: 0.02,
            values: &values,
        },
    )
    .unwrap();
    let probe = Embedding::new(model.id(), 0.02, &values).unwrap();

    let err = Verifier::new(&model)
        .verify(&foreign, probe.as_ref())
        .unwrap_err();
    assert_eq!(
        err,
        FormatError::ModelMismatch {
            expected: model.id(),
            found: other
        }
    );
    assert!(model.verify(&foreign, probe.as_ref()).is_err());

    let dir = tempfile::tempdir().unwrap();
    let mut gallery = GalleryFile::create(dir.path().join("g.sgg"), model.id()).unwrap();
    assert!(gallery.enroll(foreign).is_err());
}
