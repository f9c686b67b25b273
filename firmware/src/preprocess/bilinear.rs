//! Integer bilinear resize of a region of a grey frame (crop + resize in one pass).
//!
//! Geometry (pixel centers, the `align_corners = false` convention of OpenCV's `INTER_LINEAR`
//! and PyTorch's `interpolate`): destination column `dx` samples the region at
//! `sx = (dx + 0.5) * roi_w / dst_w - 0.5`, clamped to `0..=roi_w - 1`; rows likewise.
//!
//! Arithmetic: `sx` is held in fixed point with [`FRAC_BITS`] (11) fractional bits, computed
//! exactly as a rational and rounded down to a multiple of `1/2048` pixel. With integer part
//! `x0` and fraction `fx` (`0..2048`), and the same for rows, the output is
//!
//! ```text
//! top = p(x0, y0) * (2048 - fx) + p(x0 + 1, y0) * fx          (<= 255 * 2^11)
//! bot = p(x0, y0 + 1) * (2048 - fx) + p(x0 + 1, y0 + 1) * fx
//! out = (top * (2048 - fy) + bot * fy + 2^21) >> 22            (round half up, fits u32)
//! ```
//!
//! where `x0 + 1` and `y0 + 1` are clamped to the region's last column and row. Consequences,
//! each tested: an identity resize copies the region exactly (every fraction is 0), a constant
//! region stays constant (the weights sum to `2^22`), and outputs stay within the range of
//! their four neighbours. The positions advance by an exact quotient-and-remainder step, so
//! the per-pixel work is multiplications and additions only (no division), bit-identical to
//! the formula (tested against it).

use super::error::PreprocessError;
use super::image::{Gray, GrayMut, Roi};
use super::lut::InputLut;

/// Fractional bits of the sample positions and weights.
pub const FRAC_BITS: u32 = 11;
const ONE: u32 = 1 << FRAC_BITS;
const HALF_OUT: u32 = 1 << (2 * FRAC_BITS - 1);

/// One axis: integer position, the next position (clamped), and the weight of the next.
#[derive(Clone, Copy)]
struct Tap {
    i0: usize,
    i1: usize,
    frac: u32,
}

/// The taps of one axis in order, without a division per sample: the exact rational
/// position `((2d + 1) * len - dst) * 2^FRAC_BITS / (2 dst)` is kept as quotient and remainder
/// and advanced by the constant step `len * 2^FRAC_BITS / dst` (prepared once per axis).
struct Taps {
    q: i64,
    r: i64,
    step_q: i64,
    step_r: i64,
    den: i64,
    max: i64,
    len: usize,
    start: usize,
}

impl Taps {
    /// The taps of `dst` samples over `len` source samples starting at `start` (`dst`, `len`
    /// `>= 1`).
    fn new(dst: u32, len: u32, start: u16) -> Self {
        let den = 2 * i64::from(dst);
        let first = (i64::from(len) - i64::from(dst)) << FRAC_BITS;
        let step = (2 * i64::from(len)) << FRAC_BITS;
        Self {
            q: first.div_euclid(den),
            r: first.rem_euclid(den),
            step_q: step / den,
            step_r: step % den,
            den,
            max: (i64::from(len) - 1) << FRAC_BITS,
            len: len as usize,
            start: usize::from(start),
        }
    }

    /// The current tap, then a step forward.
    fn next_tap(&mut self) -> Tap {
        let pos = self.q.clamp(0, self.max) as u64;
        self.q += self.step_q;
        self.r += self.step_r;
        if self.r >= self.den {
            self.r -= self.den;
            self.q += 1;
        }
        let i0 = (pos >> FRAC_BITS) as usize;
        Tap {
            i0: i0 + self.start,
            i1: (i0 + 1).min(self.len - 1) + self.start,
            frac: (pos & u64::from(ONE - 1)) as u32,
        }
    }
}

/// Visits every destination pixel of a `dst_w x dst_h` bilinear resize of `roi` in `src`, row by
/// row, with its index and value. Checks the region; the destination sizes must be `>= 1`.
fn bilinear_each(
    src: &Gray<'_>,
    roi: Roi,
    dst_w: u16,
    dst_h: u16,
    mut put: impl FnMut(usize, u8),
) -> Result<(), PreprocessError> {
    roi.check_in(src)?;
    if dst_w == 0 || dst_h == 0 {
        return Err(PreprocessError::ZeroSize {
            what: "destination",
            width: dst_w,
            height: dst_h,
        });
    }
    let (dw, dh) = (u32::from(dst_w), u32::from(dst_h));
    let mut rows = Taps::new(dh, u32::from(roi.height), roi.y);
    let mut i = 0;
    for _ in 0..dh {
        let ty = rows.next_tap();
        let (r0, r1) = (src.row(ty.i0), src.row(ty.i1));
        let mut cols = Taps::new(dw, u32::from(roi.width), roi.x);
        for _ in 0..dw {
            let tx = cols.next_tap();
            let p = |row: &[u8], x: usize| u32::from(row.get(x).copied().unwrap_or(0));
            let top = p(r0, tx.i0) * (ONE - tx.frac) + p(r0, tx.i1) * tx.frac;
            let bot = p(r1, tx.i0) * (ONE - tx.frac) + p(r1, tx.i1) * tx.frac;
            let v = (top * (ONE - ty.frac) + bot * ty.frac + HALF_OUT) >> (2 * FRAC_BITS);
            put(i, v.min(255) as u8);
            i += 1;
        }
    }
    Ok(())
}

/// Resizes region `roi` of `src` into `dst` (any sizes, up or down) with integer bilinear
/// interpolation (see the module docs for the exact arithmetic). Errors: a region outside the
/// frame or empty.
pub fn resize_bilinear(
    src: &Gray<'_>,
    roi: Roi,
    dst: &mut GrayMut<'_>,
) -> Result<(), PreprocessError> {
    let (w, h) = (dst.width(), dst.height());
    let out = dst.pixels_mut();
    bilinear_each(src, roi, w, h, |i, v| {
        if let Some(o) = out.get_mut(i) {
            *o = v;
        }
    })
}

/// Resizes region `roi` of `src` to `dst_w x dst_h` and writes the model's int8 input through
/// `lut` (one lookup per pixel), without an intermediate u8 image. `out` must hold exactly
/// `dst_w * dst_h` values.
pub fn resize_bilinear_i8(
    src: &Gray<'_>,
    roi: Roi,
    dst_w: u16,
    dst_h: u16,
    lut: &InputLut,
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    let expected = usize::from(dst_w) * usize::from(dst_h);
    if out.len() != expected {
        return Err(PreprocessError::BufferSize {
            what: "int8 input",
            expected,
            found: out.len(),
        });
    }
    bilinear_each(src, roi, dst_w, dst_h, |i, v| {
        if let Some(o) = out.get_mut(i) {
            *o = lut.get(v);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(src: &Gray<'_>, roi: Roi, w: u16, h: u16) -> Result<Vec<u8>, PreprocessError> {
        let mut buf = vec![0u8; usize::from(w) * usize::from(h)];
        let mut dst = GrayMut::new(w, h, &mut buf)?;
        resize_bilinear(src, roi, &mut dst)?;
        Ok(buf)
    }

    /// A deterministic pseudo-random frame (xorshift).
    fn noise(w: u16, h: u16, seed: u32) -> Vec<u8> {
        let mut s = seed.max(1);
        (0..usize::from(w) * usize::from(h))
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 24) as u8
            })
            .collect()
    }

    /// The direct formula, one division per sample: the reference for [`Taps`].
    fn reference_tap(d: u32, dst: u32, len: u32, start: u16) -> (usize, usize, u32) {
        let num = (2 * i64::from(d) + 1) * i64::from(len) - i64::from(dst);
        let pos = (num << FRAC_BITS).div_euclid(2 * i64::from(dst));
        let pos = pos.clamp(0, (i64::from(len) - 1) << FRAC_BITS);
        let i0 = (pos >> FRAC_BITS) as usize;
        let i1 = (i0 + 1).min(len as usize - 1);
        let s = usize::from(start);
        (i0 + s, i1 + s, (pos & i64::from(ONE - 1)) as u32)
    }

    #[test]
    fn incremental_taps_match_the_formula() {
        for (dst, len) in [
            (1, 1),
            (1, 7),
            (7, 1),
            (46, 98),
            (56, 120),
            (300, 7),
            (999, 1000),
        ] {
            let mut taps = Taps::new(dst, len, 3);
            for d in 0..dst {
                let t = taps.next_tap();
                assert_eq!(
                    (t.i0, t.i1, t.frac),
                    reference_tap(d, dst, len, 3),
                    "{d}/{dst} of {len}"
                );
            }
        }
        let (dst, len) = (u32::from(u16::MAX), u32::from(u16::MAX) - 1);
        let mut taps = Taps::new(dst, len, 0);
        for d in 0..dst {
            let t = taps.next_tap();
            assert_eq!((t.i0, t.i1, t.frac), reference_tap(d, dst, len, 0));
        }
    }

    #[test]
    fn identity_is_exact() -> Result<(), PreprocessError> {
        for (w, h) in [(1, 1), (3, 2), (46, 56), (160, 120)] {
            let px = noise(w, h, u32::from(w) * 7 + u32::from(h));
            let src = Gray::new(w, h, &px)?;
            assert_eq!(resize(&src, src.full(), w, h)?, px, "{w}x{h}");
        }
        // A crop at natural size copies the region.
        let px = noise(10, 8, 3);
        let src = Gray::new(10, 8, &px)?;
        let roi = Roi {
            x: 2,
            y: 1,
            width: 5,
            height: 4,
        };
        let out = resize(&src, roi, 5, 4)?;
        for y in 0..4 {
            for x in 0..5 {
                assert_eq!(out[y * 5 + x], px[(y + 1) * 10 + x + 2]);
            }
        }
        Ok(())
    }

    #[test]
    fn constant_stays_constant() -> Result<(), PreprocessError> {
        for c in [0u8, 1, 128, 254, 255] {
            let px = vec![c; 160 * 120];
            let src = Gray::new(160, 120, &px)?;
            for (w, h) in [(46, 56), (1, 1), (300, 7), (160, 120)] {
                assert!(resize(&src, src.full(), w, h)?.iter().all(|v| *v == c));
            }
        }
        Ok(())
    }

    /// Golden values: a 4x1 ramp halved and doubled. Downscale by 2 samples at x = 0.5 and 2.5
    /// (means of neighbours); upscale by 2 samples at -0.25 (clamped to 0), 0.25, 0.75, ... .
    #[test]
    fn golden_ramps() -> Result<(), PreprocessError> {
        let px = [0u8, 100, 200, 255];
        let src = Gray::new(4, 1, &px)?;
        assert_eq!(resize(&src, src.full(), 2, 1)?, [50, 228]);
        let px = [0u8, 100];
        let src = Gray::new(2, 1, &px)?;
        // 0, 25, 75, 100: positions 0, 0.25, 0.75, 1 (clamped).
        assert_eq!(resize(&src, src.full(), 4, 1)?, [0, 25, 75, 100]);
        // 2x2 to 3x3: the center samples (0.5, 0.5), the mean of all four, 63.75 -> 64.
        let px = [0u8, 55, 100, 100];
        let src = Gray::new(2, 2, &px)?;
        let out = resize(&src, src.full(), 3, 3)?;
        assert_eq!(out[4], 64);
        assert_eq!(out[0], 0);
        assert_eq!(out[8], 100);
        Ok(())
    }

    #[test]
    fn outputs_stay_within_the_source_range() -> Result<(), PreprocessError> {
        let px = noise(37, 23, 9);
        let src = Gray::new(37, 23, &px)?;
        let (lo, hi) = (px.iter().min().copied(), px.iter().max().copied());
        for (w, h) in [(5, 9), (46, 56), (100, 3)] {
            let out = resize(&src, src.full(), w, h)?;
            assert!(out.iter().all(|v| Some(*v) >= lo && Some(*v) <= hi));
        }
        Ok(())
    }

    #[test]
    fn any_size_without_panic() -> Result<(), PreprocessError> {
        let px = noise(7, 5, 1);
        let src = Gray::new(7, 5, &px)?;
        for w in 1..12 {
            for h in 1..12 {
                for (x, y) in [(0, 0), (6, 4), (2, 1)] {
                    let roi = Roi {
                        x,
                        y,
                        width: 7 - x,
                        height: 5 - y,
                    };
                    resize(&src, roi, w, h)?;
                }
            }
        }
        let mut buf = [0u8; 1];
        let mut dst = GrayMut::new(1, 1, &mut buf)?;
        let bad = Roi {
            x: 0,
            y: 0,
            width: 0,
            height: 1,
        };
        assert!(matches!(
            resize_bilinear(&src, bad, &mut dst),
            Err(PreprocessError::ZeroSize { what: "roi", .. })
        ));
        Ok(())
    }
}
