#![no_main]
//! TestVectors::decode (the board's `SGTV` test-vector files) on arbitrary bytes, as they are
//! and with the CRC-32 recomputed (so mutations reach the field checks): never panics, and every
//! accessor of an accepted file answers within its bounds.

use libfuzzer_sys::fuzz_target;
use siamedge_format::vectors::TestVectors;
use siamedge_format::crc::crc32;

fn check(bytes: &[u8]) {
    let Ok(v) = TestVectors::decode(bytes) else {
        return;
    };
    for i in 0..v.images() {
        let input = v.input(i).expect("an accepted image index has an input");
        assert_eq!(input.len(), v.input_len());
        assert_eq!(v.embedding(i).map(<[i8]>::len), Some(v.dim()));
    }
    assert!(v.input(v.images()).is_none());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        let body = fixed.len() - 4;
        let crc = crc32(&fixed[..body]);
        fixed[body..].copy_from_slice(&crc.to_le_bytes());
        check(&fixed);
    }
});
