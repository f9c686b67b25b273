//! Area-averaging resize (OpenCV's `INTER_AREA` when shrinking), shared by the trainer's data
//! pipeline and the edge runtime so that both feed the encoder the same pixels (feature `alloc`).
//!
//! What: each output pixel is the mean of the input area it covers. Output pixel `(dx, dy)` of a
//! `dw x dh` image covers the input rectangle `[dx * sw/dw, (dx+1) * sw/dw) x [dy * sh/dh,
//! (dy+1) * sh/dh)`; input pixels that overlap it partly count with the overlapping fraction. The
//! weights are exact integers (coordinates scaled by `dw` and `dh`), so an integer factor such as
//! 112x92 -> 56x46 gives the exact mean of each 2x2 block.
//!
//! When not: when enlarging, this is still the covered-area mean (each output pixel takes the one
//! or two input pixels under it); OpenCV switches to bilinear weights there.

use alloc::vec;
use alloc::vec::Vec;

/// Why a resize was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResizeError {
    /// A width or height is zero.
    Empty {
        /// Source width.
        sw: usize,
        /// Source height.
        sh: usize,
        /// Destination width.
        dw: usize,
        /// Destination height.
        dh: usize,
    },
    /// `src.len() != sw * sh`.
    SourceLength {
        /// Source width.
        sw: usize,
        /// Source height.
        sh: usize,
        /// `sw * sh`.
        expected: usize,
        /// `src.len()`.
        found: usize,
    },
    /// Sizes so large that the exact integer weights would overflow.
    TooLarge {
        /// Source width.
        sw: usize,
        /// Source height.
        sh: usize,
        /// Destination width.
        dw: usize,
        /// Destination height.
        dh: usize,
    },
}

impl core::fmt::Display for ResizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResizeError::Empty { sw, sh, dw, dh } => {
                write!(f, "empty size: source {sw}x{sh}, destination {dw}x{dh}")
            }
            ResizeError::SourceLength {
                sw,
                sh,
                expected,
                found,
            } => write!(f, "source has {found} pixels, {sw}x{sh} needs {expected}"),
            ResizeError::TooLarge { sw, sh, dw, dh } => write!(
                f,
                "sizes too large for exact weights: source {sw}x{sh}, destination {dw}x{dh}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResizeError {}

/// Resizes a row-major `sw x sh` grey image (`src`, values 0..=255) to `dw x dh` by area averaging.
/// Returns `dw * dh` row-major means in 0.0..=255.0 (not rounded).
pub fn resize_area(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
) -> Result<Vec<f32>, ResizeError> {
    if sw == 0 || sh == 0 || dw == 0 || dh == 0 {
        return Err(ResizeError::Empty { sw, sh, dw, dh });
    }
    let expected = sw.checked_mul(sh);
    if expected != Some(src.len()) {
        return Err(ResizeError::SourceLength {
            sw,
            sh,
            expected: expected.unwrap_or(usize::MAX),
            found: src.len(),
        });
    }
    let too_large = || ResizeError::TooLarge { sw, sh, dw, dh };
    let limit = 1usize << 20;
    if sw > limit || sh > limit || dw > limit || dh > limit {
        return Err(too_large());
    }
    dw.checked_mul(dh).ok_or_else(too_large)?;
    let cols = axis_weights(sw, dw);
    let rows = axis_weights(sh, dh);
    let denom = (sw as f64) * (sh as f64);
    let mut out = Vec::with_capacity(dw * dh);
    let mut row_acc = vec![0u64; sw];
    for taps_y in &rows {
        row_acc.iter_mut().for_each(|a| *a = 0);
        for &(sy, wy) in taps_y {
            let line = &src[sy * sw..(sy + 1) * sw];
            for (a, &p) in row_acc.iter_mut().zip(line) {
                *a += wy * u64::from(p);
            }
        }
        for taps_x in &cols {
            let num: u64 = taps_x.iter().map(|&(sx, wx)| wx * row_acc[sx]).sum();
            out.push((num as f64 / denom) as f32);
        }
    }
    Ok(out)
}

/// For each of the `d` output positions, the input positions it covers and their integer weights
/// (overlap lengths in units of `1/d` input pixel; the weights of one output sum to `s`).
fn axis_weights(s: usize, d: usize) -> Vec<Vec<(usize, u64)>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_112x92_is_the_exact_2x2_mean() {
        let (w, h) = (92, 112);
        let src: Vec<u8> = (0..w * h)
            .map(|i| ((i * 37 + i / w * 11) % 256) as u8)
            .collect();
        let out = resize_area(&src, w, h, 46, 56).unwrap();
        assert_eq!(out.len(), 46 * 56);
        for y in 0..56 {
            for x in 0..46 {
                let p = |dx: usize, dy: usize| u32::from(src[(2 * y + dy) * w + 2 * x + dx]);
                let sum = p(0, 0) + p(1, 0) + p(0, 1) + p(1, 1);
                assert_eq!(out[y * 46 + x], sum as f32 / 4.0, "at ({x}, {y})");
            }
        }
    }

    #[test]
    fn fractional_3x3_to_2x2_matches_hand_computation() {
        // Output pixel 0 covers input [0, 1.5) on each axis: weights 2/3 and 1/3.
        //   out(0,0) = 2/3 * (2/3*10 + 1/3*20) + 1/3 * (2/3*80 + 1/3*160) = 400/9
        //   out(1,0) = 2/3 * (1/3*20 + 2/3*40) + 1/3 * (1/3*160 + 2/3*0)  = 360/9 = 40
        //   out(0,1) = 1/3 * (2/3*80 + 1/3*160) + 2/3 * (2/3*30 + 1/3*60) = 560/9
        //   out(1,1) = 1/3 * (1/3*160 + 2/3*0) + 2/3 * (1/3*60 + 2/3*90)  = 640/9
        let src = [10, 20, 40, 80, 160, 0, 30, 60, 90];
        let out = resize_area(&src, 3, 3, 2, 2).unwrap();
        let golden = [400.0 / 9.0, 40.0, 560.0 / 9.0, 640.0 / 9.0];
        for (o, g) in out.iter().zip(golden) {
            assert!((o - g).abs() < 1e-4, "{out:?} vs {golden:?}");
        }
    }

    #[test]
    fn mean_is_preserved_and_identity_is_exact() {
        let src: Vec<u8> = (0..35).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(
            resize_area(&src, 7, 5, 7, 5).unwrap(),
            src.iter().map(|&p| p as f32).collect::<Vec<_>>()
        );
        let one = resize_area(&src, 7, 5, 1, 1).unwrap();
        let mean = src.iter().map(|&p| p as f32).sum::<f32>() / 35.0;
        assert!((one[0] - mean).abs() < 1e-4);
    }

    #[test]
    fn typed_errors() {
        assert!(matches!(
            resize_area(&[0; 4], 2, 2, 0, 1),
            Err(ResizeError::Empty { .. })
        ));
        assert!(matches!(
            resize_area(&[0; 3], 2, 2, 1, 1),
            Err(ResizeError::SourceLength {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
}
