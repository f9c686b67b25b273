//! The error type of the preprocessing module.

use core::fmt;

/// What went wrong while preprocessing; every variant names the buffer or parameter at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PreprocessError {
    /// An image or region with a zero side.
    ZeroSize {
        /// Which image or region, e.g. `"source"`, `"destination"`, `"roi"`.
        what: &'static str,
        /// Its width (pixels).
        width: u16,
        /// Its height (pixels).
        height: u16,
    },
    /// A pixel buffer whose length is not `width * height` (or, for outputs, shorter).
    BufferSize {
        /// Which buffer.
        what: &'static str,
        /// Length the dimensions imply (elements).
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A region of interest that does not lie inside the frame.
    RoiOutOfBounds {
        /// The region's left column.
        x: u16,
        /// The region's top row.
        y: u16,
        /// The region's width.
        width: u16,
        /// The region's height.
        height: u16,
        /// The frame's width.
        frame_width: u16,
        /// The frame's height.
        frame_height: u16,
    },
    /// The device's grey paths ([`InputLut`](super::InputLut),
    /// [`resize_area_i8`](super::resize_area_i8)) need a one-channel model input.
    Channels {
        /// Channels of the model input.
        found: u8,
    },
    /// A raster margin that leaves no room to draw: `2 * margin >= min(width, height)`.
    MarginTooLarge {
        /// The margin (pixels on each side).
        margin: u16,
        /// Output width.
        width: u16,
        /// Output height.
        height: u16,
    },
    /// A pen width of 0.
    ZeroPenWidth,
    /// A trace without a single pen-down point: nothing to draw.
    EmptyTrace,
    /// The shared preprocessing contract refused the sizes or the input spec (e.g. a spec whose
    /// `mean` or `std` list does not have `channels` entries).
    Contract(siamedge_format::preprocess::PreprocessError),
}

impl From<siamedge_format::preprocess::PreprocessError> for PreprocessError {
    fn from(e: siamedge_format::preprocess::PreprocessError) -> Self {
        Self::Contract(e)
    }
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSize { what, width, height } => {
                write!(f, "{what} is {width}x{height}; both sides must be >= 1")
            }
            Self::BufferSize { what, expected, found } => {
                write!(f, "{what} buffer holds {found} elements, expected {expected}")
            }
            Self::RoiOutOfBounds { x, y, width, height, frame_width, frame_height } => write!(
                f,
                "region {width}x{height} at ({x}, {y}) leaves the {frame_width}x{frame_height} frame"
            ),
            Self::Channels { found } => {
                write!(f, "the model input has {found} channels; a grey frame fills only 1")
            }
            Self::MarginTooLarge { margin, width, height } => write!(
                f,
                "a margin of {margin} leaves nothing of the {width}x{height} raster"
            ),
            Self::ZeroPenWidth => write!(f, "the pen width must be >= 1 pixel"),
            Self::EmptyTrace => write!(f, "the trace has no pen-down point to draw"),
            Self::Contract(e) => write!(f, "preprocessing: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PreprocessError {}
