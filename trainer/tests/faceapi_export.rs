//! `siamedge-train face-api export --onnx-only`'s library half: the ONNX files built from the
//! fetched weights are byte for byte the same on every build (so `manifest.json` can pin them and a
//! user can check a folder built on another machine), the manifest records what was written, and
//! the committed `models/face-aligned/pipeline.sgp` and card pair with that build.
//!
//! Needs the face-api weights in the cache; skips without them unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use siamedge_format::pipeline::{Network, Pipeline, PIPELINE_FILE};
use siamedge_trainer::data::DataSet;
use siamedge_trainer::faceapi::export::{write_onnx_files, LANDMARK_ONNX, RECOGNITION_ONNX};

#[test]
fn the_onnx_build_is_deterministic_and_the_manifest_pins_it() {
    let Some(cache) = common::cache() else { return };
    if common::faceapi().is_none() {
        return;
    }
    let weights = cache.dataset_dir(DataSet::FaceApi);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ma = write_onnx_files(&weights, a.path()).unwrap();
    let mb = write_onnx_files(&weights, b.path()).unwrap();
    assert_eq!(
        ma.onnx.iter().map(|f| &f.name).collect::<Vec<_>>(),
        [LANDMARK_ONNX, RECOGNITION_ONNX]
    );
    for (fa, fb) in ma.onnx.iter().zip(&mb.onnx) {
        assert_eq!(
            fa.sha256, fb.sha256,
            "{} differs between two builds",
            fa.name
        );
        let bytes = std::fs::read(a.path().join(&fa.name)).unwrap();
        assert_eq!(bytes.len() as u64, fa.bytes);
        assert_eq!(siamedge_trainer::data::cache::sha256_hex(&bytes), fa.sha256);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(json["source"]["package"], "@vladmandic/face-api");
    assert_eq!(json["source"]["version"], "1.7.15");
    assert_eq!(json["weights"].as_array().unwrap().len(), 5);

    // The committed pipeline file of models/face-aligned names these very files, and the committed
    // card names the pipeline: a clone that builds the ONNX files gets a folder the edge accepts.
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-aligned");
    let sgp = std::fs::read(folder.join(PIPELINE_FILE)).unwrap();
    let pipeline = Pipeline::decode(&sgp).unwrap();
    for network in Network::ALL {
        let bytes = std::fs::read(a.path().join(network.file_name())).unwrap();
        assert!(
            pipeline.matches(network, &bytes),
            "models/face-aligned/{PIPELINE_FILE} does not name this build's {}: re-export the folder",
            network.file_name()
        );
    }
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("card.json")).unwrap()).unwrap();
    assert_eq!(card["model_id"], pipeline.id().to_string());
}
