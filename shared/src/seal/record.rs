//! The sealed record: what a template store keeps for one subject.
//!
//! Layout (all lengths in bytes):
//!
//! | offset      | len | field                                                        |
//! |-------------|-----|--------------------------------------------------------------|
//! | 0           | 1   | `version` ([`RECORD_VERSION`])                               |
//! | 1           | 16  | `model`: the template's model id, in clear, authenticated    |
//! | 17          | 12  | `nonce`: random, from the key provider                       |
//! | 29          | n   | `ciphertext`: the `siamedge-format` template file, encrypted |
//! | 29 + n      | 16  | `tag`: Poly1305 over the associated data and the ciphertext  |
//!
//! The subject id is not in the record: it is the store's key for the record, bound through the
//! associated data (see [`super::aead`]). The model id is in clear so that a store can list it
//! without the key; only [`open`] (which authenticates) makes it trustworthy. `n` is the template
//! file's length (ChaCha20 keeps lengths).

use zeroize::Zeroize;

use super::aead::{self, AeadError};
use super::error::SealError;
use super::keys::{KeyProvider, NONCE_LEN, TAG_LEN};
use crate::model_id::ModelId;
use crate::template::Template;

/// The record format version this module writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Bytes before the ciphertext: version, model id, nonce.
pub const RECORD_HEADER_LEN: usize = 1 + ModelId::LEN + NONCE_LEN;
/// Bytes a record adds to the encoded template: header and tag (45).
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + TAG_LEN;
/// Longest record: the longest template file plus [`RECORD_OVERHEAD`].
pub const MAX_RECORD_LEN: usize = Template::MAX_ENCODED_LEN + RECORD_OVERHEAD;

const MODEL: core::ops::Range<usize> = 1..1 + ModelId::LEN;
const NONCE: core::ops::Range<usize> = MODEL.end..MODEL.end + NONCE_LEN;

/// What a record says in clear, before authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The model id in the header (unauthenticated until the record is opened).
    pub model: ModelId,
    /// The record's length in bytes.
    pub len: usize,
}

/// Reads the clear header of `record`, stored under `subject`.
pub fn peek(subject: u32, record: &[u8]) -> Result<RecordHeader, SealError> {
    if record.len() <= RECORD_OVERHEAD {
        return Err(SealError::BadRecord {
            subject,
            field: "length",
            value: record.len() as u64,
        });
    }
    if record[0] != RECORD_VERSION {
        return Err(SealError::BadRecord {
            subject,
            field: "version",
            value: u64::from(record[0]),
        });
    }
    let mut model = [0u8; ModelId::LEN];
    model.copy_from_slice(&record[MODEL]);
    Ok(RecordHeader {
        model: ModelId(model),
        len: record.len(),
    })
}

/// Seals `template` into `buf` (at least [`MAX_RECORD_LEN`] bytes suffice) and returns the
/// record's length. The template's subject id is the record's key.
pub fn seal<K: KeyProvider>(
    template: &Template,
    keys: &mut K,
    buf: &mut [u8],
) -> Result<usize, SealError> {
    let subject = template.subject();
    let Some((header, body)) = buf.split_at_mut_checked(RECORD_HEADER_LEN) else {
        return Err(SealError::Buffer {
            what: "record buffer shorter than the record header",
        });
    };
    let room = body.len().saturating_sub(TAG_LEN);
    let plain_len = template
        .encode_to_slice(&mut body[..room])
        .map_err(|error| SealError::Template { subject, error })?
        .len();
    let model = template.model();
    let mut nonce = [0u8; NONCE_LEN];
    keys.nonce(&mut nonce)?;
    header[0] = RECORD_VERSION;
    header[MODEL].copy_from_slice(&model.0);
    header[NONCE].copy_from_slice(&nonce);
    let ad = aead::associated_data(RECORD_VERSION, subject, &model);
    let (ciphertext, rest) = body.split_at_mut(plain_len);
    let tag = aead::seal_in_place(keys, &nonce, &ad, ciphertext).map_err(|e| match e {
        AeadError::Key(k) => SealError::Key(k),
        AeadError::Aead => SealError::Buffer {
            what: "template longer than ChaCha20 encrypts",
        },
    })?;
    rest[..TAG_LEN].copy_from_slice(&tag);
    Ok(RECORD_HEADER_LEN + plain_len + TAG_LEN)
}

/// Authenticates `record` (stored under `subject`) and decodes its template, using `scratch`
/// (at least `record.len()` bytes) for the in-place decryption; the plaintext is wiped from
/// `scratch` before returning. A record that fails authentication is [`SealError::Tampered`].
pub fn open<K: KeyProvider>(
    subject: u32,
    record: &[u8],
    keys: &mut K,
    scratch: &mut [u8],
) -> Result<Template, SealError> {
    let header = peek(subject, record)?;
    let body_len = record.len() - RECORD_OVERHEAD;
    let Some(plain) = scratch.get_mut(..body_len) else {
        return Err(SealError::Buffer {
            what: "scratch buffer shorter than the record",
        });
    };
    plain.copy_from_slice(&record[RECORD_HEADER_LEN..RECORD_HEADER_LEN + body_len]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&record[NONCE]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&record[RECORD_HEADER_LEN + body_len..]);
    let ad = aead::associated_data(RECORD_VERSION, subject, &header.model);
    aead::open_in_place(keys, &nonce, &ad, plain, &tag).map_err(|e| match e {
        AeadError::Key(k) => SealError::Key(k),
        AeadError::Aead => SealError::Tampered { subject },
    })?;
    let decoded = Template::decode(plain);
    plain.zeroize();
    let template = decoded.map_err(|error| SealError::Template { subject, error })?;
    if template.subject() != subject {
        return Err(SealError::Mismatch {
            subject,
            field: "subject",
        });
    }
    if template.model() != header.model {
        return Err(SealError::Mismatch {
            subject,
            field: "model",
        });
    }
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::EmbeddingRef;
    use crate::seal::keys::FixedKeys;

    fn template(subject: u32) -> Template {
        let values = [1i8, -2, 3, -4, 5, -6, 7, -8];
        Template::new(
            subject,
            EmbeddingRef {
                model: ModelId([9; 16]),
                scale: 0.25,
                values: &values,
            },
        )
        .and_then(|t| t.with_label("ada"))
        .expect("valid template")
    }

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The record bytes the firmware's store wrote before this module moved here; reproduced
    /// independently with Python's `cryptography` (48.0):
    /// ```text
    /// from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305; import struct
    /// M=(1<<64)-1; s=5
    /// def nxt():  # SplitMix64, as FixedKeys
    ///     global s; s=(s+0x9e3779b97f4a7c15)&M; z=s
    ///     z=((z^(z>>30))*0xbf58476d1ce4e5b9)&M; z=((z^(z>>27))*0x94d049bb133111eb)&M; return z^(z>>31)
    /// nonce=struct.pack('<Q',nxt())+struct.pack('<Q',nxt())[:4]
    /// t=bytes.fromhex(TEMPLATE); ad=b"SEtr"+bytes([1])+struct.pack('<I',17)+bytes([9]*16)
    /// print((bytes([1]+[9]*16)+nonce+ChaCha20Poly1305(bytes([1]*32)).encrypt(nonce,t,ad)).hex())
    /// ```
    #[test]
    fn golden_record_bytes() {
        const TEMPLATE: &str = "5347545001002400000011036164610909090909090909090909090909090900010000803e0801fe03fc05fa07f801105528";
        const RECORD: &str = "01090909090909090909090909090909095ac389a30c3b0363f83697938bf77cdacf4f1b212a99b4cce5d6f4d5a3b662bfa5a3ba12707b291e9dd1c3c57fda959088d5cb6c273a94e8e1e3cc9ffc952575647cd51cbafe27ed69ca20b22d71";
        let t = template(17);
        assert_eq!(hex(&t.to_bytes().expect("encodes")), TEMPLATE);
        let mut keys = FixedKeys::new([1; 32], 5);
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal(&t, &mut keys, &mut buf).expect("seals");
        assert_eq!(hex(&buf[..len]), RECORD);
    }

    #[test]
    fn seal_open_round_trip_and_layout() -> Result<(), SealError> {
        let mut keys = FixedKeys::new([1; 32], 5);
        let t = template(17);
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal(&t, &mut keys, &mut buf)?;
        let encoded_len = t.encoded_len().expect("encodable");
        assert_eq!(len, encoded_len + RECORD_OVERHEAD);
        assert_eq!(RECORD_OVERHEAD, 45);
        assert_eq!(buf[0], RECORD_VERSION);
        assert_eq!(&buf[1..17], &[9u8; 16]);
        assert!(!buf[..len].windows(3).any(|w| w == b"ada"));
        assert_eq!(peek(17, &buf[..len])?.model, ModelId([9; 16]));
        let mut scratch = [0u8; MAX_RECORD_LEN];
        let back = open(17, &buf[..len], &mut keys, &mut scratch)?;
        assert_eq!(back, t);
        assert!(scratch.iter().all(|&b| b == 0), "plaintext wiped");
        // Under another subject, or with a flipped bit, it is Tampered.
        assert_eq!(
            open(18, &buf[..len], &mut keys, &mut scratch),
            Err(SealError::Tampered { subject: 18 })
        );
        buf[40] ^= 4;
        assert_eq!(
            open(17, &buf[..len], &mut keys, &mut scratch),
            Err(SealError::Tampered { subject: 17 })
        );
        Ok(())
    }

    #[test]
    fn malformed_records_and_small_buffers_are_typed_errors() {
        let mut keys = FixedKeys::new([1; 32], 5);
        let mut scratch = [0u8; MAX_RECORD_LEN];
        let short = [RECORD_VERSION; RECORD_OVERHEAD];
        assert_eq!(
            open(3, &short, &mut keys, &mut scratch),
            Err(SealError::BadRecord {
                subject: 3,
                field: "length",
                value: RECORD_OVERHEAD as u64
            })
        );
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal(&template(3), &mut keys, &mut buf).expect("seals");
        let mut v2 = buf;
        v2[0] = 2;
        assert_eq!(
            open(3, &v2[..len], &mut keys, &mut scratch),
            Err(SealError::BadRecord {
                subject: 3,
                field: "version",
                value: 2
            })
        );
        for n in [0, 10, RECORD_HEADER_LEN, RECORD_HEADER_LEN + 20, 60] {
            let mut small = [0u8; 64];
            assert!(seal(&template(3), &mut keys, &mut small[..n]).is_err());
        }
        let mut tiny = [0u8; 8];
        assert!(matches!(
            open(3, &buf[..len], &mut keys, &mut tiny),
            Err(SealError::Buffer { .. })
        ));
    }
}
