//! Area-averaging resize (OpenCV's `INTER_AREA` when shrinking): `siamedge_format::resize`, shared
//! with the edge runtime so that training and use see the same pixels.

pub use siamedge_format::resize::{resize_area, ResizeError};
