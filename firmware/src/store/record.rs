//! The sealed record: what the store keeps on flash for one subject.
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
//! The subject id is not in the record: it is the store key, and it is bound through the
//! associated data (see [`super::crypto`]). The model id is in clear so that `list` can report
//! it without the key; only `get` (which authenticates) makes it trustworthy.

use siamedge_format::{ModelId, Template};
use zeroize::Zeroize;

use super::crypto::{self, KeyProvider, SealError, NONCE_LEN, TAG_LEN};
use super::error::StoreError;

/// The record format version this store writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Bytes before the ciphertext: version, model id, nonce.
pub const RECORD_HEADER_LEN: usize = 1 + ModelId::LEN + NONCE_LEN;
/// Bytes a record adds to the encoded template: header and tag.
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
pub fn peek<E>(subject: u32, record: &[u8]) -> Result<RecordHeader, StoreError<E>> {
    if record.len() <= RECORD_OVERHEAD {
        return Err(StoreError::BadRecord {
            subject,
            field: "length",
            value: record.len() as u64,
        });
    }
    if record[0] != RECORD_VERSION {
        return Err(StoreError::BadRecord {
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

/// Seals `template` into `buf` (at least [`MAX_RECORD_LEN`] bytes) and returns the record's
/// length. The template's subject id is the record's key.
pub fn seal<K: KeyProvider, E>(
    template: &Template,
    keys: &mut K,
    buf: &mut [u8],
) -> Result<usize, StoreError<E>> {
    let subject = template.subject();
    let Some((header, body)) = buf.split_at_mut_checked(RECORD_HEADER_LEN) else {
        return Err(StoreError::Internal {
            what: "record buffer shorter than the record header",
        });
    };
    let room = body.len().saturating_sub(TAG_LEN);
    let plain_len = template
        .encode_to_slice(&mut body[..room])
        .map_err(|error| StoreError::Template { subject, error })?
        .len();
    let model = template.model();
    let mut nonce = [0u8; NONCE_LEN];
    keys.nonce(&mut nonce)?;
    header[0] = RECORD_VERSION;
    header[MODEL].copy_from_slice(&model.0);
    header[NONCE].copy_from_slice(&nonce);
    let ad = crypto::associated_data(RECORD_VERSION, subject, &model);
    let (ciphertext, rest) = body.split_at_mut(plain_len);
    let tag = crypto::seal_in_place(keys, &nonce, &ad, ciphertext).map_err(|e| match e {
        SealError::Key(k) => StoreError::Key(k),
        SealError::Aead => StoreError::Internal {
            what: "template longer than ChaCha20 encrypts",
        },
    })?;
    rest[..TAG_LEN].copy_from_slice(&tag);
    Ok(RECORD_HEADER_LEN + plain_len + TAG_LEN)
}

/// Authenticates `record` (stored under `subject`) and decodes its template, using `scratch`
/// (at least `record.len()` bytes) for the in-place decryption; the plaintext is wiped from
/// `scratch` before returning. A record that fails authentication is [`StoreError::Tampered`].
pub fn open<K: KeyProvider, E>(
    subject: u32,
    record: &[u8],
    keys: &mut K,
    scratch: &mut [u8],
) -> Result<Template, StoreError<E>> {
    let header = peek(subject, record)?;
    let body_len = record.len() - RECORD_OVERHEAD;
    let Some(plain) = scratch.get_mut(..body_len) else {
        return Err(StoreError::Internal {
            what: "scratch buffer shorter than the record",
        });
    };
    plain.copy_from_slice(&record[RECORD_HEADER_LEN..RECORD_HEADER_LEN + body_len]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&record[NONCE]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&record[RECORD_HEADER_LEN + body_len..]);
    let ad = crypto::associated_data(RECORD_VERSION, subject, &header.model);
    crypto::open_in_place(keys, &nonce, &ad, plain, &tag).map_err(|e| match e {
        SealError::Key(k) => StoreError::Key(k),
        SealError::Aead => StoreError::Tampered { subject },
    })?;
    let decoded = Template::decode(plain);
    plain.zeroize();
    let template = decoded.map_err(|error| StoreError::Template { subject, error })?;
    if template.subject() != subject {
        return Err(StoreError::Mismatch {
            subject,
            field: "subject",
        });
    }
    if template.model() != header.model {
        return Err(StoreError::Mismatch {
            subject,
            field: "model",
        });
    }
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::crypto::FixedKeys;
    use siamedge_format::EmbeddingRef;

    type E = StoreError<()>;

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

    #[test]
    fn seal_open_round_trip_and_layout() -> Result<(), E> {
        let mut keys = FixedKeys::new([1; 32], 5);
        let t = template(17);
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal::<_, ()>(&t, &mut keys, &mut buf)?;
        let encoded_len = t.encoded_len().expect("encodable");
        assert_eq!(len, encoded_len + RECORD_OVERHEAD);
        assert_eq!(RECORD_OVERHEAD, 45);
        assert_eq!(buf[0], RECORD_VERSION);
        assert_eq!(&buf[1..17], &[9u8; 16]);
        // The label is not readable in the sealed record.
        assert!(!buf[..len].windows(3).any(|w| w == b"ada"));
        let header = peek::<()>(17, &buf[..len])?;
        assert_eq!(header.model, ModelId([9; 16]));
        let mut scratch = [0u8; MAX_RECORD_LEN];
        let back = open::<_, ()>(17, &buf[..len], &mut keys, &mut scratch)?;
        assert_eq!(back, t);
        assert!(scratch.iter().all(|&b| b == 0), "plaintext wiped");
        Ok(())
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        let mut keys = FixedKeys::new([1; 32], 5);
        let mut scratch = [0u8; MAX_RECORD_LEN];
        let short = [RECORD_VERSION; RECORD_OVERHEAD];
        assert_eq!(
            open::<_, ()>(3, &short, &mut keys, &mut scratch),
            Err(StoreError::BadRecord {
                subject: 3,
                field: "length",
                value: RECORD_OVERHEAD as u64
            })
        );
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal::<_, ()>(&template(3), &mut keys, &mut buf).expect("seals");
        buf[0] = 2;
        assert_eq!(
            open::<_, ()>(3, &buf[..len], &mut keys, &mut scratch),
            Err(StoreError::BadRecord {
                subject: 3,
                field: "version",
                value: 2
            })
        );
    }

    #[test]
    fn small_buffers_are_errors_not_panics() {
        let mut keys = FixedKeys::new([1; 32], 5);
        for n in [0, 10, RECORD_HEADER_LEN, RECORD_HEADER_LEN + 20, 60] {
            let mut buf = [0u8; 64];
            assert!(seal::<_, ()>(&template(3), &mut keys, &mut buf[..n]).is_err());
        }
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal::<_, ()>(&template(3), &mut keys, &mut buf).expect("seals");
        let mut scratch = [0u8; 8];
        assert!(matches!(
            open::<_, ()>(3, &buf[..len], &mut keys, &mut scratch),
            Err(StoreError::Internal { .. })
        ));
    }
}
