//! Known answers for the two face-api.js networks in candle: the outputs of an independent
//! numpy/ONNX port (`tests/fixtures/faceapi/README.md`) on a synthetic pattern, and on three ORL
//! images through the whole alignment (`siamedge_format::preprocess::align`), within the
//! fixtures' tolerance of 1e-4 (a /256 normalisation slip would be 2.5e-4 off).
//!
//! Needs the face-api weights (and ORL for the second test) in the cache (`siamedge-train data
//! fetch`); skips without them unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use siamedge_format::preprocess::align::{align_face, AlignVariant, CHIP_LEN, LANDMARK_INPUT_LEN};
use siamedge_format::preprocess::ImageRef;

fn fixture(name: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/faceapi")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The fixtures' synthetic input: value `(i * 7919) mod 256` at flat NHWC index `i`.
fn pattern(side: usize) -> Tensor {
    let v: Vec<f32> = (0..side * side * 3)
        .map(|i| ((i * 7919) % 256) as f32)
        .collect();
    Tensor::from_vec(v, (1, side, side, 3), &Device::Cpu).unwrap()
}

#[test]
fn both_nets_give_the_known_answers_on_the_synthetic_pattern() {
    let Some(api) = common::faceapi() else { return };
    let lm = api.landmarks.forward(&pattern(112)).unwrap();
    let d = max_abs(
        &lm.flatten_all().unwrap().to_vec1().unwrap(),
        &fixture("syn_lm_out.f32"),
    );
    eprintln!("landmarks: max abs diff {d:.3e}");
    assert!(d <= 1e-4, "landmarks: {d}");
    let rec = api.recognition.forward(&pattern(150)).unwrap();
    let d = max_abs(
        &rec.flatten_all().unwrap().to_vec1().unwrap(),
        &fixture("syn_rec_out.f32"),
    );
    eprintln!("descriptor: max abs diff {d:.3e}");
    assert!(d <= 1e-4, "descriptor: {d}");
}

/// ORL index, as the fixtures name their cases (`orlNNN_`).
const ORL_CASES: [usize; 3] = [0, 10, 350];

#[test]
fn the_whole_pipeline_gives_the_known_answers_on_orl() {
    let Some(api) = common::faceapi() else { return };
    let Some(faces) = common::orl() else { return };
    for n in ORL_CASES {
        let img = &faces.images[n];
        let view = ImageRef::grey(img.width, img.height, &img.pixels).unwrap();
        // Record both landmark passes as the alignment makes them.
        let mut raw = Vec::new();
        let mut scratch = vec![0.0; LANDMARK_INPUT_LEN];
        let mut chip = vec![0.0; CHIP_LEN];
        align_face(
            view,
            AlignVariant::EyesRefine,
            &mut scratch,
            &mut |x: &[f32]| {
                let out = api.landmarks_raw(x)?;
                raw.push(out.to_vec());
                Ok::<_, siamedge_trainer::faceapi::FaceApiError>(out)
            },
            &mut chip,
        )
        .unwrap();
        assert_eq!(raw.len(), 2);
        for (pass, name) in raw.iter().zip(["lm1_out", "lm2_out"]) {
            let d = max_abs(pass, &fixture(&format!("orl{n:03}_{name}.f32")));
            eprintln!("orl{n:03} {name}: max abs diff {d:.3e}");
            assert!(d <= 1e-4, "orl{n:03} {name}: {d}");
        }
        let desc = api.descriptors(&chip).unwrap().remove(0);
        let d = max_abs(&desc, &fixture(&format!("orl{n:03}_rec_out.f32")));
        eprintln!("orl{n:03} descriptor: max abs diff {d:.3e}");
        assert!(d <= 1e-4, "orl{n:03} descriptor: {d}");
    }
}
