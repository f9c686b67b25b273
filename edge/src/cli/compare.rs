//! `siamedge compare A B`: the distance between two images and the decision, with no store.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::{decide, point_text, print, verdict, Common, PointArgs};

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub point: PointArgs,
    /// The first image (PNG, JPEG, PGM).
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,
}

pub fn run(common: &Common, args: &CompareArgs) -> Result<()> {
    let rt = common.runtime()?;
    let point = args.point.point(rt.decision())?;
    let a = rt.embed_path(&args.a)?;
    let b = rt.embed_path(&args.b)?;
    let distance = rt
        .metric()
        .distance_i8(a.as_ref(), b.as_ref())
        .with_context(|| format!("comparing {} with {}", args.a.display(), args.b.display()))?;
    let d = decide(rt.decision(), point, distance);
    #[derive(Serialize)]
    struct Compared {
        same: bool,
        distance: f32,
        threshold: f32,
        far: Option<f32>,
        score: f32,
        model: String,
    }
    let out = Compared {
        same: d.accept,
        distance,
        threshold: point.threshold,
        far: point.far,
        score: d.score,
        model: rt.id().to_string(),
    };
    print(common.json, &out, || {
        format!(
            "{}: {} and {} {} the same {}: distance {:.4} ({}), score {:.3}",
            verdict(d.accept),
            args.a.display(),
            args.b.display(),
            if d.accept { "show" } else { "do not show" },
            match rt.task() {
                siamedge_format::Task::Signature => "writer",
                siamedge_format::Task::Face => "person",
                _ => "identity",
            },
            distance,
            point_text(point),
            d.score
        )
    })
}
