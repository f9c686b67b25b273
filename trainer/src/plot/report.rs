//! The figures of an evaluation report, drawn together into its folder: ROC and DET of the model
//! beside the baselines (`roc`, `det`), the model's genuine/impostor test distances with its
//! threshold (`histogram`), the run's training curves (`curves`, when it logged any) and the test
//! embeddings projected to 2-D (`embedding_map`, for embedding networks).

use std::path::{Path, PathBuf};

use super::{
    embedding_map, save, CurvesFigure, DetFigure, EmbeddingFigure, HistogramFigure, PlotError,
    RocCurve, RocFigure,
};
use crate::train::LogRecord;

/// What one report's figures show.
#[derive(Debug, Clone)]
pub struct ReportFigures<'a> {
    /// What was judged, for the titles, e.g. "orl fold 0".
    pub what: String,
    /// The model's name, e.g. "Siamese CNN (candle)".
    pub model: &'a str,
    /// ROC curves: the model's first, then the baselines'.
    pub curves: Vec<RocCurve>,
    /// The model's genuine test distances.
    pub genuine: &'a [f64],
    /// The model's impostor test distances.
    pub impostor: &'a [f64],
    /// The model's decision threshold (distance; accept when `d <= threshold`).
    pub threshold: f64,
    /// The run's training log (`log.jsonl`), if it has lines.
    pub log: Option<Vec<LogRecord>>,
    /// Test embeddings (one row per image) and their identities, for an embedding network.
    pub embeddings: Option<(&'a [Vec<f32>], &'a [u32])>,
}

/// Draws `fig` into `out/` (PNG and SVG of each figure) and returns the files written.
pub fn save_report_figures(fig: ReportFigures<'_>, out: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let what = &fig.what;
    let mut files = Vec::new();
    let size = (900, 650);
    files.extend(save(
        &RocFigure {
            title: format!("ROC, {what} (test identities)"),
            curves: fig.curves.clone(),
        },
        &out.join("roc"),
        size,
    )?);
    files.extend(save(
        &DetFigure {
            title: format!("DET, {what} (test identities)"),
            curves: fig.curves,
        },
        &out.join("det"),
        size,
    )?);
    files.extend(save(
        &HistogramFigure {
            title: format!("{}: test distances, {what}", fig.model),
            genuine: fig.genuine.to_vec(),
            impostor: fig.impostor.to_vec(),
            threshold: Some(fig.threshold),
        },
        &out.join("histogram"),
        size,
    )?);
    if let Some(records) = fig.log.filter(|r| !r.is_empty()) {
        files.extend(save(
            &CurvesFigure {
                title: format!("training, {what}"),
                records,
            },
            &out.join("curves"),
            size,
        )?);
    }
    if let Some((e, labels)) = fig.embeddings {
        let points = embedding_map::project_2d(e).ok_or(PlotError::Empty {
            what: "embedding map",
        })?;
        files.extend(save(
            &EmbeddingFigure {
                title: format!("test embeddings (PCA to 2-D), {what}"),
                points,
                labels: labels.to_vec(),
            },
            &out.join("embedding_map"),
            (800, 700),
        )?);
    }
    Ok(files)
}
