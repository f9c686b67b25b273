//! Replays every file in `fuzz/corpus/<target>/` through its decoder: the seeds (`seed-*`) must
//! decode, and any other file (inputs a fuzzer found interesting, or crash reproducers copied
//! there) must be rejected or accepted without a panic. Regenerate the seeds with
//! `cargo run -p siamedge-format --example write_fuzz_corpus`.

mod common;

use std::fs;
use std::path::Path;

use siamedge_format::{Embedding, FileKind, FormatError, Gallery, Model, Pipeline, Template};

fn decode(kind: FileKind, bytes: &[u8]) -> Result<(), FormatError> {
    match kind {
        FileKind::Model => Model::decode(bytes).map(drop),
        FileKind::Embedding => Embedding::decode(bytes).map(drop),
        FileKind::Template => Template::decode(bytes).map(drop),
        FileKind::Gallery => Gallery::decode(bytes).map(drop),
        FileKind::Pipeline => Pipeline::decode(bytes).map(drop),
    }
}

#[test]
fn replay_fuzz_corpus() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for kind in FileKind::ALL {
        let dir = root.join(kind.name());
        let mut seeds = 0;
        for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry?.path();
            let bytes = fs::read(&path)?;
            let result = decode(kind, &bytes);
            // The same bytes with a fresh envelope, as the fuzz targets also decode them.
            if bytes.len() >= 14 {
                let payload = common::payload(&bytes);
                let body = if matches!(kind, FileKind::Model | FileKind::Pipeline) {
                    payload.get(16..).unwrap_or_default()
                } else {
                    payload
                };
                let _ = decode(kind, &common::reseal(kind, body));
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("seed-") {
                assert_eq!(result, Ok(()), "{}", path.display());
                seeds += 1;
            }
        }
        assert!(seeds >= 1, "no seed in {}", dir.display());
    }
    Ok(())
}
