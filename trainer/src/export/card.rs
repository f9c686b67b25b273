//! The model card: what a shipped model is, what it was trained and judged on, and how well it
//! does on each runtime, with the command behind every number.
//!
//! `card.json` is the machine-readable form ([`ModelCard`], schema [`CARD_SCHEMA_VERSION`]);
//! `CARD.md` is [`ModelCard::to_markdown`] of the same value. Rates are fractions in `[0, 1]` in
//! JSON and percents in Markdown; every rate carries its trial counts and a 95% interval.

use serde::Serialize;
use siamedge_format::{LayerKind, Model};

use super::folds::{FoldCard, FoldSummary};
use crate::eval::{Spread, VerificationReport};

/// Version of the `card.json` layout. Version 2 dropped the tract row and the tract fields of
/// [`ParityCard`] (`f32_candle_vs_tract_max_abs`, `engine_vs_tract_*`): peers' execution of the
/// ONNX files is a parity test in `tests/`, not a card number. Version 3 added `folds` and
/// `fold_summary` (absent when the recipe was not run on every fold).
pub const CARD_SCHEMA_VERSION: u32 = 3;

/// Multiply-accumulates of one inference of an int8 model (conv, depthwise, dense; pools and
/// normalization not counted).
pub fn macs(model: &Model<'_>) -> u64 {
    model
        .layers()
        .iter()
        .map(|l| match l.kind {
            LayerKind::Conv2d(w) => {
                l.output.elements()
                    * u64::from(w.kernel_h)
                    * u64::from(w.kernel_w)
                    * u64::from(l.input.c)
            }
            LayerKind::DepthwiseConv2d { window: w, .. } => {
                l.output.elements() * u64::from(w.kernel_h) * u64::from(w.kernel_w)
            }
            LayerKind::Dense => l.input.elements() * u64::from(l.output.c),
            _ => 0,
        })
        .sum()
}

/// Parameters of an int8 model: weights plus one bias per output channel of each weighted layer
/// (batch normalization already folded in).
pub fn parameters(model: &Model<'_>) -> u64 {
    model
        .layers()
        .iter()
        .map(|l| l.weights().len() as u64 + l.biases().len() as u64)
        .sum()
}

/// Where the card's data came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataCard {
    /// Data set name, e.g. "ORL faces (AT&T Laboratories Cambridge)".
    pub dataset: String,
    /// The protocol in one line: split, image size, pairs.
    pub protocol: String,
    /// Identities the model was trained on (fit), described.
    pub train_identities: String,
    /// Identities carved out of the training ones and held out of training: the calibration
    /// people of the operating points (and of checkpoint selection when the run chose one).
    pub validation_identities: String,
    /// Identities the model never saw, on which every result below is measured.
    pub held_out_identities: String,
}

/// The network and its footprint on the device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchitectureCard {
    /// One line, e.g. "conv3x3-BN-ReLU-maxpool x3 (16, 32, 64), fc 64, L2-normalized".
    pub description: String,
    /// Input `(height, width, channels)`.
    pub input: (u16, u16, u8),
    /// Input normalization `x = (p / 255 - mean) / std`, per channel.
    pub normalization: String,
    /// Float parameters of the trained network (batch-norm affine terms included, running
    /// statistics not).
    pub float_parameters: u64,
    /// Parameters of the int8 model (batch norm folded).
    pub int8_parameters: u64,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Activation arena the firmware reserves, bytes.
    pub arena_bytes: u32,
    /// Embedding length.
    pub embedding_dim: u16,
    /// Bytes of one int8 embedding (its values; a template adds a scale and a header).
    pub embedding_bytes: u16,
    /// Whether embeddings are L2-normalized.
    pub l2_normalized: bool,
    /// The metric name.
    pub metric: String,
}

/// A file of the model folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCard {
    /// Name inside the folder.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// What it is.
    pub what: String,
}

/// One operating point of the model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdCard {
    /// Target false-accept rate.
    pub far: f64,
    /// Distance threshold (accept when `d <= threshold`).
    pub threshold: f64,
    /// What the threshold was calibrated on.
    pub calibrated_on: String,
    /// FAR and TAR at this threshold on the held-out test pairs (int8 reference executor).
    pub test: Option<crate::eval::AtThreshold>,
}

/// One line of the results table: a runtime of this model, or a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultCard {
    /// E.g. "f32 (candle)", "int8 (reference executor = firmware kernels)", "raw pixels, L2".
    pub method: String,
    /// Whether this is a baseline rather than this model.
    pub baseline: bool,
    /// The metrics on the held-out test pairs.
    pub verification: VerificationReport,
    /// The command that produced this line.
    pub command: String,
}

/// Agreement between int8 and f32 on the held-out images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityCard {
    /// Images compared.
    pub images: usize,
    /// Smallest cosine between int8 (engine) and f32 (candle) embeddings, in `[-1, 1]`.
    pub int8_vs_f32_min_cosine: f64,
}

/// The whole card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCard {
    /// [`CARD_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Folder name, e.g. "face-orl".
    pub name: String,
    /// What it verifies.
    pub task: String,
    /// The model id (hex) every template of this model carries.
    pub model_id: String,
    /// Data and split.
    pub data: DataCard,
    /// Network and footprint.
    pub architecture: ArchitectureCard,
    /// The folder's files.
    pub files: Vec<FileCard>,
    /// Operating points in the model file.
    pub thresholds: Vec<ThresholdCard>,
    /// Results on the held-out identities: this model on each runtime, then the baselines.
    pub results: Vec<ResultCard>,
    /// Runtime agreement.
    pub parity: ParityCard,
    /// The recipe on every test fold and seed (`folds[k].int8.eer`, means over seeds); absent
    /// when not measured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<FoldCard>,
    /// The folds together: the per-seed mean EER over the folds, its spread over seeds, and the
    /// operating points on every run's test people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold_summary: Option<FoldSummary>,
    /// The commands that produced this folder, in order.
    pub commands: Vec<String>,
    /// Notes on reproducibility and limits.
    pub notes: Vec<String>,
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

/// `value % [lower, upper] (count/total)`: a rate with its 95% interval.
fn rate_ci(r: &crate::eval::Rate) -> String {
    format!(
        "{} % [{}, {}] ({}/{})",
        pct(r.value),
        pct(r.ci95.lower),
        pct(r.ci95.upper),
        r.count,
        r.total
    )
}

/// `mean ± sd` in percent.
fn pct_sd(s: &Spread) -> String {
    format!("{} ± {}", pct(s.mean), pct(s.sd))
}

/// `mean [min, max]` in percent.
fn pct_range(s: &Spread) -> String {
    format!("{} [{}, {}]", pct(s.mean), pct(s.min), pct(s.max))
}

/// The `folds` section of `CARD.md`.
fn folds_markdown(folds: &[FoldCard], summary: &FoldSummary) -> String {
    let mut s = String::from("\n## Every fold (the same recipe, retrained per fold and seed)\n\n");
    s += &format!(
        "Each fold's test people never trained; each run quantized as this folder's model was \
         (thresholds from its own validation people). EER mean ± sd over seeds {:?}, percent; \
         the shipped operating points' test FAR and TAR are mean [min, max] over the seeds.\n\n",
        summary.seeds
    );
    let points = folds.first().map_or(0, |f| f.operating_points.len());
    s += "| fold | f32 EER % | int8 EER % | int8 TAR@FAR=1e-3 % |";
    let far_of = |k: usize| folds[0].operating_points[k].target_far;
    for k in 0..points {
        s += &format!(" test FAR at the {:.0e} point % | test TAR % |", far_of(k));
    }
    s += "\n|---|---|---|---|";
    s += &"---|---|".repeat(points);
    s += "\n";
    for f in folds {
        let tar3 = f
            .int8
            .tar_at_far
            .iter()
            .find(|(far, _)| (*far - 1e-3).abs() < 1e-12)
            .map_or_else(|| "-".into(), |(_, t)| pct(*t));
        s += &format!(
            "| {} | {} | {} | {} |",
            f.fold,
            pct_sd(&f.f32.eer_spread),
            pct_sd(&f.int8.eer_spread),
            tar3
        );
        for p in &f.operating_points {
            s += &format!(" {} | {} |", pct_range(&p.test_far), pct_range(&p.test_tar));
        }
        s += "\n";
    }
    s += &format!(
        "| **mean of folds, over seeds** | {} | {} | |",
        pct_sd(&summary.f32_mean_eer),
        pct_sd(&summary.int8_mean_eer)
    );
    for p in &summary.operating_points {
        s += &format!(" {} | {} |", pct_range(&p.test_far), pct_range(&p.test_tar));
    }
    s += "\n";
    s
}

impl ModelCard {
    /// `CARD.md`.
    pub fn to_markdown(&self) -> String {
        let a = &self.architecture;
        let mut s = String::new();
        s += &format!("# Model card: {}\n\n", self.name);
        s += &format!("Task: {}. Model id `{}`.\n\n", self.task, self.model_id);
        s += "## Data and split\n\n";
        s += &format!("- Data: {}\n", self.data.dataset);
        s += &format!("- Protocol: {}\n", self.data.protocol);
        s += &format!("- Trained on: {}\n", self.data.train_identities);
        s += &format!("- Validation people: {}\n", self.data.validation_identities);
        s += &format!(
            "- **Never saw**: {} (every result below is on them)\n\n",
            self.data.held_out_identities
        );
        s += "## Architecture and footprint\n\n";
        s += &format!("- {}\n", a.description);
        s += &format!(
            "- Input {}x{}x{} (h x w x c), {}\n",
            a.input.0, a.input.1, a.input.2, a.normalization
        );
        s += &format!(
            "- Parameters: {} float (BN included), {} int8 (BN folded); {} MACs per inference\n",
            a.float_parameters, a.int8_parameters, a.macs
        );
        s += &format!(
            "- Arena RAM: {} bytes; embedding: {} values = {} bytes int8, {}L2-normalized, metric {}\n\n",
            a.arena_bytes,
            a.embedding_dim,
            a.embedding_bytes,
            if a.l2_normalized { "" } else { "not " },
            a.metric
        );
        s += "## Files\n\n| file | bytes | sha256 | what |\n|---|---|---|---|\n";
        for f in &self.files {
            s += &format!(
                "| `{}` | {} | `{}` | {} |\n",
                f.name,
                f.bytes,
                &f.sha256[..16.min(f.sha256.len())],
                f.what
            );
        }
        s += "\n## Operating points (in `model.sgm`)\n\n";
        s += "| target FAR | threshold | calibrated on | test FAR [95% CI] | test TAR [95% CI] |\n|---|---|---|---|---|\n";
        for t in &self.thresholds {
            let (far, tar) = match &t.test {
                Some(at) => (rate_ci(&at.far), rate_ci(&at.tar)),
                None => ("-".into(), "-".into()),
            };
            s += &format!(
                "| {:.0e} | {:.4} | {} | {} | {} |\n",
                t.far, t.threshold, t.calibrated_on, far, tar
            );
        }
        s += "\n## Results on the held-out identities\n\n";
        s += "EER and TAR in percent with 95% intervals; trial counts in the first column.\n\n";
        s += "| method | trials (gen/imp) | EER % [95% CI] | TAR@FAR=1e-3 % [95% CI] | TAR@FAR=1e-2 % | AUC [95% CI] |\n";
        s += "|---|---|---|---|---|---|\n";
        for r in &self.results {
            let v = &r.verification;
            let tar = |f: f64| {
                v.tar_at(f)
                    .map(|t| {
                        format!(
                            "{} [{}, {}]",
                            pct(t.point.tar.value),
                            pct(t.point.tar.ci95.lower),
                            pct(t.point.tar.ci95.upper)
                        )
                    })
                    .unwrap_or_else(|| "-".into())
            };
            s += &format!(
                "| {}{} | {}/{} | {} [{}, {}] | {} | {} | {:.4} [{:.4}, {:.4}] |\n",
                r.method,
                if r.baseline { " (baseline)" } else { "" },
                v.genuine_trials,
                v.impostor_trials,
                pct(v.eer.rate),
                pct(v.eer.ci95.lower),
                pct(v.eer.ci95.upper),
                tar(1e-3),
                tar(1e-2),
                v.auc,
                v.auc_ci95.lower,
                v.auc_ci95.upper
            );
        }
        if let Some(summary) = &self.fold_summary {
            s += &folds_markdown(&self.folds, summary);
        }
        let p = &self.parity;
        s += &format!(
            "\n## Runtime agreement ({} held-out images)\n\n- int8 reference executor vs f32: min cosine {:.5}\n",
            p.images, p.int8_vs_f32_min_cosine
        );
        s += "\n## How every number was produced\n\n";
        for r in &self.results {
            s += &format!("- {}: `{}`\n", r.method, r.command);
        }
        s += "\nThe folder itself:\n\n```sh\n";
        for c in &self.commands {
            s += c;
            s += "\n";
        }
        s += "```\n";
        if !self.notes.is_empty() {
            s += "\n## Notes\n\n";
            for n in &self.notes {
                s += &format!("- {n}\n");
            }
        }
        s
    }
}
