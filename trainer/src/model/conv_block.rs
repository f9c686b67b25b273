//! The standard block of the embedding CNN: conv3x3 (padding 1, with bias) - BatchNorm - ReLU -
//! maxpool 2x2.
//!
//! Channel-last: input `(N, H, W, C_in)`, output `(N, H/2, W/2, C_out)` (floor). Parameters under the
//! block's path, with PyTorch's names and layouts (`Conv2d` + `BatchNorm2d`): `conv.weight
//! (C_out, C_in, 3, 3)`, `conv.bias (C_out)`, `bn.weight`, `bn.bias`, `bn.running_mean`,
//! `bn.running_var` (each `(C_out)`).

use std::sync::{Arc, Mutex};

use candle_core::{Result, Tensor};
use candle_nn::{ModuleT, VarBuilder};

use super::batch_norm::{batch_norm, BatchNorm, Then};
use super::batch_norm_op::Saved;
use super::conv::{conv2d, Conv2d};
use super::conv_bn_op::ConvBnTrain;
use super::conv_op::ConvRows;
use super::im2col::Im2Col;

/// conv3x3 - BN - ReLU - maxpool2; BN uses batch statistics and updates its running statistics in
/// training mode, and uses the running statistics in evaluation mode. The conv bias is folded into
/// the BN ([`BatchNorm::forward_rows_t`]'s `bias_before`): same outputs as adding it, one full-size
/// pass fewer each way.
#[derive(Clone, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBlock {
    /// A block from its layers; `conv` must be 3x3 with padding 1 for the documented shapes.
    pub fn new(conv: Conv2d, bn: BatchNorm) -> Self {
        Self { conv, bn }
    }

    /// The convolution.
    pub fn conv(&self) -> &Conv2d {
        &self.conv
    }

    /// The batch normalisation.
    pub fn bn(&self) -> &BatchNorm {
        &self.bn
    }
}

/// A [`ConvBlock`] `c_in -> c_out` with its parameters under `vb` (`conv.*`, `bn.*`); new parameters
/// take PyTorch's default initialisation (uniform +-1/sqrt(fan_in) for the conv weight and bias, BN
/// weight 1, bias 0, running mean 0, running variance 1).
pub fn conv_block(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<ConvBlock> {
    let conv = conv2d(c_in, c_out, 3, 1, true, vb.pp("conv"))?;
    let bn = batch_norm(c_out, vb.pp("bn"))?;
    Ok(ConvBlock::new(conv, bn))
}

impl ModuleT for ConvBlock {
    /// `(N, H, W, C_in)` -> `(N, H/2, W/2, C_out)`.
    /// Training mode runs the block as one op ([`super::conv_bn_op`]): the convolution's output
    /// rows never join the autograd graph.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            let (rows, grid) = self.conv.forward_rows(x)?;
            return self
                .bn
                .forward_rows_t(&rows, self.conv.bias(), grid, Then::ReluMaxPool, false);
        }
        let (wmat, grid) = self.conv.weight_matrix(x)?;
        let (weight, bias) = self.bn.weight_and_bias();
        let c_out = wmat.dim(0)?;
        if weight.dim(0)? != c_out {
            candle_core::bail!(
                "conv block: {c_out} convolution channels into a batch norm over {}",
                weight.dim(0)?
            )
        }
        let saved = Arc::new(Mutex::new(Saved::default()));
        let op = ConvBnTrain {
            conv: ConvRows {
                im2col: Im2Col {
                    kernel: self.conv.weight().dim(2)?,
                    padding: self.conv.padding(),
                },
            },
            bn: self.bn.train_op(grid, Then::ReluMaxPool, saved.clone()),
            rows: Arc::default(),
        };
        let params = Tensor::cat(&[weight, bias], 0)?;
        let y =
            x.contiguous()?
                .apply_op3_arc(&wmat.contiguous()?, &params, Arc::new(Box::new(op)))?;
        let (n, oh, ow) = grid;
        self.bn
            .update_running(&saved, self.conv.bias(), n * oh * ow)?;
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    /// The gradients of `sum(a * probe)` and `sum(b * probe)` for one random probe of `a`'s shape:
    /// two outputs meant to be the same function, compared through everything behind them.
    fn probe_gradients(
        a: &Tensor,
        b: &Tensor,
    ) -> (
        candle_core::backprop::GradStore,
        candle_core::backprop::GradStore,
    ) {
        let probe = Tensor::rand(-1f32, 1.0, a.dims(), a.device()).unwrap();
        let grads = |t: &Tensor| (t * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        (grads(a), grads(b))
    }

    #[test]
    fn halves_the_spatial_size_and_names_parameters_like_pytorch() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let block = conv_block(1, 16, vb.pp("block0")).unwrap();
        let x = Tensor::zeros((2, 56, 46, 1), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(block.forward_t(&x, true).unwrap().dims(), &[2, 28, 23, 16]);
        assert_eq!(block.forward_t(&x, false).unwrap().dims(), &[2, 28, 23, 16]);
        let mut names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "block0.bn.bias",
                "block0.bn.running_mean",
                "block0.bn.running_var",
                "block0.bn.weight",
                "block0.conv.bias",
                "block0.conv.weight"
            ]
        );
    }

    #[test]
    fn train_mode_updates_running_statistics_eval_mode_does_not() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 0, &Device::Cpu);
        let block = conv_block(1, 4, vb).unwrap();
        let x = (Tensor::ones((2, 8, 8, 1), DType::F32, &Device::Cpu).unwrap() * 3.0).unwrap();
        let mean0: Vec<f32> = block.bn().running_mean().to_vec1().unwrap();
        block.forward_t(&x, false).unwrap();
        assert_eq!(mean0, block.bn().running_mean().to_vec1::<f32>().unwrap());
        block.forward_t(&x, true).unwrap();
        assert_ne!(mean0, block.bn().running_mean().to_vec1::<f32>().unwrap());
    }

    /// The training-mode block as one op gives the bits of the convolution op followed by the
    /// batch-norm op: output, running statistics, and the gradients of the input, the conv weight
    /// and the BN weight and bias (odd sizes exercise the pool's dropped row and column).
    #[test]
    fn the_fused_op_is_bit_identical_to_conv_then_batch_norm() {
        let dev = Device::Cpu;
        for (dims, c_out) in [((3, 7, 5, 3), 4), ((2, 12, 10, 16), 32)] {
            let x = candle_core::Var::from_tensor(&Tensor::rand(-1f32, 1.0, dims, &dev).unwrap())
                .unwrap();
            let (vm1, vm2) = (VarMap::new(), VarMap::new());
            let fused = conv_block(dims.3, c_out, seeded_var_builder(&vm1, 5, &dev)).unwrap();
            let split = conv_block(dims.3, c_out, seeded_var_builder(&vm2, 5, &dev)).unwrap();
            let gamma = Tensor::rand(0.5f32, 1.5, c_out, &dev).unwrap();
            for vm in [&vm1, &vm2] {
                vm.data().lock().unwrap()["bn.weight"].set(&gamma).unwrap();
            }
            let a = fused.forward_t(x.as_tensor(), true).unwrap();
            let (rows, grid) = split.conv().forward_rows(x.as_tensor()).unwrap();
            let b = split
                .bn()
                .forward_rows_t(&rows, split.conv().bias(), grid, Then::ReluMaxPool, true)
                .unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b));
            let (ga, gb) = probe_gradients(&a, &b);
            assert_eq!(
                bits(ga.get(x.as_tensor()).unwrap()),
                bits(gb.get(x.as_tensor()).unwrap())
            );
            let pairs = [
                (fused.conv().weight(), split.conv().weight()),
                (
                    fused.bn().weight_and_bias().0,
                    split.bn().weight_and_bias().0,
                ),
                (
                    fused.bn().weight_and_bias().1,
                    split.bn().weight_and_bias().1,
                ),
            ];
            for (p, q) in pairs {
                assert_eq!(bits(ga.get(p).unwrap()), bits(gb.get(q).unwrap()));
            }
            assert_eq!(
                bits(fused.bn().running_mean()),
                bits(split.bn().running_mean())
            );
            assert_eq!(
                bits(fused.bn().running_var()),
                bits(split.bn().running_var())
            );
        }
    }

    /// Folding the conv bias into the BN changes nothing: outputs (both modes), running statistics and
    /// the weight gradient match conv-with-bias, BN, ReLU, max-pool done one by one.
    #[test]
    fn folded_bias_matches_the_unfused_block() {
        use crate::model::batch_norm::Then;
        use crate::model::max_pool::max_pool_2x2;
        use candle_nn::Module;
        let dev = Device::Cpu;
        let x = Tensor::rand(0f32, 1.0, (2, 7, 5, 3), &dev).unwrap();
        let (vm1, vm2) = (VarMap::new(), VarMap::new());
        let fused = conv_block(3, 4, seeded_var_builder(&vm1, 9, &dev)).unwrap();
        let plain = conv_block(3, 4, seeded_var_builder(&vm2, 9, &dev)).unwrap();
        let unfused = |train: bool| {
            let y = plain.conv().forward(&x).unwrap();
            let y = plain
                .bn()
                .forward_fused_t(&y, Then::Nothing, train)
                .unwrap();
            max_pool_2x2(&y.relu().unwrap()).unwrap()
        };
        let max_abs = |a: &Tensor, b: &Tensor| crate::model::test_util::max_abs((a - b).unwrap());
        let (a, b) = (fused.forward_t(&x, true).unwrap(), unfused(true));
        assert!(max_abs(&a, &b) < 1e-5);
        let (ga, gb) = probe_gradients(&a, &b);
        let (wa, wb) = (fused.conv().weight(), plain.conv().weight());
        assert!(max_abs(ga.get(wa).unwrap(), gb.get(wb).unwrap()) < 1e-4);
        assert!(max_abs(fused.bn().running_mean(), plain.bn().running_mean()) < 1e-6);
        assert!(max_abs(fused.bn().running_var(), plain.bn().running_var()) < 1e-6);
        assert!(max_abs(&fused.forward_t(&x, false).unwrap(), &unfused(false)) < 1e-5);
    }
}
