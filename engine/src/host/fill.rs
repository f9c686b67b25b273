//! Panel rows of the host GEMM: the `K` values of one output position (im2col) or of a dense
//! input, offset by `-input_zero_point` and widened to i16 (`|x - zp| <= 255`), padding taps 0,
//! then 0 up to the row's even length. Plain Rust that the compiler vectorizes with the calling
//! kernel's target features.

use crate::kernels::Geometry;

/// Writes `values` offset by `offset` into `row`, then zeros to its end (`row.len() >=
/// values.len()`; a longer `values` is cut to the row).
#[inline(always)]
pub fn vector(values: &[i8], offset: i32, row: &mut [i16]) {
    let n = values.len().min(row.len());
    let (head, pad) = row.split_at_mut(n);
    let offset = offset as i16;
    for (r, &v) in head.iter_mut().zip(values) {
        *r = i16::from(v) + offset;
    }
    pad.fill(0);
}

/// Writes the im2col row of output position `(oy, ox)` of a convolution with geometry `g` over
/// `input` into `row` (`kernel_h * kernel_w * in_c` values in OHWI tap order, then zeros).
#[inline(always)]
pub fn im2col(g: &Geometry, input: &[i8], (oy, ox): (usize, usize), offset: i32, row: &mut [i16]) {
    let c = g.in_c;
    let offset = offset as i16;
    let mut at = 0;
    for ky in 0..g.kernel_h {
        let iy = g.in_row(oy, ky);
        for kx in 0..g.kernel_w {
            let Some(dst) = row.get_mut(at..at + c) else {
                return;
            };
            match (iy, g.in_col(ox, kx)) {
                (Some(iy), Some(ix)) => {
                    let from = (iy * g.in_w + ix) * c;
                    match input.get(from..from + c) {
                        Some(src) => {
                            for (d, &v) in dst.iter_mut().zip(src) {
                                *d = i16::from(v) + offset;
                            }
                        }
                        None => dst.fill(0),
                    }
                }
                _ => dst.fill(0),
            }
            at += c;
        }
    }
    if let Some(pad) = row.get_mut(at..) {
        pad.fill(0);
    }
}
