//! 2x2 max pooling, stride 2, on channel-last images, as a candle custom op with a correct backward
//! for odd sizes.
//!
//! candle 0.11's `max_pool2d` backward routes gradients with `upsample_nearest2d` back to the input
//! size, which misaligns the windows when a side is odd (23 -> 11 in the reference CNN at 56x46): a
//! pixel's gradient lands in the wrong window. This op keeps PyTorch's semantics: `(N, H, W, C)` ->
//! `(N, H/2, W/2, C)` (floor: an odd last row or column is dropped), and the gradient of a window goes
//! to its first maximum in row-major order.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::im2col::contiguous_f32;

/// Max over 2x2 windows, stride 2, of a contiguous `(N, H, W, C)` f32 tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaxPool2x2;

/// Calls `f(out_index, in_index_of_first_max)` for every output value.
fn for_each_max(
    x: &[f32],
    (n, h, w, c): (usize, usize, usize, usize),
    mut f: impl FnMut(usize, usize),
) {
    let (oh, ow) = (h / 2, w / 2);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let o = ((b * oh + oy) * ow + ox) * c;
                let i00 = ((b * h + 2 * oy) * w + 2 * ox) * c;
                let taps = [i00, i00 + c, i00 + w * c, i00 + w * c + c];
                for ch in 0..c {
                    let mut best = taps[0] + ch;
                    for t in &taps[1..] {
                        if x[t + ch] > x[best] {
                            best = t + ch;
                        }
                    }
                    f(o + ch, best);
                }
            }
        }
    }
}

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, "max-pool 2x2")?;
        let (n, h, w, c) = layout.shape().dims4()?;
        let mut out = vec![0f32; n * (h / 2) * (w / 2) * c];
        for_each_max(x, (n, h, w, c), |o, i| out[o] = x[i]);
        Ok((CpuStorage::F32(out), Shape::from((n, h / 2, w / 2, c))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.contiguous()?.apply_op2_no_bwd(
            &grad_res.contiguous()?,
            &MaxPool2x2Grad,
        )?))
    }
}

/// Gradient of [`MaxPool2x2`]: `(input, grad_output) -> grad_input`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MaxPool2x2Grad;

impl CustomOp2 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "max-pool-2x2-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s1, l1, "max-pool 2x2 grad")?;
        let g = contiguous_f32(s2, l2, "max-pool 2x2 grad")?;
        let (n, h, w, c) = l1.shape().dims4()?;
        if l2.shape().dims() != [n, h / 2, w / 2, c] {
            candle_core::bail!(
                "max-pool 2x2 grad: {:?} for an input {:?}",
                l2.shape(),
                l1.shape()
            )
        }
        let mut out = vec![0f32; n * h * w * c];
        for_each_max(x, (n, h, w, c), |o, i| out[i] += g[o]);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// 2x2 max pooling, stride 2: `(N, H, W, C)` -> `(N, H/2, W/2, C)`, differentiable.
pub fn max_pool_2x2(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool2x2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn odd_width_routes_gradients_to_the_right_window() {
        // (1, 2, 5, 1): windows cover columns 0-1 and 2-3, column 4 is dropped.
        let x = Var::new(
            &[[1f32, 5., 2., 0., 9.], [0., 3., 7., 1., 9.]],
            &Device::Cpu,
        )
        .unwrap();
        let x4 = x.as_tensor().reshape((1, 2, 5, 1)).unwrap();
        let y = max_pool_2x2(&x4).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), [5., 7.]);
        let w = Tensor::new(&[10f32, 100.], &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 2, 1))
            .unwrap();
        let g = (y * w).unwrap().sum_all().unwrap().backward().unwrap();
        let gx: Vec<f32> = g
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(gx, [0., 10., 0., 0., 0., 0., 0., 100., 0., 0.]);
    }

    #[test]
    fn matches_candle_forward_on_even_sizes() {
        let x = Tensor::rand(0f32, 1.0, (2, 3, 6, 8), &Device::Cpu).unwrap();
        let nhwc = x.permute((0, 2, 3, 1)).unwrap();
        let ours = max_pool_2x2(&nhwc).unwrap().permute((0, 3, 1, 2)).unwrap();
        let theirs = x.max_pool2d(2).unwrap();
        let d: f32 = (ours - theirs)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert_eq!(d, 0.0);
    }
}
