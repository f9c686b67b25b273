//! The standard block of the embedding CNN: conv3x3 (padding 1, with bias) - BatchNorm - ReLU -
//! maxpool 2x2.
//!
//! Channel-last: input `(N, H, W, C_in)`, output `(N, H/2, W/2, C_out)` (floor). Parameters under the
//! block's path, with PyTorch's names and layouts (`Conv2d` + `BatchNorm2d`): `conv.weight
//! (C_out, C_in, 3, 3)`, `conv.bias (C_out)`, `bn.weight`, `bn.bias`, `bn.running_mean`,
//! `bn.running_var` (each `(C_out)`).

use candle_core::{Result, Tensor};
use candle_nn::{ModuleT, VarBuilder};

use super::batch_norm::{batch_norm, BatchNorm, Then};
use super::conv::{conv2d, Conv2d};

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
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (rows, grid) = self.conv.forward_rows(x)?;
        self.bn
            .forward_rows_t(&rows, self.conv.bias(), grid, Then::ReluMaxPool, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

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
        let probe = Tensor::rand(-1f32, 1.0, a.dims(), &dev).unwrap();
        let ga = (&a * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gb = (&b * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (wa, wb) = (fused.conv().weight(), plain.conv().weight());
        assert!(max_abs(ga.get(wa).unwrap(), gb.get(wb).unwrap()) < 1e-4);
        assert!(max_abs(fused.bn().running_mean(), plain.bn().running_mean()) < 1e-6);
        assert!(max_abs(fused.bn().running_var(), plain.bn().running_var()) < 1e-6);
        assert!(max_abs(&fused.forward_t(&x, false).unwrap(), &unfused(false)) < 1e-5);
    }
}
