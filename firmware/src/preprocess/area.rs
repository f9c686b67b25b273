//! Area-averaging resize of a region of a grey frame straight into the model's int8 input: the
//! device's entry to the shared preprocessing contract,
//! [`siamedge_format::preprocess::resize_area_quantized`].
//!
//! Each input value is the exact mean of the region area its pixel covers (integer weights, see
//! the contract), quantized once with [`InputSpec::quantize`]: the very int8 tensor the trainer's
//! data pipeline and the edge runtime make of the same frame, so the device's verdicts are the
//! host's. Use it when the model was trained on area-resized images (the trainer's pipeline is);
//! [`resize_bilinear_i8`](super::resize_bilinear_i8) is faster but samples differently.
//!
//! Cost: every region pixel is read once for each input pixel that overlaps it, plus one f64
//! division (software on a Cortex-M4) and the f32 quantization per input value.

use siamedge_format::preprocess::{resize_area_quantized, ImageRef};
use siamedge_format::InputSpec;

use super::error::PreprocessError;
use super::image::{Gray, Roi};

/// Area-averages region `roi` of `src` into `out`, the int8 input of `spec`
/// (`spec.height x spec.width`, one channel). Errors: a region outside the frame or empty, a spec
/// that is not grey ([`PreprocessError::Channels`]), `out` not `spec.width * spec.height` long
/// ([`PreprocessError::BufferSize`]); nothing is written then.
pub fn resize_area_i8(
    src: &Gray<'_>,
    roi: Roi,
    spec: &InputSpec,
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    roi.check_in(src)?;
    if spec.channels != 1 {
        return Err(PreprocessError::Channels {
            found: spec.channels,
        });
    }
    let expected = usize::from(spec.width) * usize::from(spec.height);
    if out.len() != expected {
        return Err(PreprocessError::BufferSize {
            what: "int8 input",
            expected,
            found: out.len(),
        });
    }
    let image = ImageRef::grey(
        usize::from(src.width()),
        usize::from(src.height()),
        src.pixels(),
    )?;
    Ok(resize_area_quantized(&image, roi.into(), spec, out)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::Quant;

    /// Unit values straight through: mean 0, std 1, scale 1/255, zero point -128, so the int8
    /// value is `round(mean level) - 128` and the exact mean shows.
    fn spec(w: u16, h: u16) -> InputSpec {
        InputSpec {
            width: w,
            height: h,
            channels: 1,
            mean: heapless::Vec::from_slice(&[0.0]).unwrap_or_default(),
            std: heapless::Vec::from_slice(&[1.0]).unwrap_or_default(),
            quant: Quant::new(1.0 / 255.0, -128),
        }
    }

    fn run(px: &[u8], w: u16, h: u16, roi: Option<Roi>, s: &InputSpec) -> Vec<i8> {
        let src = Gray::new(w, h, px).unwrap_or_else(|e| panic!("{e}"));
        let mut out = vec![0i8; usize::from(s.width) * usize::from(s.height)];
        resize_area_i8(&src, roi.unwrap_or(src.full()), s, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn exact_means_quantized_once() {
        // 4x2 -> 2x1: means 15 and 4.25 -> 15 - 128, 4 - 128.
        assert_eq!(
            run(&[0, 10, 1, 3, 20, 30, 5, 8], 4, 2, None, &spec(2, 1)),
            [-113, -124]
        );
        // 3x3 -> 2x2: exact means 400/9 = 44.4, 40, 560/9 = 62.2, 640/9 = 71.1.
        let px = [10, 20, 40, 80, 160, 0, 30, 60, 90];
        assert_eq!(run(&px, 3, 3, None, &spec(2, 2)), [-84, -88, -66, -57]);
        // A region: the 2x2 block of 9, 7, 9, 9, whose exact mean 8.5 is quantized as is.
        let px = [0, 0, 0, 0, 0, 9, 7, 0, 0, 9, 9, 0, 0, 0, 0, 0];
        let roi = Roi {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        assert_eq!(
            run(&px, 4, 4, Some(roi), &spec(1, 1)),
            [spec(1, 1).quantize(0, 8.5).unwrap_or(0)]
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let px = [0u8; 16];
        let src = Gray::new(4, 4, &px).unwrap_or_else(|e| panic!("{e}"));
        let mut out = [0i8; 4];
        let mut rgb = spec(2, 2);
        rgb.channels = 3;
        assert_eq!(
            resize_area_i8(&src, src.full(), &rgb, &mut out),
            Err(PreprocessError::Channels { found: 3 })
        );
        assert!(matches!(
            resize_area_i8(&src, src.full(), &spec(2, 2), &mut out[..3]),
            Err(PreprocessError::BufferSize { .. })
        ));
        let outside = Roi {
            x: 3,
            y: 0,
            width: 2,
            height: 1,
        };
        assert!(matches!(
            resize_area_i8(&src, outside, &spec(2, 2), &mut out),
            Err(PreprocessError::RoiOutOfBounds { .. })
        ));
    }
}
