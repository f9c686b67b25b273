//! The packed convolution and dense kernels: im2col panels (see [`panel`](super::panel)) times
//! int8 weights read straight from the model, two multiply-accumulates per `SMLAD`.
//!
//! Convolution: panels of 4 output positions; for each output channel the filter is read once
//! per panel, each weight word is unpacked once (`SXTB16`, `SXTB16 ROR 8`) and feeds 8 `SMLAD`s
//! (4 positions x 2 halves), i.e. 16 MACs. Dense: one column, 2 output channels at a time.
//! The accumulators are exactly the reference kernels' (`bias + sum w * (x - zp)`, wrapping
//! i32), so the outputs are bit for bit the same.

use super::packed::{smlad, sxtb16, sxtb16_ror8, word};
use super::panel::{fill_im2col, fill_vector, Panel};
use crate::kernels::conv2d::Conv2d;
use crate::kernels::dense::Dense;

/// Output positions per convolution panel.
pub const CONV_COLUMNS: usize = 4;

/// The panel a convolution uses.
pub fn conv_panel(k: &Conv2d<'_>) -> Panel {
    let g = &k.geometry;
    Panel::new(CONV_COLUMNS, g.kernel_h * g.kernel_w * g.in_c)
}

/// The panel a dense layer uses.
pub fn dense_panel(k: &Dense<'_>) -> Panel {
    Panel::new(1, k.depth)
}

/// The 32-bit words of `scratch` if they hold `panel`.
pub fn panel_words(scratch: &mut [i8], panel: Panel) -> Option<&mut [u32]> {
    let (_, words, _) = bytemuck::pod_align_to_mut::<i8, u32>(scratch);
    words.get_mut(..panel.words())
}

/// `acc[j] += filter . column j` for the 4 columns of a conv panel.
#[inline(always)]
pub(crate) fn dot4(filter: &[i8], words: &[u32], panel: Panel, acc: [i32; 4]) -> [i32; 4] {
    let (body, tail) = words.split_at(8 * panel.groups);
    let (wg, wt) = filter.split_at(4 * panel.groups);
    // Quads of groups through the assembly loop on Cortex-M, the rest (and everything
    // elsewhere) through the primitives.
    let quads = if cfg!(all(target_arch = "arm", feature = "dsp")) {
        4 * (panel.groups / 4)
    } else {
        0
    };
    let mut acc = asm_loop::groups4(&wg[..4 * quads], &body[..8 * quads], acc);
    let [a0, a1, a2, a3] = &mut acc;
    for (w, c) in wg[4 * quads..]
        .chunks_exact(4)
        .zip(body[8 * quads..].chunks_exact(8))
    {
        let w = word(w);
        let (lo, hi) = (sxtb16(w), sxtb16_ror8(w));
        *a0 = smlad(hi, c[1], smlad(lo, c[0], *a0));
        *a1 = smlad(hi, c[3], smlad(lo, c[2], *a1));
        *a2 = smlad(hi, c[5], smlad(lo, c[4], *a2));
        *a3 = smlad(hi, c[7], smlad(lo, c[6], *a3));
    }
    let t = panel.tail;
    for (i, &w) in wt.iter().enumerate() {
        let w = i32::from(w);
        *a0 = a0.wrapping_add(w * tail[i] as i32);
        *a1 = a1.wrapping_add(w * tail[t + i] as i32);
        *a2 = a2.wrapping_add(w * tail[2 * t + i] as i32);
        *a3 = a3.wrapping_add(w * tail[3 * t + i] as i32);
    }
    acc
}

/// [`dot4`] for a panel without tail whose groups are a multiple of 4 (`panel.tail == 0`,
/// `panel.groups % 4 == 0`, `filter.len() == 4 * panel.groups`): the assembly loop alone on
/// Cortex-M, the primitives elsewhere.
#[inline(always)]
pub(crate) fn dot4_quads(filter: &[i8], words: &[u32], acc: [i32; 4]) -> [i32; 4] {
    if cfg!(all(target_arch = "arm", feature = "dsp")) {
        return asm_loop::groups4(filter, words, acc);
    }
    let mut acc = acc;
    let [a0, a1, a2, a3] = &mut acc;
    for (w, c) in filter.chunks_exact(4).zip(words.chunks_exact(8)) {
        let w = word(w);
        let (lo, hi) = (sxtb16(w), sxtb16_ror8(w));
        *a0 = smlad(hi, c[1], smlad(lo, c[0], *a0));
        *a1 = smlad(hi, c[3], smlad(lo, c[2], *a1));
        *a2 = smlad(hi, c[5], smlad(lo, c[4], *a2));
        *a3 = smlad(hi, c[7], smlad(lo, c[6], *a3));
    }
    acc
}

/// Widens `weights` (a multiple of 4) into `wide`, two words per group of 4:
/// `SXTB16 w` and `SXTB16 w, ROR #8` (what [`dot4`] computes per filter and panel).
pub(crate) fn widen(weights: &[i8], wide: &mut [u32]) {
    for (w, out) in weights.chunks_exact(4).zip(wide.chunks_exact_mut(2)) {
        let w = word(w);
        out[0] = sxtb16(w);
        out[1] = sxtb16_ror8(w);
    }
}

/// [`dot4_quads`] with the filter already widened by [`widen`] (`wide`: 2 words per group,
/// `words.len() == 4 * wide.len()`, groups a multiple of 4).
#[inline(always)]
pub(crate) fn dot4_wide(wide: &[u32], words: &[u32], acc: [i32; 4]) -> [i32; 4] {
    if cfg!(all(target_arch = "arm", feature = "dsp")) {
        return asm_loop::wide4(wide, words, acc);
    }
    let mut acc = acc;
    let [a0, a1, a2, a3] = &mut acc;
    for (w, c) in wide.chunks_exact(2).zip(words.chunks_exact(8)) {
        let (lo, hi) = (w[0], w[1]);
        *a0 = smlad(hi, c[1], smlad(lo, c[0], *a0));
        *a1 = smlad(hi, c[3], smlad(lo, c[2], *a1));
        *a2 = smlad(hi, c[5], smlad(lo, c[4], *a2));
        *a3 = smlad(hi, c[7], smlad(lo, c[6], *a3));
    }
    acc
}

#[cfg(not(all(target_arch = "arm", feature = "dsp")))]
mod asm_loop {
    /// Only the Cortex-M build has the assembly loop; elsewhere `dot4` takes no quads.
    #[inline(always)]
    pub fn groups4(_filter: &[i8], _words: &[u32], acc: [i32; 4]) -> [i32; 4] {
        acc
    }

    /// Only the Cortex-M build has the assembly loop; `dot4_wide` does not call it elsewhere.
    #[inline(always)]
    pub fn wide4(_wide: &[u32], _words: &[u32], acc: [i32; 4]) -> [i32; 4] {
        acc
    }
}

#[cfg(all(target_arch = "arm", feature = "dsp"))]
mod asm_loop {
    /// The conv inner loop in assembly, four groups (64 MACs) per iteration in 54 instructions:
    /// per group one weight word (`LDR`, two `SXTB16`), the 4 columns' 8 words in two `LDM`s,
    /// 8 `SMLAD`s; then a compare with the end pointer, kept in r7 (LLVM's frame pointer, which
    /// the assembly saves and restores itself, as every allocatable register is in use).
    /// `filter`: `4 * 4n` weights, `words`: `8 * 4n` panel words, `n` may be 0. Registers are
    /// fixed so that `LDM`'s ascending register list maps words to columns: columns r0..r3,
    /// accumulators r4, r5, r8, r9, weights r10/r11, panel r12, filter pointer lr.
    #[inline(always)]
    pub fn groups4(filter: &[i8], words: &[u32], acc: [i32; 4]) -> [i32; 4] {
        let [mut a0, mut a1, mut a2, mut a3] = acc;
        if filter.len() < 16 || words.len() < 2 * filter.len() {
            return acc;
        }
        let w = filter.as_ptr();
        // The loop runs while the filter pointer has not reached the end of the quads.
        let end = w.wrapping_add(16 * (filter.len() / 16));
        // SAFETY: the loop reads `filter.len() / 16` quads of weight words (unaligned LDR,
        // allowed on Armv7-M) and 32 words per quad from `words` (word-aligned, `LDM`), both
        // within the slices checked above; it pushes r7 and pops it before leaving, and writes
        // no other register that is not an operand.
        unsafe {
            core::arch::asm!(
                "push {{r7}}",
                "mov r7, r10",
                "2:",
                "ldr r11, [lr], #4",
                "sxtb16 r10, r11",
                "sxtb16 r11, r11, ror #8",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldr r11, [lr], #4",
                "sxtb16 r10, r11",
                "sxtb16 r11, r11, ror #8",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldr r11, [lr], #4",
                "sxtb16 r10, r11",
                "sxtb16 r11, r11, ror #8",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldr r11, [lr], #4",
                "sxtb16 r10, r11",
                "sxtb16 r11, r11, ror #8",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "cmp lr, r7",
                "bne 2b",
                "pop {{r7}}",
                inout("r4") a0,
                inout("r5") a1,
                inout("r8") a2,
                inout("r9") a3,
                inout("r12") words.as_ptr() => _,
                inout("lr") w => _,
                inout("r10") end => _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                out("r11") _,
            );
        }
        [a0, a1, a2, a3]
    }
    /// [`groups4`] with a widened filter: per group the two weight words in one `LDM` (no
    /// `SXTB16`), four groups (64 MACs) per iteration in 46 instructions. `wide`: `2 * 4n`
    /// words, `words`: `8 * 4n`, `n` may be 0.
    #[inline(always)]
    pub fn wide4(wide: &[u32], words: &[u32], acc: [i32; 4]) -> [i32; 4] {
        let [mut a0, mut a1, mut a2, mut a3] = acc;
        if wide.len() < 8 || words.len() < 4 * wide.len() {
            return acc;
        }
        let w = wide.as_ptr();
        let end = w.wrapping_add(8 * (wide.len() / 8));
        // SAFETY: the loop reads `wide.len() / 8` quads of 8 weight words and 32 panel words
        // per quad (both word-aligned, `LDM`), within the slices checked above; it pushes r7
        // and pops it before leaving, and writes no other register that is not an operand.
        unsafe {
            core::arch::asm!(
                "push {{r7}}",
                "mov r7, r10",
                "2:",
                "ldm lr!, {{r10, r11}}",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldm lr!, {{r10, r11}}",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldm lr!, {{r10, r11}}",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "ldm lr!, {{r10, r11}}",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r4, r10, r0, r4",
                "smlad r4, r11, r1, r4",
                "smlad r5, r10, r2, r5",
                "smlad r5, r11, r3, r5",
                "ldm r12!, {{r0, r1, r2, r3}}",
                "smlad r8, r10, r0, r8",
                "smlad r8, r11, r1, r8",
                "smlad r9, r10, r2, r9",
                "smlad r9, r11, r3, r9",
                "cmp lr, r7",
                "bne 2b",
                "pop {{r7}}",
                inout("r4") a0,
                inout("r5") a1,
                inout("r8") a2,
                inout("r9") a3,
                inout("r12") words.as_ptr() => _,
                inout("lr") w => _,
                inout("r10") end => _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                out("r11") _,
            );
        }
        [a0, a1, a2, a3]
    }
}

/// `(acc0 + filter0 . column, acc1 + filter1 . column)` for a one-column panel.
#[inline(always)]
fn dot1x2(f0: &[i8], f1: &[i8], words: &[u32], panel: Panel, acc: [i32; 2]) -> [i32; 2] {
    let [mut a0, mut a1] = acc;
    let (body, tail) = words.split_at(2 * panel.groups);
    let split = 4 * panel.groups;
    for ((w0, w1), c) in f0[..split]
        .chunks_exact(4)
        .zip(f1[..split].chunks_exact(4))
        .zip(body.chunks_exact(2))
    {
        let (w0, w1) = (word(w0), word(w1));
        a0 = smlad(sxtb16_ror8(w0), c[1], smlad(sxtb16(w0), c[0], a0));
        a1 = smlad(sxtb16_ror8(w1), c[1], smlad(sxtb16(w1), c[0], a1));
    }
    for ((&w0, &w1), &x) in f0[split..].iter().zip(&f1[split..]).zip(tail) {
        a0 = a0.wrapping_add(i32::from(w0) * x as i32);
        a1 = a1.wrapping_add(i32::from(w1) * x as i32);
    }
    [a0, a1]
}

/// The packed convolution: the same output as [`Conv2d::eval`], using `scratch` for the panel.
/// Returns `false` (and writes nothing) when `scratch` cannot hold the panel.
#[inline(never)]
pub fn conv2d(k: &Conv2d<'_>, input: &[i8], output: &mut [i8], scratch: &mut [i8]) -> bool {
    let panel = conv_panel(k);
    let Some(words) = panel_words(scratch, panel) else {
        return false;
    };
    let g = &k.geometry;
    let per_filter = g.kernel_h * g.kernel_w * g.in_c;
    let positions = g.out_h * g.out_w;
    let mut first = 0;
    while first < positions {
        let n = (positions - first).min(CONV_COLUMNS);
        for j in 0..CONV_COLUMNS {
            // A partial last panel repeats its last position in the unused columns.
            let p = first + j.min(n - 1);
            let (oy, ox) = (p / g.out_w, p % g.out_w);
            fill_im2col(words, panel, j, g, input, (oy, ox), k.input_offset);
        }
        let filters = k.weights.chunks_exact(per_filter);
        for (oc, (filter, (b, rq))) in filters.zip(k.channels.iter()).enumerate() {
            let acc = dot4(filter, words, panel, [b; 4]);
            for (j, &a) in acc.iter().enumerate().take(n) {
                output[(first + j) * g.out_c + oc] = rq.apply(a);
            }
        }
        first += n;
    }
    true
}

/// The packed dense layer: the same output as [`Dense::eval`], using `scratch` for the
/// widened input. Returns `false` (and writes nothing) when `scratch` cannot hold it.
pub fn dense(k: &Dense<'_>, input: &[i8], output: &mut [i8], scratch: &mut [i8]) -> bool {
    let panel = dense_panel(k);
    let Some(words) = panel_words(scratch, panel) else {
        return false;
    };
    fill_vector(words, panel, 0, input, k.input_offset);
    let mut filters = k.weights.chunks_exact(k.depth);
    let mut oc = 0;
    while oc < k.out_c {
        let (Some(f0), f1) = (filters.next(), filters.next()) else {
            break;
        };
        let (b0, b1) = (k.channels.bias(oc), k.channels.bias(oc + 1));
        // An odd last channel pairs with itself.
        let [a0, a1] = dot1x2(f0, f1.unwrap_or(f0), words, panel, [b0, b1]);
        output[oc] = k.channels.requant(oc).apply(a0);
        if f1.is_some() {
            output[oc + 1] = k.channels.requant(oc + 1).apply(a1);
        }
        oc += 2;
    }
    true
}
