#![no_main]
//! Embedding::decode on arbitrary bytes: never panics, and what it accepts round-trips.

use libfuzzer_sys::fuzz_target;
use siamedge_format::{Embedding, FileKind};

#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    if let Ok(e) = Embedding::decode(bytes) {
        let again = e.to_bytes().expect("an accepted embedding re-encodes");
        assert_eq!(Embedding::decode(&again), Ok(e));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Embedding, data) {
        check(&fixed);
    }
});
