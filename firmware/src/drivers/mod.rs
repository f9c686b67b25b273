//! Drivers for the verifier's peripherals, generic over embedded-hal 1.0.
//!
//! - [`FrameSource`]: anything that fills a caller buffer with a grey frame; implemented by
//!   [`arducam::ArduCam`] (ArduCAM Mini 2MP: OV2640 sensor behind the ArduChip SPI frame FIFO).
//! - [`ft6x06::Ft6x06`]: the FocalTech FT6206/FT6236/FT6336U capacitive touch controller (I2C),
//!   the signature pad; [`StrokeRecorder`] turns its samples into a
//!   [`StrokeList`](crate::preprocess::StrokeList) with pen up/down.
//! - [`StatusLed`]: accept / reject / busy patterns on one `OutputPin`.
//!
//! Every driver owns its bus handles, wraps bus errors in its own `Error` enum (never
//! `unwrap`s them), and hands the handles back with `release(self)`. They are tested on the host
//! against embedded-hal-mock transaction lists, bus errors included. With the `defmt` feature,
//! errors derive `defmt::Format` and the drivers log at debug level.

/// `defmt::debug!` with the `defmt` feature, nothing without it.
macro_rules! debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        defmt::debug!($($arg)*);
    };
}

pub mod arducam;
mod frame_source;
pub mod ft6x06;
mod status_led;
mod stroke_recorder;

pub use frame_source::FrameSource;
pub use status_led::{Error as LedError, Status, StatusLed, Step};
pub use stroke_recorder::{RecordError, RecorderFull, StrokeRecorder, TouchSource};
