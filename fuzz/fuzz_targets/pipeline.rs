#![no_main]
//! Pipeline::decode on arbitrary bytes: never panics, and what it accepts re-encodes with
//! `PipelineSpec` to the same bytes.

use libfuzzer_sys::fuzz_target;
use siamedge_format::{FileKind, Pipeline, PipelineSpec};

#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    if let Ok(p) = Pipeline::decode(bytes) {
        let again = PipelineSpec::from_pipeline(&p)
            .to_bytes()
            .expect("an accepted pipeline re-encodes");
        assert_eq!(again, bytes);
        assert_eq!(Pipeline::decode(&again), Ok(p));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Pipeline, data) {
        check(&fixed);
    }
});
