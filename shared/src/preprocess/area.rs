//! Area-averaging resize with exact integer weights (OpenCV's `INTER_AREA` when shrinking).
//!
//! Output pixel `(dx, dy)` of a `dw x dh` output covers the region rectangle
//! `[dx * rw / dw, (dx + 1) * rw / dw) x [dy * rh / dh, (dy + 1) * rh / dh)` of an `rw x rh`
//! region of interest; every region pixel counts with its overlap with that rectangle. Measured
//! in `1/dw` (columns) and `1/dh` (rows) of a pixel the overlaps are integers `wx`, `wy` that sum
//! to `rw` and `rh` per output pixel, so each output value is the exact fraction
//! [`AreaMean`] `= Σ wy wx p / (rw * rh)`, per channel. An integer factor such as 112x92 ->
//! 56x46 gives the exact mean of each 2x2 block. The fraction becomes a number exactly once:
//! [`AreaMean::value`] (f32, what the trainer trains on) or, fused, the model input's int8
//! ([`resize_area_quantized`]: the same f32 through [`InputSpec::quantize`], no u8 in between).
//!
//! When enlarging, this is still the covered-area mean (each output pixel takes the one or two
//! input pixels under it); OpenCV switches to bilinear weights there.
//!
//! Cost: every region pixel is read once for each output pixel that overlaps it (once for
//! integer factors, at most twice per axis otherwise), so the work grows with the region and
//! nothing aliases. The fused int8 path adds one f64 division and the f32 quantization per output
//! value (software f64 on a Cortex-M4: roughly a few hundred cycles per value).

use super::error::PreprocessError;
use super::image::{ImageRef, Roi};
use super::quantize::Normalizer;
use crate::model::{InputSpec, MAX_INPUT_CHANNELS};

/// Longest region or output side: with sides up to `2^20` the scaled coordinates stay below
/// `2^41` and the numerators below `2^48`, so every weight and sum is an exact u64.
pub const MAX_SIDE: usize = 1 << 20;

/// The exact mean of one output value: `num / den`, with `den = rw * rh` (the region's area in
/// pixels) and `num` the overlap-weighted pixel sum, `0 <= num <= 255 * den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaMean {
    /// Weighted sum of the covered pixel levels.
    pub num: u64,
    /// The region's area, `rw * rh`.
    pub den: u64,
}

impl AreaMean {
    /// The mean as f32 in `0.0..=255.0`: `(num as f64 / den as f64) as f32`, the one conversion
    /// every pipeline uses (one rounding of the exact fraction to f64, then to f32).
    pub fn value(self) -> f32 {
        (self.num as f64 / self.den as f64) as f32
    }
}

/// The source pixels one output index covers along one axis: indices `first..last`, all weighing
/// `full` (the output count `d`, i.e. one whole pixel in units of `1/d`) except the two ends,
/// which weigh `head` and `tail` (equal, and the whole span `s`, when `last - first == 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    first: usize,
    last: usize,
    head: u64,
    tail: u64,
}

impl Span {
    /// The weight of source index `i` of this span (`first <= i < last`), given `full`.
    fn weight(&self, i: usize, full: u64) -> u64 {
        if i == self.first {
            self.head
        } else if i + 1 == self.last {
            self.tail
        } else {
            full
        }
    }
}

/// The spans of outputs `0..d` over `s` source pixels (`1 <= s, d <= MAX_SIDE`), in order and
/// without a division per output: output `o` covers `[o * s, (o + 1) * s)` in units of `1/d`
/// pixel, and its start advances by the quotient and remainder of `s / d`.
fn spans(s: usize, d: usize) -> impl Iterator<Item = Span> {
    let (s, d) = (s as u64, d as u64);
    let (step_q, step_r) = (s / d, s % d);
    // The start of the current output is `first * d + rem`, `rem < d`.
    let (mut first, mut rem) = (0u64, 0u64);
    (0..d).map(move |_| {
        let (mut next, mut next_rem) = (first + step_q, rem + step_r);
        if next_rem >= d {
            next_rem -= d;
            next += 1;
        }
        // The end is `next * d + next_rem`: a partial pixel `next` when `next_rem > 0`.
        let last = next + u64::from(next_rem > 0);
        let span = if last - first == 1 {
            Span {
                first: first as usize,
                last: last as usize,
                head: s,
                tail: s,
            }
        } else {
            Span {
                first: first as usize,
                last: last as usize,
                head: d - rem,
                tail: if next_rem > 0 { next_rem } else { d },
            }
        };
        (first, rem) = (next, next_rem);
        span
    })
}

/// The weighted sums of one row's span `px` (`n` pixels of `c` channels, HWC) into `acc`: the
/// two end pixels with their partial weights, every pixel between with `full`.
fn row_sums(px: &[u8], c: usize, x: Span, full: u64, acc: &mut [u64; MAX_INPUT_CHANNELS]) {
    if c == 1 {
        acc[0] = match px {
            [] => 0,
            [p] => x.head * u64::from(*p),
            [a, inner @ .., b] => {
                let inner: u64 = inner.iter().map(|&p| u64::from(p)).sum();
                x.head * u64::from(*a) + x.tail * u64::from(*b) + full * inner
            }
        };
        return;
    }
    let n = px.len() / c;
    for (ch, a) in acc.iter_mut().enumerate().take(c) {
        let at = |k: usize| u64::from(px.get(k * c + ch).copied().unwrap_or(0));
        *a = match n {
            0 => 0,
            1 => x.head * at(0),
            _ => {
                let inner: u64 = (1..n - 1).map(at).sum();
                x.head * at(0) + x.tail * at(n - 1) + full * inner
            }
        };
    }
}

/// Checks the geometry and returns the output length `dw * dh * channels`.
fn check(src: &ImageRef<'_>, roi: Roi, dw: usize, dh: usize) -> Result<usize, PreprocessError> {
    if dw == 0 || dh == 0 {
        return Err(PreprocessError::ZeroSize {
            what: "destination",
            width: dw,
            height: dh,
        });
    }
    roi.check_in(src.width(), src.height())?;
    for (what, width, height) in [("roi", roi.width, roi.height), ("destination", dw, dh)] {
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(PreprocessError::TooLarge {
                what,
                width,
                height,
            });
        }
    }
    dw.checked_mul(dh)
        .and_then(|n| n.checked_mul(src.channels()))
        .ok_or(PreprocessError::TooLarge {
            what: "destination",
            width: dw,
            height: dh,
        })
}

fn check_output(expected: usize, found: usize) -> Result<(), PreprocessError> {
    if found != expected {
        return Err(PreprocessError::BufferSize {
            what: "output",
            expected,
            found,
        });
    }
    Ok(())
}

/// Area-averages region `roi` of `src` to `dw x dh` and calls `visit(index, channel, mean)` once
/// per output value, in HWC order (`index = (dy * dw + dx) * channels + channel`). Nothing is
/// visited unless the sizes check out: a zero side, a side over [`MAX_SIDE`] or a region outside
/// the image is a [`PreprocessError`]. Allocates nothing.
pub fn area_means(
    src: &ImageRef<'_>,
    roi: Roi,
    dw: usize,
    dh: usize,
    mut visit: impl FnMut(usize, usize, AreaMean),
) -> Result<(), PreprocessError> {
    check(src, roi, dw, dh)?;
    let c = src.channels();
    let den = roi.width as u64 * roi.height as u64;
    let (full_x, full_y) = (dw as u64, dh as u64);
    let mut index = 0;
    for y in spans(roi.height, dh) {
        for x in spans(roi.width, dw) {
            let mut num = [0u64; MAX_INPUT_CHANNELS];
            let mut row = [0u64; MAX_INPUT_CHANNELS];
            for sy in y.first..y.last {
                let px = src.span(roi.y + sy, roi.x + x.first, x.last - x.first);
                row_sums(px, c, x, full_x, &mut row);
                let wy = y.weight(sy, full_y);
                for (n, r) in num.iter_mut().zip(row) {
                    *n += wy * r;
                }
            }
            for (channel, &num) in num.iter().take(c).enumerate() {
                visit(index, channel, AreaMean { num, den });
                index += 1;
            }
        }
    }
    Ok(())
}

/// Area-averages region `roi` of `src` into `out`: `dw * dh * channels` f32 means in
/// `0.0..=255.0` (HWC, not rounded; [`AreaMean::value`] of each). `out` must have exactly that
/// length ([`PreprocessError::BufferSize`] otherwise).
pub fn resize_area_into(
    src: &ImageRef<'_>,
    roi: Roi,
    dw: usize,
    dh: usize,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    check_output(check(src, roi, dw, dh)?, out.len())?;
    area_means(src, roi, dw, dh, |i, _, m| {
        if let Some(o) = out.get_mut(i) {
            *o = m.value();
        }
    })
}

/// Area-averages region `roi` of `src` straight into the int8 model input `out` of `spec`
/// (`spec.height x spec.width x spec.channels`, HWC): each value is
/// [`InputSpec::quantize`]`(channel, mean.value())`, the very number the trainer's data pipeline
/// and [`quantize_unit_image`](super::quantize_unit_image) give, with no u8 rounding between.
/// Errors: the image's channels differ from the spec's, the spec's lists do not have `channels`
/// entries, `out` is not the input's length, or a geometry error of [`area_means`].
pub fn resize_area_quantized(
    src: &ImageRef<'_>,
    roi: Roi,
    spec: &InputSpec,
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    let rule = Normalizer::new(spec)?;
    if rule.channels() != src.channels() {
        return Err(PreprocessError::Channels {
            what: "input spec",
            expected: src.channels(),
            found: rule.channels(),
        });
    }
    let (dw, dh) = (usize::from(spec.width), usize::from(spec.height));
    check_output(check(src, roi, dw, dh)?, out.len())?;
    area_means(src, roi, dw, dh, |i, ch, m| {
        if let Some(o) = out.get_mut(i) {
            *o = rule.quantize(ch, m.value());
        }
    })
}

/// Area-averages a whole `sw x sh` grey image (`src`, row-major levels) to `dw x dh`: `dw * dh`
/// row-major f32 means in `0.0..=255.0` ([`resize_area_into`] over the full image, into a new
/// vector; feature `alloc`).
#[cfg(feature = "alloc")]
pub fn resize_area(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
) -> Result<alloc::vec::Vec<f32>, PreprocessError> {
    let img = ImageRef::grey(sw, sh, src)?;
    let len = check(&img, img.full(), dw, dh)?;
    let mut out = alloc::vec![0.0; len];
    resize_area_into(&img, img.full(), dw, dh, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
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
}
