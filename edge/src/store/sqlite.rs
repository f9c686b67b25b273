//! [`SqliteStore`]: the embedded [`TemplateStore`]: one SQLite file (bundled SQLite) per store.
//!
//! **Durability and concurrency.** WAL journal, `synchronous=FULL` (a committed transaction is on
//! disk before `put` returns, so a crash or power cut loses nothing committed), a busy timeout
//! (concurrent writers, the CLI and the service, wait for each other instead of failing), and
//! every change in one `BEGIN IMMEDIATE` transaction: one row written, never the whole file.
//!
//! **Schema** (version [`SCHEMA_VERSION`]):
//! - `meta`: one row: `schema`, `model` (16 bytes), `protection` (`"chacha20poly1305"` or
//!   `"plaintext"`), `key_check` (a sealed known template, so a wrong key is refused at
//!   [`open`](SqliteStore::open) rather than at the first read), `revision` (the change counter);
//! - `templates(subject INTEGER PRIMARY KEY, record BLOB, revision INTEGER)`: `record` is the
//!   sealed record of `siamedge_format::seal::record` (the firmware's envelope: version, model
//!   id, nonce, ciphertext, tag; subject and model bound as associated data), or the plain
//!   template file in a plaintext store;
//! - `removed(subject INTEGER PRIMARY KEY, revision INTEGER)`: what `remove` took away, so
//!   [`changes_since`](TemplateStore::changes_since) reports removals across processes.
//!
//! Labels are inside the sealed template: [`list`](TemplateStore::list) decrypts every row.
//! Costs (`examples/bench_store.rs`, 1,001,000 encrypted 128-value templates, dev profile with
//! SQLite and ChaCha20 at opt-level 3, ext4 on a 2-core VM): 252 bytes per template on disk; a gallery import
//! 7.8 us per template in one transaction; a `put` (one transaction) 0.18 ms; a scan 3.4 us per
//! template; export of the million 4.7 s.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use siamedge_format::gallery::{GalleryReader, GalleryWriter};
use siamedge_format::seal::{record, MAX_RECORD_LEN};
use siamedge_format::{EmbeddingRef, ModelId, Template};

use super::key::OsKeys;
use super::{Changes, Protection, Put, Revision, StoreError, StoreKey, SubjectInfo, TemplateStore};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: i64 = 1;
/// How long a writer waits for another connection's transaction, in milliseconds.
pub const BUSY_TIMEOUT_MS: u64 = 30_000;

const ENCRYPTED: &str = "chacha20poly1305";
const PLAINTEXT: &str = "plaintext";
/// The subject of the key-check record (never a template's row: it lives in `meta`).
const KEY_CHECK_SUBJECT: u32 = u32::MAX;
const KEY_CHECK_LABEL: &str = "siamedge store key check";

const SCHEMA: &str = "
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema INTEGER NOT NULL,
    model BLOB NOT NULL,
    protection TEXT NOT NULL,
    key_check BLOB,
    revision INTEGER NOT NULL
);
CREATE TABLE templates (
    subject INTEGER PRIMARY KEY,
    record BLOB NOT NULL,
    revision INTEGER NOT NULL
);
CREATE INDEX templates_by_revision ON templates(revision);
CREATE TABLE removed (
    subject INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL
);
CREATE INDEX removed_by_revision ON removed(revision);
";

/// What [`SqliteStore::inspect`] reads without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The store's schema version.
    pub schema: i64,
    /// The model of every template.
    pub model: ModelId,
    /// Encrypted or in the clear.
    pub protection: Protection,
    /// Enrolled subjects.
    pub subjects: u64,
    /// The last committed revision.
    pub revision: Revision,
}

/// A template store in one SQLite file (see the module docs). One value is one connection.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    model: ModelId,
    keys: Option<OsKeys>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("model", &self.model)
            .field("protection", &self.protection())
            .finish_non_exhaustive()
    }
}

fn key_check_template(model: ModelId) -> Result<Template, siamedge_format::FormatError> {
    Template::new(
        KEY_CHECK_SUBJECT,
        EmbeddingRef {
            model,
            scale: 1.0,
            values: &[0; 8],
        },
    )?
    .with_label(KEY_CHECK_LABEL)
}

/// Refuses a file shorter than its SQLite header says (a truncated copy): SQLite itself would read
/// the missing pages as zeros and fail later, in the middle of a read.
fn check_length(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path).and_then(|mut f| {
        let len = f.metadata()?.len();
        let n = f.read(&mut header)?;
        Ok((len, n))
    });
    let (len, n) = read.map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        what: "reading the store header",
        source,
    })?;
    if n < 100 || &header[..16] != b"SQLite format 3\0" {
        // Empty (a create that never committed) or not SQLite: SQLite says which.
        return Ok(());
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        p => u64::from(p),
    };
    let pages = u64::from(be32(28));
    // The in-header size is valid when "version-valid-for" equals the change counter.
    if be32(92) == be32(24) && len < pages * page_size {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "the file is {len} bytes, its header says {pages} pages of {page_size} bytes (truncated)"
            ),
        });
    }
    Ok(())
}

fn connect(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.exists() {
        return Err(StoreError::Io {
            path: path.to_path_buf(),
            what: "opening the store",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    if path.exists() {
        check_length(path)?;
    }
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::sqlite(path, "opening", e))?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(|e| StoreError::sqlite(path, "setting the busy timeout", e))?;
    // Reading the journal mode reads the header: garbage or a truncated file fails here.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| StoreError::sqlite(path, "setting WAL mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("journal mode is {mode}, WAL could not be set"),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| StoreError::sqlite(path, "setting synchronous=FULL", e))?;
    Ok(conn)
}

/// The meta row: schema, model, protection, key check, revision.
type Meta = (i64, Vec<u8>, String, Option<Vec<u8>>, i64);

fn read_meta(conn: &Connection, path: &Path) -> Result<Option<Meta>, StoreError> {
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )
        .map_err(|e| StoreError::sqlite(path, "reading the schema", e))?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row(
        "SELECT schema, model, protection, key_check, revision FROM meta WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .optional()
    .map_err(|e| StoreError::sqlite(path, "reading the meta row", e))?
    .map(Some)
    .ok_or_else(|| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: "the meta table has no row".into(),
    })
}

impl SqliteStore {
    /// Creates a store for templates of `model` at `path` (a new file, or an empty one left by an
    /// interrupted create). `key: None` makes a plaintext store: callers must ask for that
    /// explicitly (`--insecure-plaintext`). An existing store at `path` is not touched: error.
    pub fn create(path: &Path, model: ModelId, key: Option<StoreKey>) -> Result<Self, StoreError> {
        let mut conn = connect(path, true)?;
        let mut keys = key.map(OsKeys);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(path, "beginning the create transaction", e))?;
        let nonempty: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(path, "reading the schema", e))?;
        if nonempty > 0 {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                what: "creating the store",
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a database is already there",
                ),
            });
        }
        tx.execute_batch(SCHEMA)
            .map_err(|e| StoreError::sqlite(path, "creating the tables", e))?;
        let (protection, check) = match &mut keys {
            Some(k) => (ENCRYPTED, Some(key_check(path, model, k)?)),
            None => (PLAINTEXT, None),
        };
        tx.execute(
            "INSERT INTO meta (id, schema, model, protection, key_check, revision) VALUES (1, ?1, ?2, ?3, ?4, 0)",
            params![SCHEMA_VERSION, &model.0[..], protection, check],
        )
        .map_err(|e| StoreError::sqlite(path, "writing the meta row", e))?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(path, "committing the create", e))?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            model,
            keys,
            scratch: vec![0; MAX_RECORD_LEN],
        })
    }

    /// Opens the store at `path` with `key` (`None` for a plaintext store). Refused, with nothing
    /// written: a missing file, garbage or a truncated file ([`StoreError::Corrupt`]), a newer
    /// schema, an encrypted store without a key ([`StoreError::KeyRequired`]) or with the wrong
    /// one ([`StoreError::WrongKey`]), a plaintext store with a key ([`StoreError::NotEncrypted`]).
    pub fn open(path: &Path, key: Option<StoreKey>) -> Result<Self, StoreError> {
        let conn = connect(path, false)?;
        let Some((schema, model, protection, check, _)) = read_meta(&conn, path)? else {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "no meta table: an SQLite database, but not a siamedge store".into(),
            });
        };
        if schema > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: schema,
                supported: SCHEMA_VERSION,
            });
        }
        let model: [u8; ModelId::LEN] =
            model
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("meta.model is {} bytes, expected 16", model.len()),
                })?;
        let model = ModelId(model);
        let mut keys = key.map(OsKeys);
        let mut scratch = vec![0; MAX_RECORD_LEN];
        match (protection.as_str(), &mut keys) {
            (ENCRYPTED, None) => {
                return Err(StoreError::KeyRequired {
                    path: path.to_path_buf(),
                })
            }
            (PLAINTEXT, Some(_)) => {
                return Err(StoreError::NotEncrypted {
                    path: path.to_path_buf(),
                })
            }
            (ENCRYPTED, Some(k)) => {
                let check = check.ok_or_else(|| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: "encrypted store without a key check".into(),
                })?;
                match record::open(KEY_CHECK_SUBJECT, &check, k, &mut scratch) {
                    Ok(t) if t.model() == model && t.label() == KEY_CHECK_LABEL => {}
                    Err(siamedge_format::seal::SealError::Tampered { .. }) => {
                        return Err(StoreError::WrongKey {
                            path: path.to_path_buf(),
                        })
                    }
                    Ok(_) | Err(_) => {
                        return Err(StoreError::Corrupt {
                            path: path.to_path_buf(),
                            reason: "the key check record is malformed".into(),
                        })
                    }
                }
            }
            (PLAINTEXT, None) => {}
            (other, _) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("unknown protection {other:?}"),
                })
            }
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            model,
            keys,
            scratch,
        })
    }

    /// What the store at `path` says about itself without its key (no template is decrypted):
    /// schema, model, protection, number of subjects, revision. Refused like [`open`](Self::open)
    /// for a missing, garbage, truncated or foreign file.
    pub fn inspect(path: &Path) -> Result<StoreInfo, StoreError> {
        let conn = connect(path, false)?;
        let Some((schema, model, protection, _, revision)) = read_meta(&conn, path)? else {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "no meta table: an SQLite database, but not a siamedge store".into(),
            });
        };
        let model: [u8; ModelId::LEN] =
            model
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("meta.model is {} bytes, expected 16", model.len()),
                })?;
        let protection = match protection.as_str() {
            ENCRYPTED => Protection::Encrypted,
            PLAINTEXT => Protection::Plaintext,
            other => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("unknown protection {other:?}"),
                })
            }
        };
        let subjects: i64 = conn
            .query_row("SELECT count(*) FROM templates", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(path, "counting the templates", e))?;
        Ok(StoreInfo {
            schema,
            model: ModelId(model),
            protection,
            subjects: subjects.max(0) as u64,
            revision: Revision(revision.max(0) as u64),
        })
    }

    /// Opens the store at `path`, or creates it for `model` when there is no file: what `enroll`
    /// does. An existing store of another model is [`StoreError::ModelMismatch`].
    pub fn open_or_create(
        path: &Path,
        model: ModelId,
        key: Option<StoreKey>,
    ) -> Result<Self, StoreError> {
        let store = if path.exists() {
            Self::open(path, key)?
        } else {
            match Self::create(path, model, key.clone()) {
                Ok(s) => s,
                // Another process created it first.
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    Self::open(path, key)?
                }
                Err(e) => return Err(e),
            }
        };
        if store.model != model {
            return Err(StoreError::ModelMismatch {
                path: path.to_path_buf(),
                expected: store.model,
                found: model,
            });
        }
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's `PRAGMA integrity_check` (reads every page): `Ok` or [`StoreError::Corrupt`]
    /// with SQLite's first complaint.
    pub fn integrity_check(&mut self) -> Result<(), StoreError> {
        let first: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(&self.path, "checking integrity", e))?;
        if first == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                reason: first,
            })
        }
    }

    fn sqlite(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::sqlite(&self.path, what, e)
    }

    /// The stored bytes of `template`: a sealed record, or the plain template file.
    fn encode(&mut self, template: &Template) -> Result<Vec<u8>, StoreError> {
        encode_with(&self.path, &mut self.keys, &mut self.scratch, template)
    }

    fn decode(&mut self, subject: u32, stored: &[u8]) -> Result<Template, StoreError> {
        decode_with(
            &self.path,
            self.model,
            &mut self.keys,
            &mut self.scratch,
            subject,
            stored,
        )
    }

    fn check_model(&self, template: &Template) -> Result<(), StoreError> {
        if template.model() != self.model {
            return Err(StoreError::ModelMismatch {
                path: self.path.clone(),
                expected: self.model,
                found: template.model(),
            });
        }
        Ok(())
    }

    /// Re-seals every template and the key check under `new` (`None`: plaintext) in ONE
    /// transaction: after a crash the store is wholly under the old key or wholly under the new.
    /// Revisions do not change (the templates are the same).
    pub fn rekey(&mut self, new: Option<StoreKey>) -> Result<(), StoreError> {
        let mut new_keys = new.map(OsKeys);
        let path = self.path.clone();
        let model = self.model;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&path, "beginning the rekey transaction", e))?;
        let mut after: i64 = -1;
        loop {
            let batch: Vec<(u32, Vec<u8>)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT subject, record FROM templates WHERE subject > ?1 ORDER BY subject LIMIT 1024",
                    )
                    .map_err(|e| StoreError::sqlite(&path, "reading templates", e))?;
                let rows = stmt
                    .query_map([after], |r| {
                        Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(|e| StoreError::sqlite(&path, "reading templates", e))?;
                rows.collect::<Result<_, _>>()
                    .map_err(|e| StoreError::sqlite(&path, "reading templates", e))?
            };
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            after = i64::from(last);
            let mut update = tx
                .prepare_cached("UPDATE templates SET record = ?2 WHERE subject = ?1")
                .map_err(|e| StoreError::sqlite(&path, "rewriting templates", e))?;
            for (subject, stored) in batch {
                let t = decode_with(
                    &path,
                    model,
                    &mut self.keys,
                    &mut self.scratch,
                    subject,
                    &stored,
                )?;
                let bytes = encode_with(&path, &mut new_keys, &mut self.scratch, &t)?;
                update
                    .execute(params![subject, bytes])
                    .map_err(|e| StoreError::sqlite(&path, "rewriting templates", e))?;
            }
        }
        let (protection, check) = match &mut new_keys {
            Some(k) => (ENCRYPTED, Some(key_check(&path, model, k)?)),
            None => (PLAINTEXT, None),
        };
        tx.execute(
            "UPDATE meta SET protection = ?1, key_check = ?2 WHERE id = 1",
            params![protection, check],
        )
        .map_err(|e| StoreError::sqlite(&path, "rewriting the meta row", e))?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&path, "committing the rekey", e))?;
        self.keys = new_keys;
        Ok(())
    }

    /// Writes every template, from one snapshot, to the portable gallery file at `out`
    /// (`siamedge-format`, kind `SGGL`), atomically (`write_atomic`: the old file or the new one
    /// after a crash). Returns the number of templates. Memory: the file's bytes, not one
    /// `Template` per subject.
    pub fn export_gallery(&mut self, out: &Path) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let model = self.model;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&path, "beginning the export snapshot", e))?;
        let count: i64 = tx
            .query_row("SELECT count(*) FROM templates", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(&path, "counting templates", e))?;
        let format = |error| StoreError::Format {
            path: out.to_path_buf(),
            error,
        };
        let mut writer = GalleryWriter::new(model, usize::try_from(count).unwrap_or(usize::MAX))
            .map_err(format)?;
        each_template(
            &tx,
            &path,
            "reading templates",
            model,
            &mut self.keys,
            &mut self.scratch,
            &mut |t| writer.push(&t).map_err(format),
        )?;
        tx.finish()
            .map_err(|e| StoreError::sqlite(&path, "ending the export snapshot", e))?;
        let bytes = writer.finish().map_err(format)?;
        siamedge_format::file::write_atomic(out, &bytes).map_err(|e| StoreError::Io {
            path: e.path,
            what: e.step,
            source: e.source,
        })?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// Adds every template of the gallery file `gallery` in ONE transaction (one revision):
    /// with `replace` enrolled subjects are replaced, otherwise one enrolled subject is
    /// [`StoreError::Duplicate`] and nothing is imported. A damaged gallery, or one of another
    /// model, is refused with nothing imported. Returns the number of templates.
    pub fn import_gallery(&mut self, gallery: &Path, replace: bool) -> Result<usize, StoreError> {
        let bytes = std::fs::read(gallery).map_err(|source| StoreError::Io {
            path: gallery.to_path_buf(),
            what: "reading the gallery",
            source,
        })?;
        let format = |error| StoreError::Format {
            path: gallery.to_path_buf(),
            error,
        };
        let reader = GalleryReader::new(&bytes).map_err(format)?;
        if reader.model() != self.model {
            return Err(StoreError::ModelMismatch {
                path: self.path.clone(),
                expected: self.model,
                found: reader.model(),
            });
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&path, "beginning the import transaction", e))?;
        let rev = next_revision(&tx, &path)?;
        let mut n = 0usize;
        {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM templates WHERE subject = ?1")
                .map_err(|e| StoreError::sqlite(&path, "importing", e))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO templates (subject, record, revision) VALUES (?1, ?2, ?3)",
                )
                .map_err(|e| StoreError::sqlite(&path, "importing", e))?;
            let mut unremove = tx
                .prepare_cached("DELETE FROM removed WHERE subject = ?1")
                .map_err(|e| StoreError::sqlite(&path, "importing", e))?;
            for t in reader {
                let t = t.map_err(format)?;
                let subject = t.subject();
                if !replace
                    && exists
                        .exists([subject])
                        .map_err(|e| StoreError::sqlite(&path, "importing", e))?
                {
                    return Err(StoreError::Duplicate { path, subject });
                }
                let stored = encode_with(&path, &mut self.keys, &mut self.scratch, &t)?;
                insert
                    .execute(params![subject, stored, rev])
                    .map_err(|e| StoreError::sqlite(&path, "importing", e))?;
                unremove
                    .execute([subject])
                    .map_err(|e| StoreError::sqlite(&path, "importing", e))?;
                n += 1;
            }
        }
        tx.commit()
            .map_err(|e| StoreError::sqlite(&path, "committing the import", e))?;
        Ok(n)
    }
}

fn key_check(path: &Path, model: ModelId, keys: &mut OsKeys) -> Result<Vec<u8>, StoreError> {
    let t = key_check_template(model).map_err(|error| StoreError::Format {
        path: path.to_path_buf(),
        error,
    })?;
    let mut buf = vec![0; MAX_RECORD_LEN];
    let len = record::seal(&t, keys, &mut buf).map_err(|error| StoreError::Seal {
        path: path.to_path_buf(),
        error,
    })?;
    buf.truncate(len);
    Ok(buf)
}

fn encode_with(
    path: &Path,
    keys: &mut Option<OsKeys>,
    scratch: &mut [u8],
    template: &Template,
) -> Result<Vec<u8>, StoreError> {
    match keys {
        Some(k) => {
            let len = record::seal(template, k, scratch).map_err(|error| StoreError::Seal {
                path: path.to_path_buf(),
                error,
            })?;
            let out = scratch[..len].to_vec();
            scratch[..len].fill(0);
            Ok(out)
        }
        None => template.to_bytes().map_err(|error| StoreError::Format {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Every row of the templates table in `tx`, by subject id, decoded (and authenticated) with
/// `keys`, handed to `f`; `what` names the step in SQLite errors. Stops at the first error.
fn each_template(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    what: &'static str,
    model: ModelId,
    keys: &mut Option<OsKeys>,
    scratch: &mut [u8],
    f: &mut dyn FnMut(Template) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    each_row(
        tx,
        path,
        what,
        "SELECT subject, record FROM templates ORDER BY subject",
        [],
        (model, keys, scratch),
        &mut |t, _| f(t),
    )
}

/// Every row `query` (with `params`) selects from `tx`, its first two columns the subject and
/// the stored record, decoded (and authenticated) with `(model, keys, scratch)` and handed to
/// `f` with the row (for any further columns); `what` names the step in SQLite errors. Stops at
/// the first error.
fn each_row(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    what: &'static str,
    query: &str,
    params: impl rusqlite::Params,
    (model, keys, scratch): (ModelId, &mut Option<OsKeys>, &mut [u8]),
    f: &mut dyn FnMut(Template, &rusqlite::Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = |e| StoreError::sqlite(path, what, e);
    let mut stmt = tx.prepare(query).map_err(sql)?;
    let mut rows = stmt.query(params).map_err(sql)?;
    while let Some(row) = rows.next().map_err(sql)? {
        let subject: u32 = row.get(0).map_err(sql)?;
        let stored = row
            .get_ref(1)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(sql)?;
        f(
            decode_with(path, model, keys, scratch, subject, stored)?,
            row,
        )?;
    }
    Ok(())
}

fn decode_with(
    path: &Path,
    model: ModelId,
    keys: &mut Option<OsKeys>,
    scratch: &mut [u8],
    subject: u32,
    stored: &[u8],
) -> Result<Template, StoreError> {
    let t = match keys {
        Some(k) => record::open(subject, stored, k, scratch)
            .map_err(|e| StoreError::record(path, subject, e))?,
        None => {
            let t = Template::decode(stored).map_err(|e| StoreError::BadRecord {
                path: path.to_path_buf(),
                subject,
                field: "template",
                detail: e.to_string(),
            })?;
            if t.subject() != subject {
                return Err(StoreError::BadRecord {
                    path: path.to_path_buf(),
                    subject,
                    field: "subject",
                    detail: format!("the row's template is of subject {}", t.subject()),
                });
            }
            t
        }
    };
    if t.model() != model {
        return Err(StoreError::BadRecord {
            path: path.to_path_buf(),
            subject,
            field: "model",
            detail: format!("template of model {}, the store's is {model}", t.model()),
        });
    }
    Ok(t)
}

/// Advances the revision counter inside `tx` and returns the new revision.
fn next_revision(tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<i64, StoreError> {
    tx.query_row(
        "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        [],
        |r| r.get(0),
    )
    .map_err(|e| StoreError::sqlite(path, "advancing the revision", e))
}

fn revision(conn: &Connection, path: &Path) -> Result<Revision, StoreError> {
    conn.query_row("SELECT revision FROM meta WHERE id = 1", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|r| Revision(u64::try_from(r).unwrap_or(0)))
    .map_err(|e| StoreError::sqlite(path, "reading the revision", e))
}

impl TemplateStore for SqliteStore {
    fn model(&self) -> ModelId {
        self.model
    }

    fn protection(&self) -> Protection {
        if self.keys.is_some() {
            Protection::Encrypted
        } else {
            Protection::Plaintext
        }
    }

    fn put(&mut self, template: &Template, mode: Put) -> Result<Revision, StoreError> {
        self.check_model(template)?;
        let stored = self.encode(template)?;
        let subject = template.subject();
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&path, "beginning the put transaction", e))?;
        if mode == Put::New {
            let exists = tx
                .prepare_cached("SELECT 1 FROM templates WHERE subject = ?1")
                .and_then(|mut s| s.exists([subject]))
                .map_err(|e| StoreError::sqlite(&path, "looking up the subject", e))?;
            if exists {
                return Err(StoreError::Duplicate { path, subject });
            }
        }
        let rev = next_revision(&tx, &path)?;
        tx.execute(
            "INSERT OR REPLACE INTO templates (subject, record, revision) VALUES (?1, ?2, ?3)",
            params![subject, stored, rev],
        )
        .map_err(|e| StoreError::sqlite(&path, "writing the template", e))?;
        tx.execute("DELETE FROM removed WHERE subject = ?1", [subject])
            .map_err(|e| StoreError::sqlite(&path, "writing the template", e))?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&path, "committing the put", e))?;
        Ok(Revision(u64::try_from(rev).unwrap_or(0)))
    }

    fn remove(&mut self, subject: u32) -> Result<Option<Revision>, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&path, "beginning the remove transaction", e))?;
        let n = tx
            .execute("DELETE FROM templates WHERE subject = ?1", [subject])
            .map_err(|e| StoreError::sqlite(&path, "removing the template", e))?;
        if n == 0 {
            return Ok(None);
        }
        let rev = next_revision(&tx, &path)?;
        tx.execute(
            "INSERT OR REPLACE INTO removed (subject, revision) VALUES (?1, ?2)",
            params![subject, rev],
        )
        .map_err(|e| StoreError::sqlite(&path, "recording the removal", e))?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&path, "committing the remove", e))?;
        Ok(Some(Revision(u64::try_from(rev).unwrap_or(0))))
    }

    fn get(&mut self, subject: u32) -> Result<Option<Template>, StoreError> {
        let stored: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM templates WHERE subject = ?1")
            .and_then(|mut s| s.query_row([subject], |r| r.get(0)).optional())
            .map_err(self.sqlite("reading the template"))?;
        stored.map(|s| self.decode(subject, &s)).transpose()
    }

    fn list(&mut self) -> Result<Vec<SubjectInfo>, StoreError> {
        let mut out = Vec::new();
        let path = self.path.clone();
        let model = self.model;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&path, "beginning the list snapshot", e))?;
        each_row(
            &tx,
            &path,
            "listing",
            "SELECT subject, record, revision FROM templates ORDER BY subject",
            [],
            (model, &mut self.keys, &mut self.scratch),
            &mut |t, row| {
                let rev: i64 = row
                    .get(2)
                    .map_err(|e| StoreError::sqlite(&path, "listing", e))?;
                out.push(SubjectInfo {
                    subject: t.subject(),
                    label: t.label().to_string(),
                    embeddings: t.count(),
                    revision: Revision(u64::try_from(rev).unwrap_or(0)),
                });
                Ok(())
            },
        )?;
        tx.finish()
            .map_err(|e| StoreError::sqlite(&path, "ending the list snapshot", e))?;
        Ok(out)
    }

    fn len(&mut self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM templates", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.sqlite("counting templates"))
    }

    fn revision(&mut self) -> Result<Revision, StoreError> {
        revision(&self.conn, &self.path)
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(Template) -> Result<(), StoreError>,
    ) -> Result<Revision, StoreError> {
        let path = self.path.clone();
        let model = self.model;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&path, "beginning the scan snapshot", e))?;
        let rev = revision(&tx, &path)?;
        each_template(
            &tx,
            &path,
            "scanning",
            model,
            &mut self.keys,
            &mut self.scratch,
            f,
        )?;
        tx.finish()
            .map_err(|e| StoreError::sqlite(&path, "ending the scan snapshot", e))?;
        Ok(rev)
    }

    fn changes_since(&mut self, since: Revision) -> Result<Changes, StoreError> {
        let path = self.path.clone();
        let model = self.model;
        let since = i64::try_from(since.0).unwrap_or(i64::MAX);
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&path, "beginning the changes snapshot", e))?;
        let rev = revision(&tx, &path)?;
        let mut changes = Changes {
            revision: rev,
            ..Changes::default()
        };
        each_row(
            &tx,
            &path,
            "reading changes",
            "SELECT subject, record FROM templates WHERE revision > ?1 ORDER BY revision, subject",
            [since],
            (model, &mut self.keys, &mut self.scratch),
            &mut |t, _| {
                changes.put.push(t);
                Ok(())
            },
        )?;
        {
            let mut stmt = tx
                .prepare(
                    "SELECT subject FROM removed WHERE revision > ?1 ORDER BY revision, subject",
                )
                .map_err(|e| StoreError::sqlite(&path, "reading removals", e))?;
            let removed = stmt
                .query_map([since], |r| r.get::<_, u32>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::sqlite(&path, "reading removals", e))?;
            changes.removed = removed;
        }
        tx.finish()
            .map_err(|e| StoreError::sqlite(&path, "ending the changes snapshot", e))?;
        Ok(changes)
    }
}
