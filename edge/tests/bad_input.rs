//! Bad input at the library level: every broken image and model gives a typed error that names
//! the file and says what is wrong, never a panic or a huge allocation.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// PNG chunks use CRC-32/ISO-HDLC, the one the format crate implements.
use siamedge_format::crc::crc32;

use prost::Message;
use siamedge_edge::preprocess::{decode_gray, decode_gray_limited, load_gray, MAX_PIXELS};
use siamedge_edge::{EdgeError, Int8Encoder, OnnxEncoder, Runtime};
use tract_onnx::pb::{ModelProto, StringStringEntryProto};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// A 6 x 4 grey gradient encoded as `format`.
fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let img = image::GrayImage::from_fn(6, 4, |x, y| image::Luma([(x * 40 + y * 10) as u8]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

const FORMATS: [(image::ImageFormat, &str); 3] = [
    (image::ImageFormat::Png, "png"),
    (image::ImageFormat::Jpeg, "jpg"),
    (image::ImageFormat::Pnm, "pgm"),
];

#[test]
fn good_images_decode_in_every_format() {
    for (format, ext) in FORMATS {
        let g = decode_gray(&encoded(format), Path::new(ext)).unwrap();
        assert_eq!((g.width, g.height, g.pixels.len()), (6, 4, 24), "{ext}");
    }
}

#[test]
fn empty_truncated_and_garbage_images_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (format, ext) in FORMATS {
        let good = encoded(format);
        let mut garbage = good.clone();
        // Keep the magic so the decoder (not the format guess) meets the garbage.
        for b in garbage.iter_mut().skip(8) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let cases: [(&str, Vec<u8>); 4] = [
            ("empty", Vec::new()),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("header-only", good[..good.len().min(12)].to_vec()),
            ("garbage", garbage),
        ];
        for (what, bytes) in cases {
            let path = dir.path().join(format!("{what}.{ext}"));
            std::fs::write(&path, &bytes).unwrap();
            let e = match load_gray(&path) {
                Err(e) => e,
                // A garbled JPEG body can still decode to some pixels; that is not a crash.
                Ok(_) if what == "garbage" && ext == "jpg" => continue,
                Ok(g) => panic!("{what}.{ext} decoded to {}x{}", g.width, g.height),
            };
            let msg = e.to_string();
            assert!(msg.contains(&format!("{what}.{ext}")), "{msg}");
            assert!(
                matches!(e, EdgeError::Image { .. } | EdgeError::NotAnImage { .. }),
                "{what}.{ext}: {e:?}"
            );
        }
    }
}

#[test]
fn a_pgm_cut_inside_its_pixels_says_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pgm");
    std::fs::write(&path, b"P5\n4 4\n255\n\x01\x02\x03").unwrap();
    let msg = load_gray(&path).unwrap_err().to_string();
    assert!(
        msg.contains("cut.pgm") && msg.contains("truncated: the file ends before"),
        "{msg}"
    );
}

#[test]
fn a_text_file_named_png_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.png");
    std::fs::write(&path, "shopping list: eggs, milk\n").unwrap();
    let e = load_gray(&path).unwrap_err();
    assert!(matches!(e, EdgeError::NotAnImage { len: 26, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("notes.png") && msg.contains("shopping list"),
        "{msg}"
    );
    let e = load_gray(&dir.path().join("missing.png")).unwrap_err();
    assert!(matches!(e, EdgeError::Io { .. }) && e.to_string().contains("missing.png"));
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A valid PNG signature and IHDR (8-bit grey, correct CRC) claiming `width x height`, then a
/// tiny IDAT and IEND: what a decompression bomb looks like before its pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of one empty stored block.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn crc_matches_the_png_specification() {
    // The IEND chunk's CRC, as every PNG file ends: AE 42 60 82.
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}

#[test]
fn a_header_claiming_100000_squared_pixels_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.png");
    std::fs::write(&path, png_claiming(100_000, 100_000)).unwrap();
    let start = Instant::now();
    let e = load_gray(&path).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    match &e {
        EdgeError::TooManyPixels {
            width,
            height,
            pixels,
            limit,
            ..
        } => {
            assert_eq!((*width, *height), (100_000, 100_000));
            assert_eq!(*pixels, 10_000_000_000);
            assert_eq!(*limit, MAX_PIXELS);
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("bomb.png") && msg.contains("100000 x 100000") && msg.contains("40000000"),
        "{msg}"
    );
    // The same for a PGM header, and for a limit the caller chooses.
    let pgm = b"P5\n100000 100000\n255\n\0\0\0".to_vec();
    let e = decode_gray(&pgm, Path::new("bomb.pgm")).unwrap_err();
    assert!(matches!(e, EdgeError::TooManyPixels { .. }), "{e:?}");
    let small = encoded(image::ImageFormat::Png);
    assert!(decode_gray_limited(&small, Path::new("body"), 24).is_ok());
    let e = decode_gray_limited(&small, Path::new("body"), 23).unwrap_err();
    assert!(
        matches!(
            e,
            EdgeError::TooManyPixels {
                pixels: 24,
                limit: 23,
                ..
            }
        ),
        "{e:?}"
    );
}

fn face_onnx() -> Vec<u8> {
    std::fs::read(models().join("face-orl/model.onnx")).unwrap()
}

fn onnx_error(bytes: &[u8], name: &str) -> EdgeError {
    let e = OnnxEncoder::from_bytes(bytes, Path::new(name)).expect_err(name);
    assert!(e.to_string().contains(name), "{e}");
    e
}

#[test]
fn truncated_empty_and_garbage_onnx_are_typed_errors() {
    let good = face_onnx();
    let enc = OnnxEncoder::from_bytes(&good, Path::new("good.onnx")).unwrap();
    assert_eq!(enc.input_shape().0, 1);
    onnx_error(&[], "empty.onnx");
    for cut in [1, 10, 100, good.len() / 3, good.len() / 2, good.len() - 1] {
        onnx_error(&good[..cut], "truncated.onnx");
    }
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    onnx_error(&garbage, "garbage.onnx");
    onnx_error(b"hello, this is not protobuf\n", "text.onnx");
}

fn mutated(f: impl FnOnce(&mut ModelProto)) -> Vec<u8> {
    let mut proto = ModelProto::decode(face_onnx().as_slice()).unwrap();
    f(&mut proto);
    proto.encode_to_vec()
}

#[test]
fn a_node_without_inputs_is_a_typed_error() {
    for i in 0..3 {
        let bytes = mutated(|p| p.graph.as_mut().unwrap().node[i].input.clear());
        let e = onnx_error(&bytes, "noinputs.onnx");
        assert!(e.to_string().contains("input"), "{e}");
    }
    let bytes = mutated(|p| {
        let node = &mut p.graph.as_mut().unwrap().node[1];
        node.input[0] = "nowhere".into();
    });
    let e = onnx_error(&bytes, "dangling.onnx");
    assert!(e.to_string().contains("nowhere"), "{e}");
}

#[test]
fn huge_declared_dimensions_are_refused_without_allocating() {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value;
    use tract_onnx::pb::type_proto;
    let bytes = mutated(|p| {
        let input = &mut p.graph.as_mut().unwrap().input[0];
        let Some(type_proto::Value::TensorType(t)) = input.r#type.as_mut().unwrap().value.as_mut()
        else {
            panic!("input is a tensor")
        };
        for d in t.shape.as_mut().unwrap().dim.iter_mut().skip(2) {
            d.value = Some(Value::DimValue(1 << 40));
        }
    });
    let start = Instant::now();
    let e = onnx_error(&bytes, "huge-input.onnx");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains("1099511627776"), "{e}");
    // An initializer whose dims claim far more values than it holds.
    let bytes = mutated(|p| {
        let init = &mut p.graph.as_mut().unwrap().initializer[0];
        init.dims = vec![1 << 20, 1 << 20, 1 << 20];
    });
    let start = Instant::now();
    onnx_error(&bytes, "huge-weights.onnx");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn wrong_shaped_graphs_are_typed_errors() {
    let bytes = mutated(|p| p.graph.as_mut().unwrap().output.clear());
    onnx_error(&bytes, "nooutput.onnx");
    let bytes = mutated(|p| p.graph = None);
    onnx_error(&bytes, "nograph.onnx");
    let bytes = mutated(|p| {
        let g = p.graph.as_mut().unwrap();
        let last = g.node.len() - 1;
        g.node.truncate(last / 2);
    });
    onnx_error(&bytes, "cut-graph.onnx");
}

#[test]
fn a_model_file_of_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let face = models().join("face-orl");
    let digits_sgm = models().join("digits-mnist/model.sgm");
    let digits = Int8Encoder::load(&digits_sgm).unwrap();
    let face_id = Int8Encoder::load(&face.join("model.sgm")).unwrap().id();
    // The shipped pair works; the other model's file next to the ONNX does not.
    Runtime::float(&face.join("model.onnx"), &face.join("model.sgm")).unwrap();
    let e = Runtime::float(&face.join("model.onnx"), &digits_sgm).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("model.onnx") && msg.contains("digits-mnist"),
        "{msg}"
    );
    // An ONNX that records its model id is refused by id, naming both.
    let face_hex = hex::encode(face_id.as_bytes());
    let tagged = dir.path().join("face.onnx");
    std::fs::write(
        &tagged,
        mutated(|p| {
            p.metadata_props.push(StringStringEntryProto {
                key: "siamedge.model_id".into(),
                value: face_hex.clone(),
            })
        }),
    )
    .unwrap();
    Runtime::float(&tagged, &face.join("model.sgm")).unwrap();
    let e = Runtime::float(&tagged, &digits_sgm).unwrap_err();
    let msg = e.to_string();
    let digits_hex = hex::encode(digits.id().as_bytes());
    assert!(
        msg.contains(&face_hex) && msg.contains(&digits_hex),
        "{msg}"
    );
    // A model file that is an ONNX, or truncated, is a format error naming it.
    let e = Int8Encoder::load(&face.join("model.onnx")).unwrap_err();
    assert!(e.to_string().contains("model.onnx"), "{e}");
    let cut = dir.path().join("cut.sgm");
    let bytes = std::fs::read(face.join("model.sgm")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = Int8Encoder::load(&cut).unwrap_err();
    assert!(
        matches!(e, EdgeError::Format { .. }) && e.to_string().contains("cut.sgm"),
        "{e}"
    );
}

/// Found by fuzzing (`model_load`): a reduction axis far past the tensor's rank passes the graph
/// check (the rank is known only to tract's analysis) and tract 0.22 unwraps on it. The encoder's
/// guard turns that panic into a typed error naming the file.
#[test]
fn a_graph_that_panics_inside_tract_is_a_typed_error() {
    let bytes = mutated(|p| {
        let g = p.graph.as_mut().unwrap();
        let reduce = g
            .node
            .iter()
            .find(|n| n.op_type.starts_with("Reduce"))
            .expect("the face graph L2-normalizes with a reduction");
        // Opset 13: the axes are the reduction's second input, an int64 initializer.
        let axes = reduce.input[1].clone();
        let init = g
            .initializer
            .iter_mut()
            .find(|t| t.name == axes)
            .expect("the axes are an initializer");
        init.int64_data.clear();
        init.raw_data = 281_474_975_793_153i64.to_le_bytes().to_vec();
        init.dims = vec![1];
    });
    let e = onnx_error(&bytes, "axis-past-rank.onnx");
    assert!(e.to_string().contains("axis"), "{e}");
}
