//! Operating points: the distance threshold that keeps the false-accept rate at or below a target,
//! measured on pairs of *training* identities with the int8 embeddings the device computes, and
//! written into a model file's decision section.
//!
//! Distances are the model metric's over the int8 embeddings, computed exactly as the device does
//! ([`Metric::distance_i8`]). The threshold at a target FAR is the ROC point with the largest TAR
//! among those whose FAR is at most the target ([`Roc::tar_at_far`]); a point stores the target
//! FAR (the measured FAR is at most that, and is reported). Never choose thresholds on test pairs.

use serde::Serialize;
use siamedge_format::{
    DecisionSpec, EmbeddingRef, Metric, Model, ModelId, ModelSpec, OperatingPoint,
};

use crate::data::LabelledSet;
use crate::eval::{all_pairs, Pairs, Rate, Roc};

use super::int8::Int8Embedder;

use super::QuantError;

/// One operating point as measured on the calibration pairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CalibratedPoint {
    /// The target FAR.
    pub target_far: f64,
    /// Accept when the distance is at most this (0 when no threshold keeps FAR at the target).
    pub threshold: f64,
    /// False accepts at the threshold, over impostor pairs.
    pub far: Rate,
    /// True accepts at the threshold, over genuine pairs.
    pub tar: Rate,
}

/// Distances of `pairs` between int8 embeddings (`embeddings[i]` of image `i`, all with `scale`)
/// in `metric`, `(genuine, impostor)`.
pub fn int8_distances(
    metric: Metric<'_>,
    embeddings: &[Vec<i8>],
    scale: f32,
    pairs: &Pairs,
) -> Result<(Vec<f64>, Vec<f64>), QuantError> {
    let model = ModelId::digest(&[]);
    let e = |i: usize| EmbeddingRef {
        model,
        scale,
        values: &embeddings[i],
    };
    let mut err = None;
    let d = pairs.distances(|a, b| match metric.distance_i8(e(a), e(b)) {
        Ok(d) => f64::from(d),
        Err(x) => {
            err = Some(x);
            f64::NAN
        }
    });
    match err {
        Some(x) => Err(x.into()),
        None => Ok(d),
    }
}

/// Thresholds at each of `fars` for `genuine` and `impostor` distances.
pub fn operating_points(
    genuine: &[f64],
    impostor: &[f64],
    fars: &[f64],
) -> Result<Vec<CalibratedPoint>, QuantError> {
    let roc = Roc::new(genuine, impostor)?;
    fars.iter()
        .map(|&far| {
            let p = roc.tar_at_far(far)?;
            let threshold = if p.threshold.is_finite() {
                p.threshold.max(0.0)
            } else {
                0.0
            };
            Ok(CalibratedPoint {
                target_far: far,
                threshold,
                far: p.far,
                tar: p.tar,
            })
        })
        .collect()
}

/// Operating points of int8 embeddings over all pairs of `labels` (every pair `i < j`).
pub fn calibrate_points(
    metric: Metric<'_>,
    embeddings: &[Vec<i8>],
    scale: f32,
    labels: &[u32],
    fars: &[f64],
) -> Result<Vec<CalibratedPoint>, QuantError> {
    let pairs = all_pairs(labels);
    if pairs.genuine.is_empty() || pairs.impostor.is_empty() {
        return Err(QuantError::Config {
            field: "data",
            reason: format!(
                "calibration needs genuine and impostor pairs: {} images give {} and {}",
                labels.len(),
                pairs.genuine.len(),
                pairs.impostor.len()
            ),
        });
    }
    let (g, i) = int8_distances(metric, embeddings, scale, &pairs)?;
    operating_points(&g, &i, fars)
}

/// Rewrites the decision section of the model file `bytes`: thresholds at `fars` (the first is the
/// default point) measured with the model's int8 embeddings on all pairs of `set` (images at the
/// model's input size, `p / 255`), the score margin kept. Returns the new file, written at the
/// current format version (the same model id as a version-2 input: the id leaves the decision
/// section out), and the points.
pub fn recalibrate(
    bytes: &[u8],
    set: &LabelledSet,
    fars: &[f64],
) -> Result<(Vec<u8>, Vec<CalibratedPoint>), QuantError> {
    if fars.is_empty() {
        return Err(QuantError::Config {
            field: "far",
            reason: "give at least one target FAR".into(),
        });
    }
    if let Some(bad) = fars.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
        return Err(QuantError::Config {
            field: "far",
            reason: format!("target FAR {bad} is not in (0, 1]"),
        });
    }
    let model = Model::decode(bytes)?;
    let emb = Int8Embedder::new(&model).embed_set(set)?;
    let points = calibrate_points(
        model.metric(),
        &emb,
        model.embedding().scale,
        set.labels(),
        fars,
    )?;
    let mut spec = ModelSpec::from_model(&model);
    spec.decision = decision_spec(&points, model.decision().margin())?;
    Ok((spec.to_bytes()?, points))
}

/// A decision section with `points` (the first is the default) and score margin `margin`.
pub fn decision_spec(points: &[CalibratedPoint], margin: f32) -> Result<DecisionSpec, QuantError> {
    let ops: Vec<OperatingPoint> = points
        .iter()
        .map(|p| OperatingPoint {
            far: p.target_far as f32,
            threshold: p.threshold as f32,
        })
        .collect();
    Ok(DecisionSpec::new(&ops, 0, margin)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_gives_the_requested_far_on_the_calibration_pairs() {
        // 3 identities x 4 images; embeddings on a line, identity k around 10 k.
        let labels: Vec<u32> = (0..12).map(|i| i / 4).collect();
        let emb: Vec<Vec<i8>> = (0..12)
            .map(|i| vec![(10 * (i / 4) + (i % 4) * 3) as i8, 0])
            .collect();
        let pts = calibrate_points(Metric::L2, &emb, 0.5, &labels, &[0.05, 0.5]).unwrap();
        let pairs = all_pairs(&labels);
        let (g, imp) = int8_distances(Metric::L2, &emb, 0.5, &pairs).unwrap();
        for p in &pts {
            let fa = imp.iter().filter(|&&d| d <= p.threshold).count();
            let ta = g.iter().filter(|&&d| d <= p.threshold).count();
            assert!(fa as f64 / imp.len() as f64 <= p.target_far, "{p:?}");
            assert_eq!(fa as u64, p.far.count);
            assert_eq!(ta as u64, p.tar.count);
            // No threshold that keeps FAR at the target accepts more genuine pairs.
            for &t in imp.iter().chain(&g) {
                let fa_t = imp.iter().filter(|&&d| d <= t).count();
                if fa_t as f64 / imp.len() as f64 <= p.target_far {
                    assert!(g.iter().filter(|&&d| d <= t).count() <= ta, "{p:?} at {t}");
                }
            }
        }
        assert!(pts[1].threshold > pts[0].threshold);
        let spec = decision_spec(&pts, 1.0).unwrap();
        assert_eq!(spec.points().len(), 2);
        assert_eq!(spec.default_point().far, 0.05);
        assert!(calibrate_points(Metric::L2, &emb[..4], 0.5, &labels[..4], &[0.1]).is_err());
    }
}
