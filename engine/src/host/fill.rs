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
    if interior(g, input, (oy, ox), offset, row) {
        return;
    }
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

/// [`im2col`] for a window wholly inside the input: every tap's `in_c` values copied from one
/// row offset, no per-tap padding test. `false` (nothing written) for windows that touch the
/// padding, or when `row` or `input` is short.
#[inline(always)]
fn interior(
    g: &Geometry,
    input: &[i8],
    (oy, ox): (usize, usize),
    offset: i32,
    row: &mut [i16],
) -> bool {
    let (Some(y0), Some(x0)) = (
        (oy * g.stride_h).checked_sub(g.pad_top),
        (ox * g.stride_w).checked_sub(g.pad_left),
    ) else {
        return false;
    };
    let c = g.in_c;
    let k = g.kernel_h * g.kernel_w * c;
    let y1 = y0 + (g.kernel_h - 1) * g.dilation_h;
    let x1 = x0 + (g.kernel_w - 1) * g.dilation_w;
    if y1 >= g.in_h || x1 >= g.in_w || row.len() < k || input.len() < g.in_h * g.in_w * c {
        return false;
    }
    let offset = offset as i16;
    let (taps, pad) = row.split_at_mut(k);
    if c == 1 && g.kernel_w == 3 && g.dilation_w == 1 {
        // A grey image's first layer: three values per window row, unrolled.
        for (ky, d) in taps.chunks_exact_mut(3).enumerate() {
            let from = (y0 + ky * g.dilation_h) * g.in_w + x0;
            if let (Some(src), [d0, d1, d2]) = (input.get(from..from + 3), d) {
                *d0 = i16::from(src[0]) + offset;
                *d1 = i16::from(src[1]) + offset;
                *d2 = i16::from(src[2]) + offset;
            }
        }
        fill_short(pad, 0);
        return true;
    }
    if g.dilation_w == 1 {
        // Each window row's taps are `kernel_w * in_c` contiguous input values.
        let span = g.kernel_w * c;
        for (ky, d) in taps.chunks_exact_mut(span).enumerate() {
            let from = ((y0 + ky * g.dilation_h) * g.in_w + x0) * c;
            if let Some(src) = input.get(from..from + span) {
                for (d, &v) in d.iter_mut().zip(src) {
                    *d = i16::from(v) + offset;
                }
            }
        }
        fill_short(pad, 0);
        return true;
    }
    let mut dst = taps.chunks_exact_mut(c);
    for ky in 0..g.kernel_h {
        let base = ((y0 + ky * g.dilation_h) * g.in_w + x0) * c;
        for kx in 0..g.kernel_w {
            let from = base + kx * g.dilation_w * c;
            let (Some(d), Some(src)) = (dst.next(), input.get(from..from + c)) else {
                return true;
            };
            for (d, &v) in d.iter_mut().zip(src) {
                *d = i16::from(v) + offset;
            }
        }
    }
    fill_short(pad, 0);
    true
}

/// The unsigned rows of the byte kernels (AVX-512 VNNI `vpdpbusd`): `x + 128` as u8 (`0..=255`)
/// instead of `x - zp` as i16, padding taps and the row's tail `pad = zp + 128` (so that they
/// stand for `x = zp`; the kernels subtract `pad * sum w` once per channel through the bias).
#[inline(always)]
pub fn vector_u8(values: &[i8], pad: u8, row: &mut [u8]) {
    let n = values.len().min(row.len());
    let (head, tail) = row.split_at_mut(n);
    for (r, &v) in head.iter_mut().zip(values) {
        *r = v as u8 ^ 0x80;
    }
    tail.fill(pad);
}

/// [`im2col`] as unsigned bytes (see [`vector_u8`]).
#[inline(always)]
pub fn im2col_u8(g: &Geometry, input: &[i8], (oy, ox): (usize, usize), pad: u8, row: &mut [u8]) {
    let c = g.in_c;
    let interior = (oy * g.stride_h)
        .checked_sub(g.pad_top)
        .zip((ox * g.stride_w).checked_sub(g.pad_left))
        .filter(|&(y0, x0)| {
            y0 + (g.kernel_h - 1) * g.dilation_h < g.in_h
                && x0 + (g.kernel_w - 1) * g.dilation_w < g.in_w
        });
    let k = g.kernel_h * g.kernel_w * c;
    if let (Some((y0, x0)), true) = (interior, row.len() >= k) {
        let (taps, tail) = row.split_at_mut(k);
        if c == 1 && g.kernel_w == 3 && g.dilation_w == 1 {
            // A grey image's first layer: three values per window row, unrolled.
            for (ky, d) in taps.chunks_exact_mut(3).enumerate() {
                let from = (y0 + ky * g.dilation_h) * g.in_w + x0;
                if let (Some(src), [d0, d1, d2]) = (input.get(from..from + 3), d) {
                    *d0 = src[0] as u8 ^ 0x80;
                    *d1 = src[1] as u8 ^ 0x80;
                    *d2 = src[2] as u8 ^ 0x80;
                }
            }
        } else if g.dilation_w == 1 {
            // Each window row's taps are `kernel_w * in_c` contiguous input values.
            let span = g.kernel_w * c;
            for (ky, d) in taps.chunks_exact_mut(span).enumerate() {
                let from = ((y0 + ky * g.dilation_h) * g.in_w + x0) * c;
                if let Some(src) = input.get(from..from + span) {
                    for (d, &v) in d.iter_mut().zip(src) {
                        *d = v as u8 ^ 0x80;
                    }
                }
            }
        } else {
            let mut dst = taps.chunks_exact_mut(c);
            for ky in 0..g.kernel_h {
                let base = ((y0 + ky * g.dilation_h) * g.in_w + x0) * c;
                for kx in 0..g.kernel_w {
                    let from = base + kx * g.dilation_w * c;
                    if let (Some(d), Some(src)) = (dst.next(), input.get(from..from + c)) {
                        for (d, &v) in d.iter_mut().zip(src) {
                            *d = v as u8 ^ 0x80;
                        }
                    }
                }
            }
        }
        fill_short(tail, pad);
        return;
    }
    let mut at = 0;
    for ky in 0..g.kernel_h {
        let iy = g.in_row(oy, ky);
        for kx in 0..g.kernel_w {
            let Some(dst) = row.get_mut(at..at + c) else {
                return;
            };
            let src = match (iy, g.in_col(ox, kx)) {
                (Some(iy), Some(ix)) => {
                    input.get((iy * g.in_w + ix) * c..(iy * g.in_w + ix + 1) * c)
                }
                _ => None,
            };
            match src {
                Some(src) => {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = v as u8 ^ 0x80;
                    }
                }
                None => dst.fill(pad),
            }
            at += c;
        }
    }
    if let Some(tail) = row.get_mut(at..) {
        tail.fill(pad);
    }
}

/// `tail.fill(v)` for the few values after a row's taps (fewer than 4 in a panel row: `K`
/// rounds up to whole pairs or quads), without a call to `memset` per row.
#[inline(always)]
fn fill_short<T: Copy>(tail: &mut [T], v: T) {
    match tail {
        [] => {}
        [a] => *a = v,
        [a, b] => (*a, *b) = (v, v),
        [a, b, c] => (*a, *b, *c) = (v, v, v),
        long => long.fill(v),
    }
}
