//! `siamedge-edge`: enroll, verify, identify and embed with an exported encoder.
//!
//! The model comes from a folder written by `siamedge-train export` (`--model models/face-orl`):
//! by default the int8 model file `model.sgm` runs on the engine (the device's embeddings, bit for
//! bit); with `--float` (or `--onnx FILE`) the float graph `model.onnx` runs on tract, paired with
//! `model.sgm` for the input spec, embedding scale, metric and thresholds. `--sgm` names another
//! model file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;
use siamedge_edge::{GalleryFile, Runtime};
use siamedge_format::{Decision, DecisionSpec, Template};

/// Face or signature verification on a Linux box with an exported siamedge encoder.
#[derive(Parser, Debug)]
#[command(name = "siamedge-edge", version)]
struct Cli {
    /// Folder with model.sgm and model.onnx (as `siamedge-train export` writes).
    #[arg(long, global = true, default_value = "models/face-orl")]
    model: PathBuf,
    /// Run the float graph model.onnx on tract instead of the int8 model file on the engine.
    #[arg(long, global = true)]
    float: bool,
    /// A float ONNX file to run on tract instead of the int8 model file (implies `--float`).
    #[arg(long, global = true)]
    onnx: Option<PathBuf>,
    /// A model file (.sgm) to use instead of the one in `--model`.
    #[arg(long, global = true)]
    sgm: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Enroll a subject from one or more images (several captures cut the error rate); creates
    /// the gallery file if it does not exist.
    Enroll {
        /// The gallery file.
        #[arg(long)]
        gallery: PathBuf,
        /// Subject id.
        #[arg(long)]
        subject: u32,
        /// A label stored with the template (at most 32 bytes).
        #[arg(long, default_value = "")]
        label: String,
        /// Replace an existing template of this subject.
        #[arg(long)]
        replace: bool,
        /// Enrollment images (PNG, JPEG, PGM), 1 to 8.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Verify (1:1) an image against an enrolled subject.
    Verify {
        /// The gallery file.
        #[arg(long)]
        gallery: PathBuf,
        /// Subject id.
        #[arg(long)]
        subject: u32,
        /// Decide at this false-accept rate's threshold instead of the model's default.
        #[arg(long)]
        far: Option<f32>,
        /// The probe image.
        image: PathBuf,
    },
    /// Identify (1:N) an image: the nearest enrolled subject and whether it is accepted.
    Identify {
        /// The gallery file.
        #[arg(long)]
        gallery: PathBuf,
        /// The probe image.
        image: PathBuf,
    },
    /// Print the embedding of an image (its int8 template form, and f32: the float graph's
    /// output, or the int8 values times their scale).
    Embed {
        /// The image.
        image: PathBuf,
    },
    /// Remove a subject from a gallery.
    Remove {
        /// The gallery file.
        #[arg(long)]
        gallery: PathBuf,
        /// Subject id.
        #[arg(long)]
        subject: u32,
    },
}

#[derive(Serialize)]
struct DecisionJson {
    subject: u32,
    accept: bool,
    distance: f32,
    threshold: f32,
    score: f32,
}

impl DecisionJson {
    fn new(subject: u32, d: Decision, threshold: f32) -> Self {
        Self {
            subject,
            accept: d.accept,
            distance: d.distance,
            threshold,
            score: d.score,
        }
    }
}

fn load(cli: &Cli) -> Result<Runtime> {
    let sgm = cli
        .sgm
        .clone()
        .unwrap_or_else(|| cli.model.join("model.sgm"));
    if !cli.float && cli.onnx.is_none() {
        return Runtime::int8(&sgm).with_context(|| format!("loading {}", sgm.display()));
    }
    let onnx = cli
        .onnx
        .clone()
        .unwrap_or_else(|| cli.model.join("model.onnx"));
    Runtime::float(&onnx, &sgm)
        .with_context(|| format!("loading {} with {}", onnx.display(), sgm.display()))
}

fn open_gallery(path: &Path, rt: &Runtime, create: bool) -> Result<GalleryFile> {
    if create && !path.exists() {
        return Ok(GalleryFile::create(path, rt.id())?);
    }
    let g = GalleryFile::open(path)?;
    if g.gallery().model() != rt.id() {
        bail!(
            "gallery {} holds templates of model {}, but {} is model {}",
            path.display(),
            g.gallery().model(),
            rt.model_path().display(),
            rt.id()
        );
    }
    Ok(g)
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = load(&cli)?;
    match &cli.command {
        Command::Enroll {
            gallery,
            subject,
            label,
            replace,
            images,
        } => {
            if images.len() > siamedge_format::MAX_TEMPLATE_EMBEDDINGS {
                bail!(
                    "{} images given; a template holds at most {}",
                    images.len(),
                    siamedge_format::MAX_TEMPLATE_EMBEDDINGS
                );
            }
            let mut template: Option<Template> = None;
            for img in images {
                let e = rt.embed_path(img)?;
                match template.as_mut() {
                    None => {
                        template = Some(
                            Template::new(*subject, e.as_ref())
                                .and_then(|t| t.with_label(label))
                                .with_context(|| format!("template from {}", img.display()))?,
                        )
                    }
                    Some(t) => t
                        .add(e.as_ref())
                        .with_context(|| format!("adding {}", img.display()))?,
                }
            }
            let Some(template) = template else {
                bail!("no enrollment image");
            };
            let mut g = open_gallery(gallery, &rt, true)?;
            let count = template.count();
            if *replace {
                g.replace(template)?;
            } else {
                g.enroll(template)?;
            }
            #[derive(Serialize)]
            struct Enrolled {
                subject: u32,
                embeddings: usize,
                gallery_size: usize,
            }
            let out = Enrolled {
                subject: *subject,
                embeddings: count,
                gallery_size: g.gallery().len(),
            };
            print(cli.json, &out, || {
                format!(
                    "enrolled subject {subject} from {count} image(s); the gallery holds {} subject(s)",
                    out.gallery_size
                )
            })
        }
        Command::Verify {
            gallery,
            subject,
            far,
            image,
        } => {
            let g = open_gallery(gallery, &rt, false)?;
            let probe = rt.embed_path(image)?;
            let point = match far {
                None => rt.decision().default_point(),
                Some(far) => match rt.decision().point_for_far(*far) {
                    Some(p) => p,
                    None => bail!(
                        "the model has no operating point at FAR {far} or below: {:?}",
                        rt.decision().points()
                    ),
                },
            };
            let decision = DecisionSpec::new(&[point], 0, rt.decision().margin())?;
            let Some(d) = g.verify(*subject, probe.as_ref(), &rt.metric(), &decision)? else {
                bail!("subject {subject} is not enrolled in {}", gallery.display());
            };
            print(
                cli.json,
                &DecisionJson::new(*subject, d, point.threshold),
                || {
                    format!(
                    "{} subject {subject}: distance {:.4} (threshold {:.4} at FAR {}), score {:.3}",
                    if d.accept { "ACCEPT" } else { "REJECT" },
                    d.distance,
                    point.threshold,
                    point.far,
                    d.score
                )
                },
            )
        }
        Command::Identify { gallery, image } => {
            let g = open_gallery(gallery, &rt, false)?;
            let probe = rt.embed_path(image)?;
            let threshold = rt.decision().default_point().threshold;
            match g.identify(probe.as_ref(), &rt.metric(), rt.decision())? {
                None => print(cli.json, &serde_json::Value::Null, || {
                    "the gallery is empty".to_string()
                }),
                Some((subject, d)) => {
                    print(cli.json, &DecisionJson::new(subject, d, threshold), || {
                        if d.accept {
                            format!(
                                "subject {subject}: distance {:.4} (threshold {:.4}), score {:.3}",
                                d.distance, threshold, d.score
                            )
                        } else {
                            format!(
                            "unknown: nearest is subject {subject} at distance {:.4} (threshold {:.4})",
                            d.distance, threshold
                        )
                        }
                    })
                }
            }
        }
        Command::Embed { image } => {
            let img = siamedge_edge::preprocess::load_gray(image)?;
            let e = rt.embed_gray_f32(&img, image)?;
            let q = rt.embed_gray(&img, image)?;
            #[derive(Serialize)]
            struct Embedded<'a> {
                model: String,
                f32: &'a [f32],
                scale: f32,
                int8: &'a [i8],
            }
            let out = Embedded {
                model: rt.id().to_string(),
                f32: &e.values,
                scale: q.scale(),
                int8: q.values(),
            };
            print(cli.json, &out, || {
                format!(
                    "model {}\nf32  {:?}\nint8 (scale {}) {:?}",
                    out.model, out.f32, out.scale, out.int8
                )
            })
        }
        Command::Remove { gallery, subject } => {
            let mut g = open_gallery(gallery, &rt, false)?;
            let removed = g.remove(*subject)?.is_some();
            print(
                cli.json,
                &serde_json::json!({ "subject": subject, "removed": removed }),
                || {
                    if removed {
                        format!("removed subject {subject}")
                    } else {
                        format!("subject {subject} was not enrolled")
                    }
                },
            )
        }
    }
}
