//! `siamedge-train calibrate`: recompute a model file's thresholds for target false-accept rates on
//! your own data, and rewrite its decision section.
//!
//! The thresholds are measured with the model's int8 embeddings (the firmware's engine) on every
//! pair of the calibration images: use people the model will meet, never the pairs you will judge
//! it on. The file is rewritten atomically as a current-version (2) model file, whose id leaves
//! the decision section out: recalibrating a version-2 file keeps its id, so enrolled templates
//! and the folder's ONNX files stay paired with it. A version-1 file gets its version-2 id once
//! (reported as old -> new); templates enrolled with the version-1 id must be enrolled again.
//!
//! Data: your own folder of people (`--data folder --data-dir DIR`: one sub-folder per person,
//! their images inside, read with the preprocessing contract at the model's input size: the same
//! pixels the edge enrolls), the training people of an ORL fold, or MNIST digits 0-4 of the
//! training split. Any other labelled set plugs in through
//! [`siamedge_trainer::quant::thresholds::recalibrate`], which takes a [`LabelledSet`] at the
//! model's input size.
//!
//! Calibrating on the people you have enrolled measures the FAR among *them*; the operating point
//! holds for strangers only as far as your people are like the strangers your device will meet.
//! More people give a finer FAR: 20 people with 5 images each give 4,750 impostor pairs, so a
//! target of 1e-3 means at most 4 false accepts.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;
use siamedge_format::Model;

use siamedge_trainer::data::folder::ImageFolder;
use siamedge_trainer::data::LabelledSet;
use siamedge_trainer::protocol::{DataKind, DataSource};
use siamedge_trainer::quant::thresholds::{recalibrate, CalibratedPoint};

/// Calibration data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalibData {
    /// The 30 training people of ORL fold `--fold`.
    Orl,
    /// MNIST training images of digits 0-4 (`--limit` of them).
    Mnist,
    /// Your own folder (`--data-dir`): one sub-folder of images per person.
    Folder,
}

/// Arguments of `siamedge-train calibrate`.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// The model file to recalibrate.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Calibration data.
    #[arg(long, value_enum)]
    pub data: CalibData,
    /// Folder data: one sub-folder per person with their images (PGM, PNG, JPEG).
    #[arg(long, value_name = "DIR", required_if_eq("data", "folder"))]
    pub data_dir: Option<PathBuf>,
    /// ORL fold whose training people calibrate.
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// MNIST: images of digits 0-4 to use.
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// Target false-accept rates, each in (0, 1]; the first is the default operating point.
    #[arg(long, value_delimiter = ',', default_value = "1e-3,1e-2")]
    pub far: Vec<f64>,
    /// Where to write the recalibrated file [default: rewrite --model in place].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct CalibrateReport {
    model: PathBuf,
    images: usize,
    identities: usize,
    points: Vec<CalibratedPoint>,
    old_id: String,
    new_id: String,
}

/// The calibration images: every image of the folder, or the training identities of the
/// protocol's split ([`DataSource`]).
fn load_set(args: &CalibrateArgs, h: usize, w: usize) -> Result<LabelledSet> {
    let kind = match args.data {
        CalibData::Orl => DataKind::Orl,
        CalibData::Mnist => DataKind::Mnist,
        CalibData::Folder => {
            let dir = args
                .data_dir
                .as_deref()
                .context("--data folder needs --data-dir DIR")?;
            let folder = ImageFolder::load(dir, h, w)?;
            let all: Vec<usize> = (0..folder.len()).collect();
            return folder
                .set(&all)
                .with_context(|| format!("reading {}", dir.display()));
        }
    };
    let source = DataSource {
        cache: args.cache.clone(),
        fold: args.fold,
        limit: args.limit,
        ..DataSource::new(kind)
    };
    Ok(source.load(h, w)?.threshold_set)
}

/// Runs `siamedge-train calibrate`.
pub fn run(args: CalibrateArgs, _verbose: u8) -> Result<()> {
    let bytes =
        std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let model =
        Model::decode(&bytes).with_context(|| format!("decoding {}", args.model.display()))?;
    let (h, w) = (
        usize::from(model.input().height),
        usize::from(model.input().width),
    );
    let old_id = hex::encode(model.id().as_bytes());
    let set = load_set(&args, h, w)?;
    let (new_bytes, points) = recalibrate(&bytes, &set, &args.far)?;
    let out = args.out.clone().unwrap_or_else(|| args.model.clone());
    siamedge_format::file::write_atomic(&out, &new_bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    let new_id = hex::encode(Model::decode(&new_bytes)?.id().as_bytes());
    let report = CalibrateReport {
        model: out,
        images: set.len(),
        identities: set.classes().len(),
        points,
        old_id,
        new_id,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} images of {} identities; model id {} -> {}",
            report.model.display(),
            report.images,
            report.identities,
            &report.old_id[..16],
            &report.new_id[..16]
        );
        for p in &report.points {
            println!(
                "  FAR {:.0e}: threshold {:.4} ({} of {} impostor pairs accepted, TAR {:.1}% of {})",
                p.target_far,
                p.threshold,
                p.far.count,
                p.far.total,
                100.0 * p.tar.value,
                p.tar.total
            );
        }
    }
    Ok(())
}
