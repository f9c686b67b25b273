//! A convolution as one candle custom op: im2col and the matrix product fused, so the patch matrix
//! never becomes a tensor of the autograd graph.
//!
//! Why: candle 0.11's backward pass gives every tensor of the graph a gradient made as
//! `zeros_like(t) + grad` (`GradStore::or_insert`, then `add`). With im2col as its own op, the
//! patch matrix `(N * OH * OW, K * K * C)` (nine times the input: 24 MB for the second block of
//! the shipped face recipe at batch 64) got a zero-filled gradient, a fresh sum and the page faults
//! of both on every step; `perf` put a third of a training step in that memset, add and faulting.
//! Here the patches live only inside the op, and the graph sees `x -> rows` with gradients for `x`
//! and the weight only.
//!
//! Work is split by image, on candle's thread count: each image's patches are built in a buffer
//! its thread reuses (a few hundred KiB: it stays in cache), multiplied, and dropped; the input
//! gradient is each image's patch gradients scattered into its own pixels; the weight gradient is
//! one partial product per image, added in image order. No value depends on the thread count
//! (`trainer/tests/cli_bench.rs` checks the loss at 1 and 2 threads bit for bit); against
//! `im2col` + `matmul` over the whole batch only the order of additions differs (a test bounds
//! the difference, and `trainer/tests/conv_block_torch.rs` checks a block against PyTorch).
//!
//! Layout: `x` `(N, H, W, C_in)` contiguous f32, `wmat` `(C_out, K * K * C_in)` (the PyTorch weight
//! permuted to `(C_out, K, K, C_in)`), output rows `(N * OH * OW, C_out)`.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::im2col::{contiguous_f32, Im2Col};
use super::par::{min_len, par_filled};

/// `dst (m, n) = lhs (m, k) x rhs (k, n)`, row-major `dst` (written, never read: it may be
/// uninitialised), the operands given by their column and row strides; the `gemm` call candle's
/// CPU `matmul` makes, on candle's thread count (`candle_core::utils::get_num_threads`) when
/// `threaded`, else on the calling thread.
#[allow(clippy::too_many_arguments)]
fn gemm_uninit(
    (m, n, k): (usize, usize, usize),
    dst: &mut [MaybeUninit<f32>],
    lhs: &[f32],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[f32],
    (rhs_cs, rhs_rs): (usize, usize),
    threaded: bool,
) -> Result<()> {
    // Bounds of the furthest element each operand is read at, so the unsafe call stays in range.
    let last = |rows: usize, cols: usize, cs: usize, rs: usize| {
        (rows.saturating_sub(1)) * rs + (cols.saturating_sub(1)) * cs
    };
    if dst.len() < m * n
        || (m * k > 0 && lhs.len() <= last(m, k, lhs_cs, lhs_rs))
        || (k * n > 0 && rhs.len() <= last(k, n, rhs_cs, rhs_rs))
    {
        candle_core::bail!("conv gemm: operands too short for ({m}, {k}) x ({k}, {n})")
    }
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threaded && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the checks above keep every index the strides reach inside the slices; `dst` is
    // written only (`read_dst` false), `lhs` and `rhs` read only, and they do not alias (distinct
    // borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0f32,
            1f32,
            false,
            false,
            false,
            parallelism,
        )
    }
    Ok(())
}

/// [`gemm_uninit`] into a fresh `(m, n)` buffer.
fn gemm_vec(
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> Result<Vec<f32>> {
    let mut dst = Vec::with_capacity(m * n);
    gemm_uninit(
        (m, n, k),
        &mut dst.spare_capacity_mut()[..m * n],
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        true,
    )?;
    // SAFETY: gemm wrote all `m * n` values of `dst`.
    unsafe { dst.set_len(m * n) };
    Ok(dst)
}

/// The fused convolution: `(x, wmat)` -> rows `(N * OH * OW, C_out)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvRows {
    /// Window and padding.
    pub im2col: Im2Col,
}

impl ConvRows {
    fn check(&self, x: &Layout, wmat: &Layout) -> Result<((usize, usize, usize, usize), usize)> {
        let dims = x.shape().dims4()?;
        let (c_out, kkc) = wmat.shape().dims2()?;
        if kkc != self.im2col.kernel * self.im2col.kernel * dims.3 {
            candle_core::bail!(
                "conv: weight matrix {:?} does not fit a {k}x{k} window over {} channels",
                wmat.shape(),
                dims.3,
                k = self.im2col.kernel
            )
        }
        Ok((dims, c_out))
    }
}

impl CustomOp2 for ConvRows {
    fn name(&self) -> &'static str {
        "conv-rows"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (dims, c_out) = self.check(xl, wl)?;
        let x = contiguous_f32(xs, xl, "conv")?;
        let wmat = contiguous_f32(ws, wl, "conv")?;
        let (n, h, w, c) = dims;
        let im2col = self.im2col;
        if im2col.kernel == 1 && im2col.padding == 0 {
            let m = n * h * w;
            let out = gemm_vec((m, c_out, c), x, (1, c), wmat, (c, 1))?;
            return Ok((CpuStorage::F32(out), Shape::from((m, c_out))));
        }
        let (oh, ow) = im2col.out_hw(h, w)?;
        let (m, k) = (n * oh * ow, im2col.kernel * im2col.kernel * c);
        if x.len() != n * h * w * c {
            candle_core::bail!("conv: {} values for ({n}, {h}, {w}, {c})", x.len())
        }
        // By image: its patches (in a buffer each thread reuses, small enough to stay in cache),
        // then rows_b = patches_b (OH OW, k) x wmat^T (k, C_out), wmat^T read through its strides.
        // gemm's blocking of the k sum does not depend on the row count, so every row is the sum
        // the one product over the whole batch makes.
        let per_image = oh * ow * c_out;
        let mut out = Vec::with_capacity(m * c_out);
        if per_image > 0 {
            out.spare_capacity_mut()[..m * c_out]
                .par_chunks_mut(per_image)
                .enumerate()
                .with_min_len(min_len())
                .try_for_each_init(Vec::new, |buf, (b, dst)| {
                    let cols = im2col.image_patches(x, b, (h, w, c), buf)?;
                    gemm_uninit((oh * ow, c_out, k), dst, cols, (1, k), wmat, (k, 1), false)
                })?;
        }
        // SAFETY: each image's gemm wrote its `oh * ow * c_out` values, all `m * c_out` in all.
        unsafe { out.set_len(m * c_out) };
        Ok((CpuStorage::F32(out), Shape::from((m, c_out))))
    }

    /// The gradients of `x` (none when `x` needs none: a network's first layer) and of `wmat`.
    fn bwd(
        &self,
        x: &Tensor,
        wmat: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(
                wmat,
                &ConvGradInput {
                    op: *self,
                    x_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        let gw = grad.apply_op2_no_bwd(x, &ConvGradWeight { op: *self })?;
        Ok((gx, Some(gw)))
    }
}

/// `(grad rows, wmat)` -> the gradient of `x`: `col2im(grad (m, C_out) x wmat (C_out, K K C))`, the
/// product candle's `matmul` backward makes for the left operand.
#[derive(Clone, Copy, Debug)]
struct ConvGradInput {
    op: ConvRows,
    x_dims: (usize, usize, usize, usize),
}

impl CustomOp2 for ConvGradInput {
    fn name(&self) -> &'static str {
        "conv-grad-input"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(gs, gl, "conv backward")?;
        let wmat = contiguous_f32(ws, wl, "conv backward")?;
        let (m, c_out) = gl.shape().dims2()?;
        let (_, k) = wl.shape().dims2()?;
        let im2col = self.op.im2col;
        let (n, h, w, c) = self.x_dims;
        let out = if im2col.kernel == 1 && im2col.padding == 0 {
            gemm_vec((m, k, c_out), g, (1, c_out), wmat, (1, k))?
        } else {
            let (oh, ow) = im2col.out_hw(h, w)?;
            if m != n * oh * ow || g.len() != m * c_out {
                candle_core::bail!(
                    "conv backward: gradient ({m}, {c_out}) for {n} images of {oh}x{ow}"
                )
            }
            // By image: its patch gradients (OH OW, k) = grad_b (OH OW, C_out) x wmat (C_out, k)
            // in a buffer each thread reuses, then col2im into the image's own pixels. The same
            // sums as the product over the whole batch followed by col2im.
            let mut out = par_filled(n * h * w * c, 0f32);
            let (per_in, per_g) = (h * w * c, oh * ow * c_out);
            if per_in > 0 && per_g > 0 {
                out.par_chunks_mut(per_in)
                    .zip(g.par_chunks(per_g))
                    .with_min_len(min_len())
                    .try_for_each_init(Vec::new, |buf: &mut Vec<f32>, (dst, g_b)| {
                        let rows = oh * ow;
                        buf.clear();
                        buf.reserve(rows * k);
                        gemm_uninit(
                            (rows, k, c_out),
                            &mut buf.spare_capacity_mut()[..rows * k],
                            g_b,
                            (1, c_out),
                            wmat,
                            (1, k),
                            false,
                        )?;
                        // SAFETY: gemm wrote all `rows * k` values.
                        unsafe { buf.set_len(rows * k) };
                        im2col.scatter_image(buf, (h, w, c), (oh, ow), dst);
                        Ok::<_, candle_core::Error>(())
                    })?;
            }
            out
        };
        let (n, h, w, c) = self.x_dims;
        Ok((CpuStorage::F32(out), Shape::from((n, h, w, c))))
    }
}

/// `(grad rows, x)` -> the gradient of `wmat` `(C_out, K K C)`: `(cols^T (K K C, m) x grad (m,
/// C_out))^T`, the product candle's `matmul` backward makes for the right operand `wmat^T`, then
/// transposed (exactly: a copy).
#[derive(Clone, Copy, Debug)]
struct ConvGradWeight {
    op: ConvRows,
}

impl CustomOp2 for ConvGradWeight {
    fn name(&self) -> &'static str {
        "conv-grad-weight"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(gs, gl, "conv backward")?;
        let x = contiguous_f32(xs, xl, "conv backward")?;
        let (m, c_out) = gl.shape().dims2()?;
        let (n, h, w, c) = xl.shape().dims4()?;
        let im2col = self.op.im2col;
        let (oh, ow) = im2col.out_hw(h, w)?;
        let (rows, k) = (oh * ow, im2col.kernel * im2col.kernel * c);
        if m != n * rows || g.len() != m * c_out || x.len() != n * h * w * c {
            candle_core::bail!("conv backward: {m} gradient rows for {n} images of {oh}x{ow}")
        }
        let plain = im2col.kernel == 1 && im2col.padding == 0;
        // By image, a partial sum (C_out, k) = grad_b^T (C_out, OH OW) x patches_b (OH OW, k),
        // each image's in its own slot; then the partials are added in image order, so the
        // result does not depend on the thread count.
        let per = c_out * k;
        let mut partials = Vec::with_capacity(n * per);
        if per > 0 {
            partials.spare_capacity_mut()[..n * per]
                .par_chunks_mut(per)
                .zip(g.par_chunks(rows * c_out))
                .enumerate()
                .with_min_len(min_len())
                .try_for_each_init(Vec::new, |buf: &mut Vec<f32>, (b, (dst, g_b))| {
                    let cols = if plain {
                        &x[b * rows * c..(b + 1) * rows * c]
                    } else {
                        im2col.image_patches(x, b, (h, w, c), buf)?
                    };
                    gemm_uninit((c_out, k, rows), dst, g_b, (c_out, 1), cols, (1, k), false)
                })?;
        }
        // SAFETY: each image's gemm wrote its `c_out * k` values, `n * per` in all.
        unsafe { partials.set_len(n * per) };
        let mut out = vec![0f32; per];
        const SPAN: usize = 4096;
        out.par_chunks_mut(SPAN)
            .enumerate()
            .with_min_len(min_len())
            .for_each(|(i, dst)| {
                for part in partials.chunks_exact(per.max(1)) {
                    let src = &part[i * SPAN..i * SPAN + dst.len()];
                    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((c_out, k))))
    }
}

/// The convolution of `x` `(N, H, W, C_in)` by `wmat` `(C_out, K * K * C_in)` with stride 1 and
/// zero padding `padding`, as rows `(N * OH * OW, C_out)`; differentiable in both.
pub fn conv_rows(x: &Tensor, wmat: &Tensor, kernel: usize, padding: usize) -> Result<Tensor> {
    let op = ConvRows {
        im2col: Im2Col { kernel, padding },
    };
    x.contiguous()?.apply_op2(&wmat.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::im2col::im2col;
    use candle_core::{Device, Var};

    fn vec(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// The largest difference between `a` and `b` relative to the largest magnitude in `b`.
    fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// Forward values and both gradients equal those of `im2col` + `matmul` up to f32 rounding
    /// (relative 1e-5 of the largest value: the op sums the same products, per image instead of
    /// over the whole batch, so only the order of the additions differs).
    fn same_as_im2col_and_matmul(
        kernel: usize,
        padding: usize,
        dims: (usize, usize, usize, usize),
        c_out: usize,
    ) {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::rand(-1f32, 1.0, dims, &dev).unwrap()).unwrap();
        let kkc = kernel * kernel * dims.3;
        let w = Var::from_tensor(&Tensor::rand(-1f32, 1.0, (c_out, kkc), &dev).unwrap()).unwrap();
        let probe = Tensor::rand(-1f32, 1.0, (dims.0, 1, 1, 1), &dev).unwrap();
        let fused = conv_rows(x.as_tensor(), w.as_tensor(), kernel, padding).unwrap();
        let cols = if kernel == 1 && padding == 0 {
            x.as_tensor().reshape(((), dims.3)).unwrap()
        } else {
            im2col(x.as_tensor(), kernel, padding).unwrap()
        };
        let plain = cols.matmul(&w.as_tensor().t().unwrap()).unwrap();
        assert!(rel_diff(&vec(&fused), &vec(&plain)) < 1e-5);
        // A loss that weighs the rows unevenly, so the gradients are not all equal.
        let loss = |rows: &Tensor| {
            let n = dims.0;
            let r = rows.reshape((n, (), c_out)).unwrap().sqr().unwrap();
            r.broadcast_mul(&probe.reshape((n, 1, 1)).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let gf = loss(&fused).backward().unwrap();
        let gp = loss(&plain).backward().unwrap();
        for v in [&x, &w] {
            let d = rel_diff(
                &vec(gf.get(v.as_tensor()).unwrap()),
                &vec(gp.get(v.as_tensor()).unwrap()),
            );
            assert!(
                d < 1e-5,
                "{dims:?} kernel {kernel}: relative difference {d}"
            );
        }
    }

    #[test]
    fn values_and_gradients_are_those_of_im2col_and_matmul() {
        same_as_im2col_and_matmul(3, 1, (3, 7, 5, 2), 4);
        same_as_im2col_and_matmul(3, 1, (2, 9, 6, 16), 32);
        same_as_im2col_and_matmul(3, 1, (5, 7, 5, 64), 64);
        same_as_im2col_and_matmul(1, 0, (2, 4, 3, 5), 6);
        same_as_im2col_and_matmul(3, 0, (1, 5, 5, 3), 2);
    }

    /// The loss `sum(rows^2)` is quadratic in `x` and in `wmat`, so central differences are exact
    /// up to rounding at any step: a step of 0.5 keeps f32 rounding far below the tolerance.
    #[test]
    fn gradients_match_central_differences() {
        let dev = Device::Cpu;
        let x = Tensor::rand(-1f32, 1.0, (2, 5, 4, 3), &dev).unwrap();
        let w = Tensor::rand(-1f32, 1.0, (4, 27), &dev).unwrap();
        let loss = |x: &Tensor, w: &Tensor| {
            conv_rows(x, w, 3, 1)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&w).unwrap());
        let grads = loss(xv.as_tensor(), wv.as_tensor()).backward().unwrap();
        let h = 0.5f32;
        for (which, t) in [(0, &x), (1, &w)] {
            let g = vec(grads
                .get(if which == 0 {
                    xv.as_tensor()
                } else {
                    wv.as_tensor()
                })
                .unwrap());
            let base = vec(t);
            for j in 0..base.len() {
                let at = |d: f32| {
                    let mut v = base.clone();
                    v[j] += d;
                    let moved = Tensor::from_vec(v, t.dims(), &dev).unwrap();
                    let l = if which == 0 {
                        loss(&moved, &w)
                    } else {
                        loss(&x, &moved)
                    };
                    f64::from(l.to_scalar::<f32>().unwrap())
                };
                let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
                let analytic = f64::from(g[j]);
                assert!(
                    (numeric - analytic).abs() <= 1e-3 * analytic.abs().max(1.0),
                    "input {which} element {j}: backward {analytic} vs central difference {numeric}"
                );
            }
        }
    }

    #[test]
    fn a_weight_of_the_wrong_size_is_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((1, 4, 4, 3), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((2, 26), candle_core::DType::F32, &dev).unwrap();
        let e = conv_rows(&x, &w, 3, 1).unwrap_err().to_string();
        assert!(e.contains("does not fit"), "{e}");
    }
}
