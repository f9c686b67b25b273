#![no_main]
//! The firmware's int8 engine on every model file Model::decode accepts (arbitrary bytes, and
//! the same bytes resealed so mutations reach the layer checks): preparing never panics, a run
//! never panics, and the engine gives the same output whether or not the arena leaves room for
//! the packed (DSP-layout) kernels' scratch, which fall back to the reference kernels.

use engine_run::{run, MAX_ARENA};
use libfuzzer_sys::fuzz_target;
use siamedge_engine::{dsp, needed_arena_bytes, Engine, Kernels};
use siamedge_format::{FileKind, Model};

#[path = "engine_run.rs"]
mod engine_run;
#[path = "reseal.rs"]
mod reseal;

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
    let tight = run(&model, least, Kernels::best(), &input);
    let wide = run(&model, roomy, Kernels::best(), &input);
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
