//! Golden values and properties of the area resize: exact fractions, the previous host resize
//! bit for bit, the fused int8 path against the two steps, and no panics.

use super::*;
use crate::model::Quant;
use crate::preprocess::quantize_means;
use proptest::prelude::*;

/// The host resize as it was before the contract moved here (a row accumulator per output
/// row, the numerators of each output pixel in another order): the f32 images the trainer
/// trained on. The contract must reproduce them bit for bit.
fn previous_host_resize(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    let weights = |s: usize, d: usize| -> Vec<Vec<(usize, u64)>> {
        (0..d)
            .map(|o| {
                let (start, end) = (o * s, (o + 1) * s);
                (start / d..end.div_ceil(d))
                    .filter_map(|i| {
                        let lo = start.max(i * d);
                        let hi = end.min((i + 1) * d);
                        (hi > lo).then_some((i, (hi - lo) as u64))
                    })
                    .collect()
            })
            .collect()
    };
    let (cols, rows) = (weights(sw, dw), weights(sh, dh));
    let denom = (sw as f64) * (sh as f64);
    let mut out = Vec::new();
    let mut row_acc = vec![0u64; sw];
    for taps_y in &rows {
        row_acc.iter_mut().for_each(|a| *a = 0);
        for &(sy, wy) in taps_y {
            for (a, &p) in row_acc.iter_mut().zip(&src[sy * sw..(sy + 1) * sw]) {
                *a += wy * u64::from(p);
            }
        }
        for taps_x in &cols {
            let num: u64 = taps_x.iter().map(|&(sx, wx)| wx * row_acc[sx]).sum();
            out.push((num as f64 / denom) as f32);
        }
    }
    out
}

/// [`resize_area_into`] of a whole grey image into a new vector (what the `alloc` wrapper
/// [`resize_area`] does; the unit tests also run without `alloc`).
fn resize(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
) -> Result<Vec<f32>, PreprocessError> {
    let img = ImageRef::grey(sw, sh, src)?;
    let mut out = vec![0.0; dw.saturating_mul(dh)];
    resize_area_into(&img, img.full(), dw, dh, &mut out)?;
    Ok(out)
}

fn means(img: &ImageRef<'_>, roi: Roi, dw: usize, dh: usize) -> Vec<AreaMean> {
    let mut out = Vec::new();
    area_means(img, roi, dw, dh, |i, _, m| {
        assert_eq!(i, out.len());
        out.push(m);
    })
    .unwrap();
    out
}

fn grey_spec(w: u16, h: u16, channels: u8) -> InputSpec {
    InputSpec {
        width: w,
        height: h,
        channels,
        mean: (0..channels).map(|c| 0.3 + 0.1 * f32::from(c)).collect(),
        std: (0..channels).map(|c| 0.2 + 0.05 * f32::from(c)).collect(),
        quant: Quant::new(0.021, -7),
    }
}

/// 3x3 -> 2x2: output 0 covers input `[0, 1.5)` on each axis; in halves of a pixel (`d = 2`)
/// the overlaps are 2 and 1 and the weights of one output sum to 3, so `den = 3 * 3`:
///   out(0,0) = (2*(2*10 + 1*20) + 1*(2*80 + 1*160)) / 9 = 400/9
///   out(1,0) = (2*(1*20 + 2*40) + 1*(1*160 + 2*0)) / 9  = 360/9
///   out(0,1) = (1*(2*80 + 1*160) + 2*(2*30 + 1*60)) / 9 = 560/9
///   out(1,1) = (1*(1*160 + 2*0) + 2*(1*60 + 2*90)) / 9  = 640/9
#[test]
fn fractional_3x3_to_2x2_is_the_exact_fraction() {
    let px = [10, 20, 40, 80, 160, 0, 30, 60, 90];
    let img = ImageRef::grey(3, 3, &px).unwrap();
    let got: Vec<(u64, u64)> = means(&img, img.full(), 2, 2)
        .iter()
        .map(|m| (m.num, m.den))
        .collect();
    assert_eq!(got, [(400, 9), (360, 9), (560, 9), (640, 9)]);
    assert_eq!(
        resize(&px, 3, 3, 2, 2).unwrap(),
        [400.0 / 9.0, 40.0, 560.0 / 9.0, 640.0 / 9.0]
    );
}

#[test]
fn halving_112x92_is_the_exact_2x2_mean() {
    let (w, h) = (92, 112);
    let src: Vec<u8> = (0..w * h)
        .map(|i| ((i * 37 + i / w * 11) % 256) as u8)
        .collect();
    let out = resize(&src, w, h, 46, 56).unwrap();
    for y in 0..56 {
        for x in 0..46 {
            let p = |dx: usize, dy: usize| u32::from(src[(2 * y + dy) * w + 2 * x + dx]);
            let sum = p(0, 0) + p(1, 0) + p(0, 1) + p(1, 1);
            assert_eq!(out[y * 46 + x], sum as f32 / 4.0, "at ({x}, {y})");
        }
    }
}

#[test]
fn identity_enlarging_and_crops() {
    let px: Vec<u8> = (0..=255).collect();
    let same: Vec<f32> = px.iter().map(|&p| f32::from(p)).collect();
    assert_eq!(resize(&px, 16, 16, 16, 16).unwrap(), same);
    assert_eq!(
        resize(&[10, 200], 2, 1, 4, 1).unwrap(),
        [10.0, 10.0, 200.0, 200.0]
    );
    assert_eq!(
        resize(&[10, 200], 2, 1, 3, 1).unwrap(),
        [10.0, 105.0, 200.0]
    );
    let px = [0, 0, 0, 0, 0, 9, 7, 0, 0, 9, 9, 0, 0, 0, 0, 0];
    let img = ImageRef::grey(4, 4, &px).unwrap();
    let roi = Roi {
        x: 1,
        y: 1,
        width: 2,
        height: 2,
    };
    assert_eq!(means(&img, roi, 1, 1), [AreaMean { num: 34, den: 4 }]);
}

#[test]
fn channels_average_independently() {
    // 2x2 RGB -> 1x1: each channel's mean of its four values.
    let px = [0, 10, 255, 4, 10, 255, 8, 10, 0, 12, 11, 0];
    let img = ImageRef::new(2, 2, 3, &px).unwrap();
    let mut out = [0f32; 3];
    resize_area_into(&img, img.full(), 1, 1, &mut out).unwrap();
    assert_eq!(out, [6.0, 10.25, 127.5]);
}

#[test]
fn typed_errors_and_nothing_written() {
    assert!(matches!(
        resize(&[0; 4], 2, 2, 0, 1),
        Err(PreprocessError::ZeroSize {
            what: "destination",
            ..
        })
    ));
    assert!(matches!(
        resize(&[0; 3], 2, 2, 1, 1),
        Err(PreprocessError::BufferSize {
            what: "source",
            expected: 4,
            found: 3
        })
    ));
    assert!(matches!(
        resize(&[0; 4], 2, 2, MAX_SIDE + 1, 1),
        Err(PreprocessError::TooLarge { .. })
    ));
    let img = ImageRef::grey(2, 2, &[1; 4]).unwrap();
    let mut out = [-1i8; 4];
    let spec = grey_spec(2, 2, 1);
    assert!(matches!(
        resize_area_quantized(&img, img.full(), &spec, &mut out[..3]),
        Err(PreprocessError::BufferSize { what: "output", .. })
    ));
    let rgb = grey_spec(2, 2, 3);
    assert!(matches!(
        resize_area_quantized(&img, img.full(), &rgb, &mut out),
        Err(PreprocessError::Channels {
            what: "input spec",
            ..
        })
    ));
    let outside = Roi {
        x: 1,
        y: 0,
        width: 2,
        height: 2,
    };
    assert!(matches!(
        resize_area_quantized(&img, outside, &spec, &mut out),
        Err(PreprocessError::RoiOutOfBounds { .. })
    ));
    assert_eq!(out, [-1; 4]);
}

/// The incremental spans against the direct overlaps: source pixel `i` covers `[i d, (i + 1)
/// d)`, output `o` covers `[o s, (o + 1) s)`; every overlapping `i` is in the span with its
/// overlap as weight, and the weights sum to `s`.
#[test]
fn spans_are_the_exact_overlaps() {
    for s in 1..40usize {
        for d in 1..40usize {
            for (o, span) in spans(s, d).enumerate() {
                let (start, end) = ((o * s) as u64, ((o + 1) * s) as u64);
                let overlap = |i: usize| {
                    let (lo, hi) = (start.max((i * d) as u64), end.min(((i + 1) * d) as u64));
                    hi.saturating_sub(lo)
                };
                let covered: Vec<usize> = (0..s).filter(|&i| overlap(i) > 0).collect();
                assert_eq!(
                    covered,
                    (span.first..span.last).collect::<Vec<_>>(),
                    "{s} -> {d}, output {o}"
                );
                let weights: u64 = covered.iter().map(|&i| span.weight(i, d as u64)).sum();
                assert_eq!(weights, s as u64);
                for &i in &covered {
                    assert_eq!(
                        span.weight(i, d as u64),
                        overlap(i),
                        "{s} -> {d}, output {o}, source {i}"
                    );
                }
            }
            assert_eq!(spans(s, d).count(), d);
        }
    }
}

#[cfg(feature = "alloc")]
#[test]
fn alloc_wrapper_is_the_caller_buffer_resize() {
    let src: Vec<u8> = (0..7 * 5).map(|i| (i * 29 % 256) as u8).collect();
    assert_eq!(resize_area(&src, 7, 5, 3, 4), resize(&src, 7, 5, 3, 4));
    assert!(matches!(
        resize_area(&src, 7, 5, 0, 4),
        Err(PreprocessError::ZeroSize { .. })
    ));
}

proptest! {
    /// The f32 images are the previous host resize's, bit for bit.
    #[test]
    fn f32_means_equal_the_previous_host_resize(
        sw in 1usize..40, sh in 1usize..40, dw in 1usize..30, dh in 1usize..30,
        seed in any::<u64>(),
    ) {
        let src: Vec<u8> = (0..sw * sh)
            .map(|i| ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed) as u8)
            .collect();
        let got = resize(&src, sw, sh, dw, dh).unwrap();
        let want = previous_host_resize(&src, sw, sh, dw, dh);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&want));
    }

    /// Any sizes, buffer lengths, regions and spec values (NaN, zero or negative std and
    /// scale included): a result or a typed error, never a panic.
    #[test]
    fn never_panics(
        w in 0usize..8, h in 0usize..8, c in 0usize..6, extra in 0usize..3,
        rx in 0usize..10, ry in 0usize..10, rw in 0usize..10, rh in 0usize..10,
        dw in 0u16..10, dh in 0u16..10, sc in 0u8..6, out_len in 0usize..500,
        mean in any::<f32>(), std in any::<f32>(), scale in any::<f32>(), zp in any::<i8>(),
    ) {
        let px = vec![200u8; w * h * c + extra];
        let roi = Roi { x: rx, y: ry, width: rw, height: rh };
        let spec = InputSpec {
            width: dw,
            height: dh,
            channels: sc,
            mean: (0..sc.min(4)).map(|_| mean).collect(),
            std: (0..sc.min(4)).map(|_| std).collect(),
            quant: Quant::new(scale, zp),
        };
        let mut out = vec![0i8; out_len];
        let mut f = vec![0f32; out_len];
        if let Ok(img) = ImageRef::new(w, h, c, &px) {
            let _ = resize_area_quantized(&img, roi, &spec, &mut out);
            let _ = resize_area_into(&img, roi, dw.into(), dh.into(), &mut f);
            let _ = area_means(&img, roi, dw.into(), dh.into(), |_, _, m| {
                assert!(m.num <= 255 * m.den);
            });
        }
        let _ = quantize_means(&spec, &f, &mut out);
        let _ = crate::preprocess::quantize_image(&spec, &px, &mut out);
        let _ = crate::preprocess::quantize_unit_image(&spec, &f, &mut out);
    }

    /// Fused resize + quantization equals the two steps, for any region and spec.
    #[test]
    fn fused_equals_resize_then_quantize(
        fw in 1usize..30, fh in 1usize..30, c in 1u8..=3,
        rx in 0usize..30, ry in 0usize..30, rw in 1usize..30, rh in 1usize..30,
        dw in 1u16..20, dh in 1u16..20,
        mean in -1.0f32..2.0, std in 0.05f32..2.0, scale in 0.001f32..0.1, zp in any::<i8>(),
        seed in any::<u64>(),
    ) {
        let (rx, ry) = (rx % fw, ry % fh);
        let roi = Roi { x: rx, y: ry, width: rw.min(fw - rx), height: rh.min(fh - ry) };
        let px: Vec<u8> = (0..fw * fh * usize::from(c))
            .map(|i| ((i as u64 ^ seed).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8)
            .collect();
        let img = ImageRef::new(fw, fh, usize::from(c), &px).unwrap();
        let mut spec = grey_spec(dw, dh, c);
        spec.mean[0] = mean;
        spec.std[0] = std;
        spec.quant = Quant::new(scale, zp);
        let n = usize::from(dw) * usize::from(dh) * usize::from(c);
        let mut f = vec![0f32; n];
        resize_area_into(&img, roi, usize::from(dw), usize::from(dh), &mut f).unwrap();
        let mut two_steps = vec![0i8; n];
        quantize_means(&spec, &f, &mut two_steps).unwrap();
        let mut fused = vec![0i8; n];
        resize_area_quantized(&img, roi, &spec, &mut fused).unwrap();
        prop_assert_eq!(fused, two_steps);
        // The means are exact: each lies within the covered pixels' range.
        let m = means(&img, roi, usize::from(dw), usize::from(dh));
        prop_assert!(m.iter().all(|m| m.num <= 255 * m.den && m.den == (roi.width * roi.height) as u64));
    }
}
