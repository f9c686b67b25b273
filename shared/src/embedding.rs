//! Embeddings: the encoder's output vector, int8 with one scale, tagged with its model.
//!
//! An int8 embedding is symmetric-quantized: real value `= scale * q`, `q` in `-128..=127`,
//! zero point 0, `dim` in `1..=`[`MAX_EMBEDDING_DIM`]. [`Embedding`] owns its values in a
//! fixed-capacity vector (no allocator; about 1 KiB), [`EmbeddingRef`] borrows them (a template's
//! rows, a firmware output buffer), and `EmbeddingF32` (with `alloc`) is the host's f32 form.
//!
//! Every form carries the [`ModelId`] of the model that produced it: the metrics refuse to compare
//! embeddings of two models.
//!
//! File payload (kind [`FileKind::Embedding`], see [`envelope`]):
//! `model: [u8; 16]`, `scale: f32`, `values: bytes` (varint length `dim`, then `dim` i8).

use crate::envelope;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::le::{as_i8, as_u8};
use crate::model_id::ModelId;
use crate::wire::{check_range, check_scale, Payload, RawBytes, Reader, Sink};

/// Largest embedding dimension any siamedge type holds (elements).
pub const MAX_EMBEDDING_DIM: usize = 1024;

/// A borrowed int8 embedding: `values[i] * scale` is element `i`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingRef<'a> {
    /// The model that produced it.
    pub model: ModelId,
    /// Real value of one int8 step, finite and `> 0`.
    pub scale: f32,
    /// The int8 values, `dim` of them.
    pub values: &'a [i8],
}

impl EmbeddingRef<'_> {
    /// Number of elements.
    pub fn dim(&self) -> usize {
        self.values.len()
    }

    /// Writes the real values (`scale * q`) into `out[..dim]` and returns that part;
    /// [`FormatError::BufferTooSmall`] when `out` is shorter than `dim`.
    pub fn dequantize_into<'o>(&self, out: &'o mut [f32]) -> Result<&'o [f32], FormatError> {
        let available = out.len();
        let out = out
            .get_mut(..self.values.len())
            .ok_or(FormatError::BufferTooSmall {
                needed: self.values.len(),
                available,
            })?;
        for (o, q) in out.iter_mut().zip(self.values) {
            *o = f32::from(*q) * self.scale;
        }
        Ok(out)
    }
}

/// An owned int8 embedding (capacity [`MAX_EMBEDDING_DIM`], no allocator).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    model: ModelId,
    scale: f32,
    values: heapless::Vec<i8, MAX_EMBEDDING_DIM>,
}

const KIND: FileKind = FileKind::Embedding;

/// Checks an embedding's scale and dimension; `at_scale`/`at_values` name the fields.
pub(crate) fn check_embedding(
    at_scale: Field,
    at_values: Field,
    scale: f32,
    dim: usize,
) -> Result<(), FormatError> {
    check_scale(at_scale, scale)?;
    check_range(at_values, dim as i64, 1, MAX_EMBEDDING_DIM as i64)
}

impl Embedding {
    /// An embedding of `values` (1 to [`MAX_EMBEDDING_DIM`] of them) with step `scale`
    /// (finite, `> 0`) made by `model`.
    pub fn new(model: ModelId, scale: f32, values: &[i8]) -> Result<Self, FormatError> {
        check_embedding(
            Field::new(KIND, "scale"),
            Field::new(KIND, "values"),
            scale,
            values.len(),
        )?;
        let mut v = heapless::Vec::new();
        v.extend_from_slice(values)
            .map_err(|_| FormatError::CapacityExceeded {
                what: "embedding values",
                capacity: MAX_EMBEDDING_DIM,
            })?;
        Ok(Self {
            model,
            scale,
            values: v,
        })
    }

    /// Quantizes real `values` with step `scale`: `q = round(v / scale)` (half away from zero),
    /// clamped to `-128..=127`. Values must be finite.
    pub fn quantize(model: ModelId, values: &[f32], scale: f32) -> Result<Self, FormatError> {
        check_embedding(
            Field::new(KIND, "scale"),
            Field::new(KIND, "values"),
            scale,
            values.len(),
        )?;
        let mut q = heapless::Vec::new();
        for v in values {
            if !v.is_finite() {
                return Err(FormatError::Malformed {
                    at: Field::new(KIND, "values"),
                    reason: "values to quantize must be finite",
                });
            }
            let step = libm::roundf(v / scale).clamp(-128.0, 127.0) as i8;
            q.push(step).map_err(|_| FormatError::CapacityExceeded {
                what: "embedding values",
                capacity: MAX_EMBEDDING_DIM,
            })?;
        }
        Ok(Self {
            model,
            scale,
            values: q,
        })
    }

    /// The model that produced it.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// Real value of one int8 step (finite, `> 0`).
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The int8 values.
    pub fn values(&self) -> &[i8] {
        &self.values
    }

    /// Number of elements, `1..=MAX_EMBEDDING_DIM`.
    pub fn dim(&self) -> usize {
        self.values.len()
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> EmbeddingRef<'_> {
        EmbeddingRef {
            model: self.model,
            scale: self.scale,
            values: &self.values,
        }
    }

    /// The f32 form (`scale * q` per element).
    #[cfg(feature = "alloc")]
    pub fn to_f32(&self) -> EmbeddingF32 {
        EmbeddingF32 {
            model: self.model,
            values: self
                .values
                .iter()
                .map(|q| f32::from(*q) * self.scale)
                .collect(),
        }
    }

    /// Decodes an embedding file.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut r = Reader::new(KIND, env.payload);
        let model: ModelId = r.take("model")?;
        let scale: f32 = r.take("scale")?;
        let values: &[u8] = r.take("values")?;
        r.finish()?;
        Self::new(model, scale, as_i8(values))
    }

    /// Length of the encoded file in bytes.
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

impl Payload for Embedding {
    const KIND: FileKind = KIND;

    fn write<S: Sink>(&self, sink: &mut S) -> Result<(), FormatError> {
        sink.put(&self.model)?;
        sink.put(&self.scale)?;
        sink.put(&RawBytes(as_u8(&self.values)))
    }
}

/// An f32 embedding on a host: the encoder's real-valued output, before quantization.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingF32 {
    /// The model that produced it.
    pub model: ModelId,
    /// The values, any length; [`EmbeddingF32::quantize`] accepts `1..=MAX_EMBEDDING_DIM`.
    pub values: alloc::vec::Vec<f32>,
}

#[cfg(feature = "alloc")]
impl EmbeddingF32 {
    /// Quantizes with step `scale` (see [`Embedding::quantize`]).
    pub fn quantize(&self, scale: f32) -> Result<Embedding, FormatError> {
        Embedding::quantize(self.model, &self.values, scale)
    }

    /// Quantizes with the step that maps the largest magnitude to 127 (`max |v| / 127`; `1/128`
    /// for an all-zero vector).
    pub fn quantize_symmetric(&self) -> Result<Embedding, FormatError> {
        let max = self
            .values
            .iter()
            .fold(0.0f32, |m, v| m.max(libm::fabsf(*v)));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 / 128.0 };
        self.quantize(scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: ModelId = ModelId([7; 16]);

    #[test]
    fn quantize_rounds_and_clamps() {
        let e = Embedding::quantize(MODEL, &[0.0, 0.26, -0.25, 100.0, -100.0, 0.74], 0.5);
        assert_eq!(
            e.as_ref().map(|e| e.values()),
            Ok(&[0i8, 1, -1, 127, -128, 1][..])
        );
        assert!(Embedding::quantize(MODEL, &[f32::NAN], 1.0).is_err());
        assert!(Embedding::quantize(MODEL, &[1.0], 0.0).is_err());
        assert!(Embedding::new(MODEL, 1.0, &[]).is_err());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn f32_form() {
        let f = EmbeddingF32 {
            model: MODEL,
            values: alloc::vec![0.5, -1.0, 0.25],
        };
        let q = f.quantize_symmetric();
        assert_eq!(
            q.as_ref().map(|e| (e.values(), e.scale())),
            Ok((&[64i8, -127, 32][..], 1.0 / 127.0))
        );
        let e = Embedding::new(MODEL, 0.25, &[4, -8]).map(|e| e.to_f32().values);
        assert_eq!(e, Ok(alloc::vec![1.0, -2.0]));
    }

    #[test]
    fn dequantize() {
        let mut out = [0.0; 3];
        let e = EmbeddingRef {
            model: MODEL,
            scale: 0.25,
            values: &[4, -8],
        };
        assert_eq!(e.dequantize_into(&mut out), Ok(&[1.0, -2.0][..]));
        let r = e.dequantize_into(&mut out[..1]);
        assert_eq!(
            r,
            Err(FormatError::BufferTooSmall {
                needed: 2,
                available: 1
            })
        );
    }
}
