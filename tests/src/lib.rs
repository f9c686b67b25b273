//! Cross-crate tests live in `tests/tests/`; this library holds what they and the tools in
//! `src/bin/` share: [`board`], the model and test vectors for the firmware boards, and [`skip`],
//! how a test skips (or, in the strict run, fails) when its data or tool is missing.
#![warn(missing_docs)]

pub mod board;
pub mod skip;
