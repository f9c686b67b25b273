//! Where a sealer gets its key and nonces: [`KeyProvider`], and [`FixedKeys`] for tests.
//!
//! **Key.** 32 bytes from [`KeyProvider::key`], fetched for each seal or open and wiped from the
//! stack afterwards (the cipher wipes its own copy on drop). On a device it is a device-unique
//! secret: read from OTP or a key slot, or derived from one (e.g. HKDF over a fused secret and the
//! chip's unique id); never the unique id alone, which is readable. On a Linux host it is a key
//! file or an environment variable (the edge's `StoreKey`).
//!
//! **Nonce: random, from the provider's random source, stored with the record.** A counter would
//! need a persistent, monotonic value that never repeats across power loss: kept in the same
//! storage it costs a second write per operation, and a counter rebuilt at boot as "largest nonce
//! seen + 1" repeats the nonce of a deleted or half-written record, whose ciphertext may still be
//! on the storage, and a repeated ChaCha20 nonce leaks the XOR of two plaintexts. A 96-bit random
//! nonce has no state to lose; with `n` records ever written the chance of any repeat is below
//! `n^2 / 2^97`, under `2^-57` for twenty million writes.

use core::fmt;

/// Key length of ChaCha20-Poly1305, in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length of ChaCha20-Poly1305, in bytes.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length, in bytes.
pub const TAG_LEN: usize = 16;

/// Why a key provider could not serve a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The template key cannot be read (key slot locked, OTP not programmed).
    KeyUnavailable,
    /// The random source failed (TRNG seed or clock error, or the OS refused).
    EntropyUnavailable,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyUnavailable => write!(f, "template key unavailable"),
            Self::EntropyUnavailable => write!(f, "random source failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KeyError {}

/// Where a sealer gets its key and nonces.
///
/// Implement it over the device's key storage and random source. [`FixedKeys`] is a
/// deterministic implementation for host tests and emulators only.
pub trait KeyProvider {
    /// Writes the 32-byte template key into `key`. The same store must always get the same
    /// key: records sealed under another key fail authentication.
    fn key(&mut self, key: &mut [u8; KEY_LEN]) -> Result<(), KeyError>;

    /// Fills `nonce` with 12 fresh random bytes from a cryptographic random source.
    fn nonce(&mut self, nonce: &mut [u8; NONCE_LEN]) -> Result<(), KeyError>;
}

impl<K: KeyProvider + ?Sized> KeyProvider for &mut K {
    fn key(&mut self, key: &mut [u8; KEY_LEN]) -> Result<(), KeyError> {
        (**self).key(key)
    }

    fn nonce(&mut self, nonce: &mut [u8; NONCE_LEN]) -> Result<(), KeyError> {
        (**self).nonce(nonce)
    }
}

/// A fixed key and a deterministic nonce sequence (SplitMix64 from `seed`): **for host tests
/// and emulators only**. The key is in the binary and the nonces repeat whenever the same seed
/// is used again (every boot), so it protects nothing on a real device.
#[derive(Clone)]
pub struct FixedKeys {
    key: [u8; KEY_LEN],
    state: u64,
}

impl FixedKeys {
    /// A provider with `key` whose nonces follow from `seed`.
    pub const fn new(key: [u8; KEY_LEN], seed: u64) -> Self {
        Self { key, state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        // SplitMix64 (Steele, Lea, Flood 2014).
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl fmt::Debug for FixedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedKeys").finish_non_exhaustive()
    }
}

impl KeyProvider for FixedKeys {
    fn key(&mut self, key: &mut [u8; KEY_LEN]) -> Result<(), KeyError> {
        *key = self.key;
        Ok(())
    }

    fn nonce(&mut self, nonce: &mut [u8; NONCE_LEN]) -> Result<(), KeyError> {
        let a = self.next_u64().to_le_bytes();
        let b = self.next_u64().to_le_bytes();
        nonce[..8].copy_from_slice(&a);
        nonce[8..].copy_from_slice(&b[..4]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_keys_give_distinct_nonces() {
        let mut keys = FixedKeys::new([0x42; KEY_LEN], 9);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let mut n = [0u8; NONCE_LEN];
            keys.nonce(&mut n).unwrap();
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn fixed_keys_debug_hides_the_key() {
        let s = format!("{:?}", FixedKeys::new([0x42; KEY_LEN], 1));
        assert_eq!(s, "FixedKeys { .. }");
    }
}
