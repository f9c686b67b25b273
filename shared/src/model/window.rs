//! Sliding windows: the kernel of a convolution or the window of a pooling layer, with stride,
//! dilation and explicit padding, and the output size they give.

use serde::{Deserialize, Serialize};

use super::layer::Shape;

/// Explicit zero padding in elements, each `0..=MAX_DIM` and below the window's effective size.
/// Wire: `top`, `left`, `bottom`, `right`, each `u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Padding {
    /// Rows added above.
    pub top: u16,
    /// Columns added on the left.
    pub left: u16,
    /// Rows added below.
    pub bottom: u16,
    /// Columns added on the right.
    pub right: u16,
}

impl Padding {
    /// No padding (TFLite `VALID`).
    pub const VALID: Padding = Padding {
        top: 0,
        left: 0,
        bottom: 0,
        right: 0,
    };
}

/// TFLite `SAME` padding along one axis: `(before, after)` so that `out = ceil(in / stride)`.
fn same_axis(input: u16, effective_kernel: u64, stride: u16) -> (u16, u16) {
    let (input, stride) = (u64::from(input), u64::from(stride.max(1)));
    let out = input.div_ceil(stride);
    let needed = (out.saturating_sub(1) * stride + effective_kernel).saturating_sub(input);
    let before = needed / 2;
    let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
    (clamp(before), clamp(needed - before))
}

/// A sliding window (convolution kernel or pooling window): size, stride, dilation, padding.
/// Wire: `kernel_h`, `kernel_w`, `stride_h`, `stride_w`, `dilation_h`, `dilation_w` (each `u16`,
/// `1..=MAX_DIM`), then the [`Padding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Window rows.
    pub kernel_h: u16,
    /// Window columns.
    pub kernel_w: u16,
    /// Step between windows, rows.
    pub stride_h: u16,
    /// Step between windows, columns.
    pub stride_w: u16,
    /// Spacing of kernel taps, rows (1: dense; pools require 1).
    pub dilation_h: u16,
    /// Spacing of kernel taps, columns (1: dense; pools require 1).
    pub dilation_w: u16,
    /// Zero padding around the input.
    pub padding: Padding,
}

impl Window {
    /// A `kernel_h x kernel_w` window moving by `stride_h, stride_w`, no dilation, no padding.
    pub const fn new(kernel_h: u16, kernel_w: u16, stride_h: u16, stride_w: u16) -> Self {
        Self {
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            dilation_h: 1,
            dilation_w: 1,
            padding: Padding::VALID,
        }
    }

    /// This window with dilation `(dilation_h, dilation_w)`.
    pub const fn with_dilation(mut self, dilation_h: u16, dilation_w: u16) -> Self {
        self.dilation_h = dilation_h;
        self.dilation_w = dilation_w;
        self
    }

    /// This window with TFLite `SAME` padding for an input of `input.h x input.w`: the output has
    /// `ceil(h / stride_h) x ceil(w / stride_w)` positions, the extra row or column at the bottom
    /// or right.
    pub fn same(mut self, input: Shape) -> Self {
        let (top, bottom) = same_axis(input.h, self.effective_h(), self.stride_h);
        let (left, right) = same_axis(input.w, self.effective_w(), self.stride_w);
        self.padding = Padding {
            top,
            left,
            bottom,
            right,
        };
        self
    }

    /// Rows one window covers: `dilation_h * (kernel_h - 1) + 1`.
    pub const fn effective_h(&self) -> u64 {
        effective(self.kernel_h, self.dilation_h)
    }

    /// Columns one window covers: `dilation_w * (kernel_w - 1) + 1`.
    pub const fn effective_w(&self) -> u64 {
        effective(self.kernel_w, self.dilation_w)
    }

    /// Output positions `(rows, columns)` for an `h x w` input:
    /// `(in + pad_before + pad_after - effective) / stride + 1` per axis; `None` when the window
    /// is larger than the padded input or a stride is 0.
    pub fn output_hw(&self, h: u16, w: u16) -> Option<(u64, u64)> {
        let p = self.padding;
        let rows = axis_out(h, p.top, p.bottom, self.effective_h(), self.stride_h)?;
        let cols = axis_out(w, p.left, p.right, self.effective_w(), self.stride_w)?;
        Some((rows, cols))
    }
}

const fn effective(kernel: u16, dilation: u16) -> u64 {
    (dilation as u64) * (kernel as u64).saturating_sub(1) + 1
}

fn axis_out(input: u16, before: u16, after: u16, effective: u64, stride: u16) -> Option<u64> {
    let padded = u64::from(input) + u64::from(before) + u64::from(after);
    let span = padded.checked_sub(effective)?;
    Some(span.checked_div(u64::from(stride))? + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tflite() {
        // 112 wide, 3x3 stride 2: out 56, total padding (55 * 2 + 3) - 112 = 1 -> (0, 1).
        let w = Window::new(3, 3, 2, 2).same(Shape::new(112, 112, 3));
        assert_eq!(
            w.padding,
            Padding {
                top: 0,
                left: 0,
                bottom: 1,
                right: 1
            }
        );
        assert_eq!(w.output_hw(112, 112), Some((56, 56)));
        // 5x5 stride 1 on 7: total padding 4 -> (2, 2).
        let w = Window::new(5, 5, 1, 1).same(Shape::new(7, 7, 1));
        assert_eq!(
            w.padding,
            Padding {
                top: 2,
                left: 2,
                bottom: 2,
                right: 2
            }
        );
        // Dilation 2 makes a 3x3 kernel cover 5 cells.
        let w = Window::new(3, 3, 1, 1).with_dilation(2, 2);
        assert_eq!(w.output_hw(9, 9), Some((5, 5)));
        assert_eq!(Window::new(3, 3, 1, 1).output_hw(2, 9), None);
        assert_eq!(Window::new(3, 3, 0, 1).output_hw(9, 9), None);
    }
}
