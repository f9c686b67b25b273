//! The packed depthwise convolution, for depth multiplier 1 and channels a multiple of 4: four
//! channels at a time, their accumulators in registers across the window's taps. Per tap, one
//! input word and one weight word (4 channels each) are unpacked with `SXTAB16` (adding the
//! input offset) and `SXTB16`, and `SMLABB`/`SMLATT` accumulate each channel on its own. The
//! accumulators are the reference kernel's, so the output is bit for bit the same.

use super::packed::{pack, smlabb, smlatt, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8, word};
use crate::kernels::depthwise::Depthwise;
use crate::kernels::Geometry;

/// Whether the packed kernel runs `k` (depth multiplier 1, channels a multiple of 4).
pub fn supported(k: &Depthwise<'_>) -> bool {
    k.depth_multiplier == 1 && k.geometry.in_c % 4 == 0
}

/// The packed depthwise convolution: the same output as [`Depthwise::eval`]. Returns `false`
/// (and writes nothing) when `k` is not [`supported`].
#[inline(never)]
pub fn depthwise(k: &Depthwise<'_>, input: &[i8], output: &mut [i8]) -> bool {
    if !supported(k) {
        return false;
    }
    let g = &k.geometry;
    let c = g.in_c;
    let off = pack(k.input_offset as i16, k.input_offset as i16);
    let mut pixels = output.chunks_exact_mut(c);
    for oy in 0..g.out_h {
        let (y0, y1) =
            Geometry::valid_taps(oy, g.stride_h, g.dilation_h, g.pad_top, g.kernel_h, g.in_h);
        for ox in 0..g.out_w {
            let Some(out) = pixels.next() else {
                return true;
            };
            let (x0, x1) =
                Geometry::valid_taps(ox, g.stride_w, g.dilation_w, g.pad_left, g.kernel_w, g.in_w);
            let mut params = k.channels.iter();
            for (block, o) in out.chunks_exact_mut(4).enumerate() {
                let ch = 4 * block;
                let mut rq = [None; 4];
                let mut acc = [0i32; 4];
                for (a, r) in acc.iter_mut().zip(rq.iter_mut()) {
                    if let Some((bias, q)) = params.next() {
                        *a = bias;
                        *r = Some(q);
                    }
                }
                let [mut a0, mut a1, mut a2, mut a3] = acc;
                for ky in y0..y1 {
                    let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                    for kx in x0..x1 {
                        let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                        let at = (iy * g.in_w + ix) * c + ch;
                        let x = word(&input[at..at + 4]);
                        let wt = (ky * g.kernel_w + kx) * c + ch;
                        let w = word(&k.weights[wt..wt + 4]);
                        let (x02, x13) = (sxtab16(off, x), sxtab16_ror8(off, x));
                        let (w02, w13) = (sxtb16(w), sxtb16_ror8(w));
                        a0 = smlabb(x02, w02, a0);
                        a2 = smlatt(x02, w02, a2);
                        a1 = smlabb(x13, w13, a1);
                        a3 = smlatt(x13, w13, a3);
                    }
                }
                for ((o, a), r) in o.iter_mut().zip([a0, a1, a2, a3]).zip(rq) {
                    if let Some(r) = r {
                        *o = r.apply(a);
                    }
                }
            }
        }
    }
    true
}
