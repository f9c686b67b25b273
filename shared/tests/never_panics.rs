//! Decoders on arbitrary and mutated bytes: they return, they never panic (overflow checks are on
//! in test builds), and whatever they accept encodes again to an equal value. The fuzz targets in
//! `fuzz/` run the same checks under libFuzzer; this runs them in every `cargo test`.

mod common;

use proptest::prelude::*;
use siamedge_format::{
    envelope, Embedding, FileKind, FormatError, Gallery, Model, ModelId, ModelSpec, Pipeline,
    PipelineSpec, Template,
};

/// Decodes `bytes` as `kind`; on success checks that the value encodes and decodes back equal.
fn check(kind: FileKind, bytes: &[u8]) -> Result<bool, TestCaseError> {
    let _ = envelope::identify(bytes);
    match kind {
        FileKind::Model => {
            if let Ok(m) = Model::decode(bytes) {
                let again = ModelSpec::from_model(&m).to_bytes();
                prop_assert!(again.is_ok(), "{again:?}");
                let again = again.unwrap_or_default();
                let back = Model::decode(&again);
                prop_assert!(back.is_ok());
                prop_assert_eq!(back.map(|b| b.layers().len()).ok(), Some(m.layers().len()));
                return Ok(true);
            }
        }
        FileKind::Embedding => {
            if let Ok(e) = Embedding::decode(bytes) {
                let back = e.to_bytes().and_then(|b| Embedding::decode(&b));
                prop_assert_eq!(back, Ok(e));
                return Ok(true);
            }
        }
        FileKind::Template => {
            if let Ok(t) = Template::decode(bytes) {
                let mut buf = [0u8; Template::MAX_ENCODED_LEN];
                let back = t.encode_to_slice(&mut buf).and_then(Template::decode);
                prop_assert_eq!(back, Ok(t));
                return Ok(true);
            }
        }
        FileKind::Gallery => {
            if let Ok(g) = Gallery::decode(bytes) {
                let back = g.to_bytes().and_then(|b| Gallery::decode(&b));
                prop_assert_eq!(back, Ok(g));
                return Ok(true);
            }
        }
        FileKind::Pipeline => {
            if let Ok(p) = Pipeline::decode(bytes) {
                let again = PipelineSpec::from_pipeline(&p).to_bytes();
                prop_assert_eq!(again.as_deref().ok(), Some(bytes));
                let back = again.and_then(|b| Pipeline::decode(&b));
                prop_assert_eq!(back, Ok(p));
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn valid_files() -> Result<Vec<(FileKind, Vec<u8>)>, FormatError> {
    let model = common::tiny_model_bytes()?;
    let id = Model::decode(&model)?.id();
    Ok(vec![
        (FileKind::Model, model),
        (
            FileKind::Embedding,
            common::sample_embedding(id)?.to_bytes()?,
        ),
        (FileKind::Template, common::sample_template(id)?.to_bytes()?),
        (
            FileKind::Gallery,
            common::sample_gallery(ModelId([1; 16]))?.to_bytes()?,
        ),
        (
            FileKind::Pipeline,
            common::sample_pipeline_spec()?.to_bytes()?,
        ),
    ])
}

fn kind() -> impl Strategy<Value = FileKind> {
    prop::sample::select(FileKind::ALL.to_vec())
}

/// Byte edits: overwrite, insert, remove, at positions taken modulo the length.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Remove),
    ];
    prop::collection::vec(edit, 1..8)
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let n = bytes.len();
        match *e {
            Edit::Set(i, b) if n > 0 => bytes[i % n] = b,
            Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Edit::Remove(i) if n > 0 => {
                bytes.remove(i % n);
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(kind in kind(), bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(kind, &bytes)?;
    }

    #[test]
    fn arbitrary_payloads(kind in kind(), payload in prop::collection::vec(any::<u8>(), 0..600)) {
        check(kind, &common::reseal(kind, &payload))?;
    }

    #[test]
    fn mutated_files(which in 0usize..5, edits in edits(), reseal in any::<bool>()) {
        let files = valid_files().unwrap_or_default();
        let Some((kind, file)) = files.get(which % files.len().max(1)).cloned() else {
            return Ok(());
        };
        prop_assert!(check(kind, &file)?);
        let mut bytes = if reseal {
            let p = common::payload(&file);
            if matches!(kind, FileKind::Model | FileKind::Pipeline) { p[16..].to_vec() } else { p.to_vec() }
        } else {
            file
        };
        apply(&mut bytes, &edits);
        let bytes = if reseal { common::reseal(kind, &bytes) } else { bytes };
        check(kind, &bytes)?;
    }
}
