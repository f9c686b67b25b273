//! Shared by the targets (included with `#[path]`): the input's payload in a fresh envelope.
//!
//! Random mutations almost never keep a CRC (or a model's SHA-256 id) valid, so each target
//! decodes its input twice: as it is (envelope checks) and with header, id and CRC recomputed
//! around the bytes between the 10-byte header and the 4-byte trailer (payload checks), at the
//! input's own format version when this crate reads it (so that every version's body is
//! explored), else at the newest.

use siamedge_format::{envelope, FileKind, ModelId};

/// `data` with a valid envelope (and, for a model, a valid id) around its payload part.
pub fn reseal(kind: FileKind, data: &[u8]) -> Option<Vec<u8>> {
    let payload = data.get(envelope::HEADER_LEN..data.len().checked_sub(envelope::CRC_LEN)?)?;
    let version = u16::from_le_bytes([*data.get(4)?, *data.get(5)?]);
    let version = if (1..=kind.version()).contains(&version) {
        version
    } else {
        kind.version()
    };
    if kind == FileKind::Model {
        let body = payload.get(ModelId::LEN..)?;
        let id = ModelId::of_model_body(version, body).unwrap_or_else(|_| ModelId::digest(body));
        let mut fixed = id.as_bytes().to_vec();
        fixed.extend_from_slice(body);
        envelope::seal_at(kind, version, &fixed).ok()
    } else {
        envelope::seal_at(kind, version, payload).ok()
    }
}
