//! aarch64 NEON kernel of the host GEMM: per row and pair, the broadcast i16 pair times the
//! tile's four vectors of 4 channels' pairs with `smull`/`smull2` (exact i32 products), summed
//! pairwise (`addp`) into the channel lanes and added to the accumulators (wrapping, as the
//! reference kernels' sums). Scalar requantization through the shared table.

use core::arch::aarch64::*;

super::driver!("neon", 6);

/// `R` rows (at most 6 in use) x 16 channels.
///
/// # Safety
/// `panel` holds `R` rows of `pairs` i16 pairs, `w` `pairs` pairs of 16 channels, `out` `R`
/// rows of `stride` bytes of which `lanes` are written; `table` is one tile's table.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn tile<const R: usize>(
    panel: *const i16,
    pairs: usize,
    w: *const i16,
    table: &[i32],
    out: *mut i8,
    stride: usize,
    lanes: usize,
) {
    // SAFETY: the caller's contract (see the function docs).
    unsafe {
        let bias = table.as_ptr();
        let b = [
            vld1q_s32(bias),
            vld1q_s32(bias.add(4)),
            vld1q_s32(bias.add(8)),
            vld1q_s32(bias.add(12)),
        ];
        let mut acc = [b; R];
        let a = panel.cast::<i32>();
        for j in 0..pairs {
            let wj = w.add(j * 32);
            let ws = [
                vld1q_s16(wj),
                vld1q_s16(wj.add(8)),
                vld1q_s16(wj.add(16)),
                vld1q_s16(wj.add(24)),
            ];
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = vreinterpretq_s16_s32(vdupq_n_s32(a.add(r * pairs + j).read_unaligned()));
                for (acc, &wq) in acc.iter_mut().zip(&ws) {
                    let low = vmull_s16(vget_low_s16(wq), vget_low_s16(x));
                    let high = vmull_high_s16(wq, x);
                    *acc = vaddq_s32(*acc, vpaddq_s32(low, high));
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let mut v = [0i32; 16];
            for (q, &a) in acc.iter().enumerate() {
                vst1q_s32(v.as_mut_ptr().add(4 * q), a);
            }
            let mut bytes = [0i8; 16];
            for (c, (o, &a)) in bytes.iter_mut().zip(&v).enumerate().take(lanes) {
                *o = super::table_requant(table, c).apply(a);
            }
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), out.add(r * stride), lanes.min(16));
        }
    }
}
