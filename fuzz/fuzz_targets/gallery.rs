#![no_main]
//! Gallery::decode on arbitrary bytes: never panics, and what it accepts round-trips.

use libfuzzer_sys::fuzz_target;
use siamedge_format::{FileKind, Gallery};

#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    if let Ok(g) = Gallery::decode(bytes) {
        let again = g.to_bytes().expect("an accepted gallery re-encodes");
        assert_eq!(Gallery::decode(&again), Ok(g));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Gallery, data) {
        check(&fixed);
    }
});
