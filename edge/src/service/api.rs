//! The JSON bodies of the HTTP API (requests refuse unknown fields, so a misspelt `treshold` is
//! a `400`, not a silently ignored option).

use serde::{Deserialize, Serialize};
use siamedge_format::DecisionSpec;

use super::error::ApiError;

/// `POST /v1/enroll`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Subject id.
    pub subject: u32,
    /// Label kept with the template (at most 32 bytes of UTF-8).
    #[serde(default)]
    pub label: String,
    /// 1 to 8 base64 images (PNG, JPEG, PGM) of the subject.
    pub images: Vec<String>,
    /// Replace an enrolled subject's template instead of answering `409`.
    #[serde(default)]
    pub replace: bool,
}

/// `201` answer to an enrollment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnrollResponse {
    /// Subject id.
    pub subject: u32,
    /// Its label.
    pub label: String,
    /// Embeddings in its template.
    pub embeddings: usize,
    /// The store revision that committed it.
    pub revision: u64,
}

/// `POST /v1/verify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The claimed subject.
    pub subject: u32,
    /// The base64 probe image.
    pub image: String,
    /// Decide at the model's operating point for this false-accept rate, in `(0, 1]`.
    pub far: Option<f32>,
    /// Decide at this distance threshold (`>= 0`) instead.
    pub threshold: Option<f32>,
}

/// `200` answer to a verification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyResponse {
    /// The claimed subject.
    pub subject: u32,
    /// Whether `distance <= threshold`.
    pub accept: bool,
    /// Distance in the model's metric.
    pub distance: f32,
    /// The threshold decided at.
    pub threshold: f32,
    /// The false-accept rate of that threshold on the model's validation data (`null` for a
    /// threshold given in the request).
    pub far: Option<f32>,
    /// Match probability for people, in `0..=1` (never the verdict).
    pub score: f32,
}

/// `POST /v1/identify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// The base64 probe image.
    pub image: String,
    /// Candidates to return, nearest first (default 1).
    pub top: Option<usize>,
    /// As in [`VerifyRequest::far`].
    pub far: Option<f32>,
    /// As in [`VerifyRequest::threshold`].
    pub threshold: Option<f32>,
}

/// One candidate of an identification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Candidate {
    /// Subject id.
    pub subject: u32,
    /// Distance in the model's metric.
    pub distance: f32,
    /// Whether it is within the threshold.
    pub accept: bool,
    /// Match probability for people, in `0..=1`.
    pub score: f32,
}

/// `200` answer to an identification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdentifyResponse {
    /// Nearest subjects first (empty for an empty gallery).
    pub candidates: Vec<Candidate>,
    /// The nearest subject when it is accepted, else `null`.
    #[serde(rename = "match")]
    pub matched: Option<u32>,
    /// The threshold decided at.
    pub threshold: f32,
    /// Its false-accept rate (`null` for a threshold given in the request).
    pub far: Option<f32>,
}

/// One enrolled subject in `GET /v1/subjects`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubjectEntry {
    /// Subject id.
    pub subject: u32,
    /// Label.
    pub label: String,
    /// Embeddings in its template.
    pub embeddings: usize,
    /// The revision that wrote it.
    pub revision: u64,
}

/// `200` answer to `GET /v1/subjects`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubjectsResponse {
    /// Number of subjects.
    pub count: usize,
    /// The subjects by id.
    pub subjects: Vec<SubjectEntry>,
    /// The store's revision.
    pub revision: u64,
}

/// The operating point of a request: `(threshold, far)` from `far` or `threshold` (not both),
/// else the model's default point. `400` naming the field and value when out of range.
pub fn operating_point(
    spec: &DecisionSpec,
    far: Option<f32>,
    threshold: Option<f32>,
) -> Result<(f32, Option<f32>), ApiError> {
    match (far, threshold) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "far and threshold: give one or neither, not both",
        )),
        (Some(far), None) => {
            if !(far > 0.0 && far <= 1.0) {
                return Err(ApiError::bad_request(format!(
                    "far = {far}: must be in (0, 1]"
                )));
            }
            let p = spec.point_for_far(far).ok_or_else(|| {
                let lowest = spec
                    .points()
                    .iter()
                    .map(|p| p.far)
                    .fold(f32::INFINITY, f32::min);
                ApiError::bad_request(format!(
                    "far = {far}: the model's lowest operating point is far = {lowest}"
                ))
            })?;
            Ok((p.threshold, Some(p.far)))
        }
        (None, Some(t)) => {
            if !(t.is_finite() && t >= 0.0) {
                return Err(ApiError::bad_request(format!(
                    "threshold = {t}: must be finite and >= 0"
                )));
            }
            Ok((t, None))
        }
        (None, None) => {
            let p = spec.default_point();
            Ok((p.threshold, Some(p.far)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::OperatingPoint;

    #[test]
    fn operating_points_from_far_threshold_or_default() {
        let spec = DecisionSpec::new(
            &[
                OperatingPoint {
                    far: 1e-2,
                    threshold: 1.2,
                },
                OperatingPoint {
                    far: 1e-3,
                    threshold: 0.9,
                },
            ],
            1,
            2.0,
        )
        .unwrap();
        assert_eq!(
            operating_point(&spec, None, None).unwrap(),
            (0.9, Some(1e-3))
        );
        assert_eq!(
            operating_point(&spec, Some(0.05), None).unwrap(),
            (1.2, Some(1e-2))
        );
        assert_eq!(
            operating_point(&spec, None, Some(0.5)).unwrap(),
            (0.5, None)
        );
        let e = operating_point(&spec, Some(1e-5), None).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(
            e.message.contains("far = 0.00001") && e.message.contains("0.001"),
            "{}",
            e.message
        );
        assert!(operating_point(&spec, Some(0.0), None)
            .unwrap_err()
            .message
            .contains("(0, 1]"));
        assert!(operating_point(&spec, None, Some(-1.0))
            .unwrap_err()
            .message
            .contains("threshold = -1"));
        assert!(operating_point(&spec, Some(0.1), Some(1.0))
            .unwrap_err()
            .message
            .contains("not both"));
    }
}
