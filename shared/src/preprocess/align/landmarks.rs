//! The landmark net's geometry: its input for a region (pad to square, tf's legacy resize), its
//! outputs as image pixels, the refine box for pass 2 and the eye centres.

use super::{
    bilinear, check_channels, check_len, rgb, Points, LANDMARKS, LANDMARK_INPUT_LEN,
    LANDMARK_OUTPUTS, LANDMARK_SIDE,
};
use crate::preprocess::error::PreprocessError;
use crate::preprocess::image::{ImageRef, Roi};

/// The padding [`refine_box`] adds: `alignMinBbox(0.2)`, a fifth of each side in all.
pub const REFINE_PADDING: f64 = 0.2;

/// A `w x h` region inside its zero-padded square, `toBatchTensor`'s `padToSquare(img, true)`:
/// `(side, left, top)`, with `round(d/2)` (JS, .5 up) zeros after the region and the rest,
/// `floor(d/2)`, before it, `d = |w - h|`.
pub(super) fn pad_to_square(width: usize, height: usize) -> (usize, usize, usize) {
    let before = width.abs_diff(height) / 2;
    if width < height {
        (height, before, 0)
    } else {
        (width, 0, before)
    }
}

/// Source index pair and weight of output index `o` in tf's legacy resize (`alignCorners=false`,
/// `halfPixelCenters=false`): `src = o * (in / out)`, `floor(src)`, `min(ceil(src), in - 1)`.
fn legacy_source(o: usize, ratio: f64, last: usize) -> (usize, usize, f64) {
    let src = ratio * o as f64;
    let lo = libm::floor(src);
    let hi = libm::ceil(src).min(last as f64);
    ((lo as usize).min(last), hi as usize, src - lo)
}

/// The landmark net's input for region `roi` of `img`: the region zero-padded to a square
/// (`round(d/2)` zeros after it, the rest before, `d = |width - height|`), resized with tf's legacy
/// bilinear (`alignCorners=false`, `halfPixelCenters=false`, exact when the square is already
/// 112) to NHWC `[112, 112, 3]` RGB f32 levels `0.0..=255.0` in `out` (`LANDMARK_INPUT_LEN`
/// values; grey replicated, RGB kept).
pub fn landmark_input(img: ImageRef, roi: Roi, out: &mut [f32]) -> Result<(), PreprocessError> {
    check_channels(&img)?;
    roi.check_in(img.width(), img.height())?;
    check_len("landmark input", LANDMARK_INPUT_LEN, out.len())?;
    let (side, left, top) = pad_to_square(roi.width, roi.height);
    let ratio = side as f64 / LANDMARK_SIDE as f64;
    // Level of square pixel (sx, sy): the region's, or 0 in the padding.
    let at = |sx: usize, sy: usize| -> [f64; 3] {
        match (sx.checked_sub(left), sy.checked_sub(top)) {
            (Some(cx), Some(cy)) if cx < roi.width && cy < roi.height => {
                rgb(&img, roi.x + cx, roi.y + cy)
            }
            _ => [0.0; 3],
        }
    };
    for (oy, row) in out.chunks_exact_mut(LANDMARK_SIDE * 3).enumerate() {
        let (y0, y1, fy) = legacy_source(oy, ratio, side - 1);
        for (ox, px) in row.chunks_exact_mut(3).enumerate() {
            let (x0, x1, fx) = legacy_source(ox, ratio, side - 1);
            let v = bilinear(at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1), fx, fy);
            for (o, v) in px.iter_mut().zip(v) {
                *o = v as f32;
            }
        }
    }
    Ok(())
}

/// The landmark net's raw output for region `roi` (136 values `x0, y0, ...`, relative to its
/// padded 112x112 input) as image pixels, `FaceLandmark68NetBase.postProcess` in f64:
/// `s = 112 / max(w, h)`, `iw = w s`, `ih = h s`, the short side's padding `|iw - ih| / 2`, and
/// `x = (o_x 112 - pad_x) / iw * w + roi.x` (the same for y). For an odd `|w - h|` this is half an
/// input pixel off [`landmark_input`]'s padding, as in the package.
pub fn landmarks_to_pixels(raw: &[f32], roi: Roi) -> Result<Points, PreprocessError> {
    check_len("landmark output", LANDMARK_OUTPUTS, raw.len())?;
    if roi.width == 0 || roi.height == 0 {
        return Err(PreprocessError::ZeroSize {
            what: "roi",
            width: roi.width,
            height: roi.height,
        });
    }
    if let Some(index) = raw.iter().position(|v| !v.is_finite()) {
        return Err(PreprocessError::NonFinite {
            what: "landmark output",
            index,
        });
    }
    let (w, h) = (roi.width as f64, roi.height as f64);
    let input = LANDMARK_SIDE as f64;
    let s = input / w.max(h);
    let (iw, ih) = (w * s, h * s);
    let pad_x = if iw < ih { (ih - iw) / 2.0 } else { 0.0 };
    let pad_y = if ih < iw { (iw - ih) / 2.0 } else { 0.0 };
    let mut points = [[0.0; 2]; LANDMARKS];
    for (p, o) in points.iter_mut().zip(raw.chunks_exact(2)) {
        let (ox, oy) = (f64::from(o[0]), f64::from(o[1]));
        *p = [
            (ox * input - pad_x) / iw * w + roi.x as f64,
            (oy * input - pad_y) / ih * h + roi.y as f64,
        ];
    }
    Ok(points)
}

/// The pass-2 region of a `width x height` image: the points' min bbox `(x0, y0, w, h)` padded by
/// `alignMinBbox(0.2)` to `(x0 - 0.1 w, y0 - 0.1 h, 1.2 w, 1.2 h)` (as `w + 0.2 w`), clipped as
/// `Box.clipAtImageBorders` (`x' = max(x, 0)`, `w' = min(x + w - x', width - x')`, the same for y)
/// and floored. A non-finite point or box is [`PreprocessError::NonFinite`]; a box with a side
/// under one pixel after clipping and flooring is [`PreprocessError::EmptyBox`].
pub fn refine_box(points: &Points, width: usize, height: usize) -> Result<Roi, PreprocessError> {
    if let Some(index) = points
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(PreprocessError::NonFinite {
            what: "points",
            index,
        });
    }
    let (mut lo, mut hi) = (points[0], points[0]);
    for p in points {
        for c in 0..2 {
            lo[c] = lo[c].min(p[c]);
            hi[c] = hi[c].max(p[c]);
        }
    }
    let (w, h) = (hi[0] - lo[0], hi[1] - lo[1]);
    let (pad_x, pad_y) = (w * REFINE_PADDING, h * REFINE_PADDING);
    let padded = [
        lo[0] - pad_x / 2.0,
        lo[1] - pad_y / 2.0,
        w + pad_x,
        h + pad_y,
    ];
    if let Some(index) = padded.iter().position(|v| !v.is_finite()) {
        return Err(PreprocessError::NonFinite {
            what: "refine box",
            index,
        });
    }
    let [x, y, w, h] = padded;
    let (cx, cy) = (x.max(0.0), y.max(0.0));
    let cw = (x + w - cx).min(width as f64 - cx);
    let ch = (y + h - cy).min(height as f64 - cy);
    let [fx, fy, fw, fh] = [cx, cy, cw, ch].map(libm::floor);
    if !(fw >= 1.0 && fh >= 1.0) {
        return Err(PreprocessError::EmptyBox {
            what: "refine box",
            x: fx as i64,
            y: fy as i64,
            width: fw as i64,
            height: fh as i64,
            frame_width: width,
            frame_height: height,
        });
    }
    let roi = Roi {
        x: fx as usize,
        y: fy as usize,
        width: fw as usize,
        height: fh as usize,
    };
    roi.check_in(width, height)?;
    Ok(roi)
}

/// The eye centres `(image left, image right)`: the means of points 36-41 and of 42-47 (summed in
/// order, divided by 6).
pub fn eye_centres(points: &Points) -> ([f64; 2], [f64; 2]) {
    let mean = |first: usize| {
        let mut sum = [0.0; 2];
        for p in &points[first..first + 6] {
            sum = [sum[0] + p[0], sum[1] + p[1]];
        }
        [sum[0] / 6.0, sum[1] / 6.0]
    };
    (mean(36), mean(42))
}
