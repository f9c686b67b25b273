//! `siamedge inspect PATH`: what a model folder or file, a pipeline folder or file, a store, a
//! gallery file or a template file holds, read without changing it (a store's templates are not
//! decrypted).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use siamedge_edge::bundle::{FolderKind, ModelBundle};
use siamedge_edge::store::{Protection, SqliteStore};
use siamedge_format::pipeline::Network;
use siamedge_format::{FileKind, Gallery, Metric, Model, Pipeline, Template};

use super::{points_text, print, Common};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A model folder, a model file (.sgm), a pipeline file (.sgp), a store (SQLite), a gallery
    /// (.sgg) or a template file.
    pub path: PathBuf,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub fn run(common: &Common, args: &InspectArgs) -> Result<()> {
    let path = &args.path;
    let (value, text) = if path.is_dir() {
        folder(path)?
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if bytes.starts_with(SQLITE_MAGIC) {
            store(path)?
        } else {
            match siamedge_format::envelope::identify(&bytes) {
                Some(FileKind::Model) => model(path, &bytes)?,
                Some(FileKind::Pipeline) => pipeline(path, &bytes)?,
                Some(FileKind::Gallery) => gallery(path, &bytes)?,
                Some(FileKind::Template) => template(path, &bytes)?,
                Some(kind) => bail!(
                    "{}: a {} file; inspect reads models, pipelines, stores, galleries and \
                     templates",
                    path.display(),
                    kind.name()
                ),
                None => bail!(
                    "{}: not a siamedge file (no known magic) nor an SQLite store ({} bytes)",
                    path.display(),
                    bytes.len()
                ),
            }
        }
    };
    let _ = common;
    print(common.json, &value, || text)
}

fn metric_name(m: &Metric<'_>) -> &'static str {
    match m {
        Metric::SquaredL2 => "squared L2",
        Metric::L2 => "L2",
        Metric::Cosine => "cosine",
        Metric::L1 => "L1",
        Metric::MahalanobisDiag(_) => "diagonal Mahalanobis",
    }
}

fn model_json(m: &Model<'_>) -> Value {
    let input = m.input();
    json!({
        "kind": "model",
        "model_id": m.id().to_string(),
        "task": format!("{:?}", m.task()),
        "input": { "width": input.width, "height": input.height, "channels": input.channels },
        "embedding": { "dim": m.embedding().dim, "scale": m.embedding().scale },
        "metric": metric_name(&m.metric()),
        "operating_points": m.decision().points().iter().map(|p| json!({"far": p.far, "threshold": p.threshold})).collect::<Vec<_>>(),
        "default_point": m.decision().default_index(),
        "layers": m.layers().len(),
    })
}

fn model_text(path: &Path, m: &Model<'_>) -> String {
    let i = m.input();
    format!(
        "{}: model {} ({:?})\n  input {}x{}x{} (w x h x c), embedding {} int8 values (scale {}), metric {}\n  operating points (FAR -> threshold): {} (default {})\n  {} layers",
        path.display(),
        m.id(),
        m.task(),
        i.width,
        i.height,
        i.channels,
        m.embedding().dim,
        m.embedding().scale,
        metric_name(&m.metric()),
        points_text(m.decision()),
        m.decision().default_index(),
        m.layers().len()
    )
}

fn model(path: &Path, bytes: &[u8]) -> Result<(Value, String)> {
    let m = Model::decode(bytes).with_context(|| format!("{}", path.display()))?;
    Ok((model_json(&m), model_text(path, &m)))
}

fn pipeline_json(p: &Pipeline) -> Value {
    json!({
        "kind": "pipeline",
        "model_id": p.id().to_string(),
        "task": format!("{:?}", p.task()),
        "align": p.align().name(),
        "networks": Network::ALL.iter().map(|n| json!({
            "file": n.file_name(),
            "sha256": hex::encode(p.sha256(*n)),
        })).collect::<Vec<_>>(),
        "embedding": { "dim": p.embedding().dim, "scale": p.embedding().scale },
        "metric": metric_name(&p.metric()),
        "operating_points": p.decision().points().iter().map(|pt| json!({"far": pt.far, "threshold": pt.threshold})).collect::<Vec<_>>(),
        "default_point": p.decision().default_index(),
    })
}

fn pipeline_text(path: &Path, p: &Pipeline) -> String {
    let networks = Network::ALL
        .iter()
        .map(|n| format!("{} (SHA-256 {})", n.file_name(), hex::encode(p.sha256(*n))))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{}: pipeline {} ({:?}): {} -> face alignment {} -> {}\n  embedding {} int8 values (scale {}), metric {}\n  operating points (FAR -> threshold): {} (default {})",
        path.display(),
        p.id(),
        p.task(),
        Network::Landmarks.file_name(),
        p.align(),
        Network::Recognition.file_name(),
        p.embedding().dim,
        p.embedding().scale,
        metric_name(&p.metric()),
        points_text(p.decision()),
        p.decision().default_index(),
    ) + &format!("\n  networks: {networks}")
}

fn pipeline(path: &Path, bytes: &[u8]) -> Result<(Value, String)> {
    let p = Pipeline::decode(bytes).with_context(|| format!("{}", path.display()))?;
    Ok((pipeline_json(&p), pipeline_text(path, &p)))
}

fn folder(dir: &Path) -> Result<(Value, String)> {
    let bundle = ModelBundle::open(dir)?;
    let bytes = std::fs::read(bundle.model_path())
        .with_context(|| format!("reading {}", bundle.model_path().display()))?;
    let what = format!("{}", bundle.model_path().display());
    let (mut value, text) = match bundle.kind() {
        FolderKind::Model => {
            let m = Model::decode(&bytes).with_context(|| what.clone())?;
            (model_json(&m), model_text(bundle.model_path(), &m))
        }
        FolderKind::Pipeline => {
            let p = Pipeline::decode(&bytes).with_context(|| what.clone())?;
            (pipeline_json(&p), pipeline_text(bundle.model_path(), &p))
        }
    };
    value["kind"] = json!(match bundle.kind() {
        FolderKind::Model => "model folder",
        FolderKind::Pipeline => "pipeline folder",
    });
    value["folder"] = json!(dir);
    value["paired"] = json!(bundle.paired_files());
    let text = format!(
        "{}\n  paired (all name model {}): {}",
        text,
        bundle.id(),
        bundle
            .paired_files()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((value, text))
}

fn store(path: &Path) -> Result<(Value, String)> {
    let info = SqliteStore::inspect(path)?;
    let encrypted = info.protection == Protection::Encrypted;
    let value = json!({
        "kind": "store",
        "model_id": info.model.to_string(),
        "encrypted": encrypted,
        "subjects": info.subjects,
        "revision": info.revision.0,
        "schema": info.schema,
    });
    let text = format!(
        "{}: SQLite template store (schema {}), model {}\n  {} subject(s), revision {}\n  templates {}",
        path.display(),
        info.schema,
        info.model,
        info.subjects,
        info.revision.0,
        if encrypted {
            "encrypted at rest (ChaCha20-Poly1305)"
        } else {
            "IN THE CLEAR (created with --insecure-plaintext): biometric data is readable by anyone with the file"
        }
    );
    Ok((value, text))
}

fn gallery(path: &Path, bytes: &[u8]) -> Result<(Value, String)> {
    let g = Gallery::decode(bytes).with_context(|| format!("{}", path.display()))?;
    let value = json!({
        "kind": "gallery",
        "model_id": g.model().to_string(),
        "templates": g.len(),
        "subjects": g.templates().iter().map(|t| t.subject()).collect::<Vec<_>>(),
    });
    let text = format!(
        "{}: gallery file of model {}, {} template(s)",
        path.display(),
        g.model(),
        g.len()
    );
    Ok((value, text))
}

fn template(path: &Path, bytes: &[u8]) -> Result<(Value, String)> {
    let t = Template::decode(bytes).with_context(|| format!("{}", path.display()))?;
    let value = json!({
        "kind": "template",
        "model_id": t.model().to_string(),
        "subject": t.subject(),
        "label": t.label(),
        "embeddings": t.count(),
        "dim": t.dim(),
    });
    let text = format!(
        "{}: template of subject {} ({:?}), model {}, {} embedding(s) of {} values",
        path.display(),
        t.subject(),
        t.label(),
        t.model(),
        t.count(),
        t.dim()
    );
    Ok((value, text))
}
