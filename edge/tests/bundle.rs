//! Model folders pair: `model.sgm`, the two ONNX graphs and the card name one model id, and a
//! folder assembled from two exports is refused with both ids in the message.

use std::path::{Path, PathBuf};

use siamedge_edge::{EdgeError, ModelBundle};
use siamedge_format::{DecisionSpec, Model, ModelSpec, OperatingPoint};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
}

fn id_of(sgm: &Path) -> String {
    let bytes = std::fs::read(sgm).unwrap();
    let id = Model::decode(&bytes).unwrap().id();
    hex::encode(id.as_bytes())
}

/// A copy of shipped folder `name` in a fresh temporary directory.
fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["model.sgm", "model.onnx", "model.int8.onnx", "card.json"] {
        std::fs::copy(shipped(name).join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Asserts that `result` is a pairing refusal naming `file`, and both ids in its message.
fn assert_refused(result: Result<ModelBundle, EdgeError>, file: &str, ids: [&str; 2]) {
    let err = result.expect_err("the folder does not pair");
    let msg = err.to_string();
    assert!(
        matches!(&err, EdgeError::Pairing { file: f, .. } if f.ends_with(file)),
        "{msg}"
    );
    for id in ids {
        assert!(msg.contains(id), "{id} missing in: {msg}");
    }
}

#[test]
fn shipped_folders_pair() {
    for name in ["face-orl", "digits-mnist"] {
        let b = ModelBundle::open(&shipped(name)).unwrap();
        assert_eq!(
            hex::encode(b.id().as_bytes()),
            id_of(&shipped(name).join("model.sgm"))
        );
        let card = b.card_summary().expect("a shipped folder has a card");
        assert_eq!(card.name, name);
        assert!(!card.held_out.is_empty());
        assert_eq!(b.card().unwrap()["name"], name);
        assert_eq!(b.paired_files().len(), 3);
        assert_eq!(b.model_path(), shipped(name).join("model.sgm"));
        assert_eq!(b.runtime_int8().unwrap().id(), b.id());
    }
}

#[test]
fn the_float_graph_of_a_shipped_folder_runs_paired() {
    let b = ModelBundle::open(&shipped("digits-mnist")).unwrap();
    assert_eq!(b.runtime_float().unwrap().id(), b.id());
}

#[test]
fn a_card_of_another_model_is_refused() {
    let dir = copy("face-orl");
    std::fs::copy(
        shipped("digits-mnist").join("card.json"),
        dir.path().join("card.json"),
    )
    .unwrap();
    let (face, digits) = (
        id_of(&shipped("face-orl").join("model.sgm")),
        id_of(&shipped("digits-mnist").join("model.sgm")),
    );
    assert_refused(ModelBundle::open(dir.path()), "card.json", [&face, &digits]);
}

#[test]
fn an_int8_graph_of_another_model_is_refused() {
    let dir = copy("face-orl");
    std::fs::copy(
        shipped("digits-mnist").join("model.int8.onnx"),
        dir.path().join("model.int8.onnx"),
    )
    .unwrap();
    let (face, digits) = (
        id_of(&shipped("face-orl").join("model.sgm")),
        id_of(&shipped("digits-mnist").join("model.sgm")),
    );
    assert_refused(
        ModelBundle::open(dir.path()),
        "model.int8.onnx",
        [&face, &digits],
    );
}

#[test]
fn a_model_file_of_another_model_is_refused() {
    let dir = copy("face-orl");
    std::fs::copy(
        shipped("digits-mnist").join("model.sgm"),
        dir.path().join("model.sgm"),
    )
    .unwrap();
    let (face, digits) = (
        id_of(&shipped("face-orl").join("model.sgm")),
        id_of(&shipped("digits-mnist").join("model.sgm")),
    );
    assert_refused(
        ModelBundle::open(dir.path()),
        "model.onnx",
        [&face, &digits],
    );
    // The same through an `--sgm` override of the shipped folder.
    assert_refused(
        ModelBundle::with_model_file(
            &shipped("face-orl"),
            &shipped("digits-mnist").join("model.sgm"),
        ),
        "model.onnx",
        [&face, &digits],
    );
}

#[test]
fn a_graph_without_an_id_is_refused() {
    let dir = copy("digits-mnist");
    // The float graph's metadata entry renamed: same length, no `siamedge.model_id` key.
    let path = dir.path().join("model.onnx");
    let mut onnx = std::fs::read(&path).unwrap();
    let key = b"siamedge.model_id";
    let at = onnx.windows(key.len()).position(|w| w == key).unwrap();
    onnx[at..at + key.len()].copy_from_slice(b"siamedge.model_xx");
    std::fs::write(&path, &onnx).unwrap();
    let err = ModelBundle::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, EdgeError::Pairing { found, .. } if found == "no model id"),
        "{err}"
    );
}

#[test]
fn a_folder_with_recalibrated_thresholds_still_pairs() {
    let dir = copy("face-orl");
    let path = dir.path().join("model.sgm");
    let bytes = std::fs::read(&path).unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut spec = ModelSpec::from_model(&model);
    let points = [
        OperatingPoint {
            far: 1e-4,
            threshold: 0.5,
        },
        OperatingPoint {
            far: 1e-1,
            threshold: 1.1,
        },
    ];
    spec.decision = DecisionSpec::new(&points, 1, model.decision().margin()).unwrap();
    let recalibrated = spec.to_bytes().unwrap();
    assert_ne!(recalibrated, bytes);
    std::fs::write(&path, &recalibrated).unwrap();
    let b = ModelBundle::open(dir.path()).unwrap();
    assert_eq!(b.id(), model.id());
    let runtime = b.runtime_int8().unwrap();
    assert_eq!(runtime.decision().default_point().threshold, 1.1);
}

#[test]
fn only_the_model_file_is_required() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        shipped("digits-mnist").join("model.sgm"),
        dir.path().join("model.sgm"),
    )
    .unwrap();
    let b = ModelBundle::open(dir.path()).unwrap();
    assert!(b.card().is_none());
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        ModelBundle::open(empty.path()),
        Err(EdgeError::Io { .. })
    ));
}
