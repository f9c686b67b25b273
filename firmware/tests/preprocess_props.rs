//! Property tests of the on-device preprocessing and enrollment against scalar references.

use proptest::prelude::*;
use siamedge_firmware::preprocess::{
    rasterize, resize_area_i8, resize_bilinear, Gray, GrayMut, PreprocessError, RasterConfig, Roi,
    StrokePoint,
};
use siamedge_firmware::{enroll, EnrollPolicy};
use siamedge_format::{EmbeddingRef, InputSpec, ModelId, Quant};

/// A grey input spec of `w x h` with the given normalization and quantization.
fn grey_spec(w: u16, h: u16, (mean, std, scale, zero_point): (f32, f32, f32, i8)) -> InputSpec {
    InputSpec {
        width: w,
        height: h,
        channels: 1,
        mean: heapless::Vec::from_slice(&[mean]).unwrap_or_default(),
        std: heapless::Vec::from_slice(&[std]).unwrap_or_default(),
        quant: Quant::new(scale, zero_point),
    }
}

/// Normalization and quantization parameters of a grey spec.
fn spec_params() -> impl Strategy<Value = (f32, f32, f32, i8)> {
    (-0.5f32..1.5, 0.05f32..2.0, 0.002f32..0.1, any::<i8>())
}

/// A frame with its size, and a region inside it.
fn frame_and_roi() -> impl Strategy<Value = (u16, u16, Vec<u8>, Roi)> {
    (1u16..40, 1u16..40).prop_flat_map(|(w, h)| {
        (
            Just(w),
            Just(h),
            proptest::collection::vec(any::<u8>(), usize::from(w) * usize::from(h)),
            (0..w, 0..h).prop_flat_map(move |(x, y)| {
                (1..=w - x, 1..=h - y).prop_map(move |(rw, rh)| Roi {
                    x,
                    y,
                    width: rw,
                    height: rh,
                })
            }),
        )
    })
}

/// A trace of 1 to 30 samples with pen flags, at least one of them down.
fn trace() -> impl Strategy<Value = Vec<StrokePoint>> {
    proptest::collection::vec((0u16..2000, 0u16..2000, any::<bool>()), 1..30).prop_map(|raw| {
        let mut pts: Vec<StrokePoint> = raw
            .iter()
            .map(|&(x, y, d)| {
                if d {
                    StrokePoint::down(x, y)
                } else {
                    StrokePoint::up(x, y)
                }
            })
            .collect();
        let (x, y) = (raw[0].0, raw[0].1);
        pts.push(StrokePoint::down(x, y));
        pts
    })
}

fn draw(points: &[StrokePoint], cfg: &RasterConfig) -> Result<Vec<u8>, PreprocessError> {
    let mut out = vec![0u8; usize::from(cfg.width) * usize::from(cfg.height)];
    rasterize(points, cfg, &mut out)?;
    Ok(out)
}

fn moved(points: &[StrokePoint], dx: u16, dy: u16, k: u16) -> Vec<StrokePoint> {
    points
        .iter()
        .map(|p| StrokePoint {
            x: p.x * k + dx,
            y: p.y * k + dy,
            pen: p.pen,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any frame, region and destination size: no panic, and every output within the region's
    /// range (bilinear and area both average, never overshoot; the quantization is monotone, so
    /// the int8 area values lie between those of the region's darkest and brightest pixels).
    #[test]
    fn resizes_stay_in_range(
        (w, h, px, roi) in frame_and_roi(), dw in 1u16..50, dh in 1u16..50, params in spec_params(),
    ) {
        let src = Gray::new(w, h, &px).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut region = vec![];
        for y in roi.y..roi.y + roi.height {
            for x in roi.x..roi.x + roi.width {
                region.push(px[usize::from(y) * usize::from(w) + usize::from(x)]);
            }
        }
        let lo = region.iter().min().copied().unwrap_or(0);
        let hi = region.iter().max().copied().unwrap_or(255);
        let mut out = vec![0u8; usize::from(dw) * usize::from(dh)];
        let mut dst = GrayMut::new(dw, dh, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(resize_bilinear(&src, roi, &mut dst), Ok(()));
        prop_assert!(out.iter().all(|v| (lo..=hi).contains(v)));
        let spec = grey_spec(dw, dh, params);
        let mut q = vec![0i8; out.len()];
        prop_assert_eq!(resize_area_i8(&src, roi, &spec, &mut q), Ok(()));
        let (qlo, qhi) = (spec.quantize_pixel(0, lo), spec.quantize_pixel(0, hi));
        prop_assert!(q.iter().all(|v| (qlo..=qhi).contains(&Some(*v))));
    }

    /// The area path quantizes the exact covered-area mean, computed here in f64 from
    /// real-valued overlaps (independently of the integer weights): each int8 value lies between
    /// the quantized values of that mean minus and plus 1e-3 of a grey level.
    #[test]
    fn area_quantizes_the_exact_mean(
        (w, h, px, roi) in frame_and_roi(), dw in 1u16..30, dh in 1u16..30, params in spec_params(),
    ) {
        let src = Gray::new(w, h, &px).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let spec = grey_spec(dw, dh, params);
        let mut out = vec![0i8; usize::from(dw) * usize::from(dh)];
        prop_assert_eq!(resize_area_i8(&src, roi, &spec, &mut out), Ok(()));
        let (rw, rh) = (f64::from(roi.width), f64::from(roi.height));
        let overlap = |o: u16, d: u16, s: f64, i: u16| {
            let (a, b) = (f64::from(o) * s / f64::from(d), f64::from(o + 1) * s / f64::from(d));
            (b.min(f64::from(i) + 1.0) - a.max(f64::from(i))).max(0.0)
        };
        for oy in 0..dh {
            for ox in 0..dw {
                let mut sum = 0.0;
                for y in 0..roi.height {
                    for x in 0..roi.width {
                        let p = f64::from(px[usize::from(roi.y + y) * usize::from(w) + usize::from(roi.x + x)]);
                        sum += overlap(oy, dh, rh, y) * overlap(ox, dw, rw, x) * p;
                    }
                }
                let mean = sum * f64::from(dw) * f64::from(dh) / (rw * rh);
                let got = Some(out[usize::from(oy) * usize::from(dw) + usize::from(ox)]);
                let lo = spec.quantize(0, (mean - 1e-3) as f32);
                let hi = spec.quantize(0, (mean + 1e-3) as f32);
                prop_assert!(lo <= got && got <= hi, "({}, {}): {:?} for mean {}", ox, oy, got, mean);
            }
        }
    }

    /// The rasterized image does not change when the trace moves or is scaled by an integer.
    #[test]
    fn raster_is_translation_and_scale_invariant(
        pts in trace(),
        dx in 0u16..20000,
        dy in 0u16..20000,
        k in 1u16..15,
        w in 8u16..64,
        h in 8u16..64,
        pen in 1u16..5,
    ) {
        let cfg = RasterConfig::new(w, h).with_margin(2).with_pen_width(pen);
        let base = draw(&pts, &cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(base.contains(&0));
        prop_assert!(base.iter().all(|v| *v == 0 || *v == 255));
        let other = draw(&moved(&pts, dx, dy, k), &cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(other, base);
    }

    /// The integer normalized mean is the float reference round(128 m / |m|), exactly.
    #[test]
    fn normalized_mean_matches_float(
        rows in proptest::collection::vec(proptest::collection::vec(any::<i8>(), 16), 1..=8),
    ) {
        let model = ModelId([3; 16]);
        let caps: Vec<EmbeddingRef<'_>> = rows
            .iter()
            .map(|r| EmbeddingRef { model, scale: 1.0 / 128.0, values: r })
            .collect();
        let m: Vec<f64> = (0..16).map(|i| rows.iter().map(|r| f64::from(r[i])).sum()).collect();
        let norm = m.iter().map(|v| v * v).sum::<f64>().sqrt();
        let result = enroll(1, &caps, EnrollPolicy::Mean, true);
        if norm == 0.0 {
            prop_assert!(result.is_err());
        } else {
            let t = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected: Vec<i8> = m
                .iter()
                .map(|v| (128.0 * v / norm).round().clamp(-128.0, 127.0) as i8)
                .collect();
            prop_assert_eq!(t.embedding(0).map(|e| e.values.to_vec()), Some(expected));
        }
    }
}
