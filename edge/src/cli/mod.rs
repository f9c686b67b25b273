//! The `siamedge` command line: what every subcommand shares (the model folder, the store and its
//! key, the operating point, text or JSON output). Declared by `main.rs` only; each subcommand is
//! one module with an `Args` struct and a `run` function, and no module calls another's `run`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use siamedge_edge::bundle::ModelBundle;
use siamedge_edge::index::GalleryIndex;
use siamedge_edge::store::{SqliteStore, StoreKey, TemplateStore};
use siamedge_edge::Runtime;
use siamedge_format::{Decision, DecisionSpec};

pub mod bench;
pub mod compare;
pub mod demo;
pub mod gallery;
pub mod inspect;
pub mod match_;
pub mod serve;

/// Face and signature verification on a Linux box: enroll, verify and identify people with an
/// exported siamedge model, from the command line or as an HTTP service.
///
/// Exit status: 0 whatever the decision (ACCEPT or REJECT); non-zero only on an error, which is
/// printed on stderr naming the file, field or value.
#[derive(Parser, Debug)]
#[command(name = "siamedge", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Args, Debug)]
pub struct Common {
    /// Model folder (as `siamedge-train export` writes it): model.sgm, and model.onnx,
    /// model.int8.onnx and card.json, which must all name the same model. Or a pipeline folder
    /// (as `siamedge-train face-api export` writes it): pipeline.sgp, landmarks.onnx,
    /// recognition.onnx and card.json.
    #[arg(
        long,
        global = true,
        env = "SIAMEDGE_MODEL",
        default_value = "models/face-orl"
    )]
    pub model: PathBuf,
    /// A model file (.sgm) to use instead of the folder's model.sgm (it must pair with the folder;
    /// not for pipeline folders).
    #[arg(long, global = true)]
    pub sgm: Option<PathBuf>,
    /// Run the float graph model.onnx on tract instead of the int8 model file on the engine (a
    /// pipeline folder always runs its float networks on tract).
    #[arg(long, global = true)]
    pub float: bool,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The store key: a file of 32 raw bytes or 64 hex digits (default: $SIAMEDGE_KEY, 64 hex
    /// digits).
    #[arg(long, global = true, conflicts_with = "insecure_plaintext")]
    pub key_file: Option<PathBuf>,
    /// Keep templates unencrypted in a store created now (biometric data in the clear: for
    /// tests only). `inspect` reports it.
    #[arg(long, global = true)]
    pub insecure_plaintext: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The first thing to run: fetch ORL if needed, enroll the shipped face model's held-out
    /// people (people it never saw) into a fresh encrypted store, verify and identify the rest.
    Demo(demo::DemoArgs),
    /// Compare two images: their distance and the decision at the operating point.
    Compare(compare::CompareArgs),
    /// Enroll a subject from one or more images (creates the store if it does not exist).
    Enroll(match_::EnrollArgs),
    /// Verify (1:1) an image against an enrolled subject.
    Verify(match_::VerifyArgs),
    /// Identify (1:N) an image: the nearest enrolled subjects and whether the first is accepted.
    Identify(match_::IdentifyArgs),
    /// Manage the enrolled subjects of a store: list, remove, export, import, rekey.
    #[command(subcommand)]
    Gallery(gallery::GalleryCommand),
    /// Describe a model or pipeline folder or file, a store, a gallery file or a template file.
    Inspect(inspect::InspectArgs),
    /// Embedding latency and throughput of this model on this machine, and 1:N search speed.
    Bench(bench::BenchArgs),
    /// Serve enroll, verify and identify over HTTP (loopback by default).
    Serve(serve::ServeArgs),
}

impl Common {
    /// The model folder, checked to pair (model file, ONNX files and card name one model).
    pub fn bundle(&self) -> Result<ModelBundle> {
        let bundle = match &self.sgm {
            None => ModelBundle::open(&self.model),
            Some(sgm) => {
                let pipeline = self.model.join(siamedge_format::pipeline::PIPELINE_FILE);
                if pipeline.exists() {
                    bail!(
                        "--sgm {}: {} is a pipeline folder ({} exists); --sgm replaces the \
                         model.sgm of a model folder",
                        sgm.display(),
                        self.model.display(),
                        pipeline.display()
                    );
                }
                ModelBundle::with_model_file(&self.model, sgm)
            }
        };
        Ok(bundle?)
    }

    /// The runtime: the int8 model file on the engine, or `model.onnx` on tract with `--float`;
    /// a pipeline folder's networks on tract.
    pub fn runtime(&self) -> Result<Runtime> {
        Ok(self.bundle()?.runtime(self.float)?)
    }

    /// The store key: `None` with `--insecure-plaintext`; else `--key-file` or `$SIAMEDGE_KEY`.
    pub fn key(&self) -> Result<Option<StoreKey>> {
        if self.insecure_plaintext {
            return Ok(None);
        }
        if let Some(path) = &self.key_file {
            return Ok(Some(StoreKey::from_file(path)?));
        }
        match StoreKey::from_env()? {
            Some(key) => Ok(Some(key)),
            None => bail!(
                "no store key: give --key-file FILE or set SIAMEDGE_KEY (64 hex digits); \
                 --insecure-plaintext keeps templates unencrypted"
            ),
        }
    }

    /// Opens the store at `path`, which must hold templates of `rt`'s model; with `create`, a
    /// missing store is created (encrypted under the key, or plain with `--insecure-plaintext`).
    pub fn store(&self, path: &Path, rt: &Runtime, create: bool) -> Result<SqliteStore> {
        let key = self.key()?;
        let store = if create && !path.exists() {
            SqliteStore::create(path, rt.id(), key)?
        } else {
            if !path.exists() {
                bail!("store {}: no such file", path.display());
            }
            SqliteStore::open(path, key)?
        };
        if store.model() != rt.id() {
            bail!(
                "store {} holds templates of model {}, but {} is model {}",
                path.display(),
                store.model(),
                rt.model_path().display(),
                rt.id()
            );
        }
        Ok(store)
    }
}

/// Every template of `store` in an in-memory index for `rt`'s model (1:N search).
pub fn load_index(rt: &Runtime, store: &mut dyn TemplateStore) -> Result<GalleryIndex> {
    let mut index = GalleryIndex::for_runtime(rt)?;
    let mut failed = None;
    store.scan(&mut |t| {
        if let Err(e) = index.upsert(&t) {
            failed.get_or_insert((t.subject(), e));
        }
        Ok(())
    })?;
    if let Some((subject, e)) = failed {
        return Err(anyhow::Error::new(e).context(format!("indexing subject {subject}")));
    }
    Ok(index)
}

/// Where the decision threshold comes from.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct PointArgs {
    /// Decide at the model's operating point with this false-accept rate (or the strictest one
    /// below it), e.g. 1e-3.
    #[arg(long, conflicts_with = "threshold")]
    pub far: Option<f32>,
    /// Decide at this distance threshold (accept when distance <= threshold).
    #[arg(long)]
    pub threshold: Option<f32>,
}

/// An operating point: a threshold, and the false-accept rate the model measured for it (none
/// for a threshold given by hand).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Point {
    pub threshold: f32,
    pub far: Option<f32>,
}

impl PointArgs {
    /// The point these flags pick from the model's decision section (its default without flags).
    pub fn point(&self, decision: &DecisionSpec) -> Result<Point> {
        if let Some(t) = self.threshold {
            if !(t.is_finite() && t >= 0.0) {
                bail!("--threshold {t}: a threshold must be finite and >= 0");
            }
            return Ok(Point {
                threshold: t,
                far: None,
            });
        }
        let p = match self.far {
            None => decision.default_point(),
            Some(far) => match decision.point_for_far(far) {
                Some(p) => p,
                None => bail!(
                    "--far {far}: the model has no operating point at that false-accept rate or \
                     below; its points (far -> threshold): {}",
                    points_text(decision)
                ),
            },
        };
        Ok(Point {
            threshold: p.threshold,
            far: Some(p.far),
        })
    }
}

/// `far -> threshold` of every operating point, for messages.
pub fn points_text(decision: &DecisionSpec) -> String {
    decision
        .points()
        .iter()
        .map(|p| format!("{} -> {:.4}", p.far, p.threshold))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict on `distance` at `point`, scored with the model's margin.
pub fn decide(decision: &DecisionSpec, point: Point, distance: f32) -> Decision {
    Decision::new(distance, point.threshold, decision.margin())
}

/// `ACCEPT` or `REJECT`.
pub fn verdict(accept: bool) -> &'static str {
    if accept {
        "ACCEPT"
    } else {
        "REJECT"
    }
}

/// "threshold T (FAR F)" or "threshold T (given)".
pub fn point_text(point: Point) -> String {
    match point.far {
        Some(far) => format!("threshold {:.4} at FAR {far}", point.threshold),
        None => format!("threshold {:.4} (given)", point.threshold),
    }
}

/// Prints `value` as one JSON line with `--json`, else the text `text` makes.
pub fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", text())?;
    }
    out.flush()?;
    Ok(())
}
