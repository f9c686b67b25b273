//! The model id names the weights and the graph, not the operating points (format version 2),
//! and version-1 files keep their whole-body rule.

mod common;

use siamedge_format::crc::crc32;
use siamedge_format::{
    DecisionSpec, FormatError, MetricSpec, Model, ModelId, ModelSpec, OperatingPoint,
};

use common::{payload, tiny_model_spec};

/// `spec` with operating points `(far, threshold)`, default `default`, margin `margin`.
fn with_points(
    mut spec: ModelSpec,
    points: &[(f32, f32)],
    default: usize,
    margin: f32,
) -> Result<ModelSpec, FormatError> {
    let points: Vec<OperatingPoint> = points
        .iter()
        .map(|&(far, threshold)| OperatingPoint { far, threshold })
        .collect();
    spec.decision = DecisionSpec::new(&points, default, margin)?;
    Ok(spec)
}

/// `file` with its version set to `version` and its CRC recomputed.
fn with_version(file: &[u8], version: u16) -> Vec<u8> {
    let mut f = file[..file.len() - 4].to_vec();
    f[4..6].copy_from_slice(&version.to_le_bytes());
    let crc = crc32(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// `file` with the bytes `at..at + new.len()` replaced and its CRC recomputed (the id kept).
fn patched(file: &[u8], at: usize, new: &[u8]) -> Vec<u8> {
    let mut f = file[..file.len() - 4].to_vec();
    f[at..at + new.len()].copy_from_slice(new);
    let crc = crc32(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// Offset in the file of the tiny model's default threshold (1.0, the second point's).
fn default_threshold_at(file: &[u8]) -> usize {
    // The decision section: margin 2.0, default 1, count 2, (0.01, 1.5), (0.001, 1.0).
    let mut section = vec![0, 0, 0, 0x40, 1, 2];
    for v in [1e-2f32, 1.5, 1e-3] {
        section.extend_from_slice(&v.to_le_bytes());
    }
    let at = file
        .windows(section.len())
        .position(|w| w == section)
        .unwrap_or_else(|| panic!("the tiny model's decision section is not in the file"));
    at + section.len()
}

#[test]
fn operating_points_do_not_change_the_id() -> Result<(), FormatError> {
    let base = tiny_model_spec()?;
    let a = base.to_bytes()?;
    let other = with_points(
        base.clone(),
        &[(1e-4, 0.25), (1e-2, 3.0), (0.5, 9.0)],
        2,
        0.5,
    )?;
    let b = other.to_bytes()?;
    assert_ne!(a, b);
    let (ma, mb) = (Model::decode(&a)?, Model::decode(&b)?);
    assert_eq!(ma.id(), mb.id());
    assert_eq!(other.id()?, base.id()?);
    assert_eq!(mb.decision().default_point().threshold, 9.0);
    assert_eq!(mb.decision().points().len(), 3);
    assert_eq!(ma.decision().default_point().threshold, 1.0);
    Ok(())
}

#[test]
fn weights_metric_and_arena_change_the_id() -> Result<(), FormatError> {
    let base = tiny_model_spec()?;
    let id = base.id()?;
    let mut changed = Vec::new();
    let mut w = base.clone();
    w.layers[1].weights[3] += 1;
    changed.push(("one depthwise weight", w));
    let mut bias = base.clone();
    bias.layers[2].bias[0] += 1;
    changed.push(("one dense bias", bias));
    let mut metric = base.clone();
    metric.metric = MetricSpec::MahalanobisDiag(vec![1.0, 0.5, 2.5]);
    changed.push(("the metric's diagonal", metric));
    let mut kind = base.clone();
    kind.metric = MetricSpec::L2;
    changed.push(("the metric kind", kind));
    let mut arena = base.clone();
    arena.arena_bytes = Some(4096);
    changed.push(("the arena", arena));
    let mut mean = base;
    mean.input.mean[0] = 0.25;
    changed.push(("the input mean", mean));
    for (what, spec) in changed {
        let file = spec.to_bytes()?;
        let model = Model::decode(&file)?;
        assert_ne!(model.id(), id, "{what}");
        assert_eq!(model.id(), spec.id()?, "{what}");
    }
    Ok(())
}

#[test]
fn a_v2_file_with_edited_thresholds_decodes_with_its_id() -> Result<(), FormatError> {
    let file = tiny_model_spec()?.to_bytes()?;
    let at = default_threshold_at(&file);
    let edited = patched(&file, at, &0.75f32.to_le_bytes());
    let (before, after) = (Model::decode(&file)?, Model::decode(&edited)?);
    assert_eq!(after.id(), before.id());
    assert_eq!(after.decision().default_point().threshold, 0.75);
    // A weight edited the same way is a forged file.
    let weight_at = file.len() - 4 - 20;
    let forged = patched(&file, weight_at, &[file[weight_at] ^ 1]);
    assert!(matches!(
        Model::decode(&forged),
        Err(FormatError::BadModelId { .. })
    ));
    Ok(())
}

#[test]
fn a_v1_file_with_edited_thresholds_is_still_a_bad_id() -> Result<(), FormatError> {
    // A version-1 file: the whole body hashed.
    let v2 = tiny_model_spec()?.to_bytes()?;
    let mut p = payload(&v2).to_vec();
    let v1_id = ModelId::digest(&p[16..]);
    p[..16].copy_from_slice(v1_id.as_bytes());
    let v1 = with_version(
        &siamedge_format::envelope::seal(siamedge_format::FileKind::Model, &p)?,
        1,
    );
    let model = Model::decode(&v1)?;
    assert_eq!((model.version(), model.id()), (1, v1_id));
    assert_ne!(v1_id, Model::decode(&v2)?.id());
    let at = default_threshold_at(&v1);
    let edited = patched(&v1, at, &0.75f32.to_le_bytes());
    assert!(matches!(
        Model::decode(&edited),
        Err(FormatError::BadModelId { stored, .. }) if stored == v1_id
    ));
    // The v1 file read as version 2 does not name itself by the v2 rule either.
    assert!(matches!(
        Model::decode(&with_version(&v1, 2)),
        Err(FormatError::BadModelId { .. })
    ));
    Ok(())
}

#[test]
fn the_id_rule_needs_a_known_version_and_a_readable_decision() {
    assert!(matches!(
        ModelId::of_model_body(4, &[]),
        Err(FormatError::UnsupportedVersion { found: 4, .. })
    ));
    for version in [2, 3] {
        assert!(matches!(
            ModelId::of_model_body(version, &[0]),
            Err(FormatError::Malformed { .. })
        ));
    }
    assert_eq!(
        ModelId::of_model_body(1, b"abc"),
        Ok(ModelId::digest(b"abc"))
    );
}
