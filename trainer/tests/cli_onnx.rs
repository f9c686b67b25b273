//! `siamedge-train onnx` rewrites each shipped model folder's `model.int8.onnx` from its
//! `model.sgm` byte for byte: the shipped QDQ graphs are what the current exporter writes.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn shipped_qdq_graphs_are_the_exporters() {
    let out = tempfile::tempdir().unwrap();
    for (name, run) in [
        ("face-orl", "runs/r5-s0-f0"),
        ("digits-mnist", "runs/digits"),
    ] {
        let dir = repo().join("models").join(name);
        let written = out.path().join(format!("{name}.onnx"));
        let status = Command::new(env!("CARGO_BIN_EXE_siamedge-train"))
            .args(["onnx", "--model"])
            .arg(dir.join("model.sgm"))
            .arg("--out")
            .arg(&written)
            .args(["--run", run])
            .status()
            .unwrap();
        assert!(status.success(), "siamedge-train onnx failed for {name}");
        let shipped = std::fs::read(dir.join("model.int8.onnx")).unwrap();
        assert!(
            std::fs::read(&written).unwrap() == shipped,
            "models/{name}/model.int8.onnx differs from what the exporter writes from model.sgm"
        );
    }
}

#[test]
fn a_corrupt_model_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sgm");
    std::fs::write(&bad, b"not a model").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siamedge-train"))
        .args(["onnx", "--model"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("x.onnx"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.sgm"), "{err}");
    assert!(!dir.path().join("x.onnx").exists());
}
