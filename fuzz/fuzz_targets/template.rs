#![no_main]
//! Template::decode on arbitrary bytes: never panics, and what it accepts round-trips through the
//! allocation-free encoder.

use libfuzzer_sys::fuzz_target;
use siamedge_format::{FileKind, Template};

#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    if let Ok(t) = Template::decode(bytes) {
        let mut buf = [0u8; Template::MAX_ENCODED_LEN];
        let again = t
            .encode_to_slice(&mut buf)
            .expect("an accepted template re-encodes");
        assert_eq!(Template::decode(again), Ok(t));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Template, data) {
        check(&fixed);
    }
});
