//! The kinds of siamedge file, each with its magic and format version: the one home of
//! [`FileKind`], which the [`envelope`](crate::envelope) writes and reads and every
//! [`FormatError`](crate::FormatError) names.

use core::fmt;

/// The kinds of siamedge file. Each has its own magic and its own format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// An int8 encoder with its input, embedding, metric and decision specs ([`crate::Model`]).
    Model,
    /// One int8 embedding ([`crate::Embedding`]).
    Embedding,
    /// An enrolled subject: one to eight embeddings ([`crate::Template`]).
    Template,
    /// Many templates of one model (`Gallery`, needs the `alloc` feature).
    Gallery,
    /// A model made of float ONNX networks around the face alignment: the networks' SHA-256, the
    /// alignment, the embedding, metric and decision specs ([`crate::pipeline::Pipeline`]).
    Pipeline,
}

impl FileKind {
    /// Every kind, in magic order.
    pub const ALL: [FileKind; 5] = [
        FileKind::Model,
        FileKind::Embedding,
        FileKind::Template,
        FileKind::Gallery,
        FileKind::Pipeline,
    ];

    /// The four bytes a file of this kind starts with.
    pub const fn magic(self) -> [u8; 4] {
        match self {
            FileKind::Model => *b"SGMD",
            FileKind::Embedding => *b"SGEM",
            FileKind::Template => *b"SGTP",
            FileKind::Gallery => *b"SGGL",
            FileKind::Pipeline => *b"SGPL",
        }
    }

    /// The newest format version this crate reads and writes. Models are at 3 (version 2: the id
    /// leaves the operating points out, see [`crate::model_id`]; version 3: flip averaging, see
    /// [`crate::EmbeddingSpec::flip_average`]), and a model file is written at the lowest version
    /// that holds it (2 without flip averaging); the other kinds are at 1.
    pub const fn version(self) -> u16 {
        match self {
            FileKind::Model => 3,
            FileKind::Embedding | FileKind::Template | FileKind::Gallery | FileKind::Pipeline => 1,
        }
    }

    /// The kind whose magic is `magic`, if any.
    pub fn from_magic(magic: [u8; 4]) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.magic() == magic)
    }

    /// Lowercase name: `"model"`, `"embedding"`, `"template"`, `"gallery"`, `"pipeline"`.
    pub const fn name(self) -> &'static str {
        match self {
            FileKind::Model => "model",
            FileKind::Embedding => "embedding",
            FileKind::Template => "template",
            FileKind::Gallery => "gallery",
            FileKind::Pipeline => "pipeline",
        }
    }

    /// What the indexed items of this kind are called in error messages.
    pub(crate) const fn item_name(self) -> &'static str {
        match self {
            FileKind::Model => "layer",
            FileKind::Embedding => "value",
            FileKind::Template => "embedding",
            FileKind::Gallery => "template",
            FileKind::Pipeline => "network",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
