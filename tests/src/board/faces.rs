//! Face images at a model's input size for the board's test vectors: held-out ORL faces when the
//! data has been fetched, else deterministic synthetic faces.
//!
//! ORL: fold `k`'s test people (`10k..10k+9`, identities the fold's training never sees), resized
//! from 92x112 with the preprocessing contract's area-averaging resize
//! (`siamedge_format::preprocess`), the same as training, evaluation, the edge and the device.
//! The calibration images (for the fixture model's activation ranges) come from the fold's
//! training people, never from the test people.
//!
//! Synthetic: each identity is a smooth pattern (a few Gaussian blobs and a shading gradient, from
//! a seeded RNG); each capture shifts it by up to a pixel and adds noise, so that captures of one
//! identity are closer than captures of two. A stand-in for machines without the data, not a
//! face model.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_format::preprocess::resize_area;
use siamedge_format::vectors::Source;
use siamedge_trainer::data::{DataCache, OrlFaces};

use super::BoardError;

/// One grey image at the model's input size.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Who it shows (ORL: the person, 0..40).
    pub identity: u16,
    /// Which capture of that identity (ORL: the image number, 1..=10).
    pub capture: u16,
    /// `height * width` pixel values in `0.0..=255.0`, row-major (area means, not rounded).
    pub pixels: Vec<f32>,
}

/// Images for one set of test vectors.
#[derive(Debug, Clone)]
pub struct Faces {
    /// Where they came from.
    pub source: Source,
    /// Captures of held-out identities, for enrollment and probes.
    pub test: Vec<Face>,
    /// Captures of other identities, for calibrating a fixture model.
    pub calibration: Vec<Face>,
}

impl Faces {
    /// Capture `capture` of `identity` among the test images.
    pub fn test_face(&self, identity: u16, capture: u16) -> Option<&Face> {
        self.test
            .iter()
            .find(|f| f.identity == identity && f.capture == capture)
    }
}

/// ORL fold `fold`'s held-out faces at `height x width`, from the cache at `cache` (or
/// `$SIAMEDGE_DATA`, `~/.cache/siamedge`). Calibration: 2 images of each of 10 training people.
pub fn orl(
    cache: Option<&Path>,
    fold: usize,
    height: usize,
    width: usize,
) -> Result<Faces, BoardError> {
    let cache = DataCache::resolve(cache).map_err(|e| BoardError::Data(e.to_string()))?;
    let orl = OrlFaces::load(&cache).map_err(|e| BoardError::Data(e.to_string()))?;
    let split = orl
        .fold(fold)
        .map_err(|e| BoardError::Data(e.to_string()))?;
    let face = |i: usize| -> Result<Face, BoardError> {
        let img = &orl.images[i];
        let pixels = resize_area(&img.pixels, img.width, img.height, width, height)
            .map_err(|e| BoardError::Data(e.to_string()))?;
        Ok(Face {
            identity: orl.labels[i] as u16,
            capture: (i % 10) as u16 + 1,
            pixels,
        })
    };
    let test = split
        .test
        .iter()
        .map(|&i| face(i))
        .collect::<Result<_, _>>()?;
    let calibration = split
        .train
        .iter()
        .filter(|&&i| i % 10 < 2 && orl.labels[i] % 3 == 0)
        .map(|&i| face(i))
        .collect::<Result<_, _>>()?;
    Ok(Faces {
        source: Source::OrlHeldOut,
        test,
        calibration,
    })
}

/// Synthetic faces at `height x width`: 4 captures of 4 test identities (0..4), 2 captures of
/// 8 calibration identities (100..108). Deterministic.
pub fn synthetic(height: usize, width: usize) -> Faces {
    let make = |identities: std::ops::Range<u16>, captures: u16| -> Vec<Face> {
        identities
            .flat_map(|id| (1..=captures).map(move |c| (id, c)))
            .map(|(identity, capture)| Face {
                identity,
                capture,
                pixels: synthetic_face(identity, capture, height, width),
            })
            .collect()
    };
    Faces {
        source: Source::Synthetic,
        test: make(0..4, 4),
        calibration: make(100..108, 2),
    }
}

fn synthetic_face(identity: u16, capture: u16, height: usize, width: usize) -> Vec<f32> {
    let mut who = ChaCha8Rng::seed_from_u64(0x5eed_0000 + u64::from(identity));
    let blobs: Vec<(f32, f32, f32, f32)> = (0..6)
        .map(|_| {
            (
                who.random_range(0.15..0.85) * height as f32,
                who.random_range(0.15..0.85) * width as f32,
                who.random_range(2.0..8.0),
                who.random_range(-90.0..90.0),
            )
        })
        .collect();
    let (base, slope) = (who.random_range(90.0..160.0), who.random_range(-1.0..1.0));
    let mut shot = ChaCha8Rng::seed_from_u64(
        0x0c0f_fee0_0000 + (u64::from(identity) << 16) + u64::from(capture),
    );
    let (dy, dx) = (shot.random_range(-1.0..1.0), shot.random_range(-1.0..1.0));
    let mut out = Vec::with_capacity(height * width);
    for y in 0..height {
        for x in 0..width {
            let (fy, fx) = (y as f32 + dy, x as f32 + dx);
            let mut v = base + slope * fy;
            for &(cy, cx, r, a) in &blobs {
                let d2 = (fy - cy).powi(2) + (fx - cx).powi(2);
                v += a * (-d2 / (2.0 * r * r)).exp();
            }
            v += shot.random_range(-6.0..6.0);
            out.push(v.clamp(0.0, 255.0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l2(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            .sqrt()
    }

    #[test]
    fn synthetic_captures_of_one_identity_are_closer_than_two() {
        let f = synthetic(56, 46);
        assert_eq!((f.test.len(), f.calibration.len()), (16, 16));
        let (a1, a2, b1) = (
            f.test_face(0, 1).unwrap(),
            f.test_face(0, 2).unwrap(),
            f.test_face(1, 1).unwrap(),
        );
        assert_eq!(a1.pixels.len(), 56 * 46);
        assert!(l2(&a1.pixels, &a2.pixels) < l2(&a1.pixels, &b1.pixels));
        assert_eq!(synthetic(56, 46).test, f.test, "deterministic");
    }
}
