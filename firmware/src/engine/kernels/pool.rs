//! Reference int8 pooling: windowed maximum and average, and the global average.
//!
//! Input and output share one quantization, so pooling works on the int8 values directly
//! (TFLite's `reference_integer_ops::MaxPool` / `AveragePool`):
//! - maximum over the window's real cells (padding excluded);
//! - average over the window's real cells: `sum / count` rounded to nearest with ties away from
//!   zero, as TFLite's `(sum + count/2) / count` for `sum > 0` and `(sum - count/2) / count`
//!   otherwise (C division truncating toward zero). Note that the rounding is of the int8 value
//!   `q`, not of `q - zero_point`;
//! - the global average is the average over the whole `h x w` plane, same rounding;
//! then the layer's activation clamp.

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
            let iy0 = oy * g.stride_h + y0 - g.pad_top;
            for ox in 0..g.out_w {
                let Some(out) = pixels.next() else { return };
                let (x0, x1) =
                    Geometry::valid_taps(ox, g.stride_w, 1, g.pad_left, g.kernel_w, g.in_w);
                let ix0 = ox * g.stride_w + x0 - g.pad_left;
                let count = ((y1 - y0) * (x1 - x0)) as i64;
                for (ch, o) in out.iter_mut().enumerate() {
                    let cells = (iy0..iy0 + (y1 - y0)).flat_map(|iy| {
                        (ix0..ix0 + (x1 - x0)).map(move |ix| input[(iy * g.in_w + ix) * c + ch])
                    });
                    let value = match self.reduce {
                        Reduce::Max => i64::from(cells.max().unwrap_or(i8::MIN)),
                        Reduce::Average => {
                            let sum: i32 = cells.map(i32::from).sum();
                            rounded_average(i64::from(sum), count)
                        }
                    };
                    *o = value.clamp(i64::from(self.min), i64::from(self.max)) as i8;
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
        for (ch, o) in output.iter_mut().enumerate() {
            let sum: i64 = input
                .iter()
                .skip(ch)
                .step_by(self.channels)
                .map(|&v| i64::from(v))
                .sum();
            let avg = rounded_average(sum, self.positions as i64);
            *o = avg.clamp(i64::from(self.min), i64::from(self.max)) as i8;
        }
    }
}
