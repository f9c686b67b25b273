//! Encryption at rest: the [`KeyProvider`] that holds the device's template key and its nonce
//! source. The sealing itself is `siamedge_format::seal` (one implementation for the firmware
//! and the edge's store): key handling, why nonces are random, and the associated data are
//! documented there.

pub use siamedge_format::seal::aead::{associated_data, AD_LEN};
pub use siamedge_format::seal::keys::{
    FixedKeys, KeyError, KeyProvider, KEY_LEN, NONCE_LEN, TAG_LEN,
};
