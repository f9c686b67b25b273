//! Batch normalisation over the last (channel) axis, with training and evaluation modes.
//!
//! Training mode normalises with the batch's mean and biased variance per channel (over every other
//! axis), then scales by `weight` and shifts by `bias`; it updates the running statistics as PyTorch's
//! `BatchNorm2d` does: `running = (1 - momentum) * running + momentum * batch`, with the unbiased
//! variance. Evaluation mode uses the running statistics. The training-mode normalisation, fused with
//! the ReLU and max-pool that follow it in the encoders, is one custom op with a closed-form backward
//! (the private `batch_norm_op` module; candle-nn's `BatchNorm` builds it from a dozen generic ops,
//! and needs channels on axis 1).
//!
//! Input `(..., C)` f32, channel-last; output the same shape. Parameters under the layer's path:
//! `weight`, `bias`, `running_mean`, `running_var`, each `(C)`: PyTorch's names.

use std::sync::{Arc, Mutex};

use candle_core::{Result, Tensor, Var, D};
use candle_nn::{Init, ModuleT, VarBuilder};

use super::batch_norm_op::{BnTrain, Moments, Saved};
use super::max_pool::max_pool_2x2;

/// PyTorch's default epsilon.
pub const BN_EPS: f64 = 1e-5;
/// PyTorch's default momentum.
pub const BN_MOMENTUM: f64 = 0.1;

/// Batch normalisation over the last axis.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
    eps: f64,
    momentum: f64,
}

impl BatchNorm {
    /// A layer from its `(C)` parameters and running statistics (variables, updated in training).
    pub fn new(
        weight: Tensor,
        bias: Tensor,
        running_mean: Var,
        running_var: Var,
        eps: f64,
        momentum: f64,
    ) -> Self {
        Self {
            weight,
            bias,
            running_mean,
            running_var,
            eps,
            momentum,
        }
    }

    /// The running mean, `(C)`.
    pub fn running_mean(&self) -> &Tensor {
        self.running_mean.as_tensor()
    }

    /// The running variance, `(C)`.
    pub fn running_var(&self) -> &Tensor {
        self.running_var.as_tensor()
    }

    /// Epsilon added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// Scale and shift, `(C)` each.
    pub fn weight_and_bias(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }
}

/// A [`BatchNorm`] over `c` channels with parameters under `vb` (new ones: weight 1, bias 0, running
/// mean 0, running variance 1), PyTorch's epsilon and momentum.
pub fn batch_norm(c: usize, vb: VarBuilder) -> Result<BatchNorm> {
    let weight = vb.get_with_hints(c, "weight", Init::Const(1.0))?;
    let bias = vb.get_with_hints(c, "bias", Init::Const(0.0))?;
    let rm = vb.get_with_hints(c, "running_mean", Init::Const(0.0))?;
    let rv = vb.get_with_hints(c, "running_var", Init::Const(1.0))?;
    Ok(BatchNorm::new(
        weight,
        bias,
        Var::from_tensor(&rm)?,
        Var::from_tensor(&rv)?,
        BN_EPS,
        BN_MOMENTUM,
    ))
}

/// What follows the normalisation in [`BatchNorm::forward_fused_t`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Nothing: plain batch normalisation.
    Nothing,
    /// ReLU.
    Relu,
    /// ReLU, then 2x2 max pooling with stride 2 (floor, as [`super::max_pool`]); the input must be
    /// `(N, H, W, C)`.
    ReluMaxPool,
}

impl BatchNorm {
    /// Batch normalisation followed by `then`, fused into one op in training mode (one pass forward,
    /// two backward, instead of a dozen generic ops). Input `(..., C)` channel-last, 4-D for
    /// [`Then::ReluMaxPool`]; output the same shape, or `(N, H/2, W/2, C)` after pooling.
    pub fn forward_fused_t(&self, x: &Tensor, then: Then, train: bool) -> Result<Tensor> {
        let c = x.dim(D::Minus1)?;
        let grid = match x.dims() {
            [n, h, w, _] => (*n, *h, *w),
            _ if then == Then::ReluMaxPool => {
                candle_core::bail!(
                    "batch-norm + pool: input must be (N, H, W, C), got {:?}",
                    x.dims()
                )
            }
            _ => (x.elem_count() / c.max(1), 1, 1),
        };
        let y = self.forward_rows_t(&x.reshape(((), c))?, None, grid, then, train)?;
        match then {
            Then::ReluMaxPool => Ok(y),
            _ => y.reshape(x.shape()),
        }
    }

    /// The same on rows: `x` is `(N * H * W, C)`, the pixels of an `(N, H, W)` grid `grid` in
    /// row-major order; the output is `(N, H, W, C)` (`(N, H/2, W/2, C)` after pooling). `bias_before`
    /// `(C)`, if given, is a constant added to `x` first (the bias of a preceding convolution, which
    /// need not be added then): it cancels in training mode, so it only enters the running mean and
    /// evaluation mode, and it receives no gradient (PyTorch's would be exactly zero).
    pub fn forward_rows_t(
        &self,
        x: &Tensor,
        bias_before: Option<&Tensor>,
        grid: (usize, usize, usize),
        then: Then,
        train: bool,
    ) -> Result<Tensor> {
        let (m, c) = x.dims2()?;
        let (n, h, w) = grid;
        if c != self.weight.dim(0)? || m != n * h * w {
            candle_core::bail!(
                "batch-norm: {} channels on a {n}x{h}x{w} grid expected, input {:?}",
                self.weight.dim(0)?,
                x.dims()
            )
        }
        if !train {
            let scale = self
                .weight
                .div(&(self.running_var.as_detached_tensor() + self.eps)?.sqrt()?)?;
            let mut centre = self.running_mean.as_detached_tensor();
            if let Some(b) = bias_before {
                centre = centre.sub(&b.detach())?;
            }
            let shift = self.bias.sub(&(centre * &scale)?)?;
            let y = x
                .broadcast_mul(&scale)?
                .broadcast_add(&shift)?
                .reshape((n, h, w, c))?;
            return match then {
                Then::Nothing => Ok(y),
                Then::Relu => y.relu(),
                Then::ReluMaxPool => max_pool_2x2(&y.relu()?),
            };
        }
        let saved = Arc::new(Mutex::new(Saved::default()));
        let op = self.train_op(grid, then, saved.clone());
        let y = x
            .contiguous()?
            .apply_op3_arc(&self.weight, &self.bias, Arc::new(Box::new(op)))?;
        self.update_running(&saved, bias_before, m)?;
        Ok(y)
    }

    /// The training-mode op over rows `(M, C)` of the grid `grid`, followed by `then`; it leaves
    /// the batch's moments (and the pooling's argmax) in `saved`.
    pub(crate) fn train_op(
        &self,
        grid: (usize, usize, usize),
        then: Then,
        saved: Arc<Mutex<Saved>>,
    ) -> BnTrain {
        BnTrain {
            eps: self.eps,
            then,
            grid,
            saved,
        }
    }

    /// Moves the running statistics toward the moments a training-mode op left in `saved` (nothing
    /// if it left none), over `m` rows; `bias_before` as in [`Self::forward_rows_t`].
    pub(crate) fn update_running(
        &self,
        saved: &Mutex<Saved>,
        bias_before: Option<&Tensor>,
        m: usize,
    ) -> Result<()> {
        let moments = saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .moments
            .clone();
        if let Some(Moments { mean, var }) = moments {
            let dev = self.weight.device();
            let c = mean.len();
            let to_t = |v: &[f64], k: f64| {
                Tensor::from_vec(
                    v.iter().map(|x| (x * k) as f32).collect::<Vec<f32>>(),
                    c,
                    dev,
                )
            };
            let mom = self.momentum;
            let mut mean = to_t(&mean, mom)?;
            if let Some(b) = bias_before {
                mean = (mean + (b.detach() * mom)?)?;
            }
            let var = to_t(&var, mom * m as f64 / (m as f64 - 1.0).max(1.0))?;
            self.running_mean
                .set(&((self.running_mean.as_detached_tensor() * (1.0 - mom))? + mean)?)?;
            self.running_var
                .set(&((self.running_var.as_detached_tensor() * (1.0 - mom))? + var)?)?;
        }
        Ok(())
    }
}

impl ModuleT for BatchNorm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_fused_t(x, Then::Nothing, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use crate::model::test_util::max_abs;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// candle-nn's BatchNorm on the same data in NCHW, as the reference.
    #[test]
    fn matches_candle_nn_forward_gradients_and_running_statistics() {
        let dev = Device::Cpu;
        let (n, h, w, c) = (3, 4, 5, 6);
        let x = Var::from_tensor(&Tensor::rand(-2f32, 3.0, (n, h, w, c), &dev).unwrap()).unwrap();
        let probe = Tensor::rand(-1f32, 1.0, (n, h, w, c), &dev).unwrap();

        let vm1 = VarMap::new();
        let ours = batch_norm(c, seeded_var_builder(&vm1, 0, &dev)).unwrap();
        let gamma1 = ours.weight.clone();
        vm1.data().lock().unwrap()["weight"]
            .set(&Tensor::rand(0.5f32, 1.5, c, &dev).unwrap())
            .unwrap();
        let vm2 = VarMap::new();
        let vb2 = candle_nn::VarBuilder::from_varmap(&vm2, candle_core::DType::F32, &dev);
        let theirs = candle_nn::batch_norm(c, candle_nn::BatchNormConfig::default(), vb2).unwrap();
        vm2.data().lock().unwrap()["weight"].set(&gamma1).unwrap();
        let gamma2 = vm2.data().lock().unwrap()["weight"].as_tensor().clone();

        let y1 = ours.forward_t(x.as_tensor(), true).unwrap();
        let y2 = theirs
            .forward_t(&x.as_tensor().permute((0, 3, 1, 2)).unwrap(), true)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        assert!(max_abs((&y1 - &y2).unwrap()) < 1e-4);
        let g1 = (y1 * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (y2 * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx = (g1.get(x.as_tensor()).unwrap() - g2.get(x.as_tensor()).unwrap()).unwrap();
        assert!(max_abs(gx) < 1e-4);
        let gw = (g1.get(&gamma1).unwrap() - g2.get(&gamma2).unwrap()).unwrap();
        assert!(max_abs(gw) < 1e-3);
        for name in ["running_mean", "running_var"] {
            let a = vm1.data().lock().unwrap()[name].as_tensor().clone();
            let b = vm2.data().lock().unwrap()[name].as_tensor().clone();
            assert!(max_abs((a - b).unwrap()) < 1e-5, "{name}");
        }
        let e1 = ours.forward_t(x.as_tensor(), false).unwrap();
        let e2 = theirs
            .forward_t(&x.as_tensor().permute((0, 3, 1, 2)).unwrap(), false)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        assert!(max_abs((e1 - e2).unwrap()) < 1e-4);
    }

    /// The fused op against its unfused composition (normalisation, ReLU, max-pool), gradients
    /// included; odd sizes exercise the dropped row and column.
    #[test]
    fn fused_relu_and_pool_match_the_composition() {
        let dev = Device::Cpu;
        let (n, h, w, c) = (2, 5, 7, 3);
        let x = Var::from_tensor(&Tensor::rand(-2f32, 2.0, (n, h, w, c), &dev).unwrap()).unwrap();
        for then in [Then::Relu, Then::ReluMaxPool] {
            let vm = VarMap::new();
            let bn = batch_norm(c, seeded_var_builder(&vm, 0, &dev)).unwrap();
            vm.data().lock().unwrap()["weight"]
                .set(&Tensor::new(&[1.5f32, -0.7, 0.3], &dev).unwrap())
                .unwrap();
            let fused = bn.forward_fused_t(x.as_tensor(), then, true).unwrap();
            let plain = bn
                .forward_fused_t(x.as_tensor(), Then::Nothing, true)
                .unwrap()
                .relu()
                .unwrap();
            let plain = match then {
                Then::ReluMaxPool => max_pool_2x2(&plain).unwrap(),
                _ => plain,
            };
            assert_eq!(fused.dims(), plain.dims());
            assert!(max_abs((&fused - &plain).unwrap()) < 1e-5);
            let probe = Tensor::rand(-1f32, 1.0, fused.dims(), &dev).unwrap();
            let g1 = (fused * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (plain * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gamma = vm.data().lock().unwrap()["weight"].as_tensor().clone();
            for t in [x.as_tensor(), &gamma] {
                let d = (g1.get(t).unwrap() - g2.get(t).unwrap()).unwrap();
                assert!(max_abs(d) < 1e-4, "{then:?}");
            }
            let eval_fused = bn.forward_fused_t(x.as_tensor(), then, false).unwrap();
            assert_eq!(eval_fused.dims(), probe.dims());
        }
    }
}
