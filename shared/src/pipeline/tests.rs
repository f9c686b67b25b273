use super::*;
use crate::error::Field;
use crate::OperatingPoint;

extern crate std;
use std::string::ToString;
use std::vec::Vec;

const POINTS: [OperatingPoint; 2] = [
    OperatingPoint {
        far: 1e-2,
        threshold: 0.55,
    },
    OperatingPoint {
        far: 1e-3,
        threshold: 0.5,
    },
];

fn decision() -> DecisionSpec {
    DecisionSpec::new(&POINTS, 1, 0.6).unwrap_or_else(|e| panic!("{e}"))
}

fn spec() -> PipelineSpec {
    PipelineSpec::face_api(
        b"landmarks",
        b"recognition",
        AlignVariant::EyesRefine,
        decision(),
    )
}

fn bytes(spec: &PipelineSpec) -> Vec<u8> {
    spec.to_bytes().unwrap_or_else(|e| panic!("{e}"))
}

/// The payload after the id, of a file `to_bytes` wrote.
fn body(file: &[u8]) -> Vec<u8> {
    file[envelope::HEADER_LEN + ModelId::LEN..file.len() - envelope::CRC_LEN].to_vec()
}

/// A pipeline file around `body`, with its id and CRC recomputed (over the whole body, with the
/// magic, when the decision section cannot be found).
fn reseal(body: &[u8]) -> Vec<u8> {
    let id = body_id(1, body).unwrap_or_else(|_| ModelId::digest_parts(&[b"SGPL", body]));
    let mut payload = id.as_bytes().to_vec();
    payload.extend_from_slice(body);
    envelope::seal(KIND, &payload).unwrap_or_default()
}

#[test]
fn round_trips_with_every_field() {
    let file = bytes(&spec());
    let p = Pipeline::decode(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.version(), 1);
    assert_eq!(p.task(), Task::Face);
    assert_eq!(p.align(), AlignVariant::EyesRefine);
    assert_eq!(p.sha256(Network::Landmarks), &sha256(b"landmarks"));
    assert_eq!(p.sha256(Network::Recognition), &sha256(b"recognition"));
    assert!(p.matches(Network::Recognition, b"recognition"));
    assert!(!p.matches(Network::Recognition, b"landmarks"));
    assert_eq!(
        *p.embedding(),
        EmbeddingSpec {
            dim: 128,
            scale: 0.005,
            l2_normalized: false,
            flip_average: false
        }
    );
    assert_eq!(p.metric(), Metric::L2);
    assert_eq!(p.decision(), &decision());
    assert_eq!(Some(p.id()), spec().id().ok());
    assert_eq!(bytes(&PipelineSpec::from_pipeline(&p)), file);
    assert_eq!(envelope::identify(&file), Some(FileKind::Pipeline));
}

#[test]
fn sha256_is_the_standard_digest() {
    // python3 -c 'import hashlib; print(hashlib.sha256(b"abc").hexdigest())'
    let hex: std::string::String = sha256(b"abc")
        .iter()
        .map(|b| std::format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn the_id_names_everything_but_the_operating_points() {
    let base = spec().id().unwrap_or_else(|e| panic!("{e}"));
    let mut recalibrated = spec();
    recalibrated.decision =
        DecisionSpec::new(&POINTS[..1], 0, 0.7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recalibrated.id(), Ok(base));
    assert_ne!(bytes(&recalibrated), bytes(&spec()));
    let changes: [fn(&mut PipelineSpec); 7] = [
        |s| s.task = Task::Generic,
        |s| s.align = AlignVariant::Dlib33Refine,
        |s| s.landmarks_sha256[0] ^= 1,
        |s| s.recognition_sha256[31] ^= 1,
        |s| s.dim = 64,
        |s| s.scale = 1.0 / 128.0,
        |s| s.metric = Metric::SquaredL2,
    ];
    for change in changes {
        let mut s = spec();
        change(&mut s);
        let id = s.id().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(id, base, "{s:?}");
        assert_eq!(Pipeline::decode(&bytes(&s)).map(|p| p.id()), Ok(id));
    }
    // The magic is hashed too: the same bytes as a model body would name another id.
    assert_ne!(ModelId::digest(&body(&bytes(&spec()))), base);
}

#[test]
fn builder_refuses_what_the_decoder_would() {
    let mut s = spec();
    s.metric = Metric::MahalanobisDiag(crate::LeF32Slice::new(&[]).unwrap_or_else(|| panic!()));
    assert!(matches!(
        s.to_bytes(),
        Err(FormatError::Malformed {
            at: Field {
                kind: FileKind::Pipeline,
                name: "metric",
                ..
            },
            ..
        })
    ));
    for (dim, value) in [(0u16, 0i64), (1025, 1025)] {
        let mut s = spec();
        s.dim = dim;
        assert_eq!(
            s.to_bytes(),
            Err(FormatError::OutOfRange {
                at: Field::new(KIND, "embedding.dim"),
                value,
                min: 1,
                max: 1024
            })
        );
    }
    for scale in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let mut s = spec();
        s.scale = scale;
        assert!(matches!(
            s.to_bytes(),
            Err(FormatError::Malformed {
                at: Field {
                    name: "embedding.scale",
                    ..
                },
                ..
            })
        ));
    }
}

#[test]
fn decoder_rejections_name_the_field() {
    let file = bytes(&spec());
    let good = body(&file);
    assert_eq!(
        Pipeline::decode(&reseal(&good)).map(|p| p.id()),
        spec().id()
    );
    // The id over another body.
    let mut altered = file.clone();
    altered[envelope::HEADER_LEN] ^= 0xff;
    let crc = crate::crc::crc32(&altered[..altered.len() - 4]);
    let n = altered.len();
    altered[n - 4..].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        Pipeline::decode(&altered),
        Err(FormatError::BadModelId { .. })
    ));
    // An unknown alignment name: task (1 byte), then the name's length and bytes.
    let mut b = good.clone();
    b[2] = b'x';
    let e = Pipeline::decode(&reseal(&b)).unwrap_err();
    assert!(
        matches!(
            e,
            FormatError::Malformed {
                at: Field { name: "align", .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with("pipeline field `align`: not an alignment variant"));
    // Text that is not UTF-8.
    b[2] = 0xff;
    assert!(matches!(
        Pipeline::decode(&reseal(&b)),
        Err(FormatError::Malformed {
            at: Field { name: "align", .. },
            reason: "text that is not UTF-8"
        })
    ));
    // The metric tag a model uses for a weighted metric (4) is not a pipeline metric.
    let at_metric = 1 + 1 + "eyes2-edge-refine".len() + 32 + 32 + 2 + 4;
    assert_eq!(good[at_metric], 1, "L2's tag");
    let mut b = good.clone();
    b[at_metric] = 4;
    assert!(matches!(
        Pipeline::decode(&reseal(&b)),
        Err(FormatError::Malformed {
            at: Field { name: "metric", .. },
            ..
        })
    ));
    // A decision section's errors name the pipeline's fields: default index 5 of 2 points.
    let mut b = good.clone();
    b[at_metric + 1 + 4] = 5;
    assert_eq!(
        Pipeline::decode(&reseal(&b)),
        Err(FormatError::OutOfRange {
            at: Field::new(KIND, "decision.default"),
            value: 5,
            min: 0,
            max: 1
        })
    );
    let mut b = good.clone();
    b.push(0);
    assert_eq!(
        Pipeline::decode(&reseal(&b)),
        Err(FormatError::TrailingBytes {
            kind: KIND,
            extra: 1
        })
    );
    assert!(matches!(
        Pipeline::decode(&reseal(&good[..good.len() - 1])),
        Err(FormatError::Malformed {
            reason: "the payload ends inside this field",
            ..
        })
    ));
    assert_eq!(
        body_id(2, &good),
        Err(FormatError::UnsupportedVersion {
            kind: KIND,
            found: 2,
            supported: 1
        })
    );
}

#[test]
fn verify_refuses_other_models() {
    let p = Pipeline::decode(&bytes(&spec())).unwrap_or_else(|e| panic!("{e}"));
    let values = [10i8; 128];
    let e = |model| EmbeddingRef {
        model,
        scale: FACE_API_SCALE,
        values: &values,
    };
    let template = Template::new(1, e(p.id())).unwrap_or_else(|e| panic!("{e}"));
    let d = p
        .verify(&template, e(p.id()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(d.accept && d.distance == 0.0);
    let other = ModelId([7; 16]);
    let stranger = Template::new(1, e(other)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.verify(&stranger, e(p.id())),
        Err(FormatError::ModelMismatch {
            expected: p.id(),
            found: other
        })
    );
}

#[test]
fn networks() {
    assert_eq!(
        Network::ALL.map(|n| (n.file_name(), n.input_side(), n.output_len(128))),
        [("landmarks.onnx", 112, 136), ("recognition.onnx", 150, 128)]
    );
    assert_eq!(Network::Landmarks.name(), "landmarks");
}
