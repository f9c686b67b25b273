//! Rasterizing a signature trace into the signature model's input image.
//!
//! 1. **Bounding box** of the pen-down samples: `x_min..=x_max`, `y_min..=y_max`.
//! 2. **Scale**, one factor for both axes (the aspect ratio is kept): the box's larger relative
//!    side fills the drawable area, `W - 2 * margin` by `H - 2 * margin` pixels, so that its
//!    extreme samples land on the first and last drawable pixel centers. As a rational:
//!    `s = min((aw - 1) / bw, (ah - 1) / bh)` over the sides that are not zero; a box of a single
//!    point draws one dot in the center.
//! 3. **Centering**: the box's center maps to the image center `((W - 1) / 2, (H - 1) / 2)`:
//!    `X = round(((W - 1) * den + (2x - x_min - x_max) * num) / (2 * den))` with `s = num / den`
//!    and rounding half up, all in i64, exact.
//! 4. **Drawing**: consecutive pen-down samples are joined by Bresenham lines; every line pixel
//!    stamps a round pen of `pen_width` pixels (a disc of that diameter around the pixel; 1 is a
//!    single pixel, 2 a 2x2 square, 5 a rounded 5x5). A lone pen-down sample is a dot. Stamps are
//!    clipped at the image border, so a pen wider than `2 * margin + 1` may lose its outer pixels.
//!
//! Because step 3 uses only differences to the box and ratios of box sides, the image is exactly
//! the same for a trace moved anywhere on the pad (translation invariance) or scaled by an
//! integer factor (scale invariance); both are tested. Pixels are `background` (default 255,
//! white paper) or `ink` (default 0), nothing in between.

use super::error::PreprocessError;
use super::stroke::{Pen, StrokePoint};

/// Output geometry and pen for [`rasterize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RasterConfig {
    /// Output columns (the model input width), `>= 1`.
    pub width: u16,
    /// Output rows (the model input height), `>= 1`.
    pub height: u16,
    /// Blank pixels kept on each side, `2 * margin < min(width, height)`.
    pub margin: u16,
    /// Pen diameter in output pixels, `>= 1`.
    pub pen_width: u16,
    /// Paper value.
    pub background: u8,
    /// Ink value.
    pub ink: u8,
}

impl RasterConfig {
    /// A `width x height` raster with margin 2, pen width 1, white paper (255) and black ink (0).
    pub const fn new(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            margin: 2,
            pen_width: 1,
            background: 255,
            ink: 0,
        }
    }

    /// The same with `margin` pixels on each side.
    pub const fn with_margin(mut self, margin: u16) -> Self {
        self.margin = margin;
        self
    }

    /// The same with a pen of `pen_width` pixels.
    pub const fn with_pen_width(mut self, pen_width: u16) -> Self {
        self.pen_width = pen_width;
        self
    }

    fn check(&self, out_len: usize) -> Result<(), PreprocessError> {
        if self.width == 0 || self.height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "raster",
                width: self.width,
                height: self.height,
            });
        }
        let expected = usize::from(self.width) * usize::from(self.height);
        if out_len != expected {
            return Err(PreprocessError::BufferSize {
                what: "raster",
                expected,
                found: out_len,
            });
        }
        if 2 * u32::from(self.margin) >= u32::from(self.width.min(self.height)) {
            return Err(PreprocessError::MarginTooLarge {
                margin: self.margin,
                width: self.width,
                height: self.height,
            });
        }
        if self.pen_width == 0 {
            return Err(PreprocessError::ZeroPenWidth);
        }
        Ok(())
    }
}

/// Maps pad coordinates to output pixels (steps 1 to 3 of the module docs).
struct Mapping {
    sum_x: i64,
    sum_y: i64,
    num: i64,
    den: i64,
    w1: i64,
    h1: i64,
}

impl Mapping {
    fn new(points: &[StrokePoint], cfg: &RasterConfig) -> Option<Self> {
        let mut down = points.iter().filter(|p| p.pen == Pen::Down);
        let first = down.next()?;
        let (mut x0, mut x1, mut y0, mut y1) = (first.x, first.x, first.y, first.y);
        for p in down {
            x0 = x0.min(p.x);
            x1 = x1.max(p.x);
            y0 = y0.min(p.y);
            y1 = y1.max(p.y);
        }
        let (bw, bh) = (i64::from(x1 - x0), i64::from(y1 - y0));
        let m = 2 * i64::from(cfg.margin);
        let (aw, ah) = (i64::from(cfg.width) - m - 1, i64::from(cfg.height) - m - 1);
        // s = min(aw / bw, ah / bh) over the non-zero sides; 0 / 1 for a single point.
        let (num, den) = match (bw, bh) {
            (0, 0) => (0, 1),
            (0, _) => (ah, bh),
            (_, 0) => (aw, bw),
            _ if aw * bh <= ah * bw => (aw, bw),
            _ => (ah, bh),
        };
        Some(Self {
            sum_x: i64::from(x0) + i64::from(x1),
            sum_y: i64::from(y0) + i64::from(y1),
            num,
            den,
            w1: i64::from(cfg.width) - 1,
            h1: i64::from(cfg.height) - 1,
        })
    }

    fn map(&self, p: &StrokePoint) -> (i64, i64) {
        let d2 = 2 * self.den;
        let f = |c: u16, sum: i64, side1: i64| {
            let a = side1 * self.den + (2 * i64::from(c) - sum) * self.num;
            (a + self.den).div_euclid(d2)
        };
        (f(p.x, self.sum_x, self.w1), f(p.y, self.sum_y, self.h1))
    }
}

/// The pen: offsets `lo..=hi` on both axes, kept when inside the disc.
struct Brush {
    lo: i64,
    hi: i64,
    d2: i64,
}

impl Brush {
    fn new(pen_width: u16) -> Self {
        let w = i64::from(pen_width);
        Self {
            lo: -((w - 1) / 2),
            hi: w / 2,
            d2: w * w,
        }
    }

    fn stamp(&self, out: &mut [u8], cfg: &RasterConfig, cx: i64, cy: i64) {
        let c = self.lo + self.hi; // twice the disc center's offset
        for dy in self.lo..=self.hi {
            for dx in self.lo..=self.hi {
                let (ex, ey) = (2 * dx - c, 2 * dy - c);
                if ex * ex + ey * ey > self.d2 {
                    continue;
                }
                let (x, y) = (cx + dx, cy + dy);
                if (0..i64::from(cfg.width)).contains(&x) && (0..i64::from(cfg.height)).contains(&y)
                {
                    let i = y as usize * usize::from(cfg.width) + x as usize;
                    if let Some(o) = out.get_mut(i) {
                        *o = cfg.ink;
                    }
                }
            }
        }
    }
}

/// Stamps the pen along the Bresenham line from `a` to `b`, both ends included.
fn line(out: &mut [u8], cfg: &RasterConfig, brush: &Brush, a: (i64, i64), b: (i64, i64)) {
    let (mut x, mut y) = a;
    let (dx, dy) = ((b.0 - x).abs(), -(b.1 - y).abs());
    let (sx, sy) = (if x < b.0 { 1 } else { -1 }, if y < b.1 { 1 } else { -1 });
    let mut err = dx + dy;
    loop {
        brush.stamp(out, cfg, x, y);
        if (x, y) == b {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// Draws `points` into `out` (`cfg.width * cfg.height` pixels, row-major), normalized for
/// position and scale (see the module docs). Errors: a zero size, a buffer of the wrong length,
/// a margin that leaves nothing, a zero pen width, or a trace without a pen-down sample.
pub fn rasterize(
    points: &[StrokePoint],
    cfg: &RasterConfig,
    out: &mut [u8],
) -> Result<(), PreprocessError> {
    cfg.check(out.len())?;
    let mapping = Mapping::new(points, cfg).ok_or(PreprocessError::EmptyTrace)?;
    out.fill(cfg.background);
    let brush = Brush::new(cfg.pen_width);
    let mut prev: Option<(i64, i64)> = None;
    for p in points {
        match p.pen {
            Pen::Up => prev = None,
            Pen::Down => {
                let q = mapping.map(p);
                line(out, cfg, &brush, prev.unwrap_or(q), q);
                prev = Some(q);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(points: &[StrokePoint], cfg: &RasterConfig) -> Result<Vec<u8>, PreprocessError> {
        let mut out = vec![0u8; usize::from(cfg.width) * usize::from(cfg.height)];
        rasterize(points, cfg, &mut out)?;
        Ok(out)
    }

    /// Renders an image as text, `#` for ink and `.` for paper.
    fn art(img: &[u8], w: usize) -> String {
        img.chunks(w)
            .map(|row| {
                row.iter()
                    .map(|v| if *v == 0 { '#' } else { '.' })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn signature(dx: u16, dy: u16, k: u16) -> Vec<StrokePoint> {
        let raw: [(u16, u16, bool); 9] = [
            (10, 40, true),
            (30, 10, true),
            (50, 40, true),
            (50, 40, false),
            (20, 30, true),
            (45, 28, true),
            (45, 28, false),
            (70, 20, true),
            (70, 20, false),
        ];
        raw.iter()
            .map(|&(x, y, d)| {
                let (x, y) = (x * k + dx, y * k + dy);
                if d {
                    StrokePoint::down(x, y)
                } else {
                    StrokePoint::up(x, y)
                }
            })
            .collect()
    }

    #[test]
    fn golden_small() -> Result<(), PreprocessError> {
        // An "L" and a dot, 10x8 with margin 1, pen 1. The box is 0..=60 by 0..=40: the width
        // limits (s = 7/60), so x spans columns 1..=8 and y spans 6 * 40/60 rows centered.
        let pts = [
            StrokePoint::down(0, 0),
            StrokePoint::down(0, 40),
            StrokePoint::down(40, 40),
            StrokePoint::up(40, 40),
            StrokePoint::down(60, 20),
        ];
        let cfg = RasterConfig::new(10, 8).with_margin(1);
        let out = draw(&pts, &cfg)?;
        let expected = "\
..........
.#........
.#........
.#........
.#......#.
.#........
.######...
..........";
        assert_eq!(art(&out, 10), expected);
        // Pen 3 thickens every pixel to a 3x3 block.
        let out = draw(&pts, &cfg.with_pen_width(3))?;
        let expected = "\
###.......
###.......
###.......
###....###
###....###
##########
########..
########..";
        assert_eq!(art(&out, 10), expected);
        Ok(())
    }

    #[test]
    fn translation_and_scale_invariant() -> Result<(), PreprocessError> {
        let cfg = RasterConfig::new(56, 46).with_margin(3).with_pen_width(2);
        let base = draw(&signature(0, 0, 1), &cfg)?;
        assert!(base.contains(&0));
        for (dx, dy) in [(1, 0), (0, 7), (1000, 333), (60000, 65000)] {
            assert_eq!(
                draw(&signature(dx, dy, 1), &cfg)?,
                base,
                "moved by {dx},{dy}"
            );
        }
        for k in [2, 3, 10, 50] {
            assert_eq!(draw(&signature(5, 9, k), &cfg)?, base, "scaled by {k}");
        }
        Ok(())
    }

    #[test]
    fn margins_are_kept_and_extremes_reached() -> Result<(), PreprocessError> {
        let cfg = RasterConfig::new(32, 20).with_margin(4);
        let out = draw(&signature(3, 3, 4), &cfg)?;
        let (mut xs, mut ys) = (vec![], vec![]);
        for (i, v) in out.iter().enumerate() {
            if *v == 0 {
                xs.push(i % 32);
                ys.push(i / 32);
            }
        }
        // Drawable 24x12 pixels for a 60x30 box: the height limits (11/30 < 23/60), so y spans
        // rows 4..=15 and x (22 pixels wide) stays inside columns 4..=27.
        assert_eq!(ys.iter().min(), Some(&4));
        assert_eq!(ys.iter().max(), Some(&15));
        assert!(xs.iter().all(|x| (4..=27).contains(x)));
        Ok(())
    }

    #[test]
    fn degenerate_traces_and_errors() -> Result<(), PreprocessError> {
        let cfg = RasterConfig::new(5, 5).with_margin(0);
        // One point: a dot in the center.
        let out = draw(&[StrokePoint::down(7, 7)], &cfg)?;
        assert_eq!(out.iter().filter(|v| **v == 0).count(), 1);
        assert_eq!(out[12], 0);
        // A vertical line fills the middle column; a horizontal one the middle row.
        let out = draw(&[StrokePoint::down(3, 0), StrokePoint::down(3, 99)], &cfg)?;
        assert!((0..5).all(|y| out[y * 5 + 2] == 0));
        let out = draw(&[StrokePoint::down(0, 3), StrokePoint::down(99, 3)], &cfg)?;
        assert!((0..5).all(|x| out[10 + x] == 0));
        // Extreme coordinates and a 1x1 raster.
        let far = [
            StrokePoint::down(0, 0),
            StrokePoint::down(u16::MAX, u16::MAX),
        ];
        draw(&far, &RasterConfig::new(1, 1).with_margin(0))?;
        draw(
            &far,
            &RasterConfig::new(3, 200).with_margin(1).with_pen_width(9),
        )?;

        let mut buf = [0u8; 25];
        let err = |pts: &[StrokePoint], c: RasterConfig, b: &mut [u8]| rasterize(pts, &c, b);
        assert_eq!(
            err(&[StrokePoint::up(1, 1)], cfg, &mut buf),
            Err(PreprocessError::EmptyTrace)
        );
        assert_eq!(err(&[], cfg, &mut buf), Err(PreprocessError::EmptyTrace));
        let one = [StrokePoint::down(1, 1)];
        assert!(matches!(
            err(&one, cfg.with_margin(3), &mut buf),
            Err(PreprocessError::MarginTooLarge { margin: 3, .. })
        ));
        assert_eq!(
            err(&one, cfg.with_pen_width(0), &mut buf),
            Err(PreprocessError::ZeroPenWidth)
        );
        assert!(matches!(
            err(&one, cfg, &mut buf[1..]),
            Err(PreprocessError::BufferSize { .. })
        ));
        assert!(matches!(
            err(&one, RasterConfig::new(0, 5), &mut []),
            Err(PreprocessError::ZeroSize { .. })
        ));
        Ok(())
    }
}
