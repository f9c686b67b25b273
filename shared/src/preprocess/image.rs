//! Borrowed u8 images (HWC) and regions of interest in them.

use super::error::PreprocessError;
use crate::model::MAX_INPUT_CHANNELS;

/// A borrowed u8 image: `height` rows of `width` pixels of `channels` bytes each (HWC, row-major,
/// no padding; grey when `channels` is 1). Values are the pixel levels `0..=255`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    width: usize,
    height: usize,
    channels: usize,
    pixels: &'a [u8],
}

impl<'a> ImageRef<'a> {
    /// A view of `pixels` as a `width x height` image of `channels` channels: both sides `>= 1`,
    /// `channels` in `1..=MAX_INPUT_CHANNELS`, `pixels.len() == width * height * channels`.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        pixels: &'a [u8],
    ) -> Result<Self, PreprocessError> {
        if width == 0 || height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "source",
                width,
                height,
            });
        }
        if !(1..=MAX_INPUT_CHANNELS).contains(&channels) {
            return Err(PreprocessError::Channels {
                what: "source",
                expected: MAX_INPUT_CHANNELS,
                found: channels,
            });
        }
        let expected = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels))
            .ok_or(PreprocessError::TooLarge {
                what: "source",
                width,
                height,
            })?;
        if pixels.len() != expected {
            return Err(PreprocessError::BufferSize {
                what: "source",
                expected,
                found: pixels.len(),
            });
        }
        Ok(Self {
            width,
            height,
            channels,
            pixels,
        })
    }

    /// A grey (one-channel) image: [`ImageRef::new`] with `channels = 1`.
    pub fn grey(width: usize, height: usize, pixels: &'a [u8]) -> Result<Self, PreprocessError> {
        Self::new(width, height, 1, pixels)
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Bytes per pixel.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The pixels, HWC row-major.
    pub fn pixels(&self) -> &'a [u8] {
        self.pixels
    }

    /// The whole image as a region.
    pub fn full(&self) -> Roi {
        Roi {
            x: 0,
            y: 0,
            width: self.width,
            height: self.height,
        }
    }

    /// Columns `x0..x0 + n` of row `y` (`n * channels` bytes; empty outside the image).
    pub(crate) fn span(&self, y: usize, x0: usize, n: usize) -> &'a [u8] {
        let c = self.channels;
        let start = (y * self.width + x0) * c;
        self.pixels.get(start..start + n * c).unwrap_or(&[])
    }
}

/// A rectangle of a frame, in pixels: columns `x..x + width`, rows `y..y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roi {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Columns, `>= 1`.
    pub width: usize,
    /// Rows, `>= 1`.
    pub height: usize,
}

impl Roi {
    /// Checks that the region is non-empty and inside a `frame_width x frame_height` frame.
    pub fn check_in(&self, frame_width: usize, frame_height: usize) -> Result<(), PreprocessError> {
        if self.width == 0 || self.height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "roi",
                width: self.width,
                height: self.height,
            });
        }
        let inside = self
            .x
            .checked_add(self.width)
            .is_some_and(|r| r <= frame_width)
            && self
                .y
                .checked_add(self.height)
                .is_some_and(|b| b <= frame_height);
        if !inside {
            return Err(PreprocessError::RoiOutOfBounds {
                x: self.x,
                y: self.y,
                width: self.width,
                height: self.height,
                frame_width,
                frame_height,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_regions_are_checked() {
        assert_eq!(
            ImageRef::new(0, 3, 1, &[]),
            Err(PreprocessError::ZeroSize {
                what: "source",
                width: 0,
                height: 3
            })
        );
        assert_eq!(
            ImageRef::new(2, 2, 3, &[0; 11]),
            Err(PreprocessError::BufferSize {
                what: "source",
                expected: 12,
                found: 11
            })
        );
        assert!(matches!(
            ImageRef::new(1, 1, 5, &[0; 5]),
            Err(PreprocessError::Channels { found: 5, .. })
        ));
        assert!(matches!(
            ImageRef::new(usize::MAX, 2, 1, &[]),
            Err(PreprocessError::TooLarge { .. })
        ));
        let img = [1u8, 2, 3, 4, 5, 6];
        let g = ImageRef::new(3, 1, 2, &img).unwrap();
        assert_eq!(g.span(0, 1, 2), &[3, 4, 5, 6]);
        assert_eq!(g.full().check_in(3, 1), Ok(()));
        let r = Roi {
            x: 1,
            y: 0,
            width: 3,
            height: 1,
        };
        assert!(matches!(
            r.check_in(3, 1),
            Err(PreprocessError::RoiOutOfBounds { frame_width: 3, .. })
        ));
        let huge = Roi { x: usize::MAX, ..r };
        assert!(huge.check_in(3, 1).is_err());
    }
}
