//! Atomic, durable replacement of a file on a host (`std` only): how every siamedge writer on
//! Linux stores templates, galleries, models and data-cache files.
//!
//! [`write_atomic`] writes a new sibling file (`.<name>.tmp-<pid>-<n>`, created exclusively, so
//! two writers never share one), fsyncs it, renames it over the target and fsyncs the directory.
//! A rename within one directory is atomic on POSIX file systems, so a reader, or a restart after a
//! power cut, sees the whole old file or the whole new one, never a torn mix. The temporary lives
//! in the target's directory because a rename across file systems is not atomic.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An atomic write that failed: the step, the path it was applied to, the OS error. The target
/// file is unchanged and the temporary file has been removed.
#[derive(Debug)]
pub struct WriteError {
    /// What was being done: `"creating"`, `"writing"`, `"syncing"`, `"renaming into place"`,
    /// `"syncing directory"`.
    pub step: &'static str,
    /// The file or directory the step was applied to.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: io::Error,
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}: {}", self.step, self.path.display(), self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn step<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError {
        step,
        path: path.to_path_buf(),
        source,
    }
}

/// A fresh sibling name for a temporary copy of `path`, unique within this process and, through
/// the process id, among processes.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Replaces (or creates) the file at `path` with `bytes`, atomically and durably. The parent
/// directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(step("creating", &tmp))?;
        f.write_all(bytes).map_err(step("writing", &tmp))?;
        f.sync_all().map_err(step("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(step("renaming into place", path))
    })();
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
        return written;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(step("syncing directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("siamedge-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("g.sggl");
        write_atomic(&path, b"first version, long").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("g.sggl")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_names_the_step_and_path() {
        let dir = scratch("fail");
        let path = dir.join("g.sggl");
        write_atomic(&path, b"old").unwrap();
        // A directory where the target is makes the rename fail after the temporary was written.
        let blocked = dir.join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("keep"), b"x").unwrap();
        let err = write_atomic(&blocked, b"new").unwrap_err();
        assert_eq!(err.step, "renaming into place");
        assert!(err.to_string().contains("blocked"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                std::ffi::OsString::from("blocked"),
                std::ffi::OsString::from("g.sggl")
            ]
        );

        let missing = write_atomic(&dir.join("no-such-dir").join("g.sggl"), b"x").unwrap_err();
        assert_eq!(missing.step, "creating");
        fs::remove_dir_all(&dir).unwrap();
    }
}
