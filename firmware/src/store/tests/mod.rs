//! Tests of the template store: round trips, tampering, wrong key, capacity and full store
//! here; power loss at every write in `power_loss`, random sequences against a model in `model`,
//! corrupted flash images in `corruption`.

mod common;
mod corruption;
mod model;
mod power_loss;

use std::vec::Vec;

use embassy_futures::block_on;
use siamedge_format::{EmbeddingRef, ModelId, Template};

use super::sim::SimFlash;
use super::*;

const MODEL: ModelId = ModelId([0x5a; 16]);
const KEY: [u8; 32] = [0x11; 32];

/// A template of `count` embeddings of `dim` values, all derived from `seed`.
fn template(subject: u32, seed: u8, count: usize, dim: usize) -> Template {
    let row = |k: usize| -> Vec<i8> {
        (0..dim)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(seed)
                    .wrapping_add(k as u8) as i8
            })
            .collect()
    };
    let e = |values: &[i8]| -> Template {
        Template::new(
            subject,
            EmbeddingRef {
                model: MODEL,
                scale: 0.5,
                values,
            },
        )
        .expect("valid embedding")
    };
    let mut t = e(&row(0));
    for k in 1..count {
        t.add(EmbeddingRef {
            model: MODEL,
            scale: 0.25,
            values: &row(k),
        })
        .expect("fits");
    }
    t.with_label("subject").expect("short label")
}

type Small = Blocking<SimFlash<1024, 4>>;

fn small_store(pages: usize) -> TemplateStore<Small, FixedKeys> {
    let flash = Blocking(SimFlash::new(pages));
    let end = (pages * 1024) as u32;
    TemplateStore::open(flash, 0..end, FixedKeys::new(KEY, 1)).expect("valid range")
}

#[test]
fn enroll_get_update_delete_list() {
    let mut s = small_store(4);
    assert_eq!(s.get(1), Ok(None));
    let a = template(1, 1, 2, 32);
    let b = template(2, 2, 1, 64);
    s.enroll(&a).unwrap();
    s.enroll(&b).unwrap();
    assert_eq!(
        s.enroll(&a),
        Err(StoreError::AlreadyEnrolled { subject: 1 })
    );
    assert_eq!(s.get(1).unwrap().as_ref(), Some(&a));
    assert_eq!(s.get(2).unwrap().as_ref(), Some(&b));
    let a2 = template(1, 9, 3, 32);
    s.update(&a2).unwrap();
    assert_eq!(s.get(1).unwrap().as_ref(), Some(&a2));
    assert_eq!(
        s.update(&template(3, 0, 1, 8)),
        Err(StoreError::NotEnrolled { subject: 3 })
    );
    let list = s.list::<8>().unwrap();
    let subjects: Vec<u32> = list.iter().map(|e| e.subject).collect();
    assert_eq!(subjects, [2, 1], "last written last");
    assert!(list.iter().all(|e| e.model == Some(MODEL)));
    assert_eq!(
        list[1].record_len,
        a2.encoded_len().unwrap() + RECORD_OVERHEAD
    );
    assert_eq!(s.list::<1>(), Err(StoreError::ListFull { capacity: 1 }));
    s.delete(2).unwrap();
    assert_eq!(s.delete(2), Err(StoreError::NotEnrolled { subject: 2 }));
    assert_eq!(s.get(2), Ok(None));
    assert!(!s.contains(2).unwrap());
    assert_eq!(s.list::<8>().unwrap().len(), 1);

    // Everything is on the flash: a new store over it sees the same.
    let (flash, _) = s.release();
    let mut s = TemplateStore::open(flash, 0..4096, FixedKeys::new(KEY, 2)).unwrap();
    assert_eq!(s.get(1).unwrap().as_ref(), Some(&a2));
    assert_eq!(s.get(2), Ok(None));
    s.erase_all().unwrap();
    assert_eq!(s.list::<8>().unwrap().len(), 0);
}

#[test]
fn flash_holds_no_plaintext() {
    let mut s = small_store(2);
    let t = template(7, 3, 1, 64);
    s.enroll(&t).unwrap();
    let (flash, _) = s.release();
    let emb: Vec<u8> = t
        .embedding(0)
        .unwrap()
        .values
        .iter()
        .map(|&v| v as u8)
        .collect();
    let bytes = flash.inner().bytes();
    assert!(!bytes.windows(16).any(|w| w == &emb[..16]));
    assert!(!bytes.windows(7).any(|w| w == b"subject"));
}

/// Reads the raw record of `subject` and writes `edit(record)` under `target` with a valid item
/// CRC: what someone who can write the flash and knows the storage format can do.
fn rewrite_record(
    s: &mut TemplateStore<Small, FixedKeys>,
    subject: u32,
    target: u32,
    edit: impl FnOnce(&mut Vec<u8>),
) {
    let mut raw = block_on(s.map.fetch_item::<&[u8]>(&mut s.data.0, &subject))
        .unwrap()
        .unwrap()
        .to_vec();
    edit(&mut raw);
    block_on(s.map.store_item(&mut s.data.0, &target, &&raw[..])).unwrap();
}

#[test]
fn tampered_records_are_rejected() {
    /// What is changed, the subject it is then stored under, and the change.
    type Case = (&'static str, u32, fn(&mut Vec<u8>));
    let cases: [Case; 5] = [
        ("ciphertext bit", 1, |r| {
            r[record::RECORD_HEADER_LEN + 10] ^= 0x01
        }),
        ("tag byte", 1, |r| {
            let n = r.len();
            r[n - 1] ^= 0x80
        }),
        ("nonce byte", 1, |r| r[20] ^= 0x04),
        ("model id in header", 1, |r| r[1] ^= 0x01),
        ("moved to another subject", 2, |_| {}),
    ];
    for (what, target, edit) in cases {
        let mut s = small_store(4);
        s.enroll(&template(1, 1, 2, 32)).unwrap();
        s.enroll(&template(2, 2, 2, 32)).unwrap();
        rewrite_record(&mut s, 1, target, edit);
        assert_eq!(
            s.get(target),
            Err(StoreError::Tampered { subject: target }),
            "{what}"
        );
        // The other subject is untouched.
        let other = 3 - target;
        if target == 1 {
            assert_eq!(
                s.get(other).unwrap(),
                Some(template(other, other as u8, 2, 32))
            );
        }
    }

    let mut s = small_store(4);
    s.enroll(&template(1, 1, 2, 32)).unwrap();
    rewrite_record(&mut s, 1, 1, |r| r[0] = 7);
    assert_eq!(
        s.get(1),
        Err(StoreError::BadRecord {
            subject: 1,
            field: "version",
            value: 7
        })
    );
    rewrite_record(&mut s, 1, 1, |r| r.truncate(RECORD_OVERHEAD));
    assert!(matches!(
        s.get(1),
        Err(StoreError::BadRecord {
            field: "length",
            ..
        })
    ));
    let listed = s.list::<4>().unwrap();
    assert_eq!(
        listed[0].model, None,
        "malformed header listed without model"
    );
}

#[test]
fn raw_flash_corruption_never_yields_altered_data() {
    // Flipping any single byte of the record's item on flash (without fixing the item CRC) must
    // never give back anything but the enrolled template, nothing, or a typed error.
    let t = template(5, 5, 1, 48);
    let mut base = small_store(2);
    base.enroll(&t).unwrap();
    let (flash, _) = base.release();
    let image = flash.inner().bytes().to_vec();
    let used: Vec<usize> = (0..image.len()).filter(|&i| image[i] != 0xFF).collect();
    assert!(used.len() > t.encoded_len().unwrap());
    let mut rejected = 0;
    for &i in &used {
        let mut f = SimFlash::<1024, 4>::new(2);
        f.bytes_mut().copy_from_slice(&image);
        f.bytes_mut()[i] ^= 0x10;
        let mut s = TemplateStore::open(Blocking(f), 0..2048, FixedKeys::new(KEY, 3)).unwrap();
        match s.get(5) {
            Ok(Some(back)) => assert_eq!(back, t, "byte {i}"),
            Ok(None) | Err(_) => rejected += 1,
        }
    }
    // A flipped ciphertext or tag byte breaks the item CRC: the record is dropped.
    assert!(
        rejected >= t.encoded_len().unwrap(),
        "{rejected} of {}",
        used.len()
    );
}

#[test]
fn wrong_key_is_tampered() {
    let mut s = small_store(2);
    s.enroll(&template(4, 4, 1, 16)).unwrap();
    let (flash, _) = s.release();
    let mut other = [0x11; 32];
    other[31] = 0x12;
    let mut s = TemplateStore::open(flash, 0..2048, FixedKeys::new(other, 1)).unwrap();
    assert_eq!(s.get(4), Err(StoreError::Tampered { subject: 4 }));
    assert!(s.contains(4).unwrap());
}

#[test]
fn failing_key_provider_is_typed() {
    struct NoEntropy;
    impl KeyProvider for NoEntropy {
        fn key(&mut self, key: &mut [u8; 32]) -> core::result::Result<(), KeyError> {
            *key = KEY;
            Ok(())
        }
        fn nonce(&mut self, _: &mut [u8; 12]) -> core::result::Result<(), KeyError> {
            Err(KeyError::EntropyUnavailable)
        }
    }
    let mut s =
        TemplateStore::open(Blocking(SimFlash::<1024, 4>::new(2)), 0..2048, NoEntropy).unwrap();
    assert_eq!(
        s.enroll(&template(1, 1, 1, 8)),
        Err(StoreError::Key(KeyError::EntropyUnavailable))
    );
    assert_eq!(s.get(1), Ok(None));
}

#[test]
fn bad_ranges_are_config_errors() {
    let open = |r: core::ops::Range<u32>| {
        TemplateStore::open(
            Blocking(SimFlash::<1024, 4>::new(4)),
            r,
            FixedKeys::new(KEY, 1),
        )
        .err()
    };
    assert!(
        matches!(open(0..1024), Some(StoreError::Config { reason, .. }) if reason.contains("two pages"))
    );
    assert!(
        matches!(open(512..4096), Some(StoreError::Config { reason, .. }) if reason.contains("start"))
    );
    assert!(
        matches!(open(0..3000), Some(StoreError::Config { reason, .. }) if reason.contains("end"))
    );
    assert!(
        matches!(open(0..8192), Some(StoreError::Config { reason, .. }) if reason.contains("inside"))
    );
    assert!(open(1024..4096).is_none());
}

#[test]
fn record_larger_than_a_page_is_typed() {
    let mut s = small_store(4);
    let big = template(9, 1, 4, 256); // ~1 KiB of values: more than a 1 KiB page holds
    let len = big.encoded_len().unwrap() + RECORD_OVERHEAD;
    assert_eq!(
        s.enroll(&big),
        Err(StoreError::RecordTooBig {
            subject: 9,
            item_len: item_len::<Small>(len),
            max: 1024 - 8
        })
    );
    assert_eq!(s.get(9), Ok(None));
}

/// Fills a store with one template size until it is full; returns how many fitted.
fn fill<const PAGE: usize, const WORD: usize>(
    pages: usize,
    count: usize,
    dim: usize,
) -> (usize, Capacity, Capacity) {
    let flash = Blocking(SimFlash::<PAGE, WORD>::new(pages));
    let mut s =
        TemplateStore::open(flash, 0..(pages * PAGE) as u32, FixedKeys::new(KEY, 1)).unwrap();
    let empty = s.capacity::<512>().unwrap();
    let mut n = 0u32;
    loop {
        match s.enroll(&template(n, n as u8, count, dim)) {
            Ok(()) => n += 1,
            Err(StoreError::Full { subject, .. }) => {
                assert_eq!(subject, n);
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let full = s.capacity::<512>().unwrap();
    assert_eq!(full.records, n as usize);
    // Everything enrolled reads back, a delete makes room again.
    for k in 0..n {
        assert_eq!(s.get(k).unwrap(), Some(template(k, k as u8, count, dim)));
    }
    if n > 0 {
        s.delete(0).unwrap();
        s.enroll(&template(n, n as u8, count, dim)).unwrap();
    }
    (n as usize, empty, full)
}

#[test]
fn full_store_and_capacity_report() {
    // (page, word, pages, embeddings x dim) -> measured capacity vs the report's estimate.
    let mut rows = Vec::new();
    macro_rules! case {
        ($page:literal, $word:literal, $pages:expr, $count:expr, $dim:expr) => {{
            let (n, empty, full) = fill::<$page, $word>($pages, $count, $dim);
            let encoded = template(0, 0, $count, $dim).encoded_len().unwrap();
            let item = template_item_len::<Blocking<SimFlash<$page, $word>>>(encoded);
            assert_eq!(empty.records, 0);
            assert_eq!(empty.live_bytes, 0);
            assert_eq!(full.live_bytes, n * item);
            assert_eq!(empty.more_fitting(item), n, "estimate for {}x{} on {}B pages", $count, $dim, $page);
            assert_eq!(full.more_fitting(item), 0);
            rows.push(format!(
                "{:>6} B pages x {:>2} ({:>3} KiB), word {:>2}: {}x{:<4} template {:>5} B -> item {:>5} B (+{} B), {:>3} fit",
                $page, $pages, $page * $pages / 1024, $word, $count, $dim, encoded, item, item - encoded, n
            ));
        }};
    }
    case!(4096, 4, 16, 4, 512); // 2 KiB-class template on 4 KiB sectors
    case!(8192, 4, 8, 4, 512);
    case!(4096, 1, 16, 4, 512); // SPI NOR: 1-byte writes
    case!(4096, 4, 16, 8, 128); // 1 KiB-class
    case!(4096, 4, 16, 4, 128); // 512 B-class
    case!(4096, 32, 16, 4, 128); // 256-bit flash words (STM32H7)
    for r in &rows {
        println!("{r}");
    }
}

#[test]
fn a_key_cache_changes_nothing_but_speed() {
    use sequential_storage::cache::key_pointers::ArrayKeyPointers;
    use sequential_storage::cache::page_pointers::ArrayPagePointers;
    use sequential_storage::cache::page_states::ArrayPageStates;
    let cache = Cache::new(
        ArrayPageStates::<4>::new(),
        ArrayPagePointers::<4>::new(),
        ArrayKeyPointers::<u32, 8>::new(),
    );
    let mut cached = TemplateStore::open_with_cache(
        Blocking(SimFlash::<1024, 4>::new(4)),
        0..4096,
        FixedKeys::new(KEY, 1),
        cache,
    )
    .unwrap();
    let mut plain = small_store(4);
    for step in 0..60u32 {
        let s = step % 5;
        let t = template(s, step as u8, 1 + (step as usize % 3), 24);
        let (a, b) = match step % 4 {
            0 | 1 => (cached.put(&t), plain.put(&t)),
            2 => (cached.delete(s), plain.delete(s)),
            _ => (cached.enroll(&t), plain.enroll(&t)),
        };
        assert_eq!(a, b, "step {step}");
        for k in 0..5 {
            assert_eq!(cached.get(k), plain.get(k), "step {step}, subject {k}");
        }
    }
    let (f, _) = cached.release();
    let (g, _) = plain.release();
    assert_eq!(f.inner().bytes(), g.inner().bytes(), "same flash image");
}

#[test]
fn ram_footprint() {
    // Two record buffers of the longest record (key + 2215-byte record, rounded to 32 bytes)
    // and the map's state: what a `static` store costs.
    assert_eq!(MAX_RECORD_LEN, Template::MAX_ENCODED_LEN + 45);
    assert_eq!(BUFFER_LEN, 2240);
    let size = core::mem::size_of::<TemplateStore<Small, FixedKeys>>();
    println!(
        "TemplateStore (no cache, FixedKeys): {size} B; Template: {} B",
        core::mem::size_of::<Template>()
    );
    assert!(size <= 2 * BUFFER_LEN + 128, "{size}");
}
