//! The one input quantization rule: pixel level to the model's int8 input.
//!
//! Channel `ch` of a pixel with level `p` in `0.0..=255.0` (an integer level, or an area mean that
//! is not rounded) becomes, in f32 arithmetic in this order:
//!
//! ```text
//! x = p / 255                        (the trainer holds images as this "unit" value)
//! q = round(((x - mean[ch]) / std[ch]) / quant.scale) + quant.zero_point   (round half away from 0)
//! int8 = clamp(q, -128, 127)
//! ```
//!
//! [`InputSpec::quantize_unit`] is the rule on `x`; [`InputSpec::quantize`] on `p` divides by 255
//! and calls it, so `quantize(ch, p) == quantize_unit(ch, p / 255.0)` by construction;
//! [`InputSpec::quantize_pixel`] is `quantize` of an integer level. The image helpers apply the
//! same rule to whole HWC tensors: [`quantize_image`] (u8 levels, through an [`InputTable`] of 256
//! entries per channel), [`quantize_means`] (f32 levels) and [`quantize_unit_image`] (f32 `p /
//! 255`, the trainer's images).

use super::error::PreprocessError;
use crate::model::{InputSpec, Quant, MAX_INPUT_CHANNELS};

/// The rule on a unit value `x = p / 255` (see the module docs).
fn rule(x: f32, mean: f32, std: f32, quant: Quant) -> i8 {
    let normalized = (x - mean) / std;
    let q = libm::roundf(normalized / quant.scale) + f32::from(quant.zero_point);
    q.clamp(-128.0, 127.0) as i8
}

impl InputSpec {
    /// The int8 input value of unit value `x = p / 255` (`0.0..=1.0` for levels `0..=255`) in
    /// channel `channel`; `None` past the last channel (or past the `mean`/`std` lists).
    pub fn quantize_unit(&self, channel: usize, x: f32) -> Option<i8> {
        if channel >= usize::from(self.channels) {
            return None;
        }
        let (mean, std) = (*self.mean.get(channel)?, *self.std.get(channel)?);
        Some(rule(x, mean, std, self.quant))
    }

    /// The int8 input value of level `p` (`0.0..=255.0`, possibly fractional) in channel
    /// `channel`: [`InputSpec::quantize_unit`]`(channel, p / 255.0)`.
    pub fn quantize(&self, channel: usize, p: f32) -> Option<i8> {
        self.quantize_unit(channel, p / 255.0)
    }

    /// The int8 input value of integer level `pixel`: [`InputSpec::quantize`]`(channel, pixel)`.
    pub fn quantize_pixel(&self, channel: usize, pixel: u8) -> Option<i8> {
        self.quantize(channel, f32::from(pixel))
    }
}

/// An [`InputSpec`] whose `channels`, `mean` and `std` have been checked to agree, so the rule
/// applies to any channel index below `channels` without a further check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Normalizer {
    channels: usize,
    mean: [f32; MAX_INPUT_CHANNELS],
    std: [f32; MAX_INPUT_CHANNELS],
    quant: Quant,
}

impl Normalizer {
    pub(crate) fn new(spec: &InputSpec) -> Result<Self, PreprocessError> {
        let channels = usize::from(spec.channels);
        if !(1..=MAX_INPUT_CHANNELS).contains(&channels) {
            return Err(PreprocessError::Channels {
                what: "input spec",
                expected: MAX_INPUT_CHANNELS,
                found: channels,
            });
        }
        for (what, list) in [
            ("input spec mean", &spec.mean),
            ("input spec std", &spec.std),
        ] {
            if list.len() != channels {
                return Err(PreprocessError::Channels {
                    what,
                    expected: channels,
                    found: list.len(),
                });
            }
        }
        let mut mean = [0.0; MAX_INPUT_CHANNELS];
        let mut std = [1.0; MAX_INPUT_CHANNELS];
        mean[..channels].copy_from_slice(&spec.mean);
        std[..channels].copy_from_slice(&spec.std);
        Ok(Self {
            channels,
            mean,
            std,
            quant: spec.quant,
        })
    }

    pub(crate) fn channels(&self) -> usize {
        self.channels
    }

    /// The rule on unit value `x` in channel `ch % MAX_INPUT_CHANNELS` (callers pass `ch <
    /// channels`).
    pub(crate) fn quantize_unit(&self, ch: usize, x: f32) -> i8 {
        let ch = ch % MAX_INPUT_CHANNELS;
        rule(x, self.mean[ch], self.std[ch], self.quant)
    }

    /// [`InputSpec::quantize`]: the rule on `p / 255`.
    pub(crate) fn quantize(&self, ch: usize, p: f32) -> i8 {
        self.quantize_unit(ch, p / 255.0)
    }

    /// Checks that `values` and `out` both hold the spec's `height * width * channels` elements.
    fn check_lengths(
        &self,
        spec: &InputSpec,
        values: usize,
        out: usize,
    ) -> Result<(), PreprocessError> {
        let expected = usize::from(spec.height) * usize::from(spec.width) * self.channels;
        for (what, found) in [("input", values), ("output", out)] {
            if found != expected {
                return Err(PreprocessError::BufferSize {
                    what,
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Applies `f(channel, value)` to an HWC tensor of `self.channels` channels.
    fn map<T: Copy>(&self, values: &[T], out: &mut [i8], f: impl Fn(usize, T) -> i8) {
        for (px, o) in values
            .chunks_exact(self.channels)
            .zip(out.chunks_exact_mut(self.channels))
        {
            for (ch, (&v, o)) in px.iter().zip(o.iter_mut()).enumerate() {
                *o = f(ch, v);
            }
        }
    }
}

/// The rule for every u8 level of every channel of a spec: 256 entries per channel, computed once
/// (`256 * channels` float evaluations), then one lookup per value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputTable {
    channels: usize,
    table: [[i8; 256]; MAX_INPUT_CHANNELS],
}

impl InputTable {
    /// The table of `spec` ([`PreprocessError::Channels`] when its `channels`, `mean` and `std`
    /// disagree or `channels` is outside `1..=MAX_INPUT_CHANNELS`).
    pub fn new(spec: &InputSpec) -> Result<Self, PreprocessError> {
        let rule = Normalizer::new(spec)?;
        let mut table = [[0i8; 256]; MAX_INPUT_CHANNELS];
        for (ch, t) in table.iter_mut().enumerate().take(rule.channels()) {
            for (p, v) in (0..=255u8).zip(t.iter_mut()) {
                *v = rule.quantize(ch, f32::from(p));
            }
        }
        Ok(Self {
            channels: rule.channels(),
            table,
        })
    }

    /// Channels of the spec.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The 256 int8 values of channel `channel` (indexed by level); `None` past the last channel.
    pub fn channel(&self, channel: usize) -> Option<&[i8; 256]> {
        self.table.get(channel).filter(|_| channel < self.channels)
    }

    /// Maps an HWC u8 tensor `pixels` into `out`: whole pixels (a multiple of `channels`
    /// values) and equal lengths ([`PreprocessError::BufferSize`] otherwise).
    pub fn apply(&self, pixels: &[u8], out: &mut [i8]) -> Result<(), PreprocessError> {
        let whole = pixels.len() - pixels.len() % self.channels;
        if whole != pixels.len() {
            return Err(PreprocessError::BufferSize {
                what: "input",
                expected: whole,
                found: pixels.len(),
            });
        }
        if out.len() != pixels.len() {
            return Err(PreprocessError::BufferSize {
                what: "output",
                expected: pixels.len(),
                found: out.len(),
            });
        }
        for (px, o) in pixels
            .chunks_exact(self.channels)
            .zip(out.chunks_exact_mut(self.channels))
        {
            for ((&p, o), t) in px.iter().zip(o.iter_mut()).zip(&self.table) {
                *o = t[usize::from(p)];
            }
        }
        Ok(())
    }
}

/// Quantizes an HWC u8 image (`spec.height * spec.width * spec.channels` levels) into the int8
/// input `out` (same length), through an [`InputTable`].
pub fn quantize_image(
    spec: &InputSpec,
    pixels: &[u8],
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    let rule = Normalizer::new(spec)?;
    rule.check_lengths(spec, pixels.len(), out.len())?;
    InputTable::new(spec)?.apply(pixels, out)
}

/// Quantizes an HWC f32 image of levels `0.0..=255.0` (e.g. area means, not rounded) into the
/// int8 input `out` (same length, the spec's element count): [`InputSpec::quantize`] of each.
pub fn quantize_means(
    spec: &InputSpec,
    values: &[f32],
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    let rule = Normalizer::new(spec)?;
    rule.check_lengths(spec, values.len(), out.len())?;
    rule.map(values, out, |ch, p| rule.quantize(ch, p));
    Ok(())
}

/// Quantizes an HWC f32 image of unit values `x = p / 255` (how the trainer holds images) into
/// the int8 input `out` (same length, the spec's element count): [`InputSpec::quantize_unit`] of
/// each.
pub fn quantize_unit_image(
    spec: &InputSpec,
    x: &[f32],
    out: &mut [i8],
) -> Result<(), PreprocessError> {
    let rule = Normalizer::new(spec)?;
    rule.check_lengths(spec, x.len(), out.len())?;
    rule.map(x, out, |ch, v| rule.quantize_unit(ch, v));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(channels: u8, mean: f32, std: f32, scale: f32, zero_point: i8) -> InputSpec {
        InputSpec {
            width: 3,
            height: 2,
            channels,
            mean: (0..channels).map(|c| mean + 0.1 * f32::from(c)).collect(),
            std: (0..channels).map(|c| std * (1.0 + f32::from(c))).collect(),
            quant: Quant::new(scale, zero_point),
        }
    }

    /// Golden values, f32 emulated in Python (each operation rounded to single precision):
    /// `import struct, math; f = lambda x: struct.unpack('f', struct.pack('f', x))[0]`,
    /// `v = f(f(f(f(p) / 255) - f(m)) / f(s)) / f(sc))`, `q = floor(|v| + 0.5) * sign(v) + zp`.
    #[test]
    fn golden_values() {
        let s = spec(1, 0.4, 0.25, 0.03, 5);
        let cases = [
            (0.0, -48),
            (100.0, 4),
            (200.0, 56),
            (255.0, 85),
            (127.5, 18),
            (37.25, -29),
        ];
        for (p, q) in cases {
            assert_eq!(s.quantize(0, p), Some(q), "p = {p}");
        }
        let saturating = spec(1, 0.4, 0.25, 0.005, 5);
        let cases = [(0.0, -128), (100.0, -1), (200.0, 127), (127.5, 85)];
        for (p, q) in cases {
            assert_eq!(saturating.quantize(0, p), Some(q), "p = {p}");
        }
        assert_eq!(s.quantize_pixel(0, 200), Some(56));
        assert_eq!(s.quantize(1, 0.0), None);
        assert_eq!(s.quantize_unit(1, 0.0), None);
    }

    #[test]
    fn table_is_the_rule_and_helpers_agree() {
        let s = spec(3, 0.45, 0.22, 0.017, -3);
        let table = InputTable::new(&s).unwrap();
        assert_eq!(table.channels(), 3);
        assert!(table.channel(3).is_none());
        for ch in 0..3 {
            let t = table.channel(ch).unwrap();
            for p in 0..=255u8 {
                assert_eq!(Some(t[usize::from(p)]), s.quantize_pixel(ch, p));
            }
        }
        let px: Vec<u8> = (0..18).map(|i| (i * 41 % 256) as u8).collect();
        let mut a = [0i8; 18];
        let mut b = [0i8; 18];
        let mut c = [0i8; 18];
        quantize_image(&s, &px, &mut a).unwrap();
        let levels: Vec<f32> = px.iter().map(|&p| f32::from(p)).collect();
        quantize_means(&s, &levels, &mut b).unwrap();
        let units: Vec<f32> = levels.iter().map(|p| p / 255.0).collect();
        quantize_unit_image(&s, &units, &mut c).unwrap();
        assert_eq!((a, b), (c, c));
        for (i, &q) in a.iter().enumerate() {
            assert_eq!(Some(q), s.quantize_pixel(i % 3, px[i]));
        }
    }

    #[test]
    fn typed_errors() {
        let s = spec(1, 0.5, 0.5, 0.01, 0);
        let mut out = [0i8; 6];
        assert_eq!(
            quantize_image(&s, &[0; 5], &mut out),
            Err(PreprocessError::BufferSize {
                what: "input",
                expected: 6,
                found: 5
            })
        );
        assert_eq!(
            quantize_means(&s, &[0.0; 6], &mut out[..4]),
            Err(PreprocessError::BufferSize {
                what: "output",
                expected: 6,
                found: 4
            })
        );
        let mut bad = s.clone();
        bad.channels = 2;
        assert_eq!(
            quantize_unit_image(&bad, &[0.0; 12], &mut [0; 12]),
            Err(PreprocessError::Channels {
                what: "input spec mean",
                expected: 2,
                found: 1
            })
        );
        bad.channels = 0;
        assert!(InputTable::new(&bad).is_err());
        let t = InputTable::new(&spec(3, 0.5, 0.5, 0.01, 0)).unwrap();
        assert_eq!(
            t.apply(&[0; 4], &mut [0; 4]),
            Err(PreprocessError::BufferSize {
                what: "input",
                expected: 3,
                found: 4
            })
        );
        assert_eq!(
            t.apply(&[0; 6], &mut [0; 3]),
            Err(PreprocessError::BufferSize {
                what: "output",
                expected: 6,
                found: 3
            })
        );
    }

    proptest! {
        /// `quantize(ch, p)` is `quantize_unit(ch, p / 255)`, and the rule is monotone in `p`.
        #[test]
        fn level_and_unit_rules_agree(
            p in 0.0f32..=255.0, dp in 0.0f32..10.0, ch in 0usize..3,
            mean in -1.0f32..2.0, std in 0.01f32..3.0, scale in 1e-4f32..0.5, zp in any::<i8>(),
        ) {
            let s = spec(3, mean, std, scale, zp);
            prop_assert_eq!(s.quantize(ch, p), s.quantize_unit(ch, p / 255.0));
            let (lo, hi) = (s.quantize(ch, p).unwrap(), s.quantize(ch, (p + dp).min(255.0)).unwrap());
            prop_assert!(lo <= hi);
            let px = vec![p as u8; 18];
            let mut out = [0i8; 18];
            quantize_image(&s, &px, &mut out).unwrap();
            prop_assert_eq!(Some(out[ch]), s.quantize_pixel(ch, p as u8));
        }
    }
}
