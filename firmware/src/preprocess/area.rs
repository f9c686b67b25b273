//! Box-filter (area) downscale: each output pixel is the rounded mean of its source block.
//!
//! The anti-aliased path for large reductions: every source pixel of the region is read once
//! and counts (bilinear reads 4 pixels per output and skips the rest when shrinking by more than
//! 2x), so its cost grows with the region, not the output. Destination column `dx` averages region columns `floor(dx * rw / dw) ..
//! floor((dx + 1) * rw / dw)`, rows likewise; with `dw <= rw` every block is at least one pixel
//! wide. The mean is `(sum + count / 2) / count` (round half up). Only shrinks: a destination
//! side larger than the region's is [`PreprocessError::Upscale`].

use super::error::PreprocessError;
use super::image::{Gray, GrayMut, Roi};

/// The spans `floor(d * len / dst) .. floor((d + 1) * len / dst)` for `d = 0, 1, ...`, offset by
/// `start`, advanced by quotient and remainder (no division per span).
struct Spans {
    q: usize,
    r: u32,
    step_q: usize,
    step_r: u32,
    dst: u32,
    start: usize,
}

impl Spans {
    fn new(dst: u32, len: u32, start: u16) -> Self {
        Self {
            q: 0,
            r: 0,
            step_q: (len / dst) as usize,
            step_r: len % dst,
            dst,
            start: usize::from(start),
        }
    }

    fn next_span(&mut self) -> (usize, usize) {
        let a = self.q;
        self.q += self.step_q;
        self.r += self.step_r;
        if self.r >= self.dst {
            self.r -= self.dst;
            self.q += 1;
        }
        (a + self.start, self.q + self.start)
    }
}

/// Shrinks region `roi` of `src` into `dst` by block means (see the module docs). Errors: a
/// region outside the frame or empty, or a destination side larger than the region's.
pub fn resize_area(src: &Gray<'_>, roi: Roi, dst: &mut GrayMut<'_>) -> Result<(), PreprocessError> {
    roi.check_in(src)?;
    let (dw, dh) = (dst.width(), dst.height());
    for (from, to) in [(roi.width, dw), (roi.height, dh)] {
        if to > from {
            return Err(PreprocessError::Upscale { from, to });
        }
    }
    let out = dst.pixels_mut();
    let mut i = 0;
    let mut rows = Spans::new(u32::from(dh), u32::from(roi.height), roi.y);
    for _ in 0..dh {
        let (y0, y1) = rows.next_span();
        let mut cols = Spans::new(u32::from(dw), u32::from(roi.width), roi.x);
        for _ in 0..dw {
            let (x0, x1) = cols.next_span();
            let mut sum = 0u64;
            for y in y0..y1 {
                let row = src.row(y).get(x0..x1).unwrap_or(&[]);
                // At most 65535 pixels of 255: a row sum fits u32.
                sum += u64::from(row.iter().map(|p| u32::from(*p)).sum::<u32>());
            }
            let count = ((y1 - y0) * (x1 - x0)).max(1) as u64;
            // 32-bit division (one instruction on a Cortex-M4) whenever the sum fits.
            let mean = match (u32::try_from(sum + count / 2), u32::try_from(count)) {
                (Ok(s), Ok(c)) => s / c,
                _ => ((sum + count / 2) / count) as u32,
            };
            if let Some(o) = out.get_mut(i) {
                *o = mean as u8;
            }
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_match_the_formula() {
        for (dst, len) in [(1, 1), (1, 9), (46, 98), (56, 120), (7, 7), (999, 65535)] {
            let mut spans = Spans::new(dst, len, 2);
            for d in 0..dst {
                let a = (u64::from(d) * u64::from(len) / u64::from(dst)) as usize + 2;
                let b = ((u64::from(d) + 1) * u64::from(len) / u64::from(dst)) as usize + 2;
                assert_eq!(spans.next_span(), (a, b));
            }
        }
    }

    #[test]
    fn golden_and_properties() -> Result<(), PreprocessError> {
        // 4x2 -> 2x1: means of 2x2 blocks: (0+10+20+30)/4 = 15, (1+3+5+8)/4 = 4.25 -> 4.
        let px = [0u8, 10, 1, 3, 20, 30, 5, 8];
        let src = Gray::new(4, 2, &px)?;
        let mut buf = [0u8; 2];
        let mut dst = GrayMut::new(2, 1, &mut buf)?;
        resize_area(&src, src.full(), &mut dst)?;
        assert_eq!(buf, [15, 4]);
        // Identity copies; a constant stays constant.
        let px: Vec<u8> = (0..=255).collect();
        let src = Gray::new(16, 16, &px)?;
        let mut buf = [0u8; 256];
        let mut dst = GrayMut::new(16, 16, &mut buf)?;
        resize_area(&src, src.full(), &mut dst)?;
        assert_eq!(&buf[..], &px[..]);
        let px = [77u8; 160 * 120];
        let src = Gray::new(160, 120, &px)?;
        let mut buf = [0u8; 46 * 56];
        let mut dst = GrayMut::new(46, 56, &mut buf)?;
        resize_area(&src, Roi::centered(160, 120, 46, 56)?, &mut dst)?;
        assert!(buf.iter().all(|v| *v == 77));
        let mut big = [0u8; 200 * 2];
        let mut dst = GrayMut::new(200, 2, &mut big)?;
        assert_eq!(
            resize_area(&src, src.full(), &mut dst),
            Err(PreprocessError::Upscale { from: 160, to: 200 })
        );
        Ok(())
    }
}
