//! Int8 embeddings of a model file on the host, computed by the firmware's own engine
//! (`siamedge_engine`, the integer reference executor), so that thresholds and reports
//! measure exactly what the device will compute.
//!
//! Images come as the trainer holds them (`p / 255`, possibly fractional after area resizing) and
//! are quantized with the model's [`InputSpec`] by the preprocessing contract
//! ([`InputSpec::quantize_unit`]: `round(((x - mean) / std) / scale) + zp`), the rule the edge
//! runtime and the firmware apply to the same images.

use siamedge_engine::{needed_arena_bytes, Engine};
use siamedge_format::preprocess::{quantize_unit_image, PreprocessError};
use siamedge_format::{InputSpec, Model};

use super::fold::nhwc_image;
use super::QuantError;
use crate::data::LabelledSet;

/// Quantizes one NHWC image of `p / 255` values with `spec` into `out` (same length): the
/// contract's [`quantize_unit_image`], whose values are [`InputSpec::quantize_unit`]'s.
pub fn quantize_input(spec: &InputSpec, image: &[f32], out: &mut [i8]) -> Result<(), QuantError> {
    quantize_unit_image(spec, image, out).map_err(|e| match e {
        PreprocessError::BufferSize {
            expected, found, ..
        } => QuantError::ImageSize { expected, found },
        other => QuantError::Config {
            field: "input",
            reason: other.to_string(),
        },
    })
}

/// Runs a decoded model on many images with one arena.
pub struct Int8Embedder<'m> {
    model: &'m Model<'m>,
    arena: Vec<i8>,
    input: Vec<i8>,
}

impl<'m> Int8Embedder<'m> {
    /// An embedder for `model` (its arena is allocated once).
    pub fn new(model: &'m Model<'m>) -> Self {
        let input_len = model.input().shape().elements() as usize;
        Self {
            model,
            arena: vec![0; needed_arena_bytes(model)],
            input: vec![0; input_len],
        }
    }

    /// The int8 embedding of one NHWC image of `p / 255` values.
    pub fn embed(&mut self, image: &[f32]) -> Result<Vec<i8>, QuantError> {
        quantize_input(self.model.input(), image, &mut self.input)?;
        self.embed_quantized(&self.input.clone())
    }

    /// The int8 embedding of one already quantized NHWC input.
    pub fn embed_quantized(&mut self, input: &[i8]) -> Result<Vec<i8>, QuantError> {
        let mut engine = Engine::with_buffer(self.model, &mut self.arena)
            .map_err(|e| QuantError::Engine(e.to_string()))?;
        let out = engine
            .run(input)
            .map_err(|e| QuantError::Engine(e.to_string()))?;
        Ok(out.to_vec())
    }

    /// Int8 embeddings of every image of `set` (`(N, C, H, W)`, `p / 255`).
    pub fn embed_set(&mut self, set: &LabelledSet) -> Result<Vec<Vec<i8>>, QuantError> {
        let s = set.shape();
        (0..set.len())
            .map(|i| self.embed(&nhwc_image(set.image(i), (s.channels, s.height, s.width))))
            .collect()
    }
}
