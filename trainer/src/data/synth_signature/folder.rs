//! A synthetic signature set on disk, in the plain layout that `--data signature` reads
//! ([`crate::data::signature`]):
//!
//! ```text
//! OUT/
//!   w0000/genuine/g00.png ... g23.png     the writer's genuine signatures (scans, 8-bit grey)
//!   w0000/forged/f00.png  ... f29.png     skilled forgeries of them
//!   w0001/ ...
//!   synth.json                            the generator's settings, to make the set again
//! ```
//!
//! The set is written into `OUT.partial` and renamed to `OUT` once complete, so an interrupted run
//! leaves no half set under the final name; an existing `OUT` is refused, never overwritten.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{SampleKind, SignatureSynth, SynthError};
use crate::data::signature::{FORGED_DIR, GENUINE_DIR};

/// Why writing a set failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The generator refused a sample.
    #[error("writer {writer}, sample {k} ({kind:?}): {source}")]
    Synth {
        /// The writer.
        writer: u32,
        /// The sample index.
        k: u32,
        /// Genuine or forgery.
        kind: SampleKind,
        /// What the generator said.
        source: SynthError,
    },
    /// A file or folder could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An image could not be encoded.
    #[error("{}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The error.
        source: image::ImageError,
    },
    /// The output folder exists already.
    #[error("{}: exists already; choose a new folder (a set is never written over another)", path.display())]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// No writer asked for, or fewer than 2 genuine signatures each (no genuine pair).
    #[error("{field} = {value}: expected {expected}")]
    Count {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: u32,
        /// What is accepted.
        expected: &'static str,
    },
}

/// What [`write_folder`] wrote (also saved as `synth.json` in the set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthSetSummary {
    /// The generator seed.
    pub seed: u64,
    /// Writers `0..writers`.
    pub writers: u32,
    /// Genuine signatures per writer.
    pub genuine_per_writer: u32,
    /// Skilled forgeries per writer.
    pub forgeries_per_writer: u32,
    /// Scan resolution, dots per inch.
    pub dpi: f32,
    /// Images written.
    pub images: u64,
    /// Bytes of PNG written.
    pub bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes writers `0..writers` of `synth` (its per-writer counts and rendering) under `out`, in the
/// plain signature layout; `progress(done, writers)` after each writer.
pub fn write_folder(
    synth: &SignatureSynth,
    out: &Path,
    writers: u32,
    mut progress: impl FnMut(u32, u32),
) -> Result<SynthSetSummary, WriteError> {
    if writers < 2 {
        return Err(WriteError::Count {
            field: "writers",
            value: writers,
            expected: "at least 2 (folds are writer-disjoint)",
        });
    }
    if synth.genuine_per_writer < 2 {
        return Err(WriteError::Count {
            field: "genuine per writer",
            value: synth.genuine_per_writer,
            expected: "at least 2 (a genuine trial is a pair)",
        });
    }
    if out.exists() {
        return Err(WriteError::Exists {
            path: out.to_path_buf(),
        });
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let mut summary = SynthSetSummary {
        seed: synth.seed,
        writers,
        genuine_per_writer: synth.genuine_per_writer,
        forgeries_per_writer: synth.forgeries_per_writer,
        dpi: synth.render.dpi,
        images: 0,
        bytes: 0,
    };
    for w in 0..writers {
        let dir = partial.join(format!("w{w:04}"));
        for (kind, sub, prefix, count) in [
            (
                SampleKind::Genuine,
                GENUINE_DIR,
                "g",
                synth.genuine_per_writer,
            ),
            (
                SampleKind::SkilledForgery,
                FORGED_DIR,
                "f",
                synth.forgeries_per_writer,
            ),
        ] {
            let sub = dir.join(sub);
            std::fs::create_dir_all(&sub).map_err(io(&sub))?;
            for k in 0..count {
                let img = synth
                    .image(w, k, kind)
                    .map_err(|source| WriteError::Synth {
                        writer: w,
                        k,
                        kind,
                        source,
                    })?;
                let path = sub.join(format!("{prefix}{k:02}.png"));
                img.save(&path).map_err(|source| WriteError::Image {
                    path: path.clone(),
                    source,
                })?;
                summary.images += 1;
                summary.bytes += std::fs::metadata(&path).map_err(io(&path))?.len();
            }
        }
        progress(w + 1, writers);
    }
    let json = partial.join("synth.json");
    let text = serde_json::to_string_pretty(&summary).expect("the summary serializes");
    std::fs::write(&json, text).map_err(io(&json))?;
    std::fs::rename(&partial, out).map_err(io(out))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::signature::SignatureSet;

    fn small() -> SignatureSynth {
        SignatureSynth {
            seed: 3,
            genuine_per_writer: 3,
            forgeries_per_writer: 2,
            ..SignatureSynth::default()
        }
    }

    #[test]
    fn the_written_set_reads_back_with_the_signature_loader() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("synth");
        let mut calls = Vec::new();
        let s = write_folder(&small(), &out, 3, |d, n| calls.push((d, n))).unwrap();
        assert_eq!((s.images, calls), (15, vec![(1, 3), (2, 3), (3, 3)]));
        assert!(out.join("synth.json").is_file());
        assert!(!tmp.path().join("synth.partial").exists());
        let set = SignatureSet::load(&out, 64, 128).unwrap();
        assert_eq!((set.writers.len(), set.len()), (3, 15));
        // Per writer: 3 genuine pairs and 3 x 2 (genuine, forgery) pairs.
        let all: Vec<usize> = (0..set.len()).collect();
        let pairs = set.pairs(&all);
        assert_eq!((pairs.genuine.len(), pairs.impostor.len()), (9, 18));

        // Never written over, and the same set again byte for byte.
        assert!(matches!(
            write_folder(&small(), &out, 3, |_, _| {}),
            Err(WriteError::Exists { .. })
        ));
        let again = tmp.path().join("again");
        write_folder(&small(), &again, 3, |_, _| {}).unwrap();
        for f in ["w0001/genuine/g02.png", "w0002/forged/f01.png"] {
            assert_eq!(
                std::fs::read(out.join(f)).unwrap(),
                std::fs::read(again.join(f)).unwrap(),
                "{f}"
            );
        }
    }

    #[test]
    fn too_few_writers_or_signatures_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let one = write_folder(&small(), &tmp.path().join("a"), 1, |_, _| {});
        assert!(matches!(
            one,
            Err(WriteError::Count {
                field: "writers",
                ..
            })
        ));
        let synth = SignatureSynth {
            genuine_per_writer: 1,
            ..small()
        };
        let g = write_folder(&synth, &tmp.path().join("b"), 3, |_, _| {});
        assert!(matches!(g, Err(WriteError::Count { .. })));
        assert!(!tmp.path().join("a").exists() && !tmp.path().join("b").exists());
    }
}
