//! The sealed record the store keeps on flash for one subject: `siamedge_format::seal::record`
//! (layout: version, model id, nonce, ciphertext, tag), with its errors as [`StoreError`]s.

use siamedge_format::seal::{record, SealError};
use siamedge_format::Template;

pub use siamedge_format::seal::record::{
    RecordHeader, MAX_RECORD_LEN, RECORD_HEADER_LEN, RECORD_OVERHEAD, RECORD_VERSION,
};

use super::crypto::KeyProvider;
use super::error::StoreError;

/// Reads the clear header of `record`, stored under `subject`.
pub fn peek<E>(subject: u32, record: &[u8]) -> Result<RecordHeader, StoreError<E>> {
    record::peek(subject, record).map_err(StoreError::from)
}

/// Seals `template` into `buf` (at least [`MAX_RECORD_LEN`] bytes) and returns the record's
/// length. The template's subject id is the record's key.
pub fn seal<K: KeyProvider, E>(
    template: &Template,
    keys: &mut K,
    buf: &mut [u8],
) -> Result<usize, StoreError<E>> {
    record::seal(template, keys, buf).map_err(StoreError::from)
}

/// Authenticates `record` (stored under `subject`) and decodes its template, using `scratch`
/// (at least `record.len()` bytes); the plaintext is wiped from `scratch` before returning. A
/// record that fails authentication is [`StoreError::Tampered`].
pub fn open<K: KeyProvider, E>(
    subject: u32,
    record: &[u8],
    keys: &mut K,
    scratch: &mut [u8],
) -> Result<Template, StoreError<E>> {
    record::open(subject, record, keys, scratch).map_err(StoreError::from)
}

impl<E> From<SealError> for StoreError<E> {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Key(k) => Self::Key(k),
            SealError::Tampered { subject } => Self::Tampered { subject },
            SealError::BadRecord {
                subject,
                field,
                value,
            } => Self::BadRecord {
                subject,
                field,
                value,
            },
            SealError::Template { subject, error } => Self::Template { subject, error },
            SealError::Mismatch { subject, field } => Self::Mismatch { subject, field },
            SealError::Buffer { what } => Self::Internal { what },
            _ => Self::Internal {
                what: "unknown sealing error",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::crypto::FixedKeys;
    use siamedge_format::{EmbeddingRef, ModelId};

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
    fn seal_open_round_trip_through_the_store_errors() -> Result<(), E> {
        let mut keys = FixedKeys::new([1; 32], 5);
        let t = template(17);
        let mut buf = [0u8; MAX_RECORD_LEN];
        let len = seal::<_, ()>(&t, &mut keys, &mut buf)?;
        assert_eq!(len, t.encoded_len().expect("encodable") + RECORD_OVERHEAD);
        assert_eq!(peek::<()>(17, &buf[..len])?.model, ModelId([9; 16]));
        let mut scratch = [0u8; MAX_RECORD_LEN];
        assert_eq!(open::<_, ()>(17, &buf[..len], &mut keys, &mut scratch)?, t);
        assert_eq!(
            open::<_, ()>(16, &buf[..len], &mut keys, &mut scratch),
            Err(StoreError::Tampered { subject: 16 })
        );
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
        let mut small = [0u8; 8];
        assert!(matches!(
            open::<_, ()>(3, &buf[..len], &mut keys, &mut small),
            Err(StoreError::Internal { .. })
        ));
    }
}
