#![no_main]
//! Model loading on arbitrary bytes, as the edge loads a model folder: the bytes as a model file
//! (`Model::decode`, resealed too, then the engine's prepare and one bounded run) and as an ONNX
//! file (`siamedge_edge::OnnxEncoder::from_bytes`: the graph check, then tract, then one run).
//!
//! The property is the one a user sees: no panic escapes. tract 0.22 unwraps on some malformed
//! graphs, and the encoder turns a panic inside tract into a typed error (`catch_unwind` around
//! each call into tract). libFuzzer's panic hook would abort at the first panic, caught or not, so
//! this target installs a hook that only records the panic, and aborts, printing it, when one
//! unwinds out of the code under test.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Once;

use engine_run::{run, MAX_ARENA};
use libfuzzer_sys::fuzz_target;
use siamedge_engine::{dsp, Kernels};
use siamedge_format::{FileKind, Model};

#[path = "engine_run.rs"]
mod engine_run;
#[path = "reseal.rs"]
mod reseal;

thread_local! {
    /// The last panic on this thread: its message and location, and where it was raised.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let trace = std::backtrace::Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{info}\n{trace}")));
        }))
    });
}

fn model_file(bytes: &[u8]) {
    let Ok(model) = Model::decode(bytes) else {
        return;
    };
    let arena = dsp::arena_bytes(&model);
    if arena <= MAX_ARENA {
        let input: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
        let _ = run(&model, arena, Kernels::best(), &input);
    }
}

fn onnx_file(bytes: &[u8]) {
    if let Ok(encoder) = siamedge_edge::OnnxEncoder::from_bytes(bytes, Path::new("fuzz.onnx")) {
        let (c, h, w) = encoder.input_shape();
        // A plan tract accepted runs any input of its size, or says why not.
        if c * h * w <= 1 << 16 {
            let _ = encoder.embed(&vec![0.5; c * h * w]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    record_panics();
    let escaped = std::panic::catch_unwind(|| {
        model_file(data);
        if let Some(fixed) = reseal::reseal(FileKind::Model, data) {
            model_file(&fixed);
        }
        onnx_file(data);
    });
    if escaped.is_err() {
        let what = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
        eprintln!("a panic escaped model loading: {what}");
        std::process::abort();
    }
});
