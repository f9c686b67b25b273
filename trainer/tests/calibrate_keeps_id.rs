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

/// A P5 PGM of `w x h` grey values.
fn pgm(path: &Path, w: usize, h: usize, pixels: &[u8]) {
    let mut bytes = format!("P5\n{w} {h}\n255\n").into_bytes();
    bytes.extend_from_slice(pixels);
    std::fs::write(path, bytes).unwrap();
}

/// `siamedge-train calibrate --data folder` on a user's folder of people rewrites the model file
/// of a shipped folder in place, and the folder's ONNX graphs still name its id (the edge pairs
/// them by it); a folder with one person is refused by name, the model file untouched.
#[test]
fn calibrating_on_a_users_folder_keeps_the_model_folder_paired() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/digits-mnist");
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("digits-mnist");
    std::fs::create_dir(&folder).unwrap();
    for f in ["model.sgm", "model.onnx", "model.int8.onnx"] {
        std::fs::copy(shipped.join(f), folder.join(f)).unwrap();
    }
    let sgm = folder.join("model.sgm");
    let before = std::fs::read(&sgm).unwrap();
    let model = Model::decode(&before).unwrap();
    let id = hex::encode(model.id().as_bytes());
    // 4 people x 4 images at twice the model's input size (the contract area-resizes them).
    let (h, w) = (
        2 * usize::from(model.input().height),
        2 * usize::from(model.input().width),
    );
    let people = tmp.path().join("people");
    for person in 0..4usize {
        let dir = people.join(format!("person-{person}"));
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..4usize {
            let row = 6 + 12 * person + k % 3;
            let pixels: Vec<u8> = (0..h * w)
                .map(|i| {
                    let (y, x) = (i / w, i % w);
                    let on = (row..row + 4).contains(&y) || (person % 2 == 1 && (x + k) % 11 < 2);
                    if on {
                        250
                    } else {
                        (10 * k) as u8
                    }
                })
                .collect();
            pgm(&dir.join(format!("{k}.pgm")), w, h, &pixels);
        }
    }
    let calibrate = |data_dir: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_siamedge-train"))
            .args([
                "calibrate",
                "--data",
                "folder",
                "--far",
                "0.25,0.5",
                "--json",
            ])
            .arg("--model")
            .arg(&sgm)
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .unwrap()
    };

    // One person: no impostor pairs; refused, the file untouched.
    let out = calibrate(&people.join("person-0"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("person-0"), "{err}");
    assert_eq!(std::fs::read(&sgm).unwrap(), before);

    let out = calibrate(&people);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["images"], 16);
    assert_eq!(report["identities"], 4);
    assert_eq!(report["new_id"], id.as_str());
    let after = std::fs::read(&sgm).unwrap();
    assert_ne!(after, before, "the decision section was rewritten");
    let recalibrated = Model::decode(&after).unwrap();
    assert_eq!(recalibrated.id(), model.id());
    assert_eq!(recalibrated.decision().points().len(), 2);
    assert_eq!(recalibrated.decision().default_point().far, 0.25);
    for onnx in ["model.onnx", "model.int8.onnx"] {
        let bytes = std::fs::read(folder.join(onnx)).unwrap();
        let named = siamedge_trainer::export::model_id_of(&bytes).unwrap();
        assert_eq!(named.as_deref(), Some(id.as_str()), "{onnx}");
    }
}
