//! The gallery file: enroll, re-enroll, remove, verify and identify; errors name the file; a
//! refused change writes nothing.

use siamedge_edge::{EdgeError, GalleryFile};
use siamedge_format::{DecisionSpec, Embedding, Metric, ModelId, OperatingPoint, Template};

const MODEL: ModelId = ModelId([7; 16]);

fn embedding(values: &[i8]) -> Embedding {
    Embedding::new(MODEL, 1.0 / 64.0, values).unwrap()
}

fn template(subject: u32, values: &[i8]) -> Template {
    Template::new(subject, embedding(values).as_ref()).unwrap()
}

fn decision(threshold: f32) -> DecisionSpec {
    DecisionSpec::new(
        &[OperatingPoint {
            far: 1e-3,
            threshold,
        }],
        0,
        1.0,
    )
    .unwrap()
}

#[test]
fn enrollment_survives_a_reopen_and_identifies_the_nearest_subject() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sgg");
    let mut g = GalleryFile::create(&path, MODEL).unwrap();
    g.enroll(template(1, &[64, 0, 0, 0])).unwrap();
    g.enroll(template(2, &[0, 64, 0, 0])).unwrap();

    let g = GalleryFile::open(&path).unwrap();
    assert_eq!(g.gallery().len(), 2);
    let probe = embedding(&[60, 8, 0, 0]);
    // Squared L2 in real units: (4/64)^2 + (8/64)^2 = 0.01953125 to subject 1.
    let (subject, d) = g
        .identify(probe.as_ref(), &Metric::SquaredL2, &decision(0.1))
        .unwrap()
        .unwrap();
    assert_eq!(subject, 1);
    assert!(d.accept);
    assert!((d.distance - 0.019_531_25).abs() < 1e-7, "{}", d.distance);

    let to_two = g
        .verify(2, probe.as_ref(), &Metric::SquaredL2, &decision(0.1))
        .unwrap()
        .unwrap();
    assert!(!to_two.accept, "an impostor must be rejected: {to_two:?}");
    assert!(g
        .verify(3, probe.as_ref(), &Metric::SquaredL2, &decision(0.1))
        .unwrap()
        .is_none());
}

#[test]
fn a_refused_change_leaves_file_and_memory_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sgg");
    let mut g = GalleryFile::create(&path, MODEL).unwrap();
    g.enroll(template(1, &[1, 2, 3])).unwrap();
    let before = std::fs::read(&path).unwrap();

    let dup = g.enroll(template(1, &[3, 2, 1])).unwrap_err();
    assert!(matches!(dup, EdgeError::Gallery { .. }), "{dup}");
    assert!(dup.to_string().contains("gallery.sgg"), "{dup}");

    let other = Template::new(
        5,
        Embedding::new(ModelId([9; 16]), 0.5, &[1, 2, 3])
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    assert!(matches!(
        g.enroll(other).unwrap_err(),
        EdgeError::Gallery { .. }
    ));

    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(g.gallery().len(), 1);
    assert_eq!(
        g.gallery().get(1).unwrap().embedding(0).unwrap().values,
        &[1, 2, 3]
    );
}

#[test]
fn replace_and_remove_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sgg");
    let mut g = GalleryFile::create(&path, MODEL).unwrap();
    g.enroll(template(1, &[1, 2, 3])).unwrap();
    g.replace(template(1, &[4, 5, 6])).unwrap();
    assert_eq!(
        GalleryFile::open(&path)
            .unwrap()
            .gallery()
            .get(1)
            .unwrap()
            .embedding(0)
            .unwrap()
            .values,
        &[4, 5, 6]
    );
    assert!(g.remove(1).unwrap().is_some());
    assert!(g.remove(1).unwrap().is_none());
    assert!(GalleryFile::open(&path).unwrap().gallery().is_empty());
}

#[test]
fn corrupt_and_missing_files_are_errors_that_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sgg");
    let mut g = GalleryFile::create(&path, MODEL).unwrap();
    g.enroll(template(1, &[1, 2, 3])).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let err = GalleryFile::open(&path).unwrap_err();
    assert!(matches!(err, EdgeError::Format { .. }), "{err}");
    assert!(err.to_string().contains("gallery.sgg"), "{err}");

    let missing = GalleryFile::open(dir.path().join("none.sgg")).unwrap_err();
    assert!(missing.to_string().contains("none.sgg"), "{missing}");
    assert!(
        GalleryFile::create(&path, MODEL).is_err(),
        "create must not overwrite an existing gallery"
    );
}
