//! Handwritten signatures with skilled forgeries, one folder per writer (the CEDAR / GPDS layout).
//!
//! Layout:
//! ```text
//! ROOT/
//!   WRITER_A/
//!     genuine/   *.png | *.jpg | *.pgm   signatures written by A
//!     forged/    *.png | *.jpg | *.pgm   skilled forgeries of A's signature, by other people
//!   WRITER_B/
//!     genuine/ ...
//!     forged/  ...   (optional: a writer without forgeries gives genuine pairs only)
//! ```
//! Files are read as in [`super::folder`]: grey, area-resized to the network's input, in file-name
//! order; writers in byte order get labels `0..n`. A writer folder without a `genuine/` folder with at
//! least one image is an error naming it; other entries of a writer folder are ignored.
//!
//! Trials per writer (the skilled-forgery protocol): every pair of two of the writer's genuine
//! signatures is a genuine trial, and every (genuine, forgery) pair of the same writer is an
//! impostor trial ([`SignatureSet::pairs`]). Splits are writer-disjoint: fold `k` of `folds`
//! tests on a contiguous group of writers ([`super::folder::fold_range`]).
//!
//! Training uses the genuine signatures only, labelled by writer ([`SignatureSet::genuine_set`]):
//! forgeries of one writer are by different hands and do not form a class. Augmentation for
//! signatures must not flip: a mirrored signature is not the writer's.
//!
//! No public signature set ships in a package registry; bring your own in this layout.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::folder::{fold_range, is_image_file, load_grey, sorted_entries, FolderError};
use crate::data::{ImageShape, LabelledSet};
use crate::eval::{Pair, Pairs};

/// Name of the genuine signatures' folder inside a writer folder.
pub const GENUINE_DIR: &str = "genuine";
/// Name of the skilled forgeries' folder inside a writer folder.
pub const FORGED_DIR: &str = "forged";

/// Signatures of several writers, resized, with writer labels and genuine/forged flags.
#[derive(Debug, Clone)]
pub struct SignatureSet {
    /// The root folder.
    pub root: PathBuf,
    /// Writer names (folder names), index = label.
    pub writers: Vec<String>,
    /// Every file read, writer by writer, genuine first.
    pub files: Vec<PathBuf>,
    /// Writer label of each image (for a forgery: the writer it imitates).
    pub writer: Vec<u32>,
    /// Whether each image is genuine (false: a skilled forgery).
    pub genuine: Vec<bool>,
    /// Height of every image after resizing.
    pub height: usize,
    /// Width of every image after resizing.
    pub width: usize,
    /// `files.len() * height * width` grey values in `[0, 1]`.
    pub pixels: Vec<f32>,
}

/// A writer-disjoint split of a [`SignatureSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFold {
    /// Fold index.
    pub k: usize,
    /// Writers tested on.
    pub test_writers: Range<u32>,
    /// Image indices (genuine and forged) of the training writers.
    pub train: Vec<usize>,
    /// Image indices (genuine and forged) of the test writers.
    pub test: Vec<usize>,
}

impl SignatureSet {
    /// Reads `root` (layout in the module docs) at `height x width`; needs at least 2 writers.
    pub fn load(root: &Path, height: usize, width: usize) -> Result<Self, FolderError> {
        if height == 0 || width == 0 {
            return Err(FolderError::EmptySize { height, width });
        }
        let mut out = Self {
            root: root.to_path_buf(),
            writers: Vec::new(),
            files: Vec::new(),
            writer: Vec::new(),
            genuine: Vec::new(),
            height,
            width,
            pixels: Vec::new(),
        };
        for dir in sorted_entries(root, true)? {
            let label = out.writers.len() as u32;
            let mut n_genuine = 0;
            for (sub, is_genuine) in [(GENUINE_DIR, true), (FORGED_DIR, false)] {
                let d = dir.join(sub);
                if !d.is_dir() {
                    continue;
                }
                for file in sorted_entries(&d, false)?
                    .into_iter()
                    .filter(|p| is_image_file(p))
                {
                    out.pixels.extend(load_grey(&file, height, width)?);
                    out.writer.push(label);
                    out.genuine.push(is_genuine);
                    out.files.push(file);
                    n_genuine += usize::from(is_genuine);
                }
            }
            if n_genuine == 0 {
                return Err(FolderError::NoGenuine { path: dir });
            }
            out.writers.push(
                dir.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
        }
        if out.writers.len() < 2 {
            return Err(FolderError::TooFewIdentities {
                path: root.to_path_buf(),
                found: out.writers.len(),
                need: 2,
            });
        }
        Ok(out)
    }

    /// Number of images, genuine and forged.
    pub fn len(&self) -> usize {
        self.writer.len()
    }

    /// Whether there is no image (never after a successful [`SignatureSet::load`]).
    pub fn is_empty(&self) -> bool {
        self.writer.is_empty()
    }

    /// Fold `k` of `folds`, writer-disjoint (see [`fold_range`]).
    pub fn fold(&self, k: usize, folds: usize) -> Result<SignatureFold, FolderError> {
        let range = fold_range(self.writers.len(), k, folds)?;
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..self.len()).partition(|&i| range.contains(&self.writer[i]));
        Ok(SignatureFold {
            k,
            test_writers: range,
            train,
            test,
        })
    }

    /// Images `indices` as a [`LabelledSet`] labelled by writer; forgeries get the label
    /// `n_writers + writer`, so they never count as the writer's own images.
    pub fn set(&self, indices: &[usize]) -> Result<LabelledSet, FolderError> {
        let n = self.height * self.width;
        let w = self.writers.len() as u32;
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            if i >= self.len() {
                return Err(crate::sampler::SamplerError::IndexOutOfRange {
                    index: i,
                    len: self.len(),
                }
                .into());
            }
            pixels.extend_from_slice(&self.pixels[i * n..(i + 1) * n]);
            labels.push(if self.genuine[i] {
                self.writer[i]
            } else {
                w + self.writer[i]
            });
        }
        Ok(LabelledSet::new(
            pixels,
            labels,
            ImageShape::grey(self.height, self.width),
        )?)
    }

    /// The genuine signatures among `indices`, labelled by writer: the training set.
    pub fn genuine_set(&self, indices: &[usize]) -> Result<LabelledSet, FolderError> {
        let keep: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| self.genuine.get(i).copied().unwrap_or(true))
            .collect();
        self.set(&keep)
    }

    /// The skilled-forgery trials among `indices`, as pairs of positions in `indices` (so they
    /// index `self.set(indices)`): genuine = two genuine signatures of one writer (`a < b`),
    /// impostor = a genuine signature and a forgery of the same writer.
    pub fn pairs(&self, indices: &[usize]) -> Pairs {
        let mut pairs = Pairs::default();
        for (a, &i) in indices.iter().enumerate() {
            for (b, &j) in indices.iter().enumerate().skip(a + 1) {
                if self.writer[i] != self.writer[j] {
                    continue;
                }
                let p = Pair { a, b };
                match (self.genuine[i], self.genuine[j]) {
                    (true, true) => pairs.genuine.push(p),
                    (true, false) | (false, true) => pairs.impostor.push(p),
                    (false, false) => {}
                }
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::super::folder::tests::write_png;
    use super::*;

    /// `writers` writers with `g` genuine and `f` forged 4x4 PNGs each.
    fn layout(root: &Path, writers: u8, g: u8, f: u8) {
        for w in 0..writers {
            for i in 0..g {
                write_png(&root.join(format!("w{w}/genuine/{i}.png")), 4, 4, |x, _| {
                    w * 20 + x as u8
                });
            }
            for i in 0..f {
                write_png(&root.join(format!("w{w}/forged/{i}.png")), 4, 4, |_, y| {
                    200 + y as u8
                });
            }
        }
    }

    #[test]
    fn loads_writers_and_builds_skilled_forgery_pairs() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), 3, 3, 2);
        let s = SignatureSet::load(dir.path(), 2, 2).unwrap();
        assert_eq!(s.writers, ["w0", "w1", "w2"]);
        assert_eq!(s.len(), 15);
        assert_eq!(&s.genuine[0..5], &[true, true, true, false, false]);
        let all: Vec<usize> = (0..s.len()).collect();
        let p = s.pairs(&all);
        // Per writer: C(3,2) = 3 genuine pairs, 3 x 2 = 6 genuine/forgery pairs.
        assert_eq!((p.genuine.len(), p.impostor.len()), (9, 18));
        for q in p.genuine.iter().chain(&p.impostor) {
            assert_eq!(s.writer[q.a], s.writer[q.b]);
        }
        assert!(p.impostor.iter().all(|q| s.genuine[q.a] != s.genuine[q.b]));
        let set = s.set(&all).unwrap();
        assert_eq!(
            set.labels()[3],
            3,
            "a forgery of writer 0 is not labelled 0"
        );
        let g = s.genuine_set(&all).unwrap();
        assert_eq!(g.len(), 9);
        assert_eq!(g.classes(), [0, 1, 2]);
    }

    #[test]
    fn folds_are_writer_disjoint_and_pairs_index_the_subset() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), 4, 2, 1);
        let s = SignatureSet::load(dir.path(), 2, 2).unwrap();
        let fold = s.fold(1, 2).unwrap();
        assert_eq!(fold.test_writers, 2..4);
        assert!(fold.train.iter().all(|&i| s.writer[i] < 2));
        assert!(fold.test.iter().all(|&i| s.writer[i] >= 2));
        let p = s.pairs(&fold.test);
        assert_eq!((p.genuine.len(), p.impostor.len()), (2, 4));
        assert!(p.impostor.iter().all(|q| q.b < fold.test.len()));
    }

    #[test]
    fn a_writer_without_genuine_signatures_is_named() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), 2, 1, 1);
        write_png(&dir.path().join("zed/forged/1.png"), 4, 4, |_, _| 9);
        let err = SignatureSet::load(dir.path(), 2, 2).unwrap_err();
        assert!(err.to_string().contains("zed"), "{err}");
    }
}
