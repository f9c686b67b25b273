//! Rendering a trace to a grey scan: paper with low-frequency texture and noise, ballpoint ink
//! stamped along the pen-down trajectory.
//!
//! Ink: anti-aliased disks stamped every 0.3 px along each pen-down polyline, combined by maximum
//! (a line crossing itself is not darker than the line). Slow ink is wider and darker, as a
//! ballpoint deposits more where it dwells: radius `w/2 (0.8 + 0.45 exp(-v / 40 mm/s))`, opacity
//! `0.7 + 0.3 exp(-v / 25 mm/s)` for pen speed `v` (mm/s, from the trace's central differences),
//! with per-pixel and 1 mm-scale ink density variation (0.8 to 1). Paper: `paper_grey` plus two
//! octaves of value noise (cells of 12 and 3 mm) of amplitude `paper_texture` and per-pixel
//! Gaussian noise of deviation `paper_noise`.
//!
//! Size: the ink's bounding box at `dpi`, plus `margin_mm` and the widest pen radius on each side;
//! the project's preprocessing crops to the ink later. When not: no scanner blur, no rotation, no
//! background clutter; those are augmentation's business.

use image::{GrayImage, Luma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::trace::{Trace, TracePoint};
use super::SynthError;

/// Largest image [`render`] makes, pixels (64 Mi: a 10 m long signature at 300 dpi would exceed it).
pub const MAX_IMAGE_PIXELS: u64 = 64 << 20;

/// How a trace becomes a scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Scan resolution, dots per inch, `50..=1200` (GPDS scans at 600, CEDAR at 300; 200 default).
    pub dpi: f32,
    /// Paper around the ink on each side, mm, `0..=50` (default 3).
    pub margin_mm: f32,
    /// Ink line width at moderate speed, mm, `0.1..=3` (a ballpoint: about 0.5, the default).
    pub pen_width_mm: f32,
    /// Grey of fully opaque ink, 0 black to 255 white (default 40).
    pub ink_grey: u8,
    /// Mean grey of the paper (default 238).
    pub paper_grey: u8,
    /// Amplitude of the paper's low-frequency texture, grey levels, `0..=64` (default 6).
    pub paper_texture: f32,
    /// Standard deviation of the per-pixel noise, grey levels, `0..=64` (default 2.5).
    pub paper_noise: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            dpi: 200.0,
            margin_mm: 3.0,
            pen_width_mm: 0.5,
            ink_grey: 40,
            paper_grey: 238,
            paper_texture: 6.0,
            paper_noise: 2.5,
        }
    }
}

impl RenderOptions {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), SynthError> {
        let checks = [
            (
                "dpi",
                self.dpi,
                (50.0..=1200.0).contains(&self.dpi),
                "50..=1200",
            ),
            (
                "margin_mm",
                self.margin_mm,
                (0.0..=50.0).contains(&self.margin_mm),
                "0..=50",
            ),
            (
                "pen_width_mm",
                self.pen_width_mm,
                (0.1..=3.0).contains(&self.pen_width_mm),
                "0.1..=3",
            ),
            (
                "paper_texture",
                self.paper_texture,
                (0.0..=64.0).contains(&self.paper_texture),
                "0..=64",
            ),
            (
                "paper_noise",
                self.paper_noise,
                (0.0..=64.0).contains(&self.paper_noise),
                "0..=64",
            ),
        ];
        for (name, value, ok, expected) in checks {
            if !ok {
                return Err(SynthError::InvalidParameter {
                    name,
                    value: f64::from(value),
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// Pen radius factor and opacity at speed `v` (mm/s).
fn ink_at(v: f64) -> (f64, f64) {
    (
        0.8 + 0.45 * (-v / 40.0).exp(),
        0.7 + 0.3 * (-v / 25.0).exp(),
    )
}

/// Standard normal (Box-Muller).
fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * rng.random::<f64>()).cos()
}

/// Smooth value noise in `[-1, 1]`: a random grid of `cell` pixels, smoothstep-interpolated.
struct ValueNoise {
    cols: usize,
    cell: f64,
    grid: Vec<f64>,
}

impl ValueNoise {
    fn new(rng: &mut ChaCha8Rng, width: usize, height: usize, cell: f64) -> Self {
        let cell = cell.max(2.0);
        let cols = (width as f64 / cell) as usize + 2;
        let rows = (height as f64 / cell) as usize + 2;
        let grid = (0..cols * rows)
            .map(|_| rng.random::<f64>() * 2.0 - 1.0)
            .collect();
        Self { cols, cell, grid }
    }

    fn at(&self, x: usize, y: usize) -> f64 {
        let (fx, fy) = (x as f64 / self.cell, y as f64 / self.cell);
        let (ix, iy) = (fx as usize, fy as usize);
        let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
        let (tx, ty) = (smooth(fx - ix as f64), smooth(fy - iy as f64));
        let g = |cx: usize, cy: usize| self.grid.get(cy * self.cols + cx).copied().unwrap_or(0.0);
        let top = g(ix, iy) + tx * (g(ix + 1, iy) - g(ix, iy));
        let bottom = g(ix, iy + 1) + tx * (g(ix + 1, iy + 1) - g(ix, iy + 1));
        top + ty * (bottom - top)
    }
}

/// Ink coverage in `[0, 1]` per pixel, stamped by maximum.
struct InkLayer {
    width: usize,
    height: usize,
    alpha: Vec<f32>,
}

impl InkLayer {
    /// An anti-aliased disk of radius `r` (px) centred at `(cx, cy)` (px, pixel centres at +0.5).
    fn stamp(&mut self, cx: f64, cy: f64, r: f64, opacity: f64) {
        let (x0, x1) = ((cx - r - 1.0).floor().max(0.0), (cx + r + 1.0).ceil());
        let (y0, y1) = ((cy - r - 1.0).floor().max(0.0), (cy + r + 1.0).ceil());
        let (x1, y1) = (x1.min(self.width as f64), y1.min(self.height as f64));
        // In-range non-negative pixel indices: the casts are exact.
        for y in y0 as usize..y1.max(y0) as usize {
            for x in x0 as usize..x1.max(x0) as usize {
                let d = (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy);
                let a = ((r + 0.5 - d).clamp(0.0, 1.0) * opacity) as f32;
                let cell = &mut self.alpha[y * self.width + x];
                *cell = cell.max(a);
            }
        }
    }
}

/// Pen speed at each point of a pen-down run, mm/s (central differences, one-sided at the ends).
fn speeds(run: &[TracePoint]) -> Vec<f64> {
    let n = run.len();
    (0..n)
        .map(|i| {
            let (a, b) = (run[i.saturating_sub(1)], run[(i + 1).min(n - 1)]);
            let dt = f64::from(b.t_s - a.t_s);
            let dist = f64::from(b.x_mm - a.x_mm).hypot(f64::from(b.y_mm - a.y_mm));
            if dt > 0.0 {
                dist / dt
            } else {
                0.0
            }
        })
        .collect()
}

/// Renders `trace` as a grey scan under `options`; `seed` fixes the paper, noise and ink texture.
///
/// Errors: invalid options, a non-finite trace point, a trace without pen-down points, or an image
/// over [`MAX_IMAGE_PIXELS`].
pub fn render(trace: &Trace, options: &RenderOptions, seed: u64) -> Result<GrayImage, SynthError> {
    options.validate()?;
    if let Some(index) = trace
        .points
        .iter()
        .position(|p| !(p.x_mm.is_finite() && p.y_mm.is_finite() && p.t_s.is_finite()))
    {
        return Err(SynthError::NonFiniteTrace { index });
    }
    let bbox = trace.bounding_box().ok_or(SynthError::NoInk)?;
    let scale = f64::from(options.dpi) / 25.4;
    let pen_r = 0.5 * f64::from(options.pen_width_mm) * scale;
    let pad = f64::from(options.margin_mm) * scale + 1.25 * pen_r + 1.0;
    let w = (f64::from(bbox.width_mm()) * scale + 2.0 * pad).ceil();
    let h = (f64::from(bbox.height_mm()) * scale + 2.0 * pad).ceil();
    let fits = (w * h).is_finite() && w * h <= MAX_IMAGE_PIXELS as f64;
    if !fits {
        return Err(SynthError::ImageTooLarge {
            width: w,
            height: h,
            max_pixels: MAX_IMAGE_PIXELS,
        });
    }
    // Both are positive and their product fits MAX_IMAGE_PIXELS: the casts are exact.
    let (width, height) = (w as usize, h as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ink = InkLayer {
        width,
        height,
        alpha: vec![0.0; width * height],
    };
    let to_px = |p: &TracePoint| {
        (
            pad + f64::from(p.x_mm - bbox.min_x_mm) * scale,
            pad + f64::from(bbox.max_y_mm - p.y_mm) * scale,
        )
    };
    let pen = pen_r * rng.random_range(0.9..1.1);
    for run in trace.components() {
        let v = speeds(run);
        let (r0, a0) = ink_at(v[0]);
        let (x0, y0) = to_px(&run[0]);
        ink.stamp(x0, y0, (pen * r0).max(0.6), a0);
        for (i, pair) in run.windows(2).enumerate() {
            let ((xa, ya), (xb, yb)) = (to_px(&pair[0]), to_px(&pair[1]));
            let steps = ((xb - xa).hypot(yb - ya) / 0.3).ceil().clamp(1.0, 1e6) as u32;
            for j in 1..=steps {
                let f = f64::from(j) / f64::from(steps);
                let (r, a) = ink_at(v[i] + f * (v[i + 1] - v[i]));
                ink.stamp(
                    xa + f * (xb - xa),
                    ya + f * (yb - ya),
                    (pen * r).max(0.6),
                    a,
                );
            }
        }
    }
    let coarse = ValueNoise::new(&mut rng, width, height, 12.0 * scale);
    let fine = ValueNoise::new(&mut rng, width, height, 3.0 * scale);
    let density = ValueNoise::new(&mut rng, width, height, 1.0 * scale);
    let (texture, noise) = (
        f64::from(options.paper_texture),
        f64::from(options.paper_noise),
    );
    let (paper_grey, ink_grey) = (f64::from(options.paper_grey), f64::from(options.ink_grey));
    let mut img = GrayImage::new(width as u32, height as u32);
    for (i, pixel) in img.pixels_mut().enumerate() {
        let (x, y) = (i % width, i / width);
        let paper = paper_grey
            + texture * (0.6 * coarse.at(x, y) + 0.4 * fine.at(x, y))
            + noise * gauss(&mut rng);
        let grain = 0.9 + 0.05 * density.at(x, y) + 0.05 * (rng.random::<f64>() * 2.0 - 1.0);
        let a = f64::from(ink.alpha[i]) * grain;
        let grey = paper * (1.0 - a) + ink_grey * a;
        *pixel = Luma([grey.round().clamp(0.0, 255.0) as u8]);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Trace {
        let points = (0..=100)
            .map(|i| {
                let f = i as f32 / 100.0;
                TracePoint {
                    x_mm: 20.0 * f,
                    y_mm: 5.0 * f * f,
                    t_s: 0.5 * f,
                    pen_down: true,
                }
            })
            .collect();
        Trace { points }
    }

    #[test]
    fn ink_inside_paper_outside() {
        let options = RenderOptions::default();
        let img = render(&line(), &options, 1).expect("image");
        let scale = 200.0 / 25.4;
        // 20 x 5 mm of ink, 3 mm margins, pen radius slack.
        assert!(
            (img.width() as f32 - (26.0 * scale)).abs() < 8.0,
            "{}",
            img.width()
        );
        assert!(
            (img.height() as f32 - (11.0 * scale)).abs() < 8.0,
            "{}",
            img.height()
        );
        let dark = img.pixels().filter(|p| p.0[0] < 120).count();
        assert!(dark > 200, "{dark} dark pixels");
        let margin = (2.5 * scale) as u32;
        for (x, y, p) in img.enumerate_pixels() {
            let border =
                x < margin || y < margin || x >= img.width() - margin || y >= img.height() - margin;
            if border {
                assert!(p.0[0] > 200, "ink or dark paper at ({x}, {y}): {}", p.0[0]);
            }
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        let options = RenderOptions::default();
        let a = render(&line(), &options, 5).expect("image");
        assert_eq!(a, render(&line(), &options, 5).expect("image"));
        assert_ne!(a, render(&line(), &options, 6).expect("image"));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let options = RenderOptions::default();
        assert!(matches!(
            render(&Trace::default(), &options, 0),
            Err(SynthError::NoInk)
        ));
        let mut nan = line();
        nan.points[3].x_mm = f32::NAN;
        assert!(matches!(
            render(&nan, &options, 0),
            Err(SynthError::NonFiniteTrace { index: 3 })
        ));
        let bad = RenderOptions {
            dpi: 0.0,
            ..options
        };
        assert!(matches!(
            render(&line(), &bad, 0),
            Err(SynthError::InvalidParameter { .. })
        ));
        let mut huge = line();
        huge.points[0].x_mm = -1e6;
        assert!(matches!(
            render(&huge, &options, 0),
            Err(SynthError::ImageTooLarge { .. })
        ));
    }
}
