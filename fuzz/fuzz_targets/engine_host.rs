#![no_main]
//! The engine's host SIMD kernels on every model file Model::decode accepts (arbitrary bytes,
//! and the same bytes resealed so mutations reach the layer checks): preparing never panics, a
//! run never panics, and every instruction set this CPU has gives the reference kernels' output
//! with the least arena (all reference), the roomy one (every convolution and dense layer on
//! the host kernels) and one between (some each way).

use engine_run::{run, MAX_ARENA};
use libfuzzer_sys::fuzz_target;
use siamedge_engine::host::{self, Isa};
use siamedge_engine::{needed_arena_bytes, Kernels};
use siamedge_format::{FileKind, Model};

#[path = "engine_run.rs"]
mod engine_run;
#[path = "reseal.rs"]
mod reseal;

fn check(bytes: &[u8]) {
    let Ok(model) = Model::decode(bytes) else {
        return;
    };
    let (least, roomy) = (needed_arena_bytes(&model), host::arena_bytes(&model));
    if roomy > MAX_ARENA {
        return;
    }
    let input: Vec<i8> = bytes.iter().rev().map(|&b| b as i8).collect();
    let Some(reference) = run(&model, least, Kernels::Reference, &input) else {
        return;
    };
    let between = least + (roomy - least) / 2;
    for isa in Isa::all_available() {
        for size in [least, between, roomy] {
            let got = run(&model, size, Kernels::Simd(isa), &input);
            assert_eq!(
                got.as_deref(),
                Some(&reference[..]),
                "{isa:?} with an arena of {size} bytes disagrees with the reference kernels"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Model, data) {
        check(&fixed);
    }
});
