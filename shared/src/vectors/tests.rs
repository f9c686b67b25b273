//! Round trip, pinned bytes, every rejection, and no panic on damaged files.

use super::write::VectorsSpec;
use super::*;
use crate::EnrollPolicy;

fn spec() -> VectorsSpec {
    VectorsSpec {
        model: ModelId([7; 16]),
        source: Source::OrlHeldOut,
        subject: 31,
        policy: EnrollPolicy::Mean,
        labels: vec![31, 31, 31, 36],
        inputs: vec![
            vec![1, -2, 3],
            vec![4, 5, -6],
            vec![-128, 0, 127],
            vec![9, 9, 9],
        ],
        embeddings: vec![vec![10, -10], vec![20, -20], vec![30, -30], vec![40, -40]],
        enroll: vec![0, 1],
        probes: vec![
            Probe {
                image: 2,
                accept: true,
                distance: 0.25,
                score: 0.75,
            },
            Probe {
                image: 3,
                accept: false,
                distance: 1.5,
                score: 0.125,
            },
        ],
    }
}

fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 4;
    let crc = crc32(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn round_trip_reads_back_every_field() {
    let bytes = spec().to_bytes().unwrap();
    let v = TestVectors::decode(&bytes).unwrap();
    assert_eq!(v.model(), ModelId([7; 16]));
    assert_eq!((v.input_len(), v.dim(), v.images()), (3, 2, 4));
    assert_eq!((v.subject(), v.source()), (31, Source::OrlHeldOut));
    assert_eq!(v.policy(), EnrollPolicy::Mean);
    assert_eq!(v.label(3), Some(36));
    assert_eq!(v.label(4), None);
    assert_eq!(v.input(2), Some(&[-128i8, 0, 127][..]));
    assert_eq!(v.input(4), None);
    assert_eq!(v.embedding(3), Some(&[40i8, -40][..]));
    assert_eq!(v.embedding(usize::MAX), None);
    assert_eq!(v.enroll_images().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(v.probes().collect::<Vec<_>>(), spec().probes);
    assert_eq!(
        bytes.len() as u64,
        TestVectors::len_for(3, 2, 4, 2, 2),
        "the length formula is the layout's"
    );
}

#[test]
fn golden_bytes_pin_the_layout() {
    let bytes = spec().to_bytes().unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(b"SGTV\x01\x00");
    header.extend_from_slice(&[7; 16]);
    header.extend_from_slice(&[3, 0, 0, 0, 2, 0, 4, 0, 31, 0, 0, 0, 2, 2, 1, 1, 0, 0]);
    assert_eq!(&bytes[..HEADER_LEN], &header[..]);
    // labels, enroll indices, then the first probe: image 2, accept, 0, 0.25f32, 0.75f32.
    assert_eq!(&bytes[40..48], &[31, 0, 31, 0, 31, 0, 36, 0]);
    assert_eq!(&bytes[48..52], &[0, 0, 1, 0]);
    assert_eq!(
        &bytes[52..64],
        &[2, 0, 1, 0, 0, 0, 0x80, 0x3e, 0, 0, 0x40, 0x3f]
    );
    assert_eq!(bytes.len(), 40 + 8 + 4 + 24 + 12 + 8 + 4);
    assert_eq!(&bytes[76..79], &[1, 0xfe, 3], "inputs follow the probes");
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(crc, crc32(&bytes[..bytes.len() - 4]));
}

#[test]
fn rejections_name_the_field() {
    let good = spec().to_bytes().unwrap();
    let err = |bytes: &[u8]| TestVectors::decode(bytes).unwrap_err();

    assert_eq!(err(b"SGT"), VectorsError::WrongMagic { found: *b"SGT\0" });
    assert!(matches!(
        err(&good[..20]),
        VectorsError::Truncated {
            field: "header",
            ..
        }
    ));
    let mut b = good.clone();
    b[4] = 2;
    assert_eq!(
        err(&with_crc(b)),
        VectorsError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    let mut b = good.clone();
    b[70] ^= 1;
    assert!(matches!(err(&b), VectorsError::BadCrc { .. }));

    let patch = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        err(&with_crc(b))
    };
    assert!(matches!(
        patch(22, &[0, 0, 0, 0]),
        VectorsError::OutOfRange {
            field: "input_len",
            value: 0,
            ..
        }
    ));
    assert!(matches!(
        patch(26, &[0, 8]),
        VectorsError::OutOfRange {
            field: "dim",
            value: 2048,
            ..
        }
    ));
    assert!(matches!(
        patch(28, &[65, 0]),
        VectorsError::OutOfRange {
            field: "images",
            value: 65,
            ..
        }
    ));
    assert!(matches!(
        patch(34, &[9]),
        VectorsError::OutOfRange {
            field: "enroll",
            value: 9,
            ..
        }
    ));
    assert!(matches!(
        patch(35, &[0]),
        VectorsError::OutOfRange {
            field: "probes",
            value: 0,
            ..
        }
    ));
    assert!(matches!(
        patch(36, &[2]),
        VectorsError::OutOfRange {
            field: "source",
            value: 2,
            ..
        }
    ));
    assert_eq!(
        patch(38, &[1]),
        VectorsError::Reserved { field: "reserved" }
    );
    assert!(matches!(
        patch(28, &[5, 0]),
        VectorsError::Length {
            expected: 107,
            found: 100
        }
    ));
    assert!(matches!(
        patch(50, &[4, 0]),
        VectorsError::OutOfRange {
            field: "enroll_images",
            index: Some(1),
            value: 4,
            ..
        }
    ));
    assert!(matches!(
        patch(64, &[9, 1]),
        VectorsError::OutOfRange {
            field: "probe.image",
            index: Some(1),
            value: 265,
            ..
        }
    ));
    assert!(matches!(
        patch(54, &[2]),
        VectorsError::OutOfRange {
            field: "probe.accept",
            index: Some(0),
            ..
        }
    ));
    assert_eq!(
        patch(55, &[1]),
        VectorsError::Reserved {
            field: "probe.reserved"
        }
    );
}

#[test]
fn the_writer_refuses_what_the_format_cannot_hold() {
    let mut s = spec();
    s.inputs.clear();
    assert!(matches!(
        s.to_bytes(),
        Err(VectorsError::Invalid {
            field: "images",
            ..
        })
    ));
    let mut s = spec();
    s.inputs[1].push(0);
    assert!(matches!(
        s.to_bytes(),
        Err(VectorsError::Invalid {
            field: "inputs",
            ..
        })
    ));
    let mut s = spec();
    s.enroll = vec![0; 9];
    assert!(matches!(
        s.to_bytes(),
        Err(VectorsError::Invalid {
            field: "enroll",
            ..
        })
    ));
    let mut s = spec();
    s.probes[0].image = 4;
    assert!(matches!(
        s.to_bytes(),
        Err(VectorsError::OutOfRange {
            field: "probe.image",
            ..
        })
    ));
}

/// Every truncation, and every single-byte change with the CRC made right again, decodes or
/// fails with an error; none panics.
#[test]
fn damaged_files_never_panic() {
    let good = spec().to_bytes().unwrap();
    for n in 0..good.len() {
        let _ = TestVectors::decode(&good[..n]);
    }
    for at in 0..good.len() - 4 {
        for value in [0u8, 1, 2, 0x7f, 0x80, 0xff] {
            let mut b = good.clone();
            b[at] = value;
            if let Ok(v) = TestVectors::decode(&with_crc(b)) {
                for i in 0..v.images() + 1 {
                    let _ = (v.input(i), v.embedding(i), v.label(i));
                }
                let _ = (v.enroll_images().count(), v.probes().count());
            }
        }
    }
}
