//! Light augmentation for small grey data sets.
//!
//! Per image, in this order: a random crop of the image zero-padded by `crop_pad` pixels on every side
//! (a shift by `dx, dy` in `-crop_pad..=crop_pad`, uncovered pixels 0, as torchvision's
//! `RandomCrop(size, padding)`), a horizontal flip with probability 1/2 when `hflip` is set (faces, not
//! digits), then `x' = clamp(b * (c * (x - mean) + mean), 0, 1)` with contrast factor
//! `c` uniform in `1 +- contrast`, brightness factor `b` uniform in `1 +- brightness`, and `mean` the
//! image's mean after the crop. Pixel values are expected in `[0, 1]`.
//!
//! With `rotate` or `scale` set, the shifted image is also rotated by an angle uniform in
//! `+-rotate` degrees and zoomed by a factor uniform in `1 +- scale`, both about the image centre,
//! in one inverse mapping sampled bilinearly (outside the image: 0); the flip comes after.
//!
//! Each image draws exactly five values from the generator whatever the crop, flip and photometric
//! settings, so switching one of them does not shift the rest of the stream; the affine jitter,
//! when on, draws two more (so runs without it keep their streams).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::ImageShape;

/// Augmentation settings; [`Augment::default`] changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Maximal shift in pixels (zero padding), 0 for none.
    pub crop_pad: usize,
    /// Flip horizontally with probability 1/2.
    pub hflip: bool,
    /// Brightness jitter: factor uniform in `1 +- brightness` (0 for none).
    pub brightness: f32,
    /// Contrast jitter: factor uniform in `1 +- contrast` (0 for none).
    pub contrast: f32,
    /// Rotation jitter: angle uniform in `+- rotate` degrees (0 for none).
    #[serde(default)]
    pub rotate: f32,
    /// Scale jitter: zoom factor uniform in `1 +- scale` (0 for none).
    #[serde(default)]
    pub scale: f32,
}

impl Augment {
    /// For faces: shifts of up to 4 px, flips, +-10% brightness and contrast (REFERENCE.md's crop and
    /// flip, plus a little photometric jitter).
    pub fn faces() -> Self {
        Self {
            crop_pad: 4,
            hflip: true,
            brightness: 0.1,
            contrast: 0.1,
            rotate: 0.0,
            scale: 0.0,
        }
    }

    /// For digits: shifts of up to 2 px, no flip, no jitter.
    pub fn digits() -> Self {
        Self {
            crop_pad: 2,
            ..Self::default()
        }
    }

    /// Writes an augmented copy of `src` (one image of `shape`) to `dst` (same length).
    pub fn apply<R: Rng>(&self, src: &[f32], shape: ImageShape, rng: &mut R, dst: &mut [f32]) {
        let pad = self.crop_pad as i64;
        let dx = rng.random_range(-pad..=pad);
        let dy = rng.random_range(-pad..=pad);
        let flip = rng.random_bool(0.5) && self.hflip;
        let u_contrast: f32 = rng.random();
        let u_brightness: f32 = rng.random();
        let (h, w) = (shape.height as i64, shape.width as i64);
        let plane = (h * w) as usize;
        if self.rotate > 0.0 || self.scale > 0.0 {
            let u_rotate: f32 = rng.random();
            let u_scale: f32 = rng.random();
            let angle = (self.rotate * (2.0 * u_rotate - 1.0)).to_radians();
            let zoom = 1.0 + self.scale * (2.0 * u_scale - 1.0);
            let m = Affine::new(angle, zoom, shape, (dx as f32, dy as f32), flip);
            for c in 0..shape.channels {
                m.warp(
                    &src[c * plane..(c + 1) * plane],
                    &mut dst[c * plane..(c + 1) * plane],
                );
            }
        } else {
            shift_and_flip(src, shape, (dx, dy), flip, dst);
        }
        if self.contrast > 0.0 || self.brightness > 0.0 {
            let cf = 1.0 + self.contrast * (2.0 * u_contrast - 1.0);
            let bf = 1.0 + self.brightness * (2.0 * u_brightness - 1.0);
            let mean = dst.iter().sum::<f32>() / dst.len().max(1) as f32;
            for v in dst.iter_mut() {
                *v = (bf * (cf * (*v - mean) + mean)).clamp(0.0, 1.0);
            }
        }
    }
}

/// `dst[y][x] = src[y + dy][x' + dx]` per channel, `x' = w - 1 - x` when `flip`; 0 outside.
fn shift_and_flip(
    src: &[f32],
    shape: ImageShape,
    (dx, dy): (i64, i64),
    flip: bool,
    dst: &mut [f32],
) {
    let (h, w) = (shape.height as i64, shape.width as i64);
    let plane = (h * w) as usize;
    for c in 0..shape.channels {
        let s = &src[c * plane..(c + 1) * plane];
        let d = &mut dst[c * plane..(c + 1) * plane];
        for y in 0..h {
            for x in 0..w {
                let sy = y + dy;
                let sx0 = x + dx;
                let sx = if flip { w - 1 - sx0 } else { sx0 };
                d[(y * w + x) as usize] = if (0..h).contains(&sy) && (0..w).contains(&sx) {
                    s[(sy * w + sx) as usize]
                } else {
                    0.0
                };
            }
        }
    }
}

/// The inverse map of the affine jitter: output pixel `(x, y)` reads the source at the shifted
/// point `(x + dx, y + dy)` rotated by `-angle` and divided by `zoom` about the centre
/// `((w - 1) / 2, (h - 1) / 2)`, its column mirrored when `flip`.
struct Affine {
    cos: f32,
    sin: f32,
    inv_zoom: f32,
    centre: (f32, f32),
    shift: (f32, f32),
    flip: bool,
    h: usize,
    w: usize,
}

impl Affine {
    fn new(angle: f32, zoom: f32, shape: ImageShape, shift: (f32, f32), flip: bool) -> Self {
        let (h, w) = (shape.height, shape.width);
        Self {
            cos: angle.cos(),
            sin: angle.sin(),
            inv_zoom: 1.0 / zoom,
            centre: ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0),
            shift,
            flip,
            h,
            w,
        }
    }

    /// One `h x w` plane, sampled bilinearly; taps outside the image count 0.
    fn warp(&self, src: &[f32], dst: &mut [f32]) {
        let (cx, cy) = self.centre;
        let at = |x: i64, y: i64| -> f32 {
            if (0..self.w as i64).contains(&x) && (0..self.h as i64).contains(&y) {
                src[y as usize * self.w + x as usize]
            } else {
                0.0
            }
        };
        for y in 0..self.h {
            for x in 0..self.w {
                let u = x as f32 + self.shift.0 - cx;
                let v = y as f32 + self.shift.1 - cy;
                let mut sx = cx + self.inv_zoom * (self.cos * u + self.sin * v);
                let sy = cy + self.inv_zoom * (-self.sin * u + self.cos * v);
                if self.flip {
                    sx = self.w as f32 - 1.0 - sx;
                }
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                dst[y * self.w + x] = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1, y0))
                    + fy * ((1.0 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ramp() -> Vec<f32> {
        (0..12).map(|v| v as f32 / 12.0).collect()
    }

    #[test]
    fn default_is_the_identity() {
        let shape = ImageShape::grey(3, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = vec![0.0; 12];
        Augment::default().apply(&ramp(), shape, &mut rng, &mut out);
        assert_eq!(out, ramp());
    }

    #[test]
    fn same_seed_same_output_and_shifts_stay_in_range() {
        let shape = ImageShape::grey(3, 4);
        let aug = Augment::faces();
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut out = vec![0.0; 12];
            aug.apply(&ramp(), shape, &mut rng, &mut out);
            out
        };
        assert_eq!(run(3), run(3));
        let outs: Vec<Vec<f32>> = (0..20).map(run).collect();
        assert!(outs.iter().any(|o| *o != outs[0]));
        assert!(outs.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn a_flip_without_shift_mirrors_rows() {
        let shape = ImageShape::grey(3, 4);
        let aug = Augment {
            hflip: true,
            ..Augment::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let src = ramp();
        let mirrored: Vec<f32> = src
            .chunks(4)
            .flat_map(|r| r.iter().rev().copied().collect::<Vec<_>>())
            .collect();
        let mut seen_flip = false;
        for _ in 0..16 {
            let mut out = vec![0.0; 12];
            aug.apply(&src, shape, &mut rng, &mut out);
            assert!(out == src || out == mirrored);
            seen_flip |= out == mirrored;
        }
        assert!(seen_flip);
    }

    #[test]
    fn affine_without_rotation_or_zoom_matches_the_integer_shift_and_flip() {
        let shape = ImageShape::grey(5, 6);
        let src: Vec<f32> = (0..30).map(|v| v as f32 / 30.0).collect();
        for (dx, dy, flip) in [(0, 0, false), (2, -1, false), (-1, 2, true), (0, 0, true)] {
            let mut a = vec![0.0; 30];
            let mut b = vec![0.0; 30];
            shift_and_flip(&src, shape, (dx, dy), flip, &mut a);
            Affine::new(0.0, 1.0, shape, (dx as f32, dy as f32), flip).warp(&src, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-6, "{dx} {dy} {flip}: {a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn a_quarter_turn_turns_and_a_zoom_keeps_the_centre() {
        // 3x3, centre (1, 1): a +90 degree output pixel (x, y) reads the source at
        // (cx + (y - cy), cy - (x - cx)) = (y, 2 - x).
        let shape = ImageShape::grey(3, 3);
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut out = vec![0.0; 9];
        Affine::new(std::f32::consts::FRAC_PI_2, 1.0, shape, (0.0, 0.0), false)
            .warp(&src, &mut out);
        for y in 0..3 {
            for x in 0..3 {
                let want = src[(2 - x) * 3 + y];
                assert!((out[y * 3 + x] - want).abs() < 1e-5, "{out:?}");
            }
        }
        let mut zoomed = vec![0.0; 9];
        Affine::new(0.0, 2.0, shape, (0.0, 0.0), false).warp(&src, &mut zoomed);
        assert!((zoomed[4] - src[4]).abs() < 1e-6);
        // Zoom 2: the corner reads halfway to the centre, bilinearly: (0.5, 0.5) -> mean of 0, 1, 3, 4.
        assert!((zoomed[0] - 2.0).abs() < 1e-5, "{zoomed:?}");
    }

    #[test]
    fn affine_jitter_draws_two_more_values_and_only_when_on() {
        let shape = ImageShape::grey(3, 4);
        let draws = |aug: &Augment| {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut out = vec![0.0; 12];
            aug.apply(&ramp(), shape, &mut rng, &mut out);
            rng.random::<u64>()
        };
        let plain = Augment::faces();
        let turned = Augment {
            rotate: 10.0,
            ..Augment::faces()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let _: (i64, i64, bool, f32, f32) = (
            rng.random_range(-4..=4),
            rng.random_range(-4..=4),
            rng.random_bool(0.5),
            rng.random(),
            rng.random(),
        );
        assert_eq!(draws(&plain), rng.clone().random::<u64>());
        let _: (f32, f32) = (rng.random(), rng.random());
        assert_eq!(draws(&turned), rng.random::<u64>());
    }
}
