//! siamedge-firmware: verification on Cortex-M class MCUs, `no_std` and without an allocator.
//!
//! What is here now: the [`Verifier`], which decides 1:1 and 1:N over templates held in RAM or
//! decoded from flash, with the model file's metric and thresholds (or an override), using the
//! exact integer distances of `siamedge-format`; and the int8 inference [`engine`], which runs a
//! model file in a static arena (the same code is the host's integer reference executor,
//! `engine::run_model`, feature `std`). On-device preprocessing, drivers and the flash template
//! store come with the firmware work.
//!
//! Features: `std` (host helpers such as `engine::run_model`), `dsp` (packed SMLAD kernels on
//! Cortex-M4/M7, emulated bit-exactly elsewhere).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]

pub mod engine;
pub mod verifier;

pub use engine::{quantize_image, Arena, Engine, EngineError};
pub use verifier::Verifier;
