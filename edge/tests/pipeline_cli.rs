//! The `siamedge` binary on a pipeline folder (`pipeline.sgp`, `landmarks.onnx`,
//! `recognition.onnx`): inspect, enroll, verify, identify, compare and bench work as with a model
//! folder, and a folder with a missing or altered network is refused naming the file and the
//! command that writes it.
//!
//! The networks are stand-ins with the real ones' shapes, built here (no fetched data needed):
//! the landmark network always answers the same 68 points, so every image aligns to the same
//! similarity transform; the recognition network's descriptor is a linear function of the chip's
//! mean colour, so images of about the same level match and images of different levels do not.
//! `tests/tests/faceapi_pipeline.rs` runs the real face-api.js networks.
#![cfg(all(feature = "cli", feature = "service"))]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prost::Message;
use siamedge_format::pipeline::{Network, PIPELINE_FILE};
use siamedge_format::preprocess::align::AlignVariant;
use siamedge_format::{DecisionSpec, OperatingPoint, PipelineSpec};
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::{
    type_proto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// ONNX `FLOAT`.
const F32: i32 = 1;

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let mut dim = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
        ..Default::default()
    }];
    dim.extend(dims.iter().map(|&d| Dimension {
        value: Some(dimension::Value::DimValue(d)),
        ..Default::default()
    }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: F32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[i64], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: F32,
        float_data: values,
        ..Default::default()
    }
}

/// `image (N, 3, side, side)` -> global mean per channel `(N, 3)` -> `x W + b` -> `output
/// (N, out)`: `w` is `3 x out`, row-major.
fn affine_of_mean(side: i64, output: &str, w: Vec<f32>, b: Vec<f32>) -> Vec<u8> {
    let out = b.len() as i64;
    let graph = GraphProto {
        name: output.into(),
        node: vec![
            node("GlobalAveragePool", &["image"], "mean"),
            node("Flatten", &["mean"], "flat"),
            node("Gemm", &["flat", "w", "b"], output),
        ],
        initializer: vec![tensor("w", &[3, out], w), tensor("b", &[out], b)],
        input: vec![value_info("image", &[3, side, side])],
        output: vec![value_info(output, &[out])],
        ..Default::default()
    };
    ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "siamedge edge tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// 68 points (relative to the padded square) laid out like a face: jaw, brows, nose, the two
/// eyes (36-41 on the left, 42-47 on the right), mouth.
fn face_points() -> Vec<f32> {
    let mut p = Vec::new();
    for i in 0..17 {
        let t = i as f32 / 16.0;
        p.extend([0.2 + 0.6 * t, 0.45 + 0.4 * (1.0 - (2.0 * t - 1.0).powi(2))]);
    }
    for i in 0..10 {
        p.extend([0.25 + 0.05 * i as f32, 0.32]);
    }
    for i in 0..9 {
        p.extend([0.46 + 0.01 * i as f32, 0.4 + 0.025 * i as f32]);
    }
    for (cx, cy) in [(0.35, 0.42), (0.65, 0.42)] {
        for k in 0..6 {
            let a = k as f32 * std::f32::consts::PI / 3.0;
            p.extend([cx + 0.04 * a.cos(), cy + 0.02 * a.sin()]);
        }
    }
    for k in 0..20 {
        let a = k as f32 * std::f32::consts::PI / 10.0;
        p.extend([0.5 + 0.1 * a.cos(), 0.75 + 0.04 * a.sin()]);
    }
    assert_eq!(p.len(), 136);
    p
}

/// The stand-in networks, `pipeline.sgp` (eye alignment, threshold 0.5) and a card, in `dir`.
fn pipeline_folder(dir: &Path) {
    let landmarks = affine_of_mean(112, "landmarks", vec![0.0; 3 * 136], face_points());
    // Descriptor value j is (-1)^j ((R + G + B) / 3 times 0.003 - 0.3): grey level m gives
    // values of magnitude |0.003 m - 0.3| <= 0.465, inside the template range (0.635), and two
    // levels m, m' a distance of 0.003 |m - m'| sqrt(128) = 0.034 |m - m'|.
    let w: Vec<f32> = (0..3 * 128)
        .map(|i| if i % 2 == 0 { 0.001 } else { -0.001 })
        .collect();
    let b: Vec<f32> = (0..128)
        .map(|j| if j % 2 == 0 { -0.3 } else { 0.3 })
        .collect();
    let recognition = affine_of_mean(150, "embedding", w, b);
    std::fs::write(dir.join(Network::Landmarks.file_name()), &landmarks).unwrap();
    std::fs::write(dir.join(Network::Recognition.file_name()), &recognition).unwrap();
    let decision = DecisionSpec::new(
        &[OperatingPoint {
            far: 1e-3,
            threshold: 0.5,
        }],
        0,
        0.6,
    )
    .unwrap();
    let spec = PipelineSpec::face_api(&landmarks, &recognition, AlignVariant::EyesRefine, decision);
    std::fs::write(dir.join(PIPELINE_FILE), spec.to_bytes().unwrap()).unwrap();
    let card = serde_json::json!({"name": "stand-in pipeline", "model_id": spec.id().unwrap().to_string()});
    std::fs::write(dir.join("card.json"), card.to_string()).unwrap();
}

/// A 92 x 112 PNG at grey level `level` with a faint pattern (`+- 1`), grey or RGB.
fn face(level: u8, seed: u32, rgb: bool) -> Vec<u8> {
    let v = |x: u32, y: u32| level.saturating_add(((x * seed + y) % 3) as u8);
    let img = if rgb {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(92, 112, |x, y| {
            image::Rgb([v(x, y); 3])
        }))
    } else {
        image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(92, 112, |x, y| {
            image::Luma([v(x, y)])
        }))
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("model")).unwrap();
        pipeline_folder(&dir.path().join("model"));
        for (name, level, seed, rgb) in [
            ("a1.png", 80, 1, false),
            ("a2.png", 81, 2, true),
            ("a3.png", 80, 5, false),
            ("b1.png", 170, 1, false),
            ("b2.png", 171, 3, true),
        ] {
            std::fs::write(dir.path().join(name), face(level, seed, rgb)).unwrap();
        }
        Self { dir }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.p(name).display().to_string()
    }

    /// `siamedge --model DIR/model --insecure-plaintext --json args...`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_siamedge"))
            .arg("--model")
            .arg(self.p("model"))
            .args(["--insecure-plaintext", "--json"])
            .args(args)
            .env_remove("SIAMEDGE_KEY")
            .env_remove("SIAMEDGE_MODEL")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn a_pipeline_folder_runs_every_command() {
    let f = Fixture::new();
    let info = f.json(&["inspect", &f.s("model")]);
    assert_eq!(info["kind"], "pipeline folder");
    assert_eq!(info["align"], "eyes2-edge-refine");
    assert_eq!(info["embedding"]["dim"], 128);
    assert_eq!(info["paired"].as_array().unwrap().len(), 3);
    let id = info["model_id"].as_str().unwrap().to_owned();
    let file = f.json(&["inspect", &f.s("model/pipeline.sgp")]);
    assert_eq!(
        (file["kind"].as_str(), file["model_id"].as_str()),
        (Some("pipeline"), Some(id.as_str()))
    );

    let store = f.s("store.db");
    for (subject, images) in [("1", ["a1.png", "a2.png"]), ("2", ["b1.png", "b2.png"])] {
        let e = f.json(&[
            "enroll",
            "--store",
            &store,
            "--subject",
            subject,
            &f.s(images[0]),
            &f.s(images[1]),
        ]);
        assert_eq!(e["embeddings"], 2);
    }
    assert_eq!(f.json(&["inspect", &store])["model_id"], id.as_str());

    let genuine = f.json(&[
        "verify",
        "--store",
        &store,
        "--subject",
        "1",
        &f.s("a3.png"),
    ]);
    assert_eq!(genuine["accept"], true, "{genuine}");
    assert!(genuine["distance"].as_f64().unwrap() < 0.2, "{genuine}");
    let impostor = f.json(&[
        "verify",
        "--store",
        &store,
        "--subject",
        "2",
        &f.s("a3.png"),
    ]);
    assert_eq!(impostor["accept"], false, "{impostor}");
    assert_eq!(impostor["threshold"], 0.5);

    let found = f.json(&["identify", "--store", &store, &f.s("b2.png")]);
    assert_eq!(found["match"], 2, "{found}");
    assert_eq!(found["candidates"][1]["accept"], false, "{found}");
    let same = f.json(&["compare", &f.s("a1.png"), &f.s("a2.png")]);
    assert_eq!(same["same"], true, "{same}");
    let other = f.json(&["compare", &f.s("a1.png"), &f.s("b1.png")]);
    assert_eq!(other["same"], false, "{other}");

    let bench = f.json(&["bench", "--gallery-sizes", "100"]);
    assert_eq!(bench["pipeline"], true);
    let steps: Vec<&str> = bench["embed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(steps[3].starts_with("whole pipeline"), "{steps:?}");
    assert_eq!(bench["search"][0]["templates"], 100);
}

#[test]
fn a_folder_with_a_missing_or_altered_network_is_refused() {
    let f = Fixture::new();
    let rec = f.p("model").join("recognition.onnx");
    let bytes = std::fs::read(&rec).unwrap();
    let mut altered = bytes.clone();
    altered.extend_from_slice(b"\x00");
    for (what, change) in [("altered", Some(altered)), ("missing", None)] {
        match &change {
            Some(b) => std::fs::write(&rec, b).unwrap(),
            None => std::fs::remove_file(&rec).unwrap(),
        }
        for args in [
            vec!["inspect".to_string(), f.s("model")],
            vec!["compare".into(), f.s("a1.png"), f.s("a2.png")],
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = f.run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{what} {args:?}");
            assert!(!err.contains("panicked"), "{err}");
            assert!(err.contains(&rec.display().to_string()), "{what}: {err}");
            assert!(
                err.contains(&format!(
                    "siamedge-train face-api export --out {}",
                    f.p("model").display()
                )),
                "{what}: {err}"
            );
        }
    }
    std::fs::write(&rec, bytes).unwrap();
    // `--sgm` replaces a model folder's model file; a pipeline folder has none.
    let sgm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl/model.sgm");
    let out = f.run(&[
        "--sgm",
        &sgm.display().to_string(),
        "compare",
        &f.s("a1.png"),
        &f.s("a2.png"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is a pipeline folder"),
        "{err}"
    );
    // A folder with both a model file and a pipeline file is ambiguous.
    std::fs::write(f.p("model").join("model.sgm"), b"").unwrap();
    let out = f.run(&["compare", &f.s("a1.png"), &f.s("a2.png")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("both model.sgm and pipeline.sgp"),
        "{err}"
    );
}

/// What the service does with a request's image (`Runtime::embed_encoded`, then
/// `ApiError::from_image`): the colour decode gives the CLI's embedding, and an image the
/// alignment refuses is the client's fault (422), naming the alignment.
#[test]
fn request_images_embed_in_colour_and_alignment_failures_are_422() {
    let f = Fixture::new();
    let rt = siamedge_edge::ModelBundle::open(&f.p("model"))
        .unwrap()
        .runtime(false)
        .unwrap();
    assert!(rt.colour());
    let png = std::fs::read(f.p("a2.png")).unwrap();
    let from_body = rt.embed_encoded(&png, Path::new("image"), 1 << 24).unwrap();
    assert_eq!(from_body, rt.embed_path(&f.p("a2.png")).unwrap());
    let e = rt
        .embed_encoded(&png, Path::new("images[0]"), 100)
        .unwrap_err();
    assert!(
        matches!(e, siamedge_edge::EdgeError::TooManyPixels { .. }),
        "{e}"
    );

    // One pixel: the refine box around the landmarks is empty once clipped to the image.
    let mut tiny = Cursor::new(Vec::new());
    image::GrayImage::from_pixel(1, 1, image::Luma([90]))
        .write_to(&mut tiny, image::ImageFormat::Png)
        .unwrap();
    let e = rt
        .embed_encoded(&tiny.into_inner(), Path::new("images[1]"), 1 << 24)
        .unwrap_err();
    assert!(matches!(e, siamedge_edge::EdgeError::Align { .. }), "{e}");
    let api = siamedge_edge::service::error::ApiError::from_image("images[1]", e);
    assert_eq!(api.status.as_u16(), 422);
    assert!(
        api.message.starts_with("image images[1]: face alignment: "),
        "{}",
        api.message
    );
}
