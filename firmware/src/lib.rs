//! siamedge-firmware: verification on Cortex-M class MCUs, `no_std` and without an allocator.
//!
//! What is here now: the [`Verifier`], which decides 1:1 and 1:N over templates held in RAM or
//! decoded from flash, with the model file's metric and thresholds (or an override), using the
//! exact integer distances of `siamedge-format`. The int8 inference engine, on-device
//! preprocessing, drivers and the flash template store come with the firmware work.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]

pub mod drivers;
pub mod enroll;
pub mod preprocess;
pub mod store;
pub mod verifier;

pub use enroll::{enroll, EnrollPolicy};
pub use verifier::Verifier;
