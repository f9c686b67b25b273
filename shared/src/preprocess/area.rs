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
mod tests;
