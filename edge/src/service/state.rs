//! What every request shares: the runtime, the store behind a mutex, the in-memory index behind
//! a read-write lock, the encoder pool and the metrics.
//!
//! Consistency: the store is the truth. Every change to the index happens while the store's
//! mutex is held (lock order: store, then index), so the index applies changes in the store's
//! revision order. Before a verification or identification the service applies
//! [`changes_since`](crate::store::TemplateStore::changes_since) its last revision, so subjects
//! enrolled or removed by another process on the same store (the CLI) are seen.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use siamedge_format::{EmbeddingRef, Template};

use super::config::ServiceConfig;
use super::error::{ApiError, ServiceError};
use super::metrics::{Gauges, Metrics};
use super::queue::EncoderPool;
use crate::index::{GalleryIndex, Hit};
use crate::runtime::Runtime;
use crate::store::{Put, Revision, SubjectInfo, TemplateStore};

/// The state behind every handler.
pub type Shared = Arc<State>;

/// The store and the last revision the index has applied.
struct Synced {
    store: Box<dyn TemplateStore>,
    seen: Revision,
}

/// Shared state (see the module docs).
pub struct State {
    /// The encoder and its model file.
    pub runtime: Arc<Runtime>,
    /// The settings it was started with.
    pub config: ServiceConfig,
    /// The bounded pool every encoding (and store access) runs on.
    pub pool: EncoderPool,
    /// Request counters.
    pub metrics: Metrics,
    store: Mutex<Synced>,
    index: RwLock<GalleryIndex>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .field("gallery_size", &self.gallery_size())
            .finish_non_exhaustive()
    }
}

fn poisoned() -> ApiError {
    ApiError::internal("a previous request panicked while holding the store")
}

impl State {
    /// Loads every template of `store` into a new index for `runtime`.
    pub fn new(
        runtime: Runtime,
        mut store: Box<dyn TemplateStore>,
        config: ServiceConfig,
    ) -> Result<Self, ServiceError> {
        config.validate()?;
        if store.model() != runtime.id() {
            return Err(ServiceError::ModelMismatch {
                store: store.model().to_string(),
                runtime: runtime.id().to_string(),
            });
        }
        let mut index = GalleryIndex::for_runtime(&runtime).map_err(|e| ServiceError::Index {
            reason: e.to_string(),
        })?;
        let mut bad = None;
        let seen = store.scan(&mut |t: Template| {
            if let Err(e) = index.upsert(&t) {
                bad.get_or_insert(ServiceError::Index {
                    reason: format!("subject {}: {e}", t.subject()),
                });
            }
            Ok(())
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        Ok(Self {
            pool: EncoderPool::new(config.workers, config.queue),
            runtime: Arc::new(runtime),
            config,
            metrics: Metrics::default(),
            store: Mutex::new(Synced { store, seen }),
            index: RwLock::new(index),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Synced>, ApiError> {
        self.store.lock().map_err(|_| poisoned())
    }

    fn with_index<T>(&self, f: impl FnOnce(&mut GalleryIndex) -> T) -> Result<T, ApiError> {
        let mut ix = self.index.write().map_err(|_| poisoned())?;
        Ok(f(&mut ix))
    }

    /// Applies the store's changes since the index's revision (blocking: a store read).
    pub fn sync(&self) -> Result<Revision, ApiError> {
        let mut s = self.lock()?;
        let seen = s.seen;
        let changes = s.store.changes_since(seen).map_err(ApiError::from_store)?;
        if !changes.put.is_empty() || !changes.removed.is_empty() {
            self.with_index(|ix| -> Result<(), ApiError> {
                for t in &changes.put {
                    ix.upsert(t).map_err(|e| {
                        ApiError::internal(format!("index: subject {}: {e}", t.subject()))
                    })?;
                }
                for &subject in &changes.removed {
                    ix.remove(subject);
                }
                Ok(())
            })??;
        }
        s.seen = s.seen.max(changes.revision);
        Ok(s.seen)
    }

    /// Writes `template` to the store (one transaction) and then to the index (blocking).
    pub fn put(&self, template: &Template, mode: Put) -> Result<Revision, ApiError> {
        let mut s = self.lock()?;
        let rev = s.store.put(template, mode).map_err(ApiError::from_store)?;
        self.with_index(|ix| ix.upsert(template))?.map_err(|e| {
            ApiError::internal(format!("index: subject {}: {e}", template.subject()))
        })?;
        Ok(rev)
    }

    /// Removes `subject` from the store and the index; `None` when it was not enrolled
    /// (blocking).
    pub fn remove(&self, subject: u32) -> Result<Option<Revision>, ApiError> {
        let mut s = self.lock()?;
        let rev = s.store.remove(subject).map_err(ApiError::from_store)?;
        self.with_index(|ix| ix.remove(subject))?;
        Ok(rev)
    }

    /// Every enrolled subject, from the store (blocking).
    pub fn list(&self) -> Result<Vec<SubjectInfo>, ApiError> {
        self.lock()?.store.list().map_err(ApiError::from_store)
    }

    /// The store's current revision (blocking).
    pub fn revision(&self) -> Result<Revision, ApiError> {
        self.lock()?.store.revision().map_err(ApiError::from_store)
    }

    /// Distance from `probe` to `subject`'s template, `None` when it is not enrolled.
    pub fn distance(&self, subject: u32, probe: EmbeddingRef<'_>) -> Result<Option<f32>, ApiError> {
        let ix = self.index.read().map_err(|_| poisoned())?;
        ix.distance(subject, probe)
            .map_err(|e| ApiError::internal(format!("index: {e}")))
    }

    /// The `k` nearest subjects to `probe`, nearest first.
    pub fn search(&self, probe: EmbeddingRef<'_>, k: usize) -> Result<Vec<Hit>, ApiError> {
        let ix = self.index.read().map_err(|_| poisoned())?;
        ix.search(probe, k)
            .map_err(|e| ApiError::internal(format!("index: {e}")))
    }

    /// Subjects in the index.
    pub fn gallery_size(&self) -> usize {
        self.index.read().map(|ix| ix.len()).unwrap_or(0)
    }

    /// The gauges for `/metrics`.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            gallery_size: self.gallery_size(),
            pool: self.pool.load(),
            workers: self.config.workers,
            queue_capacity: self.config.queue,
        }
    }
}
