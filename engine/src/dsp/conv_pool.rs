//! Convolution fused with the 2x2 max pool that follows it (the DSP path).
//!
//! A convolution whose output only feeds a `MaxPool2d` with a 2x2 window, stride 2 and no
//! padding is computed one pooled position at a time: the panel's 4 columns are the 4 cells of
//! the pooling window, [`dot4`](super::matmul) returns their 4 accumulators per output channel,
//! and the kernel writes the pool's output directly (the convolution's output tensor is never
//! stored, the separate pool pass disappears, and conv outputs that the pool drops, the last row
//! or column of an odd size, are never computed).
//!
//! Exactness: the reference computes `clamp_pool(max_j clamp_conv(requant(a_j)))`. Requantization
//! with a non-negative multiplier is monotone non-decreasing in the accumulator as long as
//! `acc * 2^left` and the zero-point add do not wrap, so then it equals
//! `clamp_pool(clamp_conv(requant(max_j a_j)))`: one requantization per pooled output instead of
//! four. Prepare proves the no-wrap bound per channel (`(|bias| + 255 * sum |w|) * 2^left + 128
//! <= i32::MAX`); a layer without the proof ([`ConvPool::monotone`] false) requantizes the 4
//! accumulators and takes the maximum of the int8 values, which is always exact.
//!
//! When not: other pools (average, other windows, padding), a pool that is not the next layer,
//! or a build without the `dsp` feature (the reference kernels never fuse).

use super::matmul::{conv_panel, dot4, dot4_quads, dot4_wide, widen};
use super::panel::{fill_im2col, fill_window};
use super::requant;
use crate::kernels::conv2d::Conv2d;
use crate::kernels::pool::{Pool, Reduce};
use crate::kernels::requant::Requant;

/// A convolution and the 2x2 stride-2 max pool after it, prepared as one step.
#[derive(Debug, Clone, Copy)]
pub struct ConvPool<'m> {
    /// The convolution (its geometry's output is the pool's input).
    pub conv: Conv2d<'m>,
    /// Pooled rows (`conv out_h / 2`).
    pub out_h: usize,
    /// Pooled columns (`conv out_w / 2`).
    pub out_w: usize,
    /// The pool's activation clamp, lowest value.
    pub min: i8,
    /// The pool's activation clamp, highest value.
    pub max: i8,
    /// Whether every channel's requantization is provably monotone on its accumulator range
    /// (then one requantization per pooled output).
    pub monotone: bool,
    /// Whether every channel takes the fast requantization ([`requant`]):
    /// then the kernel prepares a per-channel table in the scratch.
    pub fast: bool,
    /// Whether the filters are widened once per inference into the scratch (2 words per group
    /// of 4 weights), so the inner loop skips the `SXTB16`s: only with [`fast`](Self::fast),
    /// on a panel of whole quads of groups (`K % 16 == 0`) and not [`narrow`](Self::narrow).
    pub wide: bool,
    /// Whether it runs the single-channel 3x3 kernel ([`conv3x3_pool`](super::conv3x3_pool))
    /// instead of the panel.
    pub narrow: bool,
}

impl<'m> ConvPool<'m> {
    /// The fusion of `conv` and the `pool` that reads its output, or `None` when the pool is not
    /// a 2x2, stride-2, unpadded max pool over exactly the convolution's output.
    pub fn fuse(conv: &Conv2d<'m>, pool: &Pool) -> Option<Self> {
        let (c, p) = (&conv.geometry, &pool.geometry);
        let window = p.kernel_h == 2
            && p.kernel_w == 2
            && p.stride_h == 2
            && p.stride_w == 2
            && p.pad_top == 0
            && p.pad_left == 0;
        let chained = p.in_h == c.out_h && p.in_w == c.out_w && p.in_c == c.out_c;
        let floor = p.out_h == c.out_h / 2 && p.out_w == c.out_w / 2 && p.out_c == c.out_c;
        if pool.reduce != Reduce::Max || !window || !chained || !floor || p.out_h * p.out_w == 0 {
            return None;
        }
        Some(Self {
            conv: *conv,
            out_h: p.out_h,
            out_w: p.out_w,
            min: pool.min,
            max: pool.max,
            monotone: monotone(conv),
            fast: fast(conv, pool.min, pool.max),
            narrow: super::conv3x3_pool::supported(conv),
            wide: false,
        })
        .map(|k| Self {
            wide: k.fast && !k.narrow && quads(&conv_panel(conv)),
            ..k
        })
    }

    /// Multiply-accumulates of the convolution as the reference counts them (every conv
    /// output, also those the pool drops).
    pub fn macs(&self) -> u64 {
        self.conv.macs()
    }

    /// Scratch bytes its kernel needs (whatever the scratch's alignment).
    pub fn scratch_bytes(&self) -> usize {
        let kernel = if self.narrow {
            super::conv3x3_pool::scratch_bytes(&self.conv)
        } else {
            conv_panel(&self.conv).scratch_bytes()
        };
        kernel + 4 * (self.table_words() + self.wide_words())
    }

    /// Words of the widened filters (0 unless [`wide`](Self::wide)).
    fn wide_words(&self) -> usize {
        if self.wide {
            self.conv.weights.len() / 2
        } else {
            0
        }
    }

    /// Words of the requantization table (0 unless [`fast`](Self::fast)).
    fn table_words(&self) -> usize {
        if self.fast {
            requant::WORDS * self.conv.geometry.out_c
        } else {
            0
        }
    }

    /// The clamp of channel `rq` followed by the pool's, as one clamp `[min, max]`.
    #[inline(always)]
    fn clamp(&self, rq: &Requant) -> (i32, i32) {
        let (lo, hi) = (i32::from(self.min), i32::from(self.max));
        (rq.min.max(lo).min(hi), rq.max.max(lo).min(hi))
    }

    /// Splits `scratch` into the requantization table, filled for this inference (empty
    /// unless [`fast`](Self::fast)), and the kernel's words; `None` when it is too small.
    pub(crate) fn split_scratch<'s>(
        &self,
        scratch: &'s mut [i8],
        kernel_words: usize,
    ) -> Option<(&'s [requant::Entry], &'s mut [u32])> {
        let (_, words, _) = bytemuck::pod_align_to_mut::<i8, u32>(scratch);
        let n = self.table_words();
        let words = words.get_mut(..n + kernel_words)?;
        let (table, rest) = words.split_at_mut(n);
        let table: &mut [requant::Entry] = bytemuck::cast_slice_mut(table);
        for (e, (bias, rq)) in table.iter_mut().zip(self.conv.channels.iter()) {
            let (lo, hi) = self.clamp(&rq);
            *e = requant::make(bias, &rq, lo, hi);
        }
        Some((table, rest))
    }

    /// Pooled output elements (`out_h * out_w * out_c`).
    pub fn output_len(&self) -> usize {
        self.out_h * self.out_w * self.conv.geometry.out_c
    }
}

/// Whether `check(bias, requant, bound)` holds on every channel of `conv`, where `bound` is the
/// largest `|accumulator|` the channel can reach: `|bias| + 255 * sum |w|`. False for an empty
/// filter.
fn every_channel(conv: &Conv2d<'_>, check: impl Fn(i32, &Requant, u64) -> bool) -> bool {
    let g = &conv.geometry;
    let per_filter = g.kernel_h * g.kernel_w * g.in_c;
    if per_filter == 0 {
        return false;
    }
    conv.weights
        .chunks_exact(per_filter)
        .zip(conv.channels.iter())
        .all(|(filter, (bias, rq))| {
            let sum: u64 = filter.iter().map(|w| u64::from(w.unsigned_abs())).sum();
            check(bias, &rq, u64::from(bias.unsigned_abs()) + 255 * sum)
        })
}

/// Whether requantization is monotone on every channel's reachable accumulators (see the module
/// docs): multiplier `>= 0` and `(|bias| + 255 * sum |w|) * 2^left + 128 <= i32::MAX`.
fn monotone(conv: &Conv2d<'_>) -> bool {
    every_channel(conv, |_, rq, bound| {
        rq.multiplier >= 0 && rq.left < 32 && (bound << rq.left) + 128 <= i32::MAX as u64
    })
}

/// Whether every channel of `conv` has a [`requant::entry`] (followed by the pool clamp
/// `[min, max]`).
fn fast(conv: &Conv2d<'_>, min: i8, max: i8) -> bool {
    let (lo, hi) = (i32::from(min), i32::from(max));
    every_channel(conv, |bias, rq, bound| {
        let (a, b) = (rq.min.max(lo).min(hi), rq.max.max(lo).min(hi));
        requant::entry(bias, rq, bound, a, b).is_some()
    })
}

/// Whether `panel` has no tail and whole quads of groups (the assembly loop alone).
fn quads(panel: &super::panel::Panel) -> bool {
    panel.tail == 0 && panel.groups.is_multiple_of(4)
}

/// The largest of 4 accumulators.
#[inline(always)]
pub(crate) fn max4([a0, a1, a2, a3]: [i32; 4]) -> i32 {
    a0.max(a1).max(a2.max(a3))
}

/// The pooled int8 output of one channel from the 4 accumulators of its window.
#[inline(always)]
pub(crate) fn pooled(acc: [i32; 4], rq: &Requant, monotone: bool, min: i8, max: i8) -> i8 {
    let [a0, a1, a2, a3] = acc;
    let v = if monotone {
        rq.apply(max4(acc))
    } else {
        rq.apply(a0)
            .max(rq.apply(a1))
            .max(rq.apply(a2).max(rq.apply(a3)))
    };
    v.max(min).min(max)
}

/// The fused convolution and max pool: the same output as the reference convolution followed
/// by the reference pool, written as the pool's output (`out_h * out_w * out_c`), using
/// `scratch` for the panel. Returns `false` (and writes nothing) when `scratch` cannot hold it.
#[inline(never)]
pub fn conv_pool(k: &ConvPool<'_>, input: &[i8], output: &mut [i8], scratch: &mut [i8]) -> bool {
    if k.narrow {
        return super::conv3x3_pool::conv3x3_pool(k, input, output, scratch);
    }
    let conv = &k.conv;
    let panel = conv_panel(conv);
    let Some((table, words)) = k.split_scratch(scratch, panel.words() + k.wide_words()) else {
        return false;
    };
    let (words, wide) = words.split_at_mut(panel.words());
    let g = &conv.geometry;
    let per_filter = g.kernel_h * g.kernel_w * g.in_c;
    // Whole quads of groups and no tail: the assembly loop alone per filter.
    let quads = quads(&panel);
    if k.wide {
        widen(conv.weights, wide);
    }
    let wide = &*wide;
    let mut pixels = output.chunks_exact_mut(g.out_c);
    for py in 0..k.out_h {
        for px in 0..k.out_w {
            let Some(out) = pixels.next() else {
                return true;
            };
            if !fill_window(words, panel, g, input, (2 * py, 2 * px), conv.input_offset) {
                for j in 0..4 {
                    let cell = (2 * py + j / 2, 2 * px + j % 2);
                    fill_im2col(words, panel, j, g, input, cell, conv.input_offset);
                }
            }
            let filters = conv.weights.chunks_exact(per_filter);
            if k.wide {
                let filters = wide.chunks_exact(per_filter / 2);
                for ((o, filter), e) in out.iter_mut().zip(filters).zip(table) {
                    *o = requant::apply(e, max4(dot4_wide(filter, words, [e[0]; 4])));
                }
            } else if k.fast && quads {
                for ((o, filter), e) in out.iter_mut().zip(filters).zip(table) {
                    *o = requant::apply(e, max4(dot4_quads(filter, words, [e[0]; 4])));
                }
            } else if k.fast {
                for ((o, filter), e) in out.iter_mut().zip(filters).zip(table) {
                    *o = requant::apply(e, max4(dot4(filter, words, panel, [e[0]; 4])));
                }
            } else {
                for ((o, filter), (b, rq)) in out.iter_mut().zip(filters).zip(conv.channels.iter())
                {
                    let acc = dot4(filter, words, panel, [b; 4]);
                    *o = pooled(acc, &rq, k.monotone, k.min, k.max);
                }
            }
        }
    }
    true
}
