//! The face-api.js networks exported to ONNX (`siamedge_trainer::faceapi::onnx`) run on the edge's
//! tract runtime and give the known answers of the fixtures (`trainer/tests/fixtures/faceapi`: an
//! independent numpy/ONNX port's outputs on a synthetic pattern) within their 1e-4, as the candle
//! networks do (`trainer/tests/faceapi_nets.rs`).
//!
//! Needs the face-api weights in the cache (`siamedge-train data fetch`); skips without them
//! unless `SIAMEDGE_REQUIRE_DATA=1`.

use std::path::PathBuf;

use siamedge_edge::OnnxEncoder;
use siamedge_tests::skip::or_skip_data;
use siamedge_trainer::data::DataCache;
use siamedge_trainer::export::write_onnx;
use siamedge_trainer::faceapi::onnx::{landmark_onnx, recognition_onnx};
use siamedge_trainer::faceapi::{TfjsWeights, LANDMARK_MANIFEST, RECOGNITION_MANIFEST};

fn fixture(name: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../trainer/tests/fixtures/faceapi")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The fixtures' synthetic input, `(i * 7919) mod 256` at flat NHWC index `i`, transposed to NCHW.
fn pattern_nchw(side: usize) -> Vec<f32> {
    let mut out = vec![0.0; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            for c in 0..3 {
                let i = (y * side + x) * 3 + c;
                out[(c * side + y) * side + x] = ((i * 7919) % 256) as f32;
            }
        }
    }
    out
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn exported_nets_give_the_known_answers_on_tract() {
    let dir = DataCache::from_env()
        .map_err(|e| e.to_string())
        .map(|c| c.dataset_dir(siamedge_trainer::data::DataSet::FaceApi));
    let Some(dir) = or_skip_data(
        "the face-api weights",
        dir.and_then(|d| {
            if d.join(LANDMARK_MANIFEST).exists() {
                Ok(d)
            } else {
                Err(format!("{} has no weights", d.display()))
            }
        }),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (manifest, side, expected, what) in [
        (LANDMARK_MANIFEST, 112, "syn_lm_out.f32", "landmarks"),
        (RECOGNITION_MANIFEST, 150, "syn_rec_out.f32", "descriptor"),
    ] {
        let w = TfjsWeights::read(&dir.join(manifest)).unwrap();
        let proto = if side == 112 {
            landmark_onnx(&w, &[]).unwrap()
        } else {
            recognition_onnx(&w, &[]).unwrap()
        };
        let path = tmp.path().join(format!("{what}.onnx"));
        write_onnx(&path, &proto).unwrap();
        let net = OnnxEncoder::load(&path).unwrap();
        assert_eq!(net.input_shape(), (3, side, side));
        let out = net.embed(&pattern_nchw(side)).unwrap();
        let d = max_abs(&out, &fixture(expected));
        eprintln!("{what} on tract: max abs diff {d:.3e}");
        assert!(d <= 1e-4, "{what}: {d}");
    }
}
