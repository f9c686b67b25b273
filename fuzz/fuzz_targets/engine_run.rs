//! Shared by the engine targets (included with `#[path]`): one bounded run of a decoded model.

use siamedge_engine::{Engine, Kernels};
use siamedge_format::Model;

/// Larger models would make single runs slow enough to trip libFuzzer's timeout.
pub const MAX_ARENA: usize = 1 << 20;
/// Models past this many MACs per run are skipped, for the same reason.
pub const MAX_MACS: u64 = 20_000_000;

/// `model` prepared in an arena of `arena` bytes with `kernels` and run on `input` repeated to
/// the model's input length: its output, or `None` when preparing refuses (a typed error) or the
/// model is too large to fuzz. A prepared engine must run any input of its length.
pub fn run(model: &Model<'_>, arena: usize, kernels: Kernels, input: &[i8]) -> Option<Vec<i8>> {
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
