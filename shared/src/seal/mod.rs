//! Sealed template records (feature `seal`): a template file encrypted and authenticated with
//! ChaCha20-Poly1305, bound to its subject id and model id. The one envelope every template store
//! uses for templates at rest: the firmware's NOR-flash store and the edge's SQLite store.
//!
//! - [`keys`]: [`KeyProvider`] (the 32-byte key and the nonce source), [`FixedKeys`] for tests.
//! - [`aead`]: sealing and opening a buffer in place, and the associated data.
//! - [`record`]: the record layout (version, model id, nonce, ciphertext, tag) with
//!   [`record::peek`], [`record::seal`] and [`record::open`].
//! - [`SealError`]: why a record could not be sealed or opened, naming the subject and field.
//!
//! no_std and allocation-free: the caller gives the buffers (at most [`MAX_RECORD_LEN`] bytes).
//! Not covered: rollback (someone who can write the storage can put back an older, genuine
//! record), and key management beyond the [`KeyProvider`] trait.

pub mod aead;
pub mod error;
pub mod keys;
pub mod record;

pub use error::SealError;
pub use keys::{FixedKeys, KeyError, KeyProvider, KEY_LEN, NONCE_LEN, TAG_LEN};
pub use record::{
    RecordHeader, MAX_RECORD_LEN, RECORD_HEADER_LEN, RECORD_OVERHEAD, RECORD_VERSION,
};
