//! The pretrained pipeline judged on ORL by the project's protocol (`shared/REFERENCE.md`): 4
//! identity-disjoint folds, all 4,950 pairs of each fold's 10 test people, Euclidean distance on
//! raw descriptors. No training on ORL; the one choice, the alignment variant, is made per fold on
//! the 44,850 pairs of its 30 training people (lowest EER, ties to the earlier variant in
//! [`AlignVariant::ALL`]), never on its test people.

use serde::Serialize;
use siamedge_data::OrlFaces;
use siamedge_format::preprocess::align::{AlignVariant, CHIP_LEN};
use siamedge_format::preprocess::ImageRef;

use super::pipeline::euclidean;
use super::{FaceApi, FaceApiError};
use crate::eval::{
    all_pairs, at_threshold, choose_threshold, AtThreshold, Roc, ThresholdRule, VerificationReport,
};
use crate::protocol::{FAR_TARGETS, OPERATING_FARS};

/// One variant's EER on a fold's training pairs.
#[derive(Debug, Clone, Serialize)]
pub struct VariantScore {
    /// [`AlignVariant::name`].
    pub variant: String,
    /// EER on the training people's pairs, fraction.
    pub train_eer: f64,
}

/// One fold.
#[derive(Debug, Clone, Serialize)]
pub struct AlignedFold {
    /// Fold index, 0..4 (test people `10k..10k+10`).
    pub fold: usize,
    /// Every variant on the training pairs.
    pub variants: Vec<VariantScore>,
    /// The variant chosen on them.
    pub chosen: String,
    /// The chosen variant on the test pairs.
    pub test: VerificationReport,
    /// Operating points chosen on the training pairs (one per [`OPERATING_FARS`] target),
    /// applied to the test pairs: does the FAR hold on people the threshold never saw?
    pub operating_points: Vec<Transfer>,
}

/// A threshold chosen on training people for a target FAR, and what it gives on test people.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    /// The FAR aimed at, fraction.
    pub target_far: f64,
    /// Euclidean distance threshold (accept when `d <= threshold`), chosen on the training pairs.
    pub threshold: f64,
    /// FAR and TAR on the training pairs at that threshold.
    pub train: AtThreshold,
    /// FAR and TAR on the test pairs at that threshold, with 95 % intervals.
    pub test: AtThreshold,
}

/// All folds.
#[derive(Debug, Clone, Serialize)]
pub struct AlignedOrlReport {
    /// What was run.
    pub pipeline: String,
    /// Per fold.
    pub folds: Vec<AlignedFold>,
    /// Mean test EER over the folds, fraction.
    pub mean_eer: f64,
    /// Mean test TAR at each of [`FAR_TARGETS`].
    pub mean_tar: Vec<(f64, f64)>,
}

/// The descriptors of all ORL images under `variant`, in image order.
pub fn orl_descriptors(
    api: &FaceApi,
    faces: &OrlFaces,
    variant: AlignVariant,
) -> Result<Vec<Vec<f32>>, FaceApiError> {
    let mut chips = Vec::with_capacity(faces.images.len() * CHIP_LEN);
    for img in &faces.images {
        let view =
            ImageRef::grey(img.width, img.height, &img.pixels).map_err(FaceApiError::Align)?;
        chips.extend(api.chip(view, variant)?.0);
    }
    api.descriptors(&chips)
}

/// Genuine and impostor distances of all pairs of the items `idx`.
fn distances(desc: &[Vec<f32>], labels: &[u32], idx: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let sub: Vec<u32> = idx.iter().map(|&i| labels[i]).collect();
    all_pairs(&sub).distances(|a, b| euclidean(&desc[idx[a]], &desc[idx[b]]))
}

/// Verification metrics of the items `idx` (all their pairs).
fn verify(
    desc: &[Vec<f32>],
    labels: &[u32],
    idx: &[usize],
) -> Result<VerificationReport, FaceApiError> {
    let (g, i) = distances(desc, labels, idx);
    Ok(VerificationReport::from_roc(
        &Roc::new(&g, &i)?,
        &FAR_TARGETS,
    )?)
}

/// Thresholds for [`OPERATING_FARS`] chosen on the pairs of `train`, applied to those of `train`
/// and `test`.
fn transfer(
    desc: &[Vec<f32>],
    labels: &[u32],
    train: &[usize],
    test: &[usize],
) -> Result<Vec<Transfer>, FaceApiError> {
    let (tg, ti) = distances(desc, labels, train);
    let (sg, si) = distances(desc, labels, test);
    OPERATING_FARS
        .iter()
        .map(|&far| {
            let threshold = choose_threshold(&tg, &ti, ThresholdRule::Far(far))?;
            Ok(Transfer {
                target_far: far,
                threshold,
                train: at_threshold(&tg, &ti, threshold)?,
                test: at_threshold(&sg, &si, threshold)?,
            })
        })
        .collect()
}

/// Runs the protocol; `log` hears progress.
pub fn evaluate_orl(
    api: &FaceApi,
    faces: &OrlFaces,
    log: &mut dyn FnMut(&str),
) -> Result<AlignedOrlReport, FaceApiError> {
    let mut per_variant = Vec::new();
    for v in AlignVariant::ALL {
        let t = std::time::Instant::now();
        per_variant.push(orl_descriptors(api, faces, v)?);
        log(&format!(
            "{v}: 400 descriptors in {:.1} s",
            t.elapsed().as_secs_f64()
        ));
    }
    let mut folds = Vec::new();
    for k in 0..siamedge_data::orl::FOLDS {
        let fold = faces.fold(k)?;
        let mut variants = Vec::new();
        let mut best = 0;
        for (j, v) in AlignVariant::ALL.into_iter().enumerate() {
            let r = verify(&per_variant[j], &faces.labels, &fold.train)?;
            if r.eer.rate
                < variants
                    .get(best)
                    .map_or(f64::INFINITY, |s: &VariantScore| s.train_eer)
            {
                best = j;
            }
            variants.push(VariantScore {
                variant: v.name().into(),
                train_eer: r.eer.rate,
            });
        }
        let test = verify(&per_variant[best], &faces.labels, &fold.test)?;
        let operating_points =
            transfer(&per_variant[best], &faces.labels, &fold.train, &fold.test)?;
        log(&format!(
            "fold {k}: {} chosen (train EER {:.2} %), test EER {:.2} %",
            AlignVariant::ALL[best],
            100.0 * variants[best].train_eer,
            100.0 * test.eer.rate
        ));
        folds.push(AlignedFold {
            fold: k,
            variants,
            chosen: AlignVariant::ALL[best].name().into(),
            test,
            operating_points,
        });
    }
    let n = folds.len() as f64;
    let mean_eer = folds.iter().map(|f| f.test.eer.rate).sum::<f64>() / n;
    let mean_tar = FAR_TARGETS
        .iter()
        .map(|&far| {
            let t = folds
                .iter()
                .filter_map(|f| f.test.tar_at(far))
                .map(|t| t.point.tar.value)
                .sum::<f64>();
            (far, t / n)
        })
        .collect();
    Ok(AlignedOrlReport {
        pipeline: "face-api.js FaceLandmark68Net + FaceRecognitionNet (@vladmandic/face-api 1.7.15), aligned".into(),
        folds,
        mean_eer,
        mean_tar,
    })
}
