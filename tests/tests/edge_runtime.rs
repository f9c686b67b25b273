//! The edge runtime end to end: image files -> the one preprocessing contract -> the int8 model
//! file on the engine (host SIMD kernels) -> template in a gallery file -> verify and identify,
//! against the firmware's path on the same images: its preprocessing (`resize_area_i8`), its
//! engine in a static-size arena with the reference kernels, and its verifier's decisions. Bit for
//! bit: the edge's gallery holds the device's templates.

#[path = "../../shared/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use siamedge_edge::preprocess::load_gray;
use siamedge_edge::{EdgeError, Encoder, GalleryFile, Runtime};
use siamedge_engine::{Engine, Kernels, LayerKernel};
use siamedge_firmware::preprocess::{resize_area_i8, Gray};
use siamedge_firmware::{Arena, Verifier};
use siamedge_format::{Model, Template};
use siamedge_trainer::export::{proto, qdq_onnx};

/// A binary PGM (P5) of `w x h` pixels.
fn pgm(dir: &Path, name: &str, w: usize, h: usize, px: impl Fn(usize) -> u8) -> PathBuf {
    let mut bytes = format!("P5\n{w} {h}\n255\n").into_bytes();
    bytes.extend((0..w * h).map(px));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The firmware's embedding of the grey image file at `path`: its area resize into the int8
/// input, then the engine in a static arena of exactly what the model needs (reference kernels).
fn on_device(model: &Model<'_>, path: &Path) -> Vec<i8> {
    let img = load_gray(path).unwrap();
    let frame = Gray::new(img.width as u16, img.height as u16, &img.pixels).unwrap();
    let mut arena = Arena::<4096>::new();
    let mut engine = Engine::with_kernels(model, arena.as_mut_slice(), Kernels::Reference).unwrap();
    let mut input = vec![0i8; engine.input_len()];
    resize_area_i8(&frame, frame.full(), model.input(), &mut input).unwrap();
    engine.run(&input).unwrap().to_vec()
}

fn images_to_decisions(spec: siamedge_format::ModelSpec) {
    let dir = tempfile::tempdir().unwrap();
    let sgm = spec.to_bytes().unwrap();
    let model = Model::decode(&sgm).unwrap();
    std::fs::write(dir.path().join("model.sgm"), &sgm).unwrap();
    let rt = Runtime::int8(&dir.path().join("model.sgm")).unwrap();
    assert!(matches!(rt.encoder(), Encoder::Int8));
    assert_eq!(rt.id(), model.id());
    // The edge runs the host kernels where the CPU has them.
    let enc = rt.model().expect("an int8 runtime has its model file");
    if let Kernels::Simd(isa) = enc.kernels() {
        let mut arena = Vec::new();
        let engine = enc.engine(&mut arena).unwrap();
        assert!(engine.simd_layers() > 0);
        assert!((0..model.layers().len()).any(|i| engine.layer_kernel(i) == LayerKernel::Simd(isa)));
    }

    // Images larger than the model input, area-resized to it.
    let s = model.input();
    let (w, h) = (2 * usize::from(s.width) + 1, 2 * usize::from(s.height));
    let images: Vec<PathBuf> = (0..6)
        .map(|k| {
            pgm(dir.path(), &format!("{k}.pgm"), w, h, |i| {
                ((i * (7 + 13 * k) + 31 * k) % 256) as u8
            })
        })
        .collect();
    let mut embeddings = Vec::new();
    for p in &images {
        let edge = rt.embed_path(p).unwrap();
        assert_eq!(edge.values(), &on_device(&model, p)[..], "{}", p.display());
        assert_eq!(edge.scale(), model.embedding().scale);
        embeddings.push(edge);
    }

    let mut gallery = GalleryFile::create(dir.path().join("g.sgg"), rt.id()).unwrap();
    for (subject, e) in embeddings.iter().enumerate().take(3) {
        gallery
            .enroll(Template::new(subject as u32, e.as_ref()).unwrap())
            .unwrap();
    }
    let gallery = GalleryFile::open(dir.path().join("g.sgg")).unwrap();
    let verifier = Verifier::new(&model);
    for e in &embeddings {
        for subject in 0..3u32 {
            let edge = gallery
                .verify(subject, e.as_ref(), &rt.metric(), rt.decision())
                .unwrap()
                .unwrap();
            let device = verifier
                .verify(gallery.gallery().get(subject).unwrap(), e.as_ref())
                .unwrap();
            assert_eq!(edge, device);
        }
        assert!(gallery
            .identify(e.as_ref(), &rt.metric(), rt.decision())
            .unwrap()
            .is_some());
    }
}

#[test]
fn images_to_decisions_match_the_firmware_path() {
    images_to_decisions(common::tiny_model_spec().unwrap());
}

/// The shipped face model: 16 to 64 channels and a 128-wide dense layer on the host kernels.
#[test]
fn the_shipped_face_model_gives_the_device_embeddings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl");
    let rt = Runtime::int8(&root.join("model.sgm")).unwrap();
    let bytes = std::fs::read(root.join("model.sgm")).unwrap();
    let model = Model::decode(&bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let p = pgm(dir.path(), &format!("{k}.pgm"), 92, 112, |i| {
            ((i * (3 + 5 * k) / 7 + 40 * k) % 256) as u8
        });
        let img = load_gray(&p).unwrap();
        let frame = Gray::new(92, 112, &img.pixels).unwrap();
        let mut input = vec![0i8; model.input().shape().elements() as usize];
        resize_area_i8(&frame, frame.full(), model.input(), &mut input).unwrap();
        let mut arena = vec![0i8; siamedge_engine::needed_arena_bytes(&model)];
        let mut engine = Engine::with_kernels(&model, &mut arena, Kernels::Reference).unwrap();
        let device = engine.run(&input).unwrap().to_vec();
        assert_eq!(
            rt.embed_path(&p).unwrap().values(),
            &device[..],
            "image {k}"
        );
    }
}

#[test]
fn mismatched_and_corrupt_model_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = common::tiny_model_bytes().unwrap();
    let other = common::every_kind_spec().unwrap().to_bytes().unwrap();
    let model = Model::decode(&tiny).unwrap();
    std::fs::write(dir.path().join("other.sgm"), &other).unwrap();
    // A float runtime pairs an ONNX file with a model file: the recorded model id must match.
    let onnx = dir.path().join("tiny.onnx");
    std::fs::write(&onnx, proto::to_bytes(&qdq_onnx(&model, &[]).unwrap())).unwrap();
    let err = Runtime::float(&onnx, &dir.path().join("other.sgm")).unwrap_err();
    assert!(matches!(err, EdgeError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("tiny.onnx"), "{err}");
    let missing = Runtime::int8(&dir.path().join("missing.sgm")).unwrap_err();
    assert!(missing.to_string().contains("missing.sgm"), "{missing}");
    // A flipped byte fails the checksum: a format error naming the file.
    let mut corrupt = tiny.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x40;
    std::fs::write(dir.path().join("corrupt.sgm"), &corrupt).unwrap();
    let err = Runtime::int8(&dir.path().join("corrupt.sgm")).unwrap_err();
    assert!(matches!(err, EdgeError::Format { .. }), "{err}");
    assert!(err.to_string().contains("corrupt.sgm"), "{err}");
}
