//! A training-mode conv block as one candle custom op: the convolution ([`super::conv_op`]) and the
//! batch normalisation with ReLU and 2x2 max-pool ([`super::batch_norm_op`]) in a row, so the
//! convolution's output rows never become a tensor of the autograd graph.
//!
//! Why: candle 0.11's backward pass gives every graph tensor a gradient made as
//! `zeros_like(t) + grad` (`GradStore::or_insert`, then `add`). The rows `(N * OH * OW, C_out)` are
//! the largest tensor of a block (10.5 MB in the first block of the shipped face recipe at batch
//! 64, four times the pooled output): as a graph tensor they cost a zero-fill on the main thread
//! and a full-size add on every step. Here they stay inside the op, kept from the forward pass for
//! the backward pass (which takes them, so they are freed as soon as it has run).
//!
//! The arithmetic is the two ops' own, called in a row: the outputs, the running statistics and
//! every gradient are bit-identical to `conv_rows` followed by the batch-norm op (a test checks it).
//!
//! Inputs: `x` `(N, H, W, C_in)`, `wmat` `(C_out, K * K * C_in)` as in [`super::conv_op`], and the
//! batch norm's weight and bias concatenated, `(2 C_out)` (a custom op takes at most three
//! tensors); output `(N, OH/2, OW/2, C_out)`.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::batch_norm_op::BnTrain;
use super::conv_op::ConvRows;

/// The fused op; `bn.saved` receives the moments and argmax, `rows` the convolution's output.
pub(crate) struct ConvBnTrain {
    /// The convolution.
    pub(crate) conv: ConvRows,
    /// The normalisation and what follows it, over the convolution's output grid.
    pub(crate) bn: BnTrain,
    /// The convolution's output rows, from the forward pass to the backward pass.
    pub(crate) rows: Arc<Mutex<Option<Vec<f32>>>>,
}

impl CustomOp3 for ConvBnTrain {
    fn name(&self) -> &'static str {
        "conv-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        ps: &CpuStorage,
        pl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, rows_shape) = self.conv.cpu_fwd(xs, xl, ws, wl)?;
        let c = rows_shape.dims2()?.1;
        if pl.shape().dims1()? != 2 * c || !pl.is_contiguous() {
            candle_core::bail!(
                "conv + batch-norm: parameters {:?} are not a contiguous (2 x {c})",
                pl.shape()
            )
        }
        let start = pl.start_offset();
        let (gamma, beta) = (
            Layout::contiguous_with_offset(c, start),
            Layout::contiguous_with_offset(c, start + c),
        );
        let out = self.bn.cpu_fwd(
            &rows,
            &Layout::contiguous(rows_shape),
            ps,
            &gamma,
            ps,
            &beta,
        )?;
        let CpuStorage::F32(rows) = rows else {
            candle_core::bail!("conv + batch-norm: the convolution gave no f32 rows")
        };
        *self.rows.lock().unwrap_or_else(|p| p.into_inner()) = Some(rows);
        Ok(out)
    }

    /// The batch norm's backward pass on the saved rows, then the convolution's on the rows'
    /// gradient: the gradients of `x` (none when it needs none), `wmat` and the parameters.
    fn bwd(
        &self,
        x: &Tensor,
        wmat: &Tensor,
        params: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = params.dim(0)? / 2;
        let saved = self.rows.lock().unwrap_or_else(|p| p.into_inner()).take();
        let rows = match saved {
            Some(rows) => {
                let m = rows.len() / c.max(1);
                Tensor::from_vec(rows, (m, c), x.device())?
            }
            // A second backward pass over the same graph: the rows again from the inputs.
            None => x.apply_op2_no_bwd(wmat, &self.conv)?,
        };
        let (gamma, beta) = (params.narrow(0, 0, c)?, params.narrow(0, c, c)?);
        let (drows, dgamma, dbeta) = self.bn.bwd(&rows, &gamma, &beta, res, grad)?;
        drop(rows);
        let (Some(drows), Some(dgamma), Some(dbeta)) = (drows, dgamma, dbeta) else {
            candle_core::bail!("conv + batch-norm: the batch norm gave no gradient")
        };
        let (dx, dw) = self.conv.bwd(x, wmat, res, &drows)?;
        Ok((dx, dw, Some(Tensor::cat(&[&dgamma, &dbeta], 0)?)))
    }
}
