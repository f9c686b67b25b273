//! The face-api weights on the fetched cache (`siamedge-train data fetch face-api`): the folder
//! rebuilt from the cached npm tarball, then found in the cache; a tampered member of the real
//! tarball refused by name. When the weights are not cached these tests print a message and pass,
//! unless `SIAMEDGE_REQUIRE_DATA=1` (CI), where they fail. No test asks the registry.

mod common;

use std::fs;
use std::io::{Cursor, Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use siamedge_data::download::Source;
use siamedge_data::faceapi::{
    self, FaceApiError, FILES, LANDMARK_BIN, LANDMARK_MANIFEST, LICENSE_FILE, RECOGNITION_BIN,
    RECOGNITION_MANIFEST,
};
use siamedge_data::fetch::{verify, FetchStatus};
use siamedge_data::{fetch_faceapi, DataCache, DataSet};

/// The cache when the weights are fetched and verified; `None` (test skipped) when they are not
/// and data is not required.
fn cached() -> Option<DataCache> {
    let cache = common::cache()?;
    common::or_skip(
        DataSet::FaceApi.name(),
        verify(&cache, DataSet::FaceApi).map(|_| cache),
    )
}

fn tarball(cache: &DataCache) -> Vec<u8> {
    let path = cache
        .downloads_dir()
        .join(Source::of(DataSet::FaceApi).archive);
    fs::read(path).unwrap()
}

/// What the trainer's face-api module does: the folder built from the tarball when it is missing
/// (here from a copy of the cached tarball, so no registry is asked), then found in the cache.
#[test]
fn fetch_faceapi_builds_from_the_tarball_then_uses_the_cache() {
    let Some(cache) = cached() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fresh = DataCache::new(tmp.path());
    let archive = Source::of(DataSet::FaceApi).archive;
    fs::create_dir_all(fresh.downloads_dir()).unwrap();
    fs::copy(
        cache.downloads_dir().join(archive),
        fresh.downloads_dir().join(archive),
    )
    .unwrap();
    let mut log = Vec::new();
    let (dir, report) = fetch_faceapi(&fresh, &mut |l| log.push(l.to_string())).unwrap();
    assert_eq!(report.status, FetchStatus::Rebuilt, "{log:?}");
    assert!(log.iter().all(|l| !l.contains("downloading")), "{log:?}");
    assert_eq!(dir, fresh.dataset_dir(DataSet::FaceApi));
    assert_eq!((report.files, report.images), (5, 0));
    assert_eq!(report.pin.registry, "npm");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            LICENSE_FILE,
            LANDMARK_MANIFEST,
            LANDMARK_BIN,
            RECOGNITION_MANIFEST,
            RECOGNITION_BIN,
            "manifest.json",
        ]
    );
    for f in &FILES {
        assert_eq!(
            fs::metadata(dir.join(f.name)).unwrap().len(),
            f.bytes,
            "{}",
            f.name
        );
    }
    let manifest = fs::read_to_string(dir.join(RECOGNITION_MANIFEST)).unwrap();
    assert!(
        manifest.contains(RECOGNITION_BIN),
        "the manifest names its shard"
    );
    assert_eq!(
        fs::read(dir.join("manifest.json")).unwrap(),
        fs::read(cache.dataset_dir(DataSet::FaceApi).join("manifest.json")).unwrap(),
        "the manifest is byte-identical to the cached one"
    );

    log.clear();
    let (again, report) = fetch_faceapi(&fresh, &mut |l| log.push(l.to_string())).unwrap();
    assert_eq!(report.status, FetchStatus::Cached);
    assert!(log.is_empty(), "{log:?}");
    assert_eq!(again, dir);

    // A damaged cached file: the next fetch rebuilds from the tarball.
    fs::write(dir.join(LANDMARK_BIN), b"damaged").unwrap();
    let e = verify(&fresh, DataSet::FaceApi).unwrap_err();
    assert!(e.to_string().contains(LANDMARK_BIN), "{e}");
    let (_, report) = fetch_faceapi(&fresh, &mut |l| log.push(l.to_string())).unwrap();
    assert_eq!(report.status, FetchStatus::Rebuilt, "{log:?}");
}

/// One byte of the landmark shard flipped inside the real tarball (headers and sizes untouched):
/// the extraction refuses it and names the member.
#[test]
fn a_tampered_member_of_the_real_tarball_is_refused_by_name() {
    let Some(cache) = cached() else {
        return;
    };
    let tgz = tarball(&cache);
    let files = faceapi::extract(&tgz[..], &FILES).unwrap();
    for (f, bytes) in FILES.iter().zip(&files) {
        let cached = fs::read(cache.dataset_dir(DataSet::FaceApi).join(f.name)).unwrap();
        assert!(cached == *bytes, "{} differs from the cached file", f.name);
    }

    let mut tar = Vec::new();
    GzDecoder::new(&tgz[..]).read_to_end(&mut tar).unwrap();
    let member = "package/model/face_landmark_68_model.bin";
    let mut archive = tar::Archive::new(Cursor::new(&tar[..]));
    let at = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| &*e.path_bytes() == member.as_bytes())
        .map(|e| e.raw_file_position())
        .unwrap();
    tar[at as usize + 1000] ^= 0x01;
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&tar).unwrap();
    let tampered = gz.finish().unwrap();

    let e = faceapi::extract(&tampered[..], &FILES).unwrap_err();
    assert!(
        matches!(&e, FaceApiError::Sha256 { member: m, expected, .. }
            if m == member && expected == "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"),
        "{e}"
    );
    assert!(e.to_string().starts_with(member), "{e}");
}
