//! Flip averaging: the embedding of an image and of its mirror image, averaged in integers and
//! L2-normalized again, for a model whose `embedding.flip_average` is set. [`Engine::invoke`]
//! runs it, so every caller gets the same bytes: the firmware, the edge's int8 runtime and the
//! trainer's integer reference (`run_model`, the trainer's `Int8Embedder`).
//!
//! The rule, the integer counterpart of the trainer's float `--flip-tta`:
//! 1. `a = f(x)`: the network on the input `x` (`h x w x c` int8, NHWC);
//! 2. `b = f(x')`: the network on the mirror image `x'[y][i][ch] = x[y][w - 1 - i][ch]` (columns
//!    reversed, each pixel's channels kept in their order; [`mirror_columns`]);
//! 3. `m_i = round((a_i + b_i) / 2)`, ties away from zero: the average pools' rounding
//!    ([`rounded_average_small`] of the sum over 2 cells: `(s + 1) / 2` for `s = a_i + b_i > 0`,
//!    `(s - 1) / 2` otherwise, dividing toward zero). `m_i` lies between `a_i` and `b_i`, so it
//!    is an int8 within the last layer's activation range, and the order of the passes does not
//!    matter;
//! 4. the embedding is `m`; for an L2-normalized model (last layer L2Normalize) it is that
//!    layer's own kernel ([`L2Norm`]) on `m`, read with zero point 0 (the embedding's
//!    quantization, scale 1/128), then the layer's activation clamp:
//!    `clamp(round(128 m_i / ||m||), -128, 127)`, correctly rounded; `m = 0` gives zeros.
//!
//! Why halve before normalizing, when normalizing is scale-free: `a_i + b_i` reaches -256, past
//! the `|d| <= 255` that the kernel's exact u32 arithmetic takes; halving keeps one L2 kernel.
//!
//! Cost: two passes of the network, two copies of the input and one of the embedding, then `dim`
//! averages and one normalization. RAM: the input (for the mirrored pass) and the first pass's
//! embedding stay in the arena's first [`Model::flip_keep_bytes`] bytes for the whole run
//! (`input elements + dim`, rounded up to 8, counted in the model's arena rule): 2704 bytes for
//! a 56x46 grey input and 128 values.
//!
//! [`Engine::invoke`]: crate::Engine::invoke
//! [`Model::flip_keep_bytes`]: siamedge_format::Model::flip_keep_bytes

use siamedge_format::{LayerKind, Model};

use super::l2norm::L2Norm;
use super::pool::rounded_average_small;

/// The mirror image of an NHWC tensor: `output[y][i][ch] = input[y][width - 1 - i][ch]`, for
/// rows of `width * channels` values (columns reversed, each pixel's channels in their order).
/// `input` and `output` have the same length, a multiple of `width * channels`; generic so that a
/// host mirrors a float image by the same rule.
pub fn mirror_columns<T: Copy>(input: &[T], output: &mut [T], width: usize, channels: usize) {
    let row = width * channels;
    if channels == 0 || row == 0 {
        return;
    }
    for (src, dst) in input.chunks_exact(row).zip(output.chunks_exact_mut(row)) {
        if channels == 1 {
            // Grey: one value per pixel, a plain reversed copy (a few instructions per pixel on a
            // Cortex-M4, where a copy per one-value chunk takes some thirty).
            for (d, s) in dst.iter_mut().zip(src.iter().rev()) {
                *d = *s;
            }
            continue;
        }
        for (s, d) in src
            .chunks_exact(channels)
            .zip(dst.chunks_exact_mut(channels).rev())
        {
            d.copy_from_slice(s);
        }
    }
}

/// `round((a + b) / 2)`, ties away from zero (step 3 of the rule).
pub fn average(a: i8, b: i8) -> i8 {
    // Between a and b: always an int8.
    rounded_average_small(i32::from(a) + i32::from(b), 2) as i8
}

/// The flip-averaging rule of one model, prepared.
#[derive(Debug, Clone, Copy)]
pub struct FlipAverage {
    /// Input columns.
    pub width: usize,
    /// Input channels.
    pub channels: usize,
    /// The re-normalization of an L2-normalized model: its last layer's kernel with input zero
    /// point 0; `None` for a model that does not normalize.
    pub normalize: Option<L2Norm>,
}

impl FlipAverage {
    /// The rule for a validated `model`; `None` when it does not flip-average.
    pub fn prepare(model: &Model<'_>) -> Option<Self> {
        if !model.embedding().flip_average {
            return None;
        }
        let shape = model.input().shape();
        let normalize = model
            .layers()
            .last()
            .filter(|l| l.kind == LayerKind::L2Normalize)
            .map(|last| L2Norm {
                input_zero_point: i32::from(last.output_quant.zero_point),
                ..L2Norm::prepare(last)
            });
        Some(Self {
            width: usize::from(shape.w),
            channels: usize::from(shape.c),
            normalize,
        })
    }

    /// Writes the mirror image of the input tensor `input` into `output` (step 2).
    pub fn mirror(&self, input: &[i8], output: &mut [i8]) {
        mirror_columns(input, output, self.width, self.channels);
    }

    /// Steps 3 and 4: from the first pass's embedding `first` and the second's `second` (same
    /// length), writes the embedding into `second`; `first` is left holding the average `m`.
    pub fn combine(&self, first: &mut [i8], second: &mut [i8]) {
        for (a, &b) in first.iter_mut().zip(second.iter()) {
            *a = average(*a, b);
        }
        match &self.normalize {
            Some(l2) => l2.eval(first, second),
            None => second.copy_from_slice(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_rounds_half_away_from_zero() {
        for (a, b, m) in [
            (1, 2, 2),
            (-1, -2, -2),
            (1, -2, -1),
            (-1, 2, 1),
            (3, 3, 3),
            (0, 1, 1),
            (0, -1, -1),
            (0, 0, 0),
            (-128, -128, -128),
            (127, 127, 127),
            (-128, 127, -1),
            (127, -128, -1),
            (100, -37, 32),
        ] {
            assert_eq!(average(a, b), m, "{a} {b}");
            assert_eq!(average(b, a), m, "{b} {a}");
        }
        for a in i8::MIN..=i8::MAX {
            for b in i8::MIN..=i8::MAX {
                let exact = (f64::from(a) + f64::from(b)) / 2.0;
                assert_eq!(f64::from(average(a, b)), exact.round(), "{a} {b}");
            }
        }
    }

    #[test]
    fn the_mirror_reverses_columns_and_keeps_channels() {
        // 2 rows, 3 columns, 2 channels: value = 100 row + 10 column + channel.
        let x: Vec<i8> = (0..2)
            .flat_map(|r| (0..3).flat_map(move |c| (0..2).map(move |ch| 100 * r + 10 * c + ch)))
            .map(|v: i32| (v - 64) as i8)
            .collect();
        let mut m = vec![0i8; x.len()];
        mirror_columns(&x, &mut m, 3, 2);
        let want: Vec<i8> = (0..2)
            .flat_map(|r| {
                (0..3).flat_map(move |c| (0..2).map(move |ch| 100 * r + 10 * (2 - c) + ch))
            })
            .map(|v: i32| (v - 64) as i8)
            .collect();
        assert_eq!(m, want);
        let mut back = vec![0i8; x.len()];
        mirror_columns(&m, &mut back, 3, 2);
        assert_eq!(back, x);
        // Grey, the one-value-per-pixel path.
        let mut grey = [0i8; 6];
        mirror_columns(&[1i8, 2, 3, 4, 5, 6], &mut grey, 3, 1);
        assert_eq!(grey, [3, 2, 1, 6, 5, 4]);
    }
}
