//! Plots a person would rather look at than read: ROC and DET curves of a model against the
//! baselines ([`roc`]), genuine/impostor distance histograms with the decision threshold
//! ([`histogram`]), loss and validation-EER curves of a run ([`curves`]), and a 2-D map of
//! embeddings coloured by identity ([`embedding_map`]); [`report`] draws an evaluation report's set.
//!
//! Every figure is written twice from one drawing routine: `STEM.png` (plotters' bitmap backend)
//! and `STEM.svg`. Text is set in Hack (MIT / Bitstream Vera license), embedded in the binary by
//! the `epaint_default_fonts` crate, so no system font or fontconfig is needed.
//!
//! When not: for numbers; the JSON report holds them with their intervals. Plots are drawn from
//! what the report measured and add nothing to it.

pub mod curves;
pub mod embedding_map;
pub mod histogram;
pub mod report;
pub mod roc;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

pub use curves::CurvesFigure;
pub use embedding_map::EmbeddingFigure;
pub use histogram::HistogramFigure;
pub use report::{save_report_figures, ReportFigures};
pub use roc::{DetFigure, RocCurve, RocFigure};

/// Font family name the figures use (registered to Hack on first use).
pub const FONT: &str = "sans-serif";

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font was refused by the text renderer.
    #[error("the embedded font could not be registered")]
    Font,
    /// Drawing or writing `path` failed.
    #[error("{path}: {reason}")]
    Draw {
        /// The file being written.
        path: PathBuf,
        /// What the backend said.
        reason: String,
    },
    /// There is nothing to draw.
    #[error("{what}: nothing to plot")]
    Empty {
        /// The figure.
        what: &'static str,
    },
}

/// What a figure's drawing routine returns.
pub type DrawResult = Result<(), Box<dyn Error>>;

/// The legend of every figure: 13 px labels on a translucent white box with a black border, at
/// `position`.
pub fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A figure that draws itself on any plotters backend.
pub trait Figure {
    /// Draws on `area` (already filled white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

fn register_font() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::HACK_REGULAR)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// Writes `fig` to `STEM.png` and `STEM.svg` at `size` pixels; returns both paths.
pub fn save(fig: &impl Figure, stem: &Path, size: (u32, u32)) -> Result<Vec<PathBuf>, PlotError> {
    register_font()?;
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let err = |path: &Path, e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    {
        let area = BitMapBackend::new(&png, size).into_drawing_area();
        area.fill(&WHITE).map_err(|e| err(&png, &e))?;
        fig.draw(&area).map_err(|e| err(&png, &e))?;
        area.present().map_err(|e| err(&png, &e))?;
    }
    {
        let area = SVGBackend::new(&svg, size).into_drawing_area();
        area.fill(&WHITE).map_err(|e| err(&svg, &e))?;
        fig.draw(&area).map_err(|e| err(&svg, &e))?;
        area.present().map_err(|e| err(&svg, &e))?;
    }
    Ok(vec![png, svg])
}

/// Ten distinct colours (Tableau 10), by index modulo 10.
pub fn color(i: usize) -> RGBColor {
    const C: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = C[i % C.len()];
    RGBColor(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PNG and SVG both appear, the SVG holds the text, the PNG decodes at the asked size.
    #[test]
    fn a_figure_is_written_as_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let fig = HistogramFigure {
            title: "toy distances".into(),
            genuine: vec![0.1, 0.2, 0.25, 0.3],
            impostor: vec![0.5, 0.7, 0.9, 1.1, 0.35],
            threshold: Some(0.32),
        };
        let files = save(&fig, &dir.path().join("hist"), (400, 300)).unwrap();
        assert_eq!(files.len(), 2);
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(
            svg.contains("toy distances"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        let png = image::open(&files[0]).unwrap();
        assert_eq!((png.width(), png.height()), (400, 300));
        // Text was rendered into the bitmap: some pixels are neither white nor a bar colour.
        let rgb = png.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 == [0, 0, 0]));
    }
}
