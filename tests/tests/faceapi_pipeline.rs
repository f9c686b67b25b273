//! The face-api.js pipeline as an edge model: a pipeline folder built from the cached weights
//! (both networks exported to ONNX by `siamedge_trainer::faceapi::onnx`, `pipeline.sgp` by
//! `PipelineSpec::face_api` at threshold 0.5) loads like any model folder
//! (`ModelBundle::open` -> `Runtime`), enrolls ORL person 0 from three images into a store,
//! accepts a fourth image of person 0 and rejects one of person 1 (verify and identify, as the
//! CLI does them); its f32 descriptor is the trainer's candle pipeline's; a folder whose networks
//! are missing or altered is refused naming the file and the command that writes it.
//!
//! Needs the face-api weights and ORL in the cache (`siamedge-train data fetch face-api orl`);
//! skips without them unless `SIAMEDGE_REQUIRE_DATA=1`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use siamedge_edge::bundle::{FolderKind, ModelBundle};
use siamedge_edge::index::GalleryIndex;
use siamedge_edge::store::{Put, SqliteStore, TemplateStore};
use siamedge_edge::{EdgeError, Runtime};
use siamedge_format::pipeline::{Network, PIPELINE_FILE};
use siamedge_format::preprocess::align::AlignVariant;
use siamedge_format::preprocess::ImageRef;
use siamedge_format::{DecisionSpec, OperatingPoint, PipelineSpec, Template};
use siamedge_tests::skip::or_skip_data;
use siamedge_trainer::data::{DataCache, DataSet, OrlFaces};
use siamedge_trainer::export::write_onnx;
use siamedge_trainer::faceapi::onnx::{landmark_onnx, recognition_onnx};
use siamedge_trainer::faceapi::{FaceApi, TfjsWeights, LANDMARK_MANIFEST, RECOGNITION_MANIFEST};

/// The cache, when it holds the face-api weights and ORL.
fn cache() -> Option<(DataCache, OrlFaces)> {
    let loaded = DataCache::from_env()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            let dir = c.dataset_dir(DataSet::FaceApi);
            if !dir.join(LANDMARK_MANIFEST).exists() {
                return Err(format!("{} has no weights", dir.display()));
            }
            let faces = OrlFaces::load(&c).map_err(|e| e.to_string())?;
            Ok((c, faces))
        });
    or_skip_data("the face-api weights and ORL", loaded)
}

/// Writes `landmarks.onnx`, `recognition.onnx`, `pipeline.sgp` (threshold 0.5 at FAR 1e-3,
/// margin 0.6) and a card naming the pipeline into `dir`, as `siamedge-train face-api export`
/// does.
fn build_folder(weights: &Path, dir: &Path) {
    let lm = TfjsWeights::read(&weights.join(LANDMARK_MANIFEST)).unwrap();
    let rec = TfjsWeights::read(&weights.join(RECOGNITION_MANIFEST)).unwrap();
    let lm_path = dir.join(Network::Landmarks.file_name());
    let rec_path = dir.join(Network::Recognition.file_name());
    write_onnx(&lm_path, &landmark_onnx(&lm, &[]).unwrap()).unwrap();
    write_onnx(&rec_path, &recognition_onnx(&rec, &[]).unwrap()).unwrap();
    let decision = DecisionSpec::new(
        &[OperatingPoint {
            far: 1e-3,
            threshold: 0.5,
        }],
        0,
        0.6,
    )
    .unwrap();
    let spec = PipelineSpec::face_api(
        &std::fs::read(&lm_path).unwrap(),
        &std::fs::read(&rec_path).unwrap(),
        AlignVariant::EyesRefine,
        decision,
    );
    let id = spec.id().unwrap();
    siamedge_format::file::write_atomic(&dir.join(PIPELINE_FILE), &spec.to_bytes().unwrap())
        .unwrap();
    let card = serde_json::json!({ "name": "face-aligned (test)", "model_id": id.to_string() });
    std::fs::write(dir.join("card.json"), card.to_string()).unwrap();
}

/// ORL person `p` image `i` as a PGM file in `dir`.
fn orl_file(faces: &OrlFaces, dir: &Path, p: usize, i: usize) -> PathBuf {
    let img = &faces.images[p * 10 + i];
    let mut bytes = format!("P5\n{} {}\n255\n", img.width, img.height).into_bytes();
    bytes.extend_from_slice(&img.pixels);
    let path = dir.join(format!("s{}_{}.pgm", p + 1, i + 1));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_pipeline_folder_enrolls_verifies_and_identifies_like_any_model() {
    let Some((cache, faces)) = cache() else {
        return;
    };
    let weights = cache.dataset_dir(DataSet::FaceApi);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("face-aligned");
    std::fs::create_dir(&dir).unwrap();
    build_folder(&weights, &dir);

    let start = Instant::now();
    let bundle = ModelBundle::open(&dir).unwrap();
    assert_eq!(bundle.kind(), FolderKind::Pipeline);
    assert_eq!(bundle.paired_files().len(), 3);
    let rt = bundle.runtime(false).unwrap();
    assert_eq!(rt.id(), bundle.id());
    assert!(rt.colour() && rt.model().is_none());
    assert_eq!(
        (rt.embedding_spec().dim, rt.embedding_spec().scale),
        (128, 0.005)
    );
    eprintln!("folder loaded in {:.2} s", start.elapsed().as_secs_f64());

    // Enroll person 0 from images 0..3, as `siamedge enroll` does (image files, a store).
    let enroll: Vec<PathBuf> = (0..3).map(|i| orl_file(&faces, tmp.path(), 0, i)).collect();
    let start = Instant::now();
    let mut template: Option<Template> = None;
    for path in &enroll {
        let e = rt.embed_path(path).unwrap();
        assert_eq!(e.model(), rt.id());
        match template.as_mut() {
            None => template = Some(Template::new(0, e.as_ref()).unwrap()),
            Some(t) => t.add(e.as_ref()).unwrap(),
        }
    }
    let template = template.unwrap();
    let mut store = SqliteStore::create(&tmp.path().join("store.db"), rt.id(), None).unwrap();
    store.put(&template, Put::New).unwrap();
    let genuine = rt.embed_path(&orl_file(&faces, tmp.path(), 0, 3)).unwrap();
    let impostor = rt.embed_path(&orl_file(&faces, tmp.path(), 1, 0)).unwrap();
    let per_face = start.elapsed().as_secs_f64() / 5.0;
    eprintln!("{:.0} ms per face (dev profile)", per_face * 1e3);

    // Verify, as `siamedge verify` does: the stored template, the runtime's metric, its default
    // point (threshold 0.5).
    let stored = store.get(0).unwrap().unwrap();
    let decide = |probe: &siamedge_format::Embedding| {
        let d = stored.distance(probe.as_ref(), &rt.metric()).unwrap();
        rt.decision().decide(d)
    };
    let (g, i) = (decide(&genuine), decide(&impostor));
    eprintln!(
        "person 0 image 4: distance {:.4}; person 1 image 1: distance {:.4}",
        g.distance, i.distance
    );
    assert!(g.accept, "{g:?}");
    assert!(!i.accept, "{i:?}");

    // Identify, as `siamedge identify` does: person 1 enrolled too, each probe finds its own.
    store
        .put(&Template::new(1, impostor.as_ref()).unwrap(), Put::New)
        .unwrap();
    let mut index = GalleryIndex::for_runtime(&rt).unwrap();
    store
        .scan(&mut |t| {
            index.upsert(&t).unwrap();
            Ok(())
        })
        .unwrap();
    let hits = index.search(genuine.as_ref(), 2).unwrap();
    assert_eq!(hits[0].subject, 0);
    assert!(rt.decision().decide(hits[0].distance).accept);

    // The edge's f32 descriptor is the trainer's candle pipeline's (same alignment code, the
    // networks exported to ONNX): within 1e-3 of values of about 0.1.
    let api = FaceApi::load_dir(&weights, &candle_core::Device::Cpu).unwrap();
    let img = &faces.images[3];
    let view = ImageRef::grey(img.width, img.height, &img.pixels).unwrap();
    let want = api.describe(view, AlignVariant::EyesRefine).unwrap();
    let grey = siamedge_edge::preprocess::GrayImage {
        width: img.width,
        height: img.height,
        pixels: img.pixels.clone(),
    };
    let got = rt.embed_gray_f32(&grey, Path::new("s1_4")).unwrap().values;
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let peak = got.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    eprintln!("tract vs candle: max abs diff {diff:.2e}; largest |value| {peak:.3}");
    assert!(diff < 1e-3, "{diff}");
    // Inside the int8 range of the template scale (127 * 0.005 = 0.635).
    assert!(peak < 0.635, "{peak}");
}

#[test]
fn a_pipeline_folder_with_missing_or_altered_networks_is_refused() {
    let Some((cache, _)) = cache() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    build_folder(&cache.dataset_dir(DataSet::FaceApi), dir);
    let rec = dir.join(Network::Recognition.file_name());
    let lm = dir.join(Network::Landmarks.file_name());

    // The landmark network where the recognition network should be.
    let saved = std::fs::read(&rec).unwrap();
    std::fs::copy(&lm, &rec).unwrap();
    for err in [
        ModelBundle::open(dir).unwrap_err(),
        Runtime::pipeline(&dir.join(PIPELINE_FILE)).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(&err, EdgeError::NetworkMismatch { file, .. } if file == &rec),
            "{msg}"
        );
        assert!(
            msg.contains("siamedge-train face-api export --out"),
            "{msg}"
        );
    }
    std::fs::write(&rec, saved).unwrap();
    assert!(ModelBundle::open(dir).is_ok());

    std::fs::remove_file(&lm).unwrap();
    let err = ModelBundle::open(dir).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, EdgeError::MissingNetwork { file, .. } if file == &lm),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "siamedge-train face-api export --out {}",
            dir.display()
        )),
        "{msg}"
    );
}
