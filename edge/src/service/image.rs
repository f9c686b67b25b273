//! Images in request bodies: base64 text to a decoded grey image, with the pixel limit checked on
//! the header before any pixel is decoded.

use std::path::Path;

use base64::Engine as _;

use super::error::ApiError;
use crate::preprocess::{decode_gray_limited, GrayImage};

/// The bytes of the base64 (standard alphabet, padded or not) image `what` (e.g. `images[2]`);
/// `400` naming it when the text is not base64.
pub fn decode_base64(what: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(text.trim())
        .map_err(|e| ApiError::bad_request(format!("{what}: not base64: {e}")))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(format!("{what}: empty image")));
    }
    Ok(bytes)
}

/// Decodes the image `what` (PNG, JPEG, PGM, by content) to grey with
/// [`decode_gray_limited`] (the one decoder: the pixel limit is checked on the header before any
/// pixel buffer is allocated); `422` naming it when it cannot be decoded or is over `max_pixels`.
pub fn decode_gray(what: &str, bytes: &[u8], max_pixels: u64) -> Result<GrayImage, ApiError> {
    decode_gray_limited(bytes, Path::new(what), max_pixels)
        .map_err(|e| ApiError::from_image(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pgm(w: usize, h: usize) -> Vec<u8> {
        let mut b = format!("P5\n{w} {h}\n255\n").into_bytes();
        b.extend((0..w * h).map(|i| (i % 251) as u8));
        b
    }

    #[test]
    fn decodes_within_the_limit_and_refuses_beyond_it() {
        let g = decode_gray("image", &pgm(4, 3), 12).unwrap();
        assert_eq!((g.width, g.height), (4, 3));
        assert_eq!(g.pixels[5], 5);
        let e = decode_gray("images[1]", &pgm(4, 3), 11).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(
            e.message,
            "image images[1]: its header claims 4 x 3 = 12 pixels, over the limit of 11 pixels"
        );
        // A header that claims a huge image is refused without allocating it.
        let e = decode_gray("image", b"P5\n100000 100000\n255\n\0\0", 1 << 24).unwrap_err();
        assert!(e.message.contains("10000000000 pixels"), "{}", e.message);
        let e = decode_gray("image", b"hello, world", 100).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(
            e.message.starts_with("image image: not a PNG"),
            "{}",
            e.message
        );
        // A truncated body is an error, not a panic.
        let mut short = pgm(8, 8);
        short.truncate(30);
        assert_eq!(
            decode_gray("image", &short, 100)
                .unwrap_err()
                .status
                .as_u16(),
            422
        );
    }

    #[test]
    fn base64_errors_name_the_field() {
        assert_eq!(decode_base64("image", "aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("image", "aGVsbG8").unwrap(), b"hello");
        let e = decode_base64("images[0]", "not base64!").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.starts_with("images[0]: not base64"));
        assert!(decode_base64("image", "")
            .unwrap_err()
            .message
            .contains("empty"));
    }
}
