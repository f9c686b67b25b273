//! ChaCha20-Poly1305 (RFC 8439) over a buffer in place, and the associated data of a record.
//!
//! **Associated data** binds a record to its place: a domain tag (`b"SEtr"`), the record version,
//! the subject id (the store's key for the record, little-endian) and the model id (in the
//! record's clear header). Moving a record to another subject, or editing its model id, fails
//! authentication like a flipped ciphertext bit does.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use zeroize::Zeroize;

use super::keys::{KeyError, KeyProvider, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::model_id::ModelId;

/// Domain tag at the start of the associated data.
const AD_DOMAIN: &[u8; 4] = b"SEtr";
/// Length of the associated data: domain (4), version (1), subject (4), model (16).
pub const AD_LEN: usize = 4 + 1 + 4 + ModelId::LEN;

/// The associated data of a record: domain tag, `version`, `subject` (LE), `model`.
pub fn associated_data(version: u8, subject: u32, model: &ModelId) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    ad[..4].copy_from_slice(AD_DOMAIN);
    ad[4] = version;
    ad[5..9].copy_from_slice(&subject.to_le_bytes());
    ad[9..].copy_from_slice(&model.0);
    ad
}

/// Why [`seal_in_place`] or [`open_in_place`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The key provider failed.
    Key(KeyError),
    /// Authentication failed (open), or the buffer is longer than ChaCha20 allows (seal).
    Aead,
}

fn cipher<K: KeyProvider>(keys: &mut K) -> Result<ChaCha20Poly1305, KeyError> {
    let mut key = [0u8; KEY_LEN];
    let got = keys.key(&mut key);
    let cipher = got.map(|()| ChaCha20Poly1305::new(&key.into()));
    key.zeroize();
    cipher
}

/// Encrypts `buf` in place under the provider's key and `nonce`, authenticating `ad` too, and
/// returns the 16-byte tag.
pub fn seal_in_place<K: KeyProvider>(
    keys: &mut K,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError> {
    let cipher = cipher(keys).map_err(AeadError::Key)?;
    let tag = cipher
        .encrypt_in_place_detached(nonce.into(), ad, buf)
        .map_err(|_| AeadError::Aead)?;
    Ok(tag.into())
}

/// Checks `tag` over `ad` and the ciphertext in `buf`, then decrypts `buf` in place. On an
/// authentication failure `buf` is left as ciphertext and the error is [`AeadError::Aead`].
pub fn open_in_place<K: KeyProvider>(
    keys: &mut K,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError> {
    let cipher = cipher(keys).map_err(AeadError::Key)?;
    cipher
        .decrypt_in_place_detached(nonce.into(), ad, buf, tag.into())
        .map_err(|_| AeadError::Aead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::keys::FixedKeys;

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
            Err(AeadError::Aead)
        );
        let mut bad_tag = tag;
        bad_tag[0] ^= 0x80;
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut keys, &nonce, &ad, &mut b, &bad_tag),
            Err(AeadError::Aead)
        );
        let mut other_nonce = nonce;
        other_nonce[11] ^= 1;
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut keys, &other_nonce, &ad, &mut b, &tag),
            Err(AeadError::Aead)
        );
        for other_ad in [
            associated_data(1, 8, &ModelId([3; 16])),
            associated_data(1, 7, &ModelId([4; 16])),
            associated_data(2, 7, &ModelId([3; 16])),
        ] {
            let mut b = sealed;
            assert_eq!(
                open_in_place(&mut keys, &nonce, &other_ad, &mut b, &tag),
                Err(AeadError::Aead)
            );
        }
        let mut wrong_key = FixedKeys::new([0x43; KEY_LEN], 1);
        let mut b = sealed;
        assert_eq!(
            open_in_place(&mut wrong_key, &nonce, &ad, &mut b, &tag),
            Err(AeadError::Aead)
        );
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
