//! The packed operand layout of the DSP kernels: im2col columns of `P` output positions,
//! offset by `-input_zero_point` and widened to i16, two values per 32-bit word in the order
//! that `SXTB16` unpacks the weights.
//!
//! A column has `K` values (`K = kernel_h * kernel_w * in_c` for a convolution, the input size
//! for a dense layer) in the weights' order. Its first `4 * G` values (`G = K / 4` groups) are
//! stored per group `g` as two words, `(x[4g], x[4g+2])` and `(x[4g+1], x[4g+3])` (low lane
//! first), which pair lane for lane with `SXTB16 w` and `SXTB16 w, ROR #8` of the weight word
//! `w[4g..4g+4]`. The panel interleaves the `P` columns group by group: group `g` of column `j`
//! is at words `2P*g + 2j` and `2P*g + 2j + 1`. The `T = K % 4` remaining values of column `j`
//! follow all groups, one i32 per word, at `2P*G + j*T + t`. Padding taps are 0 (they stand for
//! `x = zero_point`).

use super::packed::{pack, sxtab16, sxtab16_ror8, word};
use crate::kernels::Geometry;

/// The shape of a panel: `P` columns of `K` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panel {
    /// Columns (output positions) interleaved, `P`.
    pub columns: usize,
    /// Full groups of 4 values per column, `G = K / 4`.
    pub groups: usize,
    /// Values after the groups, `T = K % 4`.
    pub tail: usize,
}

impl Panel {
    /// A panel of `columns` columns of `k` values.
    pub const fn new(columns: usize, k: usize) -> Self {
        Self {
            columns,
            groups: k / 4,
            tail: k % 4,
        }
    }

    /// Words the panel occupies: `2P*G + P*T`.
    pub const fn words(&self) -> usize {
        2 * self.columns * self.groups + self.columns * self.tail
    }

    /// Bytes of scratch that always hold the panel, whatever the scratch's alignment.
    pub const fn scratch_bytes(&self) -> usize {
        4 * self.words() + 3
    }
}

/// Writes one column of a panel, value by value or four at a time.
struct Writer<'p> {
    words: &'p mut [u32],
    panel: Panel,
    column: usize,
    group: usize,
    pending: [i16; 4],
    count: usize,
}

impl<'p> Writer<'p> {
    fn new(words: &'p mut [u32], panel: Panel, column: usize) -> Self {
        Self {
            words,
            panel,
            column,
            group: 0,
            pending: [0; 4],
            count: 0,
        }
    }

    /// Index of the first word of the current group in this column.
    #[inline(always)]
    fn at(&self) -> usize {
        2 * self.panel.columns * self.group + 2 * self.column
    }

    /// Stores a whole group (only when no single value is pending).
    #[inline(always)]
    fn group_words(&mut self, even: u32, odd: u32) {
        let at = self.at();
        self.words[at] = even;
        self.words[at + 1] = odd;
        self.group += 1;
    }

    #[inline(always)]
    fn value(&mut self, v: i16) {
        self.pending[self.count] = v;
        self.count += 1;
        if self.count == 4 {
            let p = self.pending;
            self.count = 0;
            self.group_words(pack(p[0], p[2]), pack(p[1], p[3]));
        }
    }

    fn finish(self) {
        let base = 2 * self.panel.columns * self.panel.groups + self.column * self.panel.tail;
        for (t, &v) in self.pending[..self.count].iter().enumerate() {
            self.words[base + t] = i32::from(v) as u32;
        }
    }
}

/// Fills column `column` of `words` (a `panel`) with `values` (`K` int8 values, NHWC order)
/// offset by `offset` (`-input_zero_point`). Four at a time when `K % 4 == 0`.
pub fn fill_vector(words: &mut [u32], panel: Panel, column: usize, values: &[i8], offset: i32) {
    let mut w = Writer::new(words, panel, column);
    if panel.tail == 0 {
        let off = pack(offset as i16, offset as i16);
        for q in values.chunks_exact(4) {
            let x = word(q);
            w.group_words(sxtab16(off, x), sxtab16_ror8(off, x));
        }
    } else {
        for &v in values {
            w.value((i32::from(v) + offset) as i16);
        }
    }
    w.finish();
}

/// Fills column `column` of `words` (a `panel`) with the im2col column of output position
/// `(oy, ox)` of a convolution over `input` with geometry `g`, offset by `offset`.
pub fn fill_im2col(
    words: &mut [u32],
    panel: Panel,
    column: usize,
    g: &Geometry,
    input: &[i8],
    (oy, ox): (usize, usize),
    offset: i32,
) {
    if g.in_c % 4 == 0 {
        fill_groups(words, panel, column, g, input, (oy, ox), offset);
        return;
    }
    let mut w = Writer::new(words, panel, column);
    for ky in 0..g.kernel_h {
        let row = g.in_row(oy, ky);
        for kx in 0..g.kernel_w {
            match (row, g.in_col(ox, kx)) {
                (Some(iy), Some(ix)) => {
                    let at = (iy * g.in_w + ix) * g.in_c;
                    for &v in &input[at..at + g.in_c] {
                        w.value((i32::from(v) + offset) as i16);
                    }
                }
                _ => {
                    for _ in 0..g.in_c {
                        w.value(0);
                    }
                }
            }
        }
    }
    w.finish();
}

/// [`fill_im2col`] for `in_c % 4 == 0`: whole groups per tap, one input word, two `SXTAB16`
/// and two stores per group, through a pointer that steps `2P` words from group to group.
#[inline(always)]
fn fill_groups(
    words: &mut [u32],
    panel: Panel,
    column: usize,
    g: &Geometry,
    input: &[i8],
    (oy, ox): (usize, usize),
    offset: i32,
) {
    let off = pack(offset as i16, offset as i16);
    let stride = 2 * panel.columns;
    let per_tap = g.in_c / 4;
    // The column's groups are words `2 * column + stride * k` and the one after, `k` below
    // `panel.groups`; the taps write exactly `kernel_h * kernel_w * per_tap` groups.
    let groups = g.kernel_h * g.kernel_w * per_tap;
    if column >= panel.columns || groups > panel.groups || words.len() < stride * groups {
        return;
    }
    let mut dst = words[2 * column..].as_mut_ptr();
    for ky in 0..g.kernel_h {
        let row = g.in_row(oy, ky);
        for kx in 0..g.kernel_w {
            match (row, g.in_col(ox, kx)) {
                (Some(iy), Some(ix)) => {
                    let at = (iy * g.in_w + ix) * g.in_c;
                    for q in input[at..at + g.in_c].chunks_exact(4) {
                        let q = word(q);
                        // SAFETY: `dst` is group `k < groups` of the column (checked above:
                        // `2 * column + 1 + stride * k < stride * groups <= words.len()`).
                        unsafe {
                            dst.write(sxtab16(off, q));
                            dst.add(1).write(sxtab16_ror8(off, q));
                            dst = dst.wrapping_add(stride);
                        }
                    }
                }
                _ => {
                    for _ in 0..per_tap {
                        // SAFETY: as above.
                        unsafe {
                            dst.write(0);
                            dst.add(1).write(0);
                            dst = dst.wrapping_add(stride);
                        }
                    }
                }
            }
        }
    }
}

/// Fills all 4 columns of a 4-column `panel` with the im2col columns of output positions
/// `(oy + dy, ox + dx)`, `dy, dx` in `{0, 1}` (a 2x2 pooling window), when `in_c % 4 == 0` and
/// every tap of the 4 positions lies inside the input: per group, the 4 columns' input words
/// are read and widened side by side into 8 consecutive panel words. Returns `false` (and
/// writes nothing) otherwise; then [`fill_im2col`] fills the columns one by one.
#[inline(always)]
pub fn fill_window(
    words: &mut [u32],
    panel: Panel,
    g: &Geometry,
    input: &[i8],
    (oy, ox): (usize, usize),
    offset: i32,
) -> bool {
    let per_tap = g.in_c / 4;
    let groups = g.kernel_h * g.kernel_w * per_tap;
    if panel.columns != 4 || !g.in_c.is_multiple_of(4) || groups != panel.groups || panel.tail != 0
    {
        return false;
    }
    // The first input row and column of the window's taps, and the last ones.
    let (Some(y0), Some(x0)) = (
        (oy * g.stride_h).checked_sub(g.pad_top),
        (ox * g.stride_w).checked_sub(g.pad_left),
    ) else {
        return false;
    };
    let y1 = y0 + g.stride_h + (g.kernel_h - 1) * g.dilation_h;
    let x1 = x0 + g.stride_w + (g.kernel_w - 1) * g.dilation_w;
    if y1 >= g.in_h
        || x1 >= g.in_w
        || words.len() < 8 * groups
        || input.len() < g.in_h * g.in_w * g.in_c
    {
        return false;
    }
    let off = pack(offset as i16, offset as i16);
    let row = g.in_w * g.in_c;
    let at = y0 * row + x0 * g.in_c;
    // The 4 cells' first taps: (dy, dx) = (0, 0), (0, 1), (1, 0), (1, 1).
    let cells = [
        at,
        at + g.stride_w * g.in_c,
        at + g.stride_h * row,
        at + g.stride_h * row + g.stride_w * g.in_c,
    ];
    let base = input.as_ptr();
    let mut dst = words.as_mut_ptr();
    for ky in 0..g.kernel_h {
        for kx in 0..g.kernel_w {
            let tap = ky * g.dilation_h * row + kx * g.dilation_w * g.in_c;
            for q in 0..per_tap {
                let i = tap + 4 * q;
                // SAFETY: every tap of the 4 cells is inside the input (rows `y0..=y1`, columns
                // `x0..=x1` checked above, `input` holds `in_h * in_w * in_c` bytes), so the
                // 4-byte reads at `cells[j] + i` are in bounds (unaligned reads are allowed by
                // `read_unaligned`); `dst` is group `k < groups` of the panel, 8 words, and
                // `words` holds `8 * groups`.
                unsafe {
                    for (j, &c) in cells.iter().enumerate() {
                        let q = u32::from_le(base.add(c + i).cast::<u32>().read_unaligned());
                        dst.add(2 * j).write(sxtab16(off, q));
                        dst.add(2 * j + 1).write(sxtab16_ror8(off, q));
                    }
                    dst = dst.add(8);
                }
            }
        }
    }
    true
}
