//! Enrollment: several captures of one subject become one [`Template`].
//!
//! The literature and users agree that several enrollment captures cut error rates. Two
//! policies, chosen with [`EnrollPolicy`]:
//!
//! - [`EnrollPolicy::Keep`] stores every capture (at most [`MAX_TEMPLATE_EMBEDDINGS`], and at
//!   most [`MAX_TEMPLATE_VALUES`](siamedge_format::MAX_TEMPLATE_VALUES) values in all). A probe's
//!   distance to such a template is what the format defines, [`Template::distance`]: the
//!   **smallest** distance to any stored embedding (nearest neighbour). It tolerates one bad
//!   capture among good ones and costs one comparison per stored embedding.
//! - [`EnrollPolicy::Mean`] stores one embedding, the element-wise mean of the captures (the
//!   class centroid), re-normalized to unit length for L2-normalized models. Verification then
//!   compares with the centroid only: one comparison, the smallest template, and averaging
//!   cancels capture noise; a bad capture pulls the centroid, though.
//!
//! ## The mean in integers
//!
//! Captures may carry different scales. With `s_max` the largest, capture `k` gets the Q16
//! weight `w_k = round(65536 * s_k / s_max)` (`65536` when the scales are equal, the usual case:
//! every embedding of one model has the model's scale), and element `i` the exact integer sum
//! `m_i = Σ_k w_k q_{k,i}` (`|m_i| <= 8 * 128 * 2^16 = 2^26`, an i32).
//!
//! - Not normalized: `q_i = round(m_i / (n * 65536))`, half away from zero, at scale `s_max`.
//!   With equal scales this is exactly the rounded mean of the int8 values.
//! - L2-normalized (the model's last layer is `L2Normalize`, output scale `1/128`):
//!   `q_i = round(128 * m_i / sqrt(Σ_j m_j^2))`, half away from zero, clamped to `-128..=127`,
//!   at scale `1/128`, the same quantization the layer itself produces. The rounding is exact:
//!   the integer `c` is chosen with `(2c - 1)^2 N <= (256 m_i)^2 < (2c + 1)^2 N` in u128, so no
//!   square root is approximated. A centroid of zero length (captures that cancel out) has no
//!   direction and is refused.
//!
//! Every capture must come from one model and have one dimension; no allocation, one 1 KiB
//! stack buffer for the mean.

use siamedge_format::{
    EmbeddingRef, Field, FileKind, FormatError, Template, MAX_EMBEDDING_DIM,
    MAX_TEMPLATE_EMBEDDINGS,
};

pub use siamedge_format::EnrollPolicy;

use crate::verifier::Verifier;

/// Scale of an L2-normalized embedding (the `L2Normalize` layer's output scale).
pub const L2_NORMALIZED_SCALE: f32 = 1.0 / 128.0;

const KIND: FileKind = FileKind::Template;
const Q16: i64 = 1 << 16;

/// A template for `subject` from `captures` (1 to [`MAX_TEMPLATE_EMBEDDINGS`] embeddings of one
/// model and dimension) under `policy`; `l2_normalized` says whether the model's embeddings are
/// unit vectors (then the mean is re-normalized). The label is empty and the creation counter 0.
///
/// Errors ([`FormatError`], naming the template field): no capture or too many
/// ([`FormatError::OutOfRange`] at `embeddings`), captures of different models
/// ([`FormatError::ModelMismatch`]) or dimensions ([`FormatError::DimensionMismatch`]), a scale
/// that is not finite and `> 0`, capacity ([`FormatError::CapacityExceeded`], `Keep` only), or a
/// zero-length mean of normalized captures ([`FormatError::Malformed`]).
pub fn enroll(
    subject: u32,
    captures: &[EmbeddingRef<'_>],
    policy: EnrollPolicy,
    l2_normalized: bool,
) -> Result<Template, FormatError> {
    let first = check_captures(captures)?;
    match policy {
        EnrollPolicy::Keep => {
            let mut t = Template::new(subject, first)?;
            for c in captures.iter().skip(1) {
                t.add(*c)?;
            }
            Ok(t)
        }
        EnrollPolicy::Mean => {
            let mut values = [0i8; MAX_EMBEDDING_DIM];
            let dim = first.dim();
            let out = values.get_mut(..dim).ok_or(FormatError::OutOfRange {
                at: Field::new(KIND, "embeddings.values"),
                value: dim as i64,
                min: 1,
                max: MAX_EMBEDDING_DIM as i64,
            })?;
            let scale = mean_into(captures, l2_normalized, out)?;
            Template::new(
                subject,
                EmbeddingRef {
                    model: first.model,
                    scale,
                    values: out,
                },
            )
        }
    }
}

impl Verifier<'_, '_> {
    /// A template for `subject` from `captures` under `policy`, for this verifier's model: every
    /// capture must come from it ([`FormatError::ModelMismatch`]) and have its embedding
    /// dimension ([`FormatError::DimensionMismatch`]); the mean is re-normalized when the model's
    /// embeddings are. See [`enroll`].
    pub fn enroll(
        &self,
        subject: u32,
        captures: &[EmbeddingRef<'_>],
        policy: EnrollPolicy,
    ) -> Result<Template, FormatError> {
        let model = self.model();
        let spec = model.embedding();
        for c in captures {
            if c.model != model.id() {
                return Err(FormatError::ModelMismatch {
                    expected: model.id(),
                    found: c.model,
                });
            }
            if c.dim() != usize::from(spec.dim) {
                return Err(FormatError::DimensionMismatch {
                    expected: usize::from(spec.dim),
                    found: c.dim(),
                });
            }
        }
        enroll(subject, captures, policy, spec.l2_normalized)
    }

    /// [`enroll`](Self::enroll) for raw engine outputs: each capture is `dim` int8 values at the
    /// model's embedding scale (1 to [`MAX_TEMPLATE_EMBEDDINGS`] of them).
    pub fn enroll_values(
        &self,
        subject: u32,
        captures: &[&[i8]],
        policy: EnrollPolicy,
    ) -> Result<Template, FormatError> {
        let model = self.model();
        let empty = EmbeddingRef {
            model: model.id(),
            scale: model.embedding().scale,
            values: &[],
        };
        let mut refs = [empty; MAX_TEMPLATE_EMBEDDINGS];
        if captures.len() > refs.len() {
            return Err(FormatError::OutOfRange {
                at: Field::new(KIND, "embeddings"),
                value: captures.len() as i64,
                min: 1,
                max: MAX_TEMPLATE_EMBEDDINGS as i64,
            });
        }
        for (r, values) in refs.iter_mut().zip(captures) {
            r.values = values;
        }
        self.enroll(subject, &refs[..captures.len()], policy)
    }
}

/// Checks count, models, dimensions and scales; returns the first capture.
fn check_captures<'c>(captures: &[EmbeddingRef<'c>]) -> Result<EmbeddingRef<'c>, FormatError> {
    let count_error = FormatError::OutOfRange {
        at: Field::new(KIND, "embeddings"),
        value: captures.len() as i64,
        min: 1,
        max: MAX_TEMPLATE_EMBEDDINGS as i64,
    };
    if captures.len() > MAX_TEMPLATE_EMBEDDINGS {
        return Err(count_error);
    }
    let first = *captures.first().ok_or(count_error)?;
    for (k, c) in captures.iter().enumerate() {
        if c.model != first.model {
            return Err(FormatError::ModelMismatch {
                expected: first.model,
                found: c.model,
            });
        }
        if c.dim() != first.dim() {
            return Err(FormatError::DimensionMismatch {
                expected: first.dim(),
                found: c.dim(),
            });
        }
        if !(c.scale.is_finite() && c.scale > 0.0) {
            return Err(FormatError::Malformed {
                at: Field::item(KIND, k as u32, "embeddings.scale"),
                reason: "a scale must be finite and > 0",
            });
        }
    }
    Ok(first)
}

/// `round(n / d)`, half away from zero, for `d > 0`.
fn div_round(n: i64, d: i64) -> i64 {
    let q = (2 * n.abs() + d) / (2 * d);
    if n < 0 {
        -q
    } else {
        q
    }
}

/// `round(128 * m / sqrt(norm2))`, half away from zero, exactly (see the module docs).
fn normalized(m: i64, norm2: u128, root: u128) -> i64 {
    // a = 256 |m|, compared against (2c +- 1) sqrt(norm2): 4 * (128 m)^2 = a^2.
    let a = 256 * u128::from(m.unsigned_abs());
    let a2 = a * a;
    // Start near a / (2 sqrt(norm2)), then step to the exact boundary (a step or two at most).
    let mut c = (a / 2) / root.max(1);
    while (2 * c + 1) * (2 * c + 1) * norm2 <= a2 {
        c += 1;
    }
    while c > 0 && (2 * c - 1) * (2 * c - 1) * norm2 > a2 {
        c -= 1;
    }
    let c = c.min(128) as i64;
    if m < 0 {
        -c
    } else {
        c
    }
}

/// The integer square root (floor) of `n`.
fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

/// Writes the mean of `captures` into `out` (the captures' dimension) and returns its scale.
fn mean_into(
    captures: &[EmbeddingRef<'_>],
    l2_normalized: bool,
    out: &mut [i8],
) -> Result<f32, FormatError> {
    let s_max = captures.iter().fold(0.0f32, |m, c| m.max(c.scale));
    let mut weights = [0i64; MAX_TEMPLATE_EMBEDDINGS];
    for (w, c) in weights.iter_mut().zip(captures) {
        // Ratios are in (0, 1], so adding 0.5 and truncating rounds half up.
        *w = (c.scale / s_max * Q16 as f32 + 0.5) as i64;
    }
    let sum = |i: usize| -> i64 {
        captures
            .iter()
            .zip(&weights)
            .map(|(c, w)| w * i64::from(c.values.get(i).copied().unwrap_or(0)))
            .sum()
    };
    if !l2_normalized {
        let d = captures.len() as i64 * Q16;
        for (i, o) in out.iter_mut().enumerate() {
            *o = div_round(sum(i), d).clamp(-128, 127) as i8;
        }
        return Ok(s_max);
    }
    let norm2: u128 = (0..out.len())
        .map(|i| {
            let m = u128::from(sum(i).unsigned_abs());
            m * m
        })
        .sum();
    if norm2 == 0 {
        return Err(FormatError::Malformed {
            at: Field::new(KIND, "embeddings.values"),
            reason: "the mean of the captures is the zero vector and has no direction",
        });
    }
    let root = isqrt(norm2);
    for (i, o) in out.iter_mut().enumerate() {
        *o = normalized(sum(i), norm2, root).clamp(-128, 127) as i8;
    }
    Ok(L2_NORMALIZED_SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::{
        DecisionSpec, EmbeddingSpec, InputSpec, LayerKind, LayerSpec, Metric, MetricSpec, Model,
        ModelId, ModelSpec, OperatingPoint, Quant, Shape, Task,
    };

    const A: ModelId = ModelId([1; 16]);
    const B: ModelId = ModelId([2; 16]);

    fn e(values: &[i8]) -> EmbeddingRef<'_> {
        EmbeddingRef {
            model: A,
            scale: 0.5,
            values,
        }
    }

    /// The float reference for the normalized mean: round(128 * m / |m|).
    fn reference_normalized(captures: &[&[i8]]) -> Vec<i8> {
        let dim = captures[0].len();
        let m: Vec<f64> = (0..dim)
            .map(|i| captures.iter().map(|c| f64::from(c[i])).sum())
            .collect();
        let norm = m.iter().map(|v| v * v).sum::<f64>().sqrt();
        m.iter()
            .map(|v| (128.0 * v / norm).round().clamp(-128.0, 127.0) as i8)
            .collect()
    }

    #[test]
    fn keep_stores_every_capture_and_verifies_by_nearest() -> Result<(), FormatError> {
        let caps = [e(&[10, 0, 0]), e(&[0, 10, 0]), e(&[0, 0, 10])];
        let t = enroll(5, &caps, EnrollPolicy::Keep, false)?;
        assert_eq!((t.subject(), t.count(), t.dim()), (5, 3, 3));
        assert_eq!(t.embedding(2).map(|x| x.values), Some(&[0i8, 0, 10][..]));
        // Nearest: [0, 9, 0] is 1 step from the second capture: 0.5^2 * 1.
        assert_eq!(t.distance(e(&[0, 9, 0]), &Metric::SquaredL2), Ok(0.25));
        Ok(())
    }

    #[test]
    fn mean_of_equal_scales_is_the_rounded_integer_mean() -> Result<(), FormatError> {
        // Sums 3, -3, 5, -5, 127*3, -128*3 over 3 captures -> 1, -1, 2 (5/3 = 1.67), -2, 127, -128.
        let caps = [
            e(&[1, -1, 1, -1, 127, -128]),
            e(&[1, -1, 2, -2, 127, -128]),
            e(&[1, -1, 2, -2, 127, -128]),
        ];
        let t = enroll(1, &caps, EnrollPolicy::Mean, false)?;
        assert_eq!(t.count(), 1);
        let m = t.embedding(0).ok_or(FormatError::DimensionMismatch {
            expected: 6,
            found: 0,
        })?;
        assert_eq!(m.values, &[1, -1, 2, -2, 127, -128]);
        assert_eq!(m.scale, 0.5);
        // Halves round away from zero: (1 + 2) / 2 = 1.5 -> 2, (-1 - 2) / 2 -> -2.
        let t = enroll(1, &[e(&[1, -1]), e(&[2, -2])], EnrollPolicy::Mean, false)?;
        assert_eq!(t.embedding(0).map(|x| x.values), Some(&[2i8, -2][..]));
        Ok(())
    }

    #[test]
    fn mean_with_different_scales_weights_by_scale() -> Result<(), FormatError> {
        // Reals 0.5 * 10 = 5 and 0.25 * 10 = 2.5: mean 3.75 at scale 0.5 -> 7.5 -> 8.
        let half = EmbeddingRef {
            model: A,
            scale: 0.25,
            values: &[10, -10],
        };
        let t = enroll(1, &[e(&[10, -10]), half], EnrollPolicy::Mean, false)?;
        let m = t.embedding(0);
        assert_eq!(m.map(|x| (x.values, x.scale)), Some((&[8i8, -8][..], 0.5)));
        Ok(())
    }

    #[test]
    fn normalized_mean_matches_the_float_reference() -> Result<(), FormatError> {
        let sets: [&[&[i8]]; 4] = [
            &[&[127, 0, 0, 0], &[0, 127, 0, 0]],
            &[&[90, 90, 0, 0], &[90, -90, 0, 0], &[0, 0, 127, 0]],
            &[&[-128, 0, 0, 0]],
            &[
                &[3, -7, 11, 64],
                &[5, -9, 13, 60],
                &[1, -5, 17, 66],
                &[2, -6, 12, 65],
            ],
        ];
        for set in sets {
            let caps: Vec<_> = set.iter().map(|v| e(v)).collect();
            let t = enroll(9, &caps, EnrollPolicy::Mean, true)?;
            let m = t.embedding(0);
            let expected = reference_normalized(set);
            assert_eq!(m.map(|x| x.values.to_vec()), Some(expected), "{set:?}");
            assert_eq!(m.map(|x| x.scale), Some(L2_NORMALIZED_SCALE));
        }
        // A pseudo-random 256-d set: the norm of the result is 128 within rounding.
        let mut s = 12345u32;
        let mut rows = vec![];
        for _ in 0..8 {
            let row: Vec<i8> = (0..256)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    (s >> 27) as i8 - 16
                })
                .collect();
            rows.push(row);
        }
        let refs: Vec<&[i8]> = rows.iter().map(|r| r.as_slice()).collect();
        let caps: Vec<_> = refs.iter().map(|v| e(v)).collect();
        let t = enroll(9, &caps, EnrollPolicy::Mean, true)?;
        let values = t.embedding(0).map(|x| x.values.to_vec());
        assert_eq!(values, Some(reference_normalized(&refs)));
        Ok(())
    }

    #[test]
    fn bad_captures_are_refused() {
        let none: [EmbeddingRef<'_>; 0] = [];
        assert!(matches!(
            enroll(1, &none, EnrollPolicy::Keep, false),
            Err(FormatError::OutOfRange {
                value: 0,
                min: 1,
                max: 8,
                ..
            })
        ));
        let nine = [e(&[1]); 9];
        assert!(matches!(
            enroll(1, &nine, EnrollPolicy::Mean, false),
            Err(FormatError::OutOfRange { value: 9, .. })
        ));
        let other = EmbeddingRef {
            model: B,
            scale: 0.5,
            values: &[1],
        };
        assert_eq!(
            enroll(1, &[e(&[1]), other], EnrollPolicy::Mean, false),
            Err(FormatError::ModelMismatch {
                expected: A,
                found: B
            })
        );
        assert_eq!(
            enroll(1, &[e(&[1]), e(&[1, 2])], EnrollPolicy::Keep, false),
            Err(FormatError::DimensionMismatch {
                expected: 1,
                found: 2
            })
        );
        let nan = EmbeddingRef {
            model: A,
            scale: f32::NAN,
            values: &[1],
        };
        assert!(matches!(
            enroll(1, &[e(&[1]), nan], EnrollPolicy::Mean, false),
            Err(FormatError::Malformed { .. })
        ));
        // Opposite unit vectors average to nothing.
        assert!(matches!(
            enroll(1, &[e(&[100, 0]), e(&[-100, 0])], EnrollPolicy::Mean, true),
            Err(FormatError::Malformed { .. })
        ));
        // Keep runs into the template's value capacity: 4 x 1024 > 2048.
        let big = [3i8; 1024];
        let caps = [e(&big); 4];
        assert!(matches!(
            enroll(1, &caps, EnrollPolicy::Keep, false),
            Err(FormatError::CapacityExceeded { .. })
        ));
        assert!(enroll(1, &caps, EnrollPolicy::Mean, false).is_ok());
    }

    /// A one-layer-plus-normalization model: 1x1 grey input, Dense 1 -> 4, L2Normalize.
    fn unit_model() -> Result<Vec<u8>, FormatError> {
        let q_in = Quant::new(1.0 / 128.0, 0);
        let q_dense = Quant::new(0.05, 0);
        let dense = LayerSpec::weighted(
            LayerKind::Dense,
            Shape::new(1, 1, 1),
            q_in,
            q_dense,
            vec![10, 20, 30, 40],
            vec![0.01; 4],
            vec![0; 4],
        )?;
        let l2 = LayerSpec::l2_normalize(dense.output, q_dense);
        ModelSpec {
            task: Task::Face,
            input: InputSpec {
                width: 1,
                height: 1,
                channels: 1,
                mean: heapless::Vec::from_slice(&[0.5]).unwrap_or_default(),
                std: heapless::Vec::from_slice(&[0.5]).unwrap_or_default(),
                quant: q_in,
            },
            embedding: EmbeddingSpec {
                dim: 4,
                scale: L2_NORMALIZED_SCALE,
                l2_normalized: true,
                flip_average: false,
            },
            metric: MetricSpec::SquaredL2,
            decision: DecisionSpec::new(
                &[OperatingPoint {
                    far: 1e-3,
                    threshold: 0.5,
                }],
                0,
                1.0,
            )?,
            arena_bytes: None,
            layers: vec![dense, l2],
        }
        .to_bytes()
    }

    #[test]
    fn verifier_enrolls_for_its_model() -> Result<(), FormatError> {
        let bytes = unit_model()?;
        let model = Model::decode(&bytes)?;
        let v = Verifier::new(&model);
        let id = model.id();
        let cap = |values: &'static [i8]| EmbeddingRef {
            model: id,
            scale: L2_NORMALIZED_SCALE,
            values,
        };
        let caps = [cap(&[127, 0, 0, 0]), cap(&[90, 90, 0, 0])];
        let mean = v.enroll(3, &caps, EnrollPolicy::Mean)?;
        // round(128 * (217, 90) / 234.92) = (118, 49).
        assert_eq!(
            mean.embedding(0).map(|x| x.values),
            Some(&[118i8, 49, 0, 0][..])
        );
        let raw: [&[i8]; 2] = [&[127, 0, 0, 0], &[90, 90, 0, 0]];
        assert_eq!(v.enroll_values(3, &raw, EnrollPolicy::Mean)?, mean);
        let nine: [&[i8]; 9] = [&[1, 2, 3, 4]; 9];
        assert!(v.enroll_values(3, &nine, EnrollPolicy::Mean).is_err());
        assert!(v.enroll_values(3, &[], EnrollPolicy::Mean).is_err());
        let kept = v.enroll(3, &caps, EnrollPolicy::Keep)?;
        let probe = cap(&[0, 127, 0, 0]);
        // Kept: nearest is (90, 90): (90^2 + 37^2) / 128^2 = 0.578 > 0.5, rejected; the centroid
        // is further still.
        let d_kept = v.verify(&kept, probe)?;
        let d_mean = v.verify(&mean, probe)?;
        assert!(!d_kept.accept && !d_mean.accept);
        assert!(d_kept.distance < d_mean.distance);
        let close = cap(&[110, 60, 0, 0]);
        assert!(v.verify(&mean, close)?.accept);
        // Foreign captures and wrong dimensions are refused.
        let foreign = EmbeddingRef {
            model: B,
            scale: L2_NORMALIZED_SCALE,
            values: &[1, 2, 3, 4],
        };
        assert!(matches!(
            v.enroll(3, &[foreign], EnrollPolicy::Keep),
            Err(FormatError::ModelMismatch { .. })
        ));
        assert_eq!(
            v.enroll(3, &[cap(&[1, 2, 3])], EnrollPolicy::Keep),
            Err(FormatError::DimensionMismatch {
                expected: 4,
                found: 3
            })
        );
        Ok(())
    }
}
