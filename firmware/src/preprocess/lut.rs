//! u8 pixel to int8 model input in one table lookup (the grey channel of the contract's
//! [`InputTable`]).

use siamedge_format::preprocess::InputTable;
use siamedge_format::InputSpec;

use super::error::PreprocessError;

/// The 256-entry table of [`InputSpec::quantize_pixel`] for a grey (one-channel) model input:
/// normalization and quantization of every possible pixel value, computed once by the contract's
/// [`InputTable`] (256 float evaluations at construction, none per frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLut {
    table: [i8; 256],
}

impl InputLut {
    /// The table for `spec`; [`PreprocessError::Channels`] unless the input has one channel.
    pub fn new(spec: &InputSpec) -> Result<Self, PreprocessError> {
        if spec.channels != 1 {
            return Err(PreprocessError::Channels {
                found: spec.channels,
            });
        }
        let table = InputTable::new(spec)?;
        let grey = table.channel(0).ok_or(PreprocessError::Channels {
            found: spec.channels,
        })?;
        Ok(Self { table: *grey })
    }

    /// The int8 input value of pixel value `p`.
    pub fn get(&self, p: u8) -> i8 {
        self.table[usize::from(p)]
    }

    /// Maps `pixels` into `out` (equal lengths).
    pub fn apply(&self, pixels: &[u8], out: &mut [i8]) -> Result<(), PreprocessError> {
        if pixels.len() != out.len() {
            return Err(PreprocessError::BufferSize {
                what: "int8 input",
                expected: pixels.len(),
                found: out.len(),
            });
        }
        for (o, p) in out.iter_mut().zip(pixels) {
            *o = self.get(*p);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{resize_bilinear, resize_bilinear_i8, Gray, GrayMut, Roi};
    use siamedge_format::Quant;

    fn spec(channels: u8) -> InputSpec {
        let mut mean = heapless::Vec::new();
        let mut std = heapless::Vec::new();
        for _ in 0..channels {
            let _ = mean.push(0.5);
            let _ = std.push(0.5);
        }
        InputSpec {
            width: 4,
            height: 4,
            channels,
            mean,
            std,
            quant: Quant {
                scale: 1.0 / 127.0,
                zero_point: 0,
            },
        }
    }

    #[test]
    fn table_matches_the_spec_and_fused_path_matches() -> Result<(), PreprocessError> {
        let s = spec(1);
        let lut = InputLut::new(&s)?;
        for p in 0..=255u8 {
            assert_eq!(Some(lut.get(p)), s.quantize_pixel(0, p));
        }
        assert_eq!(lut.get(0), -127);
        assert_eq!(lut.get(255), 127);
        assert_eq!(
            InputLut::new(&spec(3)),
            Err(PreprocessError::Channels { found: 3 })
        );

        let px: Vec<u8> = (0..160u32 * 120).map(|i| (i * 7 % 251) as u8).collect();
        let src = Gray::new(160, 120, &px)?;
        let roi = Roi::centered(160, 120, 46, 56)?;
        let mut u8s = [0u8; 46 * 56];
        resize_bilinear(&src, roi, &mut GrayMut::new(46, 56, &mut u8s)?)?;
        let mut via_lut = [0i8; 46 * 56];
        lut.apply(&u8s, &mut via_lut)?;
        let mut fused = [0i8; 46 * 56];
        resize_bilinear_i8(&src, roi, 46, 56, &lut, &mut fused)?;
        assert_eq!(via_lut, fused);
        assert!(matches!(
            resize_bilinear_i8(&src, roi, 46, 56, &lut, &mut fused[1..]),
            Err(PreprocessError::BufferSize { .. })
        ));
        Ok(())
    }
}
