//! The area resize the trainer reads its images through (`siamedge_format::preprocess::resize_area`,
//! re-exported as `data::resize_area`): exact 2x2 means on face-sized images and a float reference
//! on small ones. The ORL test needs the fetched data (`siamedge-train data fetch`) and skips
//! without it, unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use proptest::prelude::*;
use siamedge_trainer::data::resize_area;

fn smooth(w: usize, h: usize) -> Vec<u8> {
    (0..w * h)
        .map(|i| ((i % w) * 2 + (i / w) * 3) as u8)
        .collect()
}

#[test]
fn resize_area_on_a_face_sized_image() {
    let src = smooth(92, 112);
    let out = resize_area(&src, 92, 112, 46, 56).unwrap();
    let expect = |x: usize, y: usize| {
        let s = |dx: usize, dy: usize| f32::from(src[(2 * y + dy) * 92 + 2 * x + dx]);
        (s(0, 0) + s(1, 0) + s(0, 1) + s(1, 1)) / 4.0
    };
    assert_eq!(out[0], expect(0, 0));
    assert_eq!(out[46 * 56 - 1], expect(45, 55));
}

#[test]
fn orl_face_halves_by_exact_2x2_means() {
    let Some(faces) = common::orl() else {
        return;
    };
    let img = &faces.images[17];
    let out = resize_area(&img.pixels, 92, 112, 46, 56).unwrap();
    for y in 0..56 {
        for x in 0..46 {
            let p = |dx: usize, dy: usize| u32::from(img.pixels[(2 * y + dy) * 92 + 2 * x + dx]);
            assert_eq!(
                out[y * 46 + x],
                (p(0, 0) + p(1, 0) + p(0, 1) + p(1, 1)) as f32 / 4.0
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn resize_matches_a_float_reference(sw in 1usize..9, sh in 1usize..9, dw in 1usize..9, dh in 1usize..9, seed in any::<u32>()) {
        let src: Vec<u8> = (0..sw * sh).map(|i| (seed.wrapping_mul(i as u32 + 1) >> 7) as u8).collect();
        let out = resize_area(&src, sw, sh, dw, dh).unwrap();
        for dy in 0..dh {
            for dx in 0..dw {
                let (x0, x1) = (dx as f64 * sw as f64 / dw as f64, (dx + 1) as f64 * sw as f64 / dw as f64);
                let (y0, y1) = (dy as f64 * sh as f64 / dh as f64, (dy + 1) as f64 * sh as f64 / dh as f64);
                let mut acc = 0.0;
                for sy in 0..sh {
                    let oy = (y1.min(sy as f64 + 1.0) - y0.max(sy as f64)).max(0.0);
                    for sx in 0..sw {
                        let ox = (x1.min(sx as f64 + 1.0) - x0.max(sx as f64)).max(0.0);
                        acc += ox * oy * f64::from(src[sy * sw + sx]);
                    }
                }
                let reference = acc / ((x1 - x0) * (y1 - y0));
                prop_assert!((f64::from(out[dy * dw + dx]) - reference).abs() < 1e-3);
            }
        }
    }
}
