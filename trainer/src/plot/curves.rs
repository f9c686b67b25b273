//! The loss and validation-EER curves of a run, from its `log.jsonl` ([`crate::train::log`]).
//!
//! Top panel: the mean loss of each logged interval against the step. Bottom panel: the
//! validation EER (percent) at each validation, with the best one marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, DrawResult, Figure, FONT};
use crate::train::LogRecord;

/// Loss and validation EER over the steps of a run.
#[derive(Clone, Debug)]
pub struct CurvesFigure {
    /// Title above the top panel.
    pub title: String,
    /// The run's log lines, by step.
    pub records: Vec<LogRecord>,
}

impl Figure for CurvesFigure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let panels = area.split_evenly((2, 1));
        let last = self
            .records
            .iter()
            .map(|r| r.step)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let losses: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter(|r| r.mean_loss.is_finite())
            .map(|r| (r.step as f64, f64::from(r.mean_loss)))
            .collect();
        let top = losses.iter().fold(0.0f64, |a, p| a.max(p.1)) * 1.05 + 1e-9;
        let mut chart = ChartBuilder::on(&panels[0])
            .caption(&self.title, (FONT, 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..last, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("training loss")
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(LineSeries::new(losses, color(0).stroke_width(2)))?;

        let eers: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|r| r.validation_eer.map(|e| (r.step as f64, 100.0 * e)))
            .collect();
        let top = eers.iter().fold(0.0f64, |a, p| a.max(p.1)) * 1.1 + 1.0;
        let mut chart = ChartBuilder::on(&panels[1])
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..last, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("validation EER %")
            .label_style((FONT, 13))
            .draw()?;
        if eers.is_empty() {
            chart.draw_series(std::iter::once(Text::new(
                "no validation identities in this run",
                (0.05 * last, 0.5 * top),
                (FONT, 15),
            )))?;
            return Ok(());
        }
        chart.draw_series(LineSeries::new(eers.clone(), color(1).stroke_width(2)))?;
        chart.draw_series(eers.iter().map(|&p| Circle::new(p, 3, color(1).filled())))?;
        if let Some(&best) = eers.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
            chart.draw_series(std::iter::once(Circle::new(best, 6, BLACK.stroke_width(2))))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("best {:.2}% at step {}", best.1, best.0),
                (best.0, best.1 + 0.06 * top),
                (FONT, 13),
            )))?;
        }
        Ok(())
    }
}
