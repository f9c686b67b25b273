//! The online trace: what a signature pad records, one point per sample.
//!
//! Coordinates are millimetres on the paper with y growing upwards (as in the stroke model, not as
//! image rows); time is seconds from the first sample. Points with `pen_down == false` are the pen
//! hovering between two pen-down components (pads that report proximity give them; a renderer skips
//! them). A component is a maximal run of consecutive pen-down points.
//!
//! [`shape_distance`] is a plain trajectory distance (arc-length resampling, position and scale
//! normalised): the tests use it to check that genuine signatures resemble each other more than
//! forgeries resemble them. It is a sanity measure, not a verifier.

/// One sample of a pen trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracePoint {
    /// Horizontal position, mm.
    pub x_mm: f32,
    /// Vertical position, mm, growing upwards.
    pub y_mm: f32,
    /// Time since the trace's first point, s.
    pub t_s: f32,
    /// Whether the pen touches the paper.
    pub pen_down: bool,
}

/// An axis-aligned box, mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Smallest x, mm.
    pub min_x_mm: f32,
    /// Smallest y, mm.
    pub min_y_mm: f32,
    /// Largest x, mm.
    pub max_x_mm: f32,
    /// Largest y, mm.
    pub max_y_mm: f32,
}

impl BoundingBox {
    /// Width, mm, `>= 0`.
    pub fn width_mm(&self) -> f32 {
        self.max_x_mm - self.min_x_mm
    }

    /// Height, mm, `>= 0`.
    pub fn height_mm(&self) -> f32 {
        self.max_y_mm - self.min_y_mm
    }
}

/// A pen trajectory sampled at a fixed rate, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// The samples, in time order.
    pub points: Vec<TracePoint>,
}

impl Trace {
    /// Bounding box of the pen-down points (the ink), or `None` without any.
    pub fn bounding_box(&self) -> Option<BoundingBox> {
        self.points
            .iter()
            .filter(|p| p.pen_down)
            .fold(None, |acc, p| {
                let b = acc.unwrap_or(BoundingBox {
                    min_x_mm: p.x_mm,
                    min_y_mm: p.y_mm,
                    max_x_mm: p.x_mm,
                    max_y_mm: p.y_mm,
                });
                Some(BoundingBox {
                    min_x_mm: b.min_x_mm.min(p.x_mm),
                    min_y_mm: b.min_y_mm.min(p.y_mm),
                    max_x_mm: b.max_x_mm.max(p.x_mm),
                    max_y_mm: b.max_y_mm.max(p.y_mm),
                })
            })
    }

    /// Time from the first to the last point, s; 0 for fewer than two points.
    pub fn duration_s(&self) -> f32 {
        match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) => b.t_s - a.t_s,
            _ => 0.0,
        }
    }

    /// The pen-down components: maximal runs of consecutive pen-down points, in time order.
    pub fn components(&self) -> impl Iterator<Item = &[TracePoint]> + '_ {
        self.points
            .split(|p| !p.pen_down)
            .filter(|run| !run.is_empty())
    }

    /// Number of pen-down components.
    pub fn component_count(&self) -> usize {
        self.components().count()
    }

    /// Length of the ink: the summed polyline length of the pen-down components, mm.
    pub fn ink_length_mm(&self) -> f32 {
        self.components().map(polyline_length).sum()
    }

    /// Whether every coordinate and time is finite.
    pub fn is_finite(&self) -> bool {
        self.points
            .iter()
            .all(|p| p.x_mm.is_finite() && p.y_mm.is_finite() && p.t_s.is_finite())
    }

    /// The ink resampled to `n` points equally spaced along its arc length (the components laid end
    /// to end, the pen-up jumps not counted), centred on their mean and divided by their RMS radius.
    /// `None` for `n < 2`, no ink, or ink of zero length.
    pub fn normalised_shape(&self, n: usize) -> Option<Vec<[f32; 2]>> {
        let runs: Vec<&[TracePoint]> = self.components().collect();
        let total: f32 = runs.iter().map(|r| polyline_length(r)).sum();
        if n < 2 || total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        let step = total / (n - 1) as f32;
        let mut travelled = 0.0f32;
        let segments = runs.iter().flat_map(|r| r.windows(2));
        let mut last = [0.0, 0.0];
        for w in segments {
            let (a, b) = (w[0], w[1]);
            let len = (b.x_mm - a.x_mm).hypot(b.y_mm - a.y_mm);
            while out.len() < n && (out.len() as f32) * step <= travelled + len {
                let f = if len > 0.0 {
                    ((out.len() as f32) * step - travelled) / len
                } else {
                    0.0
                };
                let f = f.clamp(0.0, 1.0);
                out.push([
                    a.x_mm + f * (b.x_mm - a.x_mm),
                    a.y_mm + f * (b.y_mm - a.y_mm),
                ]);
            }
            travelled += len;
            last = [b.x_mm, b.y_mm];
        }
        // Rounding can leave the last one or two targets just past the end.
        out.resize(n, last);
        let (mx, my) = out
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        let (mx, my) = (mx / n as f32, my / n as f32);
        let rms = (out
            .iter()
            .map(|p| (p[0] - mx).powi(2) + (p[1] - my).powi(2))
            .sum::<f32>()
            / n as f32)
            .sqrt();
        if rms.is_nan() || rms <= 0.0 {
            return None;
        }
        Some(
            out.iter()
                .map(|p| [(p[0] - mx) / rms, (p[1] - my) / rms])
                .collect(),
        )
    }
}

fn polyline_length(run: &[TracePoint]) -> f32 {
    run.windows(2)
        .map(|w| (w[1].x_mm - w[0].x_mm).hypot(w[1].y_mm - w[0].y_mm))
        .sum()
}

/// Mean distance between corresponding points of the two traces' [`Trace::normalised_shape`]s
/// (`n` points each), in units of the RMS radius: 0 for the same shape, about 1.4 for unrelated
/// shapes. `None` where either shape is.
pub fn shape_distance(a: &Trace, b: &Trace, n: usize) -> Option<f32> {
    let (sa, sb) = (a.normalised_shape(n)?, b.normalised_shape(n)?);
    let sum: f32 = sa
        .iter()
        .zip(&sb)
        .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
        .sum();
    Some(sum / n as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x_mm: f32, y_mm: f32, t_s: f32, pen_down: bool) -> TracePoint {
        TracePoint {
            x_mm,
            y_mm,
            t_s,
            pen_down,
        }
    }

    fn two_components() -> Trace {
        Trace {
            points: vec![
                pt(0.0, 0.0, 0.0, true),
                pt(3.0, 4.0, 0.1, true),
                pt(4.0, 4.0, 0.2, false),
                pt(5.0, 1.0, 0.3, true),
                pt(5.0, 2.0, 0.4, true),
            ],
        }
    }

    #[test]
    fn helpers_measure_the_ink() {
        let t = two_components();
        assert_eq!(t.component_count(), 2);
        assert!((t.duration_s() - 0.4).abs() < 1e-6);
        assert!((t.ink_length_mm() - 6.0).abs() < 1e-6);
        let b = t.bounding_box().expect("ink");
        assert_eq!(
            (b.min_x_mm, b.min_y_mm, b.max_x_mm, b.max_y_mm),
            (0.0, 0.0, 5.0, 4.0)
        );
        assert!(t.is_finite());
        assert_eq!(Trace::default().bounding_box(), None);
        assert_eq!(Trace::default().component_count(), 0);
    }

    #[test]
    fn shape_distance_ignores_position_and_scale() {
        let t = two_components();
        let mut moved = t.clone();
        for p in &mut moved.points {
            (p.x_mm, p.y_mm) = (3.0 * p.x_mm + 10.0, 3.0 * p.y_mm - 7.0);
        }
        let d = shape_distance(&t, &moved, 64).expect("shapes");
        assert!(d < 1e-5, "{d}");
        let mut other = t.clone();
        other.points[1].x_mm = -3.0;
        assert!(shape_distance(&t, &other, 64).expect("shapes") > 0.1);
        assert_eq!(t.normalised_shape(64).map(|s| s.len()), Some(64));
        assert_eq!(Trace::default().normalised_shape(64), None);
    }
}
