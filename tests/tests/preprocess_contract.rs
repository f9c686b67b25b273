//! One photo, one int8 input: the trainer, the edge runtime and the firmware preprocess an image
//! into the same int8 tensor, because all three call the contract in
//! `siamedge_format::preprocess` (area resize with exact integer weights, one quantization rule).
//!
//! - Random frames, regions and input specs: the trainer's path (its folder loader
//!   `data::folder::load_grey` on an encoded file, then its quantization
//!   `quant::int8::quantize_input`), the edge's (`preprocess::load_gray` and `to_int8` on the same
//!   file) and the firmware's (`preprocess::resize_area_i8` on the raw frame and region) agree
//!   value for value. The three are grey; colour inputs are checked at the contract level (the
//!   trainer's quantization of the f32 area means against the fused resize).
//! - The shipped face model on ORL fold 0's test people (`s1`..`s10`, 100 images, 4,950 pairs):
//!   the three paths give the same inputs, the engine the same embeddings, the model's threshold
//!   the same verdicts. Skips without the data unless `SIAMEDGE_REQUIRE_DATA=1`.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_edge::preprocess::{load_gray, to_int8};
use siamedge_engine::run_model;
use siamedge_firmware::preprocess::{resize_area_i8, Gray, Roi};
use siamedge_format::preprocess::{
    area_means, resize_area_into, resize_area_quantized, ImageRef, Roi as ContractRoi,
};
use siamedge_format::{EmbeddingRef, InputSpec, Model, Quant};
use siamedge_tests::skip::or_skip_data;
use siamedge_trainer::data::folder::load_grey;
use siamedge_trainer::data::{DataCache, OrlFaces};
use siamedge_trainer::quant::int8::quantize_input;
use siamedge_trainer::train::orl_set;

/// A spec of `width x height x channels` with random normalization and quantization: means
/// around the grey range, standard deviations from 0.05 to 2, scales small enough to saturate.
fn random_spec(rng: &mut ChaCha8Rng, width: u16, height: u16, channels: u8) -> InputSpec {
    InputSpec {
        width,
        height,
        channels,
        mean: (0..channels).map(|_| rng.random_range(-0.5..1.5)).collect(),
        std: (0..channels).map(|_| rng.random_range(0.05..2.0)).collect(),
        quant: Quant::new(rng.random_range(0.002..0.1), rng.random()),
    }
}

/// A binary PGM (`P5`) file of a grey image.
fn pgm(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = format!("P5\n{width} {height}\n255\n").into_bytes();
    out.extend_from_slice(pixels);
    out
}

/// The rows and columns of `roi` in a `width`-wide grey frame.
fn crop(frame: &[u8], width: usize, roi: ContractRoi) -> Vec<u8> {
    (roi.y..roi.y + roi.height)
        .flat_map(|y| frame[y * width + roi.x..y * width + roi.x + roi.width].to_vec())
        .collect()
}

/// The trainer's path: its folder loader (decode, grey, area resize, `/ 255`) and its
/// quantization of the model input.
fn trainer_path(file: &Path, spec: &InputSpec) -> Vec<i8> {
    let x = load_grey(file, spec.height.into(), spec.width.into())
        .unwrap_or_else(|e| panic!("trainer load {}: {e}", file.display()));
    let mut out = vec![0i8; x.len()];
    quantize_input(spec, &x, &mut out).unwrap_or_else(|e| panic!("trainer quantize: {e}"));
    out
}

/// The edge runtime's path: decode to grey, then its int8 model input.
fn edge_path(file: &Path, spec: &InputSpec) -> Vec<i8> {
    let img = load_gray(file).unwrap_or_else(|e| panic!("edge load: {e}"));
    to_int8(&img, spec, file).unwrap_or_else(|e| panic!("edge: {e}"))
}

/// The firmware's path: the raw frame and a region, straight into the int8 input.
fn firmware_path(frame: &[u8], width: u16, height: u16, roi: Roi, spec: &InputSpec) -> Vec<i8> {
    let src = Gray::new(width, height, frame).unwrap_or_else(|e| panic!("firmware frame: {e}"));
    let mut out = vec![0i8; usize::from(spec.width) * usize::from(spec.height)];
    resize_area_i8(&src, roi, spec, &mut out).unwrap_or_else(|e| panic!("firmware: {e}"));
    out
}

#[test]
fn trainer_edge_and_firmware_make_the_same_int8_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0012);
    let mut saturated = 0usize;
    for case in 0..150 {
        let (fw, fh) = (rng.random_range(1..=120u16), rng.random_range(1..=120u16));
        let frame: Vec<u8> = (0..usize::from(fw) * usize::from(fh))
            .map(|_| rng.random())
            .collect();
        // Half the cases use the whole frame, half a random region of it.
        let roi = if case % 2 == 0 {
            Roi {
                x: 0,
                y: 0,
                width: fw,
                height: fh,
            }
        } else {
            let (x, y) = (rng.random_range(0..fw), rng.random_range(0..fh));
            Roi {
                x,
                y,
                width: rng.random_range(1..=fw - x),
                height: rng.random_range(1..=fh - y),
            }
        };
        let (dw, dh) = (rng.random_range(1..=64u16), rng.random_range(1..=64u16));
        let spec = random_spec(&mut rng, dw, dh, 1);
        // The hosts read files: the region is what the camera box or the data set would store.
        let region = crop(&frame, usize::from(fw), roi.into());
        let file: PathBuf = dir.path().join(format!("case{case}.pgm"));
        std::fs::write(
            &file,
            pgm(usize::from(roi.width), usize::from(roi.height), &region),
        )
        .unwrap();

        let trainer = trainer_path(&file, &spec);
        let edge = edge_path(&file, &spec);
        let firmware = firmware_path(&frame, fw, fh, roi, &spec);
        assert_eq!(trainer, edge, "case {case}: trainer vs edge, {spec:?}");
        assert_eq!(
            trainer, firmware,
            "case {case}: trainer vs firmware, {spec:?}"
        );
        saturated += trainer.iter().filter(|&&q| q == -128 || q == 127).count();
    }
    // The specs reach the clamp as well as the interior.
    assert!(saturated > 0);
}

#[test]
fn colour_inputs_quantize_alike_in_the_trainer_and_the_fused_contract() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xc0_10_12);
    for case in 0..100 {
        let (fw, fh) = (rng.random_range(1..=60usize), rng.random_range(1..=60usize));
        let frame: Vec<u8> = (0..fw * fh * 3).map(|_| rng.random()).collect();
        let img = ImageRef::new(fw, fh, 3, &frame).unwrap();
        let (x, y) = (rng.random_range(0..fw), rng.random_range(0..fh));
        let roi = ContractRoi {
            x,
            y,
            width: rng.random_range(1..=fw - x),
            height: rng.random_range(1..=fh - y),
        };
        let (dw, dh) = (rng.random_range(1..=32u16), rng.random_range(1..=32u16));
        let spec = random_spec(&mut rng, dw, dh, 3);
        let (dw, dh) = (usize::from(spec.width), usize::from(spec.height));
        // The trainer holds HWC images as `p / 255` of the f32 area means.
        let mut means = vec![0f32; dw * dh * 3];
        resize_area_into(&img, roi, dw, dh, &mut means).unwrap();
        let unit: Vec<f32> = means.iter().map(|p| p / 255.0).collect();
        let mut trainer = vec![0i8; unit.len()];
        quantize_input(&spec, &unit, &mut trainer).unwrap();
        let mut fused = vec![0i8; unit.len()];
        resize_area_quantized(&img, roi, &spec, &mut fused).unwrap();
        assert_eq!(trainer, fused, "case {case}: {spec:?}");
    }
}

/// What the firmware computed before the contract: the exact mean rounded half up to u8, then
/// quantized (kept here only to measure what the fix changes).
fn rounded_u8_path(pixels: &[u8], width: usize, height: usize, spec: &InputSpec) -> Vec<i8> {
    let img = ImageRef::grey(width, height, pixels).unwrap();
    let mut out = Vec::new();
    area_means(
        &img,
        img.full(),
        spec.width.into(),
        spec.height.into(),
        |_, _, m| {
            let level = ((m.num + m.den / 2) / m.den).min(255) as u8;
            out.push(spec.quantize_pixel(0, level).unwrap());
        },
    )
    .unwrap();
    out
}

/// The accept/reject verdicts of every pair `i < j` of `inputs` under the model.
fn verdicts(model: &Model<'_>, inputs: &[Vec<i8>]) -> Vec<bool> {
    let embeddings: Vec<Vec<i8>> = inputs
        .iter()
        .map(|x| run_model(model, x).unwrap())
        .collect();
    let e = |i: usize| EmbeddingRef {
        model: model.id(),
        scale: model.embedding().scale,
        values: &embeddings[i],
    };
    let mut out = Vec::new();
    for i in 0..embeddings.len() {
        for j in i + 1..embeddings.len() {
            let d = model.metric().distance_i8(e(i), e(j)).unwrap();
            out.push(model.decision().decide(d).accept);
        }
    }
    out
}

#[test]
fn shipped_face_model_decides_alike_on_every_path() {
    let loaded = DataCache::resolve(None)
        .map_err(|e| e.to_string())
        .and_then(|c| OrlFaces::load(&c).map_err(|e| e.to_string()));
    let Some(faces) = or_skip_data("the ORL faces", loaded) else {
        return;
    };
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/face-orl/model.sgm"
    ))
    .unwrap();
    let model = Model::decode(&bytes).unwrap();
    let spec = model.input().clone();
    let fold = faces.fold(0).unwrap();
    assert_eq!(
        fold.test_people,
        0..10,
        "the model's test people are s1..s10"
    );
    assert_eq!(fold.test.len(), 100);

    let set = orl_set(&faces, &fold.test, spec.height.into(), spec.width.into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, mut edge, mut firmware, mut rounded) = (vec![], vec![], vec![], vec![]);
    for (k, &i) in fold.test.iter().enumerate() {
        let img = &faces.images[i];
        let mut t = vec![0i8; set.image(k).len()];
        quantize_input(&spec, set.image(k), &mut t).unwrap();
        trainer.push(t);
        let file = dir.path().join(format!("{i}.pgm"));
        std::fs::write(&file, pgm(img.width, img.height, &img.pixels)).unwrap();
        edge.push(edge_path(&file, &spec));
        let (w, h) = (
            u16::try_from(img.width).unwrap(),
            u16::try_from(img.height).unwrap(),
        );
        let full = Roi {
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        firmware.push(firmware_path(&img.pixels, w, h, full, &spec));
        rounded.push(rounded_u8_path(&img.pixels, img.width, img.height, &spec));
    }
    assert_eq!(trainer, edge, "trainer vs edge int8 inputs");
    assert_eq!(trainer, firmware, "trainer vs firmware int8 inputs");

    let by_trainer = verdicts(&model, &trainer);
    assert_eq!(by_trainer.len(), 4950);
    assert_eq!(verdicts(&model, &edge), by_trainer);
    assert_eq!(verdicts(&model, &firmware), by_trainer);
    let accepted = by_trainer.iter().filter(|&&a| a).count();
    assert!(
        0 < accepted && accepted < by_trainer.len(),
        "{accepted} accepted"
    );

    // What the old u8 rounding on the device would have changed (reported, not a contract).
    let differing: usize = rounded
        .iter()
        .zip(&trainer)
        .map(|(a, b)| a.iter().zip(b).filter(|(x, y)| x != y).count())
        .sum();
    let flipped = verdicts(&model, &rounded)
        .iter()
        .zip(&by_trainer)
        .filter(|(a, b)| a != b)
        .count();
    eprintln!(
        "{accepted} of 4950 pairs accepted on every path; the former u8-rounding device path \
         differed in {differing} of {} input values and flipped {flipped} verdicts",
        trainer.len() * trainer[0].len()
    );
}
