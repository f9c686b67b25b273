//! Flip averaging in the model file (format version 3): the flag round-trips, older versions read
//! with it off, the arena rule counts its keep region, the id names it and leaves the operating
//! points out as in version 2, and a bad flag byte or a newer version is refused.

mod common;

use siamedge_format::{
    DecisionSpec, Field, FileKind, FormatError, Model, ModelSpec, OperatingPoint,
};

use common::{payload, reseal_at, tiny_model_spec};

const KIND: FileKind = FileKind::Model;

/// `tiny_model_spec` (4x4x1 input, 3 values, version 2) with flip averaging on.
fn flip_spec() -> Result<ModelSpec, FormatError> {
    let mut spec = tiny_model_spec()?;
    spec.embedding.flip_average = true;
    Ok(spec)
}

/// The body (payload after the id) of `spec`'s file.
fn body(spec: &ModelSpec) -> Result<Vec<u8>, FormatError> {
    Ok(payload(&spec.to_bytes()?)[16..].to_vec())
}

/// Offset of the flag in the tiny model's version-3 body: task, width, height, channels (1 byte
/// each), mean and std (1 + 4 each), input quant (4 + 1), dim (1), scale (4), l2_normalized (1).
const FLAG_AT: usize = 25;

#[test]
fn the_flag_round_trips_and_costs_its_keep_region() -> Result<(), FormatError> {
    let spec = flip_spec()?;
    assert_eq!(spec.version(), 3);
    // 16 input values + 3 embedding values, rounded up to 8.
    assert_eq!(spec.min_arena_bytes(), 24 + 24);
    let bytes = spec.to_bytes()?;
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 3);
    let model = Model::decode(&bytes)?;
    assert!(model.embedding().flip_average);
    assert_eq!(model.version(), 3);
    assert_eq!(model.flip_keep_bytes(), 24);
    assert_eq!((model.arena_bytes(), model.min_arena_bytes()), (48, 48));
    assert_eq!(ModelSpec::from_model(&model).to_bytes()?, bytes);
    // Without the flag: version 2, no keep region.
    let plain_bytes = tiny_model_spec()?.to_bytes()?;
    let plain = Model::decode(&plain_bytes)?;
    assert_eq!((plain.version(), plain.flip_keep_bytes()), (2, 0));
    assert!(!plain.embedding().flip_average);
    Ok(())
}

#[test]
fn an_arena_without_the_keep_region_is_refused() -> Result<(), FormatError> {
    let mut spec = flip_spec()?;
    spec.arena_bytes = Some(24);
    assert_eq!(
        spec.to_bytes().map(drop),
        Err(FormatError::OutOfRange {
            at: Field::new(KIND, "arena_bytes"),
            value: 24,
            min: 48,
            max: i64::from(u32::MAX),
        })
    );
    Ok(())
}

#[test]
fn a_version_3_file_without_the_flag_reads_with_it_off() -> Result<(), FormatError> {
    // Writers never make it (they write version 2), but it is a valid version-3 file.
    let mut b = body(&flip_spec()?)?;
    assert_eq!(b[FLAG_AT], 1);
    b[FLAG_AT] = 0;
    let file = reseal_at(KIND, 3, &b);
    let model = Model::decode(&file)?;
    assert!(!model.embedding().flip_average);
    assert_eq!(model.version(), 3);
    // Its id is not the version-2 file's: the flag byte is part of the body it names.
    assert_ne!(
        model.id(),
        Model::decode(&tiny_model_spec()?.to_bytes()?)?.id()
    );
    Ok(())
}

#[test]
fn a_bad_flag_or_a_newer_version_is_refused() -> Result<(), FormatError> {
    let mut b = body(&flip_spec()?)?;
    b[FLAG_AT] = 2;
    assert!(matches!(
        Model::decode(&reseal_at(KIND, 3, &b)),
        Err(FormatError::Malformed {
            at: Field {
                name: "embedding.flip_average",
                ..
            },
            ..
        })
    ));
    let b = body(&flip_spec()?)?;
    assert!(matches!(
        Model::decode(&reseal_at(KIND, 3, &b[..FLAG_AT])),
        Err(FormatError::Malformed {
            at: Field {
                name: "embedding.flip_average",
                ..
            },
            ..
        })
    ));
    assert_eq!(
        Model::decode(&reseal_at(KIND, 4, &b)).map(drop),
        Err(FormatError::UnsupportedVersion {
            kind: KIND,
            found: 4,
            supported: 3,
        })
    );
    // Read as version 2, the flag byte is taken for the metric's tag: the file does not decode.
    assert!(Model::decode(&reseal_at(KIND, 2, &b)).is_err());
    Ok(())
}

#[test]
fn recalibrating_a_flip_average_model_keeps_its_id() -> Result<(), FormatError> {
    let spec = flip_spec()?;
    let mut recalibrated = spec.clone();
    recalibrated.decision = DecisionSpec::new(
        &[OperatingPoint {
            far: 0.05,
            threshold: 0.7,
        }],
        0,
        1.5,
    )?;
    assert_eq!(recalibrated.id()?, spec.id()?);
    let (a, b) = (spec.to_bytes()?, recalibrated.to_bytes()?);
    assert_ne!(a, b);
    assert_eq!(Model::decode(&a)?.id(), Model::decode(&b)?.id());
    Ok(())
}
