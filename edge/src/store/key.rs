//! [`StoreKey`]: the 32-byte key a store's templates are sealed under, and [`OsKeys`], the
//! host's [`KeyProvider`] over it with nonces from the operating system (`getrandom`).
//!
//! A key comes from a file holding 32 raw bytes or 64 hex characters (surrounding whitespace
//! ignored), or from the `SIAMEDGE_KEY` environment variable (64 hex characters). It is wiped
//! from memory on drop and never printed (`Debug` shows `StoreKey(..)`).

use std::fmt;
use std::path::Path;

use siamedge_format::seal::{KeyError, KeyProvider, KEY_LEN, NONCE_LEN};
use zeroize::{Zeroize, Zeroizing};

use super::StoreError;

/// The environment variable a store key can come from (64 hex characters).
pub const KEY_ENV: &str = "SIAMEDGE_KEY";

/// A 32-byte store key (see the module docs). Wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; KEY_LEN]);

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh random key from the OS.
    pub fn generate() -> Result<Self, StoreError> {
        let mut k = [0u8; KEY_LEN];
        getrandom::fill(&mut k).map_err(|e| StoreError::BadKey {
            source_name: "the OS random source".into(),
            reason: e.to_string(),
        })?;
        Ok(Self(k))
    }

    /// The key as 64 lowercase hex characters (to write a key file).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// Parses 64 hex characters (surrounding whitespace ignored); `source_name` names where
    /// they came from in the error.
    pub fn from_hex(text: &str, source_name: &str) -> Result<Self, StoreError> {
        let t = text.trim();
        let bad = |reason: String| StoreError::BadKey {
            source_name: source_name.to_string(),
            reason,
        };
        if t.len() != 2 * KEY_LEN {
            return Err(bad(format!(
                "{} characters, expected {} hex characters",
                t.len(),
                2 * KEY_LEN
            )));
        }
        let mut k = [0u8; KEY_LEN];
        hex::decode_to_slice(t, &mut k).map_err(|e| bad(format!("not hex: {e}")))?;
        Ok(Self(k))
    }

    /// Reads a key file: exactly 32 raw bytes, or 64 hex characters.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            what: "reading the key file",
            source,
        })?);
        if bytes.len() == KEY_LEN {
            let mut k = [0u8; KEY_LEN];
            k.copy_from_slice(&bytes);
            return Ok(Self(k));
        }
        let name = path.display().to_string();
        let text = std::str::from_utf8(&bytes).map_err(|_| StoreError::BadKey {
            source_name: name.clone(),
            reason: format!(
                "{} bytes: neither {KEY_LEN} raw bytes nor {} hex characters",
                bytes.len(),
                2 * KEY_LEN
            ),
        })?;
        Self::from_hex(text, &name)
    }

    /// The key in `SIAMEDGE_KEY`, or `None` when the variable is not set.
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        match std::env::var(KEY_ENV) {
            Ok(v) => {
                let v = Zeroizing::new(v);
                Self::from_hex(&v, KEY_ENV).map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::BadKey {
                source_name: KEY_ENV.into(),
                reason: "not UTF-8".into(),
            }),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// The host's [`KeyProvider`]: a [`StoreKey`] and nonces from the OS random source.
#[derive(Debug, Clone)]
pub struct OsKeys(pub StoreKey);

impl KeyProvider for OsKeys {
    fn key(&mut self, key: &mut [u8; KEY_LEN]) -> Result<(), KeyError> {
        *key = *self.0.bytes();
        Ok(())
    }

    fn nonce(&mut self, nonce: &mut [u8; NONCE_LEN]) -> Result<(), KeyError> {
        getrandom::fill(nonce).map_err(|_| KeyError::EntropyUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_raw_files_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let k = StoreKey::from_hex(&format!(" {hex_key}\n"), "t").unwrap();
        assert_eq!(k.bytes()[1], 0x11);
        assert_eq!(k.to_hex().as_str(), hex_key);
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        assert_eq!(StoreKey::from_file(&raw).unwrap().bytes(), &[7u8; 32]);
        let text = dir.path().join("hex.key");
        std::fs::write(&text, format!("{hex_key}\n")).unwrap();
        assert_eq!(StoreKey::from_file(&text).unwrap(), k);
        let short = dir.path().join("short.key");
        std::fs::write(&short, "abcd").unwrap();
        let e = StoreKey::from_file(&short).unwrap_err().to_string();
        assert!(e.contains("short.key") && e.contains("4 characters"), "{e}");
        let e = StoreKey::from_hex(&"zz".repeat(32), "SIAMEDGE_KEY")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SIAMEDGE_KEY") && e.contains("not hex"), "{e}");
        let missing = StoreKey::from_file(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("none"), "{missing}");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let k = StoreKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{k:?}"), "StoreKey(..)");
        assert_eq!(format!("{:?}", OsKeys(k)), "OsKeys(StoreKey(..))");
    }

    #[test]
    fn os_nonces_differ() {
        let mut keys = OsKeys(StoreKey::from_bytes([1; 32]));
        let (mut a, mut b) = ([0u8; NONCE_LEN], [0u8; NONCE_LEN]);
        keys.nonce(&mut a).unwrap();
        keys.nonce(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
