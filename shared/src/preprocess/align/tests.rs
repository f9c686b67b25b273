//! The face alignment on synthetic inputs: the padding rule and its half-pixel mismatch, tf's
//! legacy resize, the clip rules, the similarities on their own templates, the buffer checks, and
//! no panics. The ORL known answers are `trainer/tests/faceapi_align.rs`.

use super::landmarks::pad_to_square;
use super::*;
use proptest::prelude::*;

/// A `width x height` grey image whose level at `(x, y)` is `f(x, y)`.
fn grey(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    (0..width * height)
        .map(|i| f(i % width, i / width))
        .collect()
}

/// Channel 0 of an NHWC `[side, side, 3]` tensor, row `y`; panics unless the 3 channels agree.
fn grey_row(t: &[f32], side: usize, y: usize) -> Vec<f32> {
    t[y * side * 3..(y + 1) * side * 3]
        .chunks_exact(3)
        .map(|p| {
            assert!(p[0] == p[1] && p[1] == p[2], "{p:?}");
            p[0]
        })
        .collect()
}

fn roi(x: usize, y: usize, width: usize, height: usize) -> Roi {
    Roi {
        x,
        y,
        width,
        height,
    }
}

/// Points with every coordinate `[x, y]` taken from `f(index)`.
fn points_from(f: impl Fn(usize) -> [f64; 2]) -> Points {
    core::array::from_fn(f)
}

#[test]
fn padding_puts_round_half_up_after_and_the_rest_before() {
    // (width, height) -> (side, left, top): d = 20 -> 10 + 10; d = 11 -> 5 before, 6 after.
    assert_eq!(pad_to_square(92, 112), (112, 10, 0));
    assert_eq!(pad_to_square(101, 112), (112, 5, 0));
    assert_eq!(pad_to_square(112, 101), (112, 0, 5));
    assert_eq!(pad_to_square(91, 84), (91, 0, 3));
    assert_eq!(pad_to_square(90, 75), (90, 0, 7));
    assert_eq!(pad_to_square(7, 7), (7, 0, 0));
    assert_eq!(pad_to_square(1, 2), (2, 0, 0));
}

#[test]
fn a_region_of_side_112_is_padded_without_resizing() {
    // ORL's 92x112: 10 zero columns each side, pixels copied exactly.
    let px = grey(92, 112, |x, y| (x * 3 + y) as u8);
    let img = ImageRef::grey(92, 112, &px).unwrap();
    let mut out = vec![f32::NAN; LANDMARK_INPUT_LEN];
    landmark_input(img, img.full(), &mut out).unwrap();
    for y in 0..112 {
        let row = grey_row(&out, 112, y);
        let want: Vec<f32> = (0..112)
            .map(|x| match x {
                10..102 => f32::from(px[y * 92 + x - 10]),
                _ => 0.0,
            })
            .collect();
        assert_eq!(row, want, "row {y}");
    }
    // Odd d = 11 (a 101x112 region at x = 3): 5 zero columns before, 6 after.
    let px = grey(120, 112, |x, _| x as u8 + 1);
    let img = ImageRef::grey(120, 112, &px).unwrap();
    landmark_input(img, roi(3, 0, 101, 112), &mut out).unwrap();
    let row = grey_row(&out, 112, 40);
    assert!(row[..5].iter().all(|&v| v == 0.0));
    assert_eq!(row[5], 4.0);
    assert_eq!(row[105], 104.0);
    assert!(row[106..].iter().all(|&v| v == 0.0));
}

#[test]
fn rgb_images_keep_their_channels() {
    let px: Vec<u8> = (0..112 * 112 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let img = ImageRef::new(112, 112, 3, &px).unwrap();
    let mut out = vec![0.0; LANDMARK_INPUT_LEN];
    landmark_input(img, img.full(), &mut out).unwrap();
    let want: Vec<f32> = px.iter().map(|&v| f32::from(v)).collect();
    assert_eq!(out, want, "a 112x112 image is its own input");
}

#[test]
fn the_resize_is_tfs_legacy_bilinear() {
    // Level = x on a 224x224 image: src = 2 o, exactly the even columns.
    let px = grey(224, 224, |x, _| (x / 2 * 2) as u8);
    let img = ImageRef::grey(224, 224, &px).unwrap();
    let mut out = vec![0.0; LANDMARK_INPUT_LEN];
    landmark_input(img, img.full(), &mut out).unwrap();
    let want: Vec<f32> = (0..112).map(|o| (2 * o) as f32).collect();
    assert_eq!(grey_row(&out, 112, 7), want);
    // Enlarging 56 -> 112: src = o / 2 (no half-pixel centres), the last source pixel repeated
    // at the end (ceil clamped to 55), the first output pixel the first source pixel.
    let px = grey(56, 56, |x, _| (4 * x) as u8);
    let img = ImageRef::grey(56, 56, &px).unwrap();
    landmark_input(img, img.full(), &mut out).unwrap();
    let row = grey_row(&out, 112, 0);
    let want: Vec<f32> = (0..112).map(|o| (2 * o).min(220) as f32).collect();
    assert_eq!(row, want);
    // A 7x5 region of a checker, by hand: a 7x7 square with one zero row before it and one after.
    let px = grey(9, 9, |x, y| if (x + y) % 2 == 0 { 200 } else { 40 });
    let img = ImageRef::grey(9, 9, &px).unwrap();
    landmark_input(img, roi(1, 2, 7, 5), &mut out).unwrap();
    let ratio = 7.0 / 112.0;
    for (oy, ox) in [(0, 0), (20, 33), (111, 111), (55, 17)] {
        let (sy, sx) = (ratio * oy as f64, ratio * ox as f64);
        let level = |qx: usize, qy: usize| -> f64 {
            // Square row qy is region row qy - 1 (one zero row before), region column qx.
            if qy == 0 || qy > 5 {
                0.0
            } else {
                f64::from(px[(2 + qy - 1) * 9 + 1 + qx])
            }
        };
        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
        let (x1, y1) = ((sx.ceil() as usize).min(6), (sy.ceil() as usize).min(6));
        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
        let top = level(x0, y0) + (level(x1, y0) - level(x0, y0)) * fx;
        let bottom = level(x0, y1) + (level(x1, y1) - level(x0, y1)) * fx;
        let want = (top + (bottom - top) * fy) as f32;
        assert_eq!(out[(oy * 112 + ox) * 3], want, "({ox}, {oy})");
    }
}

#[test]
fn landmarks_map_to_pixels_with_the_packages_half_pixel_mismatch() {
    // The whole 92x112 ORL image: padX = 10 input pixels.
    let mut raw = [0.5f32; LANDMARK_OUTPUTS];
    raw[2] = 0.0;
    raw[3] = 0.0;
    let p = landmarks_to_pixels(&raw, roi(0, 0, 92, 112)).unwrap();
    assert_eq!(p[0], [46.0, 56.0]);
    assert_eq!(p[1], [-10.0, 0.0]);
    // 91x84 at (0, 27), d = 7: landmark_input puts 3 zero rows (of 91) before the region, the
    // mapping assumes 3.5, so the input's first region row maps to y = 27 - 0.5.
    raw[1] = (3.0 / 91.0) as f32;
    let p = landmarks_to_pixels(&raw, roi(0, 27, 91, 84)).unwrap();
    assert!((p[0][1] - 26.5).abs() < 1e-5, "{}", p[0][1]);
    // Even d (92x78, 7 rows before): no mismatch.
    raw[1] = (7.0 / 92.0) as f32;
    let p = landmarks_to_pixels(&raw, roi(0, 33, 92, 78)).unwrap();
    assert!((p[0][1] - 33.0).abs() < 1e-5, "{}", p[0][1]);
}

#[test]
fn the_refine_box_pads_clips_and_floors() {
    // Points spanning x 10..50, y 20..80: (10 - 4, 20 - 6, 48, 72).
    let inside = points_from(|i| {
        [
            10.0 + 40.0 * (i % 2) as f64,
            20.0 + 60.0 * (i % 3 / 2) as f64,
        ]
    });
    assert_eq!(refine_box(&inside, 92, 112), Ok(roi(6, 14, 48, 72)));
    // Left and top edges: x' = max(x, 0), w' = x + w - x' (x -5..45: box -10..50).
    let left = points_from(|i| {
        [
            -5.0 + 50.0 * (i % 2) as f64,
            -1.0 + 10.0 * (i % 3 / 2) as f64,
        ]
    });
    assert_eq!(refine_box(&left, 92, 112), Ok(roi(0, 0, 50, 10)));
    // Right and bottom edges: w' = min(x + w - x', width - x'), then floors (x 60.5..100.5:
    // box 56.5..104.5 -> 56, 35.5 -> 35; y 100..110: box 99..111 -> 99, 12 -> 12).
    let right = points_from(|i| {
        [
            60.5 + 40.0 * (i % 2) as f64,
            100.0 + 10.0 * (i % 3 / 2) as f64,
        ]
    });
    assert_eq!(refine_box(&right, 92, 112), Ok(roi(56, 99, 35, 12)));
    // ORL 350's pass-1 box (1.48, 35.48, 90.33, 75.61) clips to (1, 35, 90, 75): both floors.
    let orl = points_from(|i| match i {
        0 => [
            1.4801609516143799 + 90.32527828216553 / 12.0,
            35.48190422058106 + 75.60552749633788 / 12.0,
        ],
        _ => [
            1.4801609516143799 + 90.32527828216553 * 11.0 / 12.0,
            35.48190422058106 + 75.60552749633788 * 11.0 / 12.0,
        ],
    });
    assert_eq!(refine_box(&orl, 92, 112), Ok(roi(1, 35, 90, 75)));
}

#[test]
fn an_empty_or_non_finite_refine_box_is_an_error() {
    let off = points_from(|i| [200.0 + (i % 2) as f64, 50.0 + (i % 3) as f64]);
    assert_eq!(
        refine_box(&off, 92, 112),
        Err(PreprocessError::EmptyBox {
            what: "refine box",
            x: 199,
            y: 49,
            width: -108,
            height: 2,
            frame_width: 92,
            frame_height: 112,
        })
    );
    assert_eq!(
        refine_box(&off, 92, 112).unwrap_err().to_string(),
        "refine box clipped to the 92x112 image is -108x2 at (199, 49); both sides must be >= 1"
    );
    // All 68 points at one spot: a 0x0 box.
    let one = [[40.25, 60.75]; LANDMARKS];
    assert!(matches!(
        refine_box(&one, 92, 112),
        Err(PreprocessError::EmptyBox {
            width: 0,
            height: 0,
            ..
        })
    ));
    // Sub-pixel: 0.9 px wide after padding.
    let thin = points_from(|i| [30.0 + 0.75 * (i % 2) as f64, 10.0 + 30.0 * (i % 2) as f64]);
    assert!(matches!(
        refine_box(&thin, 92, 112),
        Err(PreprocessError::EmptyBox {
            width: 0,
            height: 36,
            ..
        })
    ));
    let mut nan = one;
    nan[17][1] = f64::NAN;
    assert_eq!(
        refine_box(&nan, 92, 112),
        Err(PreprocessError::NonFinite {
            what: "points",
            index: 17
        })
    );
    assert_eq!(
        refine_box(&nan, 92, 112).unwrap_err().to_string(),
        "points[17] is not finite (NaN or infinite)"
    );
    let mut wide = one;
    wide[0][0] = -f64::MAX;
    wide[1][0] = f64::MAX;
    assert_eq!(
        refine_box(&wide, 92, 112),
        Err(PreprocessError::NonFinite {
            what: "refine box",
            index: 0
        })
    );
}

#[test]
fn eye_centres_are_the_means_of_the_two_eyes() {
    let p = points_from(|i| [i as f64, 2.0 * i as f64]);
    assert_eq!(eye_centres(&p), ([38.5, 77.0], [44.5, 89.0]));
}

#[test]
fn the_templates_give_the_identity() {
    let [e1, e2] = EYE_TEMPLATE;
    assert_eq!(Similarity::from_eyes(e1, e2), Similarity::IDENTITY);
    let mut points = [[0.0; 2]; LANDMARKS];
    for (k, &i) in DLIB33_INDICES.iter().enumerate() {
        points[i] = DLIB33_TEMPLATE[k];
    }
    assert_eq!(Similarity::dlib33(&points), Similarity::IDENTITY);
    // Template eyes doubled and shifted: z = 2, t = (5, -3).
    let t = Similarity::from_eyes(
        [2.0 * e1[0] + 5.0, 2.0 * e1[1] - 3.0],
        [2.0 * e2[0] + 5.0, 2.0 * e2[1] - 3.0],
    );
    for (got, want) in [t.a, t.b, t.tx, t.ty]
        .into_iter()
        .zip([2.0, 0.0, 5.0, -3.0])
    {
        assert!((got - want).abs() < 1e-12, "{t:?}");
    }
    assert_eq!(
        Similarity {
            a: 0.5,
            b: 0.25,
            tx: 3.0,
            ty: 4.0
        }
        .apply(2.0, 4.0),
        [3.0, 6.5]
    );
}

#[test]
fn the_chip_samples_bilinearly_with_edge_clamp() {
    let px = grey(150, 150, |x, y| ((x + 2 * y) % 256) as u8);
    let img = ImageRef::grey(150, 150, &px).unwrap();
    let mut chip = vec![0.0; CHIP_LEN];
    warp_chip(img, &Similarity::IDENTITY, &mut chip).unwrap();
    let want: Vec<f32> = px.iter().flat_map(|&v| [f32::from(v); 3]).collect();
    assert_eq!(chip, want, "the identity copies a 150x150 image");
    // Half a pixel right, on a 2x2 image: means of neighbours, clamped past the edges.
    let px = [0u8, 100, 50, 150];
    let img = ImageRef::grey(2, 2, &px).unwrap();
    let t = Similarity {
        a: 1.0,
        b: 0.0,
        tx: 0.5,
        ty: -10.0,
    };
    warp_chip(img, &t, &mut chip).unwrap();
    assert_eq!(grey_row(&chip, 150, 0)[..3], [50.0, 100.0, 100.0]);
    let t = Similarity { ty: 0.25, ..t };
    warp_chip(img, &t, &mut chip).unwrap();
    assert_eq!(grey_row(&chip, 150, 0)[0], 62.5);
    assert_eq!(grey_row(&chip, 150, 149)[149], 150.0);
    let nan = Similarity { tx: f64::NAN, ..t };
    assert_eq!(
        warp_chip(img, &nan, &mut chip),
        Err(PreprocessError::NonFinite {
            what: "similarity",
            index: 2
        })
    );
}

#[test]
fn variants_have_the_studys_names() {
    for v in AlignVariant::ALL {
        assert_eq!(AlignVariant::from_name(v.name()), Some(v));
    }
    assert_eq!(
        AlignVariant::from_name("eyes2-edge-whole"),
        Some(AlignVariant::EyesWhole)
    );
    assert_eq!(AlignVariant::from_name("eyes"), None);
    assert!(!AlignVariant::EyesWhole.refines());
}

#[test]
fn bad_buffers_and_images_are_rejected_up_front() {
    let px = grey(92, 112, |x, y| (x ^ y) as u8);
    let img = ImageRef::grey(92, 112, &px).unwrap();
    let mut short = vec![0.0; LANDMARK_INPUT_LEN - 1];
    assert_eq!(
        landmark_input(img, img.full(), &mut short),
        Err(PreprocessError::BufferSize {
            what: "landmark input",
            expected: 37632,
            found: 37631
        })
    );
    let mut input = vec![0.0; LANDMARK_INPUT_LEN];
    assert!(matches!(
        landmark_input(img, roi(50, 0, 43, 10), &mut input),
        Err(PreprocessError::RoiOutOfBounds { .. })
    ));
    let two = [0u8; 8];
    let img2 = ImageRef::new(2, 2, 2, &two).unwrap();
    assert!(matches!(
        landmark_input(img2, img2.full(), &mut input),
        Err(PreprocessError::Channels { found: 2, .. })
    ));
    assert_eq!(
        landmarks_to_pixels(&[0.5; 135], img.full()),
        Err(PreprocessError::BufferSize {
            what: "landmark output",
            expected: 136,
            found: 135
        })
    );
    let mut raw = [0.5f32; LANDMARK_OUTPUTS];
    raw[9] = f32::INFINITY;
    assert_eq!(
        landmarks_to_pixels(&raw, img.full()),
        Err(PreprocessError::NonFinite {
            what: "landmark output",
            index: 9
        })
    );
    assert!(matches!(
        landmarks_to_pixels(&[0.5; 136], roi(0, 0, 0, 3)),
        Err(PreprocessError::ZeroSize { what: "roi", .. })
    ));
    let mut chip = vec![0.0; CHIP_LEN + 3];
    assert!(matches!(
        warp_chip(img, &Similarity::IDENTITY, &mut chip),
        Err(PreprocessError::BufferSize { what: "chip", .. })
    ));
    // align_face checks every buffer before the net runs.
    let mut calls = 0;
    let mut net = |_: &[f32]| -> Result<[f32; LANDMARK_OUTPUTS], &'static str> {
        calls += 1;
        Ok([0.5; LANDMARK_OUTPUTS])
    };
    let r = align_face(
        img,
        AlignVariant::EyesRefine,
        &mut input,
        &mut net,
        &mut chip,
    );
    assert!(matches!(
        r,
        Err(AlignError::Preprocess(PreprocessError::BufferSize {
            what: "chip",
            ..
        }))
    ));
    let r = align_face(
        img,
        AlignVariant::EyesRefine,
        &mut short,
        &mut net,
        &mut chip[..CHIP_LEN],
    );
    assert!(matches!(
        r,
        Err(AlignError::Preprocess(PreprocessError::BufferSize {
            what: "scratch",
            ..
        }))
    ));
    assert_eq!(calls, 0);
}

#[test]
fn align_face_runs_one_or_two_passes() {
    let px = grey(92, 112, |x, y| (x * 2 + y) as u8);
    let img = ImageRef::grey(92, 112, &px).unwrap();
    // A face-shaped spread of points: x, y in 0.3..0.7 of the input.
    let mut raw = [0.0f32; LANDMARK_OUTPUTS];
    for (i, v) in raw.iter_mut().enumerate() {
        *v = 0.3 + 0.4 * ((i * 37 % 68) as f32 / 67.0);
    }
    let (mut input, mut chip) = (vec![0.0; LANDMARK_INPUT_LEN], vec![0.0; CHIP_LEN]);
    for variant in AlignVariant::ALL {
        let mut inputs: Vec<Vec<f32>> = Vec::new();
        let mut net = |x: &[f32]| -> Result<[f32; LANDMARK_OUTPUTS], ()> {
            inputs.push(x.to_vec());
            Ok(raw)
        };
        let got = align_face(img, variant, &mut input, &mut net, &mut chip).unwrap();
        assert_eq!(
            inputs.len(),
            if variant.refines() { 2 } else { 1 },
            "{variant}"
        );
        let mut want = vec![0.0; LANDMARK_INPUT_LEN];
        landmark_input(img, img.full(), &mut want).unwrap();
        assert!(inputs[0] == want);
        let pass1 = landmarks_to_pixels(&raw, img.full()).unwrap();
        let points = if variant.refines() {
            let roi = refine_box(&pass1, 92, 112).unwrap();
            landmark_input(img, roi, &mut want).unwrap();
            assert!(inputs[1] == want);
            landmarks_to_pixels(&raw, roi).unwrap()
        } else {
            pass1
        };
        assert_eq!(got.points, points);
        let t = match variant {
            AlignVariant::Dlib33Refine => Similarity::dlib33(&points),
            _ => {
                let (l, r) = eye_centres(&points);
                Similarity::from_eyes(l, r)
            }
        };
        assert_eq!(got.similarity, t);
        let mut want_chip = vec![0.0; CHIP_LEN];
        warp_chip(img, &t, &mut want_chip).unwrap();
        assert!(chip == want_chip);
    }
    let mut failing =
        |_: &[f32]| -> Result<[f32; LANDMARK_OUTPUTS], &'static str> { Err("no weights") };
    let e = align_face(
        img,
        AlignVariant::EyesWhole,
        &mut input,
        &mut failing,
        &mut chip,
    )
    .unwrap_err();
    assert_eq!(e, AlignError::Landmarks("no weights"));
    assert_eq!(
        e.to_string(),
        "face alignment: landmark network: no weights"
    );
}

proptest! {
    /// Any points (NaN, infinities, huge, tiny) give a region inside the image or an error.
    #[test]
    fn refine_box_never_panics(
        coords in proptest::collection::vec(prop_oneof![
            any::<f64>(), -200.0f64..300.0, Just(f64::NAN), Just(f64::INFINITY)
        ], 2 * LANDMARKS),
        width in 0usize..300, height in 0usize..300,
    ) {
        let p = points_from(|i| [coords[2 * i], coords[2 * i + 1]]);
        if let Ok(r) = refine_box(&p, width, height) {
            prop_assert!(r.check_in(width, height).is_ok());
        }
    }

    /// Any raw output on any region maps without panicking; finite outputs always map.
    #[test]
    fn landmarks_to_pixels_never_panics(
        raw in proptest::collection::vec(any::<f32>(), LANDMARK_OUTPUTS),
        x in 0usize..1000, y in 0usize..1000, w in 0usize..1000, h in 0usize..1000,
    ) {
        let r = landmarks_to_pixels(&raw, roi(x, y, w, h));
        if w > 0 && h > 0 && raw.iter().all(|v| v.is_finite()) {
            prop_assert!(r.is_ok());
        }
    }

    /// Any region inside a small image gives an input of levels within the image's range.
    #[test]
    fn landmark_input_stays_in_range(
        w in 1usize..40, h in 1usize..40, seed in any::<u64>(),
        rx in 0usize..40, ry in 0usize..40, rw in 1usize..40, rh in 1usize..40,
        colour in any::<bool>(),
    ) {
        let c = if colour { 3 } else { 1 };
        let px: Vec<u8> = (0..w * h * c)
            .map(|i| ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed) as u8)
            .collect();
        let img = ImageRef::new(w, h, c, &px).unwrap();
        let mut out = vec![0.0; LANDMARK_INPUT_LEN];
        match landmark_input(img, roi(rx, ry, rw, rh), &mut out) {
            Ok(()) => prop_assert!(out.iter().all(|v| (0.0..=255.0).contains(v))),
            Err(e) => prop_assert!(matches!(e, PreprocessError::RoiOutOfBounds { .. }), "{e}"),
        }
    }

    /// Any finite transform gives a chip of image levels; any other is an error.
    #[test]
    fn warp_chip_never_panics(
        t in proptest::array::uniform4(prop_oneof![any::<f64>(), -200.0f64..200.0, -2.0f64..2.0]),
        w in 1usize..20, h in 1usize..20,
    ) {
        let px: Vec<u8> = (0..w * h).map(|i| (i * 13 % 256) as u8).collect();
        let img = ImageRef::grey(w, h, &px).unwrap();
        let s = Similarity { a: t[0], b: t[1], tx: t[2], ty: t[3] };
        let mut chip = vec![0.0; CHIP_LEN];
        match warp_chip(img, &s, &mut chip) {
            Ok(()) => prop_assert!(chip.iter().all(|v| (0.0..=255.0).contains(v))),
            Err(e) => prop_assert!(
                matches!(e, PreprocessError::NonFinite { what: "similarity", .. }),
                "{e}"
            ),
        }
    }

    /// Both fits recover a similarity from the points it makes of their templates.
    #[test]
    fn fits_recover_a_similarity(
        a in 0.2f64..3.0, b in -1.0f64..1.0, tx in -50.0f64..50.0, ty in -50.0f64..50.0,
    ) {
        let s = Similarity { a, b, tx, ty };
        let [e1, e2] = EYE_TEMPLATE;
        let eyes = Similarity::from_eyes(s.apply(e1[0], e1[1]), s.apply(e2[0], e2[1]));
        let mut points = [[0.0; 2]; LANDMARKS];
        for (k, &i) in DLIB33_INDICES.iter().enumerate() {
            points[i] = s.apply(DLIB33_TEMPLATE[k][0], DLIB33_TEMPLATE[k][1]);
        }
        let dlib = Similarity::dlib33(&points);
        for fit in [eyes, dlib] {
            for (got, want) in [fit.a, fit.b, fit.tx, fit.ty].into_iter().zip([a, b, tx, ty]) {
                prop_assert!((got - want).abs() < 1e-9, "{fit:?} vs {s:?}");
            }
        }
    }
}
