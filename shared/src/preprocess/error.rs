//! The error type of the preprocessing contract.

use core::fmt;

/// Why an image could not be resized or quantized; every variant names the image, buffer or
/// field at fault and carries the sizes involved. Nothing is written before the checks pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PreprocessError {
    /// An image, region or output size with a zero side.
    ZeroSize {
        /// Which one: `"source"`, `"roi"`, `"destination"`.
        what: &'static str,
        /// Its width (pixels).
        width: usize,
        /// Its height (pixels).
        height: usize,
    },
    /// A side longer than [`MAX_SIDE`](super::MAX_SIDE), where the exact integer weights could
    /// overflow.
    TooLarge {
        /// Which one: `"source"`, `"roi"`, `"destination"`.
        what: &'static str,
        /// Its width (pixels).
        width: usize,
        /// Its height (pixels).
        height: usize,
    },
    /// A channel count outside `1..=MAX_INPUT_CHANNELS`, or one that does not match.
    Channels {
        /// Which count: `"source"` (an image), `"input spec"` (its `channels` against the
        /// image's), `"input spec mean"`, `"input spec std"` (list lengths against `channels`).
        what: &'static str,
        /// Channels required.
        expected: usize,
        /// Channels found.
        found: usize,
    },
    /// A buffer whose length is not what the sizes imply.
    BufferSize {
        /// Which buffer: `"source"`, `"output"`, `"input"`.
        what: &'static str,
        /// Elements the sizes imply.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// A region of interest that does not lie inside its frame.
    RoiOutOfBounds {
        /// The region's left column.
        x: usize,
        /// The region's top row.
        y: usize,
        /// The region's width.
        width: usize,
        /// The region's height.
        height: usize,
        /// The frame's width.
        frame_width: usize,
        /// The frame's height.
        frame_height: usize,
    },
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSize {
                what,
                width,
                height,
            } => write!(f, "{what} is {width}x{height}; both sides must be >= 1"),
            Self::TooLarge {
                what,
                width,
                height,
            } => write!(
                f,
                "{what} is {width}x{height}; exact area weights allow sides up to {}",
                super::MAX_SIDE
            ),
            Self::Channels {
                what,
                expected,
                found,
            } => write!(f, "{what} has {found} channels, expected {expected}"),
            Self::BufferSize {
                what,
                expected,
                found,
            } => write!(f, "{what} buffer holds {found} elements, expected {expected}"),
            Self::RoiOutOfBounds {
                x,
                y,
                width,
                height,
                frame_width,
                frame_height,
            } => write!(
                f,
                "region {width}x{height} at ({x}, {y}) leaves the {frame_width}x{frame_height} frame"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PreprocessError {}
