//! The gallery store: where an edge box keeps its enrolled templates.
//!
//! What: [`TemplateStore`], a small trait over a durable, transactional store of
//! `siamedge-format` [`Template`]s of one model, keyed by subject id. Every change
//! ([`put`](TemplateStore::put), [`remove`](TemplateStore::remove)) is one transaction: it is
//! either committed whole (and survives a crash or power cut from then on) or not at all.
//! Each committed change advances the store's [`Revision`]; [`changes_since`](TemplateStore::changes_since)
//! lets a long-lived process (the service) follow changes that another process (the CLI) made.
//!
//! The embedded default is [`sqlite::SqliteStore`]: bundled SQLite in WAL mode, one row per
//! subject holding the template sealed with ChaCha20-Poly1305 (the firmware's record envelope).
//! A shared server-side store (PostgreSQL for a fleet) implements the same trait.

use siamedge_format::{ModelId, Template};

pub mod error;
pub mod key;
pub mod sqlite;

pub use error::StoreError;
pub use key::StoreKey;
pub use sqlite::{SqliteStore, StoreInfo};

/// A store's change counter: every committed `put` or `remove` gets the next revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(pub u64);

/// How [`TemplateStore::put`] treats a subject that is already enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Refuse ([`StoreError::Duplicate`]); the store is unchanged.
    New,
    /// Replace its template (re-enrollment).
    Replace,
}

/// What the store says about one subject without its embeddings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectInfo {
    /// Subject id.
    pub subject: u32,
    /// The template's label (at most 32 bytes of UTF-8).
    pub label: String,
    /// Embeddings in the template (1 to 8).
    pub embeddings: usize,
    /// The revision that wrote it.
    pub revision: Revision,
}

/// What changed after a revision: templates written (new or replaced) and subjects removed, in
/// revision order, and the revision they bring the reader to.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Templates put after the revision (the latest version of each).
    pub put: Vec<Template>,
    /// Subjects removed after the revision (and not enrolled again since).
    pub removed: Vec<u32>,
    /// The store's revision these changes lead to.
    pub revision: Revision,
}

/// How a store protects templates at rest (reported by `inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Sealed with ChaCha20-Poly1305 under the store key.
    Encrypted,
    /// Plain template bytes (created with `--insecure-plaintext`).
    Plaintext,
}

/// A durable store of one model's templates, keyed by subject id (see the module docs).
///
/// Methods take `&mut self`: one value is one connection; a process that serves many threads
/// puts it behind a mutex or opens one per thread (the store itself handles concurrent
/// connections and processes).
pub trait TemplateStore: Send {
    /// The model every template in the store belongs to.
    fn model(&self) -> ModelId;

    /// Whether templates are encrypted at rest.
    fn protection(&self) -> Protection;

    /// Adds (or with [`Put::Replace`] replaces) `template` in one transaction and returns the
    /// revision that committed it. A template of another model is [`StoreError::ModelMismatch`],
    /// an enrolled subject with [`Put::New`] is [`StoreError::Duplicate`]; nothing changes then.
    fn put(&mut self, template: &Template, mode: Put) -> Result<Revision, StoreError>;

    /// Removes `subject` in one transaction; `Ok(None)` (and no change) when it was not enrolled.
    fn remove(&mut self, subject: u32) -> Result<Option<Revision>, StoreError>;

    /// The template of `subject` (decrypted and authenticated), if enrolled.
    fn get(&mut self, subject: u32) -> Result<Option<Template>, StoreError>;

    /// Every enrolled subject, by subject id.
    fn list(&mut self) -> Result<Vec<SubjectInfo>, StoreError>;

    /// Number of enrolled subjects.
    fn len(&mut self) -> Result<u64, StoreError>;

    /// Whether no subject is enrolled.
    fn is_empty(&mut self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// The current revision.
    fn revision(&mut self) -> Result<Revision, StoreError>;

    /// Calls `f` with every template (by subject id) from one consistent snapshot, and returns
    /// that snapshot's revision. Stops at the first error of `f`.
    fn scan(
        &mut self,
        f: &mut dyn FnMut(Template) -> Result<(), StoreError>,
    ) -> Result<Revision, StoreError>;

    /// What changed after `since`, from one consistent snapshot.
    fn changes_since(&mut self, since: Revision) -> Result<Changes, StoreError>;
}
