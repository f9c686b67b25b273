//! Light augmentation for small grey data sets.
//!
//! Per image, in this order: a random crop of the image zero-padded by `crop_pad` pixels on every side
//! (a shift by `dx, dy` in `-crop_pad..=crop_pad`, uncovered pixels 0, as torchvision's
//! `RandomCrop(size, padding)`), a horizontal flip with probability 1/2 when `hflip` is set (faces, not
//! digits), then `x' = clamp(b * (c * (x - mean) + mean), 0, 1)` with contrast factor
//! `c` uniform in `1 +- contrast`, brightness factor `b` uniform in `1 +- brightness`, and `mean` the
//! image's mean after the crop. Pixel values are expected in `[0, 1]`.
//!
//! Each image draws exactly five values from the generator whatever the settings, so switching an
//! option does not shift the rest of the stream.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::labelled_set::ImageShape;

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
}
