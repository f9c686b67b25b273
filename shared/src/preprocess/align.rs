//! Face alignment for the face-api.js networks (npm `@vladmandic/face-api` 1.7.15): the geometry
//! around `FaceLandmark68Net` (112x112 input, 68 points) and `FaceRecognitionNet` (150x150 chip),
//! as the ORL study's recipe "eyes2-edge-refine" and its two variants run them.
//!
//! - [`landmark_input`]: a region of an image as the landmark net's input, the package's
//!   `toBatchTensor(112, true)`: zero-pad to a square (`round(d/2)` after, the rest before), then
//!   tf's legacy `resizeBilinear` (no half-pixel centres, no aligned corners) to 112.
//! - [`landmarks_to_pixels`]: the net's 136 outputs as image pixels (`postProcess`), which assumes
//!   `d/2` of padding on each side: for an odd `d` the points sit half an input pixel off, as in
//!   the package.
//! - [`refine_box`] (`alignMinBbox(0.2)` + `clipAtImageBorders` + `floor`), [`eye_centres`],
//!   [`Similarity`] (from the two eye centres, or the least-squares fit of 33 points to dlib's
//!   mean shape) and [`warp_chip`] (the 150x150 chip, bilinear, edge pixels replicated).
//! - [`align_face`]: the whole recipe for one image, the networks run by the caller.
//!
//! All intermediate math is f64 (`libm` without std); tensors are NHWC f32 RGB in `0.0..=255.0`,
//! grey images replicated to the 3 channels. On the fixtures of `trainer/tests/fixtures/faceapi`
//! every tensor is bit for bit the reference port's. No allocation and no panics: sizes are
//! checked before anything is written, and every problem is a [`PreprocessError`] (or the
//! network's own error, in [`AlignError`]).
//!
//! Not for the siamedge models: they take [`area`](super::area_means)-resized crops. The cost is
//! a few f64 operations per output value (112x112 and 150x150 of them), software f64 on an MCU.

use core::fmt;

use super::error::PreprocessError;
use super::image::{ImageRef, Roi};

mod chip;
mod landmarks;

pub use chip::{warp_chip, Similarity, DLIB33_INDICES, DLIB33_TEMPLATE, EYE_TEMPLATE};
pub use landmarks::{eye_centres, landmark_input, landmarks_to_pixels, refine_box, REFINE_PADDING};

/// The landmark net's input side (pixels).
pub const LANDMARK_SIDE: usize = 112;
/// The recognition net's input side (pixels).
pub const CHIP_SIDE: usize = 150;
/// Points the landmark net finds.
pub const LANDMARKS: usize = 68;
/// The landmark net's raw outputs: `x0, y0, x1, y1, ...`, relative (0..1) to its padded input.
pub const LANDMARK_OUTPUTS: usize = 2 * LANDMARKS;
/// f32 values of one landmark input, NHWC `[112, 112, 3]`.
pub const LANDMARK_INPUT_LEN: usize = LANDMARK_SIDE * LANDMARK_SIDE * 3;
/// f32 values of one chip, NHWC `[150, 150, 3]`.
pub const CHIP_LEN: usize = CHIP_SIDE * CHIP_SIDE * 3;

/// 68 points `[x, y]` in image pixels (pixel centres at integers), dlib/iBUG order: 0-16 jaw,
/// 17-26 brows, 27-35 nose, 36-41 the eye on the image's left, 42-47 the other, 48-67 mouth.
pub type Points = [[f64; 2]; LANDMARKS];

/// Grey or RGB, the two layouts the alignment reads.
fn check_channels(img: &ImageRef) -> Result<(), PreprocessError> {
    match img.channels() {
        1 | 3 => Ok(()),
        found => Err(PreprocessError::Channels {
            what: "source (grey or RGB)",
            expected: 3,
            found,
        }),
    }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), PreprocessError> {
    if found == expected {
        Ok(())
    } else {
        Err(PreprocessError::BufferSize {
            what,
            expected,
            found,
        })
    }
}

/// The RGB levels of pixel `(x, y)` (inside the image), grey replicated.
fn rgb(img: &ImageRef, x: usize, y: usize) -> [f64; 3] {
    let px = img.span(y, x, 1);
    let level = |c: usize| f64::from(px.get(c).or(px.first()).copied().unwrap_or(0));
    [level(0), level(1), level(2)]
}

/// tf's bilinear interpolation, in its order: the two rows along x, then between them along y.
fn bilinear(tl: [f64; 3], tr: [f64; 3], bl: [f64; 3], br: [f64; 3], fx: f64, fy: f64) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = tl[c] + (tr[c] - tl[c]) * fx;
        let bottom = bl[c] + (br[c] - bl[c]) * fx;
        *o = top + (bottom - top) * fy;
    }
    out
}

/// The three alignments of the ORL study (chosen per fold on training pairs; 1-2 genuine pairs
/// apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AlignVariant {
    /// `"eyes2-edge-refine"`: pass 1, refine box, pass 2, eye similarity (the default; folds 0, 2).
    EyesRefine,
    /// `"eyes2-edge-whole"`: pass 1 only, eye similarity (fold 1).
    EyesWhole,
    /// `"dlib33-edge-refine"`: both passes, least squares on 33 points to dlib's mean shape (fold 3).
    Dlib33Refine,
}

impl AlignVariant {
    /// Every variant, in the study's order.
    pub const ALL: [Self; 3] = [Self::EyesRefine, Self::EyesWhole, Self::Dlib33Refine];

    /// The study's name: `"eyes2-edge-refine"`, `"eyes2-edge-whole"`, `"dlib33-edge-refine"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::EyesRefine => "eyes2-edge-refine",
            Self::EyesWhole => "eyes2-edge-whole",
            Self::Dlib33Refine => "dlib33-edge-refine",
        }
    }

    /// The variant called `name` ([`AlignVariant::name`]), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the landmarks come from a second pass on the [`refine_box`].
    pub fn refines(self) -> bool {
        !matches!(self, Self::EyesWhole)
    }
}

impl fmt::Display for AlignVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`align_face`] used: the landmarks of the last pass (image pixels) and the chip -> image
/// transform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aligned {
    /// The points the transform came from (pass 2 when the variant refines).
    pub points: Points,
    /// Chip -> image.
    pub similarity: Similarity,
}

/// Why [`align_face`] failed: the geometry, or the caller's landmark network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlignError<E> {
    /// A buffer, region, box or transform was rejected.
    Preprocess(PreprocessError),
    /// The landmark network failed.
    Landmarks(E),
}

impl<E> From<PreprocessError> for AlignError<E> {
    fn from(e: PreprocessError) -> Self {
        Self::Preprocess(e)
    }
}

impl<E: fmt::Display> fmt::Display for AlignError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Preprocess(e) => write!(f, "face alignment: {e}"),
            Self::Landmarks(e) => write!(f, "face alignment: landmark network: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: std::error::Error + 'static> std::error::Error for AlignError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Preprocess(e) => Some(e),
            Self::Landmarks(e) => Some(e),
        }
    }
}

/// The caller's landmark net: one NHWC `[112, 112, 3]` input (levels 0..255) -> its 136 raw
/// outputs, or the caller's error.
pub type LandmarkNet<'a, E> = dyn FnMut(&[f32]) -> Result<[f32; LANDMARK_OUTPUTS], E> + 'a;

/// The whole recipe for one face image: pass 1 of the landmark net on the whole image; for the
/// refining variants the [`refine_box`] and pass 2 on it; the [`Similarity`] (eyes or dlib33);
/// the chip into `chip` (`CHIP_LEN` values, as [`warp_chip`]).
///
/// `landmarks` runs the landmark net on one NHWC `[112, 112, 3]` input (0..255) and returns its
/// 136 raw outputs; `scratch` holds that input (`LANDMARK_INPUT_LEN` values; it keeps the last
/// one). The buffers are checked before the net first runs.
pub fn align_face<E>(
    img: ImageRef,
    variant: AlignVariant,
    scratch: &mut [f32],
    landmarks: &mut LandmarkNet<'_, E>,
    chip: &mut [f32],
) -> Result<Aligned, AlignError<E>> {
    check_channels(&img)?;
    check_len("scratch", LANDMARK_INPUT_LEN, scratch.len())?;
    check_len("chip", CHIP_LEN, chip.len())?;
    let mut pass = |roi: Roi| -> Result<Points, AlignError<E>> {
        landmark_input(img, roi, scratch)?;
        let raw = landmarks(scratch).map_err(AlignError::Landmarks)?;
        Ok(landmarks_to_pixels(&raw, roi)?)
    };
    let mut points = pass(img.full())?;
    if variant.refines() {
        points = pass(refine_box(&points, img.width(), img.height())?)?;
    }
    let similarity = match variant {
        AlignVariant::Dlib33Refine => Similarity::dlib33(&points),
        AlignVariant::EyesRefine | AlignVariant::EyesWhole => {
            let (left, right) = eye_centres(&points);
            Similarity::from_eyes(left, right)
        }
    };
    warp_chip(img, &similarity, chip)?;
    Ok(Aligned { points, similarity })
}

#[cfg(test)]
mod tests;
