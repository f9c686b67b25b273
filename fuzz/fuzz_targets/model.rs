#![no_main]
//! Model::decode on arbitrary bytes: never panics, and what it accepts encodes again.

use libfuzzer_sys::fuzz_target;
use siamedge_format::{FileKind, Model, ModelSpec};

#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    if let Ok(model) = Model::decode(bytes) {
        let again = ModelSpec::from_model(&model)
            .to_bytes()
            .expect("an accepted model re-encodes");
        let back = Model::decode(&again).expect("a re-encoded model decodes");
        assert_eq!(back.layers(), model.layers());
        assert_eq!(back.input(), model.input());
        assert_eq!(back.decision(), model.decision());
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Model, data) {
        check(&fixed);
    }
});
