//! Area-averaging resize (OpenCV's `INTER_AREA` when shrinking), the geometry of the host
//! pipeline: `siamedge_format::resize::resize_area`, which the trainer and the edge runtime use,
//! computes the same exact numerators.
//!
//! Destination pixel `(dx, dy)` of a `dw x dh` image covers the region rectangle
//! `[dx * rw / dw, (dx + 1) * rw / dw) x [dy * rh / dh, (dy + 1) * rh / dh)`; every region pixel
//! counts with its overlap with that rectangle. Measured in `1/dw` (columns) and `1/dh` (rows) of
//! a pixel the overlaps are integers `wx`, `wy` that sum to `rw` and `rh` per destination
//! pixel, so the mean is the exact fraction `Σ wy wx p / (rw * rh)` (u64 numerator). This module
//! rounds it to u8, half up: `(num + rw * rh / 2) / (rw * rh)`; the host keeps the fraction as
//! f32, so the two differ by at most half a grey level. An integer factor such as 98x120 ->
//! 49x60 is the plain rounded mean of each 2x2 block. Enlarging is allowed (each output pixel then
//! averages the one or two source pixels under it), as on the host.
//!
//! Every region pixel is read for each destination pixel that overlaps it (once for integer
//! factors, at most twice per axis otherwise): the cost grows with the region, not the output,
//! and nothing aliases, unlike bilinear sampling when shrinking by more than 2x.

use super::error::PreprocessError;
use super::image::{Gray, GrayMut, Roi};

/// The overlap taps of one destination index: source indices `first..last` and the weight of
/// index `i`, all in units of `1/d` source pixel.
#[derive(Clone, Copy)]
struct Cover {
    start: u32,
    end: u32,
    d: u32,
    first: u32,
    last: u32,
}

impl Cover {
    /// Destination index `o` of `d` over `s` source pixels (`o * s` and `(o + 1) * s` fit u32
    /// because `o < d <= u16::MAX` and `s <= u16::MAX`).
    fn new(o: u32, d: u32, s: u32) -> Self {
        let (start, end) = (o * s, (o + 1) * s);
        Self {
            start,
            end,
            d,
            first: start / d,
            last: end.div_ceil(d),
        }
    }

    /// The overlap of source index `i` with the covered interval.
    fn weight(&self, i: u32) -> u64 {
        let lo = self.start.max(i * self.d);
        let hi = self.end.min((i + 1).saturating_mul(self.d));
        u64::from(hi.saturating_sub(lo))
    }
}

/// Resizes region `roi` of `src` into `dst` by exact area averaging (see the module docs).
/// Errors: a region outside the frame or empty.
pub fn resize_area(src: &Gray<'_>, roi: Roi, dst: &mut GrayMut<'_>) -> Result<(), PreprocessError> {
    roi.check_in(src)?;
    let (dw, dh) = (u32::from(dst.width()), u32::from(dst.height()));
    let (rw, rh) = (u32::from(roi.width), u32::from(roi.height));
    let den = u64::from(rw) * u64::from(rh);
    let (x0, y0) = (usize::from(roi.x), usize::from(roi.y));
    let out = dst.pixels_mut();
    let mut i = 0;
    for oy in 0..dh {
        let cy = Cover::new(oy, dh, rh);
        for ox in 0..dw {
            let cx = Cover::new(ox, dw, rw);
            let mut num = 0u64;
            for sy in cy.first..cy.last {
                let row = src.row(y0 + sy as usize);
                let px = |sx: u32| u64::from(row.get(x0 + sx as usize).copied().unwrap_or(0));
                // Partial weights at the two ends only; every pixel between weighs a full `dw`.
                let (f, l) = (cx.first, cx.last - 1);
                let mut acc = cx.weight(f) * px(f);
                if l > f {
                    acc += cx.weight(l) * px(l);
                    let inner = row
                        .get(x0 + f as usize + 1..x0 + l as usize)
                        .unwrap_or(&[])
                        .iter()
                        .map(|p| u32::from(*p))
                        .sum::<u32>();
                    acc += u64::from(dw) * u64::from(inner);
                }
                num += cy.weight(sy) * acc;
            }
            if let Some(o) = out.get_mut(i) {
                *o = ((num + den / 2) / den).min(255) as u8;
            }
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(px: &[u8], w: u16, h: u16, dw: u16, dh: u16) -> Result<Vec<u8>, PreprocessError> {
        let src = Gray::new(w, h, px)?;
        let mut buf = vec![0u8; usize::from(dw) * usize::from(dh)];
        resize_area(&src, src.full(), &mut GrayMut::new(dw, dh, &mut buf)?)?;
        Ok(buf)
    }

    #[test]
    fn integer_factor_is_the_rounded_block_mean() -> Result<(), PreprocessError> {
        // 4x2 -> 2x1: (0 + 10 + 20 + 30) / 4 = 15, (1 + 3 + 5 + 8) / 4 = 4.25 -> 4.
        assert_eq!(resize(&[0, 10, 1, 3, 20, 30, 5, 8], 4, 2, 2, 1)?, [15, 4]);
        // Halves round up: (1 + 2 + 1 + 2) / 4 = 1.5 -> 2.
        assert_eq!(resize(&[1, 2, 1, 2], 2, 2, 1, 1)?, [2]);
        Ok(())
    }

    /// The host module's hand-computed fractional case: 3x3 -> 2x2 with weights 2/3 and 1/3,
    /// exact means 400/9, 40, 560/9, 640/9, rounded.
    #[test]
    fn fractional_golden_matches_the_host() -> Result<(), PreprocessError> {
        let px = [10, 20, 40, 80, 160, 0, 30, 60, 90];
        assert_eq!(resize(&px, 3, 3, 2, 2)?, [44, 40, 62, 71]);
        Ok(())
    }

    #[test]
    fn identity_constant_and_enlarging() -> Result<(), PreprocessError> {
        let px: Vec<u8> = (0..=255).collect();
        assert_eq!(resize(&px, 16, 16, 16, 16)?, px);
        let flat = [77u8; 160 * 120];
        let src = Gray::new(160, 120, &flat)?;
        let mut buf = [0u8; 46 * 56];
        let roi = Roi::centered(160, 120, 46, 56)?;
        resize_area(&src, roi, &mut GrayMut::new(46, 56, &mut buf)?)?;
        assert!(buf.iter().all(|v| *v == 77));
        // Doubling 2x1: each output covers half of one source pixel.
        assert_eq!(resize(&[10, 200], 2, 1, 4, 1)?, [10, 10, 200, 200]);
        // 2 -> 3: the middle output covers halves of both: (10 + 200) / 2 = 105.
        assert_eq!(resize(&[10, 200], 2, 1, 3, 1)?, [10, 105, 200]);
        Ok(())
    }

    #[test]
    fn crops_before_averaging() -> Result<(), PreprocessError> {
        let px = [0, 0, 0, 0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 0, 0, 0];
        let src = Gray::new(4, 4, &px)?;
        let roi = Roi {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        let mut buf = [0u8; 1];
        resize_area(&src, roi, &mut GrayMut::new(1, 1, &mut buf)?)?;
        assert_eq!(buf, [9]);
        Ok(())
    }
}
