//! Templates: what enrollment stores for one subject, one to eight embeddings of one model.
//!
//! A template keeps its embeddings as rows of one int8 matrix (`count x dim`, each row with its
//! own scale) in fixed-capacity storage: at most [`MAX_TEMPLATE_EMBEDDINGS`] rows and
//! [`MAX_TEMPLATE_VALUES`] values in all (e.g. 8 x 256, 4 x 512, 2 x 1024), about 2.2 KiB, no
//! allocator. It remembers the model that made its embeddings, and every comparison checks the
//! probe's model against it: a probe from another model is [`FormatError::ModelMismatch`], never
//! a silent wrong distance.
//!
//! File payload (kind [`FileKind::Template`]): `subject: u32`, `label: str` (at most
//! [`MAX_LABEL_LEN`] bytes of UTF-8), `model: [u8; 16]`, `created: u32`, `embeddings: varint count`
//! (`1..=8`), then per embedding `scale: f32`, `values: bytes` (`dim` i8, the same `dim` for all).

use crate::embedding::{check_embedding, EmbeddingRef};
use crate::envelope::{self, OVERHEAD};
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::le::{as_i8, as_u8};
use crate::metric::Metric;
use crate::model_id::ModelId;
use crate::wire::{check_range, Payload, RawBytes, Reader, Sink};

/// Most embeddings one template holds.
pub const MAX_TEMPLATE_EMBEDDINGS: usize = 8;
/// Most int8 values one template holds, over all its embeddings.
pub const MAX_TEMPLATE_VALUES: usize = 2048;
/// Longest label, in bytes of UTF-8.
pub const MAX_LABEL_LEN: usize = 32;

const KIND: FileKind = FileKind::Template;

/// An enrolled subject (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    subject: u32,
    label: heapless::String<MAX_LABEL_LEN>,
    model: ModelId,
    created: u32,
    dim: usize,
    scales: heapless::Vec<f32, MAX_TEMPLATE_EMBEDDINGS>,
    values: heapless::Vec<i8, MAX_TEMPLATE_VALUES>,
}

fn full() -> FormatError {
    FormatError::CapacityExceeded {
        what: "template embeddings",
        capacity: MAX_TEMPLATE_EMBEDDINGS,
    }
}

impl Template {
    /// Largest encoded template file, in bytes: a buffer this long fits any template.
    pub const MAX_ENCODED_LEN: usize = OVERHEAD
        + 5 // subject
        + 1 + MAX_LABEL_LEN
        + ModelId::LEN
        + 5 // created
        + 1 // count
        + MAX_TEMPLATE_EMBEDDINGS * (4 + 2) // scale, values length
        + MAX_TEMPLATE_VALUES;

    /// A template for `subject` whose first embedding, and model, is `first`. The label is empty
    /// and the creation counter 0.
    pub fn new(subject: u32, first: EmbeddingRef<'_>) -> Result<Self, FormatError> {
        let mut t = Self {
            subject,
            label: heapless::String::new(),
            model: first.model,
            created: 0,
            dim: first.dim(),
            scales: heapless::Vec::new(),
            values: heapless::Vec::new(),
        };
        t.add(first)?;
        Ok(t)
    }

    /// This template with `label` (at most [`MAX_LABEL_LEN`] bytes).
    pub fn with_label(mut self, label: &str) -> Result<Self, FormatError> {
        self.set_label(label)?;
        Ok(self)
    }

    /// Replaces the label (at most [`MAX_LABEL_LEN`] bytes; on error the label is unchanged).
    pub fn set_label(&mut self, label: &str) -> Result<(), FormatError> {
        self.label = heapless::String::try_from(label).map_err(|_| FormatError::OutOfRange {
            at: Field::new(KIND, "label"),
            value: label.len() as i64,
            min: 0,
            max: MAX_LABEL_LEN as i64,
        })?;
        Ok(())
    }

    /// This template with creation counter `created` (a monotonic enrollment counter kept by the
    /// device, not a clock).
    pub fn with_created(mut self, created: u32) -> Self {
        self.created = created;
        self
    }

    /// Adds an embedding of the same model and dimension. Errors, leaving the template
    /// unchanged: [`FormatError::ModelMismatch`], [`FormatError::DimensionMismatch`],
    /// [`FormatError::CapacityExceeded`] (more than [`MAX_TEMPLATE_EMBEDDINGS`] embeddings or
    /// [`MAX_TEMPLATE_VALUES`] values), or an invalid scale or dimension.
    pub fn add(&mut self, e: EmbeddingRef<'_>) -> Result<(), FormatError> {
        if e.model != self.model {
            return Err(FormatError::ModelMismatch {
                expected: self.model,
                found: e.model,
            });
        }
        let index = self.scales.len() as u32;
        check_embedding(
            Field::item(KIND, index, "embeddings.scale"),
            Field::item(KIND, index, "embeddings.values"),
            e.scale,
            e.dim(),
        )?;
        if e.dim() != self.dim {
            return Err(FormatError::DimensionMismatch {
                expected: self.dim,
                found: e.dim(),
            });
        }
        if self.scales.is_full() || self.values.len() + e.dim() > MAX_TEMPLATE_VALUES {
            return Err(full());
        }
        self.values
            .extend_from_slice(e.values)
            .map_err(|_| full())?;
        self.scales.push(e.scale).map_err(|_| full())
    }

    /// The subject's id.
    pub fn subject(&self) -> u32 {
        self.subject
    }

    /// The label (may be empty).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The model that made the embeddings.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// The creation counter.
    pub fn created(&self) -> u32 {
        self.created
    }

    /// Elements per embedding.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of embeddings, `1..=MAX_TEMPLATE_EMBEDDINGS`.
    pub fn count(&self) -> usize {
        self.scales.len()
    }

    /// Embedding `i`, or `None` past the last.
    pub fn embedding(&self, i: usize) -> Option<EmbeddingRef<'_>> {
        let start = i.checked_mul(self.dim)?;
        let values = self.values.get(start..start.checked_add(self.dim)?)?;
        Some(EmbeddingRef {
            model: self.model,
            scale: *self.scales.get(i)?,
            values,
        })
    }

    /// The embeddings in enrollment order.
    pub fn embeddings(&self) -> impl ExactSizeIterator<Item = EmbeddingRef<'_>> + '_ {
        self.scales
            .iter()
            .zip(self.values.chunks_exact(self.dim.max(1)))
            .map(|(scale, values)| EmbeddingRef {
                model: self.model,
                scale: *scale,
                values,
            })
    }

    /// Distance from `probe` to the template: the smallest distance to any of its embeddings
    /// (nearest neighbour), in `metric`'s units. [`FormatError::ModelMismatch`] when the probe
    /// comes from another model.
    pub fn distance(
        &self,
        probe: EmbeddingRef<'_>,
        metric: &Metric<'_>,
    ) -> Result<f32, FormatError> {
        let mut best = f32::INFINITY;
        for e in self.embeddings() {
            best = best.min(metric.distance_i8(e, probe)?);
        }
        Ok(best)
    }

    /// Distance between two templates: the smallest distance between any pair of embeddings.
    pub fn distance_to(&self, other: &Template, metric: &Metric<'_>) -> Result<f32, FormatError> {
        let mut best = f32::INFINITY;
        for e in other.embeddings() {
            best = best.min(self.distance(e, metric)?);
        }
        Ok(best)
    }

    /// Decodes a template file.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut r = Reader::new(KIND, env.payload);
        let t = Self::read(&mut r, true)?;
        r.finish()?;
        Ok(t)
    }

    /// Reads a template payload; `indexed` reports errors by embedding index (in a gallery the
    /// reader's index is the template's).
    pub(crate) fn read(r: &mut Reader<'_>, indexed: bool) -> Result<Self, FormatError> {
        let subject: u32 = r.take("subject")?;
        let label: &str = r.take("label")?;
        let label_at = r.field("label");
        check_range(label_at, label.len() as i64, 0, MAX_LABEL_LEN as i64)?;
        let model: ModelId = r.take("model")?;
        let created: u32 = r.take("created")?;
        let count = r.take_count("embeddings", 1, MAX_TEMPLATE_EMBEDDINGS)?;
        let mut t: Option<Template> = None;
        for k in 0..count {
            if indexed {
                r.set_index(Some(k as u32));
            }
            let scale: f32 = r.take("embeddings.scale")?;
            let values: &[u8] = r.take("embeddings.values")?;
            check_embedding(
                r.field("embeddings.scale"),
                r.field("embeddings.values"),
                scale,
                values.len(),
            )?;
            let e = EmbeddingRef {
                model,
                scale,
                values: as_i8(values),
            };
            match &mut t {
                None => {
                    let total = count.saturating_mul(values.len());
                    check_range(
                        r.field("embeddings.values"),
                        total as i64,
                        1,
                        MAX_TEMPLATE_VALUES as i64,
                    )?;
                    t = Some(Template::new(subject, e)?);
                }
                Some(t) => {
                    let at = r.field("embeddings.values");
                    if values.len() != t.dim {
                        return Err(FormatError::Mismatch {
                            at,
                            expected: t.dim as u64,
                            found: values.len() as u64,
                        });
                    }
                    t.add(e)?;
                }
            }
        }
        if indexed {
            r.set_index(None);
        }
        let Some(mut t) = t else {
            return Err(FormatError::OutOfRange {
                at: r.field("embeddings"),
                value: 0,
                min: 1,
                max: MAX_TEMPLATE_EMBEDDINGS as i64,
            });
        };
        t.set_label(label).map_err(|_| FormatError::OutOfRange {
            at: label_at,
            value: label.len() as i64,
            min: 0,
            max: MAX_LABEL_LEN as i64,
        })?;
        t.created = created;
        Ok(t)
    }

    /// Length of the encoded file in bytes (at most [`Template::MAX_ENCODED_LEN`]).
    pub fn encoded_len(&self) -> Result<usize, FormatError> {
        Payload::encoded_len(self)
    }

    /// Encodes the file into `buf` and returns it (a prefix of `buf`); no allocation.
    pub fn encode_to_slice<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], FormatError> {
        envelope::encode_to_slice(self, buf)
    }

    /// Encodes the file into a new vector.
    #[cfg(feature = "alloc")]
    pub fn to_bytes(&self) -> Result<alloc::vec::Vec<u8>, FormatError> {
        envelope::encode_to_vec(self)
    }
}

impl Payload for Template {
    const KIND: FileKind = KIND;

    fn write<S: Sink>(&self, sink: &mut S) -> Result<(), FormatError> {
        sink.put(&self.subject)?;
        sink.put(self.label.as_str())?;
        sink.put(&self.model)?;
        sink.put(&self.created)?;
        sink.put(&(self.count() as u32))?;
        for e in self.embeddings() {
            sink.put(&e.scale)?;
            sink.put(&RawBytes(as_u8(e.values)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ModelId = ModelId([1; 16]);
    const B: ModelId = ModelId([2; 16]);

    fn e(model: ModelId, values: &[i8]) -> EmbeddingRef<'_> {
        EmbeddingRef {
            model,
            scale: 0.5,
            values,
        }
    }

    #[test]
    fn enroll_and_compare() -> Result<(), FormatError> {
        let mut t = Template::new(7, e(A, &[1, 2, 3]))?
            .with_label("ada")?
            .with_created(3);
        t.add(e(A, &[3, 2, 1]))?;
        assert_eq!(t.count(), 2);
        assert_eq!(t.embedding(1).map(|e| e.values), Some(&[3i8, 2, 1][..]));
        assert_eq!(t.embedding(2), None);
        // Nearest embedding: [3, 2, 2] is 1 step from [3, 2, 1]: 0.5^2 * 1.
        assert_eq!(t.distance(e(A, &[3, 2, 2]), &Metric::SquaredL2), Ok(0.25));
        assert_eq!(
            t.distance(e(B, &[3, 2, 2]), &Metric::SquaredL2),
            Err(FormatError::ModelMismatch {
                expected: A,
                found: B
            })
        );
        assert_eq!(
            t.add(e(B, &[0, 0, 0])),
            Err(FormatError::ModelMismatch {
                expected: A,
                found: B
            })
        );
        assert_eq!(
            t.add(e(A, &[0, 0])),
            Err(FormatError::DimensionMismatch {
                expected: 3,
                found: 2
            })
        );
        assert_eq!(t.count(), 2);
        let other = Template::new(8, e(A, &[3, 2, 3]))?;
        assert_eq!(t.distance_to(&other, &Metric::L1), Ok(1.0));
        Ok(())
    }

    #[test]
    fn capacity() -> Result<(), FormatError> {
        let big = [1i8; 1024];
        let mut t = Template::new(1, e(A, &big))?;
        t.add(e(A, &big))?;
        assert!(matches!(
            t.add(e(A, &big)),
            Err(FormatError::CapacityExceeded { .. })
        ));
        let mut t = Template::new(1, e(A, &[1]))?;
        for _ in 1..MAX_TEMPLATE_EMBEDDINGS {
            t.add(e(A, &[2]))?;
        }
        assert!(matches!(
            t.add(e(A, &[3])),
            Err(FormatError::CapacityExceeded { .. })
        ));
        assert!(t.clone().with_label(&"x".repeat(33)).is_err());
        assert!(t.with_label(&"é".repeat(16)).is_ok());
        Ok(())
    }

    #[test]
    fn max_encoded_len_fits_the_largest_template() -> Result<(), FormatError> {
        let row = [-128i8; 256];
        let wide = EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &row,
        };
        let mut t = Template::new(u32::MAX, wide)?
            .with_label(&"x".repeat(32))?
            .with_created(u32::MAX);
        for _ in 1..MAX_TEMPLATE_EMBEDDINGS {
            t.add(wide)?;
        }
        let mut buf = [0u8; Template::MAX_ENCODED_LEN];
        let file = t.encode_to_slice(&mut buf)?;
        assert!(file.len() <= Template::MAX_ENCODED_LEN);
        assert_eq!(Template::decode(file)?, t);
        Ok(())
    }
}
