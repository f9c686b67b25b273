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
//! [`EdgeError::Unsupported`](crate::EdgeError::Unsupported).

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

/// Decodes the image at `path` (format from its content) and converts it to grey.
pub fn load_gray(path: &Path) -> Result<GrayImage, EdgeError> {
    let bytes = std::fs::read(path).map_err(|source| EdgeError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let img = image::load_from_memory(&bytes).map_err(|source| EdgeError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    let g = img.to_luma8();
    Ok(GrayImage {
        width: g.width() as usize,
        height: g.height() as usize,
        pixels: g.into_raw(),
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
        assert!(matches!(e, EdgeError::Image { .. }) && e.to_string().contains("junk.png"));
    }
}
