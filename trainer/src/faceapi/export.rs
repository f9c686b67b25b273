//! `models/face-aligned/`: the pretrained pipeline as files the edge runs, with its card.
//!
//! What [`export_folder`] writes (atomically, each file):
//! - `landmarks.onnx`, `recognition.onnx`: both networks as f32 ONNX ([`super::onnx`]), built from
//!   the fetched weights; third-party data, so the repository ignores them and keeps only
//! - `manifest.json`: the package, version and sha256 of the tarball and of every weight file the
//!   ONNX files came from, and the sha256 of the ONNX files themselves (the build is
//!   deterministic: the same weights give the same bytes), and
//! - `pipeline.sgp`: the pipeline file the edge runs (`siamedge_format::pipeline`): the SHA-256 of
//!   both ONNX files, the shipped alignment variant and operating points; its id is the card's
//!   `model_id`. Committed: the ONNX build is deterministic, so the ONNX files that
//!   `face-api export --onnx-only` builds on another machine pair with it;
//! - `card.json` and `CARD.md`: the 4 ORL folds ([`super::orl`]), the shipped variant and operating
//!   points, the cost, the source and license, what it does not cover.
//!
//! The shipped choices (alignment variant, thresholds at the operating FARs) are those of one
//! fold's 30 training people (fold 0 by default, like `models/face-orl`); the network never trained
//! on ORL, so the thresholds are calibrated on people it never saw.

use std::path::{Path, PathBuf};

use serde::Serialize;
use siamedge_data::cache::sha256_hex;
use siamedge_data::faceapi::FILES;

use super::onnx::{landmark_macs, landmark_onnx, recognition_macs, recognition_onnx};
use super::orl::AlignedOrlReport;
use super::{TfjsWeights, LANDMARK_MANIFEST, RECOGNITION_MANIFEST};
use crate::export::proto::to_bytes;
use siamedge_format::decision::{DecisionSpec, OperatingPoint};
use siamedge_format::pipeline::{PipelineSpec, PIPELINE_FILE};
use siamedge_format::preprocess::align::AlignVariant;

/// The landmark network's file in the folder.
pub const LANDMARK_ONNX: &str = "landmarks.onnx";
/// The recognition network's file in the folder.
pub const RECOGNITION_ONNX: &str = "recognition.onnx";

/// Why the folder could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FaceExportError {
    /// The weights.
    #[error(transparent)]
    Weights(#[from] super::TfjsError),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: siamedge_format::file::WriteError,
    },
    /// The report has no such fold.
    #[error("the evaluation has no fold {0}")]
    NoFold(usize),
    /// The pipeline file could not be made (a threshold or variant it refuses).
    #[error("making {PIPELINE_FILE}: {0}")]
    Pipeline(#[from] siamedge_format::FormatError),
    /// The fold's chosen variant is not one the pipeline format knows.
    #[error("fold {fold} chose the alignment variant {variant:?}, which the pipeline format does not know")]
    Variant {
        /// The fold.
        fold: usize,
        /// Its variant.
        variant: String,
    },
    /// JSON encoding failed.
    #[error("encoding {what}: {source}")]
    Json {
        /// Which document.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
}

/// A file of the folder.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
    /// What it is.
    pub what: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Always `"siamedge-face-aligned"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// Where the weights come from.
    pub source: siamedge_data::manifest::SourceRecord,
    /// License of the package and of the weights.
    pub license: String,
    /// The weight files (from the tarball) the ONNX files were built from.
    pub weights: Vec<FileEntry>,
    /// The built files.
    pub onnx: Vec<FileEntry>,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FaceExportError> {
    siamedge_format::file::write_atomic(path, bytes).map_err(|source| FaceExportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The license line of the card and the manifest.
pub const LICENSE: &str = "MIT (npm package @vladmandic/face-api by Vladimir Mandic; weights from \
face-api.js by Vincent Muehler, MIT; the recognition network is a port of Davis King's dlib \
dlib_face_recognition_resnet_model_v1, public domain / CC0)";

/// Writes `landmarks.onnx`, `recognition.onnx` and `manifest.json` into `out` from the weights in
/// `weights_dir` (the fetched `face-api/` folder). Returns the manifest.
pub fn write_onnx_files(weights_dir: &Path, out: &Path) -> Result<Manifest, FaceExportError> {
    build_onnx_files(weights_dir, out).map(|(manifest, _)| manifest)
}

/// [`write_onnx_files`], also returning the bytes written: landmarks, then recognition.
fn build_onnx_files(
    weights_dir: &Path,
    out: &Path,
) -> Result<(Manifest, [Vec<u8>; 2]), FaceExportError> {
    let source = siamedge_data::download::FACE_API.record();
    let lm = TfjsWeights::read(&weights_dir.join(LANDMARK_MANIFEST))?;
    let rec = TfjsWeights::read(&weights_dir.join(RECOGNITION_MANIFEST))?;
    let meta = [
        (
            "source",
            format!("npm {}@{}", source.package, source.version),
        ),
        ("license", LICENSE.to_string()),
    ];
    let mut onnx = Vec::new();
    let mut built = Vec::new();
    for (name, bytes, what) in [
        (
            LANDMARK_ONNX,
            to_bytes(&landmark_onnx(&lm, &meta)?),
            format!(
                "FaceLandmark68Net, f32 ONNX opset 13: image (N, 3, 112, 112) RGB 0..255 -> \
                 landmarks (N, 136); {} parameters",
                lm.parameters()
            ),
        ),
        (
            RECOGNITION_ONNX,
            to_bytes(&recognition_onnx(&rec, &meta)?),
            format!(
                "FaceRecognitionNet, f32 ONNX opset 13: image (N, 3, 150, 150) RGB 0..255 -> \
                 embedding (N, 128) raw descriptor; {} parameters",
                rec.parameters()
            ),
        ),
    ] {
        write(&out.join(name), &bytes)?;
        onnx.push(FileEntry {
            name: name.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            what,
        });
        built.push(bytes);
    }
    let weights = FILES
        .iter()
        .map(|f| FileEntry {
            name: f.name.into(),
            bytes: f.bytes,
            sha256: f.sha256.into(),
            what: format!("from the tarball's {}", f.member),
        })
        .collect();
    let manifest = Manifest {
        format: "siamedge-face-aligned".into(),
        version: 1,
        source,
        license: LICENSE.into(),
        weights,
        onnx,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|source| FaceExportError::Json {
        what: "manifest.json",
        source,
    })?;
    write(&out.join("manifest.json"), &json)?;
    let recognition = built.pop().unwrap_or_default();
    let landmarks = built.pop().unwrap_or_default();
    Ok((manifest, [landmarks, recognition]))
}

/// The card's cost section.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// Landmark net parameters.
    pub landmark_parameters: usize,
    /// Recognition net parameters.
    pub recognition_parameters: usize,
    /// Multiply-accumulates of one landmark pass.
    pub landmark_macs: u64,
    /// Multiply-accumulates of one recognition pass.
    pub recognition_macs: u64,
    /// Landmark passes per face for the shipped variant (1 or 2).
    pub landmark_passes: usize,
    /// MACs per face for the shipped variant.
    pub macs_per_face: u64,
}

/// `card.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// 1.
    pub schema_version: u32,
    /// "face-aligned".
    pub name: String,
    /// What it does.
    pub task: String,
    /// The pipeline file's id (`pipeline.sgp`), 32 hex digits: the edge checks that the card, the
    /// pipeline and its two networks belong together.
    pub model_id: String,
    /// The data the choices and the numbers came from (`data.protocol` names the shipped fold, as
    /// `models/face-orl`'s card does, for `siamedge demo`).
    pub data: CardData,
    /// `pipeline.sgp` itself.
    pub pipeline: FileEntry,
    /// The score margin of `pipeline.sgp` (the logistic score's midpoint, in Euclidean distance).
    pub margin: f32,
    /// Source, license, credit.
    pub manifest: Manifest,
    /// The shipped alignment variant (chosen on the shipped fold's training people).
    pub variant: String,
    /// The fold whose training people chose the variant and the thresholds.
    pub calibration_fold: usize,
    /// Metric: Euclidean distance of raw descriptors; accept when `d <= threshold`.
    pub metric: String,
    /// Shipped operating points: target FAR and threshold, from the calibration fold's training
    /// people, with what they gave on its test people.
    pub thresholds: Vec<super::orl::Transfer>,
    /// Every fold (`folds[k].f32.eer` etc.).
    pub folds: Vec<CardFold>,
    /// Mean test EER over the folds, fraction.
    pub mean_eer: f64,
    /// Mean test TAR at each FAR target.
    pub mean_tar_at_far: Vec<(f64, f64)>,
    /// Cost.
    pub cost: Cost,
    /// Commands that made it.
    pub commands: Vec<String>,
    /// What it does not cover.
    pub limits: Vec<String>,
}

/// The card's data section.
#[derive(Debug, Clone, Serialize)]
pub struct CardData {
    /// The data set.
    pub dataset: String,
    /// `"ORL fold K: ..."`: the shipped fold.
    pub protocol: String,
    /// Who chose the variant and the thresholds.
    pub calibration_identities: String,
    /// Who the shipped fold's numbers were measured on.
    pub held_out_identities: String,
}

/// The score margin written into `pipeline.sgp`: dlib's own decision distance for this network
/// (0.6, Euclidean), so the displayed score is near 0.5 where dlib's users expect the boundary.
pub const MARGIN: f32 = 0.6;

/// The FAR of the default operating point (the first shipped point at this target, else the
/// first).
pub const DEFAULT_FAR: f64 = 1e-3;

/// One fold in the card.
#[derive(Debug, Clone, Serialize)]
pub struct CardFold {
    /// Fold index.
    pub fold: usize,
    /// Variant chosen on its training people.
    pub variant: String,
    /// The f32 pipeline's test results.
    pub f32: crate::eval::VerificationReport,
    /// Operating points chosen on its training people, measured on its test people.
    pub operating_points: Vec<super::orl::Transfer>,
}

/// Writes the whole folder: ONNX files and manifest ([`write_onnx_files`]), `card.json` and
/// `CARD.md` from `report` (the ORL evaluation), shipping fold `fold`'s choices.
pub fn export_folder(
    weights_dir: &Path,
    report: &AlignedOrlReport,
    fold: usize,
    out: &Path,
) -> Result<Card, FaceExportError> {
    let ship = report
        .folds
        .iter()
        .find(|f| f.fold == fold)
        .ok_or(FaceExportError::NoFold(fold))?;
    let variant =
        AlignVariant::from_name(&ship.chosen).ok_or_else(|| FaceExportError::Variant {
            fold,
            variant: ship.chosen.clone(),
        })?;
    let points: Vec<OperatingPoint> = ship
        .operating_points
        .iter()
        .map(|p| OperatingPoint {
            far: p.target_far as f32,
            threshold: p.threshold as f32,
        })
        .collect();
    let default = ship
        .operating_points
        .iter()
        .position(|p| p.target_far == DEFAULT_FAR)
        .unwrap_or(0);
    let decision = DecisionSpec::new(&points, default, MARGIN)?;
    let (manifest, [landmarks_onnx, recognition_onnx]) = build_onnx_files(weights_dir, out)?;
    let spec = PipelineSpec::face_api(&landmarks_onnx, &recognition_onnx, variant, decision);
    let pipeline = spec.to_bytes()?;
    let model_id = spec.id()?.to_string();
    write(&out.join(PIPELINE_FILE), &pipeline)?;
    let people =
        siamedge_data::orl::fold_people(fold).map_err(|_| FaceExportError::NoFold(fold))?;
    let lm = TfjsWeights::read(&weights_dir.join(LANDMARK_MANIFEST))?;
    let rec = TfjsWeights::read(&weights_dir.join(RECOGNITION_MANIFEST))?;
    let passes = if variant.refines() { 2 } else { 1 };
    let cost = Cost {
        landmark_parameters: lm.parameters(),
        recognition_parameters: rec.parameters(),
        landmark_macs: landmark_macs(),
        recognition_macs: recognition_macs(),
        landmark_passes: passes,
        macs_per_face: passes as u64 * landmark_macs() + recognition_macs(),
    };
    let card = Card {
        schema_version: 1,
        name: "face-aligned".into(),
        task: "face verification and identification: 68 landmarks, similarity alignment to a \
               150x150 chip, 128-d descriptor (Euclidean)"
            .into(),
        model_id,
        data: CardData {
            dataset: "ORL faces (AT&T Laboratories Cambridge), 40 people x 10 images, 92x112 grey"
                .into(),
            protocol: format!(
                "ORL fold {fold}: test people {}..{}, variant and thresholds chosen on the other 30 \
                 people; nothing trained on ORL",
                people.start,
                people.end - 1
            ),
            calibration_identities: format!(
                "the 30 people outside {}..{} (44,850 pairs)",
                people.start,
                people.end - 1
            ),
            held_out_identities: format!(
                "people {}..{} (ORL fold {fold}): 100 images, 450 genuine and 4500 impostor pairs",
                people.start,
                people.end - 1
            ),
        },
        pipeline: FileEntry {
            name: PIPELINE_FILE.into(),
            bytes: pipeline.len() as u64,
            sha256: sha256_hex(&pipeline),
            what: "the pipeline file (siamedge_format::pipeline)".into(),
        },
        margin: MARGIN,
        manifest,
        variant: ship.chosen.clone(),
        calibration_fold: fold,
        metric: "l2 (Euclidean distance of raw 128-d descriptors)".into(),
        thresholds: ship.operating_points.clone(),
        folds: report
            .folds
            .iter()
            .map(|f| CardFold {
                fold: f.fold,
                variant: f.chosen.clone(),
                f32: f.test.clone(),
                operating_points: f.operating_points.clone(),
            })
            .collect(),
        mean_eer: report.mean_eer,
        mean_tar_at_far: report.mean_tar.clone(),
        cost,
        commands: vec![
            "siamedge-train data fetch face-api orl".into(),
            format!(
                "siamedge-train face-api export --out {} --fold {fold}",
                out.display()
            ),
            format!(
                "siamedge-train face-api export --onnx-only --out {}   # the ONNX files only, \
                 on a clone that has the rest",
                out.display()
            ),
        ],
        limits: vec![
            "No face detector: the input is a roughly centred face crop (the landmark net's first \
             pass runs on the whole image, as ORL's 92x112 frames are)."
                .into(),
            "Measured on ORL only (40 people, 400 grey images, one session of lighting): no \
             claim for other populations, cameras or poses."
                .into(),
            "Float only: no int8 form; the MCU cannot hold it (5.6 M parameters, ~0.3 GMAC per \
             face)."
                .into(),
            "Third-party weights: the ONNX files are built from the fetched package and never \
             committed; check manifest.json's sha256 after building."
                .into(),
        ],
    };
    let json = serde_json::to_vec_pretty(&card).map_err(|source| FaceExportError::Json {
        what: "card.json",
        source,
    })?;
    write(&out.join("card.json"), &json)?;
    write(&out.join("CARD.md"), card_markdown(&card).as_bytes())?;
    Ok(card)
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

/// The card as Markdown.
pub fn card_markdown(c: &Card) -> String {
    let mut s = String::new();
    let m = &c.manifest;
    s += &format!("# Model card: {}\n\n", c.name);
    s += &format!("Task: {}.\n\n", c.task);
    s += "## Source and license\n\n";
    s += &format!(
        "- Weights: npm `{}@{}` (tarball sha256 `{}`), fetched by `siamedge-train data fetch \
         face-api`; never committed.\n",
        m.source.package, m.source.version, m.source.sha256
    );
    s += &format!("- License: {}.\n", m.license);
    s += &format!("- Credit: {}.\n\n", m.source.credit);
    s += "## Files (built by `siamedge-train face-api export`)\n\n| file | bytes | sha256 | what |\n|---|---|---|---|\n";
    for f in &m.onnx {
        s += &format!(
            "| `{}` | {} | `{}` | {} |\n",
            f.name,
            f.bytes,
            &f.sha256[..16],
            f.what
        );
    }
    s += &format!(
        "| `{PIPELINE_FILE}` | {} | `{}` | the pipeline the edge runs: both files' SHA-256, variant \
         `{}`, the operating points below (default FAR {:.0e}), score margin {}; id `{}` |\n",
        c.pipeline.bytes,
        &c.pipeline.sha256[..16],
        c.variant,
        DEFAULT_FAR,
        c.margin,
        c.model_id
    );
    s += "\nOn a fresh clone, `siamedge-train data fetch face-api` then `siamedge-train face-api \
          export --onnx-only --out models/face-aligned` builds the two ONNX files (byte for byte \
          these; the edge checks their SHA-256 against `pipeline.sgp`).\n";
    s += "\n## Cost\n\n";
    let k = &c.cost;
    s += &format!(
        "- Landmark net: {} parameters, {:.1} M MACs per pass; recognition net: {} parameters, \
         {:.1} M MACs.\n- Shipped variant `{}`: {} landmark pass(es) + 1 recognition = {:.1} M \
         MACs per face.\n",
        k.landmark_parameters,
        k.landmark_macs as f64 / 1e6,
        k.recognition_parameters,
        k.recognition_macs as f64 / 1e6,
        c.variant,
        k.landmark_passes,
        k.macs_per_face as f64 / 1e6
    );
    s += "- Time per face depends on the machine, so the card does not state it: \
          `scripts/bench-edge.sh models/face-aligned` runs tract beside onnxruntime on these ONNX \
          files, one thread, in one run; the repository README gives one machine's numbers.\n\n";
    s += "## ORL, 4 identity-disjoint folds (all 4,950 test pairs each; 450 genuine, 4,500 impostor)\n\n";
    s += "Nothing was trained on ORL. The alignment variant of each fold was chosen on its 30 \
          training people's 44,850 pairs; EER and TAR in percent with 95 % intervals.\n\n";
    s += "| fold | variant | EER % [95 % CI] | TAR@FAR=1e-3 % [95 % CI] | TAR@FAR=1e-2 % | AUC |\n|---|---|---|---|---|---|\n";
    for f in &c.folds {
        let tar = |far: f64| f.f32.tar_at(far).map(|t| t.point.tar);
        let t3 = tar(1e-3);
        s += &format!(
            "| {} | {} | {} [{}, {}] | {} | {} | {:.4} |\n",
            f.fold,
            f.variant,
            pct(f.f32.eer.rate),
            pct(f.f32.eer.ci95.lower),
            pct(f.f32.eer.ci95.upper),
            t3.map_or("-".into(), |t| format!(
                "{} [{}, {}]",
                pct(t.value),
                pct(t.ci95.lower),
                pct(t.ci95.upper)
            )),
            tar(1e-2).map_or("-".into(), |t| pct(t.value)),
            f.f32.auc
        );
    }
    s += &format!("\nMean EER {} %.\n\n", pct(c.mean_eer));
    s += "## Operating points on people the thresholds never saw\n\n";
    s += "Each fold's thresholds were chosen on its training people for the target FAR and \
          applied to its test people.\n\n| fold | target FAR | threshold | train FAR | test FAR [95 % CI] | test TAR [95 % CI] |\n|---|---|---|---|---|---|\n";
    for f in &c.folds {
        for p in &f.operating_points {
            s += &format!(
                "| {} | {:.0e} | {:.4} | {} % | {} % ({}/{}) [{}, {}] | {} % ({}/{}) [{}, {}] |\n",
                f.fold,
                p.target_far,
                p.threshold,
                pct(p.train.far.value),
                pct(p.test.far.value),
                p.test.far.count,
                p.test.far.total,
                pct(p.test.far.ci95.lower),
                pct(p.test.far.ci95.upper),
                pct(p.test.tar.value),
                p.test.tar.count,
                p.test.tar.total,
                pct(p.test.tar.ci95.lower),
                pct(p.test.tar.ci95.upper),
            );
        }
    }
    s += &format!(
        "\nShipped: variant `{}` and the thresholds of fold {} ({}).\n\n",
        c.variant,
        c.calibration_fold,
        c.thresholds
            .iter()
            .map(|t| format!("FAR {:.0e}: {:.4}", t.target_far, t.threshold))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s += "## Limits\n\n";
    for l in &c.limits {
        s += &format!("- {l}\n");
    }
    s += "\n## Commands\n\n```sh\n";
    for cmd in &c.commands {
        s += &format!("{cmd}\n");
    }
    s += "```\n";
    s
}
