//! int8 models on the engine: the model file (`model.sgm`) in, the device's int8 embeddings out.
//!
//! What: [`Int8Encoder`] holds a model file's bytes (checked once at load: it decodes and the
//! engine prepares it) and runs it with `siamedge-engine` on the host SIMD kernels
//! ([`Kernels::best`]; bit for bit the reference kernels, which are the firmware's). Images
//! become the int8 input through the one preprocessing contract
//! ([`crate::preprocess::to_int8`]), so an embedding here is the device's embedding of the same
//! image, and a gallery enrolled here holds the device's templates.
//!
//! Running: [`Int8Encoder::engine`] prepares the engine in a caller's heap arena (the weights
//! are re-laid out once); then `Engine::run` per input, allocation-free. [`Int8Encoder::embed`]
//! does both for one input.

use std::path::{Path, PathBuf};

use siamedge_engine::{Engine, Kernels};
use siamedge_format::{Embedding, InputSpec, Model, ModelId};

use crate::error::EdgeError;
use crate::preprocess::{to_int8, GrayImage};

/// A model file ready to run on the engine.
#[derive(Debug, Clone)]
pub struct Int8Encoder {
    path: PathBuf,
    bytes: Vec<u8>,
    kernels: Kernels,
    id: ModelId,
    input: InputSpec,
    scale: f32,
    dim: usize,
}

impl Int8Encoder {
    /// Reads and checks the model file at `path`.
    pub fn load(path: &Path) -> Result<Self, EdgeError> {
        let bytes = crate::error::read_file(path)?;
        Self::from_bytes(bytes, path)
    }

    /// Checks a model file's bytes: they decode ([`EdgeError::Format`]) and the engine prepares
    /// every layer ([`EdgeError::Engine`]). `path` names the file in errors.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self, EdgeError> {
        let model = Model::decode(&bytes).map_err(|source| EdgeError::Format {
            path: path.to_path_buf(),
            source,
        })?;
        let (id, input, scale) = (model.id(), model.input().clone(), model.embedding().scale);
        let dim = usize::from(model.embedding().dim);
        let mut arena = vec![0i8; siamedge_engine::needed_arena_bytes(&model)];
        Engine::with_kernels(&model, &mut arena, Kernels::Reference).map_err(|source| {
            EdgeError::Engine {
                path: path.to_path_buf(),
                source,
            }
        })?;
        drop(model);
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            kernels: Kernels::best(),
            id,
            input,
            scale,
            dim,
        })
    }

    /// The same model on `kernels` (all give the same bytes; for benchmarks and tests).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The kernels it runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The model id its embeddings carry.
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// The input spec (size, normalization, quantization).
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// Embedding length `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The decoded model (the bytes were checked at load).
    pub fn model(&self) -> Result<Model<'_>, EdgeError> {
        Model::decode(&self.bytes).map_err(|source| EdgeError::Format {
            path: self.path.clone(),
            source,
        })
    }

    /// The engine on this model in `arena` (resized to what the kernels need; reuse one arena
    /// for many sessions). Prepare once, then `run` it per input.
    pub fn engine<'s>(&'s self, arena: &'s mut Vec<i8>) -> Result<Engine<'s, 's>, EdgeError> {
        let model = self.model()?;
        arena.clear();
        arena.resize(self.kernels.arena_bytes(&model), 0);
        Engine::with_kernels(&model, arena, self.kernels).map_err(|source| EdgeError::Engine {
            path: self.path.clone(),
            source,
        })
    }

    /// The int8 embedding of one input tensor (`height * width * channels` int8, NHWC).
    pub fn embed(&self, input: &[i8]) -> Result<Embedding, EdgeError> {
        let mut arena = Vec::new();
        let mut engine = self.engine(&mut arena)?;
        let out = engine.run(input).map_err(|source| EdgeError::Engine {
            path: self.path.clone(),
            source,
        })?;
        self.embedding(out)
    }

    /// The int8 embedding of a decoded grey image through the one preprocessing contract;
    /// `path` names the image in errors.
    pub fn embed_image(&self, img: &GrayImage, path: &Path) -> Result<Embedding, EdgeError> {
        self.embed(&to_int8(img, &self.input, path)?)
    }

    /// An engine output (`dim` int8 values) as an embedding of this model.
    pub fn embedding(&self, values: &[i8]) -> Result<Embedding, EdgeError> {
        Embedding::new(self.id, self.scale, values).map_err(|source| EdgeError::Format {
            path: self.path.clone(),
            source,
        })
    }
}
