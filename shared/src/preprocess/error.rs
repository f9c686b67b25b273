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
        /// image's), `"input spec mean"`, `"input spec std"` (list lengths against `channels`),
        /// `"source (grey or RGB)"` (the face alignment takes 1 or 3 channels).
        what: &'static str,
        /// Channels required.
        expected: usize,
        /// Channels found.
        found: usize,
    },
    /// A buffer whose length is not what the sizes imply.
    BufferSize {
        /// Which buffer: `"source"`, `"output"`, `"input"`; in the face alignment
        /// `"landmark input"`, `"landmark output"`, `"scratch"`, `"chip"`.
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
    /// A number that must be finite is NaN or infinite (a landmark output, a point, a box or
    /// transform computed from them).
    NonFinite {
        /// Which one: `"landmark output"` (index into the 136 raw values), `"points"` (index of
        /// the point), `"refine box"` (0 x, 1 y, 2 width, 3 height), `"similarity"` (0 a, 1 b,
        /// 2 tx, 3 ty).
        what: &'static str,
        /// The value's index, as above.
        index: usize,
    },
    /// A box that is empty once clipped to its image and floored (sides in whole pixels,
    /// saturated to `i64`).
    EmptyBox {
        /// Which box: `"refine box"`.
        what: &'static str,
        /// Its left column after clipping and flooring.
        x: i64,
        /// Its top row after clipping and flooring.
        y: i64,
        /// Its width after clipping and flooring (this or the height is `< 1`).
        width: i64,
        /// Its height after clipping and flooring.
        height: i64,
        /// The image's width.
        frame_width: usize,
        /// The image's height.
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
            Self::NonFinite { what, index } => {
                write!(f, "{what}[{index}] is not finite (NaN or infinite)")
            }
            Self::EmptyBox {
                what,
                x,
                y,
                width,
                height,
                frame_width,
                frame_height,
            } => write!(
                f,
                "{what} clipped to the {frame_width}x{frame_height} image is {width}x{height} at \
                 ({x}, {y}); both sides must be >= 1"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PreprocessError {}
