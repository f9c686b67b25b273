//! The name of a model: the first 16 bytes of SHA-256 over its body.
//!
//! Embeddings, templates and galleries carry the id of the model that made them, so that data
//! from two different models is never compared (it would give a silent wrong answer). Two model
//! files with the same body bytes have the same id; any change of weights, thresholds or metadata
//! gives a new one.

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// 16-byte model id (128 bits of SHA-256). On the wire: 16 raw bytes. Displayed as 32 lowercase
/// hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModelId(pub [u8; 16]);

impl ModelId {
    /// Length of an id in bytes.
    pub const LEN: usize = 16;

    /// The id of a model whose body (the model payload after the id, see the crate README) is
    /// `body`.
    pub fn digest(body: &[u8]) -> Self {
        let hash = Sha256::digest(body);
        let mut id = [0u8; 16];
        for (dst, src) in id.iter_mut().zip(hash.iter()) {
            *dst = *src;
        }
        Self(id)
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
    }
}
