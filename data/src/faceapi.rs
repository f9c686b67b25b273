//! The pretrained face-api.js weights, fetched from the npm registry and cached like the data
//! sets: `<cache>/face-api/`, five files, each checked against its pinned size and sha256.
//!
//! What: [`fetch_faceapi`] runs [`crate::fetch::fetch`] for [`DataSet::FaceApi`]: the npm package
//! `@vladmandic/face-api@1.7.15` ([`crate::download::FACE_API`], `npm pack`, the tarball's sha256
//! pinned), from which [`extract`] reads the members of [`FILES`] ([`crate::tgz`]) and checks each
//! against its pin; they are written flat into the folder with the manifest. The weights are two
//! TensorFlow.js models, each a weights manifest (JSON: tensor names, shapes, dtypes, quantization)
//! naming one shard (`.bin`, the tensors' bytes back to back):
//!
//! | file | bytes | what |
//! |---|---|---|
//! | [`RECOGNITION_MANIFEST`], [`RECOGNITION_BIN`] | 19,615 + 6,444,032 | face recognition ResNet-34: 150x150 RGB face to a 128-d descriptor |
//! | [`LANDMARK_MANIFEST`], [`LANDMARK_BIN`] | 8,485 + 356,840 | 68-point face landmarks |
//! | [`LICENSE_FILE`] | 1,067 | the npm package's MIT license, kept beside the weights |
//!
//! Credit: the weights are the official face-api.js weights by Vincent Mühler (MIT license); the
//! recognition model is his port of Davis King's dlib face recognition ResNet, whose model dlib
//! released into the public domain (CC0). The npm package is Vladimir Mandic's maintained fork
//! (MIT), which ships those weights unchanged.
//!
//! When not: nothing here parses or runs the weights; the caller reads the folder
//! [`fetch_faceapi`] returns.

use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::cache::{sha256_file, sha256_hex, CacheError, DataCache, DataSet};
use super::fetch::{fetch, record, write_new, FetchError, FetchReport};
use super::manifest::FileRecord;
use super::tgz::{read_members, TgzError, Wanted};

/// The recognition model's weights manifest (JSON), in the folder [`fetch_faceapi`] returns.
pub const RECOGNITION_MANIFEST: &str = "face_recognition_model-weights_manifest.json";
/// The recognition model's one weights shard.
pub const RECOGNITION_BIN: &str = "face_recognition_model.bin";
/// The 68-point landmark model's weights manifest (JSON).
pub const LANDMARK_MANIFEST: &str = "face_landmark_68_model-weights_manifest.json";
/// The 68-point landmark model's one weights shard.
pub const LANDMARK_BIN: &str = "face_landmark_68_model.bin";
/// The npm package's license (MIT), cached with the weights.
pub const LICENSE_FILE: &str = "LICENSE";

/// A file of the face-api set: where it is in the npm tarball, its size and sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedFile {
    /// File name in the set folder.
    pub name: &'static str,
    /// Path of the member in the tarball.
    pub member: &'static str,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: &'static str,
}

/// The five files of `<cache>/face-api/`, in manifest order.
pub const FILES: [PinnedFile; 5] = [
    PinnedFile {
        name: RECOGNITION_MANIFEST,
        member: "package/model/face_recognition_model-weights_manifest.json",
        bytes: 19_615,
        sha256: "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b",
    },
    PinnedFile {
        name: RECOGNITION_BIN,
        member: "package/model/face_recognition_model.bin",
        bytes: 6_444_032,
        sha256: "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
    },
    PinnedFile {
        name: LANDMARK_MANIFEST,
        member: "package/model/face_landmark_68_model-weights_manifest.json",
        bytes: 8_485,
        sha256: "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9",
    },
    PinnedFile {
        name: LANDMARK_BIN,
        member: "package/model/face_landmark_68_model.bin",
        bytes: 356_840,
        sha256: "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
    },
    PinnedFile {
        name: LICENSE_FILE,
        member: "package/LICENSE",
        bytes: 1_067,
        sha256: "9a3442b79acaf4fbc7c2e07b7e2d8f84af9bb3871bf08a69d80304ab00640e9a",
    },
];

/// Why the weights could not be taken out of the tarball; each variant names the member.
#[derive(Debug, Error)]
pub enum FaceApiError {
    /// A member is missing, duplicated, not a file, of another size, or the archive is corrupt.
    #[error(transparent)]
    Tgz(#[from] TgzError),
    /// A member has its pinned size but not its pinned content.
    #[error("{member}: sha256 {found}, pinned {expected}")]
    Sha256 {
        /// The member.
        member: String,
        /// Pinned.
        expected: String,
        /// Found.
        found: String,
    },
}

/// Fetches the face-api weights when they are not cached (see [`crate::fetch::fetch`]; a cached,
/// verified folder costs one sha256 pass over its five files, about 6.8 MB, and no download) and
/// returns the folder holding [`RECOGNITION_MANIFEST`], [`RECOGNITION_BIN`], [`LANDMARK_MANIFEST`],
/// [`LANDMARK_BIN`] (and [`LICENSE_FILE`]), with the report (`images` is 0).
pub fn fetch_faceapi(
    cache: &DataCache,
    log: &mut dyn FnMut(&str),
) -> Result<(PathBuf, FetchReport), FetchError> {
    let report = fetch(cache, DataSet::FaceApi, log)?;
    Ok((report.path.clone(), report))
}

/// The bytes of the members of `pins`, in the same order, read from the gzipped npm tarball `tgz`
/// and each checked against its pinned size (before reading) and sha256 (after).
pub fn extract<R: Read>(tgz: R, pins: &[PinnedFile]) -> Result<Vec<Vec<u8>>, FaceApiError> {
    let wanted: Vec<Wanted<'_>> = pins
        .iter()
        .map(|p| Wanted {
            path: p.member,
            bytes: p.bytes,
        })
        .collect();
    let files = read_members(tgz, &wanted)?;
    for (pin, bytes) in pins.iter().zip(&files) {
        let found = sha256_hex(bytes);
        if found != pin.sha256 {
            return Err(FaceApiError::Sha256 {
                member: pin.member.to_string(),
                expected: pin.sha256.to_string(),
                found,
            });
        }
    }
    Ok(files)
}

/// Builds the set folder `out` from the tarball at `archive`: the checked [`FILES`], flat.
pub(crate) fn build(archive: &Path, out: &Path) -> Result<Vec<FileRecord>, FetchError> {
    let file = fs::File::open(archive).map_err(CacheError::io("opening", archive))?;
    let contents = extract(BufReader::new(file), &FILES).map_err(|source| FetchError::FaceApi {
        archive: archive.to_path_buf(),
        source,
    })?;
    let mut files = Vec::with_capacity(FILES.len());
    for (pin, bytes) in FILES.iter().zip(&contents) {
        write_new(&out.join(pin.name), bytes)?;
        files.push(record(pin.name, bytes));
    }
    Ok(files)
}

/// Checks the cached folder `dir`: every one of [`FILES`] matches its pinned sha256.
pub(crate) fn verify_dir(dir: &Path) -> Result<(), FetchError> {
    for pin in &FILES {
        let path = dir.join(pin.name);
        let found = sha256_file(&path)?;
        if found != pin.sha256 {
            return Err(FetchError::Sha256 {
                path,
                expected: pin.sha256.to_string(),
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_path(path).unwrap();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    /// Two pins over small members: "abc" (the FIPS 180-2 vector) and an empty shard.
    const PINS: [PinnedFile; 2] = [
        PinnedFile {
            name: "m.json",
            member: "package/model/m.json",
            bytes: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        },
        PinnedFile {
            name: "m.bin",
            member: "package/model/m.bin",
            bytes: 0,
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
    ];

    #[test]
    fn pinned_members_come_out_in_pin_order() {
        let t = tgz(&[
            ("package/model/m.bin", b""),
            ("package/model/m.json", b"abc"),
        ]);
        assert_eq!(
            extract(&t[..], &PINS).unwrap(),
            [b"abc".to_vec(), Vec::new()]
        );
    }

    #[test]
    fn a_tampered_member_is_refused_by_name() {
        let t = tgz(&[
            ("package/model/m.json", b"abd"),
            ("package/model/m.bin", b""),
        ]);
        let e = extract(&t[..], &PINS).unwrap_err();
        assert!(
            matches!(&e, FaceApiError::Sha256 { member, .. } if member == "package/model/m.json"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("package/model/m.json: sha256 "),
            "{e}"
        );

        let t = tgz(&[
            ("package/model/m.json", b"abcd"),
            ("package/model/m.bin", b""),
        ]);
        let e = extract(&t[..], &PINS).unwrap_err();
        assert_eq!(e.to_string(), "package/model/m.json: 4 bytes, expected 3");
    }

    #[test]
    fn files_are_the_four_weights_then_the_license() {
        let names: Vec<&str> = FILES.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                RECOGNITION_MANIFEST,
                RECOGNITION_BIN,
                LANDMARK_MANIFEST,
                LANDMARK_BIN,
                LICENSE_FILE
            ]
        );
        for f in &FILES {
            assert!(f.member.starts_with("package/"));
            assert!(f.member.ends_with(f.name));
            assert_eq!(f.sha256.len(), 64);
        }
    }

    #[test]
    fn a_tampered_cached_file_fails_verification_by_path() {
        let dir = tempfile::tempdir().unwrap();
        for pin in &FILES[..2] {
            fs::write(dir.path().join(pin.name), b"").unwrap();
        }
        let e = verify_dir(dir.path()).unwrap_err();
        assert!(e.to_string().contains(RECOGNITION_MANIFEST), "{e}");
    }
}
