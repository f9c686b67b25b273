//! Recalibrating a model's thresholds keeps its id (model format version 2), so templates
//! enrolled with it and the ONNX files of its folder stay paired.

use std::path::Path;

use siamedge_format::{Model, ModelSpec};
use siamedge_trainer::data::{ImageShape, LabelledSet};
use siamedge_trainer::quant::thresholds::recalibrate;

#[test]
fn recalibrating_keeps_the_model_id() {
    let sgm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/digits-mnist/model.sgm");
    let shipped = std::fs::read(&sgm).unwrap();
    // The shipped file as the current writer writes it (a version-1 file gets its v2 id here).
    let bytes = ModelSpec::from_model(&Model::decode(&shipped).unwrap())
        .to_bytes()
        .unwrap();
    let model = Model::decode(&bytes).unwrap();
    let (h, w) = (
        usize::from(model.input().height),
        usize::from(model.input().width),
    );
    // 3 "identities" x 4 images: a bright bar at a class-specific row, jittered per image.
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for class in 0..3u32 {
        for k in 0..4usize {
            let row = 4 + 7 * class as usize + k % 2;
            for y in 0..h {
                for x in 0..w {
                    let on = y == row || y == row + 1 || (x + k) % 9 == 0 && class == 1;
                    pixels.push(if on { 1.0 } else { 0.05 * k as f32 });
                }
            }
            labels.push(class);
        }
    }
    let set = LabelledSet::new(pixels, labels, ImageShape::grey(h, w)).unwrap();
    let (new_bytes, points) = recalibrate(&bytes, &set, &[0.5, 0.1, 1.0]).unwrap();
    let recalibrated = Model::decode(&new_bytes).unwrap();
    assert_ne!(new_bytes, bytes, "the decision section was rewritten");
    assert_eq!(recalibrated.decision().points().len(), 3);
    assert_eq!(points.len(), 3);
    assert_eq!(
        recalibrated.decision().default_point().threshold,
        points[0].threshold as f32
    );
    assert_eq!(recalibrated.version(), 2);
    assert_eq!(recalibrated.id(), model.id());
    assert_eq!(recalibrated.layers(), model.layers());
}
