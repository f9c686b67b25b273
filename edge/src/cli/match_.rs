//! `siamedge enroll`, `verify` and `identify`: images against the subjects of a store.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use siamedge_edge::store::{Put, TemplateStore};
use siamedge_edge::Runtime;
use siamedge_format::{Template, MAX_TEMPLATE_EMBEDDINGS};

use super::{decide, point_text, print, verdict, Common, Point, PointArgs};

#[derive(Args, Debug)]
pub struct EnrollArgs {
    /// The store (an SQLite file; created if it does not exist).
    #[arg(long, env = "SIAMEDGE_STORE")]
    pub store: PathBuf,
    /// Subject id.
    #[arg(long)]
    pub subject: u32,
    /// A label kept (encrypted) with the template, at most 32 bytes of UTF-8.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Replace the template of an enrolled subject (re-enrollment).
    #[arg(long)]
    pub replace: bool,
    /// Enrollment images (PNG, JPEG, PGM), 1 to 8: several captures cut the error rate.
    #[arg(required = true, num_args = 1..)]
    pub images: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The store.
    #[arg(long, env = "SIAMEDGE_STORE")]
    pub store: PathBuf,
    /// The claimed subject id.
    #[arg(long)]
    pub subject: u32,
    #[command(flatten)]
    pub point: PointArgs,
    /// The probe image.
    pub image: PathBuf,
}

#[derive(Args, Debug)]
pub struct IdentifyArgs {
    /// The store.
    #[arg(long, env = "SIAMEDGE_STORE")]
    pub store: PathBuf,
    /// How many candidates to list, nearest first.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub top: u32,
    #[command(flatten)]
    pub point: PointArgs,
    /// The probe image.
    pub image: PathBuf,
}

/// The template of `subject` from `images` (1 to 8), labelled.
pub fn template_from(
    rt: &Runtime,
    subject: u32,
    label: &str,
    images: &[PathBuf],
) -> Result<Template> {
    if images.is_empty() || images.len() > MAX_TEMPLATE_EMBEDDINGS {
        bail!(
            "{} enrollment images given; a template holds 1 to {MAX_TEMPLATE_EMBEDDINGS}",
            images.len()
        );
    }
    let mut template: Option<Template> = None;
    for img in images {
        let e = rt.embed_path(img)?;
        match template.as_mut() {
            None => {
                template = Some(
                    Template::new(subject, e.as_ref())
                        .and_then(|t| t.with_label(label))
                        .with_context(|| {
                            format!("template of subject {subject} from {}", img.display())
                        })?,
                )
            }
            Some(t) => t
                .add(e.as_ref())
                .with_context(|| format!("adding {} to subject {subject}", img.display()))?,
        }
    }
    template.context("no enrollment image")
}

pub fn enroll(common: &Common, args: &EnrollArgs) -> Result<()> {
    let rt = common.runtime()?;
    // Embed first: a bad image changes nothing, not even a store that does not exist yet.
    let template = template_from(&rt, args.subject, &args.label, &args.images)?;
    let mut store = common.store(&args.store, &rt, true)?;
    let mode = if args.replace { Put::Replace } else { Put::New };
    let revision = store.put(&template, mode)?;
    #[derive(Serialize)]
    struct Enrolled<'a> {
        subject: u32,
        label: &'a str,
        embeddings: usize,
        subjects: u64,
        revision: u64,
    }
    let out = Enrolled {
        subject: args.subject,
        label: &args.label,
        embeddings: template.count(),
        subjects: store.len()?,
        revision: revision.0,
    };
    print(common.json, &out, || {
        format!(
            "enrolled subject {} from {} image(s) into {}; it holds {} subject(s)",
            out.subject,
            out.embeddings,
            args.store.display(),
            out.subjects
        )
    })
}

/// A decision as printed.
#[derive(Serialize)]
pub struct DecisionOut {
    pub subject: u32,
    pub accept: bool,
    pub distance: f32,
    pub threshold: f32,
    pub far: Option<f32>,
    pub score: f32,
}

impl DecisionOut {
    fn new(rt: &Runtime, subject: u32, point: Point, distance: f32) -> Self {
        let d = decide(rt.decision(), point, distance);
        Self {
            subject,
            accept: d.accept,
            distance: d.distance,
            threshold: point.threshold,
            far: point.far,
            score: d.score,
        }
    }
}

pub fn verify(common: &Common, args: &VerifyArgs) -> Result<()> {
    let rt = common.runtime()?;
    let point = args.point.point(rt.decision())?;
    let mut store = common.store(&args.store, &rt, false)?;
    let probe = rt.embed_path(&args.image)?;
    let Some(template) = store.get(args.subject)? else {
        bail!(
            "subject {} is not enrolled in {}",
            args.subject,
            args.store.display()
        );
    };
    let distance = template
        .distance(probe.as_ref(), &rt.metric())
        .with_context(|| {
            format!(
                "comparing {} with subject {}",
                args.image.display(),
                args.subject
            )
        })?;
    let out = DecisionOut::new(&rt, args.subject, point, distance);
    print(common.json, &out, || {
        format!(
            "{} subject {}: distance {:.4} ({}), score {:.3}",
            verdict(out.accept),
            out.subject,
            out.distance,
            point_text(point),
            out.score
        )
    })
}

pub fn identify(common: &Common, args: &IdentifyArgs) -> Result<()> {
    let rt = common.runtime()?;
    let point = args.point.point(rt.decision())?;
    let mut store = common.store(&args.store, &rt, false)?;
    let probe = rt.embed_path(&args.image)?;
    let index = super::load_index(&rt, &mut store)?;
    let hits = index.search(probe.as_ref(), args.top as usize)?;
    let candidates: Vec<DecisionOut> = hits
        .iter()
        .map(|h| DecisionOut::new(&rt, h.subject, point, h.distance))
        .collect();
    #[derive(Serialize)]
    struct Identified {
        #[serde(rename = "match")]
        matched: Option<u32>,
        candidates: Vec<DecisionOut>,
        subjects: usize,
    }
    let out = Identified {
        matched: candidates.first().filter(|c| c.accept).map(|c| c.subject),
        candidates,
        subjects: index.len(),
    };
    print(common.json, &out, || {
        let mut s = match (out.matched, out.candidates.first()) {
            (_, None) => format!("the store {} is empty", args.store.display()),
            (Some(m), Some(c)) => format!(
                "subject {m}: distance {:.4} ({}), score {:.3}",
                c.distance,
                point_text(point),
                c.score
            ),
            (None, Some(c)) => format!(
                "unknown: the nearest is subject {} at distance {:.4} ({})",
                c.subject,
                c.distance,
                point_text(point)
            ),
        };
        for (rank, c) in out.candidates.iter().enumerate() {
            s.push_str(&format!(
                "\n  {:>3}. subject {:<10} distance {:.4}  {}",
                rank + 1,
                c.subject,
                c.distance,
                verdict(c.accept)
            ));
        }
        s
    })
}
