//! The preprocessing contract: how a u8 image becomes the model's int8 input, the same on the
//! trainer, the edge box and the MCU. No allocation (except the `alloc` wrapper
//! [`resize_area`]), no panics: sizes are checked up front and every problem is a
//! [`PreprocessError`] naming the image, buffer or field.
//!
//! - [`area`](area_means): area-averaging resize of a region of interest ([`Roi`]) of an HWC u8
//!   image ([`ImageRef`]) with exact integer weights; each output value is an exact fraction
//!   ([`AreaMean`]) turned into f32 once ([`AreaMean::value`]).
//! - [`InputSpec::quantize`] and [`InputSpec::quantize_unit`]: the one quantization rule, with
//!   whole-image helpers ([`quantize_image`] for u8 levels via an [`InputTable`],
//!   [`quantize_means`] for f32 levels, [`quantize_unit_image`] for the trainer's `p / 255`).
//! - [`resize_area_quantized`]: the two fused, for devices: a region straight into the int8
//!   input, with no u8 rounding between, so the MCU feeds what the trainer trained on.
//!
//! The trainer's pipeline is `resize_area` -> `/ 255` -> [`quantize_unit_image`]; the edge's and
//! the device's is [`resize_area_quantized`]; both give the same int8 tensor by construction
//! (the f32 mean is the same number, and `quantize(ch, p)` is `quantize_unit(ch, p / 255)`).
//!
//! - [`align`]: the face alignment in front of the face-api.js networks (landmark input,
//!   landmarks to pixels, refine box, eye or dlib33 similarity, the 150x150 chip), f64 math, bit
//!   for bit the reference port's tensors.

pub mod align;
mod area;
mod error;
mod image;
mod quantize;

#[cfg(feature = "alloc")]
pub use area::resize_area;
pub use area::{area_means, resize_area_into, resize_area_quantized, AreaMean, MAX_SIDE};
pub use error::PreprocessError;
pub use image::{ImageRef, Roi};
pub use quantize::{quantize_image, quantize_means, quantize_unit_image, InputTable};
