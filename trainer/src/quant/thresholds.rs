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
    let mut err = None;
    let d = pairs.distances(|a, b| {
        match int8_distance(metric, scale, &embeddings[a], &embeddings[b]) {
            Ok(d) => d,
            Err(x) => {
                err = Some(x);
                f64::NAN
            }
        }
    });
    match err {
        Some(x) => Err(x),
        None => Ok(d),
    }
}

/// The distance in `metric` between two int8 embeddings with `scale`, as the device computes it.
pub fn int8_distance(
    metric: Metric<'_>,
    scale: f32,
    a: &[i8],
    b: &[i8],
) -> Result<f64, QuantError> {
    let model = ModelId::digest(&[]);
    let e = |values| EmbeddingRef {
        model,
        scale,
        values,
    };
    Ok(f64::from(metric.distance_i8(e(a), e(b))?))
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

/// Whose pairs a model file's thresholds were measured on, found by measuring them again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// Identities held out of training (the run's validation people): what a new user meets.
    Validation,
    /// The identities the network trained on: optimistic, its test FAR runs far from the target.
    Training,
    /// Neither of the run's sets gives these thresholds (e.g. `calibrate` on other data).
    Other,
}

/// Which of `validation` (when the run kept some) and `training` gives `model`'s thresholds: every
/// operating point's threshold recomputed at its FAR on all pairs of the set, with the model's
/// int8 embeddings, must equal the file's bit for bit (as [`decision_spec`] writes them).
/// Validation wins a tie.
pub fn threshold_source(
    model: &Model<'_>,
    validation: Option<&LabelledSet>,
    training: &LabelledSet,
) -> Result<ThresholdSource, QuantError> {
    let points = model.decision().points();
    let fars: Vec<f64> = points.iter().map(|p| far_as_given(p.far)).collect();
    let gives = |set: &LabelledSet| -> Result<bool, QuantError> {
        let emb = Int8Embedder::new(model).embed_set(set)?;
        let again = calibrate_points(
            model.metric(),
            &emb,
            model.embedding().scale,
            set.labels(),
            &fars,
        )?;
        Ok(again
            .iter()
            .zip(points)
            .all(|(a, p)| (a.threshold as f32).to_bits() == p.threshold.to_bits()))
    };
    if let Some(v) = validation {
        if gives(v)? {
            return Ok(ThresholdSource::Validation);
        }
    }
    Ok(if gives(training)? {
        ThresholdSource::Training
    } else {
        ThresholdSource::Other
    })
}

/// The target FAR that was given (as an `f64`) for the `f32` stored in a model file: the shortest
/// decimal that reads back as `far` (`1e-2` gives 0.01, not the 0.0099999998 of `f64::from`,
/// which would allow one impostor fewer on 1,000 pairs).
pub fn far_as_given(far: f32) -> f64 {
    far.to_string().parse().unwrap_or(f64::from(far))
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

    #[test]
    fn a_stored_far_reads_back_as_it_was_given() {
        for far in [1e-3, 1e-2, 5e-2, 0.1, 0.7, 0.9, 1.0] {
            assert_eq!(far_as_given(far as f32), far);
        }
        // Why it matters: 1e-2 as f32 is 0.0099999998, which allows 9 of 1,000 impostor pairs
        // where the 1e-2 that was asked for allows 10, and so gives another threshold.
        let impostor: Vec<f64> = (1..=1000).map(f64::from).collect();
        let genuine: Vec<f64> = (0..1000).map(|k| f64::from(k) + 0.5).collect();
        let at = |far: f64| {
            operating_points(&genuine, &impostor, &[far]).unwrap()[0]
                .far
                .count
        };
        assert_eq!(at(far_as_given(1e-2_f32)), 10);
        assert_eq!(at(f64::from(1e-2_f32)), 9);
    }

    /// A random set at `model`'s input size: `people` identities of 4 images, each a noisy copy
    /// of its identity's base image.
    fn people(model: &Model<'_>, people: u32, seed: u64) -> LabelledSet {
        use rand::{Rng, SeedableRng};
        let i = model.input();
        let shape = crate::data::ImageShape {
            channels: usize::from(i.channels),
            height: usize::from(i.height),
            width: usize::from(i.width),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for p in 0..people {
            let base: Vec<f32> = (0..shape.len()).map(|_| rng.random()).collect();
            for _ in 0..4 {
                pixels.extend(
                    base.iter()
                        .map(|b| (b + rng.random_range(-0.2..0.2)).clamp(0.0, 1.0)),
                );
                labels.push(p);
            }
        }
        LabelledSet::new(pixels, labels, shape).unwrap()
    }

    #[test]
    fn the_source_of_thresholds_is_found_by_measuring_them_again() {
        let bytes = siamedge_engine::doc_model().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let (val, train, other) = (
            people(&model, 3, 1),
            people(&model, 5, 2),
            people(&model, 4, 3),
        );
        let fars = [0.7, 0.9];
        let source = |set: &LabelledSet, v: Option<&LabelledSet>| {
            let (b, _) = recalibrate(&bytes, set, &fars).unwrap();
            let m = Model::decode(&b).unwrap();
            threshold_source(&m, v, &train).unwrap()
        };
        assert_eq!(source(&val, Some(&val)), ThresholdSource::Validation);
        assert_eq!(source(&train, Some(&val)), ThresholdSource::Training);
        assert_eq!(source(&train, None), ThresholdSource::Training);
        assert_eq!(source(&other, Some(&val)), ThresholdSource::Other);
    }
}
