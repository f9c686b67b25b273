//! The template store: enrolled subjects' templates on NOR flash, encrypted at rest, safe
//! against power loss at any point.
//!
//! [`TemplateStore`] keeps one sealed record (see [`record`]) per subject id in a flash range,
//! with the operations `enroll`, `update`, `delete`, `get`, `list` and `capacity`. Templates
//! are `siamedge-format` template files, encrypted and authenticated with ChaCha20-Poly1305
//! under a key from a [`KeyProvider`] (see [`crypto`]); a record that fails authentication is
//! [`StoreError::Tampered`] and is never returned.
//!
//! **Why `sequential-storage`'s map.** It is a key-value log over NOR flash pages built for
//! this: every change is a new item appended with a CRC, a superseded item is dropped when its
//! page is recycled, and every page state change is a marker word whose half-written form is
//! recognised and repaired on the next access. It keeps no RAM state between calls beyond an
//! optional cache, needs no allocator, wear-levels by cycling through the pages, and is fuzzed
//! upstream with power cuts. A hand-written two-slot (A/B) scheme would be simpler per record
//! but costs a whole erase page per subject; a filesystem (littlefs) brings C code and a
//! far larger footprint for one table.
//!
//! **Power-loss guarantees** (the tests in `store::tests::power_loss` cut power at every write
//! and erase of a scripted enroll/update/delete sequence, at random points of random sequences,
//! and a second time during recovery, with half-programmed words, and check them):
//! - `enroll`/`update` write one item; until its CRC is complete it does not exist, so a cut
//!   leaves the old state (the old template, or no subject), otherwise the new one;
//! - `delete` clears the CRC of every item of the subject, oldest first, so the newest version
//!   survives until the very last clear: a cut leaves the subject either whole or gone;
//! - garbage collection copies live items to the buffer page before the old page is erased, and
//!   an interrupted copy is redone from the old page on the next access.
//!
//! Every write is read back before `Ok` is returned: on flash damaged by something other than
//! a power cut (a corrupted item header, worn cells) `sequential-storage` can accept a write
//! that its reader then does not find, and the store reports that as
//! [`StoreError::NotReadBack`] instead of losing the template silently. A property test feeds
//! corrupted and random flash images: the store never panics and never returns a template
//! that was not written.
//!
//! **Costs.** Every lookup scans the pages (`O(flash range)` reads; `enroll`, `update` and
//! `put` make three: the existence check, the write and the read-back) unless a
//! `sequential-storage` key cache is given to [`TemplateStore::open_with_cache`]. A record
//! costs the encoded template plus [`record::RECORD_OVERHEAD`] (45) bytes, plus the item header
//! (8), key (4) and word padding: see [`capacity`]. A record must fit in one page, so a 4 KiB
//! page holds one maximal (2 KiB-class) template; use 8 KiB or larger pages for those.
//! The store owns two record buffers (about 2.3 KiB each) so that no operation puts one on the
//! stack; place the store in a `static` on small devices.
//!
//! Measured (test `full_store_and_capacity_report`; "on flash" is the item with every
//! overhead, "fit" is how many a 64 KiB range holds until `enroll` returns `Full`):
//!
//! | pages x size | word | template (emb x dim) | encoded | on flash | fit |
//! |--------------|------|----------------------|---------|----------|-----|
//! | 16 x 4 KiB   | 4    | 4 x 512 (2 KiB)      | 2113    | 2172     | 15  |
//! | 8 x 8 KiB    | 4    | 4 x 512 (2 KiB)      | 2113    | 2172     | 21  |
//! | 16 x 4 KiB   | 1    | 4 x 512 (2 KiB)      | 2113    | 2170     | 15  |
//! | 16 x 4 KiB   | 4    | 8 x 128 (1 KiB)      | 1113    | 1172     | 45  |
//! | 16 x 4 KiB   | 4    | 4 x 128 (512 B)      | 577     | 636      | 90  |
//! | 16 x 4 KiB   | 32   | 4 x 128 (512 B)      | 577     | 672      | 90  |
//!
//! Code: about 28 KiB of text and 2 KiB of rodata on `thumbv7em-none-eabihf` (opt-level `s`,
//! LTO) for open, enroll, update, get, delete, list and capacity together, template decoding,
//! ChaCha20, Poly1305 and `sequential-storage` included. RAM: the store is 4.6 KiB (two
//! 2240-byte buffers); `get` returns a [`Template`] by value (2.2 KiB).
//!
//! **When not to use it.** Flash without bit-clearing rewrites (`MultiwriteNorFlash`, e.g. ECC
//! flash that forbids a second write to a word) cannot `delete`. There is no rollback
//! protection: someone who can rewrite the flash can restore an older genuine record.
//!
//! The API is blocking: `sequential-storage` is async, and each call is driven to completion
//! with `embassy_futures::block_on` (no_std, no allocation). A blocking flash driver is wrapped
//! in [`Blocking`].

pub mod blocking;
pub mod capacity;
pub mod crypto;
pub mod error;
pub mod record;
#[cfg(any(test, feature = "std"))]
pub mod sim;
#[cfg(test)]
mod tests;

use core::ops::Range;

use embassy_futures::block_on;
use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};
use sequential_storage::cache::{Cache, CacheImpl, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
use siamedge_format::{ModelId, Template};

pub use blocking::Blocking;
pub use capacity::{item_len, template_item_len, Capacity};
pub use crypto::{FixedKeys, KeyError, KeyProvider};
pub use error::StoreError;
pub use record::{MAX_RECORD_LEN, RECORD_OVERHEAD};

/// Length of each of the store's two buffers: key and the longest record, rounded up to the
/// largest flash word `sequential-storage` supports (32 bytes).
pub const BUFFER_LEN: usize = (capacity::KEY_LEN + MAX_RECORD_LEN).next_multiple_of(32);

/// The cache used by [`TemplateStore::open`]: none (every lookup scans the flash range).
pub type NoCache = Cache<Uncached, Uncached, Uncached, u32>;

/// One enrolled subject as [`TemplateStore::list`] reports it, without decrypting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The subject id.
    pub subject: u32,
    /// The model id from the record's clear header (`None` if the header is malformed). Not
    /// authenticated: `get` checks it.
    pub model: Option<ModelId>,
    /// Length of the sealed record in bytes.
    pub record_len: usize,
}

#[repr(C, align(4))]
struct Buffer([u8; BUFFER_LEN]);

type Result<T, S> =
    core::result::Result<T, StoreError<<S as embedded_storage_async::nor_flash::ErrorType>::Error>>;

/// Encrypted templates on a NOR flash range, keyed by subject id (see the module docs).
///
/// `S` is the (async) NOR flash, `K` the key provider, `C` a `sequential-storage` cache.
pub struct TemplateStore<S: NorFlash, K: KeyProvider, C: CacheImpl<u32> = NoCache> {
    map: MapStorage<u32, S, C>,
    keys: K,
    data: Buffer,
    record: Buffer,
}

impl<S: MultiwriteNorFlash, K: KeyProvider> TemplateStore<S, K, NoCache> {
    /// A store on `range` of `flash` (whole erase pages, at least two), without a cache. An
    /// erased range is an empty store; a range written by this store before is opened as it is.
    /// Nothing is written until the first change.
    pub fn open(flash: S, range: Range<u32>, keys: K) -> Result<Self, S> {
        Self::open_with_cache(flash, range, keys, Cache::new_uncached())
    }
}

impl<S: MultiwriteNorFlash, K: KeyProvider, C: CacheImpl<u32>> TemplateStore<S, K, C> {
    /// Like [`TemplateStore::open`], with a `sequential-storage` cache (new, or from a store
    /// over the same, unchanged flash). Its page arrays must have at least as many entries as
    /// the range has pages (`sequential-storage` panics on a smaller one); a key array smaller
    /// than the number of subjects only caches fewer of them.
    pub fn open_with_cache(flash: S, range: Range<u32>, keys: K, cache: C) -> Result<Self, S> {
        if range.end as usize > flash.capacity() || range.end < range.start {
            return Err(StoreError::Config {
                start: range.start,
                end: range.end,
                erase_size: S::ERASE_SIZE,
                reason: "the range is not inside the chip",
            });
        }
        let config = MapConfig::<S>::try_new(range.clone())
            .map_err(|e| StoreError::config(&range, S::ERASE_SIZE, e))?;
        Ok(Self {
            map: MapStorage::new(flash, config, cache),
            keys,
            data: Buffer([0; BUFFER_LEN]),
            record: Buffer([0; BUFFER_LEN]),
        })
    }

    /// Hands back the flash and the key provider.
    pub fn release(self) -> (S, K) {
        (self.map.destroy().0, self.keys)
    }

    /// The flash range the store uses.
    pub fn range(&self) -> Range<u32> {
        self.map.flash_range()
    }

    /// The largest item one page holds, in flash bytes.
    pub fn max_item_len() -> usize {
        capacity::page_data_len::<S>()
    }

    fn map_err(
        &self,
        e: sequential_storage::Error<S::Error>,
        subject: u32,
        record_len: usize,
    ) -> StoreError<S::Error> {
        StoreError::from_map(e, subject, item_len::<S>(record_len), Self::max_item_len())
    }

    /// Whether `subject` is enrolled (reads the record, does not decrypt it).
    pub fn contains(&mut self, subject: u32) -> Result<bool, S> {
        let found = block_on(self.map.fetch_item::<&[u8]>(&mut self.data.0, &subject));
        match found {
            Ok(v) => Ok(v.is_some()),
            Err(e) => Err(self.map_err(e, subject, 0)),
        }
    }

    /// Enrolls a new subject (`template.subject()`): [`StoreError::AlreadyEnrolled`] if the
    /// subject has a template, [`StoreError::Full`] if there is no room.
    pub fn enroll(&mut self, template: &Template) -> Result<(), S> {
        let subject = template.subject();
        if self.contains(subject)? {
            return Err(StoreError::AlreadyEnrolled { subject });
        }
        self.put(template)
    }

    /// Replaces the template of an enrolled subject: [`StoreError::NotEnrolled`] if there is
    /// none. On power loss the old or the new template survives, whole.
    pub fn update(&mut self, template: &Template) -> Result<(), S> {
        let subject = template.subject();
        if !self.contains(subject)? {
            return Err(StoreError::NotEnrolled { subject });
        }
        self.put(template)
    }

    /// Stores `template` under its subject, enrolled or not, and reads it back
    /// ([`StoreError::NotReadBack`] if the flash does not return it).
    pub fn put(&mut self, template: &Template) -> Result<(), S> {
        let subject = template.subject();
        let len = record::seal(template, &mut self.keys, &mut self.record.0)?;
        let record: &[u8] = &self.record.0[..len];
        let stored = block_on(self.map.store_item(&mut self.data.0, &subject, &record));
        stored.map_err(|e| self.map_err(e, subject, len))?;
        // Read back: on damaged flash (a corrupted item header, worn cells) a write can succeed
        // where the reader will not find it. Ok means the record is there.
        let back = block_on(self.map.fetch_item::<&[u8]>(&mut self.data.0, &subject));
        match back {
            Ok(Some(r)) if r == &self.record.0[..len] => Ok(()),
            Ok(_) => Err(StoreError::NotReadBack { subject }),
            Err(e) => Err(self.map_err(e, subject, len)),
        }
    }

    /// Deletes a subject's template: [`StoreError::NotEnrolled`] if there is none.
    pub fn delete(&mut self, subject: u32) -> Result<(), S> {
        if !self.contains(subject)? {
            return Err(StoreError::NotEnrolled { subject });
        }
        let removed = block_on(self.map.remove_item(&mut self.data.0, &subject));
        removed.map_err(|e| self.map_err(e, subject, 0))
    }

    /// The template of `subject`, authenticated and decoded; `None` if not enrolled. A record
    /// that fails authentication is [`StoreError::Tampered`] (wrong key included).
    pub fn get(&mut self, subject: u32) -> Result<Option<Template>, S> {
        let found = block_on(self.map.fetch_item::<&[u8]>(&mut self.data.0, &subject));
        let record = match found {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(e) => return Err(StoreError::from_map(e, subject, 0, Self::max_item_len())),
        };
        record::open(subject, record, &mut self.keys, &mut self.record.0).map(Some)
    }

    /// The enrolled subjects, in the order they were last written (unauthenticated: see
    /// [`Entry`]). [`StoreError::ListFull`] when there are more than `N`.
    pub fn list<const N: usize>(&mut self) -> Result<heapless::Vec<Entry, N>, S> {
        let mut out: heapless::Vec<Entry, N> = heapless::Vec::new();
        let max = Self::max_item_len();
        let mut iter = match block_on(self.map.fetch_all_items(&mut self.data.0)) {
            Ok(it) => it,
            Err(e) => return Err(StoreError::from_map(e, 0, 0, max)),
        };
        loop {
            // Items come oldest first; a key seen again is a newer version of the same record.
            let item = match block_on(iter.next::<&[u8]>(&mut self.data.0)) {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => return Err(StoreError::from_map(e, 0, 0, max)),
            };
            let (subject, record) = item;
            let entry = Entry {
                subject,
                model: record::peek::<()>(subject, record).ok().map(|h| h.model),
                record_len: record.len(),
            };
            if let Some(i) = out.iter().position(|e| e.subject == subject) {
                out.remove(i);
            }
            out.push(entry)
                .map_err(|_| StoreError::ListFull { capacity: N })?;
        }
        Ok(out)
    }

    /// How full the store is; lists the subjects on the way, so `N` bounds them as in
    /// [`TemplateStore::list`].
    pub fn capacity<const N: usize>(&mut self) -> Result<Capacity, S> {
        let entries = self.list::<N>()?;
        let range = self.range();
        let pages = (range.end - range.start) as usize / S::ERASE_SIZE;
        let page_bytes = capacity::page_data_len::<S>();
        let usable_bytes = pages.saturating_sub(1) * page_bytes;
        let live_bytes = entries.iter().map(|e| item_len::<S>(e.record_len)).sum();
        Ok(Capacity {
            records: entries.len(),
            live_bytes,
            pages,
            page_bytes,
            usable_bytes,
            free_bytes: usable_bytes.saturating_sub(live_bytes),
            max_item_len: Self::max_item_len(),
        })
    }

    /// Erases the whole range: every template is gone (factory reset). Not atomic: after a
    /// power cut during it, call it again.
    pub fn erase_all(&mut self) -> Result<(), S> {
        let erased = block_on(self.map.erase_all());
        erased.map_err(|e| StoreError::from_map(e, 0, 0, Self::max_item_len()))
    }
}
