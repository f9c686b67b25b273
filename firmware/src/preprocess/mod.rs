//! Preprocessing on the device: a camera frame or a signature-pad trace becomes the model input.
//!
//! - Camera frames ([`Gray`], u8, row-major): crop a region of interest ([`Roi`], centered or
//!   given) and resize it into the model's int8 input, either by exact area averaging
//!   ([`resize_area_i8`], the shared contract of `siamedge_format::preprocess`: the same int8
//!   tensor the trainer and the edge runtime make of the same frame) or by integer bilinear
//!   interpolation ([`resize_bilinear`] to u8, Q11 weights; [`resize_bilinear_i8`] fused with
//!   the [`InputLut`] table of the contract's quantization). Use area averaging when the model
//!   was trained on area-resized images (the trainer's pipeline is), bilinear for speed.
//! - Signature traces ([`StrokeList`] of [`StrokePoint`]s with pen up/down): [`rasterize`]
//!   normalizes position and scale (bounding box, aspect kept, centered with a margin) and draws
//!   the strokes with Bresenham lines and a round pen into a u8 image (white background 255, ink
//!   0 by default).
//!
//! Everything works on caller buffers, without an allocator, and never panics: sizes are checked
//! up front and every problem is a [`PreprocessError`] naming the buffer or parameter.

mod area;
mod bilinear;
mod error;
mod image;
mod lut;
mod raster;
mod stroke;

pub use area::resize_area_i8;
pub use bilinear::{resize_bilinear, resize_bilinear_i8, FRAC_BITS};
pub use error::PreprocessError;
pub use image::{Gray, GrayMut, Roi};
pub use lut::InputLut;
pub use raster::{rasterize, RasterConfig};
pub use stroke::{Pen, StrokeList, StrokePoint};
