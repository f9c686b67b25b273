//! A 2-D map of embeddings coloured by identity: the classic Siamese demo on MNIST test digits.
//!
//! Embeddings of more than two dimensions are projected on their first two principal components
//! ([`project_2d`]); identities beyond ten reuse colours.

use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, DrawResult, Figure, FONT};

/// Points and their labels.
#[derive(Clone, Debug)]
pub struct EmbeddingFigure {
    /// Title above the chart.
    pub title: String,
    /// `(x, y)` of each item.
    pub points: Vec<(f64, f64)>,
    /// Label of each item (digit, identity).
    pub labels: Vec<u32>,
}

/// The rows of `emb` (`n` rows of `d` values) projected on their first two principal axes (the
/// first coordinate has the largest variance); `d < 2` pads with zeros. `None` when `n == 0` or
/// the rows differ in length.
pub fn project_2d(emb: &[Vec<f32>]) -> Option<Vec<(f64, f64)>> {
    let n = emb.len();
    let d = emb.first()?.len();
    if emb.iter().any(|row| row.len() != d) {
        return None;
    }
    let mean: Vec<f64> = (0..d)
        .map(|j| emb.iter().map(|row| f64::from(row[j])).sum::<f64>() / n as f64)
        .collect();
    let c = DMatrix::from_fn(n, d, |i, j| f64::from(emb[i][j]) - mean[j]);
    if d <= 2 {
        return Some(
            (0..n)
                .map(|i| (c[(i, 0)], if d == 2 { c[(i, 1)] } else { 0.0 }))
                .collect(),
        );
    }
    let cov = c.transpose() * &c / (n.max(2) - 1) as f64;
    let (_, vectors) = crate::baseline::sorted_symmetric_eigen(cov).ok()?;
    let p = c * vectors.columns(0, 2);
    Some((0..n).map(|i| (p[(i, 0)], p[(i, 1)])).collect())
}

impl Figure for EmbeddingFigure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in &self.points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 >= x1 {
            (x0, x1) = (x0.min(0.0) - 1.0, x1.max(0.0) + 1.0);
        }
        if y0 >= y1 {
            (y0, y1) = (y0.min(0.0) - 1.0, y1.max(0.0) + 1.0);
        }
        let (px, py) = (0.05 * (x1 - x0), 0.05 * (y1 - y0));
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(x0 - px..x1 + px, y0 - py..y1 + py)?;
        chart
            .configure_mesh()
            .x_desc("component 1")
            .y_desc("component 2")
            .label_style((FONT, 13))
            .draw()?;
        let mut classes: Vec<u32> = self.labels.clone();
        classes.sort_unstable();
        classes.dedup();
        for (k, &class) in classes.iter().enumerate() {
            let c = color(k);
            let series = chart.draw_series(
                self.points
                    .iter()
                    .zip(&self.labels)
                    .filter(|(_, &l)| l == class)
                    .map(|(&p, _)| Circle::new(p, 2, c.mix(0.7).filled())),
            )?;
            if classes.len() <= 20 {
                series
                    .label(class.to_string())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
            }
        }
        if classes.len() <= 20 {
            super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_component_carries_the_most_variance() {
        // Points spread along (1, 1, 0) with a little noise along z.
        let emb: Vec<Vec<f32>> = (0..20)
            .map(|i| {
                let t = i as f32 - 10.0;
                vec![t, t, 0.01 * (i % 3) as f32]
            })
            .collect();
        let p = project_2d(&emb).unwrap();
        let var = |f: &dyn Fn(&(f64, f64)) -> f64| p.iter().map(|q| f(q).powi(2)).sum::<f64>();
        assert!(var(&|q| q.0) > 1000.0 * var(&|q| q.1));
        // Distances along the line are kept: |t_i - t_j| * sqrt(2).
        assert!(((p[0].0 - p[1].0).abs() - 2f64.sqrt()).abs() < 1e-3);
        assert!(project_2d(&[]).is_none());
    }
}
