//! Encryption at rest: the [`KeyProvider`] that holds the device's template key and its nonce
//! source, and ChaCha20-Poly1305 sealing of a buffer in place.
//!
//! **Key.** 32 bytes from [`KeyProvider::key`], fetched for each seal or open and wiped from the
//! stack afterwards (the cipher wipes its own copy on drop). On real hardware it is a
//! device-unique secret: read from OTP or a key slot, or derived from one (e.g. HKDF over a
//! fused secret and the chip's unique id); never the unique id alone, which is readable.
//!
//! **Nonce: random, from the provider's TRNG, stored with the record.** A counter would need a
//! persistent, monotonic value that never repeats across power loss: kept in the same flash it
//! costs a second write per operation, and a counter rebuilt at boot as "largest nonce seen + 1"
//! repeats the nonce of a deleted or half-written record, whose ciphertext may still be on the
//! flash, and a repeated ChaCha20 nonce leaks the XOR of two plaintexts. A 96-bit random nonce
//! has no state to lose; with `n` records ever written the chance of any repeat is below
//! `n^2 / 2^97`, under `2^-57` for twenty million writes (more than the flash's erase endurance
//! allows for a template store of any size).
//!
//! **Associated data** binds the record to its place: a domain tag, the record version, the
//! subject id (the store key) and the model id (in the record header). Moving a record to another
//! subject, or editing its model id, fails authentication like a flipped ciphertext bit does.
//!
//! Not covered: rollback. A person who can write the flash can put back an older, genuine record
//! (or a whole older flash image); that needs a monotonic counter outside this flash (OTP bits,
//! a secure element), which this module does not assume.

use core::fmt;

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use siamedge_format::ModelId;
use zeroize::Zeroize;

/// Key length of ChaCha20-Poly1305, in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length of ChaCha20-Poly1305, in bytes.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length, in bytes.
pub const TAG_LEN: usize = 16;

/// Domain tag at the start of the associated data.
const AD_DOMAIN: &[u8; 4] = b"SEtr";
/// Length of the associated data: domain, version, subject, model.
pub(crate) const AD_LEN: usize = 4 + 1 + 4 + ModelId::LEN;

/// Why a key provider could not serve a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The template key cannot be read (key slot locked, OTP not programmed).
    KeyUnavailable,
    /// The random source failed (TRNG seed or clock error).
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

/// Where the template store gets its key and nonces.
///
/// Implement it over the device's key storage and TRNG. [`FixedKeys`] is a deterministic
/// implementation for host tests and emulators only.
pub trait KeyProvider {
    /// Writes the 32-byte template key into `key`. The same device must always give the same
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

/// The associated data of a record: domain tag, `version`, `subject` (LE), `model`.
pub(crate) fn associated_data(version: u8, subject: u32, model: &ModelId) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    ad[..4].copy_from_slice(AD_DOMAIN);
    ad[4] = version;
    ad[5..9].copy_from_slice(&subject.to_le_bytes());
    ad[9..].copy_from_slice(&model.0);
    ad
}

fn cipher<K: KeyProvider>(keys: &mut K) -> Result<ChaCha20Poly1305, KeyError> {
    let mut key = [0u8; KEY_LEN];
    let got = keys.key(&mut key);
    let cipher = got.map(|()| ChaCha20Poly1305::new(&key.into()));
    key.zeroize();
    cipher
}

/// Encrypts `buf` in place under the provider's key and `nonce`, authenticating `ad` too, and
/// returns the tag.
pub(crate) fn seal_in_place<K: KeyProvider>(
    keys: &mut K,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], SealError> {
    let cipher = cipher(keys).map_err(SealError::Key)?;
    let tag = cipher
        .encrypt_in_place_detached(nonce.into(), ad, buf)
        .map_err(|_| SealError::Aead)?;
    Ok(tag.into())
}

/// Checks `tag` over `ad` and the ciphertext in `buf`, then decrypts `buf` in place. On an
/// authentication failure `buf` is left as ciphertext and the error is [`SealError::Aead`].
pub(crate) fn open_in_place<K: KeyProvider>(
    keys: &mut K,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), SealError> {
    let cipher = cipher(keys).map_err(SealError::Key)?;
    cipher
        .decrypt_in_place_detached(nonce.into(), ad, buf, tag.into())
        .map_err(|_| SealError::Aead)
}

/// Why sealing or opening failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealError {
    /// The key provider failed.
    Key(KeyError),
    /// Authentication failed (open), or the buffer is longer than ChaCha20 allows (seal).
    Aead,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [0x42; KEY_LEN];

    #[test]
    fn seal_then_open_round_trips_and_detects_changes() {
        let mut keys = FixedKeys::new(KEY, 1);
        let mut nonce = [0u8; NONCE_LEN];
        keys.nonce(&mut nonce).unwrap();
        let ad = associated_data(1, 7, &ModelId([3; 16]));
        let plain = *b"template bytes, any length";
        let mut buf = plain;
        let tag = seal_in_place(&mut keys, &nonce, &ad, &mut buf).unwrap();
        assert_ne!(buf, plain);
        let sealed = buf;
        open_in_place(&mut keys, &nonce, &ad, &mut buf, &tag).unwrap();
        assert_eq!(buf, plain);

        // Any change of ciphertext, tag, nonce, subject or model is rejected.
        let mut flipped = sealed;
        flipped[5] ^= 1;
        assert_eq!(
            open_in_place(&mut keys, &nonce, &ad, &mut flipped, &tag),
            Err(SealError::Aead)
        );
        let mut bad_tag = tag;
        bad_tag[0] ^= 0x80;
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut keys, &nonce, &ad, &mut b, &bad_tag),
            Err(SealError::Aead)
        );
        let mut other_nonce = nonce;
        other_nonce[11] ^= 1;
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut keys, &other_nonce, &ad, &mut b, &tag),
            Err(SealError::Aead)
        );
        for other_ad in [
            associated_data(1, 8, &ModelId([3; 16])),
            associated_data(1, 7, &ModelId([4; 16])),
            associated_data(2, 7, &ModelId([3; 16])),
        ] {
            let mut b = sealed;
            assert_eq!(
                open_in_place(&mut keys, &nonce, &other_ad, &mut b, &tag),
                Err(SealError::Aead)
            );
        }
        let mut wrong_key = FixedKeys::new([0x43; KEY_LEN], 1);
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut wrong_key, &nonce, &ad, &mut b, &tag),
            Err(SealError::Aead)
        );
    }

    #[test]
    fn fixed_keys_give_distinct_nonces() {
        let mut keys = FixedKeys::new(KEY, 9);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let mut n = [0u8; NONCE_LEN];
            keys.nonce(&mut n).unwrap();
            assert!(seen.insert(n));
        }
    }

    /// RFC 8439 section 2.8.2 test vector: the AEAD this module uses is the standard one.
    #[test]
    fn rfc8439_vector() {
        struct K;
        impl KeyProvider for K {
            fn key(&mut self, key: &mut [u8; KEY_LEN]) -> Result<(), KeyError> {
                for (i, k) in key.iter_mut().enumerate() {
                    *k = 0x80 + i as u8;
                }
                Ok(())
            }
            fn nonce(&mut self, _: &mut [u8; NONCE_LEN]) -> Result<(), KeyError> {
                Err(KeyError::EntropyUnavailable)
            }
        }
        let nonce = [
            0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
        ];
        let ad = [
            0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
        ];
        let mut buf = *b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let tag = seal_in_place(&mut K, &nonce, &ad, &mut buf).unwrap();
        assert_eq!(&buf[..8], &[0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb]);
        assert_eq!(
            tag,
            [
                0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60,
                0x06, 0x91
            ]
        );
    }
}
