//! Cross-crate tests live in `tests/tests/`; this library holds what they and the tools in
//! `src/bin/` share: [`board`], the model and test vectors for the firmware boards.
#![warn(missing_docs)]

pub mod board;
