//! ROC and DET curves of several verifiers on the same trials, FAR on a log axis.
//!
//! ROC: TAR (linear, 0..1) against FAR (log10). DET: FRR against FAR, both log10. Rates of zero
//! cannot sit on a log axis; they are drawn at the axis floor, half a trial below the smallest
//! non-zero rate the trial counts allow (`0.5 / impostor trials`), and the floor is said in the
//! axis label.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, DrawResult, Figure, FONT};
use crate::eval::Roc;

/// Most points kept per curve; denser curves are thinned (steps below a pixel vanish anyway).
const MAX_POINTS: usize = 2_000;

/// One verifier's curve.
#[derive(Clone, Debug)]
pub struct RocCurve {
    /// Legend text, e.g. `"Siamese CNN (EER 3.4%)"`.
    pub label: String,
    /// `(FAR, TAR)` points by increasing threshold, rates in `[0, 1]`.
    pub points: Vec<(f64, f64)>,
    /// Genuine trials behind the curve.
    pub genuine_trials: u64,
    /// Impostor trials behind the curve.
    pub impostor_trials: u64,
    /// Draw thicker (the model against its baselines).
    pub highlight: bool,
}

impl RocCurve {
    /// The curve of `roc`, thinned to at most about `MAX_POINTS` points (every change of more
    /// than 1/1000 in TAR or in log10 FAR is kept).
    pub fn from_roc(label: impl Into<String>, roc: &Roc, highlight: bool) -> Self {
        let pts = roc.points();
        let step = (pts.len() / MAX_POINTS).max(1);
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, p) in pts.iter().enumerate() {
            let keep = match points.last() {
                None => true,
                Some(&(f, t)) => {
                    i + 1 == pts.len()
                        || (i % step == 0
                            && ((p.tar - t).abs() > 1e-3
                                || (p.far.max(1e-12).log10() - f.max(1e-12).log10()).abs() > 1e-3))
                }
            };
            if keep {
                points.push((p.far, p.tar));
            }
        }
        Self {
            label: label.into(),
            points,
            genuine_trials: roc.genuine_trials(),
            impostor_trials: roc.impostor_trials(),
            highlight,
        }
    }
}

fn floor(n: u64) -> f64 {
    (0.5 / n.max(1) as f64).min(0.1)
}

fn style(i: usize, c: &RocCurve) -> ShapeStyle {
    color(i).stroke_width(if c.highlight { 3 } else { 1 })
}

/// TAR against FAR (log axis) of several curves.
#[derive(Clone, Debug)]
pub struct RocFigure {
    /// Title above the chart.
    pub title: String,
    /// The curves, the first one drawn last (on top).
    pub curves: Vec<RocCurve>,
}

impl Figure for RocFigure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let lo = floor(
            self.curves
                .iter()
                .map(|c| c.impostor_trials)
                .max()
                .unwrap_or(1),
        );
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((lo..1.0f64).log_scale(), 0.0f64..1.0)?;
        chart
            .configure_mesh()
            .x_desc(format!("FAR (log; 0 drawn at {lo:.0e})"))
            .y_desc("TAR")
            .label_style((FONT, 13))
            .draw()?;
        for (i, c) in self.curves.iter().enumerate().rev() {
            let s = style(i, c);
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().map(|&(f, t)| (f.max(lo), t)),
                    s,
                ))?
                .label(&c.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], s));
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}

/// FRR against FAR, both on log axes (the detection error trade-off).
#[derive(Clone, Debug)]
pub struct DetFigure {
    /// Title above the chart.
    pub title: String,
    /// The curves, the first one drawn last (on top).
    pub curves: Vec<RocCurve>,
}

impl Figure for DetFigure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let lo_x = floor(
            self.curves
                .iter()
                .map(|c| c.impostor_trials)
                .max()
                .unwrap_or(1),
        );
        let lo_y = floor(
            self.curves
                .iter()
                .map(|c| c.genuine_trials)
                .max()
                .unwrap_or(1),
        );
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((lo_x..1.0f64).log_scale(), (lo_y..1.0f64).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(format!("FAR (log; 0 drawn at {lo_x:.0e})"))
            .y_desc(format!("FRR (log; 0 drawn at {lo_y:.0e})"))
            .label_style((FONT, 13))
            .draw()?;
        for (i, c) in self.curves.iter().enumerate().rev() {
            let s = style(i, c);
            chart
                .draw_series(LineSeries::new(
                    c.points
                        .iter()
                        .map(|&(f, t)| (f.max(lo_x), (1.0 - t).max(lo_y))),
                    s,
                ))?
                .label(&c.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], s));
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends_and_the_shape() {
        let genuine: Vec<f64> = (0..5000).map(|i| i as f64 / 5000.0).collect();
        let impostor: Vec<f64> = (0..20000).map(|i| 0.5 + i as f64 / 20000.0).collect();
        let roc = Roc::new(&genuine, &impostor).unwrap();
        let c = RocCurve::from_roc("toy", &roc, true);
        assert!(c.points.len() <= 2 * MAX_POINTS, "{}", c.points.len());
        assert_eq!(c.points[0], (0.0, 0.0));
        assert_eq!(*c.points.last().unwrap(), (1.0, 1.0));
        assert!(c
            .points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let dir = tempfile::tempdir().unwrap();
        let fig = DetFigure {
            title: "DET".into(),
            curves: vec![c.clone()],
        };
        super::super::save(&fig, &dir.path().join("det"), (300, 240)).unwrap();
        let fig = RocFigure {
            title: "ROC".into(),
            curves: vec![c],
        };
        let files = super::super::save(&fig, &dir.path().join("roc"), (300, 240)).unwrap();
        assert!(std::fs::read_to_string(&files[1]).unwrap().contains("TAR"));
    }
}
