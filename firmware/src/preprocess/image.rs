//! Grey images over caller buffers, and regions of interest in them.

use super::error::PreprocessError;

fn check(what: &'static str, width: u16, height: u16, len: usize) -> Result<(), PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::ZeroSize {
            what,
            width,
            height,
        });
    }
    let expected = usize::from(width) * usize::from(height);
    if len != expected {
        return Err(PreprocessError::BufferSize {
            what,
            expected,
            found: len,
        });
    }
    Ok(())
}

/// A borrowed grey image: `height` rows of `width` u8 pixels, row-major, no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gray<'a> {
    width: u16,
    height: u16,
    pixels: &'a [u8],
}

impl<'a> Gray<'a> {
    /// A view of `pixels` as a `width x height` image (both `>= 1`, `pixels.len() == width *
    /// height`).
    pub fn new(width: u16, height: u16, pixels: &'a [u8]) -> Result<Self, PreprocessError> {
        check("source", width, height, pixels.len())?;
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Columns.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The pixels, row-major.
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

    /// Row `y` (empty past the last row).
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        let w = usize::from(self.width);
        self.pixels.get(y * w..(y + 1) * w).unwrap_or(&[])
    }
}

/// A mutable grey image over a caller buffer (the resize destination).
#[derive(Debug, PartialEq, Eq)]
pub struct GrayMut<'a> {
    width: u16,
    height: u16,
    pixels: &'a mut [u8],
}

impl<'a> GrayMut<'a> {
    /// A `width x height` image over `pixels` (both sides `>= 1`, `pixels.len() == width *
    /// height`).
    pub fn new(width: u16, height: u16, pixels: &'a mut [u8]) -> Result<Self, PreprocessError> {
        check("destination", width, height, pixels.len())?;
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Columns.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The pixels, row-major.
    pub fn pixels(&self) -> &[u8] {
        self.pixels
    }

    /// The pixels, row-major, writable.
    pub fn pixels_mut(&mut self) -> &mut [u8] {
        self.pixels
    }

    /// A read-only view.
    pub fn as_gray(&self) -> Gray<'_> {
        Gray {
            width: self.width,
            height: self.height,
            pixels: self.pixels,
        }
    }
}

/// A rectangle of a frame, in pixels: columns `x..x + width`, rows `y..y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Roi {
    /// Left column.
    pub x: u16,
    /// Top row.
    pub y: u16,
    /// Columns, `>= 1`.
    pub width: u16,
    /// Rows, `>= 1`.
    pub height: u16,
}

impl Roi {
    /// The largest region of a `frame_width x frame_height` frame with the aspect ratio
    /// `out_width : out_height`, centered (sides rounded down, offsets rounded down). E.g. a
    /// 160x120 frame for a 46x56 input gives the 98x120 region at (31, 0).
    pub fn centered(
        frame_width: u16,
        frame_height: u16,
        out_width: u16,
        out_height: u16,
    ) -> Result<Self, PreprocessError> {
        if frame_width == 0 || frame_height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "frame",
                width: frame_width,
                height: frame_height,
            });
        }
        if out_width == 0 || out_height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "destination",
                width: out_width,
                height: out_height,
            });
        }
        let (fw, fh) = (u32::from(frame_width), u32::from(frame_height));
        let (ow, oh) = (u32::from(out_width), u32::from(out_height));
        // Frame wider than the output's aspect: full height, cut the sides.
        let (w, h) = if fw * oh >= fh * ow {
            ((fh * ow / oh).clamp(1, fw), fh)
        } else {
            (fw, (fw * oh / ow).clamp(1, fh))
        };
        // w <= fw and h <= fh, so both fit u16.
        Ok(Self {
            x: ((fw - w) / 2) as u16,
            y: ((fh - h) / 2) as u16,
            width: w as u16,
            height: h as u16,
        })
    }

    /// Checks that the region is non-empty and inside `image`.
    pub fn check_in(&self, image: &Gray<'_>) -> Result<(), PreprocessError> {
        if self.width == 0 || self.height == 0 {
            return Err(PreprocessError::ZeroSize {
                what: "roi",
                width: self.width,
                height: self.height,
            });
        }
        let inside = u32::from(self.x) + u32::from(self.width) <= u32::from(image.width())
            && u32::from(self.y) + u32::from(self.height) <= u32::from(image.height());
        if !inside {
            return Err(PreprocessError::RoiOutOfBounds {
                x: self.x,
                y: self.y,
                width: self.width,
                height: self.height,
                frame_width: image.width(),
                frame_height: image.height(),
            });
        }
        Ok(())
    }
}

impl From<Roi> for siamedge_format::preprocess::Roi {
    fn from(r: Roi) -> Self {
        Self {
            x: usize::from(r.x),
            y: usize::from(r.y),
            width: usize::from(r.width),
            height: usize::from(r.height),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked() {
        assert_eq!(
            Gray::new(0, 3, &[]),
            Err(PreprocessError::ZeroSize {
                what: "source",
                width: 0,
                height: 3
            })
        );
        assert_eq!(
            Gray::new(2, 2, &[0; 3]),
            Err(PreprocessError::BufferSize {
                what: "source",
                expected: 4,
                found: 3
            })
        );
        let mut buf = [0u8; 6];
        assert!(GrayMut::new(3, 2, &mut buf).is_ok());
    }

    #[test]
    fn centered_roi() {
        assert_eq!(
            Roi::centered(160, 120, 46, 56),
            Ok(Roi {
                x: 31,
                y: 0,
                width: 98,
                height: 120
            })
        );
        assert_eq!(
            Roi::centered(160, 120, 64, 32),
            Ok(Roi {
                x: 0,
                y: 20,
                width: 160,
                height: 80
            })
        );
        assert_eq!(
            Roi::centered(1, 1, 1000, 1),
            Ok(Roi {
                x: 0,
                y: 0,
                width: 1,
                height: 1
            })
        );
        assert!(Roi::centered(0, 1, 1, 1).is_err());
        assert!(Roi::centered(1, 1, 1, 0).is_err());
        let img = [0u8; 12];
        let g = Gray::new(4, 3, &img).unwrap_or_else(|e| panic!("{e}"));
        let r = Roi {
            x: 1,
            y: 1,
            width: 3,
            height: 3,
        };
        assert!(matches!(
            r.check_in(&g),
            Err(PreprocessError::RoiOutOfBounds { .. })
        ));
    }
}
