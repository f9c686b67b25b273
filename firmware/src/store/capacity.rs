//! [`Capacity`]: how full the template store is, in records and flash bytes.
//!
//! Every record is one `sequential-storage` item: an item header (8 bytes rounded up to the
//! flash word), then the key (the 4-byte subject id) and the sealed record, padded to the word.
//! Items never span pages; each page spends two words on its state markers; one page is always
//! kept erased as the buffer that garbage collection copies live records into. So a range of
//! `pages` pages holds at most `(pages - 1) * floor(page_data / item)` records of one size.

use embedded_storage_async::nor_flash::NorFlash;

use super::record::RECORD_OVERHEAD;

/// Bytes of the subject id key stored in every item.
pub const KEY_LEN: usize = 4;

/// The larger of the flash's read and write sizes: the unit `sequential-storage` pads to.
pub(crate) const fn word<S: NorFlash>() -> usize {
    if S::WRITE_SIZE > S::READ_SIZE {
        S::WRITE_SIZE
    } else {
        S::READ_SIZE
    }
}

/// Flash bytes of the item header on flash `S`.
pub(crate) const fn item_header_len<S: NorFlash>() -> usize {
    8usize.next_multiple_of(word::<S>())
}

/// Flash bytes one record of `record_len` bytes takes on flash `S`: item header, key and
/// record, padded to the word.
pub const fn item_len<S: NorFlash>(record_len: usize) -> usize {
    item_header_len::<S>() + (KEY_LEN + record_len).next_multiple_of(word::<S>())
}

/// Flash bytes one template of `encoded_len` bytes (its `siamedge-format` file length) takes on
/// flash `S`, encryption and storage overhead included.
pub const fn template_item_len<S: NorFlash>(encoded_len: usize) -> usize {
    item_len::<S>(encoded_len + RECORD_OVERHEAD)
}

/// Bytes for items in one page of flash `S` (the page less its two state words).
pub(crate) const fn page_data_len<S: NorFlash>() -> usize {
    S::ERASE_SIZE.saturating_sub(2 * word::<S>())
}

/// How full the store is. Byte counts are flash bytes, headers and padding included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Enrolled subjects.
    pub records: usize,
    /// Flash bytes of the current records.
    pub live_bytes: usize,
    /// Pages in the store's flash range.
    pub pages: usize,
    /// Bytes for items in one page.
    pub page_bytes: usize,
    /// Item bytes the store can hold at once: all pages but the buffer page.
    pub usable_bytes: usize,
    /// `usable_bytes - live_bytes`: room left, before page packing.
    pub free_bytes: usize,
    /// The largest item (record with header and key) one page holds.
    pub max_item_len: usize,
}

impl Capacity {
    /// How many more items of `item_len` flash bytes (see [`item_len`]) fit, counting whole
    /// items per page as the store does when it packs one record size; `0` when none fit.
    /// With records of mixed sizes this is an estimate (pages pack unevenly).
    pub fn more_fitting(&self, item_len: usize) -> usize {
        if item_len == 0 || item_len > self.max_item_len {
            return 0;
        }
        let per_page = self.page_bytes / item_len;
        let slots = self.pages.saturating_sub(1) * per_page;
        let by_bytes = self.free_bytes / item_len;
        slots.saturating_sub(self.records).min(by_bytes)
    }
}
