//! The training-mode batch-normalisation op behind [`super::batch_norm::BatchNorm`]: normalisation
//! with the batch's moments, optionally followed by ReLU or ReLU + 2x2 max-pool, as one candle custom
//! op with a closed-form backward.
//!
//! Rows `(M, C)` of an `(N, H, W)` grid in, `(N, H, W, C)` (or `(N, H/2, W/2, C)` after pooling) out.
//! The forward pass leaves the batch's moments (for the running statistics and the backward pass) and
//! the pooling's argmax (for the backward pass) in a shared [`Saved`].

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};

use super::batch_norm::Then;
use super::im2col::contiguous_f32;

/// Per-channel mean and biased variance.
#[derive(Clone, Debug)]
pub(crate) struct Moments {
    /// Mean of each channel.
    pub(crate) mean: Vec<f64>,
    /// Biased variance of each channel.
    pub(crate) var: Vec<f64>,
}

/// What the forward pass leaves for the running statistics and the backward pass.
#[derive(Clone, Default)]
pub(crate) struct Saved {
    /// The batch's moments.
    pub(crate) moments: Option<Moments>,
    /// For pooling: the input row-major index of each output's first maximum, or `u32::MAX` where
    /// the maximum is not positive (ReLU passes no gradient).
    pub(crate) argmax: Vec<u32>,
}

/// Per-channel mean and biased variance of a contiguous `(M, C)` buffer, in f64.
fn moments(x: &[f32], c: usize) -> Moments {
    let m = (x.len() / c).max(1) as f64;
    let mut mean = vec![0f64; c];
    for row in x.chunks_exact(c) {
        for (s, &v) in mean.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|s| *s /= m);
    let mut var = vec![0f64; c];
    for row in x.chunks_exact(c) {
        for ((s, &v), mu) in var.iter_mut().zip(row).zip(&mean) {
            let d = f64::from(v) - mu;
            *s += d * d;
        }
    }
    var.iter_mut().for_each(|s| *s /= m);
    Moments { mean, var }
}

/// Per-channel `(scale, shift)` with `y = x * scale + shift`.
fn affine(m: &Moments, gamma: &[f32], beta: &[f32], eps: f64) -> (Vec<f32>, Vec<f32>) {
    let scale: Vec<f64> = (0..gamma.len())
        .map(|j| f64::from(gamma[j]) / (m.var[j] + eps).sqrt())
        .collect();
    let shift = (0..gamma.len())
        .map(|j| (f64::from(beta[j]) - m.mean[j] * scale[j]) as f32)
        .collect();
    (scale.into_iter().map(|v| v as f32).collect(), shift)
}

/// Runs `f` on the f32 data of a contiguous CPU tensor.
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => Ok(f(&v[a..b])),
        _ => candle_core::bail!("batch-norm: expected a contiguous f32 CPU tensor"),
    }
}

/// Training-mode `(x (M, C), weight (C), bias (C))` -> normalised, then `then`, shaped
/// `(N, H, W, C)` (or pooled); saves the batch's moments (running statistics, backward) and the
/// pooling's argmax (backward).
pub(crate) struct BnTrain {
    /// Added to the variance.
    pub(crate) eps: f64,
    /// What follows the normalisation.
    pub(crate) then: Then,
    /// `(N, H, W)` of the rows.
    pub(crate) grid: (usize, usize, usize),
    /// Left by the forward pass.
    pub(crate) saved: Arc<Mutex<Saved>>,
}

impl CustomOp3 for BnTrain {
    fn name(&self) -> &'static str {
        "batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s1, l1, "batch-norm")?;
        let gamma = contiguous_f32(s2, l2, "batch-norm")?;
        let beta = contiguous_f32(s3, l3, "batch-norm")?;
        let (_, c) = l1.shape().dims2()?;
        let (n, h, w) = self.grid;
        let mom = moments(x, c);
        let (scale, shift) = affine(&mom, gamma, beta, self.eps);
        let mut saved = Saved::default();
        let (out, shape) = if self.then == Then::ReluMaxPool {
            let mut y = Vec::with_capacity(x.len());
            for row in x.chunks_exact(c) {
                y.extend(
                    row.iter()
                        .zip(&scale)
                        .zip(&shift)
                        .map(|((v, a), b)| v * a + b),
                );
            }
            let (oh, ow) = (h / 2, w / 2);
            let mut out = vec![0f32; n * oh * ow * c];
            let mut argmax = vec![u32::MAX; out.len()];
            for b in 0..n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let o = ((b * oh + oy) * ow + ox) * c;
                        let t0 = ((b * h + 2 * oy) * w + 2 * ox) * c;
                        let taps = [t0, t0 + c, t0 + w * c, t0 + w * c + c];
                        let rows = taps.map(|t| &y[t..t + c]);
                        let (out_o, arg_o) = (&mut out[o..o + c], &mut argmax[o..o + c]);
                        for j in 0..c {
                            let mut bv = rows[0][j];
                            let mut bk = 0;
                            for (k, row) in rows.iter().enumerate().skip(1) {
                                if row[j] > bv {
                                    bv = row[j];
                                    bk = k;
                                }
                            }
                            if bv > 0.0 {
                                out_o[j] = bv;
                                arg_o[j] = (taps[bk] + j) as u32;
                            }
                        }
                    }
                }
            }
            saved.argmax = argmax;
            (out, Shape::from((n, oh, ow, c)))
        } else {
            let relu = self.then == Then::Relu;
            let mut out = Vec::with_capacity(x.len());
            for row in x.chunks_exact(c) {
                out.extend(row.iter().zip(&scale).zip(&shift).map(|((v, a), b)| {
                    let y = v * a + b;
                    if relu {
                        y.max(0.0)
                    } else {
                        y
                    }
                }));
            }
            (out, Shape::from((n, h, w, c)))
        };
        saved.moments = Some(mom);
        *self.saved.lock().unwrap_or_else(|p| p.into_inner()) = saved;
        Ok((CpuStorage::F32(out), shape))
    }

    /// With `y = x_hat * weight + bias`, `x_hat = (x - mean) / sqrt(var + eps)` and `dy` the gradient
    /// reaching `y` through ReLU / pooling (pooling: to each window's first maximum, if positive;
    /// ReLU: where `y > 0`), per channel: `dbias = sum dy`, `dweight = sum dy x_hat`,
    /// `dx = weight / sqrt(var + eps) / M * (M dy - dbias - x_hat dweight)`.
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (m, c) = x.dims2()?;
        let gam: Vec<f32> = gamma.to_vec1()?;
        let bet: Vec<f32> = beta.to_vec1()?;
        let saved = self.saved.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (dx, dgamma, dbeta) = with_f32(x, |xv| {
            let mom = saved.moments.unwrap_or_else(|| moments(xv, c));
            let dy = with_f32(grad, |g| match self.then {
                Then::ReluMaxPool => {
                    let mut dy = vec![0f32; m * c];
                    for (&i, &gv) in saved.argmax.iter().zip(g) {
                        if i != u32::MAX {
                            dy[i as usize] = gv;
                        }
                    }
                    dy
                }
                Then::Relu => {
                    let (scale, shift) = affine(&mom, &gam, &bet, self.eps);
                    let mut dy = g.to_vec();
                    for (row, drow) in xv.chunks_exact(c).zip(dy.chunks_exact_mut(c)) {
                        for j in 0..c {
                            if row[j] * scale[j] + shift[j] <= 0.0 {
                                drow[j] = 0.0;
                            }
                        }
                    }
                    dy
                }
                Then::Nothing => g.to_vec(),
            })?;
            let mean: Vec<f32> = mom.mean.iter().map(|&v| v as f32).collect();
            let inv_std: Vec<f32> = mom
                .var
                .iter()
                .map(|v| (1.0 / (v + self.eps).sqrt()) as f32)
                .collect();
            let mut dbeta = vec![0f64; c];
            let mut dgamma = vec![0f64; c];
            let mut rb = vec![0f32; c];
            let mut rg = vec![0f32; c];
            // Zipped iterators rather than indices: no bounds checks, so the per-channel loops
            // vectorise (same operations in the same order: the same bits).
            for (r, (row, drow)) in xv.chunks_exact(c).zip(dy.chunks_exact(c)).enumerate() {
                for (((b, g), (&v, &d)), &mu) in rb
                    .iter_mut()
                    .zip(rg.iter_mut())
                    .zip(row.iter().zip(drow))
                    .zip(&mean)
                {
                    *b += d;
                    *g += d * (v - mu);
                }
                // Partial sums in f32 over 256 rows at most, totals in f64.
                if r % 256 == 255 || r + 1 == m {
                    for j in 0..c {
                        dbeta[j] += f64::from(rb[j]);
                        dgamma[j] += f64::from(rg[j]) * f64::from(inv_std[j]);
                        rb[j] = 0.0;
                        rg[j] = 0.0;
                    }
                }
            }
            let mf = m as f32;
            let k: Vec<f32> = (0..c).map(|j| gam[j] * inv_std[j] / mf).collect();
            let db: Vec<f32> = dbeta.iter().map(|&v| v as f32).collect();
            let dg: Vec<f32> = dgamma.iter().map(|&v| v as f32).collect();
            let mut dx = dy;
            for (row, drow) in xv.chunks_exact(c).zip(dx.chunks_exact_mut(c)) {
                for ((((d, &v), &mu), &is), ((&kj, &dbj), &dgj)) in drow
                    .iter_mut()
                    .zip(row)
                    .zip(&mean)
                    .zip(&inv_std)
                    .zip(k.iter().zip(&db).zip(&dg))
                {
                    let xh = (v - mu) * is;
                    *d = kj * (mf * *d - dbj - xh * dgj);
                }
            }
            Ok::<_, candle_core::Error>((dx, dg, db))
        })??;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (m, c), dev)?),
            Some(Tensor::from_vec(dgamma, c, dev)?),
            Some(Tensor::from_vec(dbeta, c, dev)?),
        ))
    }
}
