//! Images to encoder inputs, exactly as the trainer feeds them.
//!
//! What: decode a PNG, JPEG or PGM/PPM (the `image` crate), convert to grey (ITU-R 601 luma, the
//! `image` crate's `to_luma8`), then area-average it to the model's `width x height` with the
//! shared preprocessing contract (`siamedge_format::preprocess`, the very functions the trainer's
//! data pipeline and the firmware use):
//! - [`to_int8`]: the int8 model input (`height * width` values, row-major HWC), the exact area
//!   means quantized once with the model file's input spec. This is the input of int8 models;
//!   the trainer and the firmware make the same tensor of the same image.
//! - [`to_input`]: the normalized f32 input of float encoders, `x = (p / 255 - mean) / std` of
//!   each area mean, `height * width` values for a `(1, 1, H, W)` NCHW input.
//!
//! When not: for colour models (`channels > 1`), which are refused with
//! [`EdgeError::Unsupported`]. The ONNX pipeline ([`crate::pipeline`]) takes the decoded image
//! itself, grey or RGB ([`load_rgb`], [`decode_rgb_limited`]: the same decoder and limits as the
//! grey path), and aligns it.

use std::path::Path;

use siamedge_format::preprocess::{resize_area, resize_area_quantized, ImageRef};
use siamedge_format::InputSpec;

use crate::error::EdgeError;

/// A decoded grey image: `width * height` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Luma, row-major.
    pub pixels: Vec<u8>,
}

/// The most pixels (`width * height`) an image may claim: 40 megapixels.
///
/// A 12 MP phone photo (4032 x 3024) and a 24 MP camera frame fit; a header claiming
/// 100,000 x 100,000 (10 gigapixels, 10 GB of grey or 40 GB of RGBA once decoded) does not.
/// [`decode_gray`] refuses an image over it from the header alone, before a pixel buffer is
/// allocated ([`EdgeError::TooManyPixels`]). At the limit, a decoded 8-bit RGBA image takes
/// 160 MB and its grey copy 40 MB.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Bytes of a decoded pixel at most (16-bit RGBA): the second guard, `image::Limits::max_alloc`,
/// allows `max_pixels * MAX_BYTES_PER_PIXEL` bytes.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Decodes the image at `path` (format from its content: PNG, JPEG, PGM/PPM) and converts it
/// to grey; [`decode_gray`] on the file's bytes (at most [`MAX_PIXELS`] pixels).
pub fn load_gray(path: &Path) -> Result<GrayImage, EdgeError> {
    let bytes = crate::error::read_file(path)?;
    decode_gray(&bytes, path)
}

/// [`decode_gray_limited`] with [`MAX_PIXELS`].
pub fn decode_gray(bytes: &[u8], name: &Path) -> Result<GrayImage, EdgeError> {
    decode_gray_limited(bytes, name, MAX_PIXELS)
}

/// Decodes an encoded image (format guessed from its content: PNG, JPEG, PGM/PPM) and converts
/// it to grey (ITU-R 601 luma). `name` names the image in errors (a path, or a request body).
///
/// The header is read first: an image claiming more than `max_pixels` pixels
/// (`width * height`) is refused with [`EdgeError::TooManyPixels`] before any pixel buffer is
/// allocated; the decoder also runs under `image::Limits::max_alloc` of `max_pixels * 8` bytes.
/// Bytes of no supported format are [`EdgeError::NotAnImage`]; truncated or corrupt files are
/// [`EdgeError::Image`].
pub fn decode_gray_limited(
    bytes: &[u8],
    name: &Path,
    max_pixels: u64,
) -> Result<GrayImage, EdgeError> {
    let g = decode_limited(bytes, name, max_pixels)?.to_luma8();
    Ok(GrayImage {
        width: g.width() as usize,
        height: g.height() as usize,
        pixels: g.into_raw(),
    })
}

/// A decoded colour image: `width * height * 3` bytes, RGB interleaved (HWC), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Red, green, blue levels `0..=255` per pixel, row-major.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// A view for the shared preprocessing (`siamedge_format::preprocess`), 3 channels; `name`
    /// names the image in errors ([`EdgeError::Resize`] for a zero side or a wrong length).
    pub fn view(&self, name: &Path) -> Result<ImageRef<'_>, EdgeError> {
        ImageRef::new(self.width, self.height, 3, &self.pixels).map_err(|source| {
            EdgeError::Resize {
                path: name.to_path_buf(),
                source,
            }
        })
    }
}

impl GrayImage {
    /// A view for the shared preprocessing (`siamedge_format::preprocess`), 1 channel; `name`
    /// names the image in errors ([`EdgeError::Resize`] for a zero side or a wrong length).
    pub fn view(&self, name: &Path) -> Result<ImageRef<'_>, EdgeError> {
        ImageRef::grey(self.width, self.height, &self.pixels).map_err(|source| EdgeError::Resize {
            path: name.to_path_buf(),
            source,
        })
    }
}

/// Decodes the image at `path` as RGB (grey images replicated to the three channels);
/// [`decode_rgb_limited`] on the file's bytes with [`MAX_PIXELS`].
pub fn load_rgb(path: &Path) -> Result<RgbImage, EdgeError> {
    let bytes = crate::error::read_file(path)?;
    decode_rgb_limited(&bytes, path, MAX_PIXELS)
}

/// [`decode_gray_limited`] keeping colour: the same formats, limits and errors, 8-bit RGB out
/// (alpha dropped, 16-bit levels scaled to 8, grey replicated).
pub fn decode_rgb_limited(
    bytes: &[u8],
    name: &Path,
    max_pixels: u64,
) -> Result<RgbImage, EdgeError> {
    let c = decode_limited(bytes, name, max_pixels)?.to_rgb8();
    Ok(RgbImage {
        width: c.width() as usize,
        height: c.height() as usize,
        pixels: c.into_raw(),
    })
}

/// The one decoder behind [`decode_gray_limited`] and [`decode_rgb_limited`] (see the former).
fn decode_limited(
    bytes: &[u8],
    name: &Path,
    max_pixels: u64,
) -> Result<image::DynamicImage, EdgeError> {
    use image::ImageDecoder;
    let image_error = |source| EdgeError::Image {
        path: name.to_path_buf(),
        source,
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| image_error(image::ImageError::IoError(e)))?;
    if reader.format().is_none() {
        let start = &bytes[..bytes.len().min(16)];
        return Err(EdgeError::NotAnImage {
            path: name.to_path_buf(),
            len: bytes.len(),
            start: String::from_utf8_lossy(start).into_owned(),
        });
    }
    let max_alloc = max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    // Reads the header only (PNG up to the first IDAT, JPEG markers, the PNM header).
    let decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(EdgeError::TooManyPixels {
            path: name.to_path_buf(),
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    if decoder.total_bytes() > max_alloc {
        return Err(image_error(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::InsufficientMemory),
        )));
    }
    image::DynamicImage::from_decoder(decoder).map_err(|e| match e {
        // The reader's own words ("failed to fill whole buffer") do not say what is wrong.
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            image_error(image::ImageError::IoError(std::io::Error::new(
                io.kind(),
                "truncated: the file ends before all of its pixel data",
            )))
        }
        e => image_error(e),
    })
}

/// [`EdgeError::Unsupported`] unless `spec` is a grey (one-channel) input.
fn check_grey(spec: &InputSpec, path: &Path) -> Result<(), EdgeError> {
    if spec.channels != 1 {
        return Err(EdgeError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "a {}-channel model input (only grey is supported)",
                spec.channels
            ),
        });
    }
    Ok(())
}

/// The int8 model input for `img` under `spec`: `spec.height * spec.width` values, row-major,
/// each the exact area mean of the pixels it covers quantized with [`InputSpec::quantize`]
/// (`siamedge_format::preprocess::resize_area_quantized` over the whole image). `path` only
/// names the image in errors.
pub fn to_int8(img: &GrayImage, spec: &InputSpec, path: &Path) -> Result<Vec<i8>, EdgeError> {
    check_grey(spec, path)?;
    let resize_error = |source| EdgeError::Resize {
        path: path.to_path_buf(),
        source,
    };
    let image = ImageRef::grey(img.width, img.height, &img.pixels).map_err(resize_error)?;
    let mut out = vec![0i8; usize::from(spec.width) * usize::from(spec.height)];
    resize_area_quantized(&image, image.full(), spec, &mut out).map_err(resize_error)?;
    Ok(out)
}

/// The normalized `(1, 1, H, W)` f32 input for `img` under `spec` (see the module docs), for
/// float encoders. `path` only names the image in errors.
pub fn to_input(img: &GrayImage, spec: &InputSpec, path: &Path) -> Result<Vec<f32>, EdgeError> {
    check_grey(spec, path)?;
    let (w, h) = (usize::from(spec.width), usize::from(spec.height));
    let resized = resize_area(&img.pixels, img.width, img.height, w, h).map_err(|source| {
        EdgeError::Resize {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let (mean, std) = (spec.mean[0], spec.std[0]);
    Ok(resized
        .into_iter()
        .map(|p| (p / 255.0 - mean) / std)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::Quant;

    fn spec(w: u16, h: u16, mean: f32, std: f32) -> InputSpec {
        InputSpec {
            width: w,
            height: h,
            channels: 1,
            mean: heapless::Vec::from_slice(&[mean]).unwrap(),
            std: heapless::Vec::from_slice(&[std]).unwrap(),
            quant: Quant::new(1.0 / 255.0, -128),
        }
    }

    #[test]
    fn halves_by_the_2x2_mean_and_normalizes() {
        let img = GrayImage {
            width: 4,
            height: 2,
            pixels: vec![0, 255, 10, 20, 255, 0, 30, 40],
        };
        let x = to_input(&img, &spec(2, 1, 0.0, 1.0), Path::new("t.png")).unwrap();
        assert_eq!(x, vec![127.5 / 255.0, 25.0 / 255.0]);
        let x = to_input(&img, &spec(2, 1, 0.5, 0.5), Path::new("t.png")).unwrap();
        assert!((x[0] - 0.0).abs() < 1e-6 && (x[1] - (25.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
    }

    #[test]
    fn int8_is_the_exact_mean_quantized_once() {
        // Means 127.5 and 25, quantized with scale 1/255 and zero point -128 (25 -> -103).
        let img = GrayImage {
            width: 4,
            height: 2,
            pixels: vec![0, 255, 10, 20, 255, 0, 30, 40],
        };
        let s = spec(2, 1, 0.0, 1.0);
        let q = to_int8(&img, &s, Path::new("t.png")).unwrap();
        assert_eq!(q, vec![s.quantize(0, 127.5).unwrap(), -103]);
        let e = to_int8(&img, &spec(0, 1, 0.0, 1.0), Path::new("z.png")).unwrap_err();
        assert!(matches!(e, EdgeError::Resize { .. }) && e.to_string().contains("z.png"));
    }

    #[test]
    fn colour_models_and_bad_files_are_typed_errors() {
        let img = GrayImage {
            width: 1,
            height: 1,
            pixels: vec![0],
        };
        let mut s = spec(1, 1, 0.0, 1.0);
        s.channels = 3;
        let e = to_input(&img, &s, Path::new("rgb.png")).unwrap_err();
        assert!(e.to_string().contains("rgb.png"), "{e}");
        let e = to_int8(&img, &s, Path::new("rgb.png")).unwrap_err();
        assert!(matches!(e, EdgeError::Unsupported { .. }), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.png");
        std::fs::write(&p, b"not an image").unwrap();
        let e = load_gray(&p).unwrap_err();
        assert!(matches!(e, EdgeError::NotAnImage { .. }) && e.to_string().contains("junk.png"));
    }
}
