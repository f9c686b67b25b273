//! The reference protocols of `shared/REFERENCE.md`, run for the baselines.
//!
//! ORL: four identity-disjoint folds; fold `k` tests on people `10k..10k+9` (100 images, all
//! `i < j` pairs: 450 genuine, 4,500 impostor) and fits on the other 30 people. Images are area
//! resized (112x92 -> 56x46 by default, the exact 2x2 mean) and divided by 255. MNIST open-set:
//! fit on the training split's digits 0-4 (30,596 images), test on the test split's digits 5-9
//! with 20,000 genuine and 20,000 impostor pairs sampled with a stated seed
//! ([`crate::eval::pairs::DEFAULT_PAIR_SEED`] unless told otherwise).
//!
//! Besides the test metrics, each fold records the test decisions at the EER threshold chosen on
//! training pairs (ORL: all pairs of the 300 training images; MNIST: 20,000 + 20,000 pairs sampled
//! from the training digits with the same seed), and on ORL the retrieval scores of the 100 test
//! images (skipped on MNIST: `n^2` distances over 4,861 images).

use std::time::Instant;

use nalgebra::DMatrix;

use super::{BaselineError, Embedder, Method};
use crate::data::orl::{OrlError, HEIGHT as ORL_HEIGHT, WIDTH as ORL_WIDTH};
use crate::data::resize::PreprocessError;
use crate::data::{resize_area, Mnist, OrlFaces};
use crate::eval::pairs::{all_pairs, sample_pairs, Pairs};
use crate::eval::report::{
    FoldReport, MeanReport, MethodReport, TrainThreshold, VerificationReport,
};
use crate::eval::retrieval::retrieval_scores;
use crate::eval::roc::Roc;
use crate::eval::threshold::{at_threshold, ThresholdRule};
use crate::eval::EvalError;
use crate::protocol::{MNIST_PAIRS, MNIST_TEST_DIGITS, MNIST_TRAIN_DIGITS};

/// What can go wrong when running a protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Fitting or applying a baseline failed.
    #[error("{method}: {source}")]
    Baseline {
        /// The method's id.
        method: &'static str,
        /// Why.
        source: BaselineError,
    },
    /// A metric could not be computed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// An ORL fold does not exist.
    #[error(transparent)]
    Orl(#[from] OrlError),
    /// An image could not be resized.
    #[error("resizing ORL image {index}: {source}")]
    Resize {
        /// Image index.
        index: usize,
        /// Why.
        source: PreprocessError,
    },
    /// The data does not have the shape the protocol needs.
    #[error("{0}")]
    Data(String),
}

/// One train/test split with its pairs: what every method of a fold sees.
#[derive(Debug, Clone)]
pub struct Split {
    /// Fold name: `"0"`..`"3"` or `"open-set"`.
    pub name: String,
    /// Training samples, `d x n_train`, values in `[0, 1]`.
    pub train: DMatrix<f64>,
    /// Identity of each training sample.
    pub train_labels: Vec<u32>,
    /// Pairs over training samples, to choose a threshold on.
    pub train_pairs: Pairs,
    /// Test samples, `d x n_test`, values in `[0, 1]`.
    pub test: DMatrix<f64>,
    /// Identity of each test sample.
    pub test_labels: Vec<u32>,
    /// Pairs over test samples: the trials reported.
    pub test_pairs: Pairs,
    /// Whether to compute retrieval scores over the test samples.
    pub retrieval: bool,
}

/// ORL fold `k` (0..4) with images area-resized to `size = (height, width)` and divided by 255.
pub fn orl_split(faces: &OrlFaces, k: usize, size: (usize, usize)) -> Result<Split, ProtocolError> {
    let fold = faces.fold(k)?;
    let samples = |idx: &[usize]| -> Result<(DMatrix<f64>, Vec<u32>), ProtocolError> {
        let (h, w) = size;
        let mut x = DMatrix::zeros(h * w, idx.len());
        for (j, &i) in idx.iter().enumerate() {
            let img = &faces.images[i];
            if (img.width, img.height) != (ORL_WIDTH, ORL_HEIGHT) {
                return Err(ProtocolError::Data(format!(
                    "ORL image {i} is {}x{}",
                    img.width, img.height
                )));
            }
            let small = resize_area(&img.pixels, img.width, img.height, w, h)
                .map_err(|source| ProtocolError::Resize { index: i, source })?;
            for (r, v) in small.iter().enumerate() {
                x[(r, j)] = f64::from(*v) / 255.0;
            }
        }
        Ok((x, idx.iter().map(|&i| faces.labels[i]).collect()))
    };
    let (train, train_labels) = samples(&fold.train)?;
    let (test, test_labels) = samples(&fold.test)?;
    Ok(Split {
        name: k.to_string(),
        train_pairs: all_pairs(&train_labels),
        test_pairs: all_pairs(&test_labels),
        train,
        train_labels,
        test,
        test_labels,
        retrieval: true,
    })
}

/// The MNIST open-set split: fit on the training split's digits 0-4, test on the test split's
/// digits 5-9, `MNIST_PAIRS` genuine and impostor pairs of each drawn with `seed`.
pub fn mnist_open_set_split(mnist: &Mnist, seed: u64) -> Result<Split, ProtocolError> {
    let d = mnist.width * mnist.height;
    let (train, train_labels) = digits_subset(
        &mnist.train_images,
        &mnist.train_labels,
        d,
        MNIST_TRAIN_DIGITS,
    );
    let (test, test_labels) =
        digits_subset(&mnist.test_images, &mnist.test_labels, d, MNIST_TEST_DIGITS);
    if train.ncols() == 0 || test.ncols() == 0 {
        return Err(ProtocolError::Data(
            "MNIST split has no image of the open-set digits".into(),
        ));
    }
    Ok(Split {
        name: "open-set".into(),
        train_pairs: sample_pairs(&train_labels, MNIST_PAIRS, MNIST_PAIRS, seed)?,
        test_pairs: sample_pairs(&test_labels, MNIST_PAIRS, MNIST_PAIRS, seed)?,
        train,
        train_labels,
        test,
        test_labels,
        retrieval: false,
    })
}

/// The images (`d` bytes each, concatenated) whose label is in `digits`, as a `d x n` matrix of
/// pixels / 255, with their labels.
fn digits_subset(
    images: &[u8],
    labels: &[u8],
    d: usize,
    digits: std::ops::Range<u8>,
) -> (DMatrix<f64>, Vec<u32>) {
    let idx: Vec<usize> = (0..labels.len())
        .filter(|&i| digits.contains(&labels[i]))
        .collect();
    let x = DMatrix::from_fn(d, idx.len(), |r, c| {
        f64::from(images[idx[c] * d + r]) / 255.0
    });
    (x, idx.iter().map(|&i| u32::from(labels[i])).collect())
}

/// Fits `method` on `split.train`, scores the test pairs (and the train-threshold decisions and
/// retrieval), and returns the fold's report with what was fitted.
pub fn run_method(
    method: Method,
    split: &Split,
    far_targets: &[f64],
) -> Result<(FoldReport, String), ProtocolError> {
    run_method_with_distances(method, split, far_targets).map(|(r, d, _)| (r, d))
}

/// A method's fold, its one-line detail and its test distances `(genuine, impostor)` in pair
/// order.
pub type MethodDistances = (FoldReport, String, (Vec<f64>, Vec<f64>));

/// [`run_method`], also handing back the test distances `(genuine, impostor)` in pair order (for
/// plots).
pub fn run_method_with_distances(
    method: Method,
    split: &Split,
    far_targets: &[f64],
) -> Result<MethodDistances, ProtocolError> {
    let start = Instant::now();
    let err = |source| ProtocolError::Baseline {
        method: method.id(),
        source,
    };
    let model: Box<dyn Embedder> = method.fit(&split.train, &split.train_labels).map_err(err)?;
    let dist = model.distance();
    let train_emb = model.embed(&split.train).map_err(err)?;
    let (train_g, train_i) = split
        .train_pairs
        .distances(|a, b| dist.between_columns(&train_emb, a, b));
    let threshold = Roc::new(&train_g, &train_i)?.eer().at.threshold;
    let test_emb = model.embed(&split.test).map_err(err)?;
    let (g, i) = split
        .test_pairs
        .distances(|a, b| dist.between_columns(&test_emb, a, b));
    let mut verification = VerificationReport::from_distances(&g, &i, far_targets)?;
    if split.retrieval {
        verification.retrieval = Some(retrieval_scores(&split.test_labels, |a, b| {
            dist.between_columns(&test_emb, a, b)
        })?);
    }
    let at_train_threshold = Some(TrainThreshold {
        rule: ThresholdRule::Eer,
        test: at_threshold(&g, &i, threshold)?,
    });
    let report = FoldReport {
        fold: split.name.clone(),
        seconds: start.elapsed().as_secs_f64(),
        verification,
        at_train_threshold,
    };
    Ok((report, model.describe(), (g, i)))
}

/// Runs every method on every split (splits outermost, so a split is built once), calling
/// `progress(method, fold)` after each, and gathers one report per method with its means.
pub fn run_methods(
    methods: &[Method],
    splits: &[Split],
    far_targets: &[f64],
    mut progress: impl FnMut(Method, &FoldReport),
) -> Result<Vec<MethodReport>, ProtocolError> {
    let mut reports: Vec<MethodReport> = methods
        .iter()
        .map(|m| MethodReport {
            method: m.id().into(),
            name: m.name().into(),
            detail: String::new(),
            folds: Vec::new(),
            mean: MeanReport::of(&[]),
        })
        .collect();
    for split in splits {
        for (m, report) in methods.iter().zip(reports.iter_mut()) {
            let (fold, detail) = run_method(*m, split, far_targets)?;
            progress(*m, &fold);
            if !report.detail.is_empty() {
                report.detail.push_str("; ");
            }
            report
                .detail
                .push_str(&format!("fold {}: {detail}", split.name));
            report.folds.push(fold);
        }
    }
    for r in &mut reports {
        r.mean = MeanReport::of(&r.folds);
    }
    Ok(reports)
}

/// A one-line protocol description for reports.
pub fn orl_protocol(folds: &[usize], size: (usize, usize)) -> String {
    let folds: Vec<String> = folds.iter().map(|k| k.to_string()).collect();
    format!(
        "ORL identity-disjoint folds {} (test people 10k..10k+9, all i<j pairs: 450 genuine, \
         4,500 impostor), {}x{} area resize, pixels/255",
        folds.join(","),
        size.0,
        size.1
    )
}

/// A one-line protocol description for reports.
pub fn mnist_protocol(seed: u64) -> String {
    format!(
        "MNIST open-set: fit on train digits 0-4, test on test digits 5-9, {MNIST_PAIRS} genuine \
         + {MNIST_PAIRS} impostor pairs, ChaCha8 seed {seed}, pixels/255"
    )
}
