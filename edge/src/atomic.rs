//! Atomic file replacement: write a sibling temporary file, fsync it, rename it over the target,
//! fsync the directory.
//!
//! On POSIX file systems `rename(2)` within one directory is atomic, so a reader (or a restart after
//! a power cut) sees the complete old file or the complete new one. The temporary file lives in the
//! target's directory (a rename across file systems is not atomic) and is removed when the write
//! fails.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::EdgeError;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> EdgeError + 'a {
    move |source| EdgeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The temporary sibling used while replacing `path`: `.<name>.tmp-<pid>` in the same directory.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Replaces the file at `path` with `bytes`, atomically and durably.
///
/// Errors name the path and the step (`writing`, `syncing`, `renaming`). On error the target is
/// unchanged and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EdgeError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io("creating", &tmp))?;
        f.write_all(bytes).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(io("renaming into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sgg");
        write_atomic(&path, b"first version, long").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("g.sgg")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sgg");
        write_atomic(&path, b"old").unwrap();
        // A directory where the temporary file should go makes the create step fail.
        fs::create_dir(temp_path(&path)).unwrap();
        let err = write_atomic(&path, b"new").unwrap_err();
        assert!(err.to_string().contains(".g.sgg.tmp-"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}
