//! Accept or reject: distance thresholds at chosen false-accept rates, and the decision itself.
//!
//! A model file carries up to [`MAX_OPERATING_POINTS`] operating points measured on a validation
//! set: at threshold `t` the false-accept rate was `far`. A probe is accepted when its distance
//! is `<= t`. [`DecisionSpec`] holds the points, the default one and the score margin;
//! [`Decision`] is one verdict with its distance and a score for people.

use serde::{Deserialize, Serialize};

use crate::embedding::EmbeddingRef;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::metric::{logistic_probability, Metric};
use crate::model_id::ModelId;
use crate::template::Template;
use crate::wire::Reader;

/// Most operating points a model carries.
pub const MAX_OPERATING_POINTS: usize = 8;

/// A threshold and the false-accept rate it gave on validation data.
/// Wire: `far: f32`, `threshold: f32`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// False-accept rate at this threshold, a fraction in `(0, 1]` (e.g. `1e-3`).
    pub far: f32,
    /// Distance threshold in the model's metric, finite and `>= 0`: accept when `d <= threshold`.
    pub threshold: f32,
}

/// A verdict on one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether `distance <= threshold` (false for a NaN distance).
    pub accept: bool,
    /// The distance in the model's metric, `>= 0`.
    pub distance: f32,
    /// The match probability [`logistic_probability`]`(distance, margin)`, in `0..=1`; it falls
    /// as the distance grows. Shown to people, never used for the verdict.
    pub score: f32,
}

impl Decision {
    /// The verdict for `distance` at `threshold`, scored with `margin`.
    pub fn new(distance: f32, threshold: f32, margin: f32) -> Self {
        Self {
            accept: distance <= threshold,
            distance,
            score: logistic_probability(distance, margin),
        }
    }
}

/// The decision section of a model: operating points, the default one, and the score margin.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionSpec {
    margin: f32,
    points: heapless::Vec<OperatingPoint, MAX_OPERATING_POINTS>,
    default: usize,
    default_point: OperatingPoint,
}

impl DecisionSpec {
    /// Checks and keeps `points` (1 to [`MAX_OPERATING_POINTS`]; `far` in `(0, 1]`, `threshold`
    /// finite and `>= 0`), the index of the default point, and `margin` (finite, `>= 0`, in the
    /// metric's units: the contrastive margin used in training). Errors name the fields of a
    /// model file's decision section.
    pub fn new(
        points: &[OperatingPoint],
        default: usize,
        margin: f32,
    ) -> Result<Self, FormatError> {
        Self::new_in(FileKind::Model, points, default, margin)
    }

    /// [`DecisionSpec::new`] with errors naming the decision section of a `kind` file.
    pub(crate) fn new_in(
        kind: FileKind,
        points: &[OperatingPoint],
        default: usize,
        margin: f32,
    ) -> Result<Self, FormatError> {
        if !(margin.is_finite() && margin >= 0.0) {
            return Err(FormatError::Malformed {
                at: Field::new(kind, "decision.margin"),
                reason: "the score margin must be finite and >= 0",
            });
        }
        let mut kept = heapless::Vec::new();
        for p in points {
            if !(p.far > 0.0 && p.far <= 1.0) {
                return Err(FormatError::Malformed {
                    at: Field::new(kind, "decision.points.far"),
                    reason: "a false-accept rate must be in (0, 1]",
                });
            }
            if !(p.threshold.is_finite() && p.threshold >= 0.0) {
                return Err(FormatError::Malformed {
                    at: Field::new(kind, "decision.points.threshold"),
                    reason: "a threshold must be finite and >= 0",
                });
            }
            kept.push(*p).map_err(|_| FormatError::OutOfRange {
                at: Field::new(kind, "decision.points"),
                value: points.len() as i64,
                min: 1,
                max: MAX_OPERATING_POINTS as i64,
            })?;
        }
        let Some(&default_point) = kept.get(default) else {
            return Err(FormatError::OutOfRange {
                at: Field::new(kind, "decision.default"),
                value: default as i64,
                min: 0,
                max: kept.len() as i64 - 1,
            });
        };
        Ok(Self {
            margin,
            points: kept,
            default,
            default_point,
        })
    }

    /// The score margin (metric units).
    pub fn margin(&self) -> f32 {
        self.margin
    }

    /// All operating points, as written (at least one).
    pub fn points(&self) -> &[OperatingPoint] {
        &self.points
    }

    /// Index of the default point in [`points`](Self::points).
    pub fn default_index(&self) -> usize {
        self.default
    }

    /// The default operating point.
    pub fn default_point(&self) -> OperatingPoint {
        self.default_point
    }

    /// The most permissive point whose false-accept rate is at most `far`, or `None` when every
    /// point's rate is above it.
    pub fn point_for_far(&self, far: f32) -> Option<OperatingPoint> {
        self.points
            .iter()
            .filter(|p| p.far <= far)
            .max_by(|a, b| {
                a.far
                    .total_cmp(&b.far)
                    .then(a.threshold.total_cmp(&b.threshold))
            })
            .copied()
    }

    /// The verdict for `distance` at the default point.
    pub fn decide(&self, distance: f32) -> Decision {
        self.decide_at(distance, self.default_point)
    }

    /// The verdict for `distance` at `point`.
    pub fn decide_at(&self, distance: f32, point: OperatingPoint) -> Decision {
        Decision::new(distance, point.threshold, self.margin)
    }

    /// The verdict on `probe` against `template` under `metric` at the default point, for the
    /// model or pipeline `id` (a template of another model: [`FormatError::ModelMismatch`]).
    pub(crate) fn verify(
        &self,
        id: ModelId,
        metric: &Metric<'_>,
        template: &Template,
        probe: EmbeddingRef<'_>,
    ) -> Result<Decision, FormatError> {
        if template.model() != id {
            return Err(FormatError::ModelMismatch {
                expected: id,
                found: template.model(),
            });
        }
        let distance = template.distance(probe, metric)?;
        Ok(self.decide(distance))
    }
}

/// Reads a decision section (`margin: f32`, `default: u8`, `points: count` then each
/// `far: f32, threshold: f32`) of a `kind` file: the layout of the model file's section (see the
/// crate README), shared by the pipeline file. Errors name the `decision.*` fields of `kind`.
pub(crate) fn read_section(
    r: &mut Reader<'_>,
    kind: FileKind,
) -> Result<DecisionSpec, FormatError> {
    let margin: f32 = r.take("decision.margin")?;
    let default: u8 = r.take("decision.default")?;
    let count = r.take_count("decision.points", 1, MAX_OPERATING_POINTS)?;
    let mut points = heapless::Vec::<OperatingPoint, MAX_OPERATING_POINTS>::new();
    for _ in 0..count {
        let p = r.take("decision.points")?;
        points.push(p).map_err(|_| FormatError::CapacityExceeded {
            what: "operating points",
            capacity: MAX_OPERATING_POINTS,
        })?;
    }
    DecisionSpec::new_in(kind, &points, usize::from(default), margin)
}

/// Reads past a decision section ([`read_section`]'s layout) without checking its values: how
/// the id rules find the section's end. A section that ends early is [`FormatError::Malformed`],
/// a point count outside `1..=MAX_OPERATING_POINTS` [`FormatError::OutOfRange`].
pub(crate) fn skip_section(r: &mut Reader<'_>) -> Result<(), FormatError> {
    let _: f32 = r.take("decision.margin")?;
    let _: u8 = r.take("decision.default")?;
    let count = r.take_count("decision.points", 1, MAX_OPERATING_POINTS)?;
    for _ in 0..count {
        let _: OperatingPoint = r.take("decision.points")?;
    }
    Ok(())
}

/// Writes `spec` as a decision section ([`read_section`]'s layout).
#[cfg(feature = "alloc")]
pub(crate) fn write_section<S: crate::wire::Sink>(
    spec: &DecisionSpec,
    sink: &mut S,
) -> Result<(), FormatError> {
    sink.put(&spec.margin())?;
    // `DecisionSpec::new_in` keeps at most MAX_OPERATING_POINTS (8) points, so the index fits.
    sink.put(&u8::try_from(spec.default_index()).unwrap_or(u8::MAX))?;
    sink.put(&(spec.points().len() as u32))?;
    for p in spec.points() {
        sink.put(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POINTS: [OperatingPoint; 2] = [
        OperatingPoint {
            far: 1e-2,
            threshold: 1.2,
        },
        OperatingPoint {
            far: 1e-3,
            threshold: 0.9,
        },
    ];

    #[test]
    fn decide() {
        let spec = DecisionSpec::new(&POINTS, 1, 2.0);
        let Ok(spec) = spec else { panic!("{spec:?}") };
        assert!(spec.decide(0.9).accept);
        assert!(!spec.decide(0.91).accept);
        assert!(!spec.decide(f32::NAN).accept);
        assert_eq!(spec.decide(0.0).score, 1.0);
        assert!(spec.decide(0.5).score > spec.decide(0.6).score);
        assert_eq!(spec.point_for_far(5e-3), Some(POINTS[1]));
        assert_eq!(spec.point_for_far(1.0), Some(POINTS[0]));
        assert_eq!(spec.point_for_far(1e-4), None);
        assert!(spec.decide_at(1.1, POINTS[0]).accept);
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            DecisionSpec::new(&POINTS, 2, 1.0),
            Err(FormatError::OutOfRange {
                value: 2,
                max: 1,
                ..
            })
        ));
        assert!(matches!(
            DecisionSpec::new(&[], 0, 1.0),
            Err(FormatError::OutOfRange {
                value: 0,
                max: -1,
                ..
            })
        ));
        assert!(DecisionSpec::new(&POINTS, 0, f32::NAN).is_err());
        let bad = [OperatingPoint {
            far: 0.0,
            threshold: 1.0,
        }];
        assert!(DecisionSpec::new(&bad, 0, 1.0).is_err());
        let bad = [OperatingPoint {
            far: 0.1,
            threshold: -1.0,
        }];
        assert!(DecisionSpec::new(&bad, 0, 1.0).is_err());
        let many = [POINTS[0]; MAX_OPERATING_POINTS + 1];
        assert!(matches!(
            DecisionSpec::new(&many, 0, 1.0),
            Err(FormatError::OutOfRange {
                value: 9,
                max: 8,
                ..
            })
        ));
    }
}
