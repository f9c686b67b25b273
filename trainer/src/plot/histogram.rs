//! Genuine and impostor distance histograms on one axis, with the decision threshold.
//!
//! Each kind is normalised to its own trial count (the bar heights of one kind sum to 1), since
//! impostor trials usually outnumber genuine ones ten to one; overlapping bars are translucent.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{DrawResult, Figure, FONT};

/// Bins over the range of all distances.
pub const BINS: usize = 50;

/// Distances of genuine and impostor trials, and the threshold that decides them.
#[derive(Clone, Debug)]
pub struct HistogramFigure {
    /// Title above the chart.
    pub title: String,
    /// Genuine (same identity) distances.
    pub genuine: Vec<f64>,
    /// Impostor (different identity) distances.
    pub impostor: Vec<f64>,
    /// Accept when `d <= threshold`; drawn as a vertical line when finite.
    pub threshold: Option<f64>,
}

/// Fraction of `values` in each of `bins` equal bins over `[lo, hi]` (the last bin is closed).
pub fn fractions(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let mut out = vec![0.0; bins];
    let width = (hi - lo) / bins as f64;
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    for v in &finite {
        let b = if width > 0.0 {
            (((v - lo) / width) as usize).min(bins - 1)
        } else {
            0
        };
        out[b] += 1.0;
    }
    let n = finite.len().max(1) as f64;
    out.iter_mut().for_each(|x| *x /= n);
    out
}

impl Figure for HistogramFigure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let all = self
            .genuine
            .iter()
            .chain(&self.impostor)
            .copied()
            .filter(|v| v.is_finite());
        let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if lo >= hi {
            lo = if lo.is_finite() { lo - 0.5 } else { 0.0 };
            hi = lo + 1.0;
        }
        let g = fractions(&self.genuine, lo, hi, BINS);
        let i = fractions(&self.impostor, lo, hi, BINS);
        let top = g.iter().chain(&i).fold(0.0f64, |a, &b| a.max(b)) * 1.1 + 1e-9;
        let width = (hi - lo) / BINS as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(lo..hi, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("distance (accept when d <= threshold)")
            .y_desc("fraction of trials of the kind")
            .label_style((FONT, 13))
            .draw()?;
        let kinds = [
            (
                format!("genuine ({})", self.genuine.len()),
                &g,
                RGBColor(44, 160, 44),
            ),
            (
                format!("impostor ({})", self.impostor.len()),
                &i,
                RGBColor(214, 39, 40),
            ),
        ];
        for (label, bins, c) in kinds {
            chart
                .draw_series(bins.iter().enumerate().map(|(b, &y)| {
                    let x0 = lo + b as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, y)], c.mix(0.45).filled())
                }))?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        if let Some(t) = self.threshold.filter(|t| t.is_finite()) {
            chart
                .draw_series(LineSeries::new([(t, 0.0), (t, top)], BLACK.stroke_width(2)))?
                .label(format!("threshold {t:.3}"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2))
                });
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_sum_to_one_and_the_maximum_lands_in_the_last_bin() {
        let f = fractions(&[0.0, 0.5, 1.0, 1.0, f64::INFINITY], 0.0, 1.0, 4);
        assert_eq!(f, [0.25, 0.0, 0.25, 0.5]);
    }
}
