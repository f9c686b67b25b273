//! The training-mode batch-normalisation op behind [`super::batch_norm::BatchNorm`]: normalisation
//! with the batch's moments, optionally followed by ReLU or ReLU + 2x2 max-pool, as one candle custom
//! op with a closed-form backward.
//!
//! Rows `(M, C)` of an `(N, H, W)` grid in, `(N, H, W, C)` (or `(N, H/2, W/2, C)` after pooling) out.
//! The forward pass leaves the batch's moments (for the running statistics and the backward pass) and
//! the pooling's argmax (for the backward pass) in a shared [`Saved`].
//!
//! Both passes split across candle's thread count without changing a bit: the moments by channel
//! range (each channel summed over the rows in row order), normalisation and pooling by image, the
//! backward pass's sums by fixed blocks of [`BLOCK_ROWS`] rows added in block order.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};

use rayon::prelude::*;

use super::batch_norm::Then;
use super::im2col::contiguous_f32;
use super::par::{min_len, par_filled};

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

/// Per-channel mean and biased variance of a contiguous `(M, C)` buffer, in f64. Each channel is
/// summed over the rows in row order, whichever thread holds it (channels split into `pieces`
/// ranges), so the bits do not depend on the thread count.
fn moments(x: &[f32], c: usize, pieces: usize) -> Moments {
    let m = (x.len() / c.max(1)).max(1) as f64;
    let width = c.div_ceil(pieces.max(1)).max(1);
    let parts: Vec<(Vec<f64>, Vec<f64>)> = (0..c.div_ceil(width))
        .into_par_iter()
        .with_min_len(min_len())
        .map(|p| {
            let lo = p * width;
            let hi = (lo + width).min(c);
            let mut mean = row_sums::<false>(x, c, lo..hi, &[]);
            mean.iter_mut().for_each(|s| *s /= m);
            let mut var = row_sums::<true>(x, c, lo..hi, &mean);
            var.iter_mut().for_each(|s| *s /= m);
            (mean, var)
        })
        .collect();
    let (mean, var): (Vec<Vec<f64>>, Vec<Vec<f64>>) = parts.into_iter().unzip();
    Moments {
        mean: mean.concat(),
        var: var.concat(),
    }
}

/// Channels summed side by side in [`row_sums`]: one AVX-512 register of f64, two AVX2 ones.
const LANES: usize = 8;
/// Groups of [`LANES`] channels carried through one pass over a tile of rows.
const GROUPS: usize = 4;
/// Rows per tile in [`row_sums`] (at most 64 KiB of 64 channels: stays in L2 for each pass).
const TILE_ROWS: usize = 256;

/// For each channel `j` in `range` of the rows of a contiguous `(M, C)` buffer, in f64 and row
/// order: the sum of `x[., j]` (`CENTRED` false), or of `(x[., j] - centre[j - range.start])^2`.
/// Every channel's additions are the same, in the same order, as a plain loop over the rows; the
/// loop is arranged for speed only: rows in tiles, and within a tile up to [`GROUPS`] groups of
/// [`LANES`] channels whose running sums stay in registers (independent chains of additions).
fn row_sums<const CENTRED: bool>(
    x: &[f32],
    c: usize,
    range: std::ops::Range<usize>,
    centre: &[f64],
) -> Vec<f64> {
    let width = range.len();
    let groups = width / LANES;
    let mut acc = vec![[0f64; LANES]; groups];
    let mut tail = vec![0f64; width - groups * LANES];
    let centres: Vec<[f64; LANES]> = (0..groups)
        .map(|g| {
            let mut a = [0f64; LANES];
            if CENTRED {
                a.copy_from_slice(&centre[g * LANES..(g + 1) * LANES]);
            }
            a
        })
        .collect();
    for tile in x.chunks(TILE_ROWS * c.max(1)) {
        let mut g = 0;
        while g < groups {
            let take = (groups - g).min(GROUPS);
            let at = range.start + g * LANES;
            let (a, mu) = (&mut acc[g..g + take], &centres[g..g + take]);
            match take {
                1 => tile_sums::<CENTRED, 1>(tile, c, at, a, mu),
                2 => tile_sums::<CENTRED, 2>(tile, c, at, a, mu),
                3 => tile_sums::<CENTRED, 3>(tile, c, at, a, mu),
                _ => tile_sums::<CENTRED, GROUPS>(tile, c, at, a, mu),
            }
            g += take;
        }
        let rest = range.start + groups * LANES..range.end;
        for row in tile.chunks_exact(c) {
            for (k, (s, &v)) in tail.iter_mut().zip(&row[rest.clone()]).enumerate() {
                *s += if CENTRED {
                    let d = f64::from(v) - centre[groups * LANES + k];
                    d * d
                } else {
                    f64::from(v)
                };
            }
        }
    }
    let mut out: Vec<f64> = acc.into_iter().flatten().collect();
    out.extend(tail);
    out
}

/// [`row_sums`] over one tile for `G` groups of channels starting at channel `at`.
#[inline(always)]
fn tile_sums<const CENTRED: bool, const G: usize>(
    tile: &[f32],
    c: usize,
    at: usize,
    acc: &mut [[f64; LANES]],
    centre: &[[f64; LANES]],
) {
    let mut a = [[0f64; LANES]; G];
    let mut mu = [[0f64; LANES]; G];
    a.copy_from_slice(&acc[..G]);
    mu.copy_from_slice(&centre[..G]);
    for row in tile.chunks_exact(c) {
        let row = &row[at..at + G * LANES];
        for g in 0..G {
            let v: &[f32; LANES] = match row[g * LANES..(g + 1) * LANES].try_into() {
                Ok(v) => v,
                Err(_) => unreachable!("the slice has LANES values"),
            };
            for k in 0..LANES {
                let x = f64::from(v[k]);
                a[g][k] += if CENTRED {
                    let d = x - mu[g][k];
                    d * d
                } else {
                    x
                };
            }
        }
    }
    acc[..G].copy_from_slice(&a);
}

/// Rows per block of the backward pass's sums: f32 within a block (in row order), f64 across
/// blocks (in block order), whatever the thread count.
const BLOCK_ROWS: usize = 256;

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
        let threads = candle_core::utils::get_num_threads();
        let mom = moments(x, c, threads);
        let (scale, shift) = affine(&mom, gamma, beta, self.eps);
        let mut saved = Saved::default();
        let (out, shape) = if self.then == Then::ReluMaxPool {
            let (oh, ow) = (h / 2, w / 2);
            let mut out = par_filled(n * oh * ow * c, 0f32);
            let mut argmax = par_filled(out.len(), u32::MAX);
            let per_image = oh * ow * c;
            if per_image > 0 {
                // By image: each output value is the max of four normalised inputs of its own
                // image (computed where they are needed; an odd last row or column is never
                // read), the same arithmetic at any thread count.
                out.par_chunks_mut(per_image)
                    .zip(argmax.par_chunks_mut(per_image))
                    .enumerate()
                    .with_min_len(min_len())
                    .for_each(|(b, (out_b, arg_b))| {
                        // The four taps' normalised rows, tap-major.
                        let mut ys = vec![0f32; 4 * c];
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let o = (oy * ow + ox) * c;
                                let t0 = ((b * h + 2 * oy) * w + 2 * ox) * c;
                                let taps = [t0, t0 + c, t0 + w * c, t0 + w * c + c];
                                for (y_k, &t) in ys.chunks_exact_mut(c).zip(&taps) {
                                    for (((d, &v), a), s) in
                                        y_k.iter_mut().zip(&x[t..t + c]).zip(&scale).zip(&shift)
                                    {
                                        *d = v * a + s;
                                    }
                                }
                                let (out_o, arg_o) = (&mut out_b[o..o + c], &mut arg_b[o..o + c]);
                                for j in 0..c {
                                    let mut bv = ys[j];
                                    let mut bk = 0;
                                    for k in 1..4 {
                                        if ys[k * c + j] > bv {
                                            bv = ys[k * c + j];
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
                    });
            }
            saved.argmax = argmax;
            (out, Shape::from((n, oh, ow, c)))
        } else {
            let relu = self.then == Then::Relu;
            let mut out = par_filled(x.len(), 0f32);
            if c > 0 {
                out.par_chunks_mut(BLOCK_ROWS * c)
                    .zip(x.par_chunks(BLOCK_ROWS * c))
                    .with_min_len(min_len())
                    .for_each(|(dst, src)| {
                        for (drow, row) in dst.chunks_exact_mut(c).zip(src.chunks_exact(c)) {
                            for (((d, &v), a), b) in
                                drow.iter_mut().zip(row).zip(&scale).zip(&shift)
                            {
                                let y = v * a + b;
                                *d = if relu { y.max(0.0) } else { y };
                            }
                        }
                    });
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
        let (n, h, w) = self.grid;
        let (oh, ow) = (h / 2, w / 2);
        let saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        let block = BLOCK_ROWS * c.max(1);
        let (dx, dgamma, dbeta) = with_f32(x, |xv| {
            let mom = match &saved.moments {
                Some(m) => m.clone(),
                None => moments(xv, c, candle_core::utils::get_num_threads()),
            };
            let dy = with_f32(grad, |g| match self.then {
                Then::ReluMaxPool => {
                    // By image: a window's gradient goes to an input of its own image.
                    let mut dy = par_filled(m * c, 0f32);
                    let (per_in, per_out) = (h * w * c, oh * ow * c);
                    if per_in > 0 && per_out > 0 {
                        dy.par_chunks_mut(per_in)
                            .zip(saved.argmax.par_chunks(per_out).zip(g.par_chunks(per_out)))
                            .enumerate()
                            .with_min_len(min_len())
                            .for_each(|(b, (dy_b, (arg_b, g_b)))| {
                                for (&i, &gv) in arg_b.iter().zip(g_b) {
                                    if i != u32::MAX {
                                        dy_b[i as usize - b * per_in] = gv;
                                    }
                                }
                            });
                    }
                    debug_assert_eq!(n * per_in, dy.len());
                    dy
                }
                Then::Relu => {
                    let (scale, shift) = affine(&mom, &gam, &bet, self.eps);
                    let mut dy = g.to_vec();
                    dy.par_chunks_mut(block)
                        .zip(xv.par_chunks(block))
                        .with_min_len(min_len())
                        .for_each(|(dblock, xblock)| {
                            for (row, drow) in
                                xblock.chunks_exact(c).zip(dblock.chunks_exact_mut(c))
                            {
                                for j in 0..c {
                                    if row[j] * scale[j] + shift[j] <= 0.0 {
                                        drow[j] = 0.0;
                                    }
                                }
                            }
                        });
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
            // Per block of rows, in f32 and row order: sum dy and sum dy (x - mean). Zipped
            // iterators rather than indices: no bounds checks, so the per-channel loops vectorise.
            let partials: Vec<(Vec<f32>, Vec<f32>)> = xv
                .par_chunks(block)
                .zip(dy.par_chunks(block))
                .with_min_len(min_len())
                .map(|(xb, db)| {
                    let (mut rb, mut rg) = (vec![0f32; c], vec![0f32; c]);
                    for (row, drow) in xb.chunks_exact(c).zip(db.chunks_exact(c)) {
                        for (((b, g), (&v, &d)), &mu) in rb
                            .iter_mut()
                            .zip(rg.iter_mut())
                            .zip(row.iter().zip(drow))
                            .zip(&mean)
                        {
                            *b += d;
                            *g += d * (v - mu);
                        }
                    }
                    (rb, rg)
                })
                .collect();
            // Totals in f64, in block order.
            let mut dbeta = vec![0f64; c];
            let mut dgamma = vec![0f64; c];
            for (rb, rg) in &partials {
                for j in 0..c {
                    dbeta[j] += f64::from(rb[j]);
                    dgamma[j] += f64::from(rg[j]) * f64::from(inv_std[j]);
                }
            }
            let mf = m as f32;
            let k: Vec<f32> = (0..c).map(|j| gam[j] * inv_std[j] / mf).collect();
            let db: Vec<f32> = dbeta.iter().map(|&v| v as f32).collect();
            let dg: Vec<f32> = dgamma.iter().map(|&v| v as f32).collect();
            let mut dx = dy;
            dx.par_chunks_mut(block)
                .zip(xv.par_chunks(block))
                .with_min_len(min_len())
                .for_each(|(dblock, xblock)| {
                    for (row, drow) in xblock.chunks_exact(c).zip(dblock.chunks_exact_mut(c)) {
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
                });
            Ok::<_, candle_core::Error>((dx, dg, db))
        })??;
        drop(saved);
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (m, c), dev)?),
            Some(Tensor::from_vec(dgamma, c, dev)?),
            Some(Tensor::from_vec(dbeta, c, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: per channel, f64 sums over the rows in row order.
    fn plain_moments(x: &[f32], c: usize) -> (Vec<f64>, Vec<f64>) {
        let m = (x.len() / c) as f64;
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
        (mean, var)
    }

    /// The grouped, split sums give the plain definition's bits, for channel counts on and off the
    /// group size and any number of pieces.
    #[test]
    fn moments_are_the_plain_sums_bit_for_bit() {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for c in [1, 3, 8, 16, 17, 64] {
            let x: Vec<f32> = crate::model::test_util::lcg_values(c * 301, c as u64)
                .iter()
                .map(|&v| (v * 3.0 + 1.0) as f32)
                .collect();
            let (mean, var) = plain_moments(&x, c);
            for pieces in [1, 2, 3, 5] {
                let got = moments(&x, c, pieces);
                assert_eq!(bits(&got.mean), bits(&mean), "c {c}, {pieces} pieces");
                assert_eq!(bits(&got.var), bits(&var), "c {c}, {pieces} pieces");
            }
        }
    }
}
