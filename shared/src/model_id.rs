//! The name of a model: the first 16 bytes of SHA-256 over its body, without its operating
//! points (model format version 2; version 1 hashed the whole body).
//!
//! Embeddings, templates and galleries carry the id of the model that made them, so that data
//! from two different models is never compared (it would give a silent wrong answer). Any change
//! of weights, graph, input, embedding or metric gives a new id; since version 2 a change of
//! thresholds (the decision section) keeps it, so recalibrating a model orphans no template and
//! keeps its ONNX files paired. Which bytes are hashed: [`ModelId::of_model_body`].

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::FormatError;

/// 16-byte model id (128 bits of SHA-256). On the wire: 16 raw bytes. Displayed as 32 lowercase
/// hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModelId(pub [u8; 16]);

impl ModelId {
    /// Length of an id in bytes.
    pub const LEN: usize = 16;

    /// The first 16 bytes of SHA-256 over `bytes`: the id of a version-1 model whose body (the
    /// model payload after the id, see the crate README) is `bytes`. For a model of any version
    /// use [`ModelId::of_model_body`].
    pub fn digest(bytes: &[u8]) -> Self {
        Self::digest_parts(&[bytes])
    }

    /// The first 16 bytes of SHA-256 over the concatenation of `parts`.
    pub fn digest_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        let hash = hasher.finalize();
        let mut id = [0u8; 16];
        for (dst, src) in id.iter_mut().zip(hash.iter()) {
            *dst = *src;
        }
        Self(id)
    }

    /// The id of a model file of format `version` whose body (payload after the id) is `body`:
    /// version 1 hashes the whole body, version 2 the body without the decision section
    /// (operating points). The writer and the decoder use this; so should anything that builds or
    /// re-seals model bytes by hand. Errors: [`FormatError::UnsupportedVersion`], or for version 2
    /// a body whose fields up to the end of the decision section cannot be read.
    pub fn of_model_body(version: u16, body: &[u8]) -> Result<Self, FormatError> {
        crate::model::body_id(version, body)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::string::ToString;

    #[test]
    fn digest_is_sha256_prefix() {
        // python3 -c 'import hashlib; print(hashlib.sha256(b"abc").hexdigest()[:32])'
        assert_eq!(
            ModelId::digest(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223"
        );
        assert_eq!(
            ModelId::digest_parts(&[b"a", b"", b"bc"]),
            ModelId::digest(b"abc")
        );
    }
}
