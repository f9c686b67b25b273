//! A convolution as one candle custom op: im2col and the matrix product fused, so the patch matrix
//! never becomes a tensor of the autograd graph.
//!
//! Why: candle 0.11's backward pass gives every tensor of the graph a gradient made as
//! `zeros_like(t) + grad` (`GradStore::or_insert`, then `add`). With im2col as its own op, the
//! patch matrix `(N * OH * OW, K * K * C)` (nine times the input: 24 MB for the second block of
//! the shipped face recipe at batch 64) got a zero-filled gradient, a fresh sum and the page faults
//! of both on every step; `perf` put a third of a training step in that memset, add and faulting.
//! Here the patches live only inside the op (rebuilt in the backward pass, which is cheaper than
//! keeping them), and the graph sees `x -> rows` with gradients for `x` and the weight only.
//!
//! Arithmetic: the same `gemm` calls, with the same shapes and strides, as candle's `matmul` and
//! its backward make for `im2col(x).matmul(wmat.t())`, so the results are bit-identical to the
//! unfused path (a test checks values and both gradients for equality).
//!
//! Layout: `x` `(N, H, W, C_in)` contiguous f32, `wmat` `(C_out, K * K * C_in)` (the PyTorch weight
//! permuted to `(C_out, K, K, C_in)`), output rows `(N * OH * OW, C_out)`.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::im2col::{contiguous_f32, Im2Col};

/// `dst (m, n) = lhs (m, k) x rhs (k, n)`, row-major `dst`, the operands given by their column
/// and row strides; the `gemm` call candle's CPU `matmul` makes (threads from
/// `candle_core::utils::get_num_threads`).
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    lhs: &[f32],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[f32],
    (rhs_cs, rhs_rs): (usize, usize),
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
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the checks above keep every index the strides reach inside the slices; `dst` is
    // written only, `lhs` and `rhs` read only, and they do not alias (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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

/// The patches of `x` as a slice: `x` itself for a 1x1 window without padding, else a copy.
fn patches<'a>(
    im2col: &Im2Col,
    x: &'a [f32],
    dims: (usize, usize, usize, usize),
    buffer: &'a mut Vec<f32>,
) -> Result<(&'a [f32], usize, usize)> {
    let (n, h, w, c) = dims;
    if im2col.kernel == 1 && im2col.padding == 0 {
        return Ok((x, n * h * w, c));
    }
    let (p, rows, cols) = im2col.patches(x, dims)?;
    *buffer = p;
    Ok((buffer.as_slice(), rows, cols))
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
        let mut buffer = Vec::new();
        let (cols, m, k) = patches(&self.im2col, x, dims, &mut buffer)?;
        let mut out = vec![0f32; m * c_out];
        // rows = cols (m, k) x wmat^T (k, c_out); wmat^T read through its strides.
        gemm_into((m, c_out, k), &mut out, cols, (1, k), wmat, (k, 1))?;
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
        let mut gcols = vec![0f32; m * k];
        gemm_into((m, k, c_out), &mut gcols, g, (1, c_out), wmat, (1, k))?;
        let im2col = self.op.im2col;
        let out = if im2col.kernel == 1 && im2col.padding == 0 {
            gcols
        } else {
            im2col.scatter(&gcols, self.x_dims)?
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
        let mut buffer = Vec::new();
        let (cols, rows, k) = patches(&self.op.im2col, x, xl.shape().dims4()?, &mut buffer)?;
        if rows != m {
            candle_core::bail!("conv backward: {m} gradient rows for {rows} patches")
        }
        let mut gt = vec![0f32; k * c_out];
        gemm_into((k, c_out, m), &mut gt, cols, (k, 1), g, (1, c_out))?;
        let mut out = vec![0f32; c_out * k];
        for (i, row) in gt.chunks_exact(c_out).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                out[j * k + i] = v;
            }
        }
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

    /// Forward values and both gradients equal, bit for bit, those of `im2col` + `matmul`.
    fn bit_identical(
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
        assert_eq!(vec(&fused), vec(&plain));
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
            assert_eq!(
                vec(gf.get(v.as_tensor()).unwrap()),
                vec(gp.get(v.as_tensor()).unwrap())
            );
        }
    }

    #[test]
    fn values_and_gradients_are_those_of_im2col_and_matmul_bit_for_bit() {
        bit_identical(3, 1, (3, 7, 5, 2), 4);
        bit_identical(3, 1, (2, 9, 6, 16), 32);
        bit_identical(1, 0, (2, 4, 3, 5), 6);
        bit_identical(3, 0, (1, 5, 5, 3), 2);
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
