//! A generic image folder: one sub-folder per identity, the images of that identity inside.
//!
//! What: `ROOT/ALICE/1.png`, `ROOT/ALICE/2.jpg`, `ROOT/BOB/x.pgm`, ... PNG, JPEG and PGM/PPM/PBM
//! (netpbm) files are decoded with the `image` crate, converted to grey (ITU-R BT.709 luma for colour
//! images), and area-resized to the network's input ([`resize_area`]: the exact mean of the covered
//! area, the aspect ratio is not kept). Identities are the sub-folder names in byte order and get
//! labels `0..n`; images inside one identity are read in file-name order, so a folder always loads
//! the same way. Files with other extensions and hidden entries (`.DS_Store`) are skipped and
//! counted; a file with an image extension that does not decode is an error naming it.
//!
//! Splits are identity-disjoint like ORL's ([`ImageFolder::fold`]): the identities are cut into
//! `folds` contiguous groups in label order and fold `k` tests on group `k`, trains on the others.
//!
//! When not: one flat folder of images without identities, or pairs listed in a file; and no
//! augmentation happens here (see [`crate::sampler::Augment`]).

use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::resize::{resize_area, PreprocessError};
use crate::data::{ImageShape, LabelledSet};
use crate::sampler::SamplerError;

/// File extensions read (lower case); everything else is skipped.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "pgm", "pnm", "ppm", "pbm"];

/// Why an image folder could not be read or split.
#[derive(Debug, Error)]
pub enum FolderError {
    /// A folder or file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file with an image extension could not be decoded.
    #[error("{path}: not a readable image: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image could not be resized (zero width or height).
    #[error("{path}: {source}")]
    Resize {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PreprocessError,
    },
    /// The folder holds too few identities (sub-folders with at least one image).
    #[error("{path}: {found} identities with images, need at least {need}")]
    TooFewIdentities {
        /// The root folder.
        path: PathBuf,
        /// Identities found.
        found: usize,
        /// Identities needed.
        need: usize,
    },
    /// A fold that does not exist, or more folds than identities.
    #[error("fold {k} of {folds} with {identities} identities: need 0 <= k < folds <= identities")]
    Fold {
        /// The fold asked for.
        k: usize,
        /// Number of folds.
        folds: usize,
        /// Number of identities.
        identities: usize,
    },
    /// A signature writer folder without genuine signatures ([`super::signature`]).
    #[error("{path}: a writer folder needs a genuine/ folder with at least one image")]
    NoGenuine {
        /// The writer folder.
        path: PathBuf,
    },
    /// A target size of zero.
    #[error("target size {height}x{width} is empty")]
    EmptySize {
        /// Height asked for.
        height: usize,
        /// Width asked for.
        width: usize,
    },
    /// The images could not form a labelled set.
    #[error(transparent)]
    Set(#[from] SamplerError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `path` has one of [`IMAGE_EXTENSIONS`] (any case) and is not hidden.
pub fn is_image_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    !hidden && ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Sorted entries of `dir` (full paths), `dirs` selects folders or files.
pub(crate) fn sorted_entries(dir: &Path, dirs: bool) -> Result<Vec<PathBuf>, FolderError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_dir() == dirs {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one image file, grey, area-resized to `height x width`; pixel values in `[0, 1]`,
/// `height * width` of them, row-major.
pub fn load_grey(path: &Path, height: usize, width: usize) -> Result<Vec<f32>, FolderError> {
    if height == 0 || width == 0 {
        return Err(FolderError::EmptySize { height, width });
    }
    let bytes = fs::read(path).map_err(io(path))?;
    let img = image::load_from_memory(&bytes).map_err(|source| FolderError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let grey = img.to_luma8();
    let (sw, sh) = (grey.width() as usize, grey.height() as usize);
    let pixels = grey.into_raw();
    let out = if (sw, sh) == (width, height) {
        pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
    } else {
        resize_area(&pixels, sw, sh, width, height)
            .map_err(|source| FolderError::Resize {
                path: path.to_path_buf(),
                source,
            })?
            .into_iter()
            .map(|p| p / 255.0)
            .collect()
    };
    Ok(out)
}

/// The images of an identity folder, resized, with labels.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The root folder.
    pub root: PathBuf,
    /// Identity names (sub-folder names), index = label.
    pub identities: Vec<String>,
    /// Every image file read, in load order.
    pub files: Vec<PathBuf>,
    /// Label of each image, an index into `identities`.
    pub labels: Vec<u32>,
    /// Height of every image after resizing.
    pub height: usize,
    /// Width of every image after resizing.
    pub width: usize,
    /// `files.len() * height * width` grey values in `[0, 1]`, image after image.
    pub pixels: Vec<f32>,
    /// Files skipped for their extension.
    pub skipped: usize,
}

/// An identity-disjoint split of an [`ImageFolder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderFold {
    /// Fold index.
    pub k: usize,
    /// Labels tested on: a contiguous range of identities.
    pub test_identities: std::ops::Range<u32>,
    /// Image indices of the other identities.
    pub train: Vec<usize>,
    /// Image indices of the test identities.
    pub test: Vec<usize>,
}

impl ImageFolder {
    /// Reads `root`'s identity sub-folders at `height x width`. Needs at least 2 identities with
    /// images; sub-folders without an image are left out (they get no label).
    pub fn load(root: &Path, height: usize, width: usize) -> Result<Self, FolderError> {
        if height == 0 || width == 0 {
            return Err(FolderError::EmptySize { height, width });
        }
        let mut out = Self {
            root: root.to_path_buf(),
            identities: Vec::new(),
            files: Vec::new(),
            labels: Vec::new(),
            height,
            width,
            pixels: Vec::new(),
            skipped: 0,
        };
        for dir in sorted_entries(root, true)? {
            let files = sorted_entries(&dir, false)?;
            let (images, other): (Vec<_>, Vec<_>) =
                files.into_iter().partition(|p| is_image_file(p));
            out.skipped += other.len();
            if images.is_empty() {
                continue;
            }
            let label = out.identities.len() as u32;
            out.identities.push(
                dir.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            for file in images {
                out.pixels.extend(load_grey(&file, height, width)?);
                out.labels.push(label);
                out.files.push(file);
            }
        }
        if out.identities.len() < 2 {
            return Err(FolderError::TooFewIdentities {
                path: root.to_path_buf(),
                found: out.identities.len(),
                need: 2,
            });
        }
        Ok(out)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether no image was read (never true after a successful [`ImageFolder::load`]).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Fold `k` of `folds`: identities are cut into `folds` contiguous groups in label order (the
    /// first `n % folds` groups get one identity more) and group `k` is tested on.
    pub fn fold(&self, k: usize, folds: usize) -> Result<FolderFold, FolderError> {
        let range = fold_range(self.identities.len(), k, folds)?;
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, l) in self.labels.iter().enumerate() {
            if range.contains(l) {
                test.push(i);
            } else {
                train.push(i);
            }
        }
        Ok(FolderFold {
            k,
            test_identities: range,
            train,
            test,
        })
    }

    /// Images `indices` as a [`LabelledSet`] (one grey channel), labels kept.
    pub fn set(&self, indices: &[usize]) -> Result<LabelledSet, FolderError> {
        let n = self.height * self.width;
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let img = self
                .pixels
                .get(i * n..(i + 1) * n)
                .ok_or(SamplerError::IndexOutOfRange {
                    index: i,
                    len: self.len(),
                })?;
            pixels.extend_from_slice(img);
            labels.push(self.labels[i]);
        }
        Ok(LabelledSet::new(
            pixels,
            labels,
            ImageShape::grey(self.height, self.width),
        )?)
    }
}

/// The labels of fold `k` of `folds` over `n` identities: contiguous, sizes differing by at most 1.
pub fn fold_range(n: usize, k: usize, folds: usize) -> Result<std::ops::Range<u32>, FolderError> {
    if folds == 0 || k >= folds || folds > n {
        return Err(FolderError::Fold {
            k,
            folds,
            identities: n,
        });
    }
    let (base, extra) = (n / folds, n % folds);
    let start = k * base + k.min(extra);
    let len = base + usize::from(k < extra);
    Ok(start as u32..(start + len) as u32)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a `w x h` grey PNG whose pixel `(x, y)` is `f(x, y)`.
    pub(crate) fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn loads_png_jpeg_and_pgm_resized_and_grey() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // alice: a 4x4 PNG of two flat halves -> 2x2 keeps the halves exactly.
        write_png(
            &root.join("alice/1.png"),
            4,
            4,
            |x, _| if x < 2 { 0 } else { 255 },
        );
        // alice: a colour JPEG (pure white survives JPEG exactly enough).
        let rgb = image::RgbImage::from_fn(8, 8, |_, _| image::Rgb([255, 255, 255]));
        rgb.save(root.join("alice/2.JPG")).unwrap();
        // bob: a PGM, and a file that is skipped.
        fs::create_dir_all(root.join("bob")).unwrap();
        image::GrayImage::from_fn(2, 2, |x, y| image::Luma([(10 * (x + 2 * y)) as u8]))
            .save(root.join("bob/a.pgm"))
            .unwrap();
        fs::write(root.join("bob/notes.txt"), "x").unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();

        let f = ImageFolder::load(root, 2, 2).unwrap();
        assert_eq!(f.identities, ["alice", "bob"]);
        assert_eq!(f.labels, [0, 0, 1]);
        assert_eq!(f.skipped, 1);
        assert_eq!(&f.pixels[0..4], &[0.0, 1.0, 0.0, 1.0]);
        assert!(
            f.pixels[4..8].iter().all(|&p| p > 0.98),
            "{:?}",
            &f.pixels[4..8]
        );
        let want: Vec<f32> = [0.0, 10.0, 20.0, 30.0].iter().map(|v| v / 255.0).collect();
        assert_eq!(&f.pixels[8..12], want.as_slice());
        let set = f.set(&[2, 0]).unwrap();
        assert_eq!(set.labels(), [1, 0]);
        assert_eq!(set.shape(), ImageShape::grey(2, 2));
    }

    #[test]
    fn a_broken_file_is_named_and_one_identity_is_too_few() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_png(&root.join("a/1.png"), 3, 3, |_, _| 7);
        fs::create_dir_all(root.join("b")).unwrap();
        fs::write(root.join("b/bad.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let err = ImageFolder::load(root, 2, 2).unwrap_err();
        assert!(matches!(err, FolderError::Decode { .. }));
        assert!(err.to_string().contains("bad.png"), "{err}");
        fs::remove_file(root.join("b/bad.png")).unwrap();
        let err = ImageFolder::load(root, 2, 2).unwrap_err();
        assert!(
            matches!(err, FolderError::TooFewIdentities { found: 1, .. }),
            "{err}"
        );
        assert!(matches!(
            ImageFolder::load(&root.join("missing"), 2, 2),
            Err(FolderError::Io { .. })
        ));
        assert!(matches!(
            ImageFolder::load(root, 0, 2),
            Err(FolderError::EmptySize { .. })
        ));
    }

    #[test]
    fn folds_are_identity_disjoint_and_cover_everyone() {
        assert_eq!(fold_range(10, 0, 4).unwrap(), 0..3);
        assert_eq!(fold_range(10, 1, 4).unwrap(), 3..6);
        assert_eq!(fold_range(10, 2, 4).unwrap(), 6..8);
        assert_eq!(fold_range(10, 3, 4).unwrap(), 8..10);
        assert_eq!(fold_range(40, 2, 4).unwrap(), 20..30);
        assert!(fold_range(3, 0, 4).is_err());
        assert!(fold_range(10, 4, 4).is_err());
        let dir = tempfile::tempdir().unwrap();
        for p in 0..5 {
            for i in 0..2 {
                write_png(&dir.path().join(format!("p{p}/{i}.png")), 2, 2, |_, _| {
                    p * 40
                });
            }
        }
        let f = ImageFolder::load(dir.path(), 2, 2).unwrap();
        let mut seen = vec![0; f.len()];
        for k in 0..2 {
            let fold = f.fold(k, 2).unwrap();
            for &i in &fold.test {
                seen[i] += 1;
                assert!(fold.test_identities.contains(&f.labels[i]));
            }
            assert!(fold
                .train
                .iter()
                .all(|&i| !fold.test_identities.contains(&f.labels[i])));
            assert_eq!(fold.train.len() + fold.test.len(), f.len());
        }
        assert!(seen.iter().all(|&s| s == 1));
    }
}
