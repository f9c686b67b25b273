//! Corrupted flash images: whatever the bytes, the store answers with templates that were
//! really written, nothing, or a typed error; it never panics, and it goes on accepting writes
//! where the damage leaves room.

use std::collections::BTreeMap;
use std::vec::Vec;

use proptest::prelude::*;

use super::common::{open, template};
use crate::store::sim::SimFlash;
use crate::store::Blocking;
use siamedge_format::Template;

const PAGES: usize = 4;

/// A flash image written by a run of enrolls, updates and deletes, and every template written
/// for each subject.
fn image() -> (Vec<u8>, BTreeMap<u32, Vec<Template>>) {
    let mut store = open(Blocking(SimFlash::<1024, 4>::new(PAGES)), 1);
    let mut written: BTreeMap<u32, Vec<Template>> = BTreeMap::new();
    for step in 0..40u32 {
        let s = step % 5;
        let t = template(s, step as u8, 1 + step as usize % 3, 24);
        if step % 7 == 6 {
            let _ = store.delete(s);
        } else {
            store.put(&t).expect("fits");
            written.entry(s).or_default().push(t);
        }
    }
    let (flash, _) = store.release();
    (flash.inner().bytes().to_vec(), written)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn corrupted_images_never_panic_nor_forge(
        edits in prop::collection::vec((0usize..PAGES * 1024, any::<u8>()), 1..12),
        random_image in any::<bool>(),
        fill in any::<u64>(),
    ) {
        let (mut bytes, written) = image();
        if random_image {
            // A chip full of noise (e.g. another program's data in the range).
            let mut z = fill;
            for b in bytes.iter_mut() {
                z = z.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = (z >> 56) as u8;
            }
        }
        for (at, value) in edits {
            bytes[at] = value;
        }
        let mut f = SimFlash::<1024, 4>::new(PAGES);
        f.bytes_mut().copy_from_slice(&bytes);
        let mut store = open(Blocking(f), 7);
        for s in 0..6u32 {
            if let Ok(Some(t)) = store.get(s) {
                let genuine = written.get(&s).is_some_and(|ts| ts.contains(&t));
                prop_assert!(genuine, "subject {s}: a template never written: {t:?}");
            }
        }
        let _ = store.list::<16>();
        let _ = store.capacity::<16>();
        let fresh = template(9, 99, 1, 8);
        if store.put(&fresh).is_ok() {
            prop_assert_eq!(store.get(9), Ok(Some(fresh)));
        }
        let _ = store.delete(0);
    }
}

/// Found by the property test above: one corrupted byte in an item header of a page in use
/// makes `sequential-storage` accept a write that its reader then does not find. The store's
/// read-back turns that silent loss into an error.
#[test]
fn a_write_lost_to_a_corrupted_header_is_an_error() {
    let (mut bytes, _) = image();
    bytes[1820] = 44;
    let mut f = SimFlash::<1024, 4>::new(PAGES);
    f.bytes_mut().copy_from_slice(&bytes);
    let mut store = open(Blocking(f), 7);
    assert_eq!(
        store.put(&template(9, 99, 1, 8)),
        Err(crate::store::StoreError::NotReadBack { subject: 9 })
    );
}
