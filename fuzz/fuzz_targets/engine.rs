#![no_main]
//! The firmware's int8 engine on every model file Model::decode accepts (arbitrary bytes, and
//! the same bytes resealed so mutations reach the layer checks): preparing never panics, a run
//! never panics, and the engine gives the same output whether or not the arena leaves room for
//! the packed (DSP-layout) kernels' scratch, which fall back to the reference kernels.

use libfuzzer_sys::fuzz_target;
use siamedge_engine::{dsp, needed_arena_bytes, Engine};
use siamedge_format::{FileKind, Model};

#[path = "reseal.rs"]
mod reseal;

/// Larger models would make single runs slow enough to trip libFuzzer's timeout.
const MAX_ARENA: usize = 1 << 20;
const MAX_MACS: u64 = 20_000_000;

fn run(model: &Model<'_>, arena: usize, input: &[i8]) -> Option<Vec<i8>> {
    let mut buffer = vec![0i8; arena];
    let mut engine = Engine::with_buffer(model, &mut buffer).ok()?;
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
    let (least, roomy) = (needed_arena_bytes(&model), dsp::arena_bytes(&model));
    if roomy > MAX_ARENA {
        return;
    }
    let input: Vec<i8> = bytes.iter().rev().map(|&b| b as i8).collect();
    if least > 0 {
        // One byte short of the least arena is a typed error, not a crash.
        let mut small = vec![0i8; least - 1];
        assert!(Engine::with_buffer(&model, &mut small).is_err());
    }
    let tight = run(&model, least, &input);
    let wide = run(&model, roomy, &input);
    if let (Some(a), Some(b)) = (tight, wide) {
        assert_eq!(a, b, "packed kernels and their fallbacks disagree");
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = reseal::reseal(FileKind::Model, data) {
        check(&fixed);
    }
});
