//! im2col and its adjoint col2im on channel-last images, as candle custom ops, so that a convolution
//! is one matrix product forward and two backward.
//!
//! candle 0.11's CPU backward of `conv2d` goes through `conv_transpose2d`, a direct loop that made a
//! training step of the reference CNN about ten times slower than its forward pass; with [`im2col`]
//! the backward of a convolution is two GEMMs and one col2im.
//!
//! Layout: input `(N, H, W, C)` f32 (channel-last); output `(N * OH * OW, K * K * C)`, row
//! `(n, oy, ox)`, column `(ky, kx, c)`. Stride 1, zero padding `p` on every side:
//! `OH = H + 2p - K + 1`, `OW = W + 2p - K + 1`.

use std::mem::MaybeUninit;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::par::min_len;

/// Patches of a `K x K` window, stride 1, zero padding `padding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Im2Col {
    /// Window size `K`.
    pub kernel: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl Im2Col {
    pub(crate) fn out_hw(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let (hp, wp) = (h + 2 * self.padding, w + 2 * self.padding);
        if hp < self.kernel || wp < self.kernel {
            candle_core::bail!(
                "im2col: a {h}x{w} input padded by {} is smaller than the {k}x{k} window",
                self.padding,
                k = self.kernel
            )
        }
        Ok((hp - self.kernel + 1, wp - self.kernel + 1))
    }

    /// Calls `f(out_row, in_pixel, col_start)` for every in-bounds (output pixel, tap): `in_pixel` is
    /// the `(n, y, x)` index of the input pixel, `col_start = (ky * K + kx) * C`.
    pub(crate) fn for_each_tap(
        &self,
        (n, h, w): (usize, usize, usize),
        (oh, ow): (usize, usize),
        c: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let (k, p) = (self.kernel, self.padding);
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    let row = (b * oh + oy) * ow + ox;
                    for ky in 0..k {
                        let iy = oy + ky;
                        if iy < p || iy - p >= h {
                            continue;
                        }
                        for kx in 0..k {
                            let ix = ox + kx;
                            if ix < p || ix - p >= w {
                                continue;
                            }
                            f(row, (b * h + iy - p) * w + ix - p, (ky * k + kx) * c);
                        }
                    }
                }
            }
        }
    }
}

impl Im2Col {
    /// Writes the patches of image `b` of `x`, an `(N, H, W, C)` batch, into `dst`, `(OH * OW, K *
    /// K * C)` row-major: every value once, in order (per output pixel and window row: the zeros
    /// left of the image, the in-bounds taps as one contiguous run of the input row, the zeros
    /// right of it). `dst` must hold exactly `OH * OW * K * K * C` values and `x` the whole batch
    /// (checked by the callers).
    pub(crate) fn fill_image(
        &self,
        x: &[f32],
        b: usize,
        (h, w, c): (usize, usize, usize),
        (oh, ow): (usize, usize),
        dst: &mut [MaybeUninit<f32>],
    ) {
        let (k, p) = (self.kernel, self.padding);
        let mut at = 0;
        let mut put = |v: f32| {
            dst[at].write(v);
            at += 1;
        };
        for oy in 0..oh {
            for ox in 0..ow {
                // Taps kx in lo..hi are inside the image: 0 <= ox + kx - p < w.
                let lo = p.saturating_sub(ox).min(k);
                let hi = (w + p).saturating_sub(ox).clamp(lo, k);
                for ky in 0..k {
                    let iy = oy + ky;
                    if iy < p || iy - p >= h {
                        (0..k * c).for_each(|_| put(0.0));
                        continue;
                    }
                    (0..lo * c).for_each(|_| put(0.0));
                    if hi > lo {
                        let start = ((b * h + iy - p) * w + ox + lo - p) * c;
                        x[start..start + (hi - lo) * c].iter().for_each(|&v| put(v));
                    }
                    (0..(k - hi) * c).for_each(|_| put(0.0));
                }
            }
        }
        debug_assert_eq!(at, dst.len());
    }

    /// The patches of image `b` of `x` `(N, H, W, C)` in `buf` (reused: its old contents are
    /// dropped), `(OH * OW, K * K * C)` row-major.
    pub(crate) fn image_patches<'a>(
        &self,
        x: &[f32],
        b: usize,
        (h, w, c): (usize, usize, usize),
        buf: &'a mut Vec<f32>,
    ) -> Result<&'a [f32]> {
        let (oh, ow) = self.out_hw(h, w)?;
        let len = oh * ow * self.kernel * self.kernel * c;
        if x.len() < (b + 1) * h * w * c {
            candle_core::bail!(
                "im2col: no image {b} of ({h}, {w}, {c}) in {} values",
                x.len()
            )
        }
        buf.clear();
        buf.reserve(len);
        self.fill_image(
            x,
            b,
            (h, w, c),
            (oh, ow),
            &mut buf.spare_capacity_mut()[..len],
        );
        // SAFETY: `fill_image` wrote every one of the `len` values.
        unsafe { buf.set_len(len) };
        Ok(buf.as_slice())
    }

    /// The patches of `x`, an `(N, H, W, C)` image batch: `(N * OH * OW, K * K * C)` row-major,
    /// returned with its two dimensions. Images fill on candle's thread count.
    pub(crate) fn patches(
        &self,
        x: &[f32],
        (n, h, w, c): (usize, usize, usize, usize),
    ) -> Result<(Vec<f32>, usize, usize)> {
        let (oh, ow) = self.out_hw(h, w)?;
        let cols = self.kernel * self.kernel * c;
        if x.len() != n * h * w * c {
            candle_core::bail!("im2col: {} values for ({n}, {h}, {w}, {c})", x.len())
        }
        let per_image = oh * ow * cols;
        let mut out: Vec<f32> = Vec::with_capacity(n * per_image);
        if per_image > 0 {
            out.spare_capacity_mut()[..n * per_image]
                .par_chunks_mut(per_image)
                .enumerate()
                .with_min_len(min_len())
                .for_each(|(b, dst)| self.fill_image(x, b, (h, w, c), (oh, ow), dst));
        }
        // SAFETY: `fill_image` wrote every one of the `n * per_image` values (each image's chunk
        // in full: `oh * ow` pixels x `k` window rows x `k * c` values).
        unsafe { out.set_len(n * per_image) };
        Ok((out, n * oh * ow, cols))
    }

    /// Adds each entry of `g`, one image's patch gradients `(OH * OW, K * K * C)`, into the input
    /// pixel of `dst` `(H, W, C)` it came from: the adjoint of [`fill_image`](Self::fill_image),
    /// each pixel's sum in row order.
    pub(crate) fn scatter_image(
        &self,
        g: &[f32],
        (h, w, c): (usize, usize, usize),
        (oh, ow): (usize, usize),
        dst: &mut [f32],
    ) {
        let cols = self.kernel * self.kernel * c;
        self.for_each_tap((1, h, w), (oh, ow), c, |row, pix, col| {
            let at = row * cols + col;
            for (d, s) in dst[pix * c..pix * c + c].iter_mut().zip(&g[at..at + c]) {
                *d += s;
            }
        });
    }

    /// Sums each entry of `g`, patches `(N * OH * OW, K * K * C)`, back into the input pixel it
    /// came from: the `(N, H, W, C)` adjoint of [`patches`](Self::patches).
    pub(crate) fn scatter(
        &self,
        g: &[f32],
        (n, h, w, c): (usize, usize, usize, usize),
    ) -> Result<Vec<f32>> {
        let (oh, ow) = self.out_hw(h, w)?;
        let cols = self.kernel * self.kernel * c;
        if g.len() != n * oh * ow * cols {
            candle_core::bail!(
                "col2im: {} gradient values do not match ({}, {cols})",
                g.len(),
                n * oh * ow
            )
        }
        let mut out = vec![0f32; n * h * w * c];
        // Each image's pixels receive only from that image's rows, in the same order whatever
        // the thread count, so the sums keep their bits.
        let per_image = h * w * c;
        let per_g = oh * ow * cols;
        if per_image > 0 && per_g > 0 {
            out.par_chunks_mut(per_image)
                .zip(g.par_chunks(per_g))
                .with_min_len(min_len())
                .for_each(|(dst, g_b)| self.scatter_image(g_b, (h, w, c), (oh, ow), dst));
        }
        Ok(out)
    }
}

pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        other => candle_core::bail!("{op}: f32 only, got {:?}", other.dtype()),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, "im2col")?;
        let (n, h, w, c) = layout.shape().dims4()?;
        let (out, rows, cols) = self.patches(x, (n, h, w, c))?;
        Ok((CpuStorage::F32(out), Shape::from((rows, cols))))
    }

    /// The gradient of the input, or none when the input needs none (a network's first layer).
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let (n, h, w, c) = arg.dims4()?;
        let op = Col2Im {
            im2col: *self,
            n,
            h,
            w,
            c,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// The adjoint of [`Im2Col`]: sums each column entry back into the input pixel it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Col2Im {
    im2col: Im2Col,
    n: usize,
    h: usize,
    w: usize,
    c: usize,
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(storage, layout, "col2im")?;
        let Self { n, h, w, c, .. } = *self;
        let (oh, ow) = self.im2col.out_hw(h, w)?;
        let cols = self.im2col.kernel * self.im2col.kernel * c;
        if layout.shape().dims() != [n * oh * ow, cols] {
            candle_core::bail!(
                "col2im: gradient {:?} does not match ({}, {cols})",
                layout.shape(),
                n * oh * ow
            )
        }
        let out = self.im2col.scatter(g, (n, h, w, c))?;
        Ok((CpuStorage::F32(out), Shape::from((n, h, w, c))))
    }
}

/// Patches of `x` `(N, H, W, C)`: `(N * OH * OW, K * K * C)`, differentiable with respect to `x`.
pub fn im2col(x: &Tensor, kernel: usize, padding: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Im2Col { kernel, padding })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn patches_of_a_3x3_image_with_padding() {
        let x = Tensor::arange(1f32, 10.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 3, 3, 1))
            .unwrap();
        let cols: Vec<Vec<f32>> = im2col(&x, 3, 1).unwrap().to_vec2().unwrap();
        assert_eq!(cols.len(), 9);
        assert_eq!(cols[0], [0., 0., 0., 0., 1., 2., 0., 4., 5.]);
        assert_eq!(cols[4], [1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        assert_eq!(cols[8], [5., 6., 0., 8., 9., 0., 0., 0., 0.]);
    }

    #[test]
    fn channels_stay_together_in_each_tap() {
        // 1x1 image, 2 channels, 3x3 window with padding 1: only the centre tap (4) is in bounds.
        let x = Tensor::new(&[7f32, 8.], &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 1, 2))
            .unwrap();
        let cols: Vec<Vec<f32>> = im2col(&x, 3, 1).unwrap().to_vec2().unwrap();
        let mut expected = vec![0f32; 18];
        expected[8] = 7.0;
        expected[9] = 8.0;
        assert_eq!(cols, [expected]);
    }

    /// The run-copying `patches` against the definition, tap by tap, over shapes that include
    /// windows wider than the image and padding wider than the window's reach.
    #[test]
    fn patches_are_the_definition() {
        for (n, h, w, c, k, p) in [
            (2, 5, 4, 3, 3, 1),
            (1, 1, 1, 2, 3, 1),
            (1, 2, 3, 1, 3, 2),
            (3, 6, 2, 4, 1, 0),
            (1, 4, 4, 2, 3, 0),
            (2, 3, 5, 1, 5, 2),
        ] {
            let x: Vec<f32> = (0..n * h * w * c).map(|i| i as f32 + 1.0).collect();
            let op = Im2Col {
                kernel: k,
                padding: p,
            };
            let (got, rows, cols) = op.patches(&x, (n, h, w, c)).unwrap();
            let (oh, ow) = op.out_hw(h, w).unwrap();
            assert_eq!((rows, cols), (n * oh * ow, k * k * c));
            let mut want = vec![0f32; rows * cols];
            for b in 0..n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = (oy + ky, ox + kx);
                                if iy < p || ix < p || iy - p >= h || ix - p >= w {
                                    continue;
                                }
                                for ch in 0..c {
                                    want[((b * oh + oy) * ow + ox) * cols
                                        + (ky * k + kx) * c
                                        + ch] = x[((b * h + iy - p) * w + ix - p) * c + ch];
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(got, want, "{:?}", (n, h, w, c, k, p));
        }
    }

    #[test]
    fn col2im_is_the_adjoint() {
        // <im2col(x), g> = <x, col2im(g)>, through the gradient of sum(im2col(x) * g).
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::rand(0f32, 1.0, (2, 5, 4, 3), &dev).unwrap()).unwrap();
        let cols = im2col(x.as_tensor(), 3, 1).unwrap();
        let g = Tensor::rand(0f32, 1.0, cols.dims(), &dev).unwrap();
        let lhs = (&cols * &g).unwrap().sum_all().unwrap();
        let grad = lhs.backward().unwrap();
        let gx = grad.get(x.as_tensor()).unwrap();
        let rhs = (x.as_tensor() * gx).unwrap().sum_all().unwrap();
        let (l, r) = (
            lhs.to_scalar::<f32>().unwrap(),
            rhs.to_scalar::<f32>().unwrap(),
        );
        assert!((l - r).abs() < 1e-3 * l.abs(), "{l} vs {r}");
        // An interior pixel of a 3x3 window with padding 1 is in 9 patches, a corner in 4.
        let ones = im2col(x.as_tensor(), 3, 1)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g1: Vec<f32> = ones
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(g1[(4 + 1) * 3], 9.0);
        assert_eq!(g1[0], 4.0);
    }
}
