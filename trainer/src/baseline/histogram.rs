//! Grey-level histogram compared with L1: how the image's brightness is distributed, not where.
//!
//! Each pixel value `x` in `[0, 1]` is read as an 8-bit grey level `g = floor(255 x)` (values of
//! byte images come back exactly; the fractional means of an area resize are truncated, as storing
//! the resized image as bytes with NumPy's `astype(uint8)` does), and counted in bin
//! `floor(bins * g / 255)`, the last bin also holding 255: NumPy's
//! `np.histogram(g / 255, bins, range=(0, 1))`. Values outside `[0, 1]` count in the nearest end
//! bin. Fits nothing.
//!
//! The embedding holds pixel counts, not fractions: all images have the same size, so this only
//! scales every distance by the pixel count, and it keeps L1 distances exact integers, so pairs at
//! the same distance stay tied in the ROC (dividing first lets rounding split ties, which moves an
//! ORL EER by up to 0.05 points).
//!
//! Truncating to grey levels is what reproduces the reference row: ORL EER 11.7 / 16.0 / 14.9 /
//! 13.3 (mean 14.0, reference 11.8 / 16.1 / 14.9 / 13.3, whose float sums split some ties);
//! binning the exact means instead gives 12.2 / 16.2 / 14.8 / 13.6.
//!
//! When not: it ignores all spatial structure, so it only tells people apart by skin tone,
//! lighting and background; it is the "anything but shape" row.

use nalgebra::{DMatrix, DVector};

use super::{check_samples, BaselineError, Distance, Embedder};

/// The reference number of bins.
pub const REFERENCE_BINS: usize = 32;

/// The largest grey level.
const MAX_LEVEL: f64 = 255.0;

/// Slack added before truncating `255 x`, so that a byte value `v` divided by 255 and multiplied
/// back (`v - 1 ulp` at worst) still reads as `v`.
const LEVEL_SLACK: f64 = 1e-6;

/// The grey-level histogram (pixel counts) of `dim`-pixel images, compared with L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreyHistogram {
    dim: usize,
    bins: usize,
}

impl GreyHistogram {
    /// For images of `dim` pixels (at least 1) with values in `[0, 1]`, into `bins` bins (1..=256).
    pub fn new(dim: usize, bins: usize) -> Result<Self, BaselineError> {
        if bins == 0 || bins > 256 {
            return Err(BaselineError::Parameter {
                what: "histogram bins",
                value: bins as f64,
                range: "1..=256",
            });
        }
        if dim == 0 {
            return Err(BaselineError::TooFew {
                what: "pixels per image",
                need: 1,
                found: 0,
            });
        }
        Ok(Self { dim, bins })
    }

    /// The 8-bit grey level of pixel value `x`: `floor(255 x)` clamped to `0..=255`.
    pub fn level(x: f64) -> usize {
        (x * MAX_LEVEL + LEVEL_SLACK).floor().clamp(0.0, MAX_LEVEL) as usize
    }

    /// The bin of pixel value `x`: `floor(bins * level(x) / 255)`, clamped to `bins - 1`.
    pub fn bin(&self, x: f64) -> usize {
        (self.bins * Self::level(x) / 255).min(self.bins - 1)
    }

    /// The histogram of one image: the number of pixels in each of the `bins` bins.
    pub fn counts(&self, pixels: &[f64]) -> Vec<u32> {
        let mut h = vec![0u32; self.bins];
        for &x in pixels {
            h[self.bin(x)] += 1;
        }
        h
    }
}

impl Embedder for GreyHistogram {
    fn embed(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, BaselineError> {
        check_samples("histogram input", x, Some(self.dim))?;
        let mut out = DMatrix::zeros(self.bins, x.ncols());
        for (j, col) in x.column_iter().enumerate() {
            let counts = self.counts(col.as_slice());
            out.set_column(
                j,
                &DVector::from_iterator(self.bins, counts.into_iter().map(f64::from)),
            );
        }
        Ok(out)
    }

    fn distance(&self) -> Distance {
        Distance::L1
    }

    fn describe(&self) -> String {
        format!("{} bins over 8-bit grey levels, pixel counts", self.bins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden value from NumPy:
    // import numpy as np
    // a = np.array([0, 0.5, 1, 0.03, 63.75 / 255, 71.75 / 255])
    // b = np.array([0.1, 0.2, 0.3, 0.97, 8 / 255, 7.75 / 255])
    // g = lambda x: np.floor(x * 255 + 1e-6)
    // h = lambda x: np.histogram(g(x) / 255, bins=32, range=(0, 1))[0]
    // g(a), np.nonzero(h(a))[0], np.nonzero(h(b))[0], np.abs(h(a) - h(b)).sum()
    // -> [0, 127, 255, 7, 63, 71], [0, 7, 8, 15, 31], [0, 1, 3, 6, 9, 30], 10
    #[test]
    fn l1_between_histograms_matches_numpy() {
        let g = GreyHistogram::new(6, 32).unwrap();
        let a = [0.0, 0.5, 1.0, 0.03, 63.75 / 255.0, 71.75 / 255.0];
        let b = [0.1, 0.2, 0.3, 0.97, 8.0 / 255.0, 7.75 / 255.0];
        let levels: Vec<usize> = a.iter().map(|&x| GreyHistogram::level(x)).collect();
        assert_eq!(levels, [0, 127, 255, 7, 63, 71]);
        let nonzero = |h: Vec<u32>| (0..32).filter(|&i| h[i] > 0).collect::<Vec<usize>>();
        assert_eq!(nonzero(g.counts(&a)), [0, 7, 8, 15, 31]);
        assert_eq!(nonzero(g.counts(&b)), [0, 1, 3, 6, 9, 30]);
        let x = DMatrix::from_fn(6, 2, |r, c| if c == 0 { a[r] } else { b[r] });
        let e = g.embed(&x).unwrap();
        assert_eq!(g.distance().between_columns(&e, 0, 1), 10.0);
        assert_eq!(e.column(1).sum(), 6.0);
    }

    #[test]
    fn every_byte_reads_back_as_itself() {
        for v in 0..=255u8 {
            assert_eq!(GreyHistogram::level(f64::from(v) / 255.0), usize::from(v));
            assert_eq!(
                GreyHistogram::level((f64::from(v) + 0.75) / 255.0),
                usize::from(v)
            );
        }
    }

    #[test]
    fn edges_and_out_of_range() {
        let g = GreyHistogram::new(1, 32).unwrap();
        // Bin k starts at the first level g with 32 g >= 255 k: level 8 for k = 1, 248 for k = 31.
        assert_eq!(g.bin(7.0 / 255.0), 0);
        assert_eq!(g.bin(8.0 / 255.0), 1);
        assert_eq!(g.bin(247.0 / 255.0), 30);
        assert_eq!(g.bin(248.0 / 255.0), 31);
        assert_eq!(g.bin(1.0), 31);
        assert_eq!(g.bin(-0.5), 0);
        assert_eq!(g.bin(7.0), 31);
        assert_eq!(GreyHistogram::new(1, 256).unwrap().bin(1.0), 255);
        assert!(GreyHistogram::new(4, 0).is_err());
        assert!(GreyHistogram::new(4, 257).is_err());
        assert!(g.embed(&DMatrix::zeros(2, 1)).is_err());
    }
}
