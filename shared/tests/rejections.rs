//! Every rejection path of the envelope, embeddings, templates and galleries (and the envelope
//! of pipelines, whose fields `shared/src/pipeline/tests.rs` covers), with the exact error a
//! caller sees.

mod common;

use siamedge_format::{
    Embedding, EmbeddingRef, Field, FileKind, FormatError, Gallery, Metric, Model, ModelId,
    Pipeline, Template, MAX_EMBEDDING_DIM,
};

use common::{payload, reseal};

const A: ModelId = ModelId([0xA; 16]);
const B: ModelId = ModelId([0xB; 16]);

/// A valid file of every kind, and a function decoding it that returns only the error.
fn files() -> Result<Vec<(FileKind, Vec<u8>)>, FormatError> {
    Ok(vec![
        (FileKind::Model, common::tiny_model_bytes()?),
        (
            FileKind::Embedding,
            common::sample_embedding(A)?.to_bytes()?,
        ),
        (FileKind::Template, common::sample_template(A)?.to_bytes()?),
        (FileKind::Gallery, common::sample_gallery(A)?.to_bytes()?),
        (
            FileKind::Pipeline,
            common::sample_pipeline_spec()?.to_bytes()?,
        ),
    ])
}

fn decode(kind: FileKind, bytes: &[u8]) -> Result<(), FormatError> {
    match kind {
        FileKind::Model => Model::decode(bytes).map(drop),
        FileKind::Embedding => Embedding::decode(bytes).map(drop),
        FileKind::Template => Template::decode(bytes).map(drop),
        FileKind::Gallery => Gallery::decode(bytes).map(drop),
        FileKind::Pipeline => Pipeline::decode(bytes).map(drop),
    }
}

/// The body of a model or pipeline payload (after the id), or the whole payload of the other
/// kinds.
fn body(kind: FileKind, file: &[u8]) -> Vec<u8> {
    let p = payload(file);
    if matches!(kind, FileKind::Model | FileKind::Pipeline) {
        p[16..].to_vec()
    } else {
        p.to_vec()
    }
}

#[test]
fn envelope_rejections_for_every_kind() -> Result<(), FormatError> {
    for (kind, file) in files()? {
        assert_eq!(decode(kind, &file), Ok(()), "{kind}");
        let other = FileKind::ALL
            .into_iter()
            .find(|k| *k != kind)
            .unwrap_or(kind);
        assert_eq!(
            decode(other, &file),
            Err(FormatError::WrongMagic {
                expected: other,
                found: kind.magic()
            })
        );
        let mut newer = file.clone();
        let next = kind.version() + 1;
        newer[4..6].copy_from_slice(&next.to_le_bytes());
        assert_eq!(
            decode(kind, &newer),
            Err(FormatError::UnsupportedVersion {
                kind,
                found: next,
                supported: kind.version()
            })
        );
        let mut corrupt = file.clone();
        corrupt[12] ^= 0x01;
        assert!(
            matches!(decode(kind, &corrupt), Err(FormatError::BadCrc { kind: k, .. }) if k == kind)
        );
        assert_eq!(
            decode(kind, &file[..file.len() - 1]),
            Err(FormatError::Truncated {
                kind,
                needed: file.len(),
                available: file.len() - 1
            })
        );
        let mut long = file.clone();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode(kind, &long),
            Err(FormatError::TrailingBytes { kind, extra: 2 })
        );
        // Trailing bytes inside a payload with a valid CRC.
        let mut b = body(kind, &file);
        b.push(0);
        assert_eq!(
            decode(kind, &reseal(kind, &b)),
            Err(FormatError::TrailingBytes { kind, extra: 1 })
        );
        // A payload cut short inside its last field.
        let b = body(kind, &file);
        assert!(
            matches!(
                decode(kind, &reseal(kind, &b[..b.len() - 1])),
                Err(FormatError::Malformed {
                    reason: "the payload ends inside this field",
                    ..
                })
            ),
            "{kind}"
        );
        assert_eq!(
            decode(kind, &[]),
            Err(FormatError::Truncated {
                kind,
                needed: 14,
                available: 0
            })
        );
    }
    Ok(())
}

fn embedding_payload(model: ModelId, scale: f32, values: &[u8]) -> Vec<u8> {
    let mut p = model.0.to_vec();
    p.extend_from_slice(&scale.to_le_bytes());
    p.extend(postcard::to_allocvec(&(values.len() as u32)).unwrap_or_default());
    p.extend_from_slice(values);
    p
}

#[test]
fn embedding_rejections() {
    let kind = FileKind::Embedding;
    let huge = vec![1u8; MAX_EMBEDDING_DIM + 1];
    assert_eq!(
        Embedding::decode(&reseal(kind, &embedding_payload(A, 1.0, &huge))),
        Err(FormatError::OutOfRange {
            at: Field::new(kind, "values"),
            value: 1025,
            min: 1,
            max: 1024
        })
    );
    assert!(matches!(
        Embedding::decode(&reseal(kind, &embedding_payload(A, 1.0, &[]))),
        Err(FormatError::OutOfRange { value: 0, .. })
    ));
    for scale in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            Embedding::decode(&reseal(kind, &embedding_payload(A, scale, &[1]))),
            Err(FormatError::Malformed {
                at: Field { name: "scale", .. },
                ..
            })
        ));
    }
    // A length prefix far past the end.
    let mut p = A.0.to_vec();
    p.extend_from_slice(&1.0f32.to_le_bytes());
    p.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    assert!(matches!(
        Embedding::decode(&reseal(kind, &p)),
        Err(FormatError::Malformed {
            at: Field { name: "values", .. },
            ..
        })
    ));
}

/// A template payload with the given label, count and rows (each `(scale, values)`).
fn template_payload(label: &[u8], count: u32, rows: &[(f32, &[u8])]) -> Vec<u8> {
    let mut p = vec![5];
    p.extend(postcard::to_allocvec(&(label.len() as u32)).unwrap_or_default());
    p.extend_from_slice(label);
    p.extend_from_slice(&A.0);
    p.push(0);
    p.extend(postcard::to_allocvec(&count).unwrap_or_default());
    for (scale, values) in rows {
        p.extend_from_slice(&scale.to_le_bytes());
        p.extend(postcard::to_allocvec(&(values.len() as u32)).unwrap_or_default());
        p.extend_from_slice(values);
    }
    p
}

#[test]
fn template_rejections() {
    let kind = FileKind::Template;
    let dec = |p: Vec<u8>| Template::decode(&reseal(kind, &p));
    let row: (f32, &[u8]) = (0.5, &[1, 2, 3]);
    assert!(dec(template_payload(b"ok", 1, &[row])).is_ok());
    assert_eq!(
        dec(template_payload(b"", 9, &[row; 9])),
        Err(FormatError::OutOfRange {
            at: Field::new(kind, "embeddings"),
            value: 9,
            min: 1,
            max: 8
        })
    );
    assert!(matches!(
        dec(template_payload(b"", 0, &[])),
        Err(FormatError::OutOfRange { value: 0, .. })
    ));
    assert!(matches!(
        dec(template_payload(b"", u32::MAX, &[row])),
        Err(FormatError::OutOfRange {
            value: 4294967295,
            ..
        })
    ));
    assert_eq!(
        dec(template_payload(&[b'x'; 33], 1, &[row])),
        Err(FormatError::OutOfRange {
            at: Field::new(kind, "label"),
            value: 33,
            min: 0,
            max: 32
        })
    );
    assert!(matches!(
        dec(template_payload(&[0xFF, 0xFE], 1, &[row])),
        Err(FormatError::Malformed {
            reason: "text that is not UTF-8",
            ..
        })
    ));
    assert_eq!(
        dec(template_payload(b"", 2, &[row, (0.5, &[1, 2])])),
        Err(FormatError::Mismatch {
            at: Field::item(kind, 1, "embeddings.values"),
            expected: 3,
            found: 2
        })
    );
    let wide = [0u8; 1024];
    assert_eq!(
        dec(template_payload(
            b"",
            3,
            &[(1.0, &wide), (1.0, &wide), (1.0, &wide)]
        )),
        Err(FormatError::OutOfRange {
            at: Field::item(kind, 0, "embeddings.values"),
            value: 3072,
            min: 1,
            max: 2048
        })
    );
    assert!(matches!(
        dec(template_payload(b"", 2, &[row, (f32::NAN, &[1, 2, 3])])),
        Err(FormatError::Malformed {
            at: Field {
                index: Some(1),
                name: "embeddings.scale",
                ..
            },
            ..
        })
    ));
    let mut buf = [0u8; 16];
    let t = Template::new(
        1,
        EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &[1, 2],
        },
    );
    // 14 bytes of envelope, subject 1, label 1, model 16, created 1, count 1, scale 4, values 3.
    assert_eq!(
        t.map(|t| t.encode_to_slice(&mut buf).map(<[u8]>::len)),
        Ok(Err(FormatError::BufferTooSmall {
            needed: 41,
            available: 16
        }))
    );
}

#[test]
fn model_mismatch_is_an_error_everywhere() -> Result<(), FormatError> {
    let t = common::sample_template(A)?;
    let probe = EmbeddingRef {
        model: B,
        scale: 0.02,
        values: &[1, 2, 3],
    };
    let mismatch = Err(FormatError::ModelMismatch {
        expected: A,
        found: B,
    });
    assert_eq!(t.distance(probe, &Metric::Cosine), mismatch);
    assert_eq!(
        t.distance_to(&common::sample_template(B)?, &Metric::L2),
        mismatch
    );
    let mut t2 = t.clone();
    assert_eq!(t2.add(probe), mismatch.map(drop));
    let own = EmbeddingRef {
        model: A,
        scale: 0.02,
        values: &[1, 2, 3],
    };
    assert_eq!(Metric::L1.distance_i8(own, probe), mismatch);
    let mut g = Gallery::new(A);
    assert_eq!(g.insert(common::sample_template(B)?), mismatch.map(drop));
    assert_eq!(g.nearest(probe, &Metric::L1).map(drop), mismatch.map(drop));
    Ok(())
}

/// A gallery payload of `model` with the given template payloads.
fn gallery_payload(model: ModelId, count: u32, templates: &[Vec<u8>]) -> Vec<u8> {
    let mut p = model.0.to_vec();
    p.extend(postcard::to_allocvec(&count).unwrap_or_default());
    for t in templates {
        p.extend_from_slice(t);
    }
    p
}

#[test]
fn gallery_rejections() -> Result<(), FormatError> {
    let kind = FileKind::Gallery;
    let t7 = Template::new(
        7,
        EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &[1],
        },
    )?;
    let t8 = Template::new(
        8,
        EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &[1],
        },
    )?;
    let tb = Template::new(
        9,
        EmbeddingRef {
            model: B,
            scale: 1.0,
            values: &[1],
        },
    )?;
    let p7 = payload(&t7.to_bytes()?).to_vec();
    let p8 = payload(&t8.to_bytes()?).to_vec();
    let pb = payload(&tb.to_bytes()?).to_vec();
    let dec = |p: Vec<u8>| Gallery::decode(&reseal(kind, &p));
    // Any order decodes, sorted.
    let g = dec(gallery_payload(A, 2, &[p8.clone(), p7.clone()]))?;
    assert_eq!(
        g.templates()
            .iter()
            .map(Template::subject)
            .collect::<Vec<_>>(),
        [7, 8]
    );
    assert_eq!(
        dec(gallery_payload(A, 3, &[p7.clone(), p8.clone(), p7.clone()])),
        Err(FormatError::DuplicateSubject { subject: 7 })
    );
    assert_eq!(
        dec(gallery_payload(A, 2, &[p7.clone(), pb])),
        Err(FormatError::ModelMismatch {
            expected: A,
            found: B
        })
    );
    // A count far beyond what the remaining bytes can hold is refused before allocating:
    // 46 bytes left hold at most one template (26 bytes each at least).
    assert_eq!(
        dec(gallery_payload(A, u32::MAX, std::slice::from_ref(&p7))),
        Err(FormatError::OutOfRange {
            at: Field::new(kind, "templates"),
            value: i64::from(u32::MAX),
            min: 0,
            max: 1
        })
    );
    let t5 = Template::new(
        5,
        EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &[1, 2, 3, 4, 5],
        },
    )?;
    let p5 = payload(&t5.to_bytes()?).to_vec();
    assert!(matches!(
        dec(gallery_payload(
            A,
            2,
            &[p7.clone(), p5[..p5.len() - 1].to_vec()]
        )),
        Err(FormatError::Malformed {
            at: Field { index: Some(1), .. },
            ..
        })
    ));
    assert_eq!(dec(gallery_payload(A, 0, &[]))?, Gallery::new(A));
    Ok(())
}
