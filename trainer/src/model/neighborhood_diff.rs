//! Cross-input neighborhood differences (Ahmed, Jones and Marks, "An improved deep learning
//! architecture for person re-identification", CVPR 2015).
//!
//! Each position of one tower's feature map is compared with a `k x k` neighbourhood of the other's:
//! `K(f, g)[n, y, x, o * C + c] = f[n, y, x, c] - g[n, y + dy_o, x + dx_o, c]`, with `(dy_o, dx_o)`
//! the `o`-th offset of the window ([`super::window::offsets`], row-major from `(-r, -r)`, `r = k/2`)
//! and `g` zero outside the map. The paper lays the `k x k` differences of each position out as a
//! `k x k` tile (a `(kH, kW)` map per channel) and summarises each tile with a `k x k` stride-`k`
//! convolution; holding the tile in the channel axis makes that convolution a 1x1 one (a linear layer
//! over the `k^2 C` channels), the same function with the same parameter count. The network uses it
//! both ways, `K(f, g)` and `K(g, f)`, each followed by ReLU ([`super::cross_input_net`]).
//!
//! Shapes: `f`, `g` `(N, H, W, C)` f32 channel-last; output `(N, H, W, k^2 C)`. Built from candle ops,
//! so the backward pass is candle's; `tests` checks it against finite differences and
//! `trainer/tests/pair_layers_torch.rs` against PyTorch.

use candle_core::{Result, Tensor};

use super::window::{check_maps, offsets, pad_hw, shifted};

/// `K(f, g)`, `(N, H, W, k^2 C)`; `k` must be odd, `f` and `g` the same shape.
pub fn neighborhood_differences(f: &Tensor, g: &Tensor, k: usize) -> Result<Tensor> {
    check_maps("neighborhood differences", ("window", k), f, g)?;
    let (_, h, w, _) = f.dims4()?;
    let r = k / 2;
    let gp = pad_hw(g, r)?;
    let parts = offsets(k)
        .into_iter()
        .map(|(dy, dx)| f - shifted(&gp, r, dy, dx, h, w)?)
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&parts, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::finite_difference_check;
    use candle_core::Device;

    #[test]
    fn each_offset_is_a_difference_with_the_neighbour() {
        // f = 1 everywhere, g = 1..=4 on a 2x2 map, one channel, 3x3 window.
        let dev = Device::Cpu;
        let f = Tensor::ones((1, 2, 2, 1), candle_core::DType::F32, &dev).unwrap();
        let g = Tensor::from_vec(vec![1f32, 2., 3., 4.], (1, 2, 2, 1), &dev).unwrap();
        let k = neighborhood_differences(&f, &g, 3).unwrap();
        assert_eq!(k.dims(), &[1, 2, 2, 9]);
        let at_00: Vec<f32> = k
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        // Offsets (-1,-1) (-1,0) (-1,1) (0,-1) (0,0) (0,1) (1,-1) (1,0) (1,1) from (0, 0).
        assert_eq!(at_00, [1., 1., 1., 1., 0., -1., 1., -2., -3.]);
        let err = neighborhood_differences(&f, &g, 4).unwrap_err().to_string();
        assert!(err.contains("odd, got 4"), "{err}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        finite_difference_check(
            |x: &[Tensor]| neighborhood_differences(&x[0], &x[1], 3)?.tanh()?.sum_all(),
            &[(2, 4, 3, 2), (2, 4, 3, 2)],
            11,
        );
    }
}
