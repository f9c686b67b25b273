//! Reference int8 pooling: windowed maximum and average, and the global average.
//!
//! Input and output share one quantization, so pooling works on the int8 values directly
//! (TFLite's `reference_integer_ops::MaxPool` / `AveragePool`):
//! - maximum over the window's real cells (padding excluded);
//! - average over the window's real cells: `sum / count` rounded to nearest with ties away from
//!   zero, as TFLite's `(sum + count/2) / count` for `sum > 0` and `(sum - count/2) / count`
//!   otherwise (C division truncating toward zero). Note that the rounding is of the int8 value
//!   `q`, not of `q - zero_point`;
//! - the global average is the average over the whole `h x w` plane, same rounding.
//!
//! Then the layer's activation clamp.

use siamedge_format::{Layer, Window};

use super::Geometry;

/// Rounded division of a window sum by its cell count (TFLite's average-pool rounding).
#[inline(always)]
pub fn rounded_average(sum: i64, count: i64) -> i64 {
    if sum > 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// [`rounded_average`] in i32 arithmetic (one hardware division on Cortex-M), for `count` up to
/// `2^16` cells (then `|sum| <= 2^23` and nothing overflows); also the flip average's rounding
/// ([`super::flip`]).
#[inline(always)]
pub fn rounded_average_small(sum: i32, count: i32) -> i32 {
    if sum > 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// Channels summed at a time by the average pools (an i32 per channel on the stack).
const BLOCK: usize = 64;

/// Cells above which the pools divide in i64.
const SMALL_COUNT: usize = 1 << 16;

/// Writes the rounded averages of `sums` over `count` cells, clamped, into `out`.
fn write_averages(sums: &[i32], count: usize, out: &mut [i8], min: i8, max: i8) {
    for (o, &s) in out.iter_mut().zip(sums) {
        let avg = if count <= SMALL_COUNT {
            i64::from(rounded_average_small(s, count as i32))
        } else {
            rounded_average(i64::from(s), count as i64)
        };
        *o = avg.clamp(i64::from(min), i64::from(max)) as i8;
    }
}

/// Which reduction a windowed pool computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Maximum.
    Max,
    /// Rounded average.
    Average,
}

/// A prepared windowed pool.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// The window over the input (output channels = input channels).
    pub geometry: Geometry,
    /// Maximum or average.
    pub reduce: Reduce,
    /// Activation clamp, lowest value.
    pub min: i8,
    /// Activation clamp, highest value.
    pub max: i8,
}

impl Pool {
    /// Prepares a validated `MaxPool2d(window)` or `AvgPool2d(window)` layer.
    pub fn prepare(layer: &Layer<'_>, window: &Window, reduce: Reduce) -> Self {
        Self {
            geometry: Geometry::new(layer, window),
            reduce,
            min: layer.activation.min,
            max: layer.activation.max,
        }
    }

    /// Computes `output` (`out_h * out_w * c`) from `input` (`in_h * in_w * c`).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let g = &self.geometry;
        let c = g.in_c;
        let mut pixels = output.chunks_exact_mut(c);
        for oy in 0..g.out_h {
            let (y0, y1) = Geometry::valid_taps(oy, g.stride_h, 1, g.pad_top, g.kernel_h, g.in_h);
            let rows = (oy * g.stride_h + y0 - g.pad_top)..(oy * g.stride_h + y1 - g.pad_top);
            for ox in 0..g.out_w {
                let Some(out) = pixels.next() else { return };
                let (x0, x1) =
                    Geometry::valid_taps(ox, g.stride_w, 1, g.pad_left, g.kernel_w, g.in_w);
                let cols = (ox * g.stride_w + x0 - g.pad_left)..(ox * g.stride_w + x1 - g.pad_left);
                // The window's real cells, each a run of `c` channel values.
                let cells = rows.clone().flat_map(|iy| {
                    cols.clone().map(move |ix| {
                        let at = (iy * g.in_w + ix) * c;
                        &input[at..at + c]
                    })
                });
                match self.reduce {
                    Reduce::Max => {
                        out.fill(i8::MIN);
                        for cell in cells {
                            for (o, &v) in out.iter_mut().zip(cell) {
                                *o = (*o).max(v);
                            }
                        }
                        for o in out.iter_mut() {
                            *o = (*o).clamp(self.min, self.max);
                        }
                    }
                    Reduce::Average => {
                        let count = (y1 - y0) * (x1 - x0);
                        for (b, out) in out.chunks_mut(BLOCK).enumerate() {
                            let mut sums = [0i32; BLOCK];
                            let sums = &mut sums[..out.len()];
                            for cell in cells.clone() {
                                let cell = &cell[b * BLOCK..b * BLOCK + out.len()];
                                for (s, &v) in sums.iter_mut().zip(cell) {
                                    *s += i32::from(v);
                                }
                            }
                            write_averages(sums, count, out, self.min, self.max);
                        }
                    }
                }
            }
        }
    }
}

/// A prepared global average pool: `(h, w, c)` to `(1, 1, c)`.
#[derive(Debug, Clone, Copy)]
pub struct GlobalAverage {
    /// Positions averaged (`h * w`).
    pub positions: usize,
    /// Channels.
    pub channels: usize,
    /// Activation clamp, lowest value.
    pub min: i8,
    /// Activation clamp, highest value.
    pub max: i8,
}

impl GlobalAverage {
    /// Prepares a validated `GlobalAvgPool` layer.
    pub fn prepare(layer: &Layer<'_>) -> Self {
        Self {
            positions: usize::from(layer.input.h) * usize::from(layer.input.w),
            channels: usize::from(layer.input.c),
            min: layer.activation.min,
            max: layer.activation.max,
        }
    }

    /// Computes `output` (`c`) from `input` (`h * w * c`).
    pub fn eval(&self, input: &[i8], output: &mut [i8]) {
        let c = self.channels;
        for (b, out) in output.chunks_mut(BLOCK).enumerate() {
            let mut sums = [0i32; BLOCK];
            let sums = &mut sums[..out.len()];
            for position in input.chunks_exact(c) {
                let values = &position[b * BLOCK..b * BLOCK + out.len()];
                for (s, &v) in sums.iter_mut().zip(values) {
                    *s += i32::from(v);
                }
            }
            write_averages(sums, self.positions, out, self.min, self.max);
        }
    }
}
