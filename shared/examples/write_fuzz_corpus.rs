//! Writes the fuzz seed corpora: one valid file of each kind (and a few variants) into
//! `fuzz/corpus/<target>/seed-*.bin`. Run from anywhere:
//! `cargo run -p siamedge-format --example write_fuzz_corpus`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;

use siamedge_format::{Embedding, Gallery, Model, ModelId, Template};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let model_bytes = common::tiny_model_bytes()?;
    let id = Model::decode(&model_bytes)?.id();
    let mut seeds: Vec<(&str, &str, Vec<u8>)> = vec![("model", "seed-tiny", model_bytes.clone())];

    let mut cosine = common::tiny_model_spec()?;
    cosine.metric = siamedge_format::MetricSpec::Cosine;
    cosine.arena_bytes = Some(4096);
    seeds.push(("model", "seed-cosine", cosine.to_bytes()?));
    seeds.push((
        "model",
        "seed-every-kind",
        common::every_kind_spec()?.to_bytes()?,
    ));
    // Flip averaging: a version-3 file, for the decoder and for the engine's two-pass run.
    let mut flip = common::every_kind_spec()?;
    flip.embedding.flip_average = true;
    let flip = flip.to_bytes()?;
    for target in ["model", "engine", "engine_host"] {
        seeds.push((target, "seed-flip", flip.clone()));
    }

    seeds.push((
        "embedding",
        "seed-small",
        common::sample_embedding(id)?.to_bytes()?,
    ));
    let wide: Vec<i8> = (0..512).map(|i| (i % 251) as i8).collect();
    seeds.push((
        "embedding",
        "seed-wide",
        Embedding::new(ModelId([0xA5; 16]), 1.0 / 128.0, &wide)?.to_bytes()?,
    ));

    let template = common::sample_template(id)?;
    seeds.push(("template", "seed-two", template.to_bytes()?));
    let single = Template::new(1, common::sample_embedding(id)?.as_ref())?;
    seeds.push(("template", "seed-one", single.to_bytes()?));

    seeds.push((
        "gallery",
        "seed-two",
        common::sample_gallery(id)?.to_bytes()?,
    ));
    seeds.push(("gallery", "seed-empty", Gallery::new(id).to_bytes()?));

    let pipeline = common::sample_pipeline_spec()?;
    seeds.push(("pipeline", "seed-eyes", pipeline.to_bytes()?));
    let mut cosine = pipeline;
    cosine.align = siamedge_format::preprocess::align::AlignVariant::Dlib33Refine;
    cosine.metric = siamedge_format::Metric::Cosine;
    cosine.decision = siamedge_format::DecisionSpec::new(
        &[siamedge_format::OperatingPoint {
            far: 1e-4,
            threshold: 0.1,
        }],
        0,
        0.2,
    )?;
    seeds.push(("pipeline", "seed-dlib33-cosine", cosine.to_bytes()?));

    for (target, name, bytes) in seeds {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.bin"));
        fs::write(&path, &bytes)?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
