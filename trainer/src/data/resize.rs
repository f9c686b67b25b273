//! Area-averaging resize (OpenCV's `INTER_AREA` when shrinking): the shared preprocessing
//! contract's `siamedge_format::preprocess::resize_area`, the same function the edge runtime and
//! (fused with the input quantization) the firmware run, so that training and use see the same
//! pixels.

pub use siamedge_format::preprocess::{resize_area, PreprocessError};
