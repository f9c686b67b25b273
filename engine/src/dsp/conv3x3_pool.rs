//! A single-channel 3x3 convolution (stride 1, no dilation, any padding) fused with the 2x2 max
//! pool after it: the first layer of a CNN on grey images, where the generic panel (`K = 9`,
//! two groups and a tail of one) wastes most of its work on the fill and the tail.
//!
//! The 4 convolution cells of one pooling window read a 4x4 input patch. Each patch row `r` is
//! one little-endian word `[b0 b1 b2 b3]` (an unaligned load inside the input, zero-point bytes
//! in the padding), widened with the input offset into `E_r = (b0, b2)` and `O_r = (b1, b3)`
//! (`SXTAB16`, `SXTAB16 ROR 8`): 12 instructions for the whole window. With the filter row
//! `(w0, w1, w2)` widened once per inference into `A = (w0, w2)` and `D = (w1, w1)`, tap row
//! `ky` of the cell at column offset 0 is `SMLAD(E, A) + SMLABB(O, D)` (`b0 w0 + b2 w2 + b1 w1`)
//! and of the cell at column offset 1 is `SMLAD(O, A) + SMLATT(E, D)` (`b1 w0 + b3 w2 + b2
//! w1`), with `E`, `O` of patch row `dy + ky`: 24 multiply instructions for 36 MACs and the
//! window's 8 patch words stay in registers across all filters.
//!
//! The accumulators are the reference's (`bias + sum w * (x - zp)`, wrapping i32), and the pool
//! is [`conv_pool`](super::conv_pool)'s, so the output is bit for bit the reference's.

use super::conv_pool::{max4, pooled, ConvPool};
use super::packed::{pack, smlabb, smlad, smlatt, sxtab16, sxtab16_ror8};
use super::requant;
use crate::kernels::conv2d::Conv2d;

/// Widened words per filter in the scratch table: `A` and `D` for each of the 3 filter rows.
const WORDS_PER_FILTER: usize = 6;

/// Whether `conv` is a single-channel 3x3 convolution with stride 1 and no dilation.
pub fn supported(conv: &Conv2d<'_>) -> bool {
    let g = &conv.geometry;
    g.in_c == 1
        && g.kernel_h == 3
        && g.kernel_w == 3
        && g.stride_h == 1
        && g.stride_w == 1
        && g.dilation_h == 1
        && g.dilation_w == 1
}

/// Scratch bytes for the widened filters of `conv` (whatever the scratch's alignment).
pub fn scratch_bytes(conv: &Conv2d<'_>) -> usize {
    4 * kernel_words(conv) + 3
}

/// Words of the widened filters.
fn kernel_words(conv: &Conv2d<'_>) -> usize {
    WORDS_PER_FILTER * conv.geometry.out_c
}

/// The word of patch row `y` (may be outside the input), columns `x..x + 4`: input bytes, and
/// `pad` (the input zero point) for cells in the padding.
#[inline(always)]
fn patch_row(input: &[i8], in_h: usize, in_w: usize, y: isize, x: isize, pad: i8) -> u32 {
    let byte = |dx: isize| -> u8 {
        let xx = x + dx;
        if y >= 0 && (y as usize) < in_h && xx >= 0 && (xx as usize) < in_w {
            input[y as usize * in_w + xx as usize] as u8
        } else {
            pad as u8
        }
    };
    u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)])
}

/// The 4 accumulators of a pooling window for one filter: `e`, `o` the patch rows' words, `t`
/// the filter's widened words, `bias` its bias.
#[inline(always)]
fn window(e: &[u32; 4], o: &[u32; 4], t: &[u32], bias: i32) -> [i32; 4] {
    let [mut a00, mut a01, mut a10, mut a11] = [bias; 4];
    for ky in 0..3 {
        let (a, d) = (t[2 * ky], t[2 * ky + 1]);
        a00 = smlabb(o[ky], d, smlad(e[ky], a, a00));
        a01 = smlatt(e[ky], d, smlad(o[ky], a, a01));
        a10 = smlabb(o[ky + 1], d, smlad(e[ky + 1], a, a10));
        a11 = smlatt(e[ky + 1], d, smlad(o[ky + 1], a, a11));
    }
    [a00, a01, a10, a11]
}

/// The fused kernel: the same output as [`conv_pool`](super::conv_pool::conv_pool) for a
/// [`supported`] convolution. Returns `false` (and writes nothing) when `k`'s convolution is not
/// supported or `scratch` cannot hold [`scratch_bytes`].
#[inline(never)]
pub fn conv3x3_pool(k: &ConvPool<'_>, input: &[i8], output: &mut [i8], scratch: &mut [i8]) -> bool {
    let conv = &k.conv;
    let g = &conv.geometry;
    if !supported(conv) {
        return false;
    }
    let Some((requants, table)) = k.split_scratch(scratch, kernel_words(conv)) else {
        return false;
    };
    for (f, t) in conv.weights.chunks_exact(9).zip(table.chunks_exact_mut(6)) {
        for ky in 0..3 {
            let (w0, w1, w2) = (
                i16::from(f[3 * ky]),
                i16::from(f[3 * ky + 1]),
                i16::from(f[3 * ky + 2]),
            );
            t[2 * ky] = pack(w0, w2);
            t[2 * ky + 1] = pack(w1, w1);
        }
    }
    let table = &*table;
    let off = pack(conv.input_offset as i16, conv.input_offset as i16);
    let pad = (-conv.input_offset) as i8;
    let (in_h, in_w) = (g.in_h, g.in_w);
    let mut pixels = output.chunks_exact_mut(g.out_c);
    for py in 0..k.out_h {
        let y0 = (2 * py) as isize - g.pad_top as isize;
        let rows_inside = y0 >= 0 && y0 as usize + 4 <= in_h;
        for px in 0..k.out_w {
            let Some(out) = pixels.next() else {
                return true;
            };
            let x0 = (2 * px) as isize - g.pad_left as isize;
            let mut e = [0u32; 4];
            let mut o = [0u32; 4];
            if rows_inside && x0 >= 0 && x0 as usize + 4 <= in_w {
                let at = y0 as usize * in_w + x0 as usize;
                for r in 0..4 {
                    let q = &input[at + r * in_w..at + r * in_w + 4];
                    let w = u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
                    e[r] = sxtab16(off, w);
                    o[r] = sxtab16_ror8(off, w);
                }
            } else {
                for r in 0..4 {
                    let w = patch_row(input, in_h, in_w, y0 + r as isize, x0, pad);
                    e[r] = sxtab16(off, w);
                    o[r] = sxtab16_ror8(off, w);
                }
            }
            let filters = table.chunks_exact(WORDS_PER_FILTER);
            if k.fast {
                for ((out, t), rq) in out.iter_mut().zip(filters).zip(requants) {
                    *out = requant::apply(rq, max4(window(&e, &o, t, rq[0])));
                }
            } else {
                for ((out, t), (b, rq)) in out.iter_mut().zip(filters).zip(conv.channels.iter()) {
                    *out = pooled(window(&e, &o, t, b), &rq, k.monotone, k.min, k.max);
                }
            }
        }
    }
    true
}
