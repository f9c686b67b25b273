//! What can go wrong when preparing or feeding the engine. Evaluation itself cannot fail.

use core::fmt;

use siamedge_format::FormatError;

/// An engine error: every variant names the values a person needs to act on it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EngineError {
    /// The arena is smaller than the model asks for (`max(model.arena_bytes(),
    /// model.min_arena_bytes())`), in bytes.
    ArenaTooSmall {
        /// Bytes the model needs.
        needed: usize,
        /// Bytes the arena has.
        available: usize,
    },
    /// An input (tensor or pixel buffer) has the wrong number of elements.
    InputLength {
        /// Elements the model's input has (`height * width * channels`).
        expected: usize,
        /// Elements given.
        found: usize,
    },
    /// A layer this engine does not run, and why.
    Unsupported {
        /// Index of the layer in the model.
        layer: usize,
        /// The layer's kind name (e.g. `"dense"`).
        kind: &'static str,
        /// What about it is not supported.
        reason: &'static str,
    },
    /// The model file did not decode (host helpers that take bytes).
    Model(FormatError),
    /// Host SIMD kernels were asked for an instruction set this CPU does not have.
    IsaUnavailable {
        /// The instruction set's name (e.g. `"avx2"`).
        isa: &'static str,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::ArenaTooSmall { needed, available } => write!(
                f,
                "the model needs an arena of {needed} bytes, the arena has {available}"
            ),
            EngineError::InputLength { expected, found } => write!(
                f,
                "input has {found} elements, the model expects {expected}"
            ),
            EngineError::Unsupported {
                layer,
                kind,
                reason,
            } => write!(f, "layer {layer} ({kind}) is not supported: {reason}"),
            EngineError::Model(e) => write!(f, "model file: {e}"),
            EngineError::IsaUnavailable { isa } => {
                write!(f, "this CPU does not have the {isa} instructions")
            }
        }
    }
}

impl From<FormatError> for EngineError {
    fn from(e: FormatError) -> Self {
        EngineError::Model(e)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for EngineError {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            EngineError::ArenaTooSmall { needed, available } => defmt::write!(
                f,
                "the model needs an arena of {=usize} bytes, the arena has {=usize}",
                needed,
                available
            ),
            EngineError::InputLength { expected, found } => defmt::write!(
                f,
                "input has {=usize} elements, the model expects {=usize}",
                found,
                expected
            ),
            EngineError::Unsupported {
                layer,
                kind,
                reason,
            } => defmt::write!(
                f,
                "layer {=usize} ({=str}) is not supported: {=str}",
                layer,
                kind,
                reason
            ),
            EngineError::Model(e) => defmt::write!(f, "model file: {}", defmt::Display2Format(e)),
            EngineError::IsaUnavailable { isa } => {
                defmt::write!(f, "this CPU does not have the {=str} instructions", isa)
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Model(e) => Some(e),
            _ => None,
        }
    }
}
