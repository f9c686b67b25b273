//! Known answers for the face alignment (`siamedge_format::preprocess::align`) on the three ORL
//! cases of the face-api fixtures (`tests/fixtures/faceapi/README.md`): every tensor the
//! alignment builds (both landmark inputs, the chip) is bit for bit the reference port's (sha256
//! of its f32 little-endian bytes against `index.json`; the fixtures do not hold the ORL pixels),
//! and the fixture's raw landmark outputs map to its pixels, refine box, eye centres and
//! transform, within `index.json`'s `tolerances` (measured: 0 difference after the f32 cast).
//!
//! Needs the ORL faces in the cache (`siamedge-train data fetch orl`); without them the test
//! prints why and passes, unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use siamedge_format::preprocess::align::{
    align_face, eye_centres, landmark_input, landmarks_to_pixels, refine_box, warp_chip,
    AlignVariant, Points, Similarity, CHIP_LEN, LANDMARK_INPUT_LEN, LANDMARK_OUTPUTS,
};
use siamedge_format::preprocess::{ImageRef, Roi};

/// The transform against `chip_to_image_affine`: the reference port's fit differs from the closed
/// form in the last bit of some entries (it does not change the chip's f32 bits).
const AFFINE_TOLERANCE: f64 = 1e-12;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faceapi")
}

fn index() -> Value {
    let path = fixtures().join("index.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_f32(name: &str) -> Vec<f32> {
    let path = fixtures().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of an f32 tensor as the fixtures store it (little-endian, C order).
fn sha256_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    sha256_hex(&bytes)
}

fn f64s(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(f64s).collect(),
        _ => vec![v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))],
    }
}

fn geometry(v: &Value) -> Roi {
    let g: Vec<usize> = f64s(v).into_iter().map(|x| x as usize).collect();
    Roi {
        x: g[0],
        y: g[1],
        width: g[2],
        height: g[3],
    }
}

/// A fixture's raw landmark output, checked against `index.json`.
fn raw_output(entry: &Value) -> [f32; LANDMARK_OUTPUTS] {
    let v = read_f32(entry["file"].as_str().unwrap());
    assert_eq!(
        sha256_f32(&v),
        entry["sha256"].as_str().unwrap(),
        "{}",
        entry["file"]
    );
    v.try_into()
        .unwrap_or_else(|v: Vec<f32>| panic!("{}: {} values", entry["file"], v.len()))
}

/// Largest |point (rounded to f32) - fixture pixel|.
fn px_diff(points: &Points, name: &str) -> f64 {
    let want = read_f32(name);
    assert_eq!(want.len(), 2 * points.len(), "{name}");
    points
        .iter()
        .flatten()
        .zip(&want)
        .map(|(&got, &want)| f64::from((got as f32 - want).abs()))
        .fold(0.0, f64::max)
}

/// Builds the tensor and checks its bits against the fixture's sha256.
fn assert_tensor(label: &str, got: &[f32], entry: &Value) {
    assert_eq!(
        sha256_f32(got),
        entry["sha256"].as_str().unwrap(),
        "{label}: not bit for bit {} (sum {}, shape {})",
        entry["file"],
        got.iter().map(|&v| f64::from(v)).sum::<f64>(),
        entry["shape"],
    );
}

#[test]
fn the_orl_cases_align_bit_for_bit_as_the_reference_port() {
    let index = index();
    let tol_px = index["tolerances"]["lm_px"].as_f64().unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let Some(faces) = common::orl() else { return };
    for case in cases {
        let orl = case["orl_index"].as_u64().unwrap() as usize;
        let name = format!("orl{orl:03}");
        let face = &faces.images[orl];
        assert_eq!(
            sha256_hex(&face.pixels),
            case["image"]["sha256"].as_str().unwrap(),
            "{name}: the cached ORL image is not the fixture's (repaired ORL expected)"
        );
        let img = ImageRef::grey(face.width, face.height, &face.pixels).unwrap();
        let mut input = vec![0.0f32; LANDMARK_INPUT_LEN];

        // Pass 1: the whole image.
        let roi1 = geometry(&case["lm1_geometry_x_y_w_h"]);
        assert_eq!(roi1, img.full());
        landmark_input(img, roi1, &mut input).unwrap();
        assert_tensor(&format!("{name} lm1_in"), &input, &case["lm1_in"]);
        let lm1_out = raw_output(&case["lm1_out"]);
        let pass1 = landmarks_to_pixels(&lm1_out, roi1).unwrap();
        let d1 = px_diff(&pass1, &format!("{name}_lm1_px.f32"));

        // The refine box and pass 2.
        let roi2 = refine_box(&pass1, img.width(), img.height()).unwrap();
        assert_eq!(roi2, geometry(&case["lm2_geometry_x_y_w_h"]), "{name}");
        landmark_input(img, roi2, &mut input).unwrap();
        assert_tensor(&format!("{name} lm2_in"), &input, &case["lm2_in"]);
        let lm2_out = raw_output(&case["lm2_out"]);
        let pass2 = landmarks_to_pixels(&lm2_out, roi2).unwrap();
        let d2 = px_diff(&pass2, &format!("{name}_lm2_px.f32"));

        // Eye centres, transform, chip.
        let (left, right) = eye_centres(&pass2);
        let want_eyes = f64s(&case["eye_centres_px"]);
        let d_eyes = [left, right]
            .iter()
            .flatten()
            .zip(&want_eyes)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f64::max);
        let t = Similarity::from_eyes(left, right);
        // [[a, -b, tx], [b, a, ty]]
        let m = f64s(&case["chip_to_image_affine"]);
        let d_affine = [t.a, -t.b, t.tx, t.b, t.a, t.ty]
            .iter()
            .zip(&m)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f64::max);
        let mut chip = vec![0.0f32; CHIP_LEN];
        warp_chip(img, &t, &mut chip).unwrap();
        assert_tensor(&format!("{name} rec_in"), &chip, &case["rec_in"]);
        eprintln!(
            "{name}: lm1_px {d1:.1e}, lm2_px {d2:.1e}, eyes {d_eyes:.1e}, affine {d_affine:.1e} \
             (tolerances {tol_px} px, {AFFINE_TOLERANCE:.0e}); lm1_in, lm2_in, rec_in bit for bit"
        );
        assert!(
            d1 <= tol_px && d2 <= tol_px,
            "{name}: pixels {d1}, {d2} > {tol_px}"
        );
        assert!(d_eyes <= tol_px, "{name}: eye centres {d_eyes} > {tol_px}");
        assert!(d_affine <= AFFINE_TOLERANCE, "{name}: transform {d_affine}");

        // The whole recipe, the net replaced by the fixture's outputs for the inputs it expects.
        let mut passes = 0;
        let mut net = |x: &[f32]| -> Result<[f32; LANDMARK_OUTPUTS], String> {
            passes += 1;
            let (key, out) = if passes == 1 {
                ("lm1_in", lm1_out)
            } else {
                ("lm2_in", lm2_out)
            };
            if sha256_f32(x) == case[key]["sha256"].as_str().unwrap() {
                Ok(out)
            } else {
                Err(format!("pass {passes}: not the fixture's {key}"))
            }
        };
        let mut chip2 = vec![0.0f32; CHIP_LEN];
        let got = align_face(
            img,
            AlignVariant::EyesRefine,
            &mut input,
            &mut net,
            &mut chip2,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(passes, 2);
        assert_eq!((got.points, got.similarity), (pass2, t), "{name}");
        assert!(chip2 == chip, "{name}: align_face's chip");
    }
}
