//! siamedge-firmware: the device code of a Cortex-M verifier, `no_std` and without an allocator,
//! on the int8 [`engine`] (`siamedge-engine`, re-exported).
//!
//! - [`Verifier`]: 1:1 and 1:N decisions over templates held in RAM or decoded from flash, with
//!   the model file's metric and thresholds (or an override), using the exact integer distances
//!   of `siamedge-format`.
//! - [`enroll`]ment: several captures of one subject kept or averaged into one template.
//! - [`preprocess`]: camera frames cropped and resized into the model input, signature strokes
//!   rasterized.
//! - [`drivers`]: embedded-hal 1.0 drivers (ArduCAM Mini 2MP camera, FT6x06 touch pad, status LED).
//! - [`store`]: the encrypted, power-fail-safe template store on NOR flash.
//!
//! Features: `std` (host helpers, e.g. `engine::run_model`), `dsp` (the engine's packed SMLAD
//! kernels on Cortex-M4/M7, emulated bit-exactly elsewhere), `defmt` (logging and
//! `defmt::Format` on errors).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]

pub mod drivers;
pub mod enroll;
pub mod preprocess;
pub mod store;
pub mod verifier;

pub use enroll::{enroll, EnrollPolicy};
/// The int8 engine the device code runs on (the `siamedge-engine` crate, re-exported so that a
/// board depends on one crate).
pub use siamedge_engine as engine;
pub use siamedge_engine::{quantize_image, Arena, Engine, EngineError};
pub use verifier::Verifier;
