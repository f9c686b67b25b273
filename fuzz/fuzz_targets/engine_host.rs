#![no_main]
//! The engine's host SIMD kernels on every model file Model::decode accepts (arbitrary bytes,
//! and the same bytes resealed so mutations reach the layer checks): preparing never panics, a
//! run never panics, and every instruction set this CPU has gives the reference kernels' output
//! with the least arena (all reference), the roomy one (every convolution and dense layer on
//! the host kernels) and one between (some each way).

use libfuzzer_sys::fuzz_target;
use siamedge_engine::host::{self, Isa};
use siamedge_engine::{needed_arena_bytes, Engine, Kernels};
use siamedge_format::{FileKind, Model};

#[path = "reseal.rs"]
mod reseal;

/// Larger models would make single runs slow enough to trip libFuzzer's timeout.
const MAX_ARENA: usize = 1 << 20;
const MAX_MACS: u64 = 20_000_000;

fn run(model: &Model<'_>, arena: usize, kernels: Kernels, input: &[i8]) -> Option<Vec<i8>> {
    let mut buffer = vec![0i8; arena];
    let mut engine = Engine::with_kernels(model, &mut buffer, kernels).ok()?;
    if engine.macs() > MAX_MACS {
        return None;
    }
    let x: Vec<i8> = (0..engine.input_len())
        .map(|i| input.get(i % input.len().max(1)).copied().unwrap_or(0))
        .collect();
    let expected = engine.output_len();
    let out = engine.run(&x).expect("an input of input_len values runs");
    assert_eq!(out.len(), expected);
    Some(out.to_vec())
}

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
